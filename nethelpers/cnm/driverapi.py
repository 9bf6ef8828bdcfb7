"""libnetwork's ``driverapi``: what a network driver is asked, in the remote protocol's JSON.

Every method takes the request body a remote driver would receive and returns the
response body it would send (``NetworkDriver.CreateNetwork`` is ``create_network``), so a
built-in driver and a plugin are interchangeable. The base class answers every call with
"nothing to do"; a driver overrides what it does. Drivers do their kernel work through
the :class:`~nethelpers.cnm.kernel.Kernel` the controller gives them.
"""

from __future__ import annotations

GENERIC = "com.docker.network.generic"          # netlabel.GenericData: the driver's -o options
PORT_MAP = "com.docker.network.portmap"         # netlabel.PortMap: the ports to publish
# Join option for drivers with ``wants_service_info``: the endpoint's name and aliases, which libnetwork's
# service discovery spreads through the cluster (the lab's overlay agent does both jobs)
SERVICE_INFO = "lab.service_info"


class Driver:
    """A network driver (``driverapi.Driver``); ``scope`` "local" or "global"."""

    name = ""
    scope = "local"

    def capabilities(self, req=None) -> dict:
        return {"Scope": self.scope, "ConnectivityScope": self.scope}

    def create_network(self, req: dict) -> dict:
        return {}

    def delete_network(self, req: dict) -> dict:
        return {}

    def create_endpoint(self, req: dict) -> dict:
        return {}

    def endpoint_oper_info(self, req: dict) -> dict:
        return {"Value": {}}

    def delete_endpoint(self, req: dict) -> dict:
        return {}

    def join(self, req: dict) -> dict:
        return {}

    def leave(self, req: dict) -> dict:
        return {}

    def program_external_connectivity(self, req: dict) -> dict:
        return {}

    def revoke_external_connectivity(self, req: dict) -> dict:
        return {}


def generic_options(req: dict) -> dict:
    """The ``-o`` options of a CreateNetwork request."""
    return dict((req.get("Options") or {}).get(GENERIC) or {})
