"""The sandbox process: set up the namespaces, then answer the lab's requests.

Started by :class:`nethelpers.Lab` as ``python -m nethelpers.sandbox FD``. It
creates the namespaces, forks once (the child is PID 1 of the new PID namespace
and does all the work; the parent stays outside as the launcher, see launcher.py),
and serves requests that arrive on the socket FD until the owner closes it or
exits (the launcher then kills PID 1 at once). When PID 1 exits the
kernel kills every process of the sandbox, and with the last of them the mount
namespace that holds /run/netns — so every node, link and rule goes too.
"""

from __future__ import annotations

import gc
import os
import re
import resource
import signal
import sys

from ..errors import InvalidValue, KernelError, LabError, NotFound
from ..i18n import _
from . import channel, daemons, launcher, network, nodes, processes, setup, state
from . import syscalls as sc
from .channel import Channel
from .dnsservice import DNSService
from .rtnl import Netlink

# How much longer than on this machine's kernel to wait for a command, a daemon or a process's
# output: 1, or more in a VM whose CPU is emulated (nethelpers.vm.machine sets NETHELPERS_PATIENCE;
# read by main(), since the VM's agent imports this module before any lab exists).
PATIENCE = 1.0


class Server:
    def __init__(self, info: dict, launcher_socket) -> None:
        self.info = info
        self.launcher = launcher_socket  # to ask the launcher, outside the lab (launcher.py)
        root_fd = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        Netlink().link_set("lo", up=True)
        self.net = network.Network(root_fd, info["etc_netns"])
        self.procs = processes.Processes(self.net)
        self.dns = DNSService()

    # --- requests ------------------------------------------------------------
    def rpc_apply(self, ops: list[tuple[str, dict]]) -> None:
        """Run operations in order; on the first failure undo the ones done.

        A run of consecutive removals (``remove_link``, ``remove_nodes``) is done as
        one unit, so that a whole teardown costs one kernel deletion per node.
        """
        journal = network.Journal()
        removals: list[tuple[str, dict]] = []
        try:
            for name, kwargs in [*ops, (None, {})]:
                if name in ("remove_link", "remove_nodes"):
                    removals.append((name, kwargs))
                    continue
                if removals:
                    self._remove(removals)
                    removals = []
                if name is not None:
                    getattr(self.net, "op_" + name)(journal, **kwargs)
        except BaseException:
            journal.rollback()
            raise

    def _remove(self, removals: list[tuple[str, dict]]) -> None:
        links = [(kw["node"], kw["name"]) for op, kw in removals if op == "remove_link"]
        names = sorted({n for op, kw in removals if op == "remove_nodes" for n in kw["names"]})
        for name in names:
            self.net.node(name)
        for node, ifname in links:
            self.net.index(node, ifname)  # NotFound before anything is stopped or deleted
        orphans = sorted(n.name for n in self.net.nodes.values() if n.parent in names and n.name not in names)
        if orphans:
            raise InvalidValue(_("cannot remove {names}: it still holds {orphans}; remove those first or "
                                 "together: lab.remove_nodes({both})").format(
                                     names=", ".join(names), orphans=", ".join(orphans),
                                     both=repr(sorted(set(names) | set(orphans)))))
        self.procs.stop_in(set(names))
        self.procs.kill_in({nodes.netns_id(self.net.node(n).fd) for n in names})
        self.dns.forget(names)
        self.net.remove(links, names)

    def rpc_nodes(self) -> list[dict]:
        self.net.sync_named()
        return [{"name": n.name, "kind": n.kind, "parent": n.parent} for n in self.net.nodes.values()]

    def rpc_run(self, node, command, timeout=30, input=None) -> dict:
        self._settle(node)
        try:
            return self.procs.run(node, command, timeout and timeout * PATIENCE, input, asked=timeout)
        finally:
            self.net.sync_named(parent=node)  # `ip netns add/delete` in the command

    def _settle(self, node: str | None) -> None:
        """Let pending link-state changes land before anyone looks (deterministic output): in
        the node, and in the namespaces it holds (`ip netns exec app1 ...` run in myhost)."""
        if node is not None:
            self.net.node(node)
        for n in list(self.net.nodes.values()):
            if node is None or node in (n.name, n.parent):
                n.nl.settle()

    def rpc_start(self, node, command) -> dict:
        return self.procs.start(node, command)

    def rpc_status(self, pid_id: int) -> dict:
        return self.procs.status(pid_id)

    def rpc_exited(self, pid_ids: list) -> list:
        return self.procs.exited(pid_ids)

    def rpc_stop(self, pid_id: int) -> dict:
        return self.procs.stop(pid_id)

    def rpc_processes(self) -> list[dict]:
        return self.procs.list()

    def rpc_sysctl(self, node: str, key: str) -> str:
        return self.net.read_sysctl(node, key)


    def rpc_write_etc(self, node: str, filename: str, text: str) -> str:
        return self.net.write_etc(node, filename, text)

    def rpc_snapshot(self, names: list[str] | None = None) -> dict:
        self.net.sync_named()
        chosen = [self.net.node(n) for n in (names or list(self.net.nodes))]
        result = {}
        for node in chosen:
            node.nl.settle()
            snap = state.snapshot(node.nl)
            snap.update(name=node.name, kind=node.kind, parent=node.parent)
            result[node.name] = snap
        self._resolve_peers(result)
        return result

    def _resolve_peers(self, result: dict) -> None:
        """Name the far end (node, interface) of each veth, and a macvlan's parent."""
        names_in: dict[str, dict[int, str]] = {}

        def names_of(other: str) -> dict[int, str]:
            if other not in names_in:
                links = result[other]["links"] if other in result else state.links(self.net.nodes[other].nl)
                names_in[other] = {link["index"]: link["name"] for link in links}
            return names_in[other]

        for name, snap in result.items():
            node, nsids = self.net.nodes[name], None
            for link in snap["links"]:
                nsid = link.pop("link_netnsid")
                link["peer_node"] = link["peer"] = None
                if link["link_index"] is None:
                    continue
                if nsid is None:  # the far end is in this same node
                    if link["kind"] == "veth":
                        link["peer_node"], link["peer"] = name, link["link"]
                    continue
                if nsids is None:  # the kernel's ids, as this node knows the others
                    nsids = {node.nl.nsid_of(other.fd): other.name
                             for other in self.net.nodes.values() if other is not node}
                other = nsids.get(nsid)
                if other is not None and link["kind"] == "vxlan":
                    link["peer_node"] = other  # where its UDP socket lives (its "link" index is its own)
                elif other is not None:
                    link["peer_node"], link["peer"] = other, names_of(other).get(link["link_index"])

    def rpc_dns_attach(self, node: str, nftables: bool = False) -> None:
        """Docker's embedded DNS server in the node: 127.0.0.11 at high ports, DNAT-ed from :53
        by the node's nat rules, or its ``ip docker-dns`` nftables table (one process serves all)."""
        if not isinstance(nftables, bool):
            raise InvalidValue(f"nftables must be True or False, not {nftables!r}")
        self.dns.attach(node, self.net.node(node).path, nftables)

    def rpc_dns_records(self, node: str, names: dict) -> None:
        """Replace what the node's 127.0.0.11 answers: ``{"web": ["172.18.0.3"], ...}``."""
        self.net.node(node)
        self.dns.records(node, names)

    def rpc_dns_detach(self, node: str) -> None:
        self.net.node(node)
        self.dns.detach(node)

    def rpc_ask(self, name: str, request: dict, timeout: float = 10) -> dict:
        """One JSON request to a lab daemon listening on the unix socket
        ``/run/nethelpers/sockets/NAME`` (e.g. a Docker host's overlay agent); its JSON answer."""
        return daemons.ask(name, request, timeout * PATIENCE)

    def rpc_http(self, name_or_path: str, method: str, path: str, body=None, timeout: float = 10) -> dict:
        """One HTTP/1.1 request over a unix socket in the sandbox's /run (a Docker plugin's
        ``/run/docker/plugins/NAME.sock``); its status and JSON answer."""
        return daemons.http(name_or_path, method, path, body, timeout * PATIENCE)

    def rpc_load_module(self, name: str) -> bool:
        """Load kernel module ``name`` (as dockerd loads br_netfilter): only in the lab's own VM,
        whose kernel belongs to the lab, and by the launcher, outside the lab; on this
        machine's kernel nothing is loaded (False)."""
        if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,64}", name):
            raise InvalidValue(f"{name!r} is not a kernel module name")
        return launcher.ask(self.launcher, "module " + name)

    def rpc_info(self) -> dict:
        return dict(self.info, pid=os.getpid(), patience=PATIENCE)

    def rpc_shutdown(self) -> None:
        return None

    # --- loop -------------------------------------------------------------------
    def serve(self, conn: Channel) -> None:
        while True:
            while not conn.wait(self.procs.IDLE_TICK):
                self.procs.idle()  # between requests: drain what background commands print,
                self.dns.idle()    # and bring lab-dns back if it was killed
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return  # the owner is gone: PID 1 exits and the kernel kills the rest
            except channel.ProtocolError as exc:
                conn.send([0, "err", channel.error_data(exc)])
                continue
            self.procs.reap_orphans()
            self.procs.mark_volatile()
            request_id, op = 0, ""
            try:
                request_id, op, args, kwargs = channel.request(message)
                handler = getattr(self, "rpc_" + op, None)
                if handler is None:
                    raise NotFound(f"the sandbox has no operation {op!r}")
                reply = [request_id, "ok", handler(*args, **kwargs)]
            except LabError as exc:
                reply = [request_id, "err", channel.error_data(exc)]
            except Exception as exc:  # a bug, not bad input: keep the traceback for the report
                import traceback  # (only here: every import delays the VM backend's boot)

                reply = [request_id, "err", channel.error_data(KernelError(
                    f"unexpected {type(exc).__name__} in the sandbox: {exc}\n" + traceback.format_exc()))]
            try:
                conn.send(reply)
            except TypeError as exc:  # an answer that is not plain data: a bug of this module
                conn.send([request_id, "err", channel.error_data(KernelError(f"the sandbox's answer to {op!r}: {exc}"))])
            except (BrokenPipeError, OSError):
                return
            if op == "shutdown":
                return


