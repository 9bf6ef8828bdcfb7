"""Notebooks 06 and 07's overlay exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state.
(Traffic is bounded: the checkers' pings are -c1 -W1 or less.)"""

from __future__ import annotations

import time

import pytest

from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise
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


# --- every step catches a learner's mistake (tests/course/mistakes.py) -------------------------------
def _host3_vxlan_wrong_vni(lab):
    lab["host3"].remove_link("vxlan0")
    lab["host3"].add_vxlan("vxlan0", 24, local="198.51.100.12", dev="eth0", port=4789, mtu=1450, master="ovbr0")
    lab["host3"].add_fdb(ZEROS, "vxlan0", dst="198.51.100.10")
    lab["host3"].add_fdb(ZEROS, "vxlan0", dst="198.51.100.11")


def _host2_forgets_host3(lab):
    lab["host2"].remove_fdb(ZEROS, "vxlan0", dst="198.51.100.12")


def _host1_entry_with_a1s_mac(lab):
    lab["host1"].remove_fdb(ZEROS, "vxlan0", dst="198.51.100.12")
    lab["host1"].add_fdb("02:42:0a:09:00:01", "vxlan0", dst="198.51.100.12")


def _host1_entry_with_the_port_as_vni(lab):
    lab["host1"].remove_fdb(ZEROS, "vxlan0", dst="198.51.100.12")
    lab["host1"].add_fdb(ZEROS, "vxlan0", dst="198.51.100.12", vni=4789)


A3_REACHES_A1 = Mistakes(
    exercises.A3_REACHES_A1,
    Mistake(0, _host3_vxlan_wrong_vni, "host3 has no vxlan0 with VNI 42", "host3's vxlan0 made again with VNI 24"),
    Mistake(1, _host2_forgets_host3, "a3 does not reach a2", "host2's flooding entry towards host3 removed"),
    Mistake(2, _host1_entry_with_a1s_mac, "host3 is not one of them",
            "the entry towards host3 names a1's MAC, not a3's (nor all zeros)"),
    Mistake(3, _host1_entry_with_the_port_as_vni, "a3 gets no answer from a1",
            "the entry towards host3 carries VNI 4789 (the UDP port), not the overlay's 42"),
)


def _mtu_on_the_host_end(lab):
    lab["a1"].set_link("eth0", mtu=1500)
    lab["host1"].set_link("veth-a1", mtu=1450)


def _jumbo_underlay(lab):
    lab["host1"].set_link("eth0", mtu=1550)


def _a1_mtu_too_small(lab):
    lab["a1"].set_link("eth0", mtu=1400)


def _a2_left_at_1500(lab):
    lab["a2"].set_link("eth0", mtu=1500)


A1_OUT_OF_THE_BLACK_HOLE = Mistakes(
    exercises.A1_OUT_OF_THE_BLACK_HOLE,
    Mistake(0, _mtu_on_the_host_end, "still sends packets of up to 1500 bytes",
            "MTU 1450 set on host1's end of the veth, a1's eth0 left at 1500"),
    Mistake(1, _jumbo_underlay, "host1's eth0 has MTU 1550", "host1's eth0 raised to make room for the tunnel"),
    Mistake(2, _a1_mtu_too_small, "smaller than it needs to be", "a1's MTU 1400, more than the tunnel takes"),
    Mistake(3, _a2_left_at_1500, "a2's eth0 has MTU 1500", "a2's eth0 at MTU 1500: its 1500-byte answer falls in the hole",
            undo=lambda lab: lab["a2"].set_link("eth0", mtu=1450)),
)


@each_exercise(A3_REACHES_A1, A1_OUT_OF_THE_BLACK_HOLE)
def test_each_step_catches_a_mistake_by_hand(by_hand, cases):
    assert_each_step_catches(by_hand, cases)


def _sandbox1(lab, command: str) -> None:
    daemon1 = lab.docker_host("host1")
    assert daemon1.nsenter(daemon1.netns_of("ov1"), command).rc == 0, command


def _c1_stopped(lab):
    lab.docker("stop c1", host="host1")


