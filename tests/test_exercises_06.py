"""Notebook 06's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state.
(Traffic is bounded: the checkers' pings are -c1 -W1 or less.)"""

from __future__ import annotations

import pytest

from nethelpers.docker import get_host
from nethelpers.exercises import overlay as exercises

ZEROS = "00:00:00:00:00:00"



def remote_entries(lab, host: str) -> set[tuple[str, str]]:
    return {(e["mac"], e["dst"]) for e in lab.snapshot([host])[host]["fdb"] if e["dev"] == "vxlan0" and e["dst"]}


@pytest.fixture
def by_hand(lab):
    """Part 2 of the notebook: three Docker hosts, a1 on host1 and a2 on host2 on the overlay VNI 42."""
    for name in ("host1", "host2", "host3"):
        lab.docker_host(name)
    for i in (1, 2):
        host = lab[f"host{i}"]
        a = lab.add_node(f"a{i}", kind="container", parent=host.name)
        host.add_bridge("ovbr0", mtu=1450)
        lab.add_veth(f"{host.name}:veth-a{i}", f"a{i}:eth0", master="ovbr0", mtu=1450,
                     peer_mac=f"02:42:0a:09:00:0{i}")
        a.add_address("eth0", f"10.9.0.{i}/24")
        host.run("iptables -I DOCKER-USER -i ovbr0 -o ovbr0 -j ACCEPT", check=True)
        host.add_vxlan("vxlan0", 42, local=f"198.51.100.1{i - 1}", dev="eth0", mtu=1450, master="ovbr0")
    lab["host1"].add_fdb(ZEROS, "vxlan0", dst="198.51.100.11")
    lab["host2"].add_fdb(ZEROS, "vxlan0", dst="198.51.100.10")
    return lab


def test_a3_reaches_a1(by_hand):
    lab, ex = by_hand, exercises.A3_REACHES_A1
    ex.start(lab)
    assert [hint is None for _, hint in ex.problems(lab)][:2] == [True, True]   # host3's side, a3 -> a2
    assert "host3 is not one of them" in ex.first_problem(lab)[1]
    lab["host1"].add_fdb(ZEROS, "vxlan0", dst="198.51.100.13")       # wrong: no such host
    assert "host3 is not one of them" in ex.first_problem(lab)[1]
    lab["host1"].add_fdb("02:42:0a:09:00:03", "vxlan0", dst="198.51.100.12")   # another right answer
    assert ex.passed(lab)
    ex.start(lab)                                                    # the reset takes it away
    assert ("02:42:0a:09:00:03", "198.51.100.12") not in remote_entries(lab, "host1")
    assert not ex.passed(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)


def test_a3_reaches_a1_resets_a_broken_host3(by_hand):
    lab, ex = by_hand, exercises.A3_REACHES_A1
    ex.start(lab)
    lab["host3"].remove_link("vxlan0")                               # a learner's attempt gone wrong
    lab["host1"].remove_fdb(ZEROS, "vxlan0", dst="198.51.100.11")
    assert "no vxlan0 with VNI 42" in ex.first_problem(lab)[1]
    lab.remove_node("a3")
    assert "there is no node a3" in ex.first_problem(lab)[1]
    ex.start(lab)
    assert (ZEROS, "198.51.100.11") in remote_entries(lab, "host1")
    assert lab["host3"].run("iptables -S DOCKER-USER").stdout.count("-i ovbr0") == 1   # not twice
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)


def test_a1_out_of_the_black_hole(by_hand):
    lab, ex = by_hand, exercises.A1_OUT_OF_THE_BLACK_HOLE
    ex.start(lab)
    assert "still sends packets of up to 1500 bytes" in ex.first_problem(lab)[1]
    lab["host1"].set_link("ovbr0", mtu=1500)                         # wrong: the tunnel cannot carry more
    lab["a1"].set_link("eth0", mtu=1400)                             # and too small
    assert "leave host1's ovbr0 at MTU 1450" in ex.first_problem(lab)[1]
    lab["host1"].set_link("ovbr0", mtu=1450)
    assert "refuses to send a 1450-byte packet itself" in ex.first_problem(lab)[1]
    ex.start(lab)
    assert link_mtu(lab, "a1", "eth0") == 1500
    lab["a1"].run("ip route replace 10.9.0.0/24 dev eth0 mtu 1450", check=True)   # another right answer
    assert ex.passed(lab)
    ex.start(lab)                                                    # the route loses its MTU again
    assert "mtu" not in lab["a1"].run("ip route show 10.9.0.0/24").stdout
    assert not ex.passed(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)


