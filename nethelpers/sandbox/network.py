"""The lab's network operations, executed inside the sandbox.

Each ``op_*`` method does one thing to the kernel and records how to undo it in
a :class:`Journal`; a batch that fails half-way is rolled back before the error
reaches the caller, so the lab is left as it was before the call.

:class:`Network` holds the nodes, the lookups every operation uses, and the nodes' creation
and removal; the other operations are in ``links`` (bridges, veths, VXLAN, macvlan),
``addresses`` (addresses, routes, neighbour and FDB entries) and ``sysctls``; the undo
journal is in ``journal``.
"""

from __future__ import annotations

import errno

from ..errors import AlreadyExists, KernelError, LabError, MissingFeature, NotFound
from ..features import module_of
from ..i18n import _
from ..validate import NODE_NAME
from . import nodes as nodes_mod
from . import rtnl
from .addresses import AddressOps
from .etcfiles import EtcOps
from .journal import Journal
from .links import LinkOps
from .rtnl import NetlinkError
from .sysctls import SysctlOps

DOOMED_GROUP = 0x6E6C  # links about to be deleted together ("nl")


class Network(LinkOps, AddressOps, SysctlOps, EtcOps):
    """All nodes of one sandbox and the operations on them."""

    def __init__(self, root_fd: int, etc_dir: str) -> None:
        self.root_fd = root_fd
        self.etc_dir = etc_dir
        self.nodes: dict[str, nodes_mod.Node] = {}
        self.peers: dict[tuple[str, str], tuple[str, str]] = {}  # veth ends made by the lab

    # --- helpers ------------------------------------------------------------
    def node(self, name: str) -> nodes_mod.Node:
        try:
            return self.nodes[name]
        except KeyError:
            known = ", ".join(sorted(self.nodes)) or _("none yet")
            raise NotFound(_("there is no node {name} in this lab (nodes: {known}); "
                             "create it first with lab.add_node({name})").format(
                                 name=repr(name), known=known)) from None

    def index(self, node: str, ifname: str) -> int:
        """ifindex of an interface, from the node's cache when it can be trusted."""
        n = self.node(node)
        if not n.volatile and ifname in n.indexes:
            return n.indexes[ifname]
        try:
            index = n.nl.link_index(ifname)
        except NetlinkError as exc:
            if exc.errno == errno.ENODEV:
                raise NotFound(_("node {node} has no interface {ifname}; "
                                 "look with lab[{node}].run('ip -br link')").format(
                                     node=repr(node), ifname=repr(ifname))) from None
            raise
        n.indexes[ifname] = index
        return index

    def addresses(self, node: str) -> list:
        """(ifindex, address) of the node's non-loopback addresses."""
        n = self.node(node)
        if n.addrs is None or n.volatile:
            n.addrs = [(i, a) for i, a in n.nl.addresses() if not a.ip.is_loopback]
        return n.addrs

    def forget(self, *names: str) -> None:
        """Drop what is cached about these nodes (all nodes if none are named)."""
        for name in names or list(self.nodes):
            if name in self.nodes:
                self.nodes[name].forget()

    def explain(self, exc: NetlinkError, what: str, *, kind: str | None = None) -> LabError:
        """Turn a kernel error into the lab's exception, naming the object and the fix."""
        text = _("could not {what}: {error}").format(what=what, error=exc.strerror)
        if exc.errno == errno.EEXIST:
            return AlreadyExists(_("{text} — it exists already; pick another name or remove it first").format(
                text=text))
        if exc.errno == errno.ENODEV:
            return NotFound(_("{text} — an interface it names does not exist").format(text=text))
        if exc.errno == errno.EOPNOTSUPP and kind:
            return MissingFeature(_("{text} — this kernel has no {kind} link type (module {module} missing); "
                                    "`python -m nethelpers doctor` lists what it has").format(
                                        text=text, kind=repr(kind), module=module_of(kind)))
        return KernelError(text)

    # --- nodes ----------------------------------------------------------------
    def op_add_node(self, journal: Journal, name: str, kind: str = "node",
                    parent: str | None = None, ipv6: bool = False) -> None:
        if name in self.nodes:
            raise AlreadyExists(_("a node named {name} exists already; choose another name, "
                                  "or remove it first with lab.remove_node({name})").format(name=repr(name)))
        if parent is not None:
            self.node(parent)
        node = nodes_mod.create(name, self.root_fd, kind=kind, parent=parent, ipv6=ipv6)
        self.nodes[name] = node
        journal.record(lambda: self.remove([], [name]))

    def sync_named(self, parent: str | None = None) -> None:
        """Match the nodes to the names in /run/netns: a namespace named by hand is a new node
        (inside ``parent``, the node whose command named it), a node whose name was deleted is gone."""
        import os

        named = {entry for entry in os.listdir(nodes_mod.NETNS_DIR) if NODE_NAME.match(entry)}
        gone = sorted(set(self.nodes) - named)
        for name in gone:
            # with no process left in it, the kernel frees the namespace, and its veths with it, a
            # moment later: now, so that what is shown next does not depend on when
            if not nodes_mod.in_use(self.nodes[name]):
                self._remove_crossing_links(name)
            nodes_mod.let_go(self.nodes.pop(name), self.etc_dir)
            self.peers = {k: v for k, v in self.peers.items() if name not in (k[0], v[0])}
        if gone:
            self.forget()
        if parent is not None and parent not in self.nodes:
            parent = None
        new = named - set(self.nodes)
        # what is a node already, and the sandbox's own namespace, which no node may be
        known = {nodes_mod.netns_id(fd) for fd in [self.root_fd, *(n.fd for n in self.nodes.values())]} if new else set()
        for name in sorted(new):
            node = nodes_mod.adopt(name, self.root_fd, parent=parent)
            if node is None or nodes_mod.netns_id(node.fd) in known:  # no netns, or another name of one
                if node is not None:
                    nodes_mod.let_go(node, self.etc_dir)
                continue
            self.nodes[name] = node
            known.add(nodes_mod.netns_id(node.fd))

    def remove(self, links: list[tuple[str, str]], names: list[str]) -> None:
        """Remove links and whole nodes together: one kernel deletion per node involved.

        Deleting a network device waits for an RCU grace period (~20-40 ms here);
        putting every doomed link of a node into one group and deleting the group
        pays that once. A veth's peer goes with it, so the links of removed nodes
        are deleted from the surviving side, synchronously: the survivors never
        show a stale end; so are a removed node's links that hang off another node's
        device (macvlan, vxlan ``into=``). Removals cannot be undone.
        """
        doomed = {self.node(name).name for name in names}
        by_node: dict[str, set[str]] = {}
        for node, ifname in links:
            if node not in doomed:
                by_node.setdefault(node, set()).add(ifname)
        for (node, _ifname), (peer_node, peer_if) in self.peers.items():
            if node in doomed and peer_node not in doomed:
                by_node.setdefault(peer_node, set()).add(peer_if)
        touched = set(by_node)
        for node, ifnames in sorted(by_node.items()):
            nl = self.nodes[node].nl
            for ifname in sorted(ifnames):
                peer = self.peers.get((node, ifname))
                if peer:
                    touched.add(peer[0])
                    self._forget_pair(node, ifname)
                try:
                    nl.link_set(ifname, group=DOOMED_GROUP)
                except NetlinkError:
                    pass  # deleted by hand already
            try:
                nl.group_del(DOOMED_GROUP)
            except NetlinkError as exc:
                raise self.explain(exc, _("remove {names} in node {node}").format(
                    names=", ".join(sorted(ifnames)), node=repr(node))) from None
        for key in [k for k in self.peers if k[0] in doomed]:
            self._forget_pair(*key)
        crossing = False
        for name in sorted(doomed):
            crossing |= self._remove_crossing_links(name)
        for name in doomed:
            nodes_mod.destroy(self.nodes.pop(name), self.etc_dir)
        self.forget(*(set(self.nodes) if crossing else touched - doomed))

    def _remove_crossing_links(self, name: str) -> bool:
        """Delete, now, the links of a doomed node that cross into another namespace and that the
        loop above did not delete: a veth made by hand (``ip link add ... netns``), a macvlan of
        another node's eth0, a vxlan made ``into`` it. True if there were any.

        Left to the namespace's teardown they would live on a moment after the node is gone: the
        other end of a veth still named (a new ``ip link add veth3 ...``: "File exists"), a macvlan
        still holding its MAC on the parent ("Address already in use"), a vxlan its UDP port.
        """
        nl = self.nodes[name].nl
        crossing = [m.get_attr("IFLA_IFNAME") for m in nl.dump(rtnl.RTM_GETLINK, rtnl.ifinfomsg())
                    if m.get_attr("IFLA_LINK_NETNSID") is not None and _kind(m) is not None]
        if not crossing:
            return False
        for ifname in crossing:
            try:
                nl.link_set(ifname, group=DOOMED_GROUP)
            except NetlinkError:
                pass
        try:
            nl.group_del(DOOMED_GROUP)
        except NetlinkError as exc:
            raise self.explain(exc, _("remove {names} in node {node}").format(
                names=", ".join(crossing), node=repr(name))) from None
        return True


def _kind(msg) -> str | None:
    """A dumped link's kind (``IFLA_INFO_KIND``), None for a plain device."""
    info = msg.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_KIND") if info else None
