"""The lab's network operations, executed inside the sandbox.

Each ``op_*`` method does one thing to the kernel and records how to undo it in
a :class:`Journal`; a batch that fails half-way is rolled back before the error
reaches the caller, so the lab is left as it was before the call.
"""

from __future__ import annotations

import errno
import ipaddress
import re

from ..errors import (AlreadyExists, InvalidAddress, KernelError, LabError, MissingFeature,
                      NotFound)
from .. import validate
from . import nodes as nodes_mod
from . import rtnl
from .rtnl import NetlinkError

DOOMED_GROUP = 0x6E6C  # links about to be deleted together ("nl")


class Journal:
    """Undo steps of the operations done so far, replayed backwards on failure."""

    def __init__(self) -> None:
        self.undo: list = []

    def record(self, step) -> None:
        self.undo.append(step)

    def rollback(self) -> None:
        for step in reversed(self.undo):
            try:
                step()
            except Exception:  # best effort: the kernel may have removed it already
                pass
        self.undo.clear()


try:  # CPython's own SHA-1: hashlib would load OpenSSL, the costliest import of the VM backend's boot
    from _sha1 import sha1
except ImportError:  # a Python built without it
    from hashlib import sha1


def stable_mac(node: str, ifname: str) -> str:
    """A locally administered MAC derived from the names: same lab, same MACs."""
    digest = sha1(f"{node}/{ifname}".encode()).digest()
    return "02:" + ":".join(f"{b:02x}" for b in digest[:5])


