"""The lab's web server "image": what runs in nginx/httpd-style containers (and the
internet-like server of the lessons).

    python -m nethelpers.programs.web [--port 80] [--name NAME]

Every GET (any path) answers ``200`` with a two-line text body::

    hello from NAME
    you came from 172.17.0.1

The second line is the client address *as this server sees it*, and each
request also prints one access-log line, ``172.17.0.1 "GET / HTTP/1.1" 200``:
with NAT, a userland proxy or masquerading in between, that is not the
address of the machine that really sent the request, which is what the
lessons want to show. NAME defaults to the node's hostname (its own
``/etc/hostname`` when the lab gave it one).
"""

from __future__ import annotations

import argparse
import signal
import socket
import sys
from socketserver import TCPServer
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def default_name() -> str:
    """The hostname as the node sees it: its /etc/hostname (a container's own), else the kernel's."""
    try:
        with open("/etc/hostname") as f:
            name = f.readline().strip()
        if name:
            return name
    except OSError:
        pass
    return socket.gethostname()


class Handler(BaseHTTPRequestHandler):
    server_name_text = "web"  # replaced by the --name given (see main)
    timeout = 10              # an idle or slow client cannot hold a thread for ever

    def version_string(self) -> str:
        return "web"  # the Server: header, the same on every Python

    def _answer(self, body: bool) -> None:
        text = f"hello from {self.server_name_text}\nyou came from {self.client_address[0]}\n"
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def log_request(self, code="-", size="-") -> None:
        code = getattr(code, "value", code)  # an HTTPStatus prints as its number
        print(f'{self.client_address[0]} "{self.requestline}" {code}', flush=True)

    def log_error(self, format, *args) -> None:
        pass  # the request's own log line (with its status, e.g. 400) says enough

    def log_message(self, format, *args) -> None:
        print(f"{self.client_address[0]} {format % args}", flush=True)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stopping never waits for a client that keeps its connection open

    def server_bind(self) -> None:
        # HTTPServer.server_bind asks DNS for its own name (getfqdn): in a lab node that is a
        # query nobody answers, and a start that takes seconds. The name is not needed.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = "web", self.server_address[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="web", description="The lab's tiny web server.")
    parser.add_argument("--port", type=int, default=80, help="port to serve on (default 80)")
    parser.add_argument("--name", default=None, help="who says hello (default: the hostname)")
    parser.add_argument("--bind", default="0.0.0.0", help="address to listen on (default 0.0.0.0)")
    args = parser.parse_args(argv)

    handler = type("NamedHandler", (Handler,), {"server_name_text": args.name or default_name()})
    try:
        server = Server((args.bind, args.port), handler)
    except OSError as error:
        print(f"web: cannot serve on port {args.port}: {error.strerror or error}", file=sys.stderr, flush=True)
        return 1
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print(f"web: serving on port {args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
