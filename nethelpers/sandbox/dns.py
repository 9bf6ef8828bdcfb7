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

The sandbox drives it through :class:`.dnsservice.DNSService`; the answers are made by
:mod:`.dnsanswers`.
"""

from __future__ import annotations

import json
import os
import selectors
import socket
import struct
import sys

from . import syscalls as sc
from .dnsanswers import TCP_LIMIT, UDP_LIMIT, Table, answer

ADDRESS, PORT = "127.0.0.11", 53
MAX_PENDING = 1 << 20  # bytes of answers a TCP client has not read yet before it is dropped


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


if __name__ == "__main__":
    sys.exit(main())
