"""The ``ipvlan`` driver: each container gets an ipvlan of the host's parent interface
(libnetwork ``drivers/ipvlan``, moby v27.5.1): like macvlan, but every container shares the
parent's MAC address, so the LAN's switch sees one MAC for many IPs.

``-o parent=IF`` (``IF.VLAN``: an 802.1Q sub-interface, made if missing), ``-o ipvlan_mode=``
``l2`` (default: the containers are on the parent's LAN, with its gateway) or ``l3``/``l3s``
(the parent routes: no gateway, a default route straight out of the interface, and no ARP on
the LAN, so the LAN's router needs a route to the subnet via the host). One network per parent.
Kernels without the ipvlan module refuse the link (``python -m nethelpers doctor`` shows it);
the VM backend's kernel has it.
"""

from __future__ import annotations

from ...node import IPVLAN_MODES
from ..errors import InvalidParameter
from .macvlan import ParentDriver, ParentNetwork


class IpvlanDriver(ParentDriver):
    """``ipvlan``: one ipvlan of the parent per container (modes l2, l3, l3s)."""

    name = "ipvlan"
    mode_option = "ipvlan_mode"
    modes = IPVLAN_MODES

    def invalid_mode(self, mode: str) -> str:
        return f"requested ipvlan mode '{mode}' is not valid, 'l2' mode is the ipvlan driver default"

    def check_sharing(self, nid: str, other: ParentNetwork, mode: str, parent: str) -> None:
        # ipvlan_network.go createNetwork: one network per parent (named by its dummy-link name)
        raise InvalidParameter(f"network di-{nid[:12]} is already using parent interface {parent}")

    def endpoint_mac(self, iface: dict, endpoint_id: str = "") -> str:
        if iface.get("MacAddress"):
            raise InvalidParameter("ipvlan interfaces do not support custom mac address assignment")
        return ""  # the parent's

    def make_link(self, name: str, net: ParentNetwork, mac: str) -> None:
        self.kernel.add_ipvlan(name, net.parent, mode=net.mode)

    def join_answer(self, answer: dict, net: ParentNetwork) -> dict:
        """L3/L3S: no gateway service, a default route through the interface (ifaceGateway)."""
        if net.mode in ("l3", "l3s") and not net.internal:
            answer.pop("Gateway", None)
            answer["DisableGatewayService"] = True
            answer["StaticRoutes"] = [{"Destination": "0.0.0.0/0", "RouteType": 1, "NextHop": ""}]
        return answer
