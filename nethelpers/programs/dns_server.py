"""The lab world's DNS server: what the LAN's router answers on 198.51.100.1:53, as a home
router's resolver would (the Docker hosts' /etc/resolv.conf names it; Docker's embedded DNS
forwards there the names it does not know, from the container's namespace).

    python -m nethelpers.programs.dns_server [--port 53] [NAME=ADDRESS ...]

It knows a few names (:data:`NAMES`: ``example.com`` and ``www.example.com`` are the lab's
``internet`` server, 203.0.113.10, whose web server tells each client the address it saw) and
answers NXDOMAIN for every other one: it asks no one else, so no query ever leaves the lab.
UDP and TCP, recursion available, not authoritative, TTL 300. Prints ``serving`` when ready
and one line per query (``198.51.100.10 example.com A NOERROR``).
"""

from __future__ import annotations

import argparse
import selectors
import signal
import socket
import struct
import sys

NAMES = {"example.com": ["203.0.113.10"], "www.example.com": ["203.0.113.10"]}
TTL = 300


def _log(packet: bytes, reply: bytes, peer) -> None:
    from dnslib import QTYPE, RCODE, DNSRecord
    try:
        q, r = DNSRecord.parse(packet).q, DNSRecord.parse(reply)
        print(f"{peer[0]} {str(q.qname).rstrip('.')} {QTYPE.get(q.qtype)} {RCODE.get(r.header.rcode)}", flush=True)
    except Exception:
        pass


def serve(port: int, names: dict) -> None:
    from nethelpers.sandbox.dnsanswers import UDP_LIMIT, Table, answer

    table = Table.of(names)

    def reply_to(packet: bytes, limit: int, udp: bool) -> bytes | None:
        return answer(packet, table, limit, udp=udp, unknown="nxdomain", ttl=TTL)

    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", port))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", port))
    tcp.listen(16)
    selector = selectors.DefaultSelector()
    selector.register(udp, selectors.EVENT_READ, "udp")
    selector.register(tcp, selectors.EVENT_READ, "listen")
    print("serving", flush=True)
    while True:
        for key, _ in selector.select():
            if key.data == "udp":
                try:
                    packet, peer = udp.recvfrom(65535)
                except OSError:
                    continue
                data = reply_to(packet, UDP_LIMIT, True)
                if data is not None:
                    _log(packet, data, peer)
                    try:
                        udp.sendto(data, peer)
                    except OSError:
                        pass
            elif key.data == "listen":
                try:
                    conn, peer = tcp.accept()
                except OSError:
                    continue
                _one_tcp(conn, peer, reply_to)


def _one_tcp(conn: socket.socket, peer, reply_to) -> None:
    """One TCP client, its queries answered in turn (a short timeout: a silent one cannot hold it)."""
    from nethelpers.sandbox.dnsanswers import TCP_LIMIT
    conn.settimeout(2)
    data = b""
    try:
        with conn:
            while True:
                while len(data) < 2 or len(data) < 2 + struct.unpack_from("!H", data)[0]:
                    chunk = conn.recv(65537)
                    if not chunk:
                        return
                    data += chunk
                size = struct.unpack_from("!H", data)[0]
                packet, data = data[2:2 + size], data[2 + size:]
                reply = reply_to(packet, TCP_LIMIT, False)
                if reply is None:
                    return
                _log(packet, reply, peer)
                conn.sendall(struct.pack("!H", len(reply)) + reply)
    except OSError:
        return


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dns_server")
    parser.add_argument("--port", type=int, default=53)
    parser.add_argument("names", nargs="*", metavar="NAME=ADDRESS")
    args = parser.parse_args(argv)
    names = {k: list(v) for k, v in NAMES.items()}
    for item in args.names:
        name, _, address = item.partition("=")
        names.setdefault(name, []).append(address)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve(args.port, names)
    return 0


if __name__ == "__main__":
    sys.exit(main())
