"""docker-proxy's UDP side: one upstream socket per client address, the container's replies
sent back to that client; an entry idle for ``UDP_IDLE_TIMEOUT`` is forgotten (by the loop)."""

from __future__ import annotations

import selectors
import socket
import time
from typing import TYPE_CHECKING

from .docker_proxy_addresses import family_of, sockaddr

if TYPE_CHECKING:
    from .docker_proxy_loop import Proxy

UDP_IDLE_TIMEOUT = 90.0     # seconds an idle UDP client entry is kept (as Docker's proxy)
UDP_BUFFER = 65535


class UdpEntry:
    """One client address and the upstream socket that speaks to the container for it."""

    def __init__(self, proxy: Proxy, client: tuple) -> None:
        self.proxy, self.client = proxy, client
        self.sock = socket.socket(family_of(proxy.container_ip), socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        try:
            self.sock.connect(sockaddr(proxy.container_ip, proxy.container_port))
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


class UdpListener:
    """The listening socket: each datagram goes out through its client's :class:`UdpEntry`."""

    def __init__(self, proxy: Proxy, sock: socket.socket) -> None:
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
                    entry = entries[client] = UdpEntry(self.proxy, client)
                except OSError as error:
                    self.proxy.cannot_forward(error)
                    continue
            entry.send(data)
