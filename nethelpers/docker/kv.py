"""The cluster store of Docker 1.9–1.11, from the client side: etcd's v2 keys API over HTTP.

``KVClient`` talks to real etcd (3.4 with ``--enable-v2``) or to the built-in
:mod:`nethelpers.programs.kvstore` alike; it runs where the daemons run (in a lab
node), since the store's address is an address inside the lab::

    kv = KVClient("http://198.51.100.30:2379")
    kv.put("docker/nodes/198.51.100.10:2376", "198.51.100.10:2376", ttl=60)
    kv.list("docker/nodes")            # {'/docker/nodes/198.51.100.10:2376': '198.51.100.10:2376'}
    kv.watch("docker/nodes", kv.index + 1, timeout=5)   # the next change, or None

``start_store`` starts one in a lab node: real etcd when this machine has it,
the built-in otherwise.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import sys
import time
from urllib.parse import quote, urlencode, urlsplit

from ..errors import LabError, MissingFeature
from .errors import DockerError

KINDS = ("etcd", "built-in")


class KVError(LabError):
    """The store refused a request (``code``: etcd's errorCode) or could not be reached (code None)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class KVClient:
    """A client of the etcd v2 keys API at ``url`` (e.g. "http://198.51.100.30:2379").

    ``index`` is the store's index (``X-Etcd-Index``) in the last answer.
    """

    def __init__(self, url: str, *, timeout: float = 5) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise KVError(f"{url!r} is not a store address like 'http://198.51.100.30:2379'")
        self.url, self.timeout = url.rstrip("/"), timeout
        self._address = (parts.hostname, parts.port or 2379)
        self.index = 0

    def request(self, method: str, key: str, query: dict | None = None, form: dict | None = None,
                watch: float | None = None) -> tuple[int, dict]:
        """One HTTP exchange as is: (status, etcd's JSON answer), errors included.

            kv.request("GET", "docker/nodes", {"recursive": "true"})
            kv.request("PUT", "k", form={"value": "v", "prevExist": "false"})

        ``watch``: a timeout in seconds for a long poll, which then raises TimeoutError.
        """
        path = "/v2/keys/" + quote(key.strip("/"), safe="/:@") + ("?" + urlencode(query) if query else "")
        body = urlencode(form) if form else None
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if form else {}
        connection = http.client.HTTPConnection(*self._address, timeout=watch or self.timeout)
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            self.index = int(response.headers.get("X-Etcd-Index") or self.index)
            data = response.read()
        except TimeoutError:
            if watch:
                raise
            raise KVError(f"the key-value store at {self.url} did not answer {method} {path} "
                          f"within {self.timeout} s") from None
        except (OSError, http.client.HTTPException) as error:
            raise KVError(f"the key-value store at {self.url} did not answer {method} {path}: "
                          f"{getattr(error, 'strerror', None) or error or type(error).__name__}") from None
        finally:
            connection.close()
        try:
            answer = json.loads(data)
        except ValueError:
            raise KVError(f"{method} {self.url}{path}: HTTP {response.status}, not an etcd answer: "
                          f"{data[:200].decode(errors='replace')!r}") from None
        return response.status, answer

    def _check(self, method: str, key: str, status: int, answer: dict) -> dict:
        if "errorCode" in answer:
            raise KVError(f"{method} {self.url}/v2/keys/{key.strip('/')}: {answer['message']} "
                          f"({answer['cause']}, etcd errorCode {answer['errorCode']})", answer["errorCode"])
        return answer

    def put(self, key: str, value: str, ttl: int | None = None, *, prev_exist: bool | None = None) -> dict:
        """Set ``key`` to ``value`` (for ``ttl`` seconds); returns etcd's answer ({"action": "set", ...}).

        ``prev_exist=False`` only creates (KVError code 105 if the key exists),
        ``prev_exist=True`` only updates (code 100 if it does not).
        """
        form = {"value": value}
        if ttl is not None:
            form["ttl"] = int(ttl)
        if prev_exist is not None:
            form["prevExist"] = "true" if prev_exist else "false"
        return self._check("PUT", key, *self.request("PUT", key, form=form))

    def get(self, key: str, recursive: bool = False) -> dict | None:
        """The node at ``key`` (a key: its "value"; a directory: "dir" and "nodes", sorted by key),
        or None if there is none."""
        status, answer = self.request("GET", key, {"recursive": "true", "sorted": "true"} if recursive
                                       else {"sorted": "true"})
        if answer.get("errorCode") == 100:
            return None
        return self._check("GET", key, status, answer)["node"]

    def delete(self, key: str, recursive: bool = False) -> dict | None:
        """Delete ``key`` (a whole directory with ``recursive=True``); etcd's answer, or None if
        there was nothing to delete."""
        status, answer = self.request("DELETE", key, {"recursive": "true"} if recursive else None)
        if answer.get("errorCode") == 100:
            return None
        return self._check("DELETE", key, status, answer)

    def list(self, prefix: str) -> dict[str, str]:
        """Every key under ``prefix`` (at any depth) with its value, sorted; {} if there is none."""
        found: dict[str, str] = {}
        todo = [self.get(prefix, recursive=True) or {}]
        while todo:
            node = todo.pop(0)
            if "value" in node:
                found[node["key"]] = node["value"]
            todo.extend(node.get("nodes", []))
        return dict(sorted(found.items()))

    def watch(self, prefix: str, index: int | None = None, timeout: float = 10, *,
              recursive: bool = True) -> dict | None:
        """The first change under ``prefix`` numbered ``index`` or later (from history if it
        already happened), e.g. {"action": "expire", "node": {...}, "prevNode": {...}};
        None when nothing happened within ``timeout`` seconds.

        To follow a tree: start at ``kv.index + 1`` after a :meth:`list`, then at the
        event's ``node["modifiedIndex"] + 1``. Real etcd keeps the last 1000 events: an
        older ``index`` gives KVError code 401 (then list again).
        """
        query = {"wait": "true", "recursive": "true" if recursive else "false"}
        if index is not None:
            query["waitIndex"] = int(index)
        try:
            return self._check("GET", prefix, *self.request("GET", prefix, query, watch=timeout))
        except TimeoutError:
            return None

    def wait_ready(self, timeout: float = 10) -> None:
        """Wait until the store answers (etcd: until its /version shows the cluster ready for writes)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                connection = http.client.HTTPConnection(*self._address, timeout=1)
                connection.request("GET", "/version")  # the built-in answers 404, which will do
                if b"not_decided" not in connection.getresponse().read():
                    return
            except (OSError, http.client.HTTPException):
                pass
            finally:
                connection.close()
            if time.monotonic() > deadline:
                raise KVError(f"the key-value store at {self.url} did not answer within {timeout} s")
            time.sleep(0.05)

    def __repr__(self) -> str:
        return f"<KVClient {self.url}>"


def start_store(lab, node_name: str, ip: str, port: int = 2379, *, kind: str | None = None,
                timeout: float = 15):
    """Start a key-value store in node ``node_name``, serving on ``http://IP:PORT``.

    Args:
        kind: "etcd" (real etcd, which must be installed), "built-in"
            (:mod:`nethelpers.programs.kvstore`) or None: etcd if installed, else built-in.

    Returns:
        (process, url, kind): the BackgroundProcess, "http://IP:PORT", and the kind started.

    Raises:
        MissingFeature: ``kind="etcd"`` on a machine without etcd (the message gives the fix).
        KVError: the store exited, or did not answer within ``timeout`` seconds.
    """
    etcd = shutil.which("etcd")
    if kind not in (None, *KINDS):
        raise KVError(f"kind {kind!r} is not one of None, {', '.join(map(repr, KINDS))}")
    kind = kind or ("etcd" if etcd else "built-in")
    if kind == "etcd" and not etcd:
        raise MissingFeature("etcd is not installed on this machine; install it with "
                             "'sudo apt-get install etcd-server', or use kind='built-in'")
    node, url = lab.node(node_name), f"http://{ip}:{port}"
    if kind == "etcd":
        data_dir = f"/run/nethelpers/etcd-{node_name}"  # in the sandbox's own tmpfs: gone with the lab
        node.run(["rm", "-rf", data_dir], check=True)
        local = f"http://127.0.0.1:{port}"
        command = [etcd, "--name", node_name, "--data-dir", data_dir, "--enable-v2=true",
                   "--logger=zap", "--log-level=error",
                   "--listen-client-urls", url if ip == "127.0.0.1" else f"{url},{local}",
                   "--advertise-client-urls", url,
                   "--listen-peer-urls", "http://127.0.0.1:2380",
                   "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
                   "--initial-cluster", f"{node_name}=http://127.0.0.1:2380"]
    else:
        command = [sys.executable, "-m", "nethelpers.programs.kvstore", "--listen", f"{ip}:{port}"]
    process = node.start(command)
    probe = [sys.executable, "-c", f"from nethelpers.docker.kv import KVClient; KVClient({url!r}).wait_ready(1)"]
    deadline = time.monotonic() + timeout
    while not node.run(probe, timeout=10).ok:  # asked from inside the node, where the address is
        if not process.running or time.monotonic() > deadline:
            why = "exited" if not process.running else f"did not answer within {timeout} s"
            output = process.stop().strip()
            raise KVError(f"{kind} in node {node_name!r} for {url} {why}: {output[-500:] or '(no output)'}")
    return process, url, kind


STORE_NODE, STORE_IP = "kv", "198.51.100.30"


def start_cluster_store(lab, kind: str | None = None) -> str:
    """The Docker 1.9-1.11 way: a key-value store on the LAN (node ``kv``, 198.51.100.30:2379) —
    real etcd when this machine has it (``etcd-server``), else the lab's built-in one speaking
    the same etcd v2 API. Returns the value for ``docker_host(..., cluster_store=...)``."""
    from .. import world
    from . import engine_of

    if STORE_NODE not in {n.name for n in lab.nodes()}:
        world.add_host(lab, STORE_NODE, address=STORE_IP, kind="server")
        _, _, engine_of(lab).store_kind = start_store(lab, STORE_NODE, STORE_IP, kind=kind)
    return f"etcd://{STORE_IP}:2379"


def check_cluster_store(lab, url: str) -> None:
    """Refuse a ``--cluster-store`` the lab cannot use, before anything is made: the wrong form,
    or no store listening there."""
    match = re.fullmatch(r"(\w+)://(\d+\.\d+\.\d+\.\d+):(\d+)", url or "")
    if match is None or match.group(1) != "etcd":
        raise DockerError(f"cluster_store={url!r}: the lab's Docker 1.11 hosts take etcd://IP:PORT (the lab's stores "
                          f"speak etcd's v2 API; Consul and ZooKeeper are not built), e.g. the value "
                          f"nethelpers.docker.start_cluster_store(lab) returns")
    ip, port = match.group(2), match.group(3)
    owner = next((name for name, snap in lab.snapshot().items()
                  if any(a["address"].split("/")[0] == ip for a in snap["addresses"])), None)
    # who listens there, asked of the owner's sockets (a probe over the LAN would leave ARP traces)
    listening = owner is not None and lab.node(owner).run(["ss", "-Hltn", f"sport = :{port}"]).stdout.strip()
    if not listening:
        raise DockerError(f"dockerd --cluster-store={url}: no store answers at {ip}:{port}; "
                          f"start one first: store = nethelpers.docker.start_cluster_store(lab)")
