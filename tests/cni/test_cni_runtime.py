"""The CNI runtime against the real reference plugins (/usr/lib/cni, /usr/libexec/cni on Fedora), in real labs.

Each test builds a host node (where plugins run, as on a Kubernetes node) and pod nodes,
runs ADD/CHECK/DEL/GC/STATUS/VERSION through nethelpers.cni.Runtime and checks the kernel,
iptables, tc and host-local's files, not only what the plugins say. A small "recorder"
plugin (a real executable written per test) shows what a plugin really receives, and
speaks 1.1.0 so that GC and STATUS reach a plugin (the reference plugins 1.1.x stop at 1.0.0).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

from nethelpers.cni import NETWORKS_DIR, PLUGIN_DIR, CNIError, Runtime, load, plugin_dir
from nethelpers.cni import result as result_schema
from nethelpers.cni.cli import container_id as cnitool_id
from nethelpers.errors import NotFound
from waiting import wait_until

pytestmark = pytest.mark.skipif(plugin_dir("bridge") is None,
                                reason="the CNI reference plugins are not installed (containernetworking-plugins)")

PORTMAPS = [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]
RECORDER = textwrap.dedent("""\
    #!/usr/bin/env python3
    # A CNI plugin that writes down what it receives; speaks up to 1.1.0.
    import json, os, sys
    conf = json.load(sys.stdin)
    command = os.environ["CNI_COMMAND"]
    os.makedirs("/run/nethelpers/cni", exist_ok=True)
    with open("/run/nethelpers/cni/recorder.log", "a") as log:
        env = {k: v for k, v in os.environ.items() if k.startswith("CNI_")}
        log.write(json.dumps({"command": command, "env": env, "conf": conf}) + "\\n")
    version = conf.get("cniVersion", "0.1.0")
    def fail(code, msg):
        print(json.dumps({"cniVersion": version, "code": code, "msg": msg, "details": "asked to"}))
        sys.exit(1)
    if command == "VERSION":
        print(json.dumps({"cniVersion": version, "supportedVersions": ["0.4.0", "1.0.0", "1.1.0"]}))
    elif command == "ADD":
        print(json.dumps(conf.get("prevResult") or {"cniVersion": version, "interfaces": [], "ips": []}))
    elif command == "STATUS" and os.path.exists("/run/nethelpers/cni/recorder.down"):
        fail(50, "recorder is down")
    elif command == "GC" and conf.get("failGC"):
        fail(11, "recorder cannot collect now")