def link_mtu(lab, node: str, ifname: str) -> int:
    return next(l["mtu"] for l in lab.snapshot([node])[node]["links"] if l["name"] == ifname)


@pytest.fixture
def cluster(lab):
    """Parts 5-6: a swarm of three hosts, overlay ov1, c1 on host1 and c3 on host3."""
    for name in ("host1", "host2", "host3"):
        lab.docker_host(name)
    lab.docker("swarm init", host="host1")
    token = lab.docker("swarm join-token -q worker", host="host1").strip()
    for name in ("host2", "host3"):
        lab.docker(f"swarm join --token {token} 198.51.100.10:2377", host=name)
    lab.docker("network create -d overlay --attachable ov1", host="host1")
    lab.docker("run -dit --name c1 --network ov1 busybox", host="host1")
    lab.docker("run -dit --name c3 --network ov1 busybox", host="host3")
    assert lab.docker("exec c1 ping -c1 -W1 c3", host="host1").exit_code == 0   # c1 knows c3's MAC
    return lab


def test_lost_entry(cluster):
    lab, ex = cluster, exercises.LOST_ENTRY
    daemon1 = lab.docker_host("host1")
    netns = daemon1.netns_of("ov1")
    ex.start(lab)
    assert "does not know where 02:42:0a:00:01:03 (c3) lives" in ex.first_problem(lab)[1]
    daemon1.nsenter(netns, "bridge fdb append 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.11 self permanent")
    assert "to 198.51.100.11, but c3 lives on host3" in ex.first_problem(lab)[1]   # wrong host
    ex.start(lab)                                                    # that entry goes with the reset
    assert "02:42:0a:00:01:03 dst" not in daemon1.nsenter(netns, "bridge fdb show dev vxlan0").output
    daemon1.nsenter(netns, "bridge fdb append 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.12 self permanent")
    assert "answers ARP itself (proxy)" in ex.first_problem(lab)[1]
    assert lab.docker("exec c1 ping -c1 -W1 c3", host="host1").exit_code   # the FDB entry alone: no
    daemon1.nsenter(netns, "ip neigh replace 10.0.1.3 lladdr 02:42:0a:00:01:04 dev vxlan0 nud permanent")
    assert "but c3's is 02:42:0a:00:01:03" in ex.first_problem(lab)[1]
    ex.start(lab)                                                    # the wrong neighbour goes too
    assert "10.0.1.3" not in daemon1.nsenter(netns, "ip neigh show dev vxlan0").output
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)


def test_lost_entry_makes_c1_and_c3_again(cluster):
    lab, ex = cluster, exercises.LOST_ENTRY
    lab.docker("rm -f c3", host="host3")
    lab.docker("stop c1", host="host1")
    ex.start(lab)
    assert lab.docker("inspect -f '{{.State.Running}}' c1", host="host1").strip() == "true"
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    lab.docker("rm -f c3", host="host3")
    assert "c3 is not running on host3" in ex.first_problem(lab)[1]


def test_second_overlay(cluster):
    lab, ex = cluster, exercises.SECOND_OVERLAY
    ex.start(lab)
    assert "no network ov2 on the manager" in ex.first_problem(lab)[1]
    lab.docker("network create -d overlay --subnet 10.20.0.0/24 ov2", host="host1")
    assert "not attachable" in ex.first_problem(lab)[1]
    ex.start(lab)                                                    # ov2 removed
    lab.docker("network create -d overlay --attachable --subnet 10.20.0.0/24 ov2", host="host1")
    lab.docker("run -dit --name db --network ov2 busybox", host="host2")
    lab.docker("run -dit --name app --network ov2 busybox", host="host3")
    lab.docker("network connect ov2 c1", host="host1")               # wrong: c1 let in
    assert "c1 (on ov1) reaches db" in ex.first_problem(lab)[1]
    ex.start(lab)                                                    # db, app and ov2 gone, c1 left alone
    assert {"db", "app"}.isdisjoint({*get_host(lab, "host2").containers, *get_host(lab, "host3").containers})
    assert list(get_host(lab, "host1").containers["c1"].endpoints) == ["ov1"]
    assert not ex.passed(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)
