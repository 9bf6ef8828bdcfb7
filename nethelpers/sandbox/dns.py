"""Docker's embedded DNS server (127.0.0.11) for the lab's containers.

dockerd runs ONE resolver for all containers, not one per container: for each
container it enters the container's network namespace just long enough to open
a UDP and a TCP socket there, then returns to its own namespace. A socket stays
in the namespace it was made in, so a single event loop serves every container,
and each container sees only the names of its own networks.

Real Docker listens on random ports and adds iptables rules inside the container
that DNAT 127.0.0.11:53 to them (``iptables -t nat -S`` in a container shows the
``DOCKER_OUTPUT``/``DOCKER_POSTROUTING`` chains). The lab binds 127.0.0.11:53
directly: the same answers, without those rules.

Unknown names get NXDOMAIN here; Docker would forward them to the host's DNS
servers instead. The resolver runs as ``python -m nethelpers.sandbox.dns``,
driven by JSON lines on stdin (one ``{"ok": ...}`` line back per request):

    {"op": "attach", "key": "c1", "netns": "/run/netns/c1"}
    {"op": "records", "key": "c1", "names": {"web": ["172.18.0.3"]}}
    {"op": "detach", "key": "c1"}

The sandbox drives it through :class:`DNSService`, at the end of this module.
"""

from __future__ import annotations

import ipaddress
import json
import os
import select
import selectors
import socket
import struct
import subprocess
import sys

from ..errors import AlreadyExists, InvalidAddress, InvalidValue, KernelError, LabError, NotFound
from . import programs
from . import syscalls as sc

ADDRESS, PORT = "127.0.0.11", 53
TTL = 600             # what Docker gives its answers
UDP_LIMIT = 512       # a larger answer over UDP is truncated (unless the client's EDNS(0) allows
                      # more, as Docker's resolver honours it): the client retries over TCP
TCP_LIMIT = 65535     # what a 2-byte length can frame
MAX_PENDING = 1 << 20  # bytes of answers a TCP client has not read yet before it is dropped


# --- answers ---------------------------------------------------------------------
class Table:
    """What one container can resolve: name -> addresses, and back for PTR."""

    def __init__(self) -> None:
        self.forward: dict = {}   # "web" -> [ip_address, ...]
        self.reverse: dict = {}   # "3.0.18.172.in-addr.arpa" -> ["web"]

    @classmethod
    def of(cls, names: dict) -> Table:
        table = cls()
        for name, addresses in names.items():
            key = normal(name)
            for text in addresses:
                ip = ipaddress.ip_address(text)
                table.forward.setdefault(key, []).append(ip)
                table.reverse.setdefault(ip.reverse_pointer, []).append(key)
        return table


def normal(name: str) -> str:
    """DNS names compare without case and without the root's trailing dot."""
    return str(name).rstrip(".").lower()


def answer(packet: bytes, table: Table, limit: int, *, udp: bool = False) -> bytes | None:
    """The reply to one query, or None for anything that is not a query we can parse.

    ``udp``: ``limit`` grows to the UDP payload size an EDNS(0) OPT record of the query offers
    (moby v27.5.1 libnetwork/resolver.go: ``maxSize = dns.MinMsgSize``, raised to the OPT's
    ``UDPSize()``, then ``resp.Truncate(maxSize)``).
    """
    from dnslib import AAAA, PTR, QTYPE, RCODE, RR, A, DNSRecord  # only this process needs it

    try:
        query = DNSRecord.parse(packet)
    except Exception:  # malformed: dnslib raises DNSError, sometimes others
        return None
    if query.header.qr or len(query.questions) != 1:
        return None  # a response (never answer those: no loops), or nothing asked
    if udp:
        limit = max([limit] + [rr.rclass for rr in query.ar if rr.rtype == QTYPE.OPT])
    reply = query.reply(ra=1, aa=0)  # like Docker: recursion available, not authoritative
    reply.header.tc = reply.header.z = reply.header.ad = 0  # of the query's flags only RD and CD echo
    reply.header.rcode = RCODE.NOERROR
    question = query.q
    name, qtype = normal(question.qname), question.qtype
    if query.header.opcode != 0:
        reply.header.rcode = RCODE.NOTIMP
    elif qtype == QTYPE.PTR and name in table.reverse:
        for target in table.reverse[name]:
            reply.add_answer(RR(question.qname, QTYPE.PTR, rdata=PTR(target + "."), ttl=TTL))
    elif name in table.forward:  # A: its IPv4 addresses; AAAA: its IPv6 ones; others: none
        for ip in table.forward[name]:
            if qtype == QTYPE.A and ip.version == 4:
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(str(ip)), ttl=TTL))
            elif qtype == QTYPE.AAAA and ip.version == 6:
                reply.add_answer(RR(question.qname, QTYPE.AAAA, rdata=AAAA(str(ip)), ttl=TTL))
    else:
        reply.header.rcode = RCODE.NXDOMAIN
    try:
        data = reply.pack()
        if len(data) > limit:
            reply.rr = []
            reply.header.tc = 1
            data = reply.pack()
    except Exception:  # a name dnslib parsed but cannot write back
        return None
    return data