""")


def bridge_net(name="pods", subnet="10.22.0.0/24", *more, version="1.0.0", **options) -> dict:
    bridge = {"type": "bridge", "bridge": "cni0", "isGateway": True,
              "ipam": {"type": "host-local", "subnet": subnet, "routes": [{"dst": "0.0.0.0/0"}]}}
    return {"cniVersion": version, "name": name, "plugins": [bridge, *more], **options}


@pytest.fixture
def k8s(lab):
    """A host node and two pod nodes, and a runtime running plugins in the host."""
    host = lab.add_node("host", kind="host")
    pods = [lab.add_node(f"pod{i}", kind="container", parent="host") for i in (1, 2)]
    return Runtime(lab, host), host, *pods


@pytest.fixture
def recorder():
    """The recording plugin, in a directory anyone may enter: root of a lab that root started is
    nobody on this machine (README: "A lab is a boundary"), and pytest's tmp_path is root's only."""
    folder = tempfile.mkdtemp(prefix="nethelpers-cni-")
    os.chmod(folder, 0o755)
    path = os.path.join(folder, "recorder")
    with open(path, "w") as f:
        f.write(RECORDER)
    os.chmod(path, 0o755)
    yield folder
    shutil.rmtree(folder)


def recorded(host) -> list[dict]:
    text = host.run("cat /run/nethelpers/cni/recorder.log 2>/dev/null").stdout
    return [json.loads(line) for line in text.splitlines()]


def links(node) -> set[str]:
    return {line.split()[0].split("@")[0] for line in node.run("ip -br link", check=True).stdout.splitlines()}


def leases(host, network) -> set[str]:
    out = host.run(f"ls {NETWORKS_DIR}/{network} 2>/dev/null").stdout.split()
    return {name for name in out if name[0].isdigit()}


# --- configuration and results, without a lab ---------------------------------------
def test_load_conflist_conf_text_file_and_version_selection(tmp_path):
    conflist = {"cniVersion": "1.0.0", "cniVersions": ["0.4.0", "1.1.0", "2.0.0"], "name": "n",
                "disableCheck": "true", "plugins": [{"type": "loopback"}]}
    path = tmp_path / "10-n.conflist"
    path.write_text(json.dumps(conflist))
    for source in (conflist, json.dumps(conflist), str(path), path):
        conf = load(source)
        assert conf.name == "n" and conf.types == ["loopback"]
        assert conf.cni_version == "1.1.0" and conf.versions == ["1.1.0", "1.0.0", "0.4.0"]   # 2.0.0 dropped
        assert conf.disable_check is True and conf.disable_gc is False
    single = load({"cniVersion": "0.4.0", "name": "one", "type": "bridge", "bridge": "br9"})
    assert single.name == "one" and single.plugins == [{"type": "bridge", "bridge": "br9"}]


@pytest.mark.parametrize("source, code, words", [
    ("{not json", 6, "error parsing configuration"),
    ({"cniVersion": "1.0.0", "plugins": [{"type": "bridge"}]}, 7, "missing network name"),
    ({"cniVersion": "1.0.0", "name": "-bad", "plugins": [{"type": "bridge"}]}, 7, "invalid characters"),
    ({"cniVersion": "1.0.0", "name": "n", "plugins": []}, 7, "no plugins in list"),
    ({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "../bin/sh"}]}, 7, "type"),
    ({"cniVersion": "one", "name": "n", "plugins": [{"type": "bridge"}]}, 7, "not a version"),
    ({"cniVersion": "2.0.0", "name": "n", "plugins": [{"type": "bridge"}]}, 1, "incompatible CNI versions"),
    ({"cniVersion": "1.0.0", "name": "n", "disableGC": "maybe", "plugins": [{"type": "bridge"}]}, 7, "disableGC"),
    ({"name": "n", "bridge": "x"}, 7, "neither 'plugins'"),
    ("/nonexistent/10-x.conflist", 5, "error reading"),
])
def test_bad_configuration_names_cause_and_code(source, code, words):
    with pytest.raises(CNIError) as caught:
        load(source)
    assert caught.value.code == code and words in str(caught.value)


def test_result_schema_checks():
    good = {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01", "sandbox": "/x"}],
            "ips": [{"address": "10.0.0.2/24", "gateway": "10.0.0.1", "interface": 0}],
            "routes": [{"dst": "0.0.0.0/0", "gw": "10.0.0.1", "mtu": 1400}], "dns": {"nameservers": ["10.0.0.1"]}}
    assert result_schema.problems(good, "1.0.0") == []
    bad = {"cniVersion": "0.4.0", "interfaces": [{"mac": 5, "mtu": -1}],
           "ips": [{"address": "10.0.0.2", "gateway": "ten", "interface": 3}],
           "routes": [{"dst": "nowhere", "priority": "high"}], "dns": {"nameservers": ["x"]}}
    found = result_schema.problems(bad, "1.0.0")
    for words in ("cniVersion is '0.4.0'", "interfaces[0] has no name", "interfaces[0].mac", "interfaces[0].mtu",
                  "ips[0].address", "ips[0].gateway", "ips[0].interface 3", "routes[0].dst", "routes[0].priority",
                  "dns.nameservers has 'x'"):
        assert any(words in problem for problem in found), words
    assert result_schema.problems([]) and result_schema.problems({"cniVersion": "1.0.0", "ips": {}})


def test_cni_error_keeps_its_fields_through_pickle():
    error = CNIError(7, "Invalid Configuration", "Network 192.168.0.0/31 too small", plugin="host-local",
                     command="ADD", fix="use a bigger subnet")
    again = pickle.loads(pickle.dumps(error))
    assert (again.code, again.msg, again.details, again.plugin) == (7, "Invalid Configuration",
                                                                    "Network 192.168.0.0/31 too small", "host-local")
    assert str(again) == str(error) and "Invalid network config" in str(error)
    assert error.as_json() == {"code": 7, "msg": "Invalid Configuration", "details": "Network 192.168.0.0/31 too small"}


# --- the reference plugins -------------------------------------------------------------
def test_bridge_host_local_add_check_del_twice(k8s):
    runtime, host, pod1, _ = k8s
    net = bridge_net()
    added = runtime.add(net, pod1)
    result = added.result
    assert result_schema.problems(result, "1.0.0") == []
    assert [e.command + " " + e.plugin for e in added.exchanges if e.command == "ADD"] == ["ADD bridge"]
    request = added.exchanges[-1].request
    assert list(request)[:2] == ["cniVersion", "name"] and request["name"] == "pods"
    assert request["ipam"]["dataDir"] == NETWORKS_DIR          # host-local's state stays in the lab
    assert added.exchanges[-1].env == {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "pod1",
                                       "CNI_NETNS": "/run/netns/pod1", "CNI_ARGS": "",
                                       "CNI_IFNAME": "eth0", "CNI_PATH": ":".join(runtime.path)}
    address = result["ips"][0]["address"]
    assert address == "10.22.0.2/24" and result["interfaces"][result["ips"][0]["interface"]]["name"] == "eth0"
    assert address in pod1.run("ip -br addr show eth0", check=True).stdout
    assert "default via 10.22.0.1" in pod1.run("ip route", check=True).stdout
    assert pod1.run("ping -c1 -W1 10.22.0.1", timeout=5).rc == 0
    assert leases(host, "pods") == {"10.22.0.2"}
    assert host.run(f"cat {NETWORKS_DIR}/pods/10.22.0.2").stdout.split()[0] == "pod1"
    assert runtime.cached(net, pod1) == result
    assert [(a["containerId"], a["ifName"]) for a in runtime.attachments("pods")] == [("pod1", "eth0")]

    assert [e.command for e in runtime.check(net, pod1).exchanges] == ["CHECK"]
    checked = runtime.check(net, pod1).exchanges[0].request
    assert checked["prevResult"] == result

    deleted = runtime.delete(net, pod1)
    assert deleted.exchanges[0].request["prevResult"] == result
    assert "eth0" not in links(pod1) and leases(host, "pods") == set()
    assert runtime.cached(net, pod1) is None and runtime.attachments() == []
    again = runtime.delete(net, pod1)                  # DEL is idempotent
    assert [e.rc for e in again.exchanges] == [0] and "prevResult" not in again.exchanges[0].request
    assert any("no cached ADD result" in note for note in again.notes)


def test_chain_order_prev_result_and_runtime_config(k8s, recorder):
    """ADD in order, each plugin given the previous result; DEL in reverse, given the final one."""
    runtime, host, pod1, _ = k8s
    runtime = Runtime(runtime.lab, host, plugin_dirs=(recorder,))
    net = bridge_net("chain", "10.23.0.0/24", {"type": "recorder", "capabilities": {"portMappings": True, "mac": False}},
                     {"type": "portmap", "capabilities": {"portMappings": True}})
    added = runtime.add(net, pod1, args={"IgnoreUnknown": "1", "K8S_POD_NAME": "web"},   # as kubelet sends
                        capability_args={"portMappings": PORTMAPS, "mac": "02:00:00:00:00:09"})
    adds = [e for e in added.exchanges if e.command == "ADD"]
    assert [e.plugin for e in adds] == ["bridge", "recorder", "portmap"]
    seen = [r for r in recorded(host) if r["command"] == "ADD"][0]
    assert seen["conf"]["prevResult"] == adds[0].response           # what bridge returned
    assert seen["conf"]["runtimeConfig"] == {"portMappings": PORTMAPS}   # only capabilities set to true
    assert "capabilities" not in seen["conf"] and seen["conf"]["name"] == "chain"
    assert seen["conf"]["cniVersion"] == "1.0.0"                     # negotiated: bridge stops at 1.0.0
    assert seen["env"]["CNI_ARGS"] == "IgnoreUnknown=1;K8S_POD_NAME=web" and seen["env"]["CNI_NETNS"] == "/run/netns/pod1"
    assert "prevResult" not in adds[0].request and "runtimeConfig" not in adds[0].request
    assert adds[2].request["prevResult"] == adds[1].response and added.result == adds[2].response

    nat = host.run("iptables -t nat -S", check=True).stdout
    assert "--to-destination 10.23.0.2:80" in nat and "--dport 8080" in nat
    server = pod1.start("python3 -m http.server 80 --bind 0.0.0.0")
    server.wait_for("Serving", timeout=10)
    got = host.run("curl -s -m 3 -o /dev/null -w '%{http_code}' http://10.23.0.1:8080/", timeout=10).stdout
    assert got == "200"                                              # through portmap's DNAT
    server.stop()

    deleted = runtime.delete(net, pod1)
    assert [e.plugin for e in deleted.exchanges if e.command == "DEL"] == ["portmap", "recorder", "bridge"]
    assert all(e.request["prevResult"] == added.result for e in deleted.exchanges if e.command == "DEL")
    assert [e.request.get("runtimeConfig") for e in deleted.exchanges if e.command == "DEL"][0] == \
        {"portMappings": PORTMAPS}                                   # the ADD's capability args, from the cache
    assert [r for r in recorded(host) if r["command"] == "DEL"][0]["env"]["CNI_ARGS"].endswith("K8S_POD_NAME=web")
    assert "10.23.0.2:80" not in host.run("iptables -t nat -S", check=True).stdout


def test_portmap_check_is_known_to_fail_on_ipv4_only(k8s):
    """portmap 1.1.x CHECK looks for IPv6 rules it never made (containernetworking/plugins#819)."""
    runtime, _, pod1, _ = k8s
    net = bridge_net("pm", "10.24.0.0/24", {"type": "portmap", "capabilities": {"portMappings": True}})
    runtime.add(net, pod1, capability_args={"portMappings": PORTMAPS})
    # If this stops failing, the installed portmap has the fix: the course's text about CHECK must change.
    with pytest.raises(CNIError) as caught:
        runtime.check(net, pod1)
    error = caught.value                # decoded from the real plugin's stdout
    assert (error.plugin, error.command) == ("portmap", "CHECK") and "ipv6" in error.msg
    assert "disableCheck" in str(error)
    skipped = runtime.check(dict(net, disableCheck=True), pod1)
    assert skipped.exchanges == [] and "disableCheck" in skipped.notes[0]
    runtime.delete(net, pod1)
    runtime.delete(net, pod1)


def test_ptp_firewall_tuning_bandwidth(k8s):
    runtime, host, pod1, _ = k8s
    net = {"cniVersion": "1.0.0", "name": "shaped", "plugins": [
        {"type": "ptp", "ipMasq": True, "mtu": 1400, "ipam": {"type": "host-local", "subnet": "10.30.0.0/24"}},
        {"type": "firewall"},
        {"type": "tuning", "capabilities": {"mac": True}, "sysctl": {"net.ipv4.conf.eth0.arp_notify": "1"}},
        {"type": "bandwidth", "capabilities": {"bandwidth": True}}]}
    rates = {"ingressRate": 1000000, "ingressBurst": 100000, "egressRate": 2000000, "egressBurst": 100000}
    added = runtime.add(net, pod1, capability_args={"mac": "02:00:00:00:00:42", "bandwidth": rates})
    assert [e.plugin for e in added.exchanges if e.command == "ADD"] == ["ptp", "firewall", "tuning", "bandwidth"]
    assert result_schema.problems(added.result, "1.0.0") == []
    host_veth = added.result["interfaces"][0]["name"]
    assert "02:00:00:00:00:42" in pod1.run("ip link show eth0", check=True).stdout
    assert "mtu 1400" in pod1.run("ip link show eth0", check=True).stdout
    assert pod1.sysctl("net.ipv4.conf.eth0.arp_notify") == "1"
    assert "-s 10.30.0.2/32 -j ACCEPT" in host.run("iptables -S CNI-FORWARD", check=True).stdout
    qdiscs = host.run("tc qdisc show", check=True).stdout
    assert f"qdisc tbf 1: dev {host_veth} root" in qdiscs and "rate 1Mbit" in qdiscs
    ifb = [i["name"] for i in added.result["interfaces"] if i["name"].startswith("bwp")]
    assert ifb and ifb[0] in links(host) and "rate 2Mbit" in qdiscs
    assert pod1.run("ping -c1 -W1 10.30.0.1", timeout=5).rc == 0

    assert [e.plugin for e in runtime.check(net, pod1).exchanges] == ["ptp", "firewall", "tuning", "bandwidth"]
    assert [e.plugin for e in runtime.delete(net, pod1).exchanges] == ["bandwidth", "tuning", "firewall", "ptp"]
    assert host_veth not in links(host) and ifb[0] not in links(host)
    assert "10.30.0.2" not in host.run("iptables -S CNI-FORWARD", check=True).stdout
    assert leases(host, "shaped") == set()
    assert all(e.rc == 0 for e in runtime.delete(net, pod1).exchanges)


def test_macvlan_static_and_loopback(k8s, lab):
    runtime, host, pod1, _ = k8s
    lan = lab.add_node("lan")
    lab.add_veth("host:lan0", "lan:eth0")
    lan.add_address("eth0", "192.0.2.1/24")
    net = {"cniVersion": "1.0.0", "name": "mv", "plugins": [
        {"type": "macvlan", "master": "lan0", "mode": "bridge",
         "ipam": {"type": "static", "addresses": [{"address": "192.0.2.50/24", "gateway": "192.0.2.1"}],
                  "routes": [{"dst": "0.0.0.0/0"}]}}]}
    pod1.set_link("lo", up=False)
    lo = runtime.add({"cniVersion": "1.0.0", "name": "lo", "plugins": [{"type": "loopback"}]}, pod1, ifname="lo")
    assert lo.result["interfaces"][0]["name"] == "lo" and "UP" in pod1.run("ip -br link show lo").stdout
    added = runtime.add(net, pod1, ifname="net1")
    assert added.result["ips"] == [{"interface": 0, "address": "192.0.2.50/24", "gateway": "192.0.2.1"}]
    assert "macvlan" in pod1.run("ip -d link show net1", check=True).stdout
    assert pod1.run("ping -c1 -W2 192.0.2.1", timeout=5).rc == 0
    runtime.check(net, pod1, ifname="net1")
    runtime.delete(net, pod1, ifname="net1")
    assert "net1" not in links(pod1)
    runtime.delete(net, pod1, ifname="net1")
    runtime.delete({"cniVersion": "1.0.0", "name": "lo", "plugins": [{"type": "loopback"}]}, pod1, ifname="lo")
    assert "DOWN" in pod1.run("ip -br link show lo").stdout


def test_delete_after_the_container_is_gone(k8s, lab):
    runtime, host, pod1, _ = k8s
    net = bridge_net("gone", "10.25.0.0/24")
    veth = runtime.add(net, pod1).result["interfaces"][1]["name"]
    lab.remove_node("pod1")
    deleted = runtime.delete(net, "pod1")
    assert [e.rc for e in deleted.exchanges] == [0]
    assert leases(host, "gone") == set()
    # The plugin's veth was not made by the lab: it goes when the kernel frees pod1's namespace, a moment later.
    wait_until(lambda: veth not in links(host), timeout=5)


# --- versions ------------------------------------------------------------------------------
def test_version_and_negotiation(k8s):
    runtime, _, pod1, _ = k8s
    info = runtime.version("bridge")
    assert "1.0.0" in info["supportedVersions"] and "1.1.0" not in info["supportedVersions"]
    offered = bridge_net("neg", "10.26.0.0/24", version="1.1.0", cniVersions=["0.4.0", "1.0.0"])
    added = runtime.add(offered, pod1)
    assert added.cni_version == "1.0.0" and added.result["cniVersion"] == "1.0.0"
    assert "1.0.0" in added.notes[0]
    runtime.delete(offered, pod1)

    with pytest.raises(CNIError) as caught:   # refused before any ADD: nothing made
        runtime.add(bridge_net("new", "10.27.0.0/24", version="1.1.0"), pod1)
    assert caught.value.code == 1 and "cniVersions" in str(caught.value)
    assert [e.command for e in caught.value.exchanges] == []          # VERSION answers were cached
    checked = caught.value.details
    assert links(pod1) == {"lo"}

    raw = Runtime(runtime.lab, runtime.host, negotiate=False)
    with pytest.raises(CNIError) as caught:   # the real plugin's own refusal, decoded
        raw.add(bridge_net("new", "10.27.0.0/24", version="1.1.0"), pod1)
    error = caught.value
    assert (error.code, error.msg, error.plugin, error.command) == (1, "incompatible CNI versions", "bridge", "ADD")
    assert 'config is "1.1.0"' in error.details and error.exchanges[-1].response["code"] == 1
    assert links(pod1) == {"lo"}
    # the runtime's check words it as the plugin does (pkg/version/reconcile.go ErrorIncompatible.Details)
    assert checked == error.details


def test_old_version_has_no_check_and_no_prev_result_on_del(k8s):
    runtime, _, pod1, _ = k8s
    net = bridge_net("old", "10.28.0.0/24", version="0.3.1")
    assert runtime.add(net, pod1).result["cniVersion"] == "0.3.1"
    with pytest.raises(CNIError, match="does not support the CHECK command"):
        runtime.check(net, pod1)
    deleted = runtime.delete(net, pod1)
    assert "prevResult" not in deleted.exchanges[-1].request and "eth0" not in links(pod1)


# --- errors -------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, code, words", [
    (dict(container_id="bad id"), 4, "invalid characters in containerID"),
    (dict(container_id=""), 3, "missing containerID"),
    (dict(ifname="averyverylongname"), 4, "interface name is too long"),
    (dict(ifname="et/h0"), 4, "contains / or :"),
    (dict(ifname=""), 4, "interface name is empty"),
    (dict(args="K8S=a=b"), 4, "invalid CNI_ARGS pair"),
])
def test_bad_attachment_parameters_are_refused_before_any_plugin(k8s, kwargs, code, words):
    runtime, _, pod1, _ = k8s
    with pytest.raises(CNIError) as caught:
        runtime.add(bridge_net(), pod1, **kwargs)
    assert caught.value.code == code and words in str(caught.value) and caught.value.exchanges == []
    assert links(pod1) == {"lo"} and runtime.attachments() == []


