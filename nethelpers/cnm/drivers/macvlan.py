"""The ``macvlan`` driver: each container gets a macvlan of the host's parent interface
(libnetwork ``drivers/macvlan``), so it sits on the parent's LAN with its own MAC address.

``-o parent=IF`` names the parent (``IF.VLAN``: an 802.1Q sub-interface, made if missing and
deleted with the network), ``-o macvlan_mode=`` bridge (default), private, vepa or passthru.
Join makes the macvlan in the host's namespace for the daemon to move into the sandbox;
no bridge, no iptables rules.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...errors import LabError
from ...node import MACVLAN_MODES
from ..driverapi import Driver, generic_options
from ..errors import Forbidden, InvalidParameter, NoSuchObject, Unsupported
from ..ids import mac_from_ip, random_mac, veth_name


@dataclass
class ParentNetwork:
    """A network whose endpoints hang off a parent interface (macvlan, ipvlan)."""
    parent: str
    mode: str
    gateway: str
    internal: bool
    made_vlan: bool = False


class ParentDriver(Driver):
    """What macvlan and ipvlan share: the parent interface, its VLAN sub-interface, one link
    per endpoint made at Join. Subclasses name their ``modes`` and make the link."""

    mode_option = ""
    modes: tuple[str, ...] = ()

    def __init__(self, kernel, *, random_macs: bool = False, **config) -> None:
        self.kernel, self.random_macs = kernel, random_macs
        self.networks: dict[str, ParentNetwork] = {}
        self.endpoints: dict[str, dict] = {}

    def _network(self, nid: str) -> ParentNetwork:
        if nid not in self.networks:
            raise NoSuchObject(f"network {nid} does not exist", "create the network first")
        return self.networks[nid]

    def create_network(self, req: dict) -> dict:
        options = generic_options(req)
        for key in options:
            if key not in ("parent", self.mode_option):
                raise Unsupported(f"the lab's {self.name} driver does not support the option {key!r} "
                                  f"(it knows: parent, {self.mode_option})")
        mode = options.get(self.mode_option) or self.modes[0]
        if mode not in self.modes:
            raise InvalidParameter(self.invalid_mode(mode))
        parent = options.get("parent", "")
        if not parent:
            raise Unsupported(f"the lab's {self.name} networks need -o parent=<an interface of the Docker host>, "
                              f"e.g. -o parent=eth0 (without it Docker hangs the network off a dummy interface, "
                              f"which the lab does not make)")
        if parent == "lo":
            raise InvalidParameter(f"loopback interface is not a valid {self.name} parent link")
        for nid, other in self.networks.items():
            if other.parent == parent:
                self.check_sharing(nid, other, mode, parent)
        ipv4 = (req.get("IPv4Data") or [{}])[0]
        internal = bool((req.get("Options") or {}).get("com.docker.network.internal"))
        net = ParentNetwork(parent, mode, (ipv4.get("Gateway") or "").split("/")[0], internal)
        net.made_vlan = self._ensure_parent(parent)
        self.networks[req["NetworkID"]] = net
        return {}

    def invalid_mode(self, mode: str) -> str:
        raise NotImplementedError

    def check_sharing(self, nid: str, other: ParentNetwork, mode: str, parent: str) -> None:
        """Refuse a second network on ``parent`` where the mode forbids it."""

    def _ensure_parent(self, parent: str) -> bool:
        """The parent exists, or is ``IF.VLAN`` made now (libnetwork's createVlanLink); True if made."""
        links = {link["name"] for link in self.kernel.lab.snapshot([self.kernel.host])[self.kernel.host]["links"]}
        if parent in links:
            return False
        if "." not in parent:
            raise InvalidParameter(f"invalid subinterface vlan name {parent}, example formatting is eth0.10")
        base, _, vid = parent.partition(".")
        if not vid.isdigit():
            raise InvalidParameter(f"unable to parse a valid vlan id from: {vid} (ex. eth0.10 for vlan 10)")
        if base not in links:
            raise NoSuchObject(f"-o parent interface was not found on the host: {base}")
        if not 1 <= int(vid) <= 4094:
            raise InvalidParameter(f"vlan id must be between 1-4094, received: {vid}")
        try:
            self.kernel.add_vlan(parent, base, int(vid))
            self.kernel.flush()
        except LabError as exc:
            reason = getattr(exc, "libnetwork", str(exc))  # the kernel's words, without a driver's hint
            raise Unsupported(f"-o parent={parent} asks for an 802.1Q sub-interface (VLAN {vid} on {base}), "
                              f"and this kernel cannot make one: {reason}") from None
        return True

    def delete_network(self, req: dict) -> dict:
        net = self._network(req.get("NetworkID", ""))
        if net.made_vlan:
            self.kernel.remove_link(net.parent)  # Docker deletes the sub-interface it made
        del self.networks[req["NetworkID"]]
        return {}

    def create_endpoint(self, req: dict) -> dict:
        self._network(req.get("NetworkID", ""))
        iface = req.get("Interface") or {}
        mac = self.endpoint_mac(iface, req["EndpointID"])
        self.endpoints[req["EndpointID"]] = {"network": req["NetworkID"], "mac": mac,
                                             "link": veth_name(req["EndpointID"], "sandbox")}
        if mac and not iface.get("MacAddress"):
            return {"Interface": {"MacAddress": mac}}
        return {}

    def endpoint_mac(self, iface: dict, endpoint_id: str = "") -> str:
        """The endpoint's MAC: the one asked for, else 02:42 and its IPv4 address (Docker 27's
        GenerateMACFromIP) or a random one (Docker 28+, macvlan_endpoint.go: GenerateRandomMAC)."""
        address = iface.get("Address") or ""
        if iface.get("MacAddress"):
            return iface["MacAddress"]
        if self.random_macs:
            return random_mac(endpoint_id)
        return mac_from_ip(address.split("/")[0]) if address else ""

    def _endpoint(self, req: dict) -> dict:
        if req.get("EndpointID", "") not in self.endpoints:
            raise NoSuchObject(f"endpoint {req.get('EndpointID')} not found", "create the endpoint first")
        return self.endpoints[req["EndpointID"]]

    def join(self, req: dict) -> dict:
        ep = self._endpoint(req)
        net = self.networks[ep["network"]]
        self.make_link(ep["link"], net, ep["mac"])
        answer = {"InterfaceName": {"SrcName": ep["link"], "DstPrefix": "eth"}, "StaticRoutes": []}
        if net.gateway and not net.internal:
            answer["Gateway"] = net.gateway
        return self.join_answer(answer, net)

    def join_answer(self, answer: dict, net: ParentNetwork) -> dict:
        """What Join answers (a subclass may route differently)."""
        return answer

    def make_link(self, name: str, net: ParentNetwork, mac: str) -> None:
        raise NotImplementedError

    def delete_endpoint(self, req: dict) -> dict:
        ep = self._endpoint(req)
        del self.endpoints[req["EndpointID"]]
        if ep.get("joined_once"):
            self.kernel.remove_link(ep["link"])
        return {}

    def leave(self, req: dict) -> dict:
        self._endpoint(req)["joined_once"] = True  # the daemon moves the link back out: delete it with the endpoint
        return {}


class MacvlanDriver(ParentDriver):
    """``macvlan``: one macvlan of the parent per container (modes bridge, private, vepa, passthru)."""

    name = "macvlan"
    mode_option = "macvlan_mode"
    modes = MACVLAN_MODES

    def invalid_mode(self, mode: str) -> str:
        return f"requested macvlan mode '{mode}' is not valid, 'bridge' mode is the macvlan driver default"

    def check_sharing(self, nid: str, other: ParentNetwork, mode: str, parent: str) -> None:
        if mode == "passthru":
            raise Forbidden(f"cannot use mode passthru, macvlan network {nid} is already using "
                            f"parent interface {parent}")
        if other.mode == "passthru":
            raise Forbidden(f"macvlan network {nid} is already using parent interface {parent} in mode passthru")

    def make_link(self, name: str, net: ParentNetwork, mac: str) -> None:
        self.kernel.add_macvlan(name, net.parent, mode=net.mode, mac=mac or None)
