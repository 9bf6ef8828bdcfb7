"""The exercise framework (start = reset, check, solve, the solutions switch) on notebook 01's exercises."""

from __future__ import annotations

import pytest

from nethelpers import world
from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise, forwarding
from nethelpers.exercises import Exercise, ExerciseError, bridge, docker_host


@pytest.fixture
def myhost(lab):
    """What notebook 01 has built when its exercises begin (the parts they rely on)."""
    host = world.add_host(lab, "myhost")
    host.add_bridge("br0", address="10.0.0.1/24")
    app2 = lab.add_node("app2", kind="container", parent="myhost")
    lab.add_veth("myhost:veth2", "app2:eth0", master="br0")
    app2.add_address("eth0", "10.0.0.3/24")
    app2.add_route("default", via="10.0.0.1")
    host.sysctl("net.ipv4.ip_forward", 1)
    host.run("iptables -t nat -A POSTROUTING -s 10.0.0.0/24 ! -o br0 -j MASQUERADE", check=True)
    return lab


def test_start_resets_an_attempt_and_solve_works_on_top_of_a_half_done_one(myhost, capsys, monkeypatch):
    monkeypatch.delenv("NETHELPERS_SOLUTIONS", raising=False)
    ex = bridge.OWN_WAY_OUT
    ex.start(myhost)
    myhost.add_veth("myhost:veth9", "app3:eth0")            # half done: not on br0, no address
    assert not ex.passed(myhost)
    ex.start(myhost)                                         # reset: app3 is empty again
    assert [l["name"] for l in myhost.snapshot(["app3"])["app3"]["links"]] == ["lo"]
    myhost.add_veth("myhost:veth3", "app3:eth0")             # the solution's own first step, half done
    ex.solve(myhost)                                         # its add_veth fails: it starts afresh
    assert ex.passed(myhost)
    assert capsys.readouterr().out.rstrip().endswith("solved.")


def test_check_applies_the_solution_only_in_solutions_mode(myhost, capsys, monkeypatch):
    ex = bridge.PUBLISH_APP2
    monkeypatch.delenv("NETHELPERS_SOLUTIONS", raising=False)
    ex.start(myhost)
    ex.check(myhost)
    out = capsys.readouterr().out
    assert "✗ a DNAT rule on myhost sends port 9090" in out and "solved" not in out
    monkeypatch.setenv("NETHELPERS_SOLUTIONS", "1")
    ex.check(myhost)
    out = capsys.readouterr().out
    assert out.startswith("(NETHELPERS_SOLUTIONS is set") and out.rstrip().endswith("solved.")
    monkeypatch.setenv("NETHELPERS_SOLUTIONS", "0")
    ex.start(myhost)
    assert not ex.passed(myhost)


def test_show_solution_is_the_code_a_learner_would_type_folded_in_a_notebook():
    solution = bridge.C5_BY_NAME.show_solution()
    assert str(solution) == 'lab.docker("network connect bridge1 c5")'
    assert solution._repr_html_().startswith("<details><summary>Reference solution — c5 reaches c3 by name")


def test_an_exercise_whose_checker_passes_at_the_start_is_refused(lab):
    always = Exercise("nothing to do", [("true", lambda lab: None)])
    with pytest.raises(ExerciseError, match="passes before anything was done"):
        always.start(lab)
    wrong = Exercise("wrong answer", [("a node x", lambda lab: None if "x" in {n.name for n in lab.nodes()}
                                       else "make x")], solution=lambda lab: None)
    with pytest.raises(ExerciseError, match="reference solution does not pass"):
        wrong.solve(lab)


# --- every step catches a learner's mistake (tests/course/mistakes.py) -------------------------------
def _app3_gone(lab):
    lab.remove_node("app3")


def _app3_cable_removed(lab):
    lab["myhost"].remove_link("veth3")


def _veth3_off_the_bridge(lab):
    lab["myhost"].set_link("veth3", nomaster=True)


def _app3_address_removed(lab):
    lab["app3"].run("ip addr flush dev eth0", check=True)


def _app3_route_via_itself(lab):
    lab["app3"].run("ip route replace default via 10.0.0.5", check=True)


OWN_WAY_OUT = Mistakes(
    bridge.OWN_WAY_OUT,
    Mistake(0, _app3_gone, "there is no node app3"),
    Mistake(1, _app3_cable_removed, "app3 has no eth0"),
    Mistake(2, _veth3_off_the_bridge, "not plugged into the bridge br0"),
    Mistake(3, _app3_address_removed, "app3's eth0 has no address in 10.0.0.0/24"),
    Mistake(4, _app3_route_via_itself, "it should go via the bridge, 10.0.0.1"),
    Mistake(5, forwarding("myhost", False), "are ip_forward and the MASQUERADE rule on myhost still in place?",
            undo=forwarding("myhost", True)),
)


def _dnat_to_the_wrong_port(lab):
    lab["myhost"].run("iptables -t nat -F PREROUTING", check=True)
    lab["myhost"].run("iptables -t nat -A PREROUTING -p tcp --dport 9090 -j DNAT --to-destination 10.0.0.3:8080",
                      check=True)


def _web_server_stopped(lab):
    lab["app2"].run(["pkill", "-f", "nethelpers.programs.web"], check=True)


PUBLISH_APP2 = Mistakes(
    bridge.PUBLISH_APP2,
    Mistake(0, _dnat_to_the_wrong_port, "does not send traffic to app2's web server at 10.0.0.3:80"),
    Mistake(1, _web_server_stopped, "lan-client still gets no answer from app2"),
)


@each_exercise(OWN_WAY_OUT, PUBLISH_APP2)
def test_each_step_catches_a_mistake(myhost, cases):
    assert_each_step_catches(myhost, cases)


@pytest.fixture
def bridge1(docker_lab):
    """What notebook 01 has built when C5_BY_NAME begins: c3 on the user-defined network bridge1."""
    docker_lab.docker("network create bridge1")
    docker_lab.docker("run -dit --name c3 --network bridge1 busybox")
    return docker_lab


def _c5_on_a_network_of_its_own(lab):
    lab.docker("network disconnect bridge1 c5")
    if "bridge2" not in docker_host(lab).networks:
        lab.docker("network create bridge2")
    lab.docker("network connect bridge2 c5")               # a user-defined network, but not c3's


def _c5_resolv_conf_edited(lab):
    lab["c5"].write_etc("resolv.conf", "nameserver 8.8.8.8\n")  # "a real DNS server", unreachable here


def _icmp_dropped_in_docker_user(lab):
    lab["docker-host"].run("iptables -I DOCKER-USER -p icmp -j DROP", check=True)


C5_BY_NAME = Mistakes(
    bridge.C5_BY_NAME,
    Mistake(0, _c5_on_a_network_of_its_own, "c5 is not on c3's network, bridge1"),
    Mistake(1, _c5_resolv_conf_edited, "is 127.0.0.11 in c5's /etc/resolv.conf?"),
    Mistake(2, _icmp_dropped_in_docker_user, "c5 resolves c3 but cannot ping it",
            undo=lambda lab: lab["docker-host"].run("iptables -D DOCKER-USER -p icmp -j DROP", check=True)),
)


@each_exercise(C5_BY_NAME)
def test_each_step_catches_a_mistake_on_docker(bridge1, cases):
    assert_each_step_catches(bridge1, cases)
