"""docker-proxy's TCP side: each client's connection relayed to its own connection to the container.

Bytes are copied both ways until both sides have closed, half-closes included: when one side
finishes sending, the sending direction of the other connection is shut down, so that
``shutdown(SHUT_WR)`` works end to end. Reading pauses while ``BUFFER_LIMIT`` bytes wait.
"""

from __future__ import annotations

import errno
import os
import selectors
import socket
import time
from typing import TYPE_CHECKING

from .docker_proxy_addresses import family_of, sockaddr

if TYPE_CHECKING:
    from .docker_proxy_loop import Proxy

CONNECT_TIMEOUT = 30.0      # seconds to wait for the container to accept a TCP connection
BUFFER_LIMIT = 256 * 1024   # bytes buffered in one direction before reading pauses
CHUNK = 64 * 1024


class _Side:
    """One socket of a TCP session; ``pending`` holds bytes still to be written into it."""

    def __init__(self, proxy: Proxy, sock: socket.socket) -> None:
        self.proxy = proxy
        self.sock = sock
        self.peer: _Side | None = None
        self.pending = bytearray()
        self.eof = False        # we read the end of its stream
        self.shut = False       # we shut down its sending direction (SHUT_WR)
        self.mask = 0           # events it is registered for (0: not registered)
        self.session: TcpSession | None = None

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


class TcpSession:
    """A client connection and the proxy's own connection to the container."""

    def __init__(self, proxy: Proxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = _Side(proxy, client)
        upstream = socket.socket(family_of(proxy.container_ip), socket.SOCK_STREAM, proxy.ip_proto)
        upstream.setblocking(False)
        self.upstream = _Side(proxy, upstream)
        for side in (self.client, self.upstream):
            side.session = self
        self.client.peer, self.upstream.peer = self.upstream, self.client
        self.connecting = True
        self.deadline = time.monotonic() + CONNECT_TIMEOUT
        self.closed = False
        proxy.sessions.add(self)
        err = upstream.connect_ex(sockaddr(proxy.container_ip, proxy.container_port))
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            self.fail(err)
            return
        self.upstream.watch(selectors.EVENT_WRITE)  # writable = connected (or failed)

    def fail(self, err: int) -> None:
        self.proxy.cannot_forward(os.strerror(err) if err else "timed out")
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


class TcpListener:
    """The listening socket: each accepted client starts a :class:`TcpSession`."""

    def __init__(self, proxy: Proxy, sock: socket.socket) -> None:
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
                TcpSession(self.proxy, client)
            except OSError as error:  # no socket left for the upstream side
                self.proxy.cannot_forward(error)
                client.close()
