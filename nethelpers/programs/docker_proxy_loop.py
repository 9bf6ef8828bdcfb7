"""docker-proxy's :class:`Proxy`: the listening socket and the one-thread ``selectors`` loop
that drives the TCP sessions and UDP entries, until a signal stops it."""

from __future__ import annotations

import selectors
import socket
import sys
import time

from .docker_proxy_addresses import endpoint, family_of, sockaddr
from .docker_proxy_tcp import TcpListener, TcpSession
from .docker_proxy_udp import UDP_IDLE_TIMEOUT, UdpEntry, UdpListener


class Proxy:
    """One published port: its listening socket, and the sessions and entries relayed from it."""

    def __init__(self, proto: str, host_ip: str, host_port: int, container_ip: str,
                 container_port: int) -> None:
        self.proto, self.host_ip, self.host_port = proto, host_ip, host_port
        self.container_ip, self.container_port = container_ip, container_port
        self.selector = selectors.DefaultSelector()
        self.sessions: set[TcpSession] = set()
        self.udp_entries: dict[tuple, UdpEntry] = {}
        self.listener: socket.socket | None = None
        self.stopping = False
        # a signal wakes the loop through this pair (signal.set_wakeup_fd), so that the
        # handler only sets a flag and the loop ends between two events, never inside one
        self._wakeup_r, self._wakeup_w = socket.socketpair()
        for sock in (self._wakeup_r, self._wakeup_w):
            sock.setblocking(False)
        self.selector.register(self._wakeup_r, selectors.EVENT_READ, self)

    @property
    def ip_proto(self) -> int:
        """The socket's protocol: SCTP (one-to-one, stream sockets: relayed as TCP is) or the default."""
        return getattr(socket, "IPPROTO_SCTP", 132) if self.proto == "sctp" else 0

    def handle(self, mask: int) -> None:
        """The wake-up socket is readable: a signal came (its handler set ``stopping``)."""
        try:
            while self._wakeup_r.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    @property
    def wakeup_fd(self) -> int:
        """The descriptor to give ``signal.set_wakeup_fd`` so that a signal wakes the loop."""
        return self._wakeup_w.fileno()

    def stop(self, signum=None, frame=None) -> None:
        """Signal handler: leave the loop."""
        self.stopping = True

    @staticmethod
    def log(message: str) -> None:
        print(f"docker-proxy: {message}", file=sys.stderr, flush=True)

    def cannot_forward(self, reason: object) -> None:
        """Log that a client's traffic cannot reach the container, and why."""
        self.log(f"can't forward traffic to backend {self.proto}/"
                 f"{endpoint(self.container_ip, self.container_port)}: {reason}")

    def bind(self) -> None:
        """Open the listening socket (raises OSError as bind does)."""
        family = family_of(self.host_ip)
        kind = socket.SOCK_DGRAM if self.proto == "udp" else socket.SOCK_STREAM
        sock = socket.socket(family, kind, self.ip_proto)  # OSError EPROTONOSUPPORT: no SCTP in the kernel
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if self.proto == "tcp":
                # as every TCP server: restart at once despite TIME_WAIT connections
                # (not for UDP, where it would let two sockets share the port)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr(self.host_ip, self.host_port))
            if kind == socket.SOCK_STREAM:
                sock.listen(socket.SOMAXCONN)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.host_port = sock.getsockname()[1]  # the real one if 0 was asked
        self.listener = sock
        handler = UdpListener(self, sock) if self.proto == "udp" else TcpListener(self, sock)
        self.selector.register(sock, selectors.EVENT_READ, handler)

    def run(self) -> None:
        """Relay until :meth:`stop` is called (by SIGTERM or SIGINT, see ``docker_proxy.main``)."""
        while not self.stopping:
            for key, mask in self.selector.select(self._timeout()):
                if self.stopping:
                    break
                key.data.handle(mask)
            self._expire()

    def _timeout(self) -> float | None:
        deadlines = [s.deadline for s in self.sessions if s.connecting]
        deadlines += [e.last + UDP_IDLE_TIMEOUT for e in self.udp_entries.values()]
        if not deadlines:
            return None
        return max(0.0, min(deadlines) - time.monotonic()) + 0.01

    def _expire(self) -> None:
        now = time.monotonic()
        for session in [s for s in self.sessions if s.connecting and s.deadline <= now]:
            session.fail(0)
        for client, entry in list(self.udp_entries.items()):
            if entry.last + UDP_IDLE_TIMEOUT <= now:
                entry.close()
                del self.udp_entries[client]

    def close(self) -> None:
        for session in list(self.sessions):
            session.close()
        for entry in self.udp_entries.values():
            entry.close()
        self.udp_entries.clear()
        if self.listener is not None:
            self.selector.unregister(self.listener)
            self.listener.close()
            self.listener = None
        self.selector.close()
        self._wakeup_r.close()
        self._wakeup_w.close()
