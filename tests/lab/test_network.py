"""Nodes, links, addresses, routes, neighbours: built in the kernel, read back from it."""

from __future__ import annotations

import json
import re

import pytest

from conftest import pings

from nethelpers import AlreadyExists


def _link(node, name):
    return next(l for l in node.snapshot()["links"] if l["name"] == name)


def test_a_node_has_loopback_up_and_nothing_else(lab):
    n = lab.add_node("n")
    links = n.snapshot()["links"]
    assert [(l["name"], l["up"]) for l in links] == [("lo", True)]
    assert pings(n, "127.0.0.1")


def test_veth_pair_connects_two_nodes(pair):
    a, b = pair
    assert pings(a, "10.0.0.2")
    eth0 = _link(a, "eth0")
    assert eth0["kind"] == "veth" and eth0["peer_node"] == "b" and eth0["peer"] == "eth0"


def test_macs_are_stable_and_locally_administered(lab, pair):
    mac = _link(pair[0], "eth0")["mac"]
    assert re.fullmatch(r"02(:[0-9a-f]{2}){5}", mac)
    with type(lab)() as other:
        x, _ = other.add_node("a"), other.add_node("b")
        other.add_veth("a:eth0", "b:eth0")
        assert _link(x, "eth0")["mac"] == mac  # same names, same MAC: deterministic outputs


def test_ipv6_is_off_unless_asked(lab):
    a, b = lab.add_node("a"), lab.add_node("b", ipv6=True)
    lab.add_veth("a:eth0", "b:eth0")
    assert "inet6" not in a.run("ip addr show eth0").stdout
    assert "fe80::" in b.run("ip addr show eth0").stdout


def test_bridge_joins_containers_and_default_route_reaches_the_host(bridged):
    host, c1, c2 = bridged
    assert pings(c1, "10.0.0.3") and pings(c1, "10.0.0.1")
    ports = {l["name"]: l["master"] for l in host.snapshot()["links"]}
    assert ports["veth1"] == ports["veth2"] == "br0"
    routes = c1.snapshot()["routes"]
    assert {"dst": "default", "via": "10.0.0.1", "dev": "eth0", "src": None} in routes


def test_router_with_ip_forward_connects_two_subnets(lab):
    left, router, right = lab.add_node("left"), lab.add_node("router", kind="router"), lab.add_node("right")
    lab.add_veth("left:eth0", "router:eth0")
    lab.add_veth("right:eth0", "router:eth1")
    left.add_address("eth0", "10.1.0.2/24")
    router.add_address("eth0", "10.1.0.1/24")
    router.add_address("eth1", "10.2.0.1/24")
    right.add_address("eth0", "10.2.0.2/24")
    left.add_route("default", via="10.1.0.1")
    right.add_route("10.1.0.0/24", via="10.2.0.1")
    assert router.sysctl("net.ipv4.ip_forward") == "0"
    assert not pings(left, "10.2.0.2")
    router.sysctl("net.ipv4.ip_forward", 1)
    assert router.sysctl("net.ipv4.ip_forward") == "1" and left.sysctl("net.ipv4.ip_forward") == "0"
    assert pings(left, "10.2.0.2")


def test_neighbour_and_fdb_entries_are_written_and_read_back(pair):
    a, b = pair
    a.add_neighbour("10.0.0.9", "02:00:00:00:00:09", "eth0")
    a.add_bridge("br0")
    a.add_fdb("02:00:00:00:00:0a", "br0", master=False)
    snap = a.snapshot()
    assert {"ip": "10.0.0.9", "mac": "02:00:00:00:00:09", "dev": "eth0", "state": "PERMANENT"} in snap["neighbours"]
    assert any(e["mac"] == "02:00:00:00:00:0a" and e["dev"] == "br0" for e in snap["fdb"])


def test_vxlan_over_an_underlay_with_static_fdb(lab):
    h1, h2 = lab.add_node("h1", kind="host"), lab.add_node("h2", kind="host")
    lab.add_veth("h1:eth0", "h2:eth0")
    h1.add_address("eth0", "192.168.56.11/24")
    h2.add_address("eth0", "192.168.56.12/24")
    for me, other, ip in ((h1, "192.168.56.12", "10.9.0.1/24"), (h2, "192.168.56.11", "10.9.0.2/24")):
        me.add_vxlan("vxlan0", 4096, dev="eth0", local=str(me.snapshot()["addresses"][1]["address"]).split("/")[0])
        me.add_fdb("00:00:00:00:00:00", "vxlan0", dst=other)
        me.add_address("vxlan0", ip)
    vx = _link(h1, "vxlan0")
    assert (vx["kind"], vx["vni"], vx["port"], vx["learning"]) == ("vxlan", 4096, 4789, False)
    assert pings(h1, "10.9.0.2")


