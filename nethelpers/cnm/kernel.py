"""The daemon's hands on the kernel, shared by every driver and by the sandboxes.

Each method is one kernel change made through the lab (netlink, in the lab's sandbox)
and logged, in ``commands``, as the command a person would type for it on a real Linux
machine: ``ip link add vethX type veth peer name vethY``, ``iptables -t nat -I ...``. The
changes are queued in the lab's open batch when there is one (a ``docker run`` costs one
request, not one per change), so every method is cheap; those that need an answer from
the kernel (``run``, ``iptables``) send theirs at once.
"""

from __future__ import annotations

import contextlib
import functools

from ..errors import LabError
from ..node import Node
from .coalesce import Pending
from .errors import DriverFailure


HOLDS = ("add_veth", "add_macvlan", "move_into", "set_master", "move_out", "remove_link")  # see coalesce.py


def queued(method):
    """A change that goes into the lab's open batch: skipped while :meth:`Kernel.forgetting`."""
    @functools.wraps(method)
    def change(self, *args, **kwargs):
        if self._forgetting:
            return None
        if method.__name__ not in HOLDS:
            self.pending.flush()  # what was held back comes before this change
        try:
            return method(self, *args, **kwargs)
        except LabError as exc:  # refused at once (outside a batch): the driver's failure, as libnetwork's
            if isinstance(exc, DriverFailure) or self.lab._batch is not None:
                raise
            raise DriverFailure(str(exc), "the kernel refused it; see the command above") from None
    return change


