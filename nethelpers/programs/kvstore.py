"""A tiny etcd: the part of the etcd **v2 keys API** that Docker 1.9–1.11 used.

Before Swarm mode, overlay networks kept their state in ``--cluster-store=etcd://HOST:2379``:
a key with a time to live per host under ``docker/nodes/``, a key per endpoint under
``docker/network/v1.0/endpoint/``, and every daemon *watched* them. This is that store::

    python -m nethelpers.programs.kvstore --listen 198.51.100.30:2379

    PUT    /v2/keys/KEY   value=V [ttl=SECONDS] [prevExist=false|true]
    GET    /v2/keys/KEY   [?recursive=true]
    GET    /v2/keys/KEY?wait=true[&recursive=true][&waitIndex=N]    (long poll)
    DELETE /v2/keys/KEY   [?dir=true | ?recursive=true]

The answers (JSON, ``X-Etcd-Index``) are etcd 3.4's. Every change gets the next
*index* and is kept: a watch from ``waitIndex=N`` gets the first change numbered
N or later, even one made before it asked. Writing a key makes its directories.
A key with a TTL goes by itself: a sweep every 100 ms deletes it as an ``expire``
event. Simpler than etcd: listings are always sorted (etcd sorts if asked with
``sorted=true``), and all events are kept (etcd keeps 1000, then answers error 401).
"""

from __future__ import annotations

import argparse
import json
import math
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler
from socketserver import ThreadingTCPServer
from urllib.parse import parse_qs, urlsplit

SWEEP = 0.1        # seconds between two looks for expired keys
FIRST_INDEX = 3    # a new one-member etcd 3.4 has made 3 writes of its own: so the numbers match
BOOLEANS = "1 t T true TRUE True 0 f F false FALSE False".split()  # Go's strconv.ParseBool

ERRORS = {  # errorCode: (HTTP status, message), as in etcd's error.go
    100: (404, "Key not found"), 102: (403, "Not a file"), 104: (400, "Not a directory"),
    105: (412, "Key already exists"), 107: (400, "Root is read only"), 108: (403, "Directory not empty"),
    202: (400, "The given TTL in POST form is not a number"),
    203: (400, "The given index in POST form is not a number"), 209: (400, "Invalid field"),
}


class EtcdError(Exception):
    """EtcdError(errorCode, cause): answered as etcd's error JSON."""


class Node:
    """A key (with a value) or a directory (with children)."""

    def __init__(self, key: str, index: int, value: str | None = None, expires: int | None = None):
        self.key, self.value, self.expires = key, value, expires  # expires: ns since the epoch
        self.created = self.modified = index
        self.children: dict[str, Node] | None = {} if value is None else None

    def view(self, depth: int = 0) -> dict:
        """The node as etcd shows it; depth 1 adds its children, 2 the whole tree below."""
        out: dict = {} if self.key == "/" else {"key": self.key}
        if self.children is None:
            out["value"] = self.value
        elif depth and self.children:
            out.update(dir=True, nodes=[self.children[name].view(2 if depth == 2 else 0)
                                        for name in sorted(self.children)])
        else:
            out["dir"] = True
        if self.expires is not None:
            seconds, nanos = divmod(self.expires, 10**9)  # Go's RFC 3339, nanoseconds, no trailing 0
            out["expiration"] = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
                                 + (f".{nanos:09d}".rstrip("0") if nanos else "") + "Z")
            ttl = math.ceil((self.expires - time.time_ns()) / 1e9)  # seconds left, rounded up
            out.update({"ttl": ttl} if ttl > 0 else {})
        if self.key != "/":
            out["modifiedIndex"], out["createdIndex"] = self.modified, self.created
        return out


def clean(key: str) -> str:
    return "/" + "/".join(part for part in key.split("/") if part)


class Store:
    def __init__(self) -> None:
        self.index = FIRST_INDEX
        self.root = Node("/", 0)
        self.events: list[dict] = []  # every change (etcd keeps the last 1000: see the docstring)
        self.changed = threading.Condition()  # its lock guards everything here

    def find(self, key: str, must_exist: bool = True) -> Node | None:
        """The node at KEY; if missing, None or EtcdError 100 naming the first missing part."""
        node = self.root
        for name in key.split("/")[1:] if key != "/" else []:
            if node.children is None:  # a key where KEY needs a directory
                raise EtcdError(104, node.key)
            if name not in node.children:
                if must_exist:
                    raise EtcdError(100, clean(node.key + "/" + name))
                return None
            node = node.children[name]
        return node

    def record(self, action: str, node: dict, prev: dict | None) -> dict:
        event = {"action": action, "node": node, **({"prevNode": prev} if prev else {})}
        self.events.append(event)
        self.changed.notify_all()
        return event

    def put(self, key: str, value: str, ttl: int | None, prev_exist: bool | None) -> dict:
        old = self.find(key, must_exist=bool(prev_exist))
        if old is not None and (old.children is not None or prev_exist is False):
            raise EtcdError(102 if old.children is not None else 105, key)  # "Not a file", "exists"
        self.index += 1
        parent = self.root
        for name in key.split("/")[1:-1]:  # make the missing directories
            parent = parent.children.setdefault(name, Node(clean(parent.key + "/" + name), self.index))
        node = Node(key, self.index, value, None if ttl is None else time.time_ns() + ttl * 10**9)
        if prev_exist:
            node.created = old.created  # an update keeps the key; a set replaces it
        parent.children[key.rsplit("/", 1)[1]] = node
        action = {True: "update", False: "create", None: "set"}[prev_exist]
        return self.record(action, node.view(), old.view() if old else None)

    def delete(self, key: str, dir: bool, recursive: bool, action: str = "delete") -> dict:
        node = self.find(key)
        if node.children is not None and not recursive and (node.children or not dir):
            raise EtcdError(108 if dir else 102, key)  # "Directory not empty", "Not a file"
        parent, name = key.rsplit("/", 1)
        del self.find(parent or "/").children[name]
        self.index += 1
        gone = {"key": key, **({"dir": True} if node.children is not None else {}),
                "modifiedIndex": self.index, "createdIndex": node.created}
        return self.record(action, gone, node.view())

    def expire(self) -> None:
        """Delete every key whose time is up, as an "expire" event."""
        now, todo, expired = time.time_ns(), [self.root], []
        while todo:
            node = todo.pop()
            if node.children is not None:
                todo.extend(node.children.values())
            elif node.expires is not None and node.expires <= now:
                expired.append(node.key)
        for key in sorted(expired):
            self.delete(key, False, False, action="expire")

    def scan(self, key: str, recursive: bool, since: int) -> dict | None:
        """The first event numbered SINCE or later about KEY (as etcd's EventHistory.scan)."""
        for event in self.events:
            node, prev = event["node"], event.get("prevNode", {})
            if node["modifiedIndex"] >= since and (
                    node["key"] == key or (recursive and node["key"].startswith(key.rstrip("/") + "/"))
                    or (prev.get("dir") and key.startswith(prev["key"] + "/"))):  # its directory went
                return event
        return None