class Network:
    """All nodes of one sandbox and the operations on them."""

    def __init__(self, root_fd: int, etc_dir: str) -> None:
        self.root_fd = root_fd
        self.etc_dir = etc_dir
        self.nodes: dict[str, nodes_mod.Node] = {}
        self.peers: dict[tuple[str, str], tuple[str, str]] = {}  # veth ends made by the lab
        self.lowered: set[str] = set()  # nodes given a link whose lower device is in another node

    # --- helpers ------------------------------------------------------------
    def node(self, name: str) -> nodes_mod.Node:
        try:
            return self.nodes[name]
        except KeyError:
            known = ", ".join(sorted(self.nodes)) or "none yet"
            raise NotFound(f"there is no node {name!r} in this lab (nodes: {known}); "
                           f"create it first with lab.add_node({name!r})") from None

    def index(self, node: str, ifname: str) -> int:
        """ifindex of an interface, from the node's cache when it can be trusted."""
        n = self.node(node)
        if not n.volatile and ifname in n.indexes:
            return n.indexes[ifname]
        try:
            index = n.nl.link_index(ifname)
        except NetlinkError as exc:
            if exc.errno == errno.ENODEV:
                raise NotFound(f"node {node!r} has no interface {ifname!r}; "
                               f"look with lab[{node!r}].run('ip -br link')") from None
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
        text = f"could not {what}: {exc.strerror}"
        if exc.errno == errno.EEXIST:
            return AlreadyExists(f"{text} — it exists already; pick another name or remove it first")
        if exc.errno == errno.ENODEV:
            return NotFound(f"{text} — an interface it names does not exist")
        if exc.errno == errno.EOPNOTSUPP and kind:
            return MissingFeature(f"{text} — this kernel has no {kind!r} link type (module "
                                  f"{kind} missing); `python -m nethelpers doctor` lists what it has")
        return KernelError(text)

    # --- nodes ----------------------------------------------------------------
    def op_add_node(self, journal: Journal, name: str, kind: str = "node",
                    parent: str | None = None, ipv6: bool = False) -> None:
        if name in self.nodes:
            raise AlreadyExists(f"a node named {name!r} exists already; choose another name, "
                                f"or remove it first with lab.remove_node({name!r})")
        if parent is not None:
            self.node(parent)
        node = nodes_mod.create(name, self.root_fd, kind=kind, parent=parent, ipv6=ipv6)
        self.nodes[name] = node
        journal.record(lambda: self.remove([], [name]))

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
        for (node, _), (peer_node, peer_if) in self.peers.items():
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
                raise self.explain(exc, f"remove {', '.join(sorted(ifnames))} in node {node!r}") from None
        for key in [k for k in self.peers if k[0] in doomed]:
            self._forget_pair(*key)
        for name in sorted(doomed & self.lowered):  # (a dump per node would slow every teardown)
            self._remove_lowered_links(name)
        self.lowered -= doomed
        for name in doomed:
            nodes_mod.destroy(self.nodes.pop(name), self.etc_dir)
        self.forget(*(touched - doomed))

    def _remove_lowered_links(self, name: str) -> None:
        """Delete, now, the links of a doomed node that hang off a device of another namespace
        (a macvlan of another node's eth0, a vxlan made ``into`` it).

        Left to the namespace's teardown they would live on a moment after the node is gone,
        still holding their MAC on the parent (a new macvlan with it: "Address already in use")
        or their UDP port. Veths are not among them: the loop above deleted them from the other side.
        """
        nl = self.nodes[name].nl
        lowered = [m.get_attr("IFLA_IFNAME") for m in nl.dump(rtnl.RTM_GETLINK, rtnl.ifinfomsg())
                   if m.get_attr("IFLA_LINK_NETNSID") is not None
                   and _kind(m) not in (None, "veth")]
        if not lowered:
            return
        for ifname in lowered:
            try:
                nl.link_set(ifname, group=DOOMED_GROUP)
            except NetlinkError:
                pass
        try:
            nl.group_del(DOOMED_GROUP)
        except NetlinkError as exc:
            raise self.explain(exc, f"remove {', '.join(lowered)} in node {name!r}") from None

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
            raise self.explain(exc, f"add bridge {name!r} in node {node!r}", kind="bridge") from None
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
        what = f"add veth pair {node}:{name} <-> {peer_node}:{peer_name}"
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
                       what=f"add macvlan {name!r} on {node}:{parent}")

    def _add_into(self, journal, node, into, name, kind, info, *, mtu, up, master=None, mac=None,
                  extra=b"", what=None) -> None:
        """A link made in ``node`` and living in ``into`` (``ip link add ... netns INTO``)."""
        here, target = self.node(node), self.node(into)
        extra += rtnl.attr(rtnl.IFLA_ADDRESS, rtnl.mac_bytes(mac or stable_mac(target.name, name)))
        if target is not here:
            extra += rtnl.attr(rtnl.IFLA_NET_NS_FD, rtnl.u32(target.fd))
            self.lowered.add(target.name)
        what = what or f"add {kind} {name!r} in node {node!r} into {into!r}"
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
            raise self.explain(exc, f"add {kind} {name!r} in node {node!r}", kind=kind) from None
        self._created(journal, node, name)

    def op_set_link(self, journal: Journal, node: str, name: str, up: bool | None = None,
                    master: str | None = None, nomaster: bool = False, mtu: int | None = None,
                    mac: str | None = None) -> None:
        nl = self.node(node).nl
        master_index = 0 if nomaster else (self.index(node, master) if master else None)
        try:
            nl.link_set(name, up=up, master=master_index, mtu=mtu, mac=mac)
        except NetlinkError as exc:
            raise self.explain(exc, f"set {node}:{name}") from None

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
                raise AlreadyExists(f"{iface.ip} is already assigned in node {node!r}; "
                                    f"remove it first or choose another address")
            host_route_only = iface.network.prefixlen == iface.max_prefixlen  # a /32 adds no subnet route
            if (not allow_overlap and not host_route_only and other_index != index
                    and other.version == iface.version and other.network.overlaps(iface.network)):
                other_name = next((name for name, i in self._addresses(node) if i == other), "?")
                raise InvalidAddress(
                    f"{cidr} on {node}:{ifname} overlaps {other} on {node}:{other_name}: two interfaces "
                    f"on the same subnet give the kernel two routes for it and it will use only one. "
                    f"Use another subnet, or pass allow_overlap=True to see that clash on purpose.")
        try:
            n.nl.addr(True, index, iface)
        except NetlinkError as exc:
            raise self.explain(exc, f"add {cidr} to {node}:{ifname}") from None
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
            raise self.explain(exc, f"remove {cidr} from {node}:{ifname}") from None

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
                subnets = ", ".join(f"{i} on {n}" for n, i in self._addresses(node)
                                    if not i.ip.is_loopback) or "no addresses at all"
                raise InvalidAddress(
                    f"could not add route {dst} via {via} in node {node!r}: the gateway {via} is "
                    f"outside every subnet of the node ({subnets}). Give the node an address in the "
                    f"gateway's subnet first, or use a gateway inside one of those subnets.") from None
            raise self.explain(exc, f"add route {dst} in node {node!r}") from None
        journal.record(lambda: nl.route(False, net, via=gateway, oif=oif, table=table))

    def op_remove_route(self, journal: Journal, node: str, dst: str, via: str | None = None,
                        dev: str | None = None, table: int = 254) -> None:
        net = ipaddress.ip_network("0.0.0.0/0" if dst == "default" else dst)
        oif = self.index(node, dev) if dev else None
        try:
            self.node(node).nl.route(False, net, via=_ip(via), oif=oif, table=table)
        except NetlinkError as exc:
            raise self.explain(exc, f"remove route {dst} in node {node!r}") from None

    def op_add_neighbour(self, journal: Journal, node: str, ip: str, mac: str, dev: str) -> None:
        nl, index, addr = self.node(node).nl, self.index(node, dev), ipaddress.ip_address(ip)
        try:
            nl.neigh(True, index, mac=mac, ip=addr)
        except NetlinkError as exc:
            raise self.explain(exc, f"add neighbour {ip} lladdr {mac} on {node}:{dev}") from None
        journal.record(lambda: nl.neigh(False, index, mac=mac, ip=addr))

    def op_add_fdb(self, journal: Journal, node: str, mac: str, dev: str, dst: str | None = None,
                   master: bool = False, vni: int | None = None) -> None:
        nl, index, remote = self.node(node).nl, self.index(node, dev), _ip(dst)
        try:
            nl.neigh(True, index, mac=mac, ip=remote, bridge=True, master=master, vni=vni)
        except NetlinkError as exc:
            raise self.explain(exc, f"add fdb {mac} on {node}:{dev}") from None
        journal.record(lambda: nl.neigh(False, index, mac=mac, ip=remote, bridge=True, master=master))

    def op_remove_neighbour(self, journal: Journal, node: str, ip: str, mac: str, dev: str) -> None:
        nl, index, addr = self.node(node).nl, self.index(node, dev), ipaddress.ip_address(ip)
        try:
            nl.neigh(False, index, mac=mac, ip=addr)
        except NetlinkError as exc:
            if exc.errno == errno.ENOENT:
                raise NotFound(f"{node}:{dev} has no neighbour entry for {ip}; "
                               f"`ip neigh show dev {dev}` in {node} lists them") from None
            raise self.explain(exc, f"delete neighbour {ip} on {node}:{dev}") from None
        journal.record(lambda: nl.neigh(True, index, mac=mac, ip=addr))

    def op_remove_fdb(self, journal: Journal, node: str, mac: str, dev: str, dst: str | None = None,
                      master: bool = False, vni: int | None = None) -> None:
        nl, index, remote = self.node(node).nl, self.index(node, dev), _ip(dst)
        try:
            nl.neigh(False, index, mac=mac, ip=remote, bridge=True, master=master, vni=vni)
        except NetlinkError as exc:
            if exc.errno == errno.ENOENT:
                raise NotFound(f"{node}:{dev} has no fdb entry {mac}{f' dst {dst}' if dst else ''}; "
                               f"`bridge fdb show dev {dev}` in {node} lists them") from None
            raise self.explain(exc, f"delete fdb {mac} on {node}:{dev}") from None
        journal.record(lambda: nl.neigh(True, index, mac=mac, ip=remote, bridge=True, master=master, vni=vni))

    def op_sysctl(self, journal: Journal, node: str, key: str, value) -> None:
        validate.sysctl_settable(key)  # (the owner checks it too) never a machine-wide setting
        old = self.read_sysctl(node, key)
        self._in_node(node, lambda: _write_value(node, key, str(value), old), key)
        journal.record(lambda: self._write_sysctl(node, key, old))

    def read_sysctl(self, node: str, key: str) -> str:
        return self._in_node(node, lambda: nodes_mod.read_sysctl(key), key)

    def _write_sysctl(self, node: str, key: str, value: str) -> None:
        self._in_node(node, lambda: nodes_mod.write_sysctl(key, value), key)

    def _in_node(self, node: str, action, key: str):
        """Run ``action`` with the sandbox switched into the node's namespace."""
        from . import syscalls as sc

        sc.setns(self.node(node).fd, sc.CLONE_NEWNET)
        try:
            return action()
        except FileNotFoundError:
            raise NotFound(f"no sysctl {key!r} (no {nodes_mod.sysctl_path(key)}) in node {node!r}") from None
        except OSError as exc:
            raise KernelError(f"sysctl {key} in node {node!r}: {exc.strerror}") from None
        finally:
            sc.setns(self.root_fd, sc.CLONE_NEWNET)


def _write_value(node: str, key: str, value: str, old: str) -> None:
    """Write a sysctl; a value the kernel refuses is named with the kind of value it takes."""
    try:
        nodes_mod.write_sysctl(key, value)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        raise KernelError(f"sysctl {key} in node {node!r}: the kernel refused the value {value!r} "
                          f"({exc.strerror}); {_expected(old)}") from None


def _expected(old: str) -> str:
    """What a sysctl takes, judged by its current value."""
    words = old.split()
    if words and all(re.fullmatch(r"-?[0-9]+", w) for w in words):
        kind = "a number" if len(words) == 1 else f"{len(words)} numbers separated by spaces"
        return (f"it takes {kind} (now {old!r}), within the range the kernel allows for it: "
                f"see https://docs.kernel.org/networking/ip-sysctl.html")
    return f"give a value of the kind it holds now, {old!r}"


def _ip(text):
    return ipaddress.ip_address(text) if text is not None else None


def _kind(msg) -> str | None:
    """A dumped link's kind (``IFLA_INFO_KIND``), None for a plain device."""
    info = msg.get_attr("IFLA_LINKINFO")
    return info.get_attr("IFLA_INFO_KIND") if info else None
