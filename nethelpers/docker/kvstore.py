"""A tiny etcd: the subset of the etcd **v2 keys API** that Docker 1.9–1.11 used.

Before Swarm mode (Docker 1.12), every daemon of an overlay network was started
with ``--cluster-store=etcd://HOST:2379`` and kept its network state there:
each host wrote its own key under ``docker/nodes/`` with a time to live and
refreshed it, each endpoint was a key under ``docker/network/v1.0/endpoint/``,
and every daemon *watched* those directories to learn about the others. This
module is that store when the machine has no real ``etcd``::

    python -m nethelpers.docker.kvstore --listen 198.51.100.30:2379

It prints ``kvstore: listening on http://198.51.100.30:2379`` when ready.
The HTTP API, answers and ``X-Etcd-Index`` header are etcd 3.4's (``--enable-v2``):

    PUT    /v2/keys/KEY   value=V [ttl=SECONDS] [prevExist=false|true]
    GET    /v2/keys/KEY   [?recursive=true]
    GET    /v2/keys/KEY?wait=true[&recursive=true][&waitIndex=N]   (long poll)
    DELETE /v2/keys/KEY   [?dir=true] [?recursive=true]

Every change gets the next *index* and is kept as an event (the last 1000), so
a watcher that asks for ``waitIndex=N`` gets the first change numbered N or
later, even one that happened before it asked. Directories are made by
writing a key under them. A key with a TTL disappears by itself: a sweep
every 100 ms removes it and records an ``expire`` event. Listings are sorted
by key (etcd sorts only when asked with ``sorted=true``).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import select
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from urllib.parse import parse_qs, urlsplit

HISTORY = 1000     # events kept for watchers, as etcd
SWEEP = 0.1        # seconds between two looks for expired keys
FIRST_INDEX = 3    # a fresh one-member etcd 3.4 has made 3 writes of its own: same numbers here

ERRORS = {  # errorCode: (HTTP status, message), from etcd's error.go
    100: (404, "Key not found"), 102: (403, "Not a file"), 104: (400, "Not a directory"),
    105: (412, "Key already exists"), 107: (400, "Root is read only"), 108: (403, "Directory not empty"),
    202: (400, "The given TTL in POST form is not a number"),
    203: (400, "The given index in POST form is not a number"), 209: (400, "Invalid field"),
    401: (400, "The event in requested index is outdated and cleared"),
}


class EtcdError(Exception):
    def __init__(self, code: int, cause: str, index: int = 0) -> None:
        super().__init__(cause)
        self.code, self.cause, self.index = code, cause, index


class Node:
    """A key (with a value) or a directory (with children)."""

    def __init__(self, key: str, index: int, value: str | None = None, expires: int | None = None):
        self.key, self.value, self.expires = key, value, expires  # expires: ns since the epoch
        self.created = self.modified = index
        self.children: dict[str, Node] | None = {} if value is None else None

    def view(self, depth: int = 0) -> dict:
        """The node as etcd shows it; depth 1 lists its children, 2 the whole tree."""
        out: dict = {} if self.key == "/" else {"key": self.key}
        if self.children is None:
            out["value"] = self.value
        else:
            out["dir"] = True
            if depth and self.children:
                out["nodes"] = [self.children[name].view(2 if depth == 2 else 0)
                                for name in sorted(self.children)]
        if self.expires is not None:
            seconds, nanos = divmod(self.expires, 10**9)
            out["expiration"] = (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
                                 + (f".{nanos:09d}".rstrip("0") if nanos else "") + "Z")
            ttl = math.ceil((self.expires - time.time_ns()) / 1e9)
            if ttl > 0:
                out["ttl"] = ttl
        if self.key != "/":
            out["modifiedIndex"], out["createdIndex"] = self.modified, self.created
        return out


def clean(key: str) -> str:
    return "/" + "/".join(part for part in key.split("/") if part)


class Store:
    def __init__(self) -> None:
        self.index = FIRST_INDEX
        self.root = Node("/", 0)
        self.events: collections.deque = collections.deque(maxlen=HISTORY)
        self.changed = threading.Condition()  # its lock guards everything

    def find(self, key: str) -> Node:
        """The node at KEY; EtcdError 100 (naming the first missing part) or 104."""
        node = self.root
        for name in key.split("/")[1:] if key != "/" else []:
            if node.children is None:
                raise EtcdError(104, node.key, self.index)
            if name not in node.children:
                raise EtcdError(100, clean(node.key + "/" + name), self.index)
            node = node.children[name]
        return node

    def record(self, action: str, node: dict, prev: dict | None) -> dict:
        event = {"action": action, "node": node}
        if prev is not None:
            event["prevNode"] = prev
        self.events.append(event)
        self.changed.notify_all()
        return event

    def get(self, key: str, recursive: bool) -> dict:
        return {"action": "get", "node": self.find(key).view(2 if recursive else 1)}

    def put(self, key: str, value: str, ttl: int | None, prev_exist: bool | None) -> dict:
        if key == "/":
            raise EtcdError(107, "/", self.index)
        try:
            old = self.find(key)
        except EtcdError as error:
            if error.code != 100 or prev_exist:
                raise
            old = None
        if old is not None and old.children is not None:
            raise EtcdError(102, key, self.index)
        if old is not None and prev_exist is False:
            raise EtcdError(105, key, self.index)
        index, parent = self.index + 1, self.root
        for name in key.split("/")[1:-1]:  # make the missing directories
            parent = parent.children.setdefault(name, Node(clean(parent.key + "/" + name), index))
        self.index = index
        node = Node(key, index, value, None if ttl is None else time.time_ns() + ttl * 10**9)
        if prev_exist:  # an update keeps the key's identity
            node.created = old.created
        parent.children[key.rsplit("/", 1)[1]] = node
        action = {True: "update", False: "create", None: "set"}[prev_exist]
        return self.record(action, node.view(), old.view() if old else None)

    def delete(self, key: str, dir: bool, recursive: bool, action: str = "delete") -> dict:
        if key == "/":
            raise EtcdError(107, "/", self.index)
        node = self.find(key)
        if node.children is not None and not recursive:
            if not dir:
                raise EtcdError(102, key, self.index)
            if node.children:
                raise EtcdError(108, key, self.index)
        parent_key, name = key.rsplit("/", 1)
        del self.find(parent_key or "/").children[name]
        self.index += 1
        after = {"key": key, "dir": True} if node.children is not None else {"key": key}
        after.update(modifiedIndex=self.index, createdIndex=node.created)
        return self.record(action, after, node.view())

    def expire(self) -> None:
        """Remove every key whose time is up (called every SWEEP seconds)."""
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
        """The first event numbered SINCE or later that concerns KEY (as etcd's EventHistory.scan)."""
        if len(self.events) == HISTORY and since < self.events[0]["node"]["modifiedIndex"]:
            first = self.events[0]["node"]["modifiedIndex"]
            raise EtcdError(401, f"the requested history has been cleared [{first}/{since}]", self.index)
        for event in self.events:
            node, prev = event["node"], event.get("prevNode") or {}
            if node["modifiedIndex"] < since:
                continue
            if (node["key"] == key or (recursive and node["key"].startswith(key.rstrip("/") + "/"))
                    or (event["action"] in ("delete", "expire") and prev.get("dir")
                        and key.startswith(prev["key"] + "/"))):  # its directory went
                return event
        return None


STORE = Store()


def flag(query: dict, name: str) -> bool | None:
    """A true/false parameter as Go's strconv.ParseBool reads it; None when absent."""
    text = query.get(name, [""])[0]
    if text in ("", None):
        return None
    for answer, words in ((True, "1 t T true TRUE True"), (False, "0 f F false FALSE False")):
        if text in words.split():
            return answer
    raise EtcdError(209, f'invalid value for "{name}"')


def number(query: dict, name: str, code: int) -> int | None:
    text = query.get(name, [""])[0]
    if not text:
        return None
    if not text.isdigit():
        raise EtcdError(code, f'invalid value for "{name}"')
    return int(text)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked answers for watches

    def send(self, status: int, body: dict | str, index: int | None = None) -> None:
        text = body if isinstance(body, str) else json_text(body)
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json" if isinstance(body, dict) else "text/plain")
        if index is not None:
            self.send_header("X-Etcd-Index", str(index))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def handle_keys(self, method: str) -> None:
        url = urlsplit(self.path)
        if url.path == "/version" and method == "GET":
            return self.send(200, {"etcdserver": "nethelpers-kvstore", "etcdcluster": "2"})
        if url.path != "/v2/keys" and not url.path.startswith("/v2/keys/"):
            return self.send(404, "404 page not found\n")
        key = clean(url.path[len("/v2/keys"):])
        query = parse_qs(url.query, keep_blank_values=True)
        if method == "PUT":
            length = int(self.headers.get("Content-Length") or 0)
            query.update(parse_qs(self.rfile.read(length).decode(), keep_blank_values=True))
        try:
            recursive = bool(flag(query, "recursive"))
            if method == "GET" and flag(query, "wait"):
                return self.watch(key, recursive, number(query, "waitIndex", 203))
            with STORE.changed:
                if method == "GET":
                    status, event = 200, STORE.get(key, recursive)
                elif method == "PUT":
                    event = STORE.put(key, query.get("value", [""])[0], number(query, "ttl", 202),
                                      flag(query, "prevExist"))
                    status = 201 if event["action"] == "create" or "prevNode" not in event else 200
                else:
                    status, event = 200, STORE.delete(key, bool(flag(query, "dir")), recursive)
                index = STORE.index
        except EtcdError as error:
            status, message = ERRORS[error.code]
            event = {"errorCode": error.code, "message": message, "cause": error.cause, "index": error.index}
            index = STORE.index
        self.send(status, event, index)

    def watch(self, key: str, recursive: bool, since: int | None) -> None:
        """Answer with the first matching event from SINCE on: at once from history, or when it happens."""
        with STORE.changed:
            since = STORE.index + 1 if since is None else since
            event, index = STORE.scan(key, recursive, since), STORE.index
        self.send_response(200)  # the headers go now, the event when it comes (as etcd does)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Etcd-Index", str(index))
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()
        with STORE.changed:
            while event is None:
                if self.client_left():
                    self.close_connection = True
                    return
                STORE.changed.wait(1.0)
                event = STORE.scan(key, recursive, since)
        data = json_text(event).encode()
        self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))

    def client_left(self) -> bool:
        """True when the watcher hung up (a client that timed out), so its thread can end."""
        if not select.select([self.connection], [], [], 0)[0]:
            return False
        try:
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def do_GET(self) -> None:
        self.handle_keys("GET")

    def do_PUT(self) -> None:
        self.handle_keys("PUT")

    def do_DELETE(self) -> None:
        self.handle_keys("DELETE")

    def log_message(self, format, *args) -> None:
        pass  # quiet: a notebook shows what the clients print, not a request log


def json_text(value: dict) -> str:
    """JSON as Go's encoder writes it: compact, <>& escaped, one line ending in a newline."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def server_bind(self) -> None:
        TCPServer.server_bind(self)  # no getfqdn(): a DNS query nobody answers in a lab node
        self.server_name, self.server_port = "kvstore", self.server_address[1]


def sweep() -> None:
    while True:
        time.sleep(SWEEP)
        with STORE.changed:
            STORE.expire()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kvstore", description="A tiny etcd (v2 keys API subset).")
    parser.add_argument("--listen", default="127.0.0.1:2379", help="IP:PORT to serve on (default 127.0.0.1:2379)")
    args = parser.parse_args(argv)
    host, _, port = args.listen.rpartition(":")
    try:
        server = Server((host, int(port)), Handler)
    except (OSError, ValueError) as error:
        print(f"kvstore: cannot listen on {args.listen}: {getattr(error, 'strerror', None) or error}",
              file=sys.stderr, flush=True)
        return 1
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    threading.Thread(target=sweep, daemon=True).start()
    print(f"kvstore: listening on http://{host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
