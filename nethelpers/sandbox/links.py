"""Links of a node: bridges, veth pairs, VXLAN, macvlan and any other kind, made and set.

The ``op_*`` methods of :class:`LinkOps` are part of :class:`.network.Network`; each records
its undo in the batch's :class:`.journal.Journal`. Every link gets a MAC derived from its
node's and its own name (:func:`stable_mac`), so the same lab has the same MACs.
"""

from __future__ import annotations

import errno

from ..i18n import _
from . import rtnl
from .addresses import _ip
from .journal import Journal
from .rtnl import NetlinkError


try:  # CPython's own SHA-1: hashlib would load OpenSSL, the costliest import of the VM backend's boot
    from _sha1 import sha1
except ImportError:  # a Python built without it
    from hashlib import sha1


def stable_mac(node: str, ifname: str) -> str:
    """A locally administered MAC derived from the names: same lab, same MACs."""
    digest = sha1(f"{node}/{ifname}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


class LinkOps:
    """Making and setting links; mixed into :class:`.network.Network`."""

    # --- links ------------------------------------------------------------------
    def _created(self, journal: Journal, node: str, ifname: str) -> None:
        nl = self.node(node).nl
        journal.record(lambda: (nl.link_del(ifname), self.forget(node)))

    def op_add_bridge(self, journal: Journal, node: str, name: str, mac: str | None = None,
                      mtu: int | None = None, up: bool = True) -> None:
        extra = rtnl.attr(rtnl.IFLA_ADDRESS, rtnl.mac_bytes(mac or stable_mac(node, name)))
        if mtu:
            extra += rtnl.attr(rtnl.IFLA_MTU, rtnl.u32(mtu))
        try:
            self.node(node).nl.link_add(name, "bridge", up=up, extra=extra)
        except NetlinkError as exc:
            raise self.explain(exc, _("add bridge {name} in node {node}").format(name=repr(name), node=repr(node)),
                               kind="bridge") from None
        self._created(journal, node, name)

    def op_add_veth(self, journal: Journal, node: str, name: str, peer_node: str, peer_name: str,
                    mac: str | None = None, peer_mac: str | None = None, master: str | None = None,
                    mtu: int | None = None, up: bool = True) -> None:
        here, there = self.node(node), self.node(peer_node)
        extra = rtnl.attr(rtnl.IFLA_ADDRESS, rtnl.mac_bytes(mac or stable_mac(node, name)))
        if master is not None:
            extra += rtnl.attr(rtnl.IFLA_MASTER, rtnl.u32(self.index(node, master)))
        if mtu:
            extra += rtnl.attr(rtnl.IFLA_MTU, rtnl.u32(mtu))
        peer = rtnl.veth_peer(peer_name, netns_fd=there.fd if there is not here else None,
                              mac=peer_mac or stable_mac(peer_node, peer_name), mtu=mtu)
        what = _("add veth pair {node}:{name} <-> {peer_node}:{peer_name}").format(
            node=node, name=name, peer_node=peer_node, peer_name=peer_name)
        try:
            here.nl.link_add(name, "veth", info_data=peer, up=up, extra=extra)
        except NetlinkError as exc:
            raise self.explain(exc, what, kind="veth") from None
        self._created(journal, node, name)
        self.peers[(node, name)] = (peer_node, peer_name)
        self.peers[(peer_node, peer_name)] = (node, name)
        journal.record(lambda: self._forget_pair(node, name))
        if up:
            try:
                there.nl.link_set(peer_name, up=True)  # a veth end cannot come up before its peer exists
            except NetlinkError as exc:
                raise self.explain(exc, what) from None

    def _forget_pair(self, node: str, name: str) -> None:
        peer = self.peers.pop((node, name), None)
        if peer:
            self.peers.pop(peer, None)

    def op_move_link(self, journal: Journal, node: str, name: str, into: str, new_name: str | None = None,
                     mac: str | None = None, up: bool = True) -> None:
        """``ip link set NAME netns INTO name NEW_NAME address MAC`` then ``up`` (what Docker's
        daemon does with the interface a network driver made: into the sandbox, renamed)."""
        here, there = self.node(node), self.node(into)
        new_name = new_name or name
        what = _("move {node}:{name} into {into} as {new_name}").format(
            node=node, name=name, into=into, new_name=new_name)
        attrs = (rtnl.attr(rtnl.IFLA_IFNAME, rtnl.string(new_name))
                 + rtnl.attr(rtnl.IFLA_NET_NS_FD, rtnl.u32(there.fd)))
        if mac:
            attrs += rtnl.attr(rtnl.IFLA_ADDRESS, rtnl.mac_bytes(mac))
        try:
            here.nl.request(rtnl.RTM_NEWLINK, rtnl.ifinfomsg(self.index(node, name)) + attrs)
        except NetlinkError as exc:
            # the kernel moves first (under the old name when it is free there) and renames after:
            # a refused rename leaves the link moved, so bring it back before reporting
            if new_name != name and there.nl.has_link(name) and not here.nl.has_link(name):
                there.nl.request(rtnl.RTM_NEWLINK, rtnl.ifinfomsg(there.nl.link_index(name))
                                 + rtnl.attr(rtnl.IFLA_NET_NS_FD, rtnl.u32(here.fd)))
            self.forget(node, into)
            raise self.explain(exc, what) from None
        self.forget(node, into)
        peer = self.peers.pop((node, name), None)
        if peer:
            self.peers[(into, new_name)], self.peers[peer] = peer, (into, new_name)

        def back() -> None:
            there.nl.request(rtnl.RTM_NEWLINK, rtnl.ifinfomsg(there.nl.link_index(new_name))
                             + rtnl.attr(rtnl.IFLA_IFNAME, rtnl.string(name))
                             + rtnl.attr(rtnl.IFLA_NET_NS_FD, rtnl.u32(here.fd)))
            self.forget(node, into)
            moved = self.peers.pop((into, new_name), None)
            if moved:
                self.peers[(node, name)], self.peers[moved] = moved, (node, name)
        journal.record(back)
        if up:
            try:
                there.nl.link_set(new_name, up=True)
            except NetlinkError as exc:
                raise self.explain(exc, what) from None

    def op_add_vxlan(self, journal: Journal, node: str, name: str, vni: int, local=None,
                     remote=None, dev: str | None = None, port: int = 4789, learning: bool = False,
                     mtu: int | None = None, master: str | None = None, up: bool = True,
                     proxy: bool = False, l2miss: bool = False, l3miss: bool = False,
                     into: str | None = None) -> None:
        dev_index = self.index(node, dev) if dev else None
        info = rtnl.vxlan_info(vni, local=_ip(local), remote=_ip(remote), dev_index=dev_index,
                               port=port, learning=learning, proxy=proxy, l2miss=l2miss, l3miss=l3miss)
        if into is None:
            self._add_kind(journal, node, name, "vxlan", info, mtu=mtu, master=master, up=up)
        else:  # its UDP socket stays in `node`, as with Docker's overlay
            self._add_into(journal, node, into, name, "vxlan", info, mtu=mtu, master=master, up=up)

    def op_add_macvlan(self, journal: Journal, node: str, name: str, parent: str,
                       mode: str = "bridge", into: str | None = None, mtu: int | None = None,
                       up: bool = True, mac: str | None = None) -> None:
        info = rtnl.attr(rtnl.IFLA_MACVLAN_MODE, rtnl.u32(rtnl.MACVLAN_MODES[mode]))
        self._add_into(journal, node, into or node, name, "macvlan", info, mtu=mtu, up=up, mac=mac,
                       extra=rtnl.attr(rtnl.IFLA_LINK, rtnl.u32(self.index(node, parent))),
                       what=_("add {kind} {name} on {node}:{parent}").format(
                           kind="macvlan", name=repr(name), node=node, parent=parent))

    def op_add_ipvlan(self, journal: Journal, node: str, name: str, parent: str, mode: str = "l2",
                      up: bool = True) -> None:
        """``ip link add NAME link PARENT type ipvlan mode MODE`` (it shares the parent's MAC)."""
        info = rtnl.attr(rtnl.IFLA_IPVLAN_MODE, rtnl.u16(rtnl.IPVLAN_MODES[mode]))
        self._add_on_parent(journal, node, name, parent, "ipvlan", info, up)

    def op_add_vlan(self, journal: Journal, node: str, name: str, parent: str, vid: int, up: bool = True) -> None:
        """``ip link add link PARENT name NAME type vlan id VID``: an 802.1Q sub-interface (its
        frames leave PARENT tagged VID; it keeps the parent's MAC)."""
        self._add_on_parent(journal, node, name, parent, "vlan", rtnl.attr(rtnl.IFLA_VLAN_ID, rtnl.u16(vid)), up)

    def _add_on_parent(self, journal, node, name, parent, kind, info, up) -> None:
        """A link of ``kind`` on ``parent`` in the same node, with the parent's MAC."""
        try:
            self.node(node).nl.link_add(name, kind, info_data=info, up=up,
                                        extra=rtnl.attr(rtnl.IFLA_LINK, rtnl.u32(self.index(node, parent))))
        except NetlinkError as exc:
            raise self.explain(exc, _("add {kind} {name} on {node}:{parent}").format(
                kind=kind, name=repr(name), node=node, parent=parent), kind=kind) from None
        self._created(journal, node, name)

    def _add_into(self, journal, node, into, name, kind, info, *, mtu, up, master=None, mac=None,
                  extra=b"", what=None) -> None:
        """A link made in ``node`` and living in ``into`` (``ip link add ... netns INTO``)."""
        here, target = self.node(node), self.node(into)
        extra += rtnl.attr(rtnl.IFLA_ADDRESS, rtnl.mac_bytes(mac or stable_mac(target.name, name)))
        if target is not here:
            extra += rtnl.attr(rtnl.IFLA_NET_NS_FD, rtnl.u32(target.fd))
        what = what or _("add {kind} {name} in node {node} into {into}").format(
            kind=kind, name=repr(name), node=repr(node), into=repr(into))
        try:
            here.nl.link_add(name, kind, info_data=info, extra=extra)
        except NetlinkError as exc:
            if not (exc.errno == errno.EEXIST and target is not here and not target.nl.has_link(name)):
                raise self.explain(exc, what, kind=kind) from None
            self._add_then_rename(here, target, name, kind, info, extra, what)
        self._created(journal, target.name, name)
        self.op_set_link(journal, target.name, name, mtu=mtu, master=master, up=up or None)

    def _add_then_rename(self, here, target, name, kind, info, extra, what) -> None:
        """``name`` exists where the link is made, not where it goes (a macvlan eth0 of eth0):
        older kernels look the new name up in the namespace the request comes from (the VM's
        6.1 does), so make it under a free name and rename it there, as Docker's macvlan driver does."""
        temporary = "nh-new-link"
        try:
            here.nl.link_add(temporary, kind, info_data=info, extra=extra)
        except NetlinkError as exc:
            raise self.explain(exc, what, kind=kind) from None
        try:
            target.nl.link_rename(target.nl.link_index(temporary), name)
        except NetlinkError as exc:
            target.nl.link_del(temporary)
            raise self.explain(exc, what, kind=kind) from None

    def op_add_link(self, journal: Journal, node: str, name: str, kind: str,
                    mtu: int | None = None, master: str | None = None, up: bool = True) -> None:
        """Any other link type the kernel knows (dummy, ipvlan, ...), without options."""
        self._add_kind(journal, node, name, kind, b"", mtu=mtu, master=master, up=up)

    def _add_kind(self, journal, node, name, kind, info, *, mtu, master, up) -> None:
        extra = rtnl.attr(rtnl.IFLA_ADDRESS, rtnl.mac_bytes(stable_mac(node, name)))
        if mtu:
            extra += rtnl.attr(rtnl.IFLA_MTU, rtnl.u32(mtu))
        if master:
            extra += rtnl.attr(rtnl.IFLA_MASTER, rtnl.u32(self.index(node, master)))
        try:
            self.node(node).nl.link_add(name, kind, info_data=info, up=up, extra=extra)
        except NetlinkError as exc:
            raise self.explain(exc, _("add {kind} {name} in node {node}").format(
                kind=kind, name=repr(name), node=repr(node)), kind=kind) from None
        self._created(journal, node, name)

    def op_set_link(self, journal: Journal, node: str, name: str, up: bool | None = None,
                    master: str | None = None, nomaster: bool = False, mtu: int | None = None,
                    mac: str | None = None) -> None:
        nl = self.node(node).nl
        master_index = 0 if nomaster else (self.index(node, master) if master else None)
        try:
            nl.link_set(name, up=up, master=master_index, mtu=mtu, mac=mac)
        except NetlinkError as exc:
            raise self.explain(exc, _("set {node}:{name}").format(node=node, name=name)) from None
