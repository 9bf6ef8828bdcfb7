"""The lab core's public API for the rest of the package: the magics as an IPython extension,
a node's embedded DNS server, kernel modules, lab daemons and HTTP over their unix sockets,
and the lab's state object. Real labs; each test looks at what changed in them."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/ → the repo


# --- the magics: an IPython extension that Lab() loads ---------------------------------------
def test_lab_does_not_import_the_magics():
    """lab.py names the extension to IPython; it imports nothing from magics.py (no import circle)."""
    tree = ast.parse(open(os.path.join(REPO, "nethelpers", "lab.py")).read())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                 for alias in node.names}
    assert not {name for name in imported if name and "magics" in name}


EXTENSION_SCRIPT = textwrap.dedent("""
    import nethelpers.magics            # first, alone: it needs nothing else imported before it
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure
    from nethelpers import Lab

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nethelpers")   # by hand, as a learner may
    magic = shell.magics_manager.magics["line"]["lab"]
    png = shell.display_formatter.formatters["image/png"].lookup_by_type(Figure)
    with Lab(), Lab() as lab:        # two labs: the extension is loaded once, not registered again
        assert "nethelpers.magics" in shell.extension_manager.loaded, shell.extension_manager.loaded
        assert shell.magics_manager.magics["line"]["lab"] is magic
        assert shell.display_formatter.formatters["image/png"].lookup_by_type(Figure) is png
        lab.add_node("m")
        shell.run_line_magic("lab", "m echo from-the-node")  # %lab: the newest lab
    """)


def test_lab_loads_the_magics_once_through_the_extension_manager():
    pytest.importorskip("IPython")
    done = subprocess.run([sys.executable, "-c", EXTENSION_SCRIPT], cwd=REPO, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=REPO))
    assert done.returncode == 0, done.stderr
    assert "from-the-node" in done.stdout


def test_a_lab_without_ipython_loads_nothing():
    """Outside IPython (a script, a test) Lab() neither imports IPython's magics nor needs them."""
    script = ("import sys\nfrom nethelpers import Lab\nwith Lab() as lab:\n    lab.add_node('x')\n"
              "assert 'nethelpers.magics' not in sys.modules\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=120, env=dict(os.environ, PYTHONPATH=REPO))
    assert done.returncode == 0, done.stderr


# --- a node's embedded DNS server ---------------------------------------------------------------
def dig(node, args: str):
    """dig at the node's 127.0.0.11, patient enough for the VM backend's emulated CPU."""
    return node.run(f"dig +time={max(1, round(node.lab.patience))} +tries=3 @127.0.0.11 {args}", timeout=None)


def test_resolver_answers_the_records_given(lab):
    c1 = lab.add_node("c1", kind="container")
    assert "connection refused" in dig(c1, "+short web").stdout  # no server yet
    c1.start_resolver()
    # a server, no names yet: forwarded, and with no ExtServers in its resolv.conf moby's
    # serveDNS answers SERVFAIL (resolver.go, v27.5.1 and docker-v29.7.2)
    assert "status: SERVFAIL" in dig(c1, "+noall +comments web").stdout
    c1.set_resolver_records({"web": ["172.18.0.3"], "Db": ("172.18.0.4", "fd00::4")})
    assert dig(c1, "+short web").stdout.split() == ["172.18.0.3"]
    assert dig(c1, "+short db").stdout.split() == ["172.18.0.4"]  # A: the IPv4 one; any case
    assert dig(c1, "+short db AAAA").stdout.split() == ["fd00::4"]
    assert dig(c1, "+short -x 172.18.0.3").stdout.split() == ["web."]
    c1.set_resolver_records({"cache": ["172.18.0.9"]})  # replaces every name
    assert dig(c1, "+short cache").stdout.split() == ["172.18.0.9"]
    assert "status: SERVFAIL" in dig(c1, "+noall +comments web").stdout
    c1.stop_resolver()
    assert "connection refused" in dig(c1, "+short cache").stdout
    c1.start_resolver()  # again, with nothing left over
    assert "status: SERVFAIL" in dig(c1, "+noall +comments cache").stdout


def test_resolver_in_a_node_of_its_own(lab):
    """Each node answers its own names, as each container sees its own networks."""
    c1, c2 = lab.add_node("c1"), lab.add_node("c2")
    c1.start_resolver()
    c2.start_resolver()
    c1.set_resolver_records({"web": ["172.18.0.3"]})
    c2.set_resolver_records({"web": ["172.19.0.3"]})
    assert dig(c1, "+short web").stdout.split() == ["172.18.0.3"]
    assert dig(c2, "+short web").stdout.split() == ["172.19.0.3"]


@pytest.mark.parametrize("records, error, words", [
    (["web", "172.18.0.3"], "InvalidValue", "give a dict of names to lists of addresses"),
    ({"web": "172.18.0.3"}, "InvalidValue", "even for one: {'web': ['172.18.0.3']}"),
    ({"web": None}, "InvalidValue", "give a list of addresses"),
    ({"web": ["nonsense"]}, "InvalidAddress", "'nonsense' is not an IP address"),
    ({"web": ["172.18.0.0/16"]}, "InvalidAddress", "is not an IP address"),
    ({"web": [172]}, "InvalidAddress", "172 is not an IP address"),
    ({"": ["172.18.0.3"]}, "InvalidName", "DNS name '' is not usable"),
    ({"my web": ["172.18.0.3"]}, "InvalidName", "without spaces"),
    ({"a" * 64: ["172.18.0.3"]}, "InvalidName", "labels of 1-63 characters"),
    ({"a..b": ["172.18.0.3"]}, "InvalidName", "labels of 1-63 characters"),
    ({7: ["172.18.0.3"]}, "InvalidName", "DNS name 7 is not usable"),
])
def test_bad_records_are_refused_and_the_old_ones_kept(lab, records, error, words):
    import nethelpers

    c1 = lab.add_node("c1")
    c1.start_resolver()
    c1.set_resolver_records({"web": ["172.18.0.3"]})
    with pytest.raises(getattr(nethelpers, error)) as refused:
        c1.set_resolver_records(records)
    assert words in str(refused.value)
    assert dig(c1, "+short web").stdout.split() == ["172.18.0.3"]


def test_resolver_errors_name_the_node_and_the_fix(lab):
    from nethelpers import AlreadyExists, NotFound

    c1 = lab.add_node("c1")
    with pytest.raises(NotFound, match="no DNS server.*attach one first"):
        c1.set_resolver_records({"web": ["172.18.0.3"]})
    with pytest.raises(NotFound, match="no DNS server"):
        c1.stop_resolver()
    c1.start_resolver()
    with pytest.raises(AlreadyExists, match="'c1' has its DNS server.*already"):
        c1.start_resolver()
    gone = lab.add_node("gone")
    lab.remove_node("gone")
    with pytest.raises(NotFound, match="no node 'gone'"):
        gone.start_resolver()


# --- kernel modules ----------------------------------------------------------------------------
def test_load_module_only_in_the_labs_own_vm(lab):
    """br_netfilter is loaded in the VM backend's kernel, never in this machine's."""
    node = lab.add_node("n")
    node.add_bridge("br0")
    loaded = lab.load_module("br_netfilter")
    assert loaded is (lab.backend == "vm")
    if loaded:
        assert node.run("test -e /proc/sys/net/bridge/bridge-nf-call-iptables").rc == 0
    assert lab.load_module("vxlan") is False  # not on the launcher's list, whatever the backend


@pytest.mark.parametrize("name", ["br-netfilter", "../br_netfilter", "", "BR_NETFILTER", "x" * 65, None, 3])
def test_load_module_refuses_what_is_not_a_module_name(lab, name):
    from nethelpers import InvalidName

    with pytest.raises(InvalidName, match="kernel module name .* is not usable"):
        lab.load_module(name)


# --- lab daemons and HTTP over their unix sockets -----------------------------------------------
DAEMON = """
import json, os, socketserver, sys, time
path = sys.argv[1]
os.makedirs(os.path.dirname(path), exist_ok=True)
seen = []

class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        request = json.loads(self.rfile.readline())
        seen.append(request)
        if request.get("op") == "sleep":
            time.sleep(60)
        answer = [1, 2] if request.get("op") == "list" else {"got": request, "seen": len(seen)}
        self.wfile.write(json.dumps(answer).encode() + b"\\n")

server = socketserver.ThreadingUnixStreamServer(path, Handler)
server.daemon_threads = True
print("ready", flush=True)
server.serve_forever()
"""


def test_ask_daemon_sends_one_json_request_and_returns_the_answer(lab):
    from nethelpers import CommandTimeout, InvalidName, InvalidValue, KernelError, NotFound

    node = lab.add_node("n")
    daemon = node.start([sys.executable, "-c", DAEMON, "/run/nethelpers/sockets/echo-1"])
    daemon.wait_for("ready", timeout=30)
    assert lab.ask_daemon("echo-1", {"op": "hello", "ip": "10.0.0.2"}) == \
        {"got": {"op": "hello", "ip": "10.0.0.2"}, "seen": 1}
    for name in ["../echo-1", "", "-x", "a b", 3]:
        with pytest.raises(InvalidName, match="daemon name .* is not usable"):
            lab.ask_daemon(name, {"op": "hello"})
    with pytest.raises(InvalidValue, match="the request to daemon 'echo-1' is a list; give a dict"):
        lab.ask_daemon("echo-1", ["hello"])
    with pytest.raises(InvalidValue, match="cannot be sent as JSON"):
        lab.ask_daemon("echo-1", {"op": "hello", "data": b"bytes"})
    for timeout in [None, 0, -1, "10"]:
        with pytest.raises(InvalidValue, match="timeout"):
            lab.ask_daemon("echo-1", {"op": "hello"}, timeout=timeout)
    assert lab.ask_daemon("echo-1", {"op": "again"})["seen"] == 2  # nothing refused reached it
    with pytest.raises(KernelError, match="answer of lab daemon 'echo-1' is a list, not a JSON object"):
        lab.ask_daemon("echo-1", {"op": "list"})
    with pytest.raises(CommandTimeout, match="did not answer 'sleep'"):
        lab.ask_daemon("echo-1", {"op": "sleep"}, timeout=0.5)
    with pytest.raises(NotFound, match="no lab daemon 'echo-2' is listening"):
        lab.ask_daemon("echo-2", {"op": "hello"})
    daemon.stop()
    with pytest.raises(NotFound, match="not listening any more"):
        lab.ask_daemon("echo-1", {"op": "hello"})


PLUGIN = """
import http.server, json, os, socketserver, sys
path = sys.argv[1]
os.makedirs(os.path.dirname(path), exist_ok=True)
seen = []

class Handler(http.server.BaseHTTPRequestHandler):
    def answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        seen.append(self.path)
        data = json.dumps({"method": self.command, "path": self.path, "accept": self.headers["Accept"],
                           "body": body.decode(), "seen": len(seen)}).encode()
        self.send_response(404 if self.path == "/Missing" else 200)
        self.send_header("Content-Type", "application/vnd.docker.plugins.v1.2+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass

class Server(socketserver.UnixStreamServer):
    def get_request(self):
        return self.socket.accept()[0], ("unix", 0)

server = Server(path, Handler)
print("ready", flush=True)
server.serve_forever()
"""


def test_http_over_unix_speaks_to_a_plugin_socket(lab):
    from nethelpers import InvalidValue, NotFound

    node = lab.add_node("n")
    sock = "/run/docker/plugins/t.sock"
    plugin = node.start([sys.executable, "-c", PLUGIN, sock])
    plugin.wait_for("ready", timeout=30)
    reply = lab.http_over_unix(sock, "POST", "/Plugin.Activate", {"Name": "t"})
    assert reply["status"] == 200
    assert reply["content_type"] == "application/vnd.docker.plugins.v1.2+json"
    assert reply["json"] == {"method": "POST", "path": "/Plugin.Activate", "seen": 1, "body": '{"Name": "t"}\n',
                             "accept": "application/vnd.docker.plugins.v1.2+json"}
    assert reply["text"].startswith('{"method": "POST"')
    assert lab.http_over_unix(sock, "GET", "/Missing")["status"] == 404
    assert lab.http_over_unix(sock, "POST", "/x")["json"]["body"] == ""  # body=None: no body
    bad = [((3, "POST", "/x"), "socket path 3 should be an absolute path"),
           (("t.sock", "POST", "/x"), "should be an absolute path"),
           ((sock, "FLY", "/x"), "HTTP method 'FLY' is not one of"),
           ((sock, "post", "/x"), "HTTP method 'post' is not one of"),
           ((sock, "POST", "Plugin.Activate"), "should start with '/'"),
           ((sock, "POST", "/a b"), "no spaces"),
           ((sock, "POST", "/x", {"n": float("nan")}), "cannot be sent as JSON"),
           ((sock, "POST", "/x", {1j: 1}), "cannot be sent as JSON"),
           (("/var/lib/x.sock", "POST", "/x"), "outside the lab's sockets"),  # the sandbox's check
           (("/run/docker/plugins/../../../etc/x.sock", "POST", "/x"), "outside the lab's sockets")]
    for args, words in bad:
        with pytest.raises(InvalidValue) as refused:
            lab.http_over_unix(*args)
        assert words in str(refused.value)
    with pytest.raises(InvalidValue, match="timeout=None"):
        lab.http_over_unix(sock, "POST", "/x", timeout=None)
    assert lab.http_over_unix(sock, "POST", "/x")["json"]["seen"] == 4  # nothing refused reached it
    with pytest.raises(NotFound, match="nothing listens on /run/docker/plugins/other.sock"):
        lab.http_over_unix("/run/docker/plugins/other.sock", "POST", "/x")
    plugin.stop()
    with pytest.raises(NotFound, match="nothing listens on .*t.sock any more"):
        lab.http_over_unix(sock, "POST", "/x")


# --- the lab's state -----------------------------------------------------------------------------
def test_each_lab_has_its_own_state(lab):
    from nethelpers import LabState, Lab, world

    assert lab.state == LabState(lan_addresses={}, lan_numbered=[], docker=None)
    world.add_host(lab, "h1")
    world.add_host(lab, "h2", address="198.51.100.50")
    world.add_host(lab, "h3")
    assert lab.state.lan_addresses == {"h1": "198.51.100.10", "h2": "198.51.100.50", "h3": "198.51.100.11"}
    assert lab.state.lan_numbered == ["h1", "h3"]  # h2 chose its own address
    assert world.address_of(lab, "h3") == "198.51.100.11"
    assert lab.node("h3").run("ip -br -4 addr show eth0").stdout.split()[2] == "198.51.100.11/24"
    with Lab() as other:
        assert other.state.lan_addresses == {} and other.state is not lab.state
        world.add_host(other, "h9")
        assert other.state.lan_addresses == {"h9": "198.51.100.10"}
    assert "h9" not in lab.state.lan_addresses
    assert not [key for key in vars(lab) if key.startswith("_lan")]  # nothing parked in lab.__dict__
