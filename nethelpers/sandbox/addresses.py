"""Addresses, routes and neighbour entries (ARP and the bridge FDB) of a node's interfaces.

The ``op_*`` methods of :class:`AddressOps` are part of :class:`.network.Network`; each records
its undo in the batch's :class:`.journal.Journal`.
"""

from __future__ import annotations

import errno
import ipaddress

from ..errors import AlreadyExists, InvalidAddress, NotFound
from ..i18n import _
from . import rtnl
from .journal import Journal
from .rtnl import NetlinkError


class AddressOps:
    """Addresses, routes, neighbours and FDB entries; mixed into :class:`.network.Network`."""

    # --- addresses and routes -------------------------------------------------
    def _addresses(self, node: str) -> list[tuple[str, ipaddress.IPv4Interface]]:
        nl = self.node(node).nl
        names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in nl.dump(rtnl.RTM_GETLINK, rtnl.ifinfomsg())}
        return [(names.get(index, "?"), iface) for index, iface in nl.addresses()]

    def op_add_address(self, journal: Journal, node: str, ifname: str, cidr: str,
                       allow_overlap: bool = False) -> None:
        iface = ipaddress.ip_interface(cidr)
        index = self.index(node, ifname)
        n = self.node(node)
        for other_index, other in self.addresses(node):
            if other.ip == iface.ip:
                raise AlreadyExists(_("{ip} is already assigned in node {node}; "
                                      "remove it first or choose another address").format(
                                          ip=iface.ip, node=repr(node)))
            host_route_only = iface.network.prefixlen == iface.max_prefixlen  # a /32 adds no subnet route
            if (not allow_overlap and not host_route_only and other_index != index
                    and other.version == iface.version and other.network.overlaps(iface.network)):
                other_name = next((name for name, i in self._addresses(node) if i == other), "?")
                raise InvalidAddress(_(
                    "{cidr} on {node}:{ifname} overlaps {other} on {node}:{other_name}: two interfaces "
                    "on the same subnet give the kernel two routes for it and it will use only one. "
                    "Use another subnet, or pass allow_overlap=True to see that clash on purpose.").format(
                        cidr=cidr, node=node, ifname=ifname, other=other, other_name=other_name))
        try:
            n.nl.addr(True, index, iface)
        except NetlinkError as exc:
            raise self.explain(exc, _("add {cidr} to {node}:{ifname}").format(
                cidr=cidr, node=node, ifname=ifname)) from None
        if n.addrs is not None:
            n.addrs.append((index, iface))
        journal.record(lambda: self._remove_address(node, ifname, iface))

    def _remove_address(self, node: str, ifname: str, iface) -> None:
        n = self.node(node)
        n.nl.addr(False, self.index(node, ifname), iface)
        n.addrs = None

    def op_remove_address(self, journal: Journal, node: str, ifname: str, cidr: str) -> None:
        try:
            self._remove_address(node, ifname, ipaddress.ip_interface(cidr))
        except NetlinkError as exc:
            raise self.explain(exc, _("remove {cidr} from {node}:{ifname}").format(
                cidr=cidr, node=node, ifname=ifname)) from None

    def op_add_route(self, journal: Journal, node: str, dst: str, via: str | None = None,
                     dev: str | None = None, table: int = 254) -> None:
        net = ipaddress.ip_network("0.0.0.0/0" if dst == "default" else dst)
        gateway = _ip(via)
        oif = self.index(node, dev) if dev else None
        nl = self.node(node).nl
        try:
            nl.route(True, net, via=gateway, oif=oif, table=table)
        except NetlinkError as exc:
            if exc.errno == errno.ENETUNREACH and gateway is not None:
                subnets = ", ".join(_("{address} on {interface}").format(address=i, interface=n)
                                    for n, i in self._addresses(node)
                                    if not i.ip.is_loopback) or _("no addresses at all")
                raise InvalidAddress(_(
                    "could not add route {dst} via {via} in node {node}: the gateway {via} is "
                    "outside every subnet of the node ({subnets}). Give the node an address in the "
                    "gateway's subnet first, or use a gateway inside one of those subnets.").format(
                        dst=dst, via=via, node=repr(node), subnets=subnets)) from None
            raise self.explain(exc, _("add route {dst} in node {node}").format(dst=dst, node=repr(node))) from None
        journal.record(lambda: nl.route(False, net, via=gateway, oif=oif, table=table))

    def op_remove_route(self, journal: Journal, node: str, dst: str, via: str | None = None,
                        dev: str | None = None, table: int = 254) -> None:
        net = ipaddress.ip_network("0.0.0.0/0" if dst == "default" else dst)
        oif = self.index(node, dev) if dev else None
        try:
            self.node(node).nl.route(False, net, via=_ip(via), oif=oif, table=table)
        except NetlinkError as exc:
            raise self.explain(exc, _("remove route {dst} in node {node}").format(dst=dst, node=repr(node))) from None

    def op_add_neighbour(self, journal: Journal, node: str, ip: str, mac: str, dev: str) -> None:
        nl, index, addr = self.node(node).nl, self.index(node, dev), ipaddress.ip_address(ip)
        try:
            nl.neigh(True, index, mac=mac, ip=addr)
        except NetlinkError as exc:
            raise self.explain(exc, _("add neighbour {ip} lladdr {mac} on {node}:{dev}").format(
                ip=ip, mac=mac, node=node, dev=dev)) from None
        journal.record(lambda: nl.neigh(False, index, mac=mac, ip=addr))

    def op_add_fdb(self, journal: Journal, node: str, mac: str, dev: str, dst: str | None = None,
                   master: bool = False, vni: int | None = None) -> None:
        nl, index, remote = self.node(node).nl, self.index(node, dev), _ip(dst)
        try:
            nl.neigh(True, index, mac=mac, ip=remote, bridge=True, master=master, vni=vni)
        except NetlinkError as exc:
            raise self.explain(exc, _("add fdb {mac} on {node}:{dev}").format(mac=mac, node=node, dev=dev)) from None
        journal.record(lambda: nl.neigh(False, index, mac=mac, ip=remote, bridge=True, master=master))

    def op_remove_neighbour(self, journal: Journal, node: str, ip: str, mac: str, dev: str) -> None:
        nl, index, addr = self.node(node).nl, self.index(node, dev), ipaddress.ip_address(ip)
        try:
            nl.neigh(False, index, mac=mac, ip=addr)
        except NetlinkError as exc:
            if exc.errno == errno.ENOENT:
                raise NotFound(_("{node}:{dev} has no neighbour entry for {ip}; "
                                 "`ip neigh show dev {dev}` in {node} lists them").format(
                                     node=node, dev=dev, ip=ip)) from None
            raise self.explain(exc, _("delete neighbour {ip} on {node}:{dev}").format(
                ip=ip, node=node, dev=dev)) from None
        journal.record(lambda: nl.neigh(True, index, mac=mac, ip=addr))

    def op_remove_fdb(self, journal: Journal, node: str, mac: str, dev: str, dst: str | None = None,
                      master: bool = False, vni: int | None = None) -> None:
        nl, index, remote = self.node(node).nl, self.index(node, dev), _ip(dst)
        try:
            nl.neigh(False, index, mac=mac, ip=remote, bridge=True, master=master, vni=vni)
        except NetlinkError as exc:
            if exc.errno == errno.ENOENT:
                entry = f"{mac} dst {dst}" if dst else mac
                raise NotFound(_("{node}:{dev} has no fdb entry {entry}; "
                                 "`bridge fdb show dev {dev}` in {node} lists them").format(
                                     node=node, dev=dev, entry=entry)) from None
            raise self.explain(exc, _("delete fdb {mac} on {node}:{dev}").format(
                mac=mac, node=node, dev=dev)) from None
        journal.record(lambda: nl.neigh(True, index, mac=mac, ip=remote, bridge=True, master=master, vni=vni))


def _ip(text):
    return ipaddress.ip_address(text) if text is not None else None
