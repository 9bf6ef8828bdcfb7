"""The lab-veth CNI plugin, run as a runtime runs it, alone and chained before the real portmap and bandwidth.

A node "host" plays the machine: the plugin runs there with the CNI_* variables and the
config on stdin; the container is the node "c1" (CNI_NETNS=/run/netns/c1).
"""

from __future__ import annotations

import ipaddress
import json
import re
import time
from pathlib import Path

import pytest

from conftest import pings
from nethelpers.cni import PLUGIN_DIRS, plugin_dir

PLUGINS = Path(__file__).resolve().parents[2] / "nethelpers" / "cni" / "plugins"
LAB_VETH = str(PLUGINS / "lab-veth")
REAL = plugin_dir("bridge") or PLUGIN_DIRS[0]   # the reference plugins: /usr/lib/cni, on Fedora /usr/libexec/cni
CNI_PATH = f"{PLUGINS}:{REAL}"
IPAM_DIR = "/run/nethelpers/cni-ipam"  # host-local's state, inside the lab's private /run


def cni(node, plugin, command, config, *, cid="ctr1", netns="/run/netns/c1", ifname="eth0", args="",
        env=None, raw=None):
    """Run PLUGIN as a runtime does; returns (exit code, parsed stdout or None)."""
    values = {"CNI_COMMAND": command, "CNI_CONTAINERID": cid, "CNI_NETNS": netns, "CNI_IFNAME": ifname,
              "CNI_PATH": CNI_PATH, "CNI_ARGS": args, **(env or {})}
    assignments = [f"{key}={value}" for key, value in values.items() if value is not None]
    r = node.run(["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", *assignments, plugin],
                 input=json.dumps(config) if raw is None else raw, timeout=60)
    return r.rc, (json.loads(r.stdout) if r.stdout.strip() else None)


def real(name):
    return f"{REAL}/{name}"


def static(version="1.0.0", **extra):
    return {"cniVersion": version, "name": "labnet", "type": "lab-veth", "address": "10.22.0.2/24",
            "gateway": "10.22.0.1", "routes": [{"dst": "0.0.0.0/0"}], **extra}


def host_local(version="1.0.0"):
    return {"cniVersion": version, "name": "labnet", "type": "lab-veth",
            "ipam": {"type": "host-local", "subnet": "10.22.0.0/24", "dataDir": IPAM_DIR,
                     "routes": [{"dst": "0.0.0.0/0"}]}}


def host_links(node):
    return sorted(l["ifname"] for l in json.loads(node.run("ip -j link show", check=True).stdout))


def assert_valid_result(result, version, netns="/run/netns/c1", ifname="eth0"):
    """Section 5 of the spec: the keys and types of an ADD result, and what portmap/bandwidth look for."""
    assert result["cniVersion"] == version
    assert set(result) <= {"cniVersion", "interfaces", "ips", "routes", "dns"}
    interfaces = result["interfaces"]
    for entry in interfaces:
        allowed = {"name", "mac", "sandbox"} | ({"mtu", "socketPath", "pciID"} if version == "1.1.0" else set())
        assert set(entry) <= allowed and isinstance(entry["name"], str)
        assert re.fullmatch(r"[0-9a-f]{2}(:[0-9a-f]{2}){5}", entry["mac"])
        assert "mtu" not in entry or isinstance(entry["mtu"], int)
    inside = [i for i, e in enumerate(interfaces) if e.get("sandbox")]
    assert [interfaces[i]["name"] for i in inside] == [ifname] and interfaces[inside[0]]["sandbox"] == netns
    assert any(not e.get("sandbox") and e["name"].startswith("veth") for e in interfaces)
    assert result["ips"]
    for entry in result["ips"]:
        address = ipaddress.ip_interface(entry["address"])
        assert entry["interface"] == inside[0]
        assert ipaddress.ip_address(entry["gateway"]) in address.network
        if version in ("0.3.0", "0.3.1", "0.4.0"):
            assert entry["version"] == str(address.version)
        else:
            assert "version" not in entry
    for route in result.get("routes", []):
        ipaddress.ip_network(route["dst"])


def host_veth(result):
    return next(e["name"] for e in result["interfaces"] if not e.get("sandbox") and e["name"].startswith("veth"))