def _c3_entry_to_a_typo(lab):
    _sandbox1(lab, "bridge fdb del 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.12 self")
    _sandbox1(lab, "bridge fdb append 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.120 self permanent")


def _neighbour_with_c1s_mac(lab):
    _sandbox1(lab, "ip neigh replace 10.0.1.3 lladdr 02:42:0a:00:01:02 dev vxlan0 nud permanent")


def _c3_entry_with_part2s_vni(lab):
    _sandbox1(lab, "bridge fdb del 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.12 self")
    _sandbox1(lab, "bridge fdb append 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.12 vni 42 self permanent")


LOST_ENTRY = Mistakes(
    exercises.LOST_ENTRY,
    Mistake(0, _c1_stopped, "c1 is not running on host1"),
    Mistake(1, _c3_entry_to_a_typo, "to 198.51.100.120, but c3 lives on host3", "dst 198.51.100.120, a typo"),
    Mistake(2, _neighbour_with_c1s_mac, "but c3's is 02:42:0a:00:01:03", "c1's MAC given to c3's IP"),
    Mistake(3, _c3_entry_with_part2s_vni, "c1 still gets no answer from 10.0.1.3",
            "the FDB entry carries VNI 42 (Part 2's), not ov1's"),
)


def _ov2_again(lab, create: str) -> None:
    for host, name in (("host2", "db"), ("host3", "app")):
        lab.docker(f"rm -f {name}", host=host)
    lab.docker("network rm ov2", host="host1")
    lab.docker(create, host="host1")


def _ov2_not_attachable(lab):
    _ov2_again(lab, "network create -d overlay --subnet 10.20.0.0/24 ov2")


def _ov2_on_a_16(lab):
    _ov2_again(lab, "network create -d overlay --attachable --subnet 10.20.0.0/16 ov2")
    lab.docker("run -dit --name db --network ov2 busybox", host="host2")
    lab.docker("run -dit --name app --network ov2 busybox", host="host3")


def _db_on_ov1(lab):
    lab.docker("rm -f db", host="host2")
    lab.docker("run -dit --name db --network ov1 busybox", host="host2")


def _app_without_a_terminal(lab):
    lab.docker("rm -f app", host="host3")
    lab.docker("run -d --name app --network ov2 busybox", host="host3")   # sh exits at once, without -it
    for _ in range(50):                                                 # (as the learner sees it a moment later)
        if lab.docker("inspect -f '{{.State.Running}}' app", host="host3").strip() == "false":
            return
        time.sleep(0.1)
    raise AssertionError("app, run without -it, did not exit")


VXLAN_BLOCKED = "INPUT -p udp --dport 4789 -j DROP"


def _host2_firewall_drops_vxlan(lab):
    lab["host2"].run(f"iptables -I {VXLAN_BLOCKED}", check=True)


def _c1_on_ov2(lab):
    lab.docker("network connect ov2 c1", host="host1")


SECOND_OVERLAY = Mistakes(
    exercises.SECOND_OVERLAY,
    Mistake(0, _ov2_not_attachable, "ov2 is not attachable"),
    Mistake(0, _ov2_on_a_16, "ov2's subnet is 10.20.0.0/16"),
    Mistake(1, _db_on_ov1, "db is not on ov2", "db run on ov1"),
    Mistake(2, _app_without_a_terminal, "app is not running", "docker run -d without -it: sh exits at once"),
    Mistake(3, _host2_firewall_drops_vxlan, "app cannot reach db by name",
            "host2's firewall drops the overlay's UDP 4789 (everything else in place)",
            undo=lambda lab: lab["host2"].run(f"iptables -D {VXLAN_BLOCKED}", check=True)),
    Mistake(4, _c1_on_ov2, "c1 (on ov1) reaches db", "c1 connected to ov2 as well"),
)


@each_exercise(LOST_ENTRY, SECOND_OVERLAY)
def test_each_step_catches_a_mistake_in_the_swarm(cluster, cases):
    assert_each_step_catches(cluster, cases)