def test_unknown_container_plugin_and_double_add(k8s):
    runtime, _, pod1, _ = k8s
    with pytest.raises(NotFound, match="no node 'pod9'"):
        runtime.add(bridge_net(), "pod9")
    with pytest.raises(CNIError, match=r'failed to find plugin "brdige" in path \[/[^]]*\].*bridge'):
        runtime.add({"cniVersion": "1.0.0", "name": "typo", "plugins": [{"type": "brdige"}]}, pod1)
    net = bridge_net("twice", "10.29.0.0/24")
    runtime.add(net, pod1)
    with pytest.raises(CNIError, match="must not ADD twice"):
        runtime.add(net, pod1)
    assert [a["containerId"] for a in runtime.attachments()] == ["pod1"]
    with pytest.raises(CNIError, match="not attached") as caught:
        runtime.check(net, "pod2")
    assert caught.value.code == 3
    runtime.delete(net, pod1)


def test_failed_add_is_decoded_and_rolled_back(k8s):
    runtime, host, pod1, _ = k8s
    net = bridge_net("broken", "10.31.0.0/24", {"type": "bandwidth", "ingressRate": 1000})
    with pytest.raises(CNIError) as caught:
        runtime.add(net, pod1)
    error = caught.value
    assert (error.plugin, error.command, error.code) == ("bandwidth", "ADD", 999)
    assert error.msg == "if rate is set, burst must also be set"
    # SPEC 1.1.0 (containernetworking/cni v1.2.3 SPEC.md, Lifecycle & Ordering): "A delete must still
    # be executed even if the add fails", and a delete runs every plugin in reverse order; nothing
    # was cached, so libcni's DelNetworkList (libcni/api.go) gives them no prevResult
    dels = [e for e in error.exchanges if e.command == "DEL"]
    assert [f"{e.command} {e.plugin}" for e in error.exchanges if e.command != "VERSION"] == \
        ["ADD bridge", "ADD bandwidth", "DEL bandwidth", "DEL bridge"]
    assert all("prevResult" not in e.request for e in dels)
    # bandwidth refuses its DEL for the same reason; libcni would stop there, the lab DELs bridge too
    assert dels[0].rc != 0 and dels[1].rc == 0
    assert links(pod1) == {"lo"} and leases(host, "broken") == set() and runtime.attachments() == []


