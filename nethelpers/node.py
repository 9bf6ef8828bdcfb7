"""A node of the lab: one simulated machine, i.e. one named network namespace.

The methods read like the ``ip`` commands they stand for: ``add_bridge`` is
``ip link add NAME type bridge``, ``add_address`` is ``ip addr add``,
``add_route`` is ``ip route add`` and ``run`` is ``ip netns exec NODE ...``.
"""

from __future__ import annotations

from typing import NamedTuple

from . import validate
from .errors import InvalidValue
from .results import BackgroundProcess, CommandResult, command_text

MACVLAN_MODES = ("bridge", "private", "vepa", "passthru")
IPVLAN_MODES = ("l2", "l3", "l3s")


class Interface(NamedTuple):
    """One interface of one node, written ``node:name`` as :meth:`Lab.add_veth` takes it."""

    node: str
    name: str

    def __str__(self) -> str:
        return f"{self.node}:{self.name}"


class Node:
    KINDS = ("node", "host", "container", "router", "switch", "server", "client")

    def __init__(self, lab, name: str) -> None:
        self.lab = lab
        self.name = name

    def _op(self, op: str, **kwargs) -> None:
        self.lab._op(op, node=self.name, **kwargs)

    def interface(self, name: str) -> Interface:
        """This node's interface ``name``, as one end of a link: ``lab.add_veth(a.interface("v0"), ...)``."""
        return Interface(self.name, validate.ifname(name))

    # --- links ------------------------------------------------------------------
    def add_bridge(self, name: str, *, address: str | None = None, mac: str | None = None,
                   mtu: int | None = None, up: bool = True) -> None:
        """``ip link add NAME type bridge`` (+ ``ip addr add ADDRESS dev NAME``)."""
        validate.ifname(name)
        if address is not None:
            validate.cidr(address)
        with self.lab.batch():
            self._op("add_bridge", name=name, mac=validate.mac(mac) if mac else None,
                     mtu=validate.mtu(mtu), up=up)
            if address is not None:
                self.add_address(name, address)

    def add_vxlan(self, name: str, vni: int, *, local: str | None = None, remote: str | None = None,
                  dev: str | None = None, port: int = 4789, learning: bool = False,
                  mtu: int | None = None, master: str | None = None, up: bool = True,
                  proxy: bool = False, l2miss: bool = False, l3miss: bool = False,
                  into: str | None = None) -> None:
        """``ip link add NAME type vxlan id VNI [local L] [remote R] [dev D] dstport PORT
        [proxy] [l2miss] [l3miss]`` (+ ``netns INTO``: made here, so its UDP socket stays in
        this node, but living in INTO, where ``master`` then names a bridge)."""
        self._op("add_vxlan", name=validate.ifname(name),
                 vni=validate.number(vni, what="VNI", low=0, high=2**24 - 1),
                 local=validate.ip(local, what="local") if local else None,
                 remote=validate.ip(remote, what="remote") if remote else None,
                 dev=validate.ifname(dev) if dev else None,
                 port=validate.number(port, what="UDP port", low=1, high=65535),
                 learning=bool(learning), mtu=validate.mtu(mtu),
                 master=validate.ifname(master) if master else None, up=up,
                 proxy=bool(proxy), l2miss=bool(l2miss), l3miss=bool(l3miss),
                 into=validate.node_name(into) if into else None)

    def add_macvlan(self, name: str, parent: str, *, mode: str = "bridge", into: str | None = None,
                    mtu: int | None = None, mac: str | None = None, up: bool = True) -> None:
        """``ip link add NAME link PARENT type macvlan mode MODE [netns INTO]``.

        The parent must be an interface of this node (never the machine's NIC:
        the lab cannot even see it).
        """
        if mode not in MACVLAN_MODES:
            raise InvalidValue(f"macvlan mode {mode!r} is not one of {', '.join(MACVLAN_MODES)}")
        self._op("add_macvlan", name=validate.ifname(name), parent=validate.ifname(parent), mode=mode,
                 into=validate.node_name(into) if into else None, mtu=validate.mtu(mtu),
                 mac=validate.mac(mac) if mac else None, up=up)

    def add_vlan(self, name: str, parent: str, vid: int, *, up: bool = True) -> None:
        """``ip link add link PARENT name NAME type vlan id VID``: an 802.1Q sub-interface of
        PARENT (kernels without the 8021q module refuse it)."""
        self._op("add_vlan", name=validate.ifname(name), parent=validate.ifname(parent),
                 vid=validate.number(vid, what="VLAN id", low=1, high=4094), up=up)

    def add_ipvlan(self, name: str, parent: str, *, mode: str = "l2", up: bool = True) -> None:
        """``ip link add NAME link PARENT type ipvlan mode MODE`` (l2, l3 or l3s): an interface that
        shares the parent's MAC address (kernels without the ipvlan module refuse it)."""
        if mode not in IPVLAN_MODES:
            raise InvalidValue(f"ipvlan mode {mode!r} is not one of {', '.join(IPVLAN_MODES)}")
        self._op("add_ipvlan", name=validate.ifname(name), parent=validate.ifname(parent), mode=mode, up=up)

    def add_link(self, name: str, kind: str, *, mtu: int | None = None, master: str | None = None,
                 up: bool = True) -> None:
        """``ip link add NAME type KIND`` for a kind without options (dummy, ifb, ...)."""
        self._op("add_link", name=validate.ifname(name), kind=str(kind), mtu=validate.mtu(mtu),
                 master=validate.ifname(master) if master else None, up=up)

    def set_link(self, name: str, *, up: bool | None = None, master: str | None = None,
                 nomaster: bool = False, mtu: int | None = None, mac: str | None = None) -> None:
        """``ip link set NAME [up|down] [master BR|nomaster] [mtu N] [address MAC]``."""
        self._op("set_link", name=validate.ifname(name), up=up,
                 master=validate.ifname(master) if master else None, nomaster=nomaster,
                 mtu=validate.mtu(mtu), mac=validate.mac(mac) if mac else None)

    def move_link(self, name: str, into: str, *, new_name: str | None = None, mac: str | None = None,
                  up: bool = True) -> None:
        """``ip link set NAME netns INTO name NEW_NAME address MAC`` (+ ``up``): hand an interface
        of this node to another, renamed, as Docker's daemon does with a container's veth end."""
        self._op("move_link", name=validate.ifname(name), into=validate.node_name(into),
                 new_name=validate.ifname(new_name) if new_name else None,
                 mac=validate.mac(mac) if mac else None, up=bool(up))

    def remove_link(self, name: str) -> None:
        """``ip link del NAME`` (a veth takes its peer with it)."""
        if name == "lo":
            raise InvalidValue("lo cannot be removed: every network namespace has its loopback")
        self._op("remove_link", name=validate.ifname(name))

    # --- addresses, routes, neighbours -----------------------------------------------
    def add_address(self, ifname: str, cidr: str, *, allow_overlap: bool = False) -> None:
        """``ip addr add CIDR dev IFNAME``.

        Refuses an address whose subnet overlaps another interface's, unless
        ``allow_overlap=True`` (to show that routing clash on purpose).
        """
        self._op("add_address", ifname=validate.ifname(ifname), cidr=str(validate.cidr(cidr)),
                 allow_overlap=allow_overlap)

    def remove_address(self, ifname: str, cidr: str) -> None:
        self._op("remove_address", ifname=validate.ifname(ifname), cidr=str(validate.cidr(cidr)))

    def add_route(self, dst: str, *, via: str | None = None, dev: str | None = None) -> None:
        """``ip route add DST [via GATEWAY] [dev DEV]``; DST may be "default"."""
        if via is None and dev is None:
            raise InvalidValue(f"route {dst}: give a gateway (via=) or an interface (dev=)")
        self._op("add_route", dst=validate.network(dst),
                 via=validate.ip(via, what="gateway") if via else None,
                 dev=validate.ifname(dev) if dev else None)

    def remove_route(self, dst: str, *, via: str | None = None, dev: str | None = None) -> None:
        self._op("remove_route", dst=validate.network(dst),
                 via=validate.ip(via, what="gateway") if via else None,
                 dev=validate.ifname(dev) if dev else None)

    def add_neighbour(self, ip: str, mac: str, dev: str) -> None:
        """``ip neigh add IP lladdr MAC dev DEV nud permanent``."""
        self._op("add_neighbour", ip=validate.ip(ip), mac=validate.mac(mac), dev=validate.ifname(dev))

    def add_fdb(self, mac: str, dev: str, *, dst: str | None = None, master: bool = False,
                vni: int | None = None) -> None:
        """``bridge fdb append MAC dev DEV [dst IP] [master|self]``: e.g. a VXLAN remote."""
        self._op("add_fdb", mac=validate.mac(mac), dev=validate.ifname(dev),
                 dst=validate.ip(dst, what="dst") if dst else None, master=master,
                 vni=None if vni is None else validate.number(vni, what="VNI", low=0, high=2**24 - 1))

    def remove_neighbour(self, ip: str, mac: str, dev: str) -> None:
        """``ip neigh del IP lladdr MAC dev DEV``."""
        self._op("remove_neighbour", ip=validate.ip(ip), mac=validate.mac(mac), dev=validate.ifname(dev))

    def remove_fdb(self, mac: str, dev: str, *, dst: str | None = None, master: bool = False,
                   vni: int | None = None) -> None:
        """``bridge fdb del MAC dev DEV [dst IP] [master|self]``."""
        self._op("remove_fdb", mac=validate.mac(mac), dev=validate.ifname(dev),
                 dst=validate.ip(dst, what="dst") if dst else None, master=master,
                 vni=None if vni is None else validate.number(vni, what="VNI", low=0, high=2**24 - 1))

    def sysctl(self, key: str, value=None) -> str:
        """Read a sysctl of this node, or set it when ``value`` is given (returns the value).

        Only net.* sysctls can be set: the others are the machine's, not the node's.
        """
        if not isinstance(key, str) or not key or "/" in key or ".." in key:
            raise InvalidValue(f"sysctl key {key!r} should look like 'net.ipv4.ip_forward'")
        if value is not None:
            self._op("sysctl", key=validate.sysctl_settable(key), value=str(value))
            if self.lab._batch is not None:
                return str(value)
        return self.lab._call("sysctl", self.name, key)

    # --- commands ----------------------------------------------------------------------
    def run(self, command, *, timeout: float = 30, check: bool = False,
            input: str | None = None) -> CommandResult:
        """Run a command here, like ``ip netns exec NODE sh -c COMMAND``.

        A string goes through /bin/sh; a list runs as is. Returns rc, stdout and
        stderr; ``check=True`` raises CommandFailed on a non-zero exit. ``input``: text for
        its standard input (UTF-8 bytes are taken as their text); ``timeout=None``: no limit.
        """
        return self.lab._run(self.name, command, timeout=timeout, check=check, input=input)

    def start(self, command) -> BackgroundProcess:
        """Start a command in the background (a server, a capture); ``.stop()`` ends it."""
        command = validate.command(command)
        reply = self.lab._call("start", self.name, command)
        return BackgroundProcess(self.lab, self.name, command_text(command), reply)

    def write_etc(self, filename: str, text: str) -> str:
        """Give this node its own /etc/FILENAME (``/etc/netns/NODE/FILENAME``, as iproute2 does)."""
        if filename not in ("resolv.conf", "hosts", "hostname", "nsswitch.conf"):
            raise InvalidValue(f"/etc/{filename} cannot be set per node; use resolv.conf, hosts, "
                               f"hostname or nsswitch.conf")
        if self.lab._batch is not None:  # queued with the batch (the node may be made in it)
            self._op("write_etc", filename=filename, text=str(text))
            return f"/etc/netns/{self.name}/{filename}"
        return self.lab._call("write_etc", self.name, filename, text)

    # --- the embedded DNS server (Docker's 127.0.0.11) -----------------------------------
    # Sent at once, even inside a batch(): the node must exist already.
    def start_resolver(self, *, nftables: bool = False) -> None:
        """Give this node Docker's embedded DNS server: sockets on 127.0.0.11 at two high ports,
        UDP and TCP, and the node's nat rules that DNAT 127.0.0.11:53 to them (DOCKER_OUTPUT,
        DOCKER_POSTROUTING), answering the names of :meth:`set_resolver_records` and forwarding
        the others to the ``# ExtServers:`` of the node's resolv.conf (none: SERVFAIL). One
        ``lab-dns`` process serves every node of the lab, as dockerd does. The node's
        resolv.conf is left as it is: ``write_etc("resolv.conf", "nameserver 127.0.0.11\\n")``.
        ``nftables=True``: the translations are the node's nftables table ``ip docker-dns``, as
        Docker 29 with ``--firewall-backend=nftables`` makes them.

        Raises:
            AlreadyExists: the node has its DNS server already (stop it first to start anew).
            NotFound: there is no such node.
        """
        self.lab._call("dns_attach", self.name, nftables)

    def stop_resolver(self) -> None:
        """Close this node's DNS server (its sockets and its names go).

        Raises:
            NotFound: the node has no DNS server, or there is no such node.
        """
        self.lab._call("dns_detach", self.name)

    def set_resolver_records(self, records: dict[str, list[str]]) -> None:
        """Replace what this node's DNS server answers: ``{"web": ["172.18.0.3"], ...}``, each name
        (any case, as DNS compares them) to a list of addresses — IPv4 ones answer A queries,
        IPv6 ones AAAA — and each address back to its names for PTR queries.

            c1.start_resolver()
            c1.set_resolver_records({"web": ["172.18.0.3"], "web.net1": ["172.18.0.3"]})
            c1.run("dig @127.0.0.11 web +short")     # 172.18.0.3

        Raises:
            InvalidValue, InvalidName, InvalidAddress: ``records`` is not names to lists of
                addresses (checked before anything is sent).
            NotFound: the node has no DNS server (:meth:`start_resolver`), or there is no such node.
        """
        self.lab._call("dns_records", self.name, validate.dns_records(records))

    def snapshot(self) -> dict:
        """This node's live interfaces, addresses, routes, neighbours and FDB."""
        return self.lab.snapshot([self.name])[self.name]

    def __repr__(self) -> str:
        return f"<Node {self.name}>"

    def __eq__(self, other) -> bool:
        return isinstance(other, Node) and other.lab is self.lab and other.name == self.name

    def __hash__(self) -> int:
        return hash((id(self.lab), self.name))