STORE = Store()


def param(query: dict, name: str, code: int = 209):
    """A parameter, None if absent: true/false as Go reads them (else error 209), or a number (else CODE)."""
    text = query.get(name, [""])[0]
    if not text:
        return None
    if code == 209 and text in BOOLEANS:
        return BOOLEANS.index(text) < 6
    if code != 209 and text.isdigit():
        return int(text)
    raise EtcdError(code, f'invalid value for "{name}"')


def json_text(value: dict) -> bytes:
    """JSON as Go's encoder writes it: compact, <>& escaped, one line."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n").encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked answers for watches

    def answer(self, status: int, data: bytes, index: int | None = None, chunked: bool = False,
               kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if index is not None:
            self.send_header("X-Etcd-Index", str(index))
        self.send_header(*(("Transfer-Encoding", "chunked") if chunked else ("Content-Length", len(data))))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:  # and PUT, DELETE (see below)
        url = urlsplit(self.path)
        if url.path != "/v2/keys" and not url.path.startswith("/v2/keys/"):
            return self.answer(404, b"404 page not found\n", kind="text/plain; charset=utf-8")
        key, query = clean(url.path[len("/v2/keys"):]), parse_qs(url.query, keep_blank_values=True)
        if self.command == "PUT":
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            query.update(parse_qs(body, keep_blank_values=True))
        try:
            recursive = bool(param(query, "recursive"))
            if self.command == "GET" and param(query, "wait"):
                return self.watch(key, recursive, param(query, "waitIndex", 203))
            if key == "/" and self.command != "GET":
                raise EtcdError(107, "/")
            with STORE.changed:
                if self.command == "GET":
                    status, event = 200, {"action": "get", "node": STORE.find(key).view(2 if recursive else 1)}
                elif self.command == "PUT":
                    event = STORE.put(key, query.get("value", [""])[0], param(query, "ttl", 202),
                                      param(query, "prevExist"))
                    status = 201 if event["action"] == "create" or "prevNode" not in event else 200
                else:
                    status, event = 200, STORE.delete(key, bool(param(query, "dir")), recursive)
                index = STORE.index
        except EtcdError as error:  # errors 2xx are about the request itself, before the store: index 0
            (code, cause), (status, message) = error.args, ERRORS[error.args[0]]
            index = 0 if 200 <= code < 300 else STORE.index
            event = {"errorCode": code, "message": message, "cause": cause, "index": index}
        self.answer(status, json_text(event), index)

    do_PUT = do_DELETE = do_GET

    def watch(self, key: str, recursive: bool, since: int | None) -> None:
        """Answer with the first event from SINCE on: at once from history, or when it happens."""
        with STORE.changed:
            since = STORE.index + 1 if since is None else since
            event, index = STORE.scan(key, recursive, since), STORE.index
        self.answer(200, b"", index, chunked=True)  # headers now, the event when it comes (as etcd)
        self.wfile.flush()
        with STORE.changed:
            while event is None and not self.client_left():
                STORE.changed.wait(1.0)
                event = STORE.scan(key, recursive, since)
        if event is None:  # the watcher hung up: end unanswered
            self.close_connection = True
            return
        data = json_text(event)
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))

    def client_left(self) -> bool:
        """True when the watcher hung up (it timed out), so that this thread can end."""
        try:
            return bool(select.select([self.connection], [], [], 0)[0]) and not self.connection.recv(
                1, socket.MSG_PEEK)
        except OSError:
            return True

    def log_message(self, format, *args) -> None:
        pass  # quiet: the notebook shows what clients print, not a request log


class Server(ThreadingTCPServer):  # not http.server's: it asks DNS for its own name (slow in a lab)
    daemon_threads = allow_reuse_address = True


def sweep() -> None:
    while True:
        time.sleep(SWEEP)
        with STORE.changed:
            STORE.expire()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="kvstore", description="A tiny etcd (v2 keys API subset).")
    parser.add_argument("--listen", default="127.0.0.1:2379", help="IP:PORT to serve on")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    try:
        server = Server((host, int(port)), Handler)
    except OSError as error:  # the address is taken, or not one of this node's
        sys.exit(f"kvstore: cannot listen on {args.listen}: {error.strerror}")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    threading.Thread(target=sweep, daemon=True).start()
    print(f"kvstore: listening on http://{host}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