# --- the resolver process ----------------------------------------------------------
class Container:
    """One container's DNS server: its two sockets, its table, its TCP clients."""

    def __init__(self, key: str, udp: socket.socket, tcp: socket.socket) -> None:
        self.key, self.udp, self.tcp = key, udp, tcp
        self.table = Table()
        self.conns: set = set()


class Conn:
    """One TCP client: queries come in 2-byte-length frames, answers go out the same way."""

    def __init__(self, sock: socket.socket, container: Container) -> None:
        self.sock, self.container = sock, container
        self.inbox = bytearray()
        self.outbox = bytearray()


class Resolver:
    def __init__(self) -> None:
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.selector = selectors.DefaultSelector()
        self.containers: dict[str, Container] = {}

    # --- requests ------------------------------------------------------------
    def attach(self, key: str, netns: str) -> None:
        if key in self.containers:
            raise ValueError(f"{key!r} is attached already")
        fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        made: list[socket.socket] = []
        try:
            sc.setns(fd, sc.CLONE_NEWNET)  # sockets belong to the namespace they are made in
            try:
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                made.append(udp)
                udp.bind((ADDRESS, PORT))
                tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                made.append(tcp)
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((ADDRESS, PORT))
                tcp.listen(16)
            finally:
                sc.setns(self.home, sc.CLONE_NEWNET)
        except BaseException:
            for s in made:
                s.close()
            raise
        finally:
            os.close(fd)
        container = self.containers[key] = Container(key, udp, tcp)
        for s, role in ((udp, "udp"), (tcp, "listen")):
            s.setblocking(False)
            self.selector.register(s, selectors.EVENT_READ, (role, container))

    def records(self, key: str, names: dict) -> None:
        self._get(key).table = Table.of(names)

    def detach(self, key: str) -> None:
        """Close every socket of the container: an open one would keep its namespace alive."""
        container = self._get(key)
        for conn in list(container.conns):
            self._close(conn)
        for s in (container.udp, container.tcp):
            self.selector.unregister(s)
            s.close()
        del self.containers[key]

    def _get(self, key: str) -> Container:
        try:
            return self.containers[key]
        except KeyError:
            raise ValueError(f"{key!r} is not attached") from None

    def handle(self, line: bytes) -> dict:
        try:
            request = json.loads(line)
            op = request.pop("op")
            if op not in ("attach", "records", "detach"):
                raise ValueError(f"unknown op {op!r}")
            getattr(self, op)(**request)
            return {"ok": True}
        except Exception as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    # --- traffic -------------------------------------------------------------
    def on_udp(self, container: Container) -> None:
        try:
            packet, peer = container.udp.recvfrom(65535)
        except OSError:
            return
        data = answer(packet, container.table, UDP_LIMIT, udp=True)
        if data is not None:
            try:
                container.udp.sendto(data, peer)
            except OSError:
                pass

    def on_accept(self, container: Container) -> None:
        try:
            sock, _ = container.tcp.accept()
        except OSError:
            return
        sock.setblocking(False)
        conn = Conn(sock, container)
        container.conns.add(conn)
        self.selector.register(sock, selectors.EVENT_READ, ("conn", conn))

    def on_conn(self, conn: Conn, events: int) -> None:
        if events & selectors.EVENT_READ:
            try:
                data = conn.sock.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                return self._close(conn)
            if data == b"":
                return self._close(conn)  # the client is done (answers not yet sent are dropped)
            conn.inbox += data or b""
            while len(conn.inbox) >= 2:
                size = struct.unpack_from("!H", conn.inbox)[0]
                if len(conn.inbox) < 2 + size:
                    break
                packet = bytes(conn.inbox[2:2 + size])
                del conn.inbox[:2 + size]
                reply = answer(packet, conn.container.table, TCP_LIMIT)
                if reply is not None:
                    conn.outbox += struct.pack("!H", len(reply)) + reply
            if len(conn.outbox) > MAX_PENDING:
                return self._close(conn)  # asks and asks, never reads
        if conn.outbox:
            try:
                sent = conn.sock.send(conn.outbox)
            except BlockingIOError:
                sent = 0
            except OSError:
                return self._close(conn)
            del conn.outbox[:sent]
        wanted = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbox else 0)
        self.selector.modify(conn.sock, wanted, ("conn", conn))

    def _close(self, conn: Conn) -> None:
        self.selector.unregister(conn.sock)
        conn.sock.close()
        conn.container.conns.discard(conn)

    # --- loop ------------------------------------------------------------------
    def serve(self, control_in: int, control_out) -> None:
        """Answer queries and requests until stdin reaches EOF."""
        self.selector.register(control_in, selectors.EVENT_READ, ("control", None))
        pending = b""
        while True:
            for key, events in self.selector.select():
                role, what = key.data
                if role == "udp":
                    self.on_udp(what)
                elif role == "listen":
                    self.on_accept(what)
                elif role == "conn":
                    if key.fileobj.fileno() != -1:  # not closed earlier in this round
                        self.on_conn(what, events)
                else:
                    chunk = os.read(control_in, 65536)
                    if not chunk:
                        return
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    for line in filter(bytes.strip, lines):
                        control_out.write(json.dumps(self.handle(line)).encode() + b"\n")
                        control_out.flush()


