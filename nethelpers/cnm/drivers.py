"""Network drivers: libnetwork's ``driverapi.Driver`` with the remote protocol's JSON.

Every method takes the request body a remote driver would receive and returns the
response body it would send (``NetworkDriver.CreateNetwork`` is ``create_network``),
so a built-in driver and a plugin are interchangeable. Kernel work goes through
``run(command)``, which runs an ``ip`` command line in the daemon's namespace (a lab
node for the built-in drivers, the plugin's own namespace for the plugin).
"""

from __future__ import annotations

import hashlib
import ipaddress

from .errors import Forbidden, NoSuchObject

GENERIC = "com.docker.network.generic"
BRIDGE_NAME = "com.docker.network.bridge.name"


class Driver:
    """A driver that does nothing: the base of ``null`` and ``host``."""

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


class _OnlyOne(Driver):
    """null and host: one network of the type, made at start and never deleted."""

    type = ""

    def __init__(self) -> None:
        self.network: str | None = None

    def create_network(self, req: dict) -> dict:
        if self.network is not None:
            raise Forbidden(f'only one instance of "{self.type}" network is allowed',
                            f"use the existing {self.type} network")
        self.network = req["NetworkID"]
        return {}

    def delete_network(self, req: dict) -> dict:
        raise Forbidden(f'network of type "{self.type}" cannot be deleted',
                        "it exists as long as the daemon does")


class NullDriver(_OnlyOne):
    """``null``: the sandbox keeps only its loopback (``docker run --network none``)."""

    type = "null"


class HostDriver(_OnlyOne):
    """``host``: no interface at all; the sandbox is the host's own namespace."""

    type = "host"


def veth_name(endpoint_id: str, side: str) -> str:
    """``veth`` + 7 hex digits (libnetwork draws them at random; derived here)."""
    return "veth" + hashlib.sha256(f"{endpoint_id}/{side}".encode()).hexdigest()[:7]


def mac_from_ip(ip: str) -> str:
    """libnetwork's ``GenerateMACFromIP``: 02:42 then the four IPv4 bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.ip_address(ip).packed)


class BridgeDriver(Driver):
    """A Linux bridge per network, a veth pair per endpoint, as libnetwork's ``bridge``.

    CreateNetwork makes the bridge with the gateway address IPAM gave; CreateEndpoint a
    veth pair with one end on the bridge; Join names the other end (``SrcName``) for
    libnetwork to move into the sandbox and rename ``DstPrefix`` + index; DeleteEndpoint
    deletes the pair. No iptables rules (the lab's Docker engine has those).

    Args:
        run: runs one shell command line in the daemon's network namespace; raises on failure.
        prefix: the bridge's name is PREFIX + the network ID's first 12 digits (unless the
            ``com.docker.network.bridge.name`` option names it).
        dst_prefix: what the interface is called in the sandbox, before its index.
    """

    def __init__(self, run, *, prefix: str = "br-", dst_prefix: str = "eth") -> None:
        self.run, self.prefix, self.dst_prefix = run, prefix, dst_prefix
        self.networks: dict[str, dict] = {}
        self.endpoints: dict[str, dict] = {}

    def _network(self, nid: str) -> dict:
        if nid not in self.networks:
            raise NoSuchObject(f"network {nid} does not exist", "create the network first")
        return self.networks[nid]

    def _endpoint(self, req: dict) -> dict:
        self._network(req.get("NetworkID", ""))
        eid = req.get("EndpointID", "")
        if eid not in self.endpoints:
            raise NoSuchObject(f"endpoint {eid} not found", "create the endpoint first")
        return self.endpoints[eid]

    def create_network(self, req: dict) -> dict:
        nid = req["NetworkID"]
        if nid in self.networks:
            raise Forbidden(f"network {nid} already exists", "use another network ID")
        ipv4 = (req.get("IPv4Data") or [{}])[0]
        if not ipv4.get("Gateway"):
            raise Forbidden("the bridge driver needs IPv4Data with a Gateway", "create it with an IPAM pool")
        options = (req.get("Options") or {}).get(GENERIC) or {}
        name = options.get(BRIDGE_NAME) or self.prefix + nid[:12]
        self.run(f"ip link add {name} type bridge")
        try:
            self.run(f"ip addr add {ipv4['Gateway']} dev {name} && ip link set {name} up")
        except Exception:
            self.run(f"ip link del {name}")
            raise
        self.networks[nid] = {"bridge": name, "gateway": ipv4["Gateway"].split("/")[0]}
        return {}

    def delete_network(self, req: dict) -> dict:
        network = self._network(req.get("NetworkID", ""))
        self.run(f"ip link del {network['bridge']}")
        del self.networks[req["NetworkID"]]
        return {}

    def create_endpoint(self, req: dict) -> dict:
        network, eid = self._network(req.get("NetworkID", "")), req.get("EndpointID", "")
        if eid in self.endpoints:
            raise Forbidden(f"Endpoint ({eid}) already exists (Only one endpoint allowed)",
                            "use a new endpoint ID")
        iface = req.get("Interface") or {}
        address = iface.get("Address") or ""
        mac = iface.get("MacAddress") or (mac_from_ip(address.split("/")[0]) if address else "")
        host_end, sandbox_end = veth_name(eid, "host"), veth_name(eid, "sandbox")
        self.run(f"ip link add {host_end} type veth peer name {sandbox_end}")
        try:
            self.run((f"ip link set {sandbox_end} address {mac} && " if mac else "")
                     + f"ip link set {host_end} master {network['bridge']} up")
        except Exception:
            self.run(f"ip link del {host_end}")
            raise
        self.endpoints[eid] = {"host": host_end, "sandbox": sandbox_end, "mac": mac, "address": address}
        if mac and not iface.get("MacAddress"):
            return {"Interface": {"MacAddress": mac}}  # the driver chose it
        return {}

    def endpoint_oper_info(self, req: dict) -> dict:
        ep = self._endpoint(req)
        return {"Value": {"com.docker.network.endpoint.macaddress": ep["mac"], "HostInterface": ep["host"]}}

    def delete_endpoint(self, req: dict) -> dict:
        ep = self._endpoint(req)
        self.run(f"ip link del {ep['host']}")
        del self.endpoints[req["EndpointID"]]
        return {}

    def join(self, req: dict) -> dict:
        ep, network = self._endpoint(req), self._network(req["NetworkID"])
        return {"InterfaceName": {"SrcName": ep["sandbox"], "DstPrefix": self.dst_prefix},
                "Gateway": network["gateway"], "StaticRoutes": []}

    def leave(self, req: dict) -> dict:
        self._endpoint(req)
        return {}