def test_vxlan_fdb_entries_read_back_as_bridge_fdb_shows_them(lab):
    """The snapshot's FDB entries of a VXLAN device against iproute2's own reading of the same
    kernel table (``bridge -j fdb show dev vxlan0``: mac, dst — NDA_DST, the remote VTEP — and
    state): the same entries, each with its remote host under the same name."""
    h1 = lab.add_node("h1", kind="host")
    lab.add_node("h2", kind="host")
    lab.add_veth("h1:eth0", "h2:eth0")
    h1.add_address("eth0", "192.168.56.11/24")
    h1.add_vxlan("vxlan0", 4096, dev="eth0", local="192.168.56.11")
    h1.add_fdb("00:00:00:00:00:00", "vxlan0", dst="192.168.56.12")
    h1.add_fdb("02:00:00:00:00:0b", "vxlan0", dst="192.168.56.13")
    shown = json.loads(h1.run("bridge -j fdb show dev vxlan0", check=True).stdout)
    assert len(shown) == 2
    mine = [e for e in h1.snapshot()["fdb"] if e["dev"] == "vxlan0"]
    assert sorted((e["mac"], e.get("dst"), e["state"].lower()) for e in mine) == \
        sorted((e["mac"], e["dst"], e["state"]) for e in shown)


@pytest.mark.parametrize("mode", ["private", "vepa", "bridge", "passthru"])
def test_macvlan_mode_is_the_one_asked_for(lab, mode):
    """``add_macvlan(mode=...)`` against the kernel's own report (``ip -d -j link``: linkinfo's
    info_data.mode, iproute2 ip/iplink_macvlan.c) and the snapshot's reading of IFLA_MACVLAN_MODE
    (linux/if_link.h: PRIVATE 1, VEPA 2, BRIDGE 4, PASSTHRU 8)."""
    host = lab.add_node("host", kind="host")
    lab.add_node("lan")
    lab.add_veth("host:eth0", "lan:eth0")
    c = lab.add_node("c", kind="container", parent="host")
    host.add_macvlan("mv0", "eth0", into="c", mode=mode)
    shown = json.loads(c.run("ip -d -j link show mv0", check=True).stdout)[0]
    assert shown["linkinfo"]["info_kind"] == "macvlan" and shown["linkinfo"]["info_data"]["mode"] == mode
    assert _link(c, "mv0")["mode"] == mode

def _macvlan_container(lab, name: str):
    """A host wired to a LAN node (192.168.1.10), and a container ``c`` with a bridge-mode macvlan
    ``name`` of the host's eth0 at 192.168.1.20: (host, c)."""
    host, c = lab.add_node("host", kind="host"), lab.add_node("c", kind="container", parent="host")
    lan = lab.add_node("lan")
    lab.add_veth("host:eth0", "lan:eth0")
    lan.add_address("eth0", "192.168.1.10/24")
    host.add_macvlan(name, "eth0", into="c", mode="bridge")
    c.add_address(name, "192.168.1.20/24")
    return host, c


def test_macvlan_into_another_node(lab):
    host, c = _macvlan_container(lab, "mv0")
    link = _link(c, "mv0")
    assert link["kind"] == "macvlan" and link["mode"] == "bridge"
    assert pings(c, "192.168.1.10")


def test_macvlan_named_like_its_parent_goes_into_another_node(lab):
    # a container's macvlan is its eth0, made of the host's eth0 (moby's macvlan driver creates it
    # under another name and renames it in the container). Kernels that look the new name up in
    # the namespace the request comes from (the VM's 6.1) answer "File exists" to the one request
    # `ip link add link eth0 name eth0 netns c type macvlan` sends: the lab must still make it.
    host, c = _macvlan_container(lab, "eth0")
    assert _link(c, "eth0")["kind"] == "macvlan" and pings(c, "192.168.1.10")
    with pytest.raises(AlreadyExists, match="could not add macvlan 'eth0'"):
        host.add_macvlan("eth0", "eth0", into="c", mode="bridge")  # now it exists in c as well
    assert len(host.run("ip -o link show").stdout.splitlines()) == 2  # lo and eth0: nothing left behind
    assert "nh-new-link" not in c.run("ip link").stdout


def test_mtu_up_down_and_removing_a_veth_removes_its_peer(pair, lab):
    a, b = pair
    a.set_link("eth0", mtu=1450)
    assert _link(a, "eth0")["mtu"] == 1450
    a.set_link("eth0", up=False)
    assert not _link(a, "eth0")["up"] and not pings(a, "10.0.0.2")
    a.set_link("eth0", up=True)
    a.remove_link("eth0")
    assert [l["name"] for l in b.snapshot()["links"]] == ["lo"]


def test_removing_a_node_removes_its_links_everywhere_at_once(bridged, lab):
    host = bridged[0]
    lab.remove_node("c1")
    names = [l["name"] for l in host.snapshot()["links"]]
    assert "veth1" not in names and "veth2" in names  # immediately, not after a kernel delay
    assert [n.name for n in lab.nodes()] == ["host", "c2"]


