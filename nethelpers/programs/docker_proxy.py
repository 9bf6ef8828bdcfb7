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
back to that client; an entry idle for 90 s is forgotten. SCTP (``-proto sctp``,
kernels with SCTP only) is relayed as TCP is, over one-to-one SCTP sockets: the
bytes of each association go through, but not the stream numbers and payload
protocol IDs that Docker's proxy keeps (``NewSCTPSndRcvInfoWrappedConn`` in moby's
``cmd/docker-proxy/sctp_proxy_linux.go``). Everything runs in
one thread around a ``selectors`` loop with non-blocking sockets.

After binding, it prints one line, ``docker-proxy: listening on tcp
0.0.0.0:8080 -> 172.17.0.2:80``; if the port cannot be bound it prints
``docker-proxy: Bind for 0.0.0.0:8080 failed: port is already allocated``
(or the system's error) and exits with status 1. SIGTERM ends it cleanly.

The relaying is in ``docker_proxy_tcp`` and ``docker_proxy_udp``, the loop that drives them in
``docker_proxy_loop`` (:class:`Proxy`), the address helpers in ``docker_proxy_addresses``; this
module is the command line.
"""

from __future__ import annotations

import argparse
import errno
import ipaddress
import signal
import sys

import setproctitle

from .docker_proxy_addresses import endpoint
from .docker_proxy_loop import Proxy


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
    parser.add_argument("-proto", "--proto", default="tcp", choices=("tcp", "udp", "sctp"),
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
        print(f"docker-proxy: Bind for {endpoint(args.host_ip, args.host_port)} failed: {reason}",
              file=sys.stderr, flush=True)
        signal.set_wakeup_fd(-1)
        proxy.close()
        return 1
    print(f"docker-proxy: listening on {args.proto} {endpoint(args.host_ip, proxy.host_port)} -> "
          f"{endpoint(args.container_ip, args.container_port)}", flush=True)
    try:
        proxy.run()
    finally:
        signal.set_wakeup_fd(-1)
        proxy.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
