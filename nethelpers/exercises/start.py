"""Exercises of notebook 00 (start here): a third node, then a route through the middle one."""

from __future__ import annotations

import ipaddress

from ..i18n import N_, _
from . import Exercise, addresses, gateway_to, link, node_names, pings

SUBNET = ipaddress.ip_network("10.0.1.0/24")


def _c_setup(lab):
    """Nodes a and b as the notebook left them; no node c, no eth1 on b."""
    if "c" in node_names(lab):
        lab.remove_node("c")  # its veth goes with it, b's end included
    if link(lab, "b", "eth1") is not None:
        lab["b"].remove_link("eth1")
    lab.add_node("c")


def _c_solution(lab):
    lab.add_veth("b:eth1", "c:eth0")
    lab["b"].add_address("eth1", "10.0.1.1/24")
    lab["c"].add_address("eth0", "10.0.1.2/24")


def _c_cabled(lab):
    eth0 = link(lab, "c", "eth0") if "c" in node_names(lab) else None
    if eth0 is None:
        return _('c has no eth0 yet: a veth pair with one end in b and the other as c\'s eth0, '
                 'lab.add_veth("b:eth1", "c:eth0")')
    if eth0.get("peer_node") != "b":
        return _("c's eth0 is a {kind} whose other end is not in b: make it a veth pair to b").format(
            kind=eth0["kind"])


def _on_subnet(node, ifname):
    def check(lab):
        name = ifname if ifname else link(lab, "c", "eth0")["peer"]
        mine = [a for a in addresses(lab, node, name) if ipaddress.ip_interface(a).ip in SUBNET]
        if not mine:
            return _("{node}'s {name} has no address in {subnet}: give it one, e.g. "
                     "lab[\"{node}\"].add_address(\"{name}\", \"10.0.1.{host}/24\")").format(
                node=node, name=name, subnet=SUBNET, host=1 if node == "b" else 2)
        if ipaddress.ip_interface(mine[0]).network != SUBNET:
            return _("{node}'s address {address} has the wrong prefix length: use /24, like a and b's").format(
                node=node, address=mine[0])
    return check


def _c_pings_b(lab):
    peer = link(lab, "c", "eth0")["peer"]
    target = next(ipaddress.ip_interface(a).ip for a in addresses(lab, "b", peer))
    if not pings(lab, "c", str(target)):
        return _("c cannot ping b's {target}: are both ends up, on the same subnet?").format(target=target)


THIRD_NODE = Exercise(N_("a third node, c, cabled to b"), [
    (N_("node c has an eth0 cabled to b"), _c_cabled),
    (N_("b's end of the cable has an address in 10.0.1.0/24"), _on_subnet("b", None)),
    (N_("c's eth0 has an address in 10.0.1.0/24"), _on_subnet("c", "eth0")),
    (N_("c pings b"), _c_pings_b),
], setup=_c_setup, solution=_c_solution)


def _route_setup(lab):
    """Exercise 1's answer in place; no route between a and c, and b not forwarding."""
    _c_setup(lab)
    _c_solution(lab)
    lab["b"].sysctl("net.ipv4.ip_forward", 0)
    for route in lab.snapshot(["a"])["a"]["routes"]:
        if route["dst"] != "10.0.0.0/24":  # a's attempts, with a gateway or straight out of a device
            lab["a"].remove_route(route["dst"], via=route.get("via"), dev=route.get("dev"))


def _route_solution(lab):
    lab["b"].sysctl("net.ipv4.ip_forward", 1)
    lab["a"].add_route("10.0.1.0/24", via="10.0.0.2")
    lab["c"].add_route("default", via="10.0.1.1")


def _b_forwards(lab):
    if lab["b"].sysctl("net.ipv4.ip_forward") != "1":
        return _("b does not pass packets between its interfaces: a Linux machine forwards only when "
                 "net.ipv4.ip_forward is 1 (b.sysctl(\"net.ipv4.ip_forward\", 1))")


def _a_knows(lab):
    if gateway_to(lab, "a", "10.0.1.2") != "10.0.0.2":
        return _("a has no route to 10.0.1.0/24 through b (10.0.0.2): "
                 "a.add_route(\"10.0.1.0/24\", via=\"10.0.0.2\")")


def _c_knows(lab):
    if gateway_to(lab, "c", "10.0.0.1") != "10.0.1.1":
        return _("c does not know how to answer a: it needs a route to 10.0.0.0/24 (or a default route) "
                 "through b's 10.0.1.1 — the reply must find its way back too")


def _a_pings_c(lab):
    if not pings(lab, "a", "10.0.1.2"):
        return _("a still cannot ping c (10.0.1.2): lab.trace(\"a\", \"10.0.1.2\") shows where the ping stops")


ROUTE_THROUGH_B = Exercise(N_("a reaches c through b"), [
    (N_("b forwards packets (net.ipv4.ip_forward = 1)"), _b_forwards),
    (N_("a routes 10.0.1.0/24 via b"), _a_knows),
    (N_("c routes its replies to 10.0.0.0/24 via b"), _c_knows),
    (N_("a pings c"), _a_pings_c),
], setup=_route_setup, solution=_route_solution)