def test_per_node_resolv_conf_like_ip_netns_exec(lab, pair):
    a, b = pair
    path = a.write_etc("resolv.conf", "nameserver 127.0.0.11\noptions ndots:0\n")
    assert path.endswith("/a/resolv.conf")
    assert a.run("cat /etc/resolv.conf").stdout == "nameserver 127.0.0.11\noptions ndots:0\n"
    assert "127.0.0.11" not in b.run("cat /etc/resolv.conf").stdout
    # the real iproute2 honours it too: /etc/netns/a/ exists inside the sandbox (only there)
    assert "ndots:0" in lab.run_in_sandbox("ip netns exec a cat /etc/resolv.conf").stdout
    assert a.run("ls /sys/class/net").stdout.split() == ["eth0", "lo"]  # /sys shows the node
    # removing the node removes its /etc/netns/a, whatever a command left in it (as `ip netns delete` does)
    lab.run_in_sandbox("mkdir /etc/netns/a/sub && touch /etc/netns/a/sub/f && ln -s /etc /etc/netns/a/link",
                       check=True)
    lab.remove_node("a")
    assert lab.run_in_sandbox("ls /etc/netns").stdout.split() == []
    assert lab.run_in_sandbox("ls /etc/hostname").rc == 0  # the link's target is untouched


def test_batch_is_all_or_nothing(lab):
    lab.add_node("keep")
    with pytest.raises(Exception, match="no node 'nope'"):
        with lab.batch():
            lab.add_node("x")
            lab.add_veth("keep:v0", "x:eth0")
            lab["keep"].add_address("v0", "10.5.0.1/24")
            lab.add_veth("keep:v1", "nope:eth0")
    assert [n.name for n in lab.nodes()] == ["keep"]
    assert [l["name"] for l in lab["keep"].snapshot()["links"]] == ["lo"]


def test_snapshot_sees_what_the_shell_did(lab):
    n = lab.add_node("n")
    n.run("ip link add br9 type bridge && ip addr add 10.7.0.1/24 dev br9", check=True)
    snap = n.snapshot()
    assert any(l["name"] == "br9" and l["kind"] == "bridge" for l in snap["links"])
    assert {"dev": "br9", "family": "inet", "address": "10.7.0.1/24"} in snap["addresses"]
    # and the lab's own checks see it too
    with pytest.raises(Exception, match="overlaps 10.7.0.1/24"):
        n.add_bridge("br8", address="10.7.0.2/24")


def test_a_teardown_in_one_batch_removes_nodes_and_links_together(bridged, lab):
    host = bridged[0]
    with lab.batch():
        lab.remove_nodes(["c1", "c2"])
        host.remove_link("br0")
    assert [l["name"] for l in host.snapshot()["links"]] == ["lo"]
    assert [n.name for n in lab.nodes()] == ["host"]


def test_vxlan_made_in_one_node_lives_in_another_with_dockers_flags(pair, lab):
    """Docker's overlay: the vxlan is created in the host (its UDP socket stays there) and moved
    into the network's sandbox, with learning, proxy, l2miss and l3miss on."""
    a, _ = pair
    lab.add_node("sbox", kind="switch", parent="a")
    lab["sbox"].add_bridge("br0")
    a.add_vxlan("vxlan0", 4097, dev="eth0", learning=True, proxy=True, l2miss=True, l3miss=True,
                into="sbox", master="br0", mtu=1450)
    details = lab["sbox"].run("ip -d link show vxlan0").stdout
    assert "vxlan id 4097" in details and "dstport 4789" in details and "master br0" in details
    assert "proxy" in details and "l2miss" in details and "l3miss" in details and "nolearning" not in details
    assert "mtu 1450" in details
    assert ":4789" in a.run("ss -Huln").stdout          # the socket: in the node that made it
    assert ":4789" not in lab["sbox"].run("ss -Huln").stdout
    assert "vxlan0" not in a.run("ip -br link").stdout


def test_fdb_and_neighbour_entries_can_be_removed(pair, lab):
    a, _ = pair
    a.add_vxlan("vx0", 42, dev="eth0", local="10.0.0.1")
    a.add_fdb("02:42:0a:00:00:05", "vx0", dst="10.0.0.2")
    a.add_neighbour("10.9.0.5", "02:42:0a:00:00:05", "vx0")
    assert "02:42:0a:00:00:05 dst 10.0.0.2" in a.run("bridge fdb show dev vx0").stdout
    a.remove_fdb("02:42:0a:00:00:05", "vx0", dst="10.0.0.2")
    a.remove_neighbour("10.9.0.5", "02:42:0a:00:00:05", "vx0")
    assert "02:42:0a:00:00:05" not in a.run("bridge fdb show dev vx0").stdout
    assert "10.9.0.5" not in a.run("ip neigh show dev vx0").stdout


def test_a_node_with_a_macvlan_of_another_node_can_be_made_again_at_once(lab):
    # removing the node deletes its macvlan now, not when the namespace is freed a moment later:
    # a new macvlan with the same MAC on the same parent would find the address in use
    host = lab.add_node("host")
    lab.add_node("peer")
    lab.add_veth("host:eth0", "peer:eth0")
    for _ in range(2):
        if "c" in {n.name for n in lab.nodes()}:
            lab.remove_node("c")
        lab.add_node("c")
        host.add_macvlan("mv0", "eth0", into="c", mac="02:00:00:00:00:05")
        assert lab.node("c").snapshot()["links"][1]["mac"] == "02:00:00:00:00:05"