def test_the_cache_record_is_libcnis(k8s):
    """libcni's cachedInfo (containernetworking/cni v1.2.3 libcni/api.go): its JSON keys in field
    order, config as Go encodes a []byte (base64), cniArgs as [][2]string, empty ones omitted."""
    import base64
    import json as jsonlib

    runtime, host, pod1, pod2 = k8s
    net = bridge_net("cached", "10.33.0.0/24")
    result = runtime.add(net, pod1, args={"K8S_POD_NAME": "web", "IgnoreUnknown": "1"}).result
    record = jsonlib.loads(host.run("cat /run/nethelpers/cni/results/cached-pod1-eth0", check=True).stdout)
    assert list(record) == ["kind", "containerId", "config", "ifName", "networkName", "netns", "cniArgs", "result"]
    assert record["kind"] == "cniCacheV1" and record["netns"] == "/run/netns/pod1"
    assert jsonlib.loads(base64.b64decode(record["config"]))["name"] == "cached"
    assert record["cniArgs"] == [["K8S_POD_NAME", "web"], ["IgnoreUnknown", "1"]] and record["result"] == result
    deleted = runtime.delete(net, pod1)   # the plugins get the attachment's CNI_ARGS back from the record
    assert deleted.exchanges[-1].env["CNI_ARGS"] == "K8S_POD_NAME=web;IgnoreUnknown=1"


