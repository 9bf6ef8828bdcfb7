"""The cluster store of pre-1.12 overlays: the built-in etcd subset and real etcd, run in a lab node.

Every test talks to the store from another node, with the client the overlay agent uses
(nethelpers.docker.kv), over a real veth; the same tests run against real etcd when it is
installed, and one test checks that both answer the same JSON to the same requests.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import textwrap
import time
from dataclasses import dataclass

import pytest

from nethelpers import Lab
from nethelpers.docker.kv import KVError, start_store
from nethelpers.errors import MissingFeature

HAVE_ETCD = shutil.which("etcd") is not None
needs_etcd = pytest.mark.skipif(not HAVE_ETCD, reason="etcd is not installed (apt-get install etcd-server)")
BACKENDS = ["built-in", pytest.param("etcd", marks=needs_etcd)]


@dataclass
class Store:
    client: object   # the node the client runs in
    url: str
    kind: str
    process: object

    def run(self, code: str, timeout: float = 10):
        """Run CODE in the client node with ``kv = KVClient(url)``; returns its ``result`` (JSON)."""
        script = (f"import json, time\nfrom nethelpers.docker.kv import KVClient, KVError\n"
                  f"kv = KVClient({self.url!r})\n{textwrap.dedent(code)}\nprint(json.dumps(result))")
        out = self.client.run([sys.executable, "-c", script], timeout=timeout, check=True)
        return json.loads(out.stdout)


def make_lab(lab, names: list[str]):
    """A client node and store nodes on one link: client 10.0.0.2, stores 10.0.0.1, .3, ..."""
    client = lab.add_node("client", kind="client")
    client.add_bridge("br0", address="10.0.0.2/24")
    addresses = []
    for i, name in enumerate(names):
        node = lab.add_node(name, kind="server")
        lab.add_veth(f"client:{name}", f"{name}:eth0", master="br0")
        address = f"10.0.0.{1 if i == 0 else i + 2}"
        node.add_address("eth0", f"{address}/24")
        addresses.append(address)
    return client, addresses


@pytest.fixture(scope="module", params=BACKENDS)
def store(request):
    with Lab() as lab:
        client, (address,) = make_lab(lab, ["kv"])
        process, url, kind = start_store(lab, "kv", address, kind=request.param)
        yield Store(client, url, kind, process)


def test_started_quietly(store):
    assert store.url == "http://10.0.0.1:2379"
    assert store.process.running
    # nothing that changes from run to run reaches a notebook that prints the process's output
    expected = "" if store.kind == "etcd" else "kvstore: listening on http://10.0.0.1:2379\n"
    assert store.process.output == expected


def test_set_get_list_delete(store):
    result = store.run("""
        first = kv.put("basic/a", "one")
        second = kv.put("basic/b", "two", ttl=60)
        result = dict(first=first, second=second, index=kv.index, get=kv.get("basic/a"),
                      list=kv.list("basic"), delete=kv.delete("basic/a"), gone=kv.get("basic/a"),
                      again=kv.delete("basic/a"), after=kv.list("basic"), none=kv.list("nothing/here"))
    """)
    first, second = result["first"], result["second"]
    assert first["action"] == "set" and "prevNode" not in first
    assert first["node"] == {"key": "/basic/a", "value": "one", "modifiedIndex": first["node"]["createdIndex"],
                             "createdIndex": first["node"]["createdIndex"]}
    assert second["node"]["modifiedIndex"] == first["node"]["modifiedIndex"] + 1 == result["index"]
    assert second["node"]["ttl"] == 60 and second["node"]["expiration"].endswith("Z")
    assert result["get"]["value"] == "one"
    assert result["list"] == {"/basic/a": "one", "/basic/b": "two"}
    delete = result["delete"]
    assert delete["action"] == "delete" and delete["prevNode"]["value"] == "one"
    assert set(delete["node"]) == {"key", "modifiedIndex", "createdIndex"}
    assert result["gone"] is None and result["again"] is None
    assert result["after"] == {"/basic/b": "two"} and result["none"] == {}


def test_set_replaces_and_update_keeps(store):
    result = store.run("""
        a = kv.put("replace/k", "1")
        b = kv.put("replace/k", "2")
        c = kv.put("replace/k", "3", prev_exist=True)
        try:
            kv.put("replace/missing", "x", prev_exist=True)
        except KVError as e:
            error = [e.code, str(e)]
        result = dict(a=a, b=b, c=c, error=error)
    """)
    a, b, c = result["a"]["node"], result["b"], result["c"]
    assert b["action"] == "set" and b["prevNode"] == a
    assert b["node"]["createdIndex"] == b["node"]["modifiedIndex"] == a["modifiedIndex"] + 1
    assert c["action"] == "update" and c["node"]["createdIndex"] == b["node"]["createdIndex"]
    assert result["error"][0] == 100 and "Key not found" in result["error"][1]


def test_directories(store):
    result = store.run("""
        for key in ("dirs/x/2", "dirs/x/1", "dirs/y"):
            kv.put(key, key[-1])
        flat, tree = kv.get("dirs"), kv.get("dirs", recursive=True)
        errors = []
        for options in ({}, {"dir": "true"}):
            status, answer = kv.request("DELETE", "dirs/x", options)
            errors.append([status, answer])
        try:
            kv.put("dirs/x", "a value on a directory")
        except KVError as e:
            errors.append(e.code)
        result = dict(flat=flat, tree=tree, errors=errors, delete=kv.delete("dirs", recursive=True),
                      after=kv.get("dirs"))
    """)
    flat, tree = result["flat"], result["tree"]
    assert flat["key"] == "/dirs" and flat["dir"] is True
    x = {"key": "/dirs/x", "dir": True, "modifiedIndex": flat["createdIndex"], "createdIndex": flat["createdIndex"]}
    assert [n["key"] for n in flat["nodes"]] == ["/dirs/x", "/dirs/y"]
    assert flat["nodes"][0] == x  # a directory listed without its contents
    assert [n["key"] for n in tree["nodes"][0]["nodes"]] == ["/dirs/x/1", "/dirs/x/2"]  # sorted
    assert [n["value"] for n in tree["nodes"][0]["nodes"]] == ["1", "2"]
    (status1, error1), (status2, error2), put_error = result["errors"]
    assert (status1, error1["errorCode"], error1["message"]) == (403, 102, "Not a file")
    assert (status2, error2["errorCode"], error2["message"]) == (403, 108, "Directory not empty")
    assert put_error == 102
    delete = result["delete"]
    assert delete["node"]["dir"] is True and delete["prevNode"]["key"] == "/dirs"
    assert result["after"] is None


def test_missing_key_error_shape(store):
    result = store.run("""
        kv.put("present/k", "v")
        result = [kv.request("GET", "absent/deeper/key"), kv.request("GET", "present/nope"),
                  kv.request("GET", "present/k/below"), kv.index]
        try:
            kv.delete("present/k/below")
        except KVError as e:
            result.append(str(e))
    """)
    (status, answer), (status2, answer2), (status3, answer3), index, message = result
    assert status == 404
    assert answer == {"errorCode": 100, "message": "Key not found", "cause": "/absent", "index": index}
    assert status2 == 404 and answer2["cause"] == "/present/nope"
    assert status3 == 400 and answer3["errorCode"] == 104 and answer3["cause"] == "/present/k"
    assert message == (f"DELETE {store.url}/v2/keys/present/k/below: Not a directory "
                       f"(/present/k, etcd errorCode 104)")


def test_prev_exist_false_creates_once(store):
    result = store.run("""
        created = kv.put("create/k", "first", prev_exist=False)
        status, answer = kv.request("PUT", "create/k", form={"value": "second", "prevExist": "false"})
        result = [created, status, answer, kv.get("create/k")["value"]]
    """)
    created, status, answer, value = result
    assert created["action"] == "create" and "prevNode" not in created
    assert status == 412
    assert answer == {"errorCode": 105, "message": "Key already exists", "cause": "/create/k",
                      "index": answer["index"]}
    assert answer["index"] >= created["node"]["modifiedIndex"]
    assert value == "first"


def test_ttl_expiry_seen_by_watch(store):
    result = store.run("""
        put = kv.put("expiring/host1", "198.51.100.10:2376", ttl=1)
        result = [put, kv.watch("expiring", put["node"]["modifiedIndex"] + 1, timeout=4),
                  kv.get("expiring/host1"), kv.get("expiring")]
    """)
    put, event, gone, directory = result
    assert event is not None, "the key did not expire within 4 s"
    assert event["action"] == "expire"
    assert event["node"] == {"key": "/expiring/host1", "modifiedIndex": event["node"]["modifiedIndex"],
                             "createdIndex": put["node"]["createdIndex"]}
    prev = event["prevNode"]
    assert prev["value"] == "198.51.100.10:2376" and prev["expiration"] == put["node"]["expiration"]
    assert "ttl" not in prev  # its time is up
    assert gone is None and directory["dir"] is True and "nodes" not in directory  # the directory stays


def test_watch_returns_history(store):
    result = store.run("""
        a = kv.put("history/a", "1")
        b = kv.put("history/b", "2")
        kv.put("elsewhere", "3")
        ia = a["node"]["modifiedIndex"]
        result = [ia, kv.watch("history", ia, timeout=2), kv.watch("history", ia + 1, timeout=2),
                  kv.watch("history/a", ia, timeout=2, recursive=False)]
    """)
    ia, first, second, exact = result
    assert first["action"] == "set" and first["node"]["key"] == "/history/a" and first["node"]["modifiedIndex"] == ia
    assert second["node"]["key"] == "/history/b" and second["node"]["modifiedIndex"] == ia + 1
    assert exact == first


def test_watch_waits_for_a_change(store):
    result = store.run("""
        import threading
        start = kv.index + 1
        threading.Timer(0.3, lambda: KVClient(kv.url).put("later/k", "v")).start()
        t = time.monotonic()
        event = kv.watch("later", start, timeout=3)
        result = [event, time.monotonic() - t]
    """)
    event, waited = result
    assert event["action"] == "set" and event["node"]["key"] == "/later/k"
    assert waited > 0.2  # it waited for the change (a watch that gave up at its timeout returns None)


def test_watch_timeout(store):
    result = store.run("""
        t = time.monotonic()
        result = [kv.watch("quiet", kv.index + 1, timeout=0.5), time.monotonic() - t, kv.get("quiet")]
    """)
    event, waited, quiet = result
    assert event is None and quiet is None
    assert 0.4 < waited < 10  # it waited its 0.5 s, and then returned (a generous bound: it must not hang)


def test_unreachable_store_names_url_and_cause(store):
    result = store.run("""
        try:
            KVClient("http://10.0.0.1:2399").get("k")
        except KVError as e:
            result = str(e)
    """)
    assert result.startswith("the key-value store at http://10.0.0.1:2399 did not answer GET /v2/keys/k")
    assert "refused" in result


def test_forcing_etcd_without_it_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH with no etcd on it
    with pytest.raises(MissingFeature, match="sudo apt-get install etcd-server"):
        start_store(None, "kv", "10.0.0.1", kind="etcd")
    with pytest.raises(KVError, match="kind 'consul'"):
        start_store(None, "kv", "10.0.0.1", kind="consul")


@pytest.mark.parametrize("kind", BACKENDS)
def test_a_store_that_cannot_start_is_reported_at_once(lab, kind):
    lab.add_node("kv")
    start = time.monotonic()
    with pytest.raises(KVError, match=f"(?is){kind} in node 'kv' for http://10.9.9.9:2379 exited: .*"
                                      "cannot assign requested address") as error:
        start_store(lab, "kv", "10.9.9.9", kind=kind)  # an address the node does not have
    if kind == "built-in":
        assert str(error.value).endswith("exited: kvstore: cannot listen on 10.9.9.9:2379: "
                                         "Cannot assign requested address")
    assert time.monotonic() - start < 12  # seen exiting, not waited for until start_store's 15 s timeout


REQUESTS = """\
GET /v2/keys/
PUT /v2/keys/docker/nodes/198.51.100.10:2376 value=198.51.100.10:2376&ttl=60
PUT /v2/keys/docker/nodes/198.51.100.10:2376 value=198.51.100.10:2376
PUT /v2/keys/docker/network/v1.0/endpoint/n1/e1 value={"name":"c1","locator":"198.51.100.10"}&prevExist=false
PUT /v2/keys/docker/network/v1.0/endpoint/n1/e1 value=x&prevExist=false
PUT /v2/keys/docker/network/v1.0/endpoint/n1/e1 value=y&prevExist=true
PUT /v2/keys/docker/network/v1.0/endpoint/n1/e2 value=z&prevExist=true
GET /v2/keys/docker?sorted=true
GET /v2/keys/docker?recursive=true&sorted=true
GET /v2/keys/?sorted=true
GET /v2/keys/docker/nodes/198.51.100.10:2376
GET /v2/keys/missing/key
GET /v2/keys/docker/nodes/198.51.100.10:2376/below
PUT /v2/keys/docker value=v
PUT /v2/keys/ value=v
GET /v2/keys/docker?wait=true&recursive=true&waitIndex=1
GET /v2/keys/docker/nodes?wait=true&recursive=true&waitIndex=5
PUT /v2/keys/ttl/k value=1&ttl=1
PUT /v2/keys/ttl/bad value=1&ttl=soon
GET /v2/keys/ttl/k
GET /v2/keys/ttl?wait=true&recursive=true&waitIndex=9
GET /v2/keys/ttl?recursive=true
GET /v2/keys/docker?wait=true&waitIndex=x
GET /v2/keys/docker?recursive=maybe
DELETE /v2/keys/docker/nodes/198.51.100.10:2376
DELETE /v2/keys/docker/nodes/198.51.100.10:2376
DELETE /v2/keys/docker/network
DELETE /v2/keys/ttl?dir=true
DELETE /v2/keys/docker/network?dir=true
DELETE /v2/keys/docker?recursive=true
PUT /v2/keys/escape value=a+b%26c%3C%3E%C3%A9
GET /v2/keys/?recursive=true&sorted=true
GET /v2/keys/?wait=true&recursive=true&waitIndex=4
"""

EXCHANGE = """
import http.client, sys
for line in sys.argv[2].splitlines():
    method, path, *body = line.split(" ", 2)
    connection = http.client.HTTPConnection(sys.argv[1], 2379, timeout=4)
    connection.request(method, path, body[0] if body else None,
                       {"Content-Type": "application/x-www-form-urlencoded"} if body else {})
    response = connection.getresponse()
    print(line, "->", response.status, response.headers["X-Etcd-Index"], response.headers["Content-Type"],
          repr(response.read()))
"""


@needs_etcd
def test_built_in_answers_as_etcd_does():
    with Lab() as lab:
        client, (etcd_ip, builtin_ip) = make_lab(lab, ["etcd", "builtin"])
        start_store(lab, "etcd", etcd_ip, kind="etcd")
        start_store(lab, "builtin", builtin_ip, kind="built-in")
        runs = {ip: client.start([sys.executable, "-c", EXCHANGE, ip, REQUESTS]) for ip in (etcd_ip, builtin_ip)}
        answers = {ip: re.sub(r'"expiration":"[0-9T:.-]+Z"', '"expiration":"<time>"', run.wait(4)).splitlines()
                   for ip, run in runs.items()}
    assert len(answers[etcd_ip]) == len(REQUESTS.splitlines())
    for etcd_line, builtin_line in zip(answers[etcd_ip], answers[builtin_ip]):
        assert builtin_line == etcd_line  # same status, X-Etcd-Index, Content-Type and JSON, byte for byte