def main() -> int:
    sc.set_process_name("lab-dns")
    Resolver().serve(sys.stdin.fileno(), sys.stdout.buffer)
    return 0


# --- the sandbox's side ----------------------------------------------------------
PORT_HINT = " (is port 53 taken there — look with ss -lnup — or is lo down?)"


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
    def attach(self, node: str, netns: str) -> None:
        if node in self.nodes:
            raise AlreadyExists(f"node {node!r} has its DNS server (127.0.0.11) already: one serves "
                                f"all of a container's networks; to start it anew, detach it first")
        self.nodes[node] = {"netns": netns, "names": {}}
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
        """Detach nodes about to be removed (their sockets would keep the namespaces alive)."""
        self._drop(sorted(set(self.nodes) & set(nodes)))

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
            raise NotFound(f"node {node!r} has no DNS server (127.0.0.11); attach one first (Docker "
                           f"does when a container joins a user-defined network: docker network connect)")

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
            reply = self._exchange({"op": "attach", "key": node, "netns": spec["netns"]})
            if reply is None:
                return False
            if not reply["ok"]:
                refused = reply["error"] if node == must else refused
                continue
            self.live.add(node)
            if spec["names"] and self._exchange({"op": "records", "key": node, "names": spec["names"]}) is None:
                return False
        if refused is not None:
            raise KernelError(f"could not start the DNS server 127.0.0.11:53 in node {must!r}: {refused}{PORT_HINT}")
        return True

    def _drop(self, nodes: list[str]) -> None:
        """Forget the nodes and close their sockets (a dead resolver took them along)."""
        for node in nodes:
            del self.nodes[node]
            if node in self.live and self.popen.poll() is None:
                if self._exchange({"op": "detach", "key": node}) is None:
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


if __name__ == "__main__":
    sys.exit(main())
