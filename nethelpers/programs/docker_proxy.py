"""docker-proxy, the lab's userland proxy: one published port, relayed to a container.

When you publish a port (``docker run -p 8080:80 nginx``) Docker's main tool is
NAT: a DNAT rule in the ``nat`` table's ``PREROUTING`` chain (the ``DOCKER``
chain) rewrites packets that *arrive* at the host for port 8080 so that they go
to the container's address, port 80. Some traffic never passes through
PREROUTING, though:

* traffic from the host itself, e.g. ``curl http://127.0.0.1:8080/`` on the
  Docker host: locally generated packets go through ``OUTPUT``, not
  PREROUTING, and packets to 127.0.0.1 would anyway be dropped if NAT sent
  them out of ``lo`` towards another address;
* traffic that otherwise bypasses the DNAT rule (a container reaching the
  host's published port through its bridge with hairpinning off, a kernel
  without the rule, ...).

For that traffic Docker also starts one ``docker-proxy`` process per
published port (per protocol and host address). It is an ordinary program:
it listens on the host address and port like any server, and for every
client it opens its own connection to the container and copies bytes both
ways. The container therefore sees the *proxy's* address as the client, not
the real one. This module is that program, with the same single-dash flags::

    python -m nethelpers.programs.docker_proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 \\
        -container-ip 172.17.0.2 -container-port 80

With ``dockerd --userland-proxy=false`` Docker starts no proxy; instead it
adds hairpin NAT: a DNAT rule in ``OUTPUT`` as well (for local traffic),
``net.ipv4.conf.<bridge>.route_localnet=1`` so that 127.0.0.1 may be routed
out of the bridge, and a MASQUERADE rule so that replies come back through
the host.

TCP is relayed both ways until both sides have closed, half-closes included
(when one side finishes sending, the proxy shuts down the sending direction of
the other connection, so ``shutdown(SHUT_WR)`` works end to end). UDP keeps
one upstream socket per client address and sends the container's replies
back to that client; an entry idle for 90 s is forgotten. Everything runs in
one thread around a ``selectors`` loop with non-blocking sockets.

After binding, it prints one line, ``docker-proxy: listening on tcp
0.0.0.0:8080 -> 172.17.0.2:80``; if the port cannot be bound it prints
``docker-proxy: Bind for 0.0.0.0:8080 failed: port is already allocated``
(or the system's error) and exits with status 1. SIGTERM ends it cleanly.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import selectors
import signal
import socket
import sys
import time

import setproctitle

UDP_IDLE_TIMEOUT = 90.0     # seconds an idle UDP client entry is kept (as Docker's proxy)
CONNECT_TIMEOUT = 30.0      # seconds to wait for the container to accept a TCP connection
BUFFER_LIMIT = 256 * 1024   # bytes buffered in one direction before reading pauses
CHUNK = 64 * 1024
UDP_BUFFER = 65535


def _family(ip: str) -> int:
    return socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET


def _endpoint(ip: str, port: int) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _sockaddr(ip: str, port: int) -> tuple:
    return (ip, port, 0, 0) if ":" in ip else (ip, port)


# --- TCP ----------------------------------------------------------------------------
class _Side:
    """One socket of a TCP session; ``pending`` holds bytes still to be written into it."""

    def __init__(self, proxy: "Proxy", sock: socket.socket) -> None:
        self.proxy = proxy
        self.sock = sock
        self.peer: _Side | None = None
        self.pending = bytearray()
        self.eof = False        # we read the end of its stream
        self.shut = False       # we shut down its sending direction (SHUT_WR)
        self.mask = 0           # events it is registered for (0: not registered)
        self.session: _TcpSession | None = None

    def watch(self, mask: int) -> None:
        sel = self.proxy.selector
        if mask == self.mask:
            return
        if self.mask == 0:
            sel.register(self.sock, mask, self)
        elif mask == 0:
            sel.unregister(self.sock)
        else:
            sel.modify(self.sock, mask, self)
        self.mask = mask

    def handle(self, mask: int) -> None:
        self.session.handle(self, mask)


class _TcpSession:
    """A client connection and the proxy's own connection to the container."""

    def __init__(self, proxy: "Proxy", client: socket.socket) -> None:
        self.proxy = proxy
        self.client = _Side(proxy, client)
        upstream = socket.socket(_family(proxy.container_ip), socket.SOCK_STREAM)
        upstream.setblocking(False)
        self.upstream = _Side(proxy, upstream)
        for side in (self.client, self.upstream):
            side.session = self
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.connecting = True
        self.deadline = time.monotonic() + CONNECT_TIMEOUT
        self.closed = False
        proxy.sessions.add(self)
        err = upstream.connect_ex(_sockaddr(proxy.container_ip, proxy.container_port))
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self.fail(err)
            return
        self.upstream.watch(selectors.EVENT_WRITE)  # writable = connected (or failed)

    def fail(self, err: int) -> None:
        self.proxy.log(f"can't forward traffic to backend tcp/"
                       f"{_endpoint(self.proxy.container_ip, self.proxy.container_port)}: "
                       f"{os.strerror(err) if err else 'timed out'}")
        self.close()

    def handle(self, side: _Side, mask: int) -> None:
        if self.closed:
            return
        if self.connecting:
            err = side.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if err:
                self.fail(err)
                return
            self.connecting = False
            self.update()
            return
        try:
            if mask & selectors.EVENT_READ:
                self.read(side)
            if mask & selectors.EVENT_WRITE:
                self.write(side)
        except OSError:  # reset by one side, broken pipe...: end the whole session
            self.close()
            return
        self.update()

    def read(self, side: _Side) -> None:
        peer = side.peer
        while len(peer.pending) < BUFFER_LIMIT:
            try:
                data = side.sock.recv(CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            if not data:
                side.eof = True
                return
            peer.pending += data
            self.write(peer)

    def write(self, side: _Side) -> None:
        while side.pending:
            try:
                sent = side.sock.send(side.pending)
            except (BlockingIOError, InterruptedError):
                return
            del side.pending[:sent]

    def update(self) -> None:
        """Half-close what is finished, close when both directions are, and re-arm events."""
        if self.closed:
            return
        for side in (self.client, self.upstream):
            peer = side.peer
            if side.eof and not peer.pending and not peer.shut:
                try:
                    peer.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                peer.shut = True
        if self.client.shut and self.upstream.shut:
            self.close()
            return
        for side in (self.client, self.upstream):
            mask = 0
            if not side.eof and len(side.peer.pending) < BUFFER_LIMIT:
                mask |= selectors.EVENT_READ
            if side.pending:
                mask |= selectors.EVENT_WRITE
            side.watch(mask)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for side in (self.client, self.upstream):
            side.watch(0)
            side.sock.close()
        self.proxy.sessions.discard(self)


class _TcpListener:
    def __init__(self, proxy: "Proxy", sock: socket.socket) -> None:
        self.proxy, self.sock = proxy, sock

    def handle(self, mask: int) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. ECONNABORTED, EMFILE: try again on the next event
                return
            client.setblocking(False)
            try:
                _TcpSession(self.proxy, client)
            except OSError as error:  # no socket left for the upstream side
                self.proxy.log(f"can't forward traffic to backend tcp/"
                               f"{_endpoint(self.proxy.container_ip, self.proxy.container_port)}: {error}")
                client.close()


# --- UDP ----------------------------------------------------------------------------
class _UdpEntry:
    """One client address and the upstream socket that speaks to the container for it."""

    def __init__(self, proxy: "Proxy", client: tuple) -> None:
        self.proxy, self.client = proxy, client
        self.sock = socket.socket(_family(proxy.container_ip), socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            self.sock.connect(_sockaddr(proxy.container_ip, proxy.container_port))
        except OSError:
            self.sock.close()
            raise
        self.last = time.monotonic()
        proxy.selector.register(self.sock, selectors.EVENT_READ, self)

    def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        try:
            self.sock.send(data)
        except OSError:  # a full buffer, or an earlier ICMP "port unreachable": UDP drops it
            pass

    def handle(self, mask: int) -> None:
        for _ in range(64):  # bounded, so that one busy client cannot starve the others
            try:
                data = self.sock.recv(UDP_BUFFER)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ECONNREFUSED: nothing listens in the container (yet); keep the entry
                continue
            self.last = time.monotonic()
            try:
                self.proxy.listener.sendto(data, self.client)
            except OSError:
                pass

    def close(self) -> None:
        self.proxy.selector.unregister(self.sock)
        self.sock.close()


class _UdpListener:
    def __init__(self, proxy: "Proxy", sock: socket.socket) -> None:
        self.proxy, self.sock = proxy, sock

    def handle(self, mask: int) -> None:
        entries = self.proxy.udp_entries
        for _ in range(64):
            try:
                data, client = self.sock.recvfrom(UDP_BUFFER)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                continue
            entry = entries.get(client)
            if entry is None:
                try:
                    entry = entries[client] = _UdpEntry(self.proxy, client)
                except OSError as error:
                    self.proxy.log(f"can't forward traffic to backend udp/"
                                   f"{_endpoint(self.proxy.container_ip, self.proxy.container_port)}: "
                                   f"{error}")
                    continue
            entry.send(data)


# --- the proxy ----------------------------------------------------------------------
class Proxy:
    def __init__(self, proto: str, host_ip: str, host_port: int, container_ip: str,
                 container_port: int) -> None:
        self.proto, self.host_ip, self.host_port = proto, host_ip, host_port
        self.container_ip, self.container_port = container_ip, container_port
        self.selector = selectors.DefaultSelector()
        self.sessions: set[_TcpSession] = set()
        self.udp_entries: dict[tuple, _UdpEntry] = {}
        self.listener: socket.socket | None = None
        self.stopping = False
        # a signal wakes the loop through this pair (signal.set_wakeup_fd), so that the
        # handler only sets a flag and the loop ends between two events, never inside one
        self._wakeup_r, self._wakeup_w = socket.socketpair()
        for sock in (self._wakeup_r, self._wakeup_w):
            sock.setblocking(False)
        self.selector.register(self._wakeup_r, selectors.EVENT_READ, self)

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

    def bind(self) -> None:
        """Open the listening socket (raises OSError as bind does)."""
        family = _family(self.host_ip)
        kind = socket.SOCK_STREAM if self.proto == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(family, kind)
        try:
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            if self.proto == "tcp":
                # as every TCP server: restart at once despite TIME_WAIT connections
                # (not for UDP, where it would let two sockets share the port)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(_sockaddr(self.host_ip, self.host_port))
            if self.proto == "tcp":
                sock.listen(socket.SOMAXCONN)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        self.host_port = sock.getsockname()[1]  # the real one if 0 was asked
        self.listener = sock
        handler = _TcpListener(self, sock) if self.proto == "tcp" else _UdpListener(self, sock)
        self.selector.register(sock, selectors.EVENT_READ, handler)

    def run(self) -> None:
        """Relay until :meth:`stop` is called (by SIGTERM or SIGINT, see :func:`main`)."""
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


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range 0-65535")
    return port


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid IP address {text!r}") from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="docker-proxy", allow_abbrev=False,
        description="Relay one published port of the host to a container (Docker's userland proxy).")
    parser.add_argument("-proto", "--proto", default="tcp", choices=("tcp", "udp"),
                        help="protocol to proxy (default tcp)")
    parser.add_argument("-host-ip", "--host-ip", type=_ip, default="0.0.0.0",
                        help="address to listen on (default 0.0.0.0)")
    parser.add_argument("-host-port", "--host-port", type=_port, required=True,
                        help="port to listen on")
    parser.add_argument("-container-ip", "--container-ip", type=_ip, required=True,
                        help="the container's address")
    parser.add_argument("-container-port", "--container-port", type=_port, required=True,
                        help="the container's port")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # `ps` shows what it would show for moby's docker-proxy, not "python -m ..."
    setproctitle.setproctitle(f"docker-proxy -proto {args.proto} -host-ip {args.host_ip} "
                              f"-host-port {args.host_port} -container-ip {args.container_ip} "
                              f"-container-port {args.container_port}")
    proxy = Proxy(args.proto, args.host_ip, args.host_port, args.container_ip, args.container_port)
    # from now on SIGTERM (docker stop, BackgroundProcess.stop) or Ctrl-C ends the loop cleanly
    signal.set_wakeup_fd(proxy.wakeup_fd, warn_on_full_buffer=False)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, proxy.stop)
    try:
        proxy.bind()
    except OSError as error:
        reason = "port is already allocated" if error.errno == errno.EADDRINUSE else \
            (error.strerror or str(error))
        print(f"docker-proxy: Bind for {_endpoint(args.host_ip, args.host_port)} failed: {reason}",
              file=sys.stderr, flush=True)
        signal.set_wakeup_fd(-1)
        proxy.close()
        return 1
    print(f"docker-proxy: listening on {args.proto} {_endpoint(args.host_ip, proxy.host_port)} -> "
          f"{_endpoint(args.container_ip, args.container_port)}", flush=True)
    try:
        proxy.run()
    finally:
        signal.set_wakeup_fd(-1)
        proxy.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
