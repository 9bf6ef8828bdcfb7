"""The ``overlay`` driver: one network across hosts (libnetwork ``drivers/overlay``, moby
v27.5.1; the sources are in ``docs/design/overlay.md``).

Per overlay network, on each host that has a container on it, a **network sandbox**: a
namespace ``1-<network id[:10]>`` (here the node ``<host>.1-<id[:10]>``) holding a bridge
``br0`` with the gateway address and a ``vxlan0`` (VNI, UDP 4789, learning, proxy, l2miss,
l3miss, MTU 1450) whose UDP socket stays in the host. Each endpoint is a veth pair, MTU 1450:
one end on ``br0`` (``veth0``, ``veth1``... in the sandbox), the other moved into the
container by the daemon (``eth0``); Join gives no gateway, so the daemon adds an endpoint on
``docker_gwbridge`` for the way out (see :mod:`nethelpers.cnm.sandbox`).

The remote endpoints are written into the sandbox by the host's **control plane** (the
overlay agent, ``nethelpers.programs.overlay_agent``), which the driver tells of its own
endpoints: the engine gives it one (``driver.control``) when the host joins a cluster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..driverapi import SERVICE_INFO, Driver
from ..errors import Forbidden, NoSuchObject
from ..ids import mac_from_ip, veth_name

MTU = 1450                       # 1500 - 50 bytes of VXLAN encapsulation
VXLAN_ENCAP = 50
VXLAN_PORT = 4789
VNI_OPTION = "com.docker.network.driver.overlay.vxlanid_list"
MTU_OPTION = "com.docker.network.driver.mtu"


def max_mtu(options: dict) -> int:
    """The MTU of vxlan0 and of every endpoint: the underlay's (``-o com.docker.network.driver.mtu``,
    else 1500) less VXLAN's 50 bytes (moby docker-v29.7.2 drivers/overlay encryption.go maxMTU,
    ov_network.go: the option is parsed with Atoi and may not be negative)."""
    text = options.get(MTU_OPTION)
    if text is None:
        return MTU
    text = str(text)
    # Go's strconv.Atoi: an optional sign and ASCII digits only (Python's int() also takes
    # spaces, "1_400" and other scripts' digits), within int64
    if not re.fullmatch(r"[+-]?[0-9]+", text):
        raise Forbidden(f'failed to parse {text}: strconv.Atoi: parsing "{text}": invalid syntax',
                        "give the underlay's MTU in bytes, such as 1400")
    mtu = int(text, 10)
    if not -2 ** 63 <= mtu < 2 ** 63:
        raise Forbidden(f'failed to parse {text}: strconv.Atoi: parsing "{text}": value out of range',
                        "give the underlay's MTU in bytes, such as 1400")
    if mtu < 0:
        raise Forbidden(f"invalid MTU value: {mtu}", "give the underlay's MTU in bytes, such as 1400")
    mtu = mtu or 1500
    if mtu - VXLAN_ENCAP < 68:
        raise Forbidden(f"the overlay's MTU would be {mtu - VXLAN_ENCAP}, below IPv4's minimum of 68",
                        "give the underlay's MTU in bytes, such as 1400")
    return mtu - VXLAN_ENCAP


@dataclass
class OverlayNetwork:
    vni: int
    gateway: str                 # ADDRESS/LEN, br0's address
    sandbox: str                 # the node holding br0 and vxlan0
    mtu: int = MTU               # vxlan0's and the endpoints' (max_mtu)
    endpoints: int = 0           # joined here
    next_veth: int = 0           # libnetwork numbers br0's ports veth0, veth1, ... (never reused)


class OverlayDriver(Driver):
    """Docker's ``overlay`` driver (global scope)."""

    name = "overlay"
    scope = "global"
    wants_service_info = True

    def __init__(self, kernel, **config) -> None:
        self.kernel = kernel
        self.control = None  # the host's control plane (set when the host joins a cluster)
        self.networks: dict[str, OverlayNetwork] = {}
        self.endpoints: dict[str, dict] = {}

    def _network(self, nid: str) -> OverlayNetwork:
        if nid not in self.networks:
            raise NoSuchObject(f"network {nid} does not exist", "create the network first")
        return self.networks[nid]

    def create_network(self, req: dict) -> dict:
        nid = req["NetworkID"]
        options = (req.get("Options") or {}).get("com.docker.network.generic") or {}
        if not options.get(VNI_OPTION):
            raise Forbidden("no VNI provided", "the cluster allocates one: create the network on a manager")
        ipv4 = (req.get("IPv4Data") or [{}])[0]
        self.networks[nid] = OverlayNetwork(int(str(options[VNI_OPTION]).split(",")[0]), ipv4.get("Gateway", ""),
                                            f"{self.kernel.host}.1-{nid[:10]}", max_mtu(options))
        return {}

    def delete_network(self, req: dict) -> dict:
        self._network(req.get("NetworkID", ""))
        del self.networks[req["NetworkID"]]
        return {}

    def sandbox_of(self, nid: str) -> str | None:
        """The node of ``nid``'s network sandbox here, while a container of this host is on it."""
        net = self.networks.get(nid)
        return net.sandbox if net is not None and net.endpoints else None

    def create_endpoint(self, req: dict) -> dict:
        self._network(req.get("NetworkID", ""))
        iface = req.get("Interface") or {}
        address = iface.get("Address") or ""
        mac = iface.get("MacAddress") or mac_from_ip(address.split("/")[0])
        self.endpoints[req["EndpointID"]] = {"network": req["NetworkID"], "address": address, "mac": mac,
                                             "host_end": veth_name(req["EndpointID"]),
                                             "sandbox_end": veth_name(req["EndpointID"], "sandbox"), "port": ""}
        return {} if iface.get("MacAddress") else {"Interface": {"MacAddress": mac}}

    def _endpoint(self, req: dict) -> dict:
        if req.get("EndpointID", "") not in self.endpoints:
            raise NoSuchObject(f"endpoint {req.get('EndpointID')} not found", "create the endpoint first")
        return self.endpoints[req["EndpointID"]]

    def join(self, req: dict) -> dict:
        """joinSandbox (the network's sandbox, on the first endpoint here), the veth pair with one
        end on br0, the peer entry for the other hosts (through the control plane)."""
        ep = self._endpoint(req)
        nid = ep["network"]
        net = self.networks[nid]
        kernel = self.kernel
        if self.control is None:
            raise Forbidden("this host is in no cluster", "docker swarm init/join, or --cluster-store")
        if net.endpoints == 0:
            kernel.add_namespace(net.sandbox)
            kernel.add_bridge("br0", net.gateway, sandbox=net.sandbox)
            kernel.add_vxlan("vxlan0", net.vni, into=net.sandbox, master="br0", mtu=net.mtu, port=VXLAN_PORT)
            kernel.run_later(lambda: self.control.network_up(nid, net.sandbox))
        ep["port"] = f"veth{net.next_veth}"
        net.next_veth += 1
        net.endpoints += 1
        kernel.add_veth(ep["host_end"], ep["sandbox_end"], peer_mac=ep["mac"], mtu=net.mtu)
        kernel.move_into(ep["host_end"], net.sandbox, ep["port"])
        kernel.set_master(ep["port"], "br0", sandbox=net.sandbox)
        info = (req.get("Options") or {}).get(SERVICE_INFO) or {}
        kernel.run_later(lambda: self.control.join(nid, req["EndpointID"], ep["address"], ep["mac"],
                                                   info.get("Name", ""), info.get("Aliases") or []))
        return {"InterfaceName": {"SrcName": ep["sandbox_end"], "DstPrefix": "eth"}, "StaticRoutes": []}

    def leave(self, req: dict) -> dict:
        ep = self._endpoint(req)
        self.control.leave(ep["network"], req["EndpointID"])
        return {}

    def delete_endpoint(self, req: dict) -> dict:
        """The veth goes (its br0 end named the pair); the last endpoint here takes the sandbox."""
        ep = self._endpoint(req)
        net = self.networks[ep["network"]]
        del self.endpoints[req["EndpointID"]]
        if not ep["port"]:
            return {}
        net.endpoints -= 1
        if net.endpoints:
            self.kernel.remove_link(ep["sandbox_end"])  # (the pair goes: its br0 end too)
        else:  # leaveSandbox: the last one here
            try:
                self.control.network_down(ep["network"])
            finally:
                self.kernel.remove_link(ep["sandbox_end"])
                self.kernel.remove_namespace(net.sandbox)
        return {}

    def endpoint_oper_info(self, req: dict) -> dict:
        ep = self._endpoint(req)
        return {"Value": {"com.docker.network.endpoint.macaddress": ep["mac"]}}
