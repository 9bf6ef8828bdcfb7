"""libnetwork's ``Network``: a group of endpoints that can talk to each other directly.

One driver makes it; IPAM gives its pool and gateway first (``ipamAllocate``), and each of
its endpoints an address.
"""

from __future__ import annotations

from ..errors import LabError
from .endpoint import Endpoint
from .errors import Forbidden, InvalidParameter, NoSuchObject
from .ids import make_id
from .ipam import GATEWAY_OPTION

SPECIAL = ("null", "host")  # no IPAM, one network each (hasSpecialDriver)


class Network:
    """A network of a :class:`~nethelpers.cnm.controller.Controller`.

    Attributes:
        type: the driver's name; ``driver`` is the driver itself.
        options: the driver options it was created with (``-o``).
        endpoints: by name, in creation order.
    """

    def __init__(self, controller, nid: str, name: str, driver: str, ipam: str | None, internal: bool,
                 options: dict, created: str) -> None:
        self.controller, self.id, self.name, self.type = controller, nid, name, driver
        self.ipam_name, self.internal, self.options, self.created = ipam, internal, options, created
        self.labels: dict = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.ipv4_data: list[dict] = []  # [{"AddressSpace", "Gateway", "Pool"}] as drivers get it
        self.ip_range: str | None = None
        self.user_configured = False  # the subnet was asked for (--subnet)
        self.pool_id: str | None = None

    @property
    def driver(self):
        return self.controller.drivers[self.type]

    @property
    def ipam(self):
        return self.controller.ipams[self.ipam_name]

    @property
    def scope(self) -> str:
        return self.controller.scopes[self.type]

    @property
    def subnet(self) -> str | None:
        return self.ipv4_data[0]["Pool"] if self.ipv4_data else None

    @property
    def gateway(self) -> str | None:
        """The gateway as IPAM gave it, ``ADDRESS/LEN``."""
        return self.ipv4_data[0]["Gateway"] if self.ipv4_data else None

    @property
    def gateway_ip(self) -> str:
        return self.gateway.split("/")[0] if self.gateway else ""

    def _ipam_allocate(self, subnet, ip_range, gateway, options: dict | None = None) -> None:
        """``ipamAllocate``: the default address space of the driver's scope, a pool, a gateway."""
        spaces = self.ipam.get_default_address_spaces()
        space = spaces["GlobalDefaultAddressSpace" if self.scope == "global" else "LocalDefaultAddressSpace"]
        pool = self.ipam.request_pool({"AddressSpace": space, "Pool": subnet or "", "SubPool": ip_range or "",
                                       "Options": dict(options or {}), "V6": False})
        self.pool_id, self.ip_range, self.user_configured = pool["PoolID"], ip_range, bool(subnet)
        gw = (pool.get("Data") or {}).get("com.docker.network.gateway")
        if gateway or not gw:
            try:
                gw = self.ipam.request_address({"PoolID": self.pool_id, "Address": gateway or "",
                                                "Options": dict([GATEWAY_OPTION])})["Address"]
            except BaseException as exc:
                self.ipam.release_pool({"PoolID": self.pool_id})
                if isinstance(exc, LabError):
                    raise type(exc)(f"failed to allocate gateway ({gateway or '<nil>'}): "
                                    f"{getattr(exc, 'libnetwork', exc)}") from None
                raise
        self.ipv4_data = [{"AddressSpace": space, "Gateway": gw, "Pool": pool["Pool"]}]

    def _ipam_release(self) -> None:
        """``ipamRelease``: the gateway's address, then the pool."""
        if self.pool_id is None:
            return
        self.ipam.release_address({"PoolID": self.pool_id, "Address": self.gateway_ip})
        self.ipam.release_pool({"PoolID": self.pool_id})
        self.pool_id = None

    def create_endpoint(self, name: str, *, ip: str | None = None, mac: str | None = None,
                        seed: str | None = None, aliases: list[str] = ()) -> Endpoint:
        """``network.CreateEndpoint``: an address from IPAM, then the driver's ``CreateEndpoint``.

        ``seed``: what the endpoint's ID is derived from besides the network (default: its name).
        """
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameter(f"invalid name: {name}", "give the endpoint a name")
        if self.controller.networks.get(self.name) is not self:
            raise NoSuchObject(f"network {self.name} not found", "it was deleted; create it again")
        if name in self.endpoints:
            raise Forbidden(f"endpoint with name {name} already exists in network {self.name}",
                            "choose another name, or delete that endpoint first")
        ep = Endpoint(self, make_id(self.controller.host, "endpoint", self.id, seed or name), name, mac or "")
        ep.aliases, ep.requested_ip = list(aliases), ip
        if self.ipam_name:
            ep.address = self.ipam.request_address({"PoolID": self.pool_id, "Address": ip or "",
                                                    "Options": None})["Address"]
        request = {"NetworkID": self.id, "EndpointID": ep.id,
                   "Interface": {"Address": ep.address, "AddressIPv6": "", "MacAddress": ep.mac},
                   "Options": {}}
        try:
            answer = self.driver.create_endpoint(request)
            try:
                ep._take_interface(answer.get("Interface") or {}, request["Interface"])
            except BaseException:
                self.driver.delete_endpoint({"NetworkID": self.id, "EndpointID": ep.id})
                raise
        except BaseException as exc:
            ep._release_address()
            if isinstance(exc, LabError) and hasattr(exc, "libnetwork"):
                raise type(exc)(f"failed to create endpoint {name} on network {self.name}: {exc.libnetwork}",
                                exc.fix) from None
            raise
        self.endpoints[name] = ep
        return ep

    def endpoint(self, name: str) -> Endpoint:
        if name not in self.endpoints:
            raise NoSuchObject(f"endpoint {name} not found", f"endpoints: {', '.join(self.endpoints) or 'none'}")
        return self.endpoints[name]

    def delete(self) -> None:
        """``network.Delete``: refused while it has endpoints; then IPAM release, ``DeleteNetwork``."""
        if self.controller.networks.get(self.name) is not self:
            raise NoSuchObject(f"unknown network {self.name} id {self.id}", "it was deleted already")
        if self.endpoints:
            raise Forbidden(f"network {self.name} id {self.id} has active endpoints",
                            f"delete its endpoints first: {', '.join(self.endpoints)}")
        if self.type in SPECIAL:  # nothing was allocated; the driver refuses (Forbidden)
            self.driver.delete_network({"NetworkID": self.id})
        else:  # libnetwork: IPAM first, then the driver (past this point it does not roll back)
            self._ipam_release()
            del self.controller.networks[self.name]
            self.driver.delete_network({"NetworkID": self.id})

    def __repr__(self) -> str:
        return f"<Network {self.name} ({self.type}) {self.id[:12]} {self.subnet or ''}>"