# --- GC and STATUS ----------------------------------------------------------------------------
def test_gc_deletes_stale_attachments(k8s):
    runtime, host, pod1, pod2 = k8s
    net = bridge_net("gcnet", "10.32.0.0/24")
    runtime.add(net, pod1)
    runtime.add(net, pod2)
    assert leases(host, "gcnet") == {"10.32.0.2", "10.32.0.3"}
    assert runtime.gc(dict(net, disableGC=True), valid=[]).exchanges == []
    assert leases(host, "gcnet") == {"10.32.0.2", "10.32.0.3"}
    collected = runtime.gc(net, valid=[("pod1", "eth0")])
    assert [f"{e.command} {e.plugin}" for e in collected.exchanges if e.command != "VERSION"] == ["DEL bridge"]
    assert collected.exchanges[-1].env["CNI_CONTAINERID"] == "pod2"
    assert any("no GC command" in note for note in collected.notes)      # 1.0.0 plugins do not know GC
    assert leases(host, "gcnet") == {"10.32.0.2"} and "eth0" not in links(pod2) and "eth0" in links(pod1)
    runtime.gc(net)                                                          # no list: all are stale
    assert leases(host, "gcnet") == set() and runtime.attachments() == []
    status = runtime.status(net)
    assert status.exchanges == [] and "no STATUS command" in status.notes[-1]


