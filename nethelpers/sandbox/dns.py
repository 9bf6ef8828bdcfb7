"""Docker's embedded DNS server (127.0.0.11) for the lab's containers.

dockerd runs ONE resolver for all containers, not one per container: for each
container it enters the container's network namespace just long enough to open
a UDP and a TCP socket there, then returns to its own namespace. A socket stays
in the namespace it was made in, so a single event loop serves every container,
and each container sees only the names of its own networks.

As Docker's, the sockets are bound to 127.0.0.11 at high ports, not at 53, and
rules in the container's own nat table send 53 there (moby's ``Resolver.SetupFunc(0)``
and ``setupIPTable``: libnetwork/resolver.go and resolver_unix.go at v27.5.1;
``setupNAT``/``setupIptablesNAT`` in daemon/libnetwork/ at docker-v29.7.2, the same rules)::

    -N DOCKER_OUTPUT
    -N DOCKER_POSTROUTING
    -A OUTPUT -d 127.0.0.11/32 -j DOCKER_OUTPUT
    -A POSTROUTING -d 127.0.0.11/32 -j DOCKER_POSTROUTING
    -A DOCKER_OUTPUT -d 127.0.0.11/32 -p tcp -m tcp --dport 53 -j DNAT --to-destination 127.0.0.11:TCP
    -A DOCKER_OUTPUT -d 127.0.0.11/32 -p udp -m udp --dport 53 -j DNAT --to-destination 127.0.0.11:UDP
    -A DOCKER_POSTROUTING -s 127.0.0.11/32 -p tcp -m tcp --sport TCP -j SNAT --to-source :53
    -A DOCKER_POSTROUTING -s 127.0.0.11/32 -p udp -m udp --sport UDP -j SNAT --to-source :53

Docker's ports are the kernel's pick (port 0: the ephemeral range, 32768-60999 by
default); the lab derives them from the node's name (:func:`ports`), so that a notebook
prints the same ones every run. Docker 29 with ``--firewall-backend=nftables`` puts the same
translations in an nftables table instead (``setupNftablesNAT``; ``"nftables": true`` on attach)::

    table ip docker-dns {
        chain dns-dnat {
            type nat hook output priority -100; policy accept;
            ip daddr 127.0.0.11 udp dport 53 counter dnat to 127.0.0.11:UDP
            ip daddr 127.0.0.11 tcp dport 53 counter dnat to 127.0.0.11:TCP
        }
        chain dns-snat {
            type nat hook postrouting priority srcnat; policy accept;
            ip saddr 127.0.0.11 udp sport UDP counter snat to :53
            ip saddr 127.0.0.11 tcp sport TCP counter snat to :53
        }
    }

Names it does not know are forwarded, as Docker's (``forwardExtDNS``), to the external
servers Docker swapped out of the container's resolv.conf — the ``# ExtServers: [...]``
line it writes there (sandbox_dns_unix.go ``rebuildDNS``) — at most 3, each given 4 s
(``maxExtDNS``, ``extIOTimeout``), over the protocol the query came in on, from inside the
container's namespace (``dialExtDNS`` runs in ``backend.ExecFunc``): the query leaves
through the container's own interface and the host's NAT. (Docker 29 marks the servers
read from the host's file ``host(IP)`` and dials those from dockerd's own namespace; the
lab dials them from the container's too, so on 29 the query also crosses the bridge.) An answer is passed on as it
came, NXDOMAIN included; SERVFAIL or REFUSED tries the next server; when none answered the
client gets SERVFAIL. In the lab the Docker host's resolv.conf names the world's DNS
server (:mod:`nethelpers.world`), so nothing ever leaves the lab. A forwarded query is
sent by a thread of its own (threads enter namespaces on their own).

The resolver runs as ``python -m nethelpers.sandbox.dns``, driven by JSON lines on
stdin (one ``{"ok": ...}`` line back per request):

    {"op": "attach", "key": "c1", "netns": "/run/netns/c1", "etc": "/etc/netns/c1", "nftables": false}
    {"op": "records", "key": "c1", "names": {"web": ["172.18.0.3"]}}
    {"op": "detach", "key": "c1", "rules": true}

``detach`` closes the sockets and (``rules``) deletes the rules; Docker leaves them to
die with the container's namespace, the lab removes them where the namespace lives on
(a stopped container's node).

The sandbox drives it through :class:`.dnsservice.DNSService`; the answers are made by
:mod:`.dnsanswers`.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import selectors
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

from . import syscalls as sc
from .dnsanswers import FORWARD, TCP_LIMIT, UDP_LIMIT, Table, answer, failure

ADDRESS, PORT = "127.0.0.11", 53
MAX_PENDING = 1 << 20  # bytes of answers a TCP client has not read yet before it is dropped
# Docker's ports are the kernel's ephemeral ones (net.ipv4.ip_local_port_range, 32768-60999
# by default); the lab's are drawn from the same range, deterministically (see ports())
PORT_LOW, PORT_HIGH = 32768, 60999
MAX_EXT_DNS = 3          # moby resolver.go: maxExtDNS
EXT_IO_TIMEOUT = 4.0     # moby resolver.go: extIOTimeout = 4 * time.Second
MAX_CONCURRENT = 1024    # moby resolver.go: maxConcurrent forwarded queries, then REFUSED
SERVFAIL, REFUSED = 2, 5
OUTPUT_CHAIN, POSTROUTING_CHAIN = "DOCKER_OUTPUT", "DOCKER_POSTROUTING"  # resolver_unix.go
NFT_TABLE = "docker-dns"  # its nftables table (docker-v29.7.2 setupNftablesNAT)


def ports(key: str):
    """The (UDP, TCP) ports to try for node ``key``, best first: a deterministic stand-in for the
    kernel's random ephemeral ports Docker gets (``SetupFunc(0)``), drawn from the node's name
    (a container's node is named after the container) within 32768-60999, so that
    ``iptables -t nat -S`` and ``ss -lnu`` print the same every run. Taken ones are skipped."""
    digest = hashlib.sha256(key.encode()).digest()
    span = PORT_HIGH - PORT_LOW + 1
    udp = int.from_bytes(digest[:4], "big") % span
    tcp = int.from_bytes(digest[4:8], "big") % span
    for step in range(64):
        yield PORT_LOW + (udp + step) % span, PORT_LOW + (tcp + step) % span


def nat_rules(udp_port: int, tcp_port: int, *, chains: bool) -> str:
    """moby's setupIptablesNAT as one ``iptables-restore --noflush`` script, in its order:
    ``-N`` each chain and ``-I`` its jump (``chains``, when the jump is not there yet; else the
    chain lines flush them, as its ``-F``), then ``-I`` the four rules, each at the top."""
    a = ADDRESS
    lines = [f":{OUTPUT_CHAIN} - [0:0]", f":{POSTROUTING_CHAIN} - [0:0]"]
    if chains:
        lines += [f"-I OUTPUT -d {a} -j {OUTPUT_CHAIN}", f"-I POSTROUTING -d {a} -j {POSTROUTING_CHAIN}"]
    lines += [f"-I {OUTPUT_CHAIN} -d {a} -p udp --dport {PORT} -j DNAT --to-destination {a}:{udp_port}",
              f"-I {POSTROUTING_CHAIN} -s {a} -p udp --sport {udp_port} -j SNAT --to-source :{PORT}",
              f"-I {OUTPUT_CHAIN} -d {a} -p tcp --dport {PORT} -j DNAT --to-destination {a}:{tcp_port}",
              f"-I {POSTROUTING_CHAIN} -s {a} -p tcp --sport {tcp_port} -j SNAT --to-source :{PORT}"]
    return "*nat\n" + "".join(line + "\n" for line in lines) + "COMMIT\n"


def nft_rules(udp_port: int, tcp_port: int) -> str:
    """moby's setupNftablesNAT (docker-v29.7.2 daemon/libnetwork/resolver_unix.go) as one ``nft -f``
    script: the table made anew, its two base chains, each rule appended in its order."""
    a = ADDRESS
    return (f"table ip {NFT_TABLE}\ndelete table ip {NFT_TABLE}\n"
            f"table ip {NFT_TABLE} {{\n"
            f"  chain dns-dnat {{\n    type nat hook output priority -100; policy accept;\n"
            f"    ip daddr {a} udp dport {PORT} counter dnat to {a}:{udp_port}\n"
            f"    ip daddr {a} tcp dport {PORT} counter dnat to {a}:{tcp_port}\n  }}\n"
            f"  chain dns-snat {{\n    type nat hook postrouting priority 100; policy accept;\n"
            f"    ip saddr {a} udp sport {udp_port} counter snat to :{PORT}\n"
            f"    ip saddr {a} tcp sport {tcp_port} counter snat to :{PORT}\n  }}\n}}\n")


def unnat_rules() -> str:
    a = ADDRESS
    return ("*nat\n" f"-D OUTPUT -d {a}/32 -j {OUTPUT_CHAIN}\n" f"-D POSTROUTING -d {a}/32 -j {POSTROUTING_CHAIN}\n"
            f"-F {OUTPUT_CHAIN}\n-X {OUTPUT_CHAIN}\n-F {POSTROUTING_CHAIN}\n-X {POSTROUTING_CHAIN}\nCOMMIT\n")


def _tool(name: str) -> str:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") or name


def _run(argv: list[str], text: str | None = None) -> subprocess.CompletedProcess:
    """A command in the namespace this thread is in (a child is born in its parent thread's)."""
    return subprocess.run([_tool(argv[0]), *argv[1:]], input=text, capture_output=True, text=True,
                          timeout=30, stdin=None if text is not None else subprocess.DEVNULL)


def ext_servers(etc: str | None) -> list[str]:
    """The external servers Docker recorded in the container's resolv.conf
    (``# ExtServers: [198.51.100.1 ...]``, resolvconf's TransformForIntNS); none without it.
    A ``host(IP)`` entry (Docker 29 marks so every server read from the host's file) is one
    dockerd dials from its own namespace; the lab asks it from the container's like the others
    (the host's MASQUERADE gives the query the host's address all the same)."""
    if not etc:
        return []
    try:
        with open(os.path.join(etc, "resolv.conf")) as f:
            text = f.read()
    except OSError:
        return []
    for line in text.splitlines():
        if line.startswith("# ExtServers:"):
            inside = line.partition("[")[2].partition("]")[0]
            return [s[5:-1] if s.startswith("host(") else s for s in inside.split()][:MAX_EXT_DNS]
    return []


# --- the resolver process ----------------------------------------------------------
class Container:
    """One container's DNS server: its two sockets, its namespace, its table, its TCP clients."""

    def __init__(self, key: str, udp: socket.socket, tcp: socket.socket, nsfd: int, etc: str | None,
                 nftables: bool = False) -> None:
        self.key, self.udp, self.tcp, self.nsfd, self.etc = key, udp, tcp, nsfd, etc
        self.nftables = nftables   # its rules are the docker-dns table (else DOCKER_OUTPUT/POSTROUTING)
        self.table = Table()
        self.conns: set = set()


class Conn:
    """One TCP client: queries come in 2-byte-length frames, answers go out the same way."""

    def __init__(self, sock: socket.socket, container: Container) -> None:
        self.sock, self.container = sock, container
        self.inbox = bytearray()
        self.outbox = bytearray()


def exchange(nsfd: int, servers: list[str], query: bytes, proto: str) -> bytes | None:
    """forwardExtDNS, in a thread of its own that enters the container's namespace (closing
    ``nsfd``): each server in turn until one answers other than SERVFAIL or REFUSED."""
    try:
        sc.setns(nsfd, sc.CLONE_NEWNET)  # this thread only
    except OSError:
        return None
    finally:
        os.close(nsfd)
    for server in servers[:MAX_EXT_DNS]:
        reply = _ask(server, query, proto)
        if reply is None or len(reply) < 4 or reply[:2] != query[:2]:
            continue  # no answer, or not to this query (miekg/dns: ErrId)
        if reply[3] & 0x0F in (SERVFAIL, REFUSED):
            continue
        return reply
    return None


def _ask(server: str, query: bytes, proto: str) -> bytes | None:
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    try:
        if proto == "udp":
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.settimeout(EXT_IO_TIMEOUT)
                s.connect((server, PORT))
                s.send(query)
                return s.recv(65535)
        with socket.create_connection((server, PORT), timeout=EXT_IO_TIMEOUT) as s:
            s.sendall(struct.pack("!H", len(query)) + query)
            data = b""
            deadline = time.monotonic() + EXT_IO_TIMEOUT
            while len(data) < 2 or len(data) < 2 + struct.unpack_from("!H", data)[0]:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(65537)
                if not chunk:
                    return None
                data += chunk
            return data[2:2 + struct.unpack_from("!H", data)[0]]
    except OSError:
        return None


class Resolver:
    def __init__(self) -> None:
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.selector = selectors.DefaultSelector()
        self.containers: dict[str, Container] = {}
        self.done: queue.Queue = queue.Queue()   # forwarded queries answered (or not) by their threads
        self.wake_r, self.wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.selector.register(self.wake_r, selectors.EVENT_READ, ("wake", None))
        self.in_flight = 0

    # --- requests ------------------------------------------------------------
    def attach(self, key: str, netns: str, etc: str | None = None, nftables: bool = False) -> None:
        if key in self.containers:
            raise ValueError(f"{key!r} is attached already")
        fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
        made: list[socket.socket] = []
        try:
            sc.setns(fd, sc.CLONE_NEWNET)  # sockets belong to the namespace they are made in
            try:
                udp, tcp = self._bind(key, made)
                (self._nft if nftables else self._nat)(udp.getsockname()[1], tcp.getsockname()[1])
            finally:
                sc.setns(self.home, sc.CLONE_NEWNET)
        except BaseException:
            for s in made:
                s.close()
            os.close(fd)
            raise
        container = self.containers[key] = Container(key, udp, tcp, fd, etc, nftables)
        for s, role in ((udp, "udp"), (tcp, "listen")):
            s.setblocking(False)
            self.selector.register(s, selectors.EVENT_READ, (role, container))

    @staticmethod
    def _bind(key: str, made: list) -> tuple[socket.socket, socket.socket]:
        """SetupFunc(0): a UDP and a TCP socket on 127.0.0.11 (at the lab's ports, see ports())."""
        error = None
        for udp_port, tcp_port in ports(key):
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            made += [udp, tcp]
            try:
                udp.bind((ADDRESS, udp_port))
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                tcp.bind((ADDRESS, tcp_port))
                tcp.listen(16)
                return udp, tcp
            except OSError as exc:
                if exc.errno != 98:  # EADDRINUSE: the next pair; else (lo down ...) say so
                    raise
                error = exc
                udp.close()
                tcp.close()
        raise error

    @staticmethod
    def _nat(udp_port: int, tcp_port: int) -> None:
        """setupIptablesNAT in the namespace this thread is in: the chains made and jumped to
        unless the jump is there (a resolver started again), else flushed; then the rules."""
        saved = _run(["iptables-save", "-t", "nat"])
        if saved.returncode != 0:
            raise OSError(f"iptables-save: {saved.stderr.strip()}")
        present = f"-A OUTPUT -d {ADDRESS}/32 -j {OUTPUT_CHAIN}" in saved.stdout
        done = _run(["iptables-restore", "--noflush"], nat_rules(udp_port, tcp_port, chains=not present))
        if done.returncode != 0:
            raise OSError(f"setting up DNAT/SNAT rules failed: {done.stderr.strip()}")

    @staticmethod
    def _nft(udp_port: int, tcp_port: int) -> None:
        """setupNftablesNAT in the namespace this thread is in (the table replaced if there)."""
        done = _run(["nft", "-f", "-"], nft_rules(udp_port, tcp_port))
        if done.returncode != 0:
            raise OSError(f"setting up the docker-dns table failed: {done.stderr.strip()}")

    def records(self, key: str, names: dict) -> None:
        self._get(key).table = Table.of(names)

    def detach(self, key: str, rules: bool = True) -> None:
        """Close every socket of the container: an open one would keep its namespace alive;
        (``rules``) delete its DNAT/SNAT rules."""
        container = self._get(key)
        for conn in list(container.conns):
            self._close(conn)
        for s in (container.udp, container.tcp):
            self.selector.unregister(s)
            s.close()
        del self.containers[key]
        try:
            if rules:
                sc.setns(container.nsfd, sc.CLONE_NEWNET)
                try:
                    if container.nftables:
                        _run(["nft", "delete", "table", "ip", NFT_TABLE])
                    else:
                        _run(["iptables-restore", "--noflush"], unnat_rules())  # gone already: no matter
                finally:
                    sc.setns(self.home, sc.CLONE_NEWNET)
        finally:
            os.close(container.nsfd)

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
        if data is FORWARD:
            return self._forward(container, packet, "udp", peer)
        self._send_udp(container, data, peer)

    @staticmethod
    def _send_udp(container: Container, data: bytes | None, peer) -> None:
        if data is not None:
            try:
                container.udp.sendto(data, peer)
            except OSError:
                pass

    def _forward(self, container: Container, packet: bytes, proto: str, client) -> None:
        """Hand the query to a thread that asks the external servers from the container's
        namespace; its answer comes back through ``self.done`` (see on_wake)."""
        if self.in_flight >= MAX_CONCURRENT:
            return self._reply(container, proto, client, failure(packet, REFUSED))
        servers = ext_servers(container.etc)
        if not servers:  # nothing to ask: moby answers SERVFAIL at once
            return self._reply(container, proto, client, failure(packet, SERVFAIL))
        self.in_flight += 1
        nsfd = os.dup(container.nsfd)

        def work() -> None:
            try:
                reply = exchange(nsfd, servers, packet, proto)
            except BaseException:
                reply = None
            self.done.put((container, proto, client, packet, reply))
            try:
                os.write(self.wake_w, b"!")
            except OSError:
                pass

        threading.Thread(target=work, name="lab-dns-forward", daemon=True).start()

    def on_wake(self) -> None:
        try:
            while os.read(self.wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                container, proto, client, packet, reply = self.done.get_nowait()
            except queue.Empty:
                return
            self.in_flight -= 1
            if self.containers.get(container.key) is not container:
                continue  # detached meanwhile: its sockets are closed
            self._reply(container, proto, client, reply if reply is not None else failure(packet, SERVFAIL))

    def _reply(self, container: Container, proto: str, client, data: bytes | None) -> None:
        if proto == "udp":
            return self._send_udp(container, data, client)
        conn = client
        if data is None or conn not in container.conns:
            return
        conn.outbox += struct.pack("!H", len(data)) + data
        self.on_conn(conn, 0)

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
                if reply is FORWARD:
                    self._forward(conn.container, packet, "tcp", conn)
                elif reply is not None:
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
                elif role == "wake":
                    self.on_wake()
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


if __name__ == "__main__":
    sys.exit(main())
