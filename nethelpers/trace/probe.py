"""One marked TCP connection attempt or UDP datagram, sent from inside a node by the tracer.

    python -m nethelpers.trace.probe tcp 172.17.0.2 80 --tos 0xb4 --sport 40001

Prints one word: ``connected``, ``refused``, ``timeout`` or ``unreachable`` (TCP), ``sent`` (UDP).
The TOS byte is the tracer's mark; NAT never changes it, so every namespace can recognise the packet.
"""

from __future__ import annotations

import argparse
import errno
import socket
import struct


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("protocol", choices=["tcp", "udp"])
    parser.add_argument("address")
    parser.add_argument("port", type=int)
    parser.add_argument("--tos", type=lambda text: int(text, 0), required=True)
    parser.add_argument("--sport", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1.0)
    args = parser.parse_args()
    kind = socket.SOCK_STREAM if args.protocol == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, args.tos)
        # close with a RST: no TIME_WAIT, so the next probe can use the same source port
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.settimeout(args.timeout)
        if args.sport:
            sock.bind(("0.0.0.0", args.sport))
        try:
            if args.protocol == "udp":
                sock.sendto(b"nethelpers trace\n", (args.address, args.port))
                print("sent")
                return
            sock.connect((args.address, args.port))
            print("connected")
        except socket.timeout:
            print("timeout")
        except ConnectionRefusedError:
            print("refused")
        except OSError as error:
            print("unreachable" if error.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH) else error.strerror)


if __name__ == "__main__":
    main()