def test_gc_and_status_reach_a_1_1_0_plugin(k8s, recorder):
    runtime, host, pod1, _ = k8s
    runtime = Runtime(runtime.lab, host, plugin_dirs=(recorder,))
    net = {"cniVersion": "1.1.0", "name": "rec", "plugins": [{"type": "recorder", "capabilities": {"mac": True}},
                                                                {"type": "recorder", "failGC": True}]}
    runtime.add(net, pod1, capability_args={"mac": "02:00:00:00:00:01"})
    with pytest.raises(CNIError) as caught:
        runtime.gc(net, valid=[{"containerID": "pod1", "ifname": "eth0"}])
    assert caught.value.code == 11 and len(caught.value.errors) == 1
    gcs = [r for r in recorded(host) if r["command"] == "GC"]
    assert len(gcs) == 2                                                 # GC went on after the error
    expected = [{"containerID": "pod1", "ifname": "eth0"}]
    assert gcs[0]["conf"]["cni.dev/valid-attachments"] == expected == gcs[0]["conf"]["cni.dev/attachments"]
    assert gcs[0]["conf"]["cniVersion"] == "1.1.0" and gcs[0]["conf"]["name"] == "rec"
    assert "prevResult" not in gcs[0]["conf"] and "runtimeConfig" not in gcs[0]["conf"]
    assert gcs[0]["env"]["CNI_CONTAINERID"] == "" and gcs[0]["env"]["CNI_PATH"]
    assert [a["containerId"] for a in runtime.attachments("rec")] == ["pod1"]   # valid: kept

    assert [e.command for e in runtime.status(net).exchanges] == ["STATUS", "STATUS"]
    host.run("touch /run/nethelpers/cni/recorder.down", check=True)
    with pytest.raises(CNIError) as caught:
        runtime.status(net)
    assert caught.value.code == 50 and "not available" in str(caught.value)
    assert len(caught.value.exchanges) == 1                             # STATUS stops at the first error
    runtime.delete(net, pod1)