@pytest.fixture
def machine(lab):
    """host (the machine running the runtime), c1 (a container's netns) and client (elsewhere, 192.168.1.2)."""
    host, c1, client = lab.add_node("host"), lab.add_node("c1"), lab.add_node("client")
    lab.add_veth("host:up0", "client:eth0")
    host.add_address("up0", "192.168.1.1/24")
    client.add_address("eth0", "192.168.1.2/24")
    host.sysctl("net.ipv4.ip_forward", 1)
    return host, c1, client


# --- VERSION --------------------------------------------------------------------------------

def test_version_answers_with_the_versions_it_speaks(machine):
    host = machine[0]
    assert cni(host, LAB_VETH, "VERSION", {"cniVersion": "1.0.0"}) == (
        0, {"cniVersion": "1.0.0", "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]})
    rc, reply = cni(host, LAB_VETH, "VERSION", None, raw="")
    assert rc == 0 and reply["cniVersion"] == "1.1.0"


def test_debian_plugins_stop_at_1_0_0_so_a_chain_with_them_runs_at_1_0_0(machine):
    host = machine[0]
    supported = {name: set(cni(host, plugin, "VERSION", {"cniVersion": "1.0.0"})[1]["supportedVersions"])
                 for name, plugin in [("lab-veth", LAB_VETH), ("portmap", real("portmap")),
                                      ("bandwidth", real("bandwidth")), ("host-local", real("host-local"))]}
    common = set.intersection(*supported.values()) & {"0.4.0", "1.0.0", "1.1.0"}  # the config's cniVersions
    assert "1.1.0" in supported["lab-veth"] and "1.1.0" not in supported["portmap"]
    assert max(common, key=lambda v: tuple(map(int, v.split(".")))) == "1.0.0"
    rc, error = cni(host, real("portmap"), "ADD", {"cniVersion": "1.1.0", "name": "labnet", "type": "portmap",
                                                    "prevResult": {"cniVersion": "1.1.0"}})
    assert rc == 1 and error["code"] == 1  # incompatible CNI version


# --- ADD, CHECK, DEL alone --------------------------------------------------------------------

@pytest.mark.parametrize("version", ["1.1.0", "1.0.0", "0.4.0"])
def test_add_plugs_a_veth_with_address_and_route_and_del_is_idempotent(machine, version):
    host, c1, _ = machine
    rc, result = cni(host, LAB_VETH, "ADD", static(version, mtu=1400))
    assert rc == 0, result
    assert_valid_result(result, version)
    veth = host_veth(result)
    assert re.fullmatch(r"veth[0-9a-f]{8}", veth) and veth in host_links(host)
    assert ("mtu" in result["interfaces"][1]) == (version == "1.1.0")
    assert "10.22.0.2/24" in c1.run("ip -br addr show eth0").stdout
    assert "default via 10.22.0.1 dev eth0" in c1.run("ip route").stdout
    assert "mtu 1400" in c1.run("ip link show eth0").stdout
    assert pings(c1, "10.22.0.1") and pings(host, "10.22.0.2")
    assert cni(host, LAB_VETH, "CHECK", dict(static(version, mtu=1400), prevResult=result)) == (0, None)
    assert cni(host, LAB_VETH, "DEL", static(version, mtu=1400)) == (0, None)
    assert veth not in host_links(host) and "eth0" not in c1.run("ip link").stdout
    assert cni(host, LAB_VETH, "DEL", static(version, mtu=1400)) == (0, None)  # again: still fine


def test_del_succeeds_when_the_netns_is_already_gone(lab, machine):
    host = machine[0]
    assert cni(host, LAB_VETH, "ADD", static())[0] == 0
    lab.remove_node("c1")
    assert cni(host, LAB_VETH, "DEL", static()) == (0, None)
    assert cni(host, LAB_VETH, "DEL", static(), netns="") == (0, None)  # CNI_NETNS is optional for DEL
    assert not [name for name in host_links(host) if name.startswith("veth")]


def test_a_second_attachment_extends_the_prev_result(machine):
    host, c1, _ = machine
    _, first = cni(host, LAB_VETH, "ADD", static("1.1.0"))
    second_config = static("1.1.0", address="10.23.0.2/24", gateway="10.23.0.1", routes=[], prevResult=first)
    rc, both = cni(host, LAB_VETH, "ADD", second_config, ifname="eth1")
    assert rc == 0, both
    assert both["interfaces"][:2] == first["interfaces"] and both["ips"][0] == first["ips"][0]
    assert [both["interfaces"][e["interface"]]["name"] for e in both["ips"]] == ["eth0", "eth1"]
    assert host_veth(first) != both["interfaces"][2]["name"]  # the host side is keyed by (id, ifname)
    assert "10.23.0.2/24" in c1.run("ip -br addr show eth1").stdout
    assert cni(host, LAB_VETH, "DEL", static("1.1.0"), ifname="eth1") == (0, None)
    assert "eth1" not in c1.run("ip link").stdout and "eth0" in c1.run("ip link").stdout


def test_host_local_ipam_is_delegated_and_released(machine):
    host, c1, _ = machine
    rc, result = cni(host, LAB_VETH, "ADD", host_local())
    assert rc == 0, result
    assert_valid_result(result, "1.0.0")
    assert result["ips"][0]["address"] == "10.22.0.2/24" and result["ips"][0]["gateway"] == "10.22.0.1"
    assert "ctr1" in host.run(f"cat {IPAM_DIR}/labnet/10.22.0.2", check=True).stdout
    assert cni(host, LAB_VETH, "CHECK", dict(host_local(), prevResult=result)) == (0, None)
    assert cni(host, LAB_VETH, "DEL", host_local()) == (0, None)
    assert host.run(f"test -e {IPAM_DIR}/labnet/10.22.0.2").rc != 0
    assert cni(host, LAB_VETH, "DEL", host_local()) == (0, None)


def test_bridge_mode_puts_two_containers_on_one_segment(lab, machine):
    host, c1, _ = machine
    c2 = lab.add_node("c2")
    rc, one = cni(host, LAB_VETH, "ADD", static("1.1.0", bridge="cni0"))
    assert rc == 0, one
    rc, two = cni(host, LAB_VETH, "ADD", static("1.1.0", bridge="cni0", address="10.22.0.3/24"),
                  cid="ctr2", netns="/run/netns/c2")
    assert rc == 0, two
    assert_valid_result(two, "1.1.0", netns="/run/netns/c2")
    assert one["interfaces"][0]["name"] == "cni0" and host_veth(one) != host_veth(two)
    assert "10.22.0.1/24" in host.run("ip -br addr show cni0").stdout
    assert "master cni0" in host.run(f"ip link show {host_veth(two)}").stdout
    assert pings(c1, "10.22.0.3") and pings(c2, "10.22.0.1")


def test_check_reports_what_drifted(machine):
    host, c1, _ = machine
    rc, result = cni(host, LAB_VETH, "ADD", static())
    checked = dict(static(), prevResult=result)
    c1.run("ip route del default", check=True)
    rc, error = cni(host, LAB_VETH, "CHECK", checked)
    assert rc == 1 and error["code"] == 101 and "0.0.0.0/0" in error["msg"]
    c1.run("ip addr flush dev eth0", check=True)
    rc, error = cni(host, LAB_VETH, "CHECK", checked)
    assert rc == 1 and error["code"] == 101 and "10.22.0.2/24" in error["msg"]
    host.run(f"ip link del {host_veth(result)}", check=True)
    rc, error = cni(host, LAB_VETH, "CHECK", checked)
    assert rc == 1 and error["code"] == 101 and "eth0" in error["msg"]
    assert cni(host, LAB_VETH, "CHECK", static())[1]["code"] == 7  # no prevResult


def test_a_failed_add_undoes_itself(machine):
    host, c1, _ = machine
    bad_route = dict(host_local(), routes=[{"dst": "10.9.0.0/16", "gw": "10.99.0.1"}])  # gateway not on link
    before = host_links(host)
    rc, error = cni(host, LAB_VETH, "ADD", bad_route)
    assert rc == 1 and error["code"] == 102 and "10.9.0.0/16" in error["msg"]
    assert host_links(host) == before and c1.run("ip -br link").stdout.split()[0] == "lo"
    assert host.run(f"ls {IPAM_DIR}/labnet/10.22.0.2").rc != 0  # the address went back to the pool
    assert cni(host, LAB_VETH, "ADD", host_local())[0] == 0


def test_add_refuses_an_interface_that_exists(machine):
    host, c1, _ = machine
    assert cni(host, LAB_VETH, "ADD", static())[0] == 0
    rc, error = cni(host, LAB_VETH, "ADD", static(), cid="other")
    assert rc == 1 and error["code"] == 100 and "eth0 already exists" in error["msg"]
    rc, error = cni(host, LAB_VETH, "ADD", static())
    assert rc == 1 and error["code"] == 100


# --- errors ---------------------------------------------------------------------------------

ERRORS = [  # (what changes, expected code, words the message must contain)
    ({"config": static("9.9.9")}, 1, "9.9.9"),
    ({"config": {k: v for k, v in static().items() if k != "cniVersion"}}, 1, "no cniVersion"),
    ({"command": "CHECK", "config": dict(static("0.3.1"), prevResult={})}, 1, "CHECK"),
    ({"command": "GC", "config": static("1.0.0")}, 1, "GC"),
    ({"config": static(ipMasq=True)}, 2, "ipMasq=true"),
    ({"netns": "/run/netns/nope"}, 3, "/run/netns/nope"),
    ({"cid": None}, 4, "CNI_CONTAINERID"),
    ({"cid": "-bad id"}, 4, "CNI_CONTAINERID"),
    ({"ifname": "a-name-far-too-long"}, 4, "CNI_IFNAME"),
    ({"args": "IgnoreUnknown"}, 4, "CNI_ARGS"),
    ({"command": "FROB"}, 4, "CNI_COMMAND"),
    ({"raw": "{not json"}, 6, "JSON"),
    ({"config": static(gateway="10.99.0.1")}, 7, "invalid network config"),
    ({"config": dict(static(), ipam={"type": "host-local"})}, 7, "either"),
    ({"config": dict(host_local(), ipam={"type": "no-such-ipam"})}, 7, "no-such-ipam"),
    ({"config": dict(static(), name="bad name")}, 7, "bad name"),
]


@pytest.mark.parametrize("change,code,words", ERRORS, ids=[f"{c}-{w}" for _, c, w in ERRORS])
def test_errors_follow_the_spec_and_change_nothing(machine, change, code, words):
    host, c1, _ = machine
    before = host_links(host), host.run("iptables-save").stdout
    rc, error = cni(host, LAB_VETH, change.get("command", "ADD"), change.get("config", static()),
                    **{k: v for k, v in change.items() if k not in ("command", "config")})
    assert rc == 1 and set(error) == {"cniVersion", "code", "msg", "details"}, error
    assert error["code"] == code and words in error["msg"] + error["details"], error
    assert (host_links(host), host.run("iptables-save").stdout) == before
    assert c1.run("ip -br link").stdout.split()[0] == "lo" and len(c1.run("ip -br link").stdout.splitlines()) == 1


# --- STATUS and GC (1.1.0) -----------------------------------------------------------------------

def test_status_and_gc_remove_only_stale_attachments(lab, machine):
    host = machine[0]
    lab.add_node("c2")
    assert cni(host, LAB_VETH, "STATUS", static("1.1.0")) == (0, None)
    _, one = cni(host, LAB_VETH, "ADD", static("1.1.0"))
    _, two = cni(host, LAB_VETH, "ADD", static("1.1.0", address="10.22.0.3/24"), cid="ctr2",
                 netns="/run/netns/c2")
    keep = {"cni.dev/attachments": [{"containerID": "ctr1", "ifname": "eth0"}]}
    assert cni(host, LAB_VETH, "GC", dict(static("1.1.0"), **keep), cid=None, netns=None, ifname=None) == (0, None)
    links = host_links(host)
    assert host_veth(one) in links and host_veth(two) not in links
    other_net = dict(static("1.1.0"), name="othernet", **{"cni.dev/attachments": []})
    assert cni(host, LAB_VETH, "GC", other_net) == (0, None)
    assert host_veth(one) in host_links(host)  # another network's GC leaves ours alone


# --- chained before the real portmap and bandwidth ------------------------------------------------

def serve_http(c1):
    server = c1.start("python3 -m http.server 80 --bind 0.0.0.0")
    deadline = time.monotonic() + 10
    while c1.run("curl -s -m 1 -o /dev/null http://127.0.0.1:80/", timeout=5).rc != 0:
        assert time.monotonic() < deadline, "the HTTP server in c1 did not start"
        time.sleep(0.1)
    return server


def fetch(client, url):
    return client.run(f"curl -s -m 3 -o /dev/null -w '%{{http_code}}' {url}", timeout=10).stdout


def test_chain_with_real_portmap_and_bandwidth(machine):
    host, c1, client = machine
    version = "1.0.0"  # the highest version the Debian plugins speak (see above)
    portmap = {"cniVersion": version, "name": "labnet", "type": "portmap", "capabilities": {"portMappings": True},
               "runtimeConfig": {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}}
    bandwidth = {"cniVersion": version, "name": "labnet", "type": "bandwidth", "capabilities": {"bandwidth": True},
                 "runtimeConfig": {"bandwidth": {"ingressRate": 1_000_000, "ingressBurst": 100_000,
                                                 "egressRate": 2_000_000, "egressBurst": 100_000}}}
    rc, result = cni(host, LAB_VETH, "ADD", host_local(version))
    assert rc == 0, result
    veth = host_veth(result)
    server = serve_http(c1)
    assert fetch(client, "http://192.168.1.1:8080/") != "200"  # nothing publishes the port yet

    rc, after_portmap = cni(host, real("portmap"), "ADD", dict(portmap, prevResult=result))
    assert rc == 0, after_portmap
    assert after_portmap["interfaces"] == result["interfaces"] and after_portmap["ips"] == result["ips"]
    assert "CNI-HOSTPORT-DNAT" in host.run("iptables-save -t nat").stdout
    assert "--to-destination 10.22.0.2:80" in host.run("iptables-save -t nat").stdout
    assert fetch(client, "http://192.168.1.1:8080/") == "200"  # client -> host:8080 -> DNAT -> c1:80

    rc, final = cni(host, real("bandwidth"), "ADD", dict(bandwidth, prevResult=after_portmap))
    assert rc == 0, final
    ifb = next(e["name"] for e in final["interfaces"] if e["name"].startswith("bwp"))
    shaping = host.run(f"tc qdisc show dev {veth}").stdout
    assert re.search(r"qdisc tbf \S+ root .*rate 1Mbit", shaping) and "qdisc ingress" in shaping
    assert "rate 2Mbit" in host.run(f"tc qdisc show dev {ifb}").stdout  # egress: redirected to an ifb
    assert fetch(client, "http://192.168.1.1:8080/") == "200"

    chain = [(LAB_VETH, host_local(version)), (real("portmap"), portmap), (real("bandwidth"), bandwidth)]
    for plugin, config in chain:
        rc, error = cni(host, plugin, "CHECK", dict(config, prevResult=final))
        known_bug = plugin.endswith("portmap") and rc == 1 and "ipv6" in error["msg"]  # plugins#819, fixed in 1.2
        assert rc == 0 or known_bug, (plugin, error)
    for _ in range(2):  # DEL in reverse order, twice
        for plugin, config in reversed(chain):
            assert cni(host, plugin, "DEL", dict(config, prevResult=final)) == (0, None), plugin
    server.stop()
    assert veth not in host_links(host) and ifb not in host_links(host)
    assert "10.22.0.2:80" not in host.run("iptables-save -t nat").stdout
    assert host.run(f"test -e {IPAM_DIR}/labnet/10.22.0.2").rc != 0


def test_bandwidth_finds_the_host_veth_through_the_result(machine):
    host = machine[0]
    _, result = cni(host, LAB_VETH, "ADD", static())
    bandwidth = {"cniVersion": "1.0.0", "name": "labnet", "type": "bandwidth",
                 "ingressRate": 1_000_000, "ingressBurst": 100_000}
    container_only = dict(result, interfaces=[result["interfaces"][1]], ips=[dict(result["ips"][0], interface=0)])
    rc, error = cni(host, real("bandwidth"), "ADD", dict(bandwidth, prevResult=container_only))
    assert rc == 1 and "no veth peer" in error["msg"]  # it looks for the peer among the result's interfaces
    assert cni(host, real("bandwidth"), "ADD", dict(bandwidth, prevResult=result))[0] == 0
    assert "rate 1Mbit" in host.run(f"tc qdisc show dev {host_veth(result)}").stdout