class Kernel:
    """Kernel changes in the daemon's node (``host``) and the sandboxes it hands links to.

    Attributes:
        commands: every change, as the shell command it stands for, in order.
    """

    def __init__(self, lab, host: str) -> None:
        self.lab, self.host = lab, host
        self.node = Node(lab, host)
        self.commands: list[str] = []
        self._later: list[str] | None = None  # commands waiting for the open batch to be sent
        self._forgetting = False
        self.pending = Pending(self)

    @contextlib.contextmanager
    def batch(self, on_refused=None):
        """The changes of a ``with`` block in one request (see ``Lab.batch``); commands asked
        for with :meth:`run_later` run once it has been sent. If the lab refuses the request
        (and so undoes all of it), ``on_refused()`` runs while :meth:`forgetting`, to bring the
        bookkeeping back in step, and the error propagates."""
        if self._later is not None:
            yield self
            return
        self._later, block_done = [], False
        try:
            with self.lab.batch():
                yield self
                self.pending.flush()
                block_done = True
            later = self._later
        except BaseException:
            self._later = None
            self.pending.items.clear()
            if block_done and on_refused is not None:
                with self.forgetting():
                    on_refused()
            raise
        finally:
            self._later = None
        for command in later:
            command() if callable(command) else self.run(command)

    @contextlib.contextmanager
    def forgetting(self):
        """Undo bookkeeping after a batch the lab refused (and so rolled back): the queued changes
        of the block are skipped, the commands that ran at once (iptables, processes) are undone."""
        self._forgetting = True
        try:
            yield self
        finally:
            self._forgetting = False

    def flush(self) -> None:
        """The changes queued so far go to the kernel now (before a plugin acts on it by itself)."""
        if not self._forgetting:
            self.pending.flush()
            self.lab.flush_batch()

    def run_later(self, command) -> None:
        """A command line (or a function) that needs the changes queued before it: run after
        the open batch has been sent, or now."""
        if self._forgetting:
            return
        if self._later is not None:
            self._later.append(command)
        elif callable(command):
            command()
        else:
            self.run(command)

    def _log(self, *lines: str) -> None:
        self.commands.extend(lines)

    def node_of(self, sandbox: str | None) -> Node:
        return self.node if sandbox in (None, self.host) else Node(self.lab, sandbox)

    def _ip(self, sandbox: str | None) -> str:
        return "ip " if sandbox in (None, self.host) else f"ip -n {sandbox} "

    # --- namespaces and links ------------------------------------------------------------
    @queued
    def add_namespace(self, name: str, *, kind: str = "node") -> None:
        """A namespace the daemon makes (a container's sandbox; an overlay network's), drawn inside the host."""
        self._log(f"ip netns add {name}")
        self.lab.add_node(name, kind=kind, parent=self.host)

    @queued
    def remove_namespace(self, name: str) -> None:
        self._log(f"ip netns del {name}")
        self.lab.remove_node(name)

    @queued
    def add_bridge(self, name: str, address: str, sandbox: str | None = None) -> None:
        ip = self._ip(sandbox)
        self._log(f"{ip}link add {name} type bridge", f"{ip}addr add {address} dev {name}", f"{ip}link set {name} up")
        self.node_of(sandbox).add_bridge(name, address=address)

    @queued
    def add_vxlan(self, name: str, vni: int, *, into: str, master: str, mtu: int, port: int) -> None:
        """A VXLAN device made here (its UDP socket stays in the host) and living in ``into``."""
        self._log(f"ip link add {name} mtu {mtu} type vxlan id {vni} dstport {port} proxy l2miss l3miss",
                  f"ip link set {name} netns {into}", f"ip -n {into} link set {name} master {master} up")
        self.node.add_vxlan(name, vni, port=port, learning=True, proxy=True, l2miss=True, l3miss=True, mtu=mtu,
                            master=master, into=into)

    @queued
    def set_master(self, name: str, master: str, sandbox: str | None = None) -> None:
        self._log(self._ip(sandbox) + f"link set {name} master {master}")
        if self.pending.active() and self.pending.set_master(name, master, sandbox or self.host):
            return
        self.pending.flush()
        self.node_of(sandbox).set_link(name, master=master)

    @queued
    def add_veth(self, name: str, peer: str, *, master: str | None = None, peer_mac: str | None = None,
                 mtu: int | None = None) -> None:
        """A veth pair, both ends here (``master``: the bridge ``name`` is plugged into)."""
        self._log(f"ip link add {name}" + (f" mtu {mtu}" if mtu else "") + f" type veth peer name {peer}"
                  + (f" address {peer_mac}" if peer_mac else ""),
                  f"ip link set {name}" + (f" master {master}" if master else "") + " up")
        self.pending.pairs[name], self.pending.pairs[peer] = peer, name
        if self.pending.active():
            self.pending.add_veth(name, peer, master, peer_mac, mtu)
            return
        self.lab.add_veth(f"{self.host}:{name}", f"{self.host}:{peer}", master=master, peer_mac=peer_mac,
                          mtu=mtu, up=False)
        self.node.set_link(name, up=True)

    @queued
    def add_macvlan(self, name: str, parent: str, *, mode: str, mac: str | None = None) -> None:
        self._log(f"ip link add {name} link {parent} type macvlan mode {mode}"
                  + (f" && ip link set {name} address {mac}" if mac else ""))
        if self.pending.active():
            self.pending.add_macvlan(name, parent, mode, mac)
            return
        self.node.add_macvlan(name, parent, mode=mode, mac=mac, up=False)

    @queued
    def add_ipvlan(self, name: str, parent: str, *, mode: str) -> None:
        self._log(f"ip link add {name} link {parent} type ipvlan mode {mode}")
        self.node.add_ipvlan(name, parent, mode=mode, up=False)

    @queued
    def add_vlan(self, name: str, parent: str, vid: int) -> None:
        self._log(f"ip link add link {parent} name {name} type vlan id {vid}", f"ip link set {name} up")
        self.node.add_vlan(name, parent, vid)

    @queued
    def set_up(self, name: str, sandbox: str | None = None) -> None:
        self._log(self._ip(sandbox) + f"link set {name} up")
        self.node_of(sandbox).set_link(name, up=True)

    @queued
    def remove_link(self, name: str, sandbox: str | None = None) -> None:
        self._log(self._ip(sandbox) + f"link del {name}")
        if self.pending.active() and sandbox in (None, self.host) and self.pending.remove_link(name):
            return
        self.pending.flush()
        self.node_of(sandbox).remove_link(name)

    @queued
    def move_into(self, name: str, sandbox: str, new_name: str, *, mac: str = "") -> None:
        """Into the sandbox's namespace, renamed (``osl``'s AddInterface): down, moved, up."""
        self._log(f"ip link set {name} netns {sandbox}",
                  f"ip -n {sandbox} link set {name} name {new_name}" + (f" address {mac}" if mac else ""),
                  f"ip -n {sandbox} link set {new_name} up")
        if self.pending.active() and self.pending.move_into(name, sandbox, new_name, mac):
            return
        self.pending.flush()
        self.node.move_link(name, sandbox, new_name=new_name, mac=mac or None)

    @queued
    def move_out(self, name: str, sandbox: str, old_name: str) -> None:
        """Back from the sandbox to the daemon's namespace, with its old name (RemoveInterface)."""
        self._log(f"ip -n {sandbox} link set {name} down",
                  f"ip -n {sandbox} link set {name} name {old_name} netns {self.host}")
        if self.pending.active():
            self.pending.move_out(name, sandbox, old_name)
            return
        Node(self.lab, sandbox).move_link(name, self.host, new_name=old_name, up=False)

    # --- addresses, routes, sysctls -------------------------------------------------------
    @queued
    def add_address(self, ifname: str, cidr: str, sandbox: str | None = None) -> None:
        self._log(self._ip(sandbox) + f"addr add {cidr} dev {ifname}")
        self.node_of(sandbox).add_address(ifname, cidr)

    @queued
    def add_route(self, dst: str, *, via: str | None = None, dev: str | None = None,
                  sandbox: str | None = None) -> None:
        self._log(self._ip(sandbox) + f"route add {dst}" + (f" via {via}" if via else "")
                  + (f" dev {dev}" if dev else ""))
        self.node_of(sandbox).add_route(dst, via=via, dev=dev)

    @queued
    def remove_route(self, dst: str, *, via: str | None = None, dev: str | None = None,
                     sandbox: str | None = None) -> None:
        self._log(self._ip(sandbox) + f"route del {dst}" + (f" via {via}" if via else "")
                  + (f" dev {dev}" if dev else ""))
        self.node_of(sandbox).remove_route(dst, via=via, dev=dev)

    @queued
    def sysctl(self, key: str, value) -> None:
        self._log(f"sysctl -w {key}={value}")
        self.node.sysctl(key, value)

    # --- commands -------------------------------------------------------------------------
    def run(self, command: str, *, input: str | None = None, what: str = "") -> str:
        """A command line in the daemon's namespace; DriverFailure when it fails."""
        self._log(command if input is None else f"{command} <<EOF\n{input}EOF")
        try:
            return self.node.run(command, check=True, input=input).stdout
        except LabError as exc:
            raise DriverFailure(str(exc), what or "the kernel refused it; see the command above") from None

    def iptables(self, commands: list[tuple[str, str]]) -> None:
        """iptables commands ``(table, rule)``, sent as one ``iptables-restore --noflush``."""
        if not commands:
            return
        self._log(*[f"iptables -t {table} {rule}" for table, rule in commands])
        tables: dict[str, list[str]] = {}
        for table, rule in commands:
            tables.setdefault(table, []).append(rule)
        script = "".join(f"*{t}\n" + "".join(r + "\n" for r in rules) + "COMMIT\n" for t, rules in tables.items())
        self.node.run("iptables-restore --noflush", input=script, check=True)

    def nft(self, script: str) -> None:
        """An nft script, sent as one ``nft -f -`` transaction: all of it is applied, or none."""
        if not script.strip():
            return
        self._log(f"nft -f - <<EOF\n{script}EOF")
        self.node.run("nft -f -", input=script, check=True)