def main(fd: int) -> int:
    global PATIENCE
    PATIENCE = float(os.environ.get("NETHELPERS_PATIENCE") or 1)
    conn = Channel(fd)
    try:
        info = setup.enter_sandbox_namespaces()
    except LabError as exc:
        conn.send([0, "err", channel.error_data(exc)])
        return 1
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    outside = launcher.Launcher(fd, info)
    sc.forbid_tracing()
    child = os.fork()
    if child:
        return outside.watch(child)
    try:
        sc.set_parent_death_signal(signal.SIGKILL)
        sc.set_process_name("lab-sandbox")
        outside.helper.close()
        ask = outside.for_child
        try:
            if not info["rootless"]:
                info.update(setup.give_up_root(lambda request: launcher.ask(ask, request)))
            setup.become_init()
        except LabError as exc:  # the namespaces exist, but cannot be used: say why
            conn.send([0, "err", channel.error_data(exc)])
            return 1
        sc.make_id_changes_noops()  # root of the lab is a single uid: see syscalls.py
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        server = Server(info, ask)
        nodes.PRIVATE_FDS[:] = [conn.fd, ask.fileno()]
        gc.freeze()  # what is loaded now stays shared with the programs forked from here (programs.py)
        signal.signal(signal.SIGUSR1, lambda *_args: server.procs.interrupt())
        conn.send([0, "ok", server.rpc_info()])
        server.serve(conn)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(0)


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
