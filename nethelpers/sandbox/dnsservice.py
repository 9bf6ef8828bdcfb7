"""The sandbox's side of the embedded DNS server: one resolver process (:mod:`.dns`) for all nodes,
started, given each node's sockets (and the DNAT rules to them, as Docker's ``setupIPTable``)
and names, and replaced when it dies. The resolver reads a node's external DNS servers from its
resolv.conf (the ``# ExtServers:`` line Docker writes), in the sandbox's ``/etc/netns/NODE``.
"""

from __future__ import annotations

import ipaddress
import json
import os
import select
import subprocess
import sys

from ..errors import AlreadyExists, InvalidAddress, InvalidValue, KernelError, LabError, NotFound
from . import programs
from .setup import FALLBACK_ETC, OVERLAY_ETC


PORT_HINT = " (is lo down there, or does iptables fail in it: iptables -t nat -S?)"


def etc_of(node: str) -> str:
    """Where the sandbox keeps the node's own /etc files (see setup._overlay_etc)."""
    return f"{FALLBACK_ETC if os.path.isdir(FALLBACK_ETC) else OVERLAY_ETC}/{node}"


class DNSService:
    """The sandbox's handle on the resolver, one for all nodes. It keeps what each node should
    get (its namespace, its names), so that a resolver found dead at a request is replaced
    at once and given them all again — silently, as Docker's, part of dockerd, is always
    there. One that dies again and again (RESTARTS times in a row) is given up: KernelError."""

    TIMEOUT = 10   # seconds for one reply; the resolver never blocks, so this means it died
    RESTARTS = 3   # new resolvers, each dead before a request was answered, before giving up

    def __init__(self) -> None:
        self.popen: programs.Program | None = None
        self.log = None                 # what the running resolver prints (a crash's traceback)
        self.nodes: dict[str, dict] = {}   # node -> {"netns": path, "names": {...}}: what to serve
        self.live: set[str] = set()     # nodes whose sockets the running resolver holds
        self.deaths = 0                 # resolvers dead in a row since a request was last answered

    # --- requests (from the owner) -------------------------------------------------
    def attach(self, node: str, netns: str, nftables: bool = False) -> None:
        if node in self.nodes:
            raise AlreadyExists(f"node {node!r} has its DNS server (127.0.0.11) already: one serves "
                                f"all of a container's networks; to start it anew, detach it first with "
                                f"lab.node({node!r}).stop_resolver() (Docker detaches it when the container "
                                f"leaves its last user-defined network: docker network disconnect)")
        self.nodes[node] = {"netns": netns, "names": {}, "nftables": nftables}
        try:
            self._ensure(must=node)
        except BaseException:
            self.nodes.pop(node, None)
            raise
        self.deaths = 0

    def records(self, node: str, names: dict) -> None:
        self._check_attached(node)
        check_names(node, names)
        names = {n: list(a) for n, a in names.items()}
        self._send(node, {"op": "records", "key": node, "names": names}, f"set the DNS names of node {node!r}")
        self.nodes[node]["names"] = names

    def detach(self, node: str) -> None:
        self._check_attached(node)
        self._drop([node])
        self._ensure()  # the other nodes', if it had died
        self.deaths = 0

    def forget(self, nodes) -> None:
        """Detach nodes about to be removed (their sockets would keep the namespaces alive; their
        rules go with the namespace)."""
        self._drop(sorted(set(self.nodes) & set(nodes)), rules=False)

    def idle(self) -> None:
        """Between requests: a resolver found dead is replaced at once, so names resolve again
        without waiting for the next docker command (not once it keeps dying: see _died)."""
        if self.popen is not None and self.popen.poll() is not None and self.deaths < self.RESTARTS:
            try:
                self._ensure()
            except LabError:
                pass  # said at the next request

    def _check_attached(self, node: str) -> None:
        if node not in self.nodes:
            raise NotFound(f"node {node!r} has no DNS server (127.0.0.11); attach one first with "
                           f"lab.node({node!r}).start_resolver() (Docker does when a container joins a "
                           f"user-defined network: docker network connect)")

    # --- the resolver ------------------------------------------------------------------
    def _send(self, node: str, message: dict, what: str) -> None:
        """One request, to a resolver that serves every node (replaced if it dies answering)."""
        while True:
            self._ensure(must=node)
            reply = self._exchange(message)
            if reply is not None:
                break
            self._died()
        self.deaths = 0
        if not reply["ok"]:
            raise KernelError(f"could not {what}: {reply['error']}")

    def _ensure(self, must: str | None = None) -> None:
        """A running resolver holding every node's sockets and names: started, or replaced
        if found dead. KernelError if ``must``'s sockets cannot be made (another node's: retried later)."""
        while True:
            if self.popen is None:
                if not self.nodes:
                    return
                self._start()
            elif self.popen.poll() is not None or not self._replay(must):
                self._died()
            else:
                return

    def _replay(self, must: str | None) -> bool:
        """Give the running resolver the nodes it lacks; False if it died meanwhile."""
        refused = None
        for node in sorted(set(self.nodes) - self.live):
            spec = self.nodes[node]
            reply = self._exchange({"op": "attach", "key": node, "netns": spec["netns"], "etc": etc_of(node),
                                    "nftables": spec["nftables"]})
            if reply is None:
                return False
            if not reply["ok"]:
                refused = reply["error"] if node == must else refused
                continue
            self.live.add(node)
            if spec["names"] and self._exchange({"op": "records", "key": node, "names": spec["names"]}) is None:
                return False
        if refused is not None:
            raise KernelError(f"could not start the DNS server 127.0.0.11 in node {must!r}: {refused}{PORT_HINT}")
        return True

    def _drop(self, nodes: list[str], *, rules: bool = True) -> None:
        """Forget the nodes and close their sockets (a dead resolver took them along); ``rules``:
        delete their DNAT rules too (a dead resolver left them: harmless, replaced at the next attach)."""
        for node in nodes:
            del self.nodes[node]
            if node in self.live and self.popen.poll() is None:
                if self._exchange({"op": "detach", "key": node, "rules": rules}) is None:
                    self._stop()  # dead: every socket went with it
            self.live.discard(node)

    def _exchange(self, message: dict) -> dict | None:
        """Send one request line, read its reply line; None if the resolver died or hangs."""
        try:
            self.popen.stdin.write(json.dumps(message).encode() + b"\n")
            self.popen.stdin.flush()
            ready, _, _ = select.select([self.popen.stdout], [], [], self.TIMEOUT)
            line = self.popen.stdout.readline() if ready else b""
        except OSError:
            line = b""
        return json.loads(line) if line else None

    def _start(self) -> None:
        """In the sandbox's root namespace, like dockerd on the host."""
        log = None
        try:
            log = os.fdopen(os.memfd_create("lab-dns.log"), "w+b")
            self.popen = programs.start([sys.executable, "-m", "nethelpers.sandbox.dns"], env=dict(os.environ),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                        start_new_session=True)
            self.log = log
        except OSError as exc:
            if log is not None:
                log.close()
            raise KernelError(f"could not start lab-dns, the lab's embedded DNS server: {exc} (the "
                              f"sandbox is out of memory or processes; free some, then try again)") from None

    def _died(self) -> None:
        """The resolver is dead (or hangs): end it; KernelError if that happens too often in a row
        (then each request tries once more, until one is answered)."""
        said = self._stop()
        if said:  # a traceback (a bug, not a kill): into the lab's log, where it went before
            print(f"lab-dns died; it printed:\n{said}", file=sys.stderr, flush=True)
        self.deaths += 1
        if self.deaths > self.RESTARTS:
            raise KernelError(
                f"lab-dns, the lab's embedded DNS server (127.0.0.11 in containers on user-defined "
                f"networks), keeps dying: it died or hung {self.deaths} times in a row before answering, "
                f"although started again each time. What it printed last: {said or '(nothing)'}\n"
                f"Names do not resolve meanwhile. To recover, close the lab and start a new one: "
                f"lab.close(), then lab = Lab()")

    def _stop(self) -> str:
        """Kill and reap the resolver; the end of what it printed."""
        popen, log, self.popen, self.log = self.popen, self.log, None, None
        self.live.clear()
        popen.kill()
        popen.wait()
        for pipe in (popen.stdin, popen.stdout):
            try:
                pipe.close()
            except OSError:  # a request left in the buffer of a closed pipe
                pass
        log.seek(0)
        said = log.read()[-1500:].decode(errors="replace").strip()
        log.close()
        return said


def check_names(node: str, names) -> None:
    """InvalidValue/InvalidAddress unless ``names`` maps each name to a list of IP addresses."""
    if not isinstance(names, dict) or not all(
            isinstance(n, str) and isinstance(a, (list, tuple)) for n, a in names.items()):
        raise InvalidValue(f"DNS names for node {node!r} must map each name to a list of "
                           f"addresses, e.g. {{'web': ['172.18.0.3']}}; got {names!r}")
    for name, addresses in names.items():
        for address in addresses:
            try:
                ipaddress.ip_address(address if isinstance(address, str) else None)
            except ValueError:
                raise InvalidAddress(f"DNS name {name!r} for node {node!r}: {address!r} is not "
                                     f"an IP address (write it like '172.18.0.3')") from None