def test_plugins_shipped_with_the_course_answer_version(k8s):
    runtime = k8s[0]
    shipped = sorted(n for n in os.listdir(PLUGIN_DIR) if not n.startswith((".", "_")))
    assert "lab-veth" in shipped                                       # the course's own plugin (notebook 08)
    not_executable = [n for n in shipped if not os.access(os.path.join(PLUGIN_DIR, n), os.X_OK)]
    assert not not_executable, f"plugins that lost their exec bit (git mode 100755): {not_executable}"
    for name in shipped:
        assert "1.0.0" in runtime.version(name)["supportedVersions"]


# --- the command line ---------------------------------------------------------------------------
def test_cnitool_like_command(tmp_path):
    conf = tmp_path / "10-pods.conflist"
    conf.write_text(json.dumps(bridge_net("clinet", "10.33.0.0/24")))
    command = [sys.executable, "-m", "nethelpers.cni.cli", "add,check,del,del,gc,status", str(conf), "web",
               "--exec", "ip -br addr show eth0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout[:done.stdout.rindex("}") + 1])
    assert result["ips"][0]["address"] == "10.33.0.2/24" and "10.33.0.2/24" in done.stdout.splitlines()[-1]
    assert cnitool_id("/run/netns/web").startswith("cnitool-") and len(cnitool_id("/x")) == 28
    bad = subprocess.run([sys.executable, "-m", "nethelpers.cni.cli", "add", str(tmp_path / "none"), "web"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "error reading" in bad.stderr


def test_course_plugin_gets_gc_at_1_1_0(k8s):
    """lab-veth (nethelpers/cni/plugins) speaks 1.1.0: STATUS and GC reach it; its GC removes
    an attachment the runtime has forgotten (no cached result, so no DEL from the runtime)."""
    runtime, host, pod1, pod2 = k8s
    assert os.access(os.path.join(PLUGIN_DIR, "lab-veth"), os.X_OK), "nethelpers/cni/plugins/lab-veth: not executable"
    net = {"cniVersion": "1.1.0", "name": "lv", "plugins": [{"type": "lab-veth", "address": "10.46.0.2/24",
                                                               "gateway": "10.46.0.1"}]}
    kept = runtime.add(net, pod1).result["interfaces"][0]["name"]
    forgotten = runtime.add(dict(net, plugins=[dict(net["plugins"][0], address="10.46.0.3/24")]), pod2)
    forgotten = forgotten.result["interfaces"][0]["name"]
    host.run("rm /run/nethelpers/cni/results/lv-pod2-eth0", check=True)      # as if the runtime crashed
    assert runtime.status(net).plugins == ["STATUS lab-veth"]
    collected = runtime.gc(net, valid=[("pod1", "eth0")])
    assert collected.plugins == ["GC lab-veth"] and collected.cni_version == "1.1.0"
    assert kept in links(host) and forgotten not in links(host)
    runtime.delete(net, pod1)
    assert kept not in links(host)
