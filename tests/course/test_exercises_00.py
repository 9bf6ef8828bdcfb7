"""Notebook 00's exercises on a real lab: a third node, then a route through the middle one."""

from __future__ import annotations

import pytest

from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise
from nethelpers.exercises import start as exercises


@pytest.fixture
def two_nodes(lab):
    """What notebook 00 has built when its exercises begin."""
    a, b = lab.add_node("a"), lab.add_node("b")
    lab.add_veth("a:eth0", "b:eth0")
    a.add_address("eth0", "10.0.0.1/24")
    b.add_address("eth0", "10.0.0.2/24")
    return lab


def test_third_node_hints_step_by_step_and_accepts_another_right_answer(two_nodes):
    lab, ex = two_nodes, exercises.THIRD_NODE
    ex.start(lab)
    assert "lab.add_veth(\"b:eth1\", \"c:eth0\")" in ex.first_problem(lab)[1]
    lab.add_veth("b:to-c", "c:eth0")                         # another name for b's end is fine
    assert ex.first_problem(lab)[1].startswith("b's to-c has no address in 10.0.1.0/24")
    lab["b"].add_address("to-c", "10.0.1.1/24")
    lab["c"].add_address("eth0", "10.0.1.9/16", allow_overlap=True)
    assert "wrong prefix length" in ex.first_problem(lab)[1]
    ex.start(lab)                                            # the reset: c empty, b without its end
    assert [l["name"] for l in lab.snapshot(["b"])["b"]["links"]] == ["lo", "eth0"]
    lab.add_veth("b:to-c", "c:eth0")
    lab["b"].add_address("to-c", "10.0.1.254/24")
    lab["c"].add_address("eth0", "10.0.1.7/24")
    assert ex.passed(lab)


def test_route_through_b_names_each_missing_piece(two_nodes):
    lab, ex = two_nodes, exercises.ROUTE_THROUGH_B
    ex.start(lab)
    assert "net.ipv4.ip_forward is 1" in ex.first_problem(lab)[1]
    lab["b"].sysctl("net.ipv4.ip_forward", 1)
    assert "a has no route to 10.0.1.0/24" in ex.first_problem(lab)[1]
    lab["a"].add_route("10.0.1.0/24", via="10.0.0.2")
    assert "the reply must find its way back" in ex.first_problem(lab)[1]
    lab["c"].add_route("10.0.0.0/24", via="10.0.1.1")       # a route, not the default: right too
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab) and lab["b"].sysctl("net.ipv4.ip_forward") == "0"


# --- every step catches a learner's mistake (tests/course/mistakes.py) -------------------------------
def _c_cabled_to_a(lab):
    lab["c"].remove_link("eth0")                             # b's end goes with it
    lab.add_veth("a:eth1", "c:eth0")


def _b_end_with_a_25(lab):
    lab["b"].remove_address("eth1", "10.0.1.1/24")
    lab["b"].add_address("eth1", "10.0.1.1/25")


def _c_on_another_subnet(lab):
    lab["c"].remove_address("eth0", "10.0.1.2/24")
    lab["c"].add_address("eth0", "10.0.2.2/24")


def _c_eth0_down(lab):
    lab["c"].set_link("eth0", up=False)


THIRD_NODE = Mistakes(
    exercises.THIRD_NODE,
    Mistake(0, _c_cabled_to_a, "c's eth0 is a veth whose other end is not in b"),
    Mistake(1, _b_end_with_a_25, "b's address 10.0.1.1/25 has the wrong prefix length"),
    Mistake(2, _c_on_another_subnet, "c's eth0 has no address in 10.0.1.0/24"),
    Mistake(3, _c_eth0_down, "c cannot ping b's 10.0.1.1"),
)


def _b_not_forwarding(lab):
    lab["b"].sysctl("net.ipv4.ip_forward", 0)


def _a_route_without_gateway(lab):
    lab["a"].remove_route("10.0.1.0/24", via="10.0.0.2")
    lab["a"].add_route("10.0.1.0/24", dev="eth0")            # "10.0.1.0/24 is out there": no gateway


def _a_route_via_a_typo(lab):
    lab["a"].remove_route("10.0.1.0/24", via="10.0.0.2")
    lab["a"].add_route("10.0.1.0/24", via="10.0.0.20")       # ip route get says "via 10.0.0.20"


def _c_no_way_back(lab):
    lab["c"].remove_route("default", via="10.0.1.1")


def _c_default_via_a_typo(lab):
    lab["c"].run("ip route replace default via 10.0.1.10", check=True)


def _b_forward_policy_drop(lab):
    lab["b"].run("iptables -P FORWARD DROP", check=True)      # as Docker sets it on its hosts


ROUTE_THROUGH_B = Mistakes(
    exercises.ROUTE_THROUGH_B,
    Mistake(0, _b_not_forwarding, "net.ipv4.ip_forward is 1"),
    Mistake(1, _a_route_without_gateway, "a has no route to 10.0.1.0/24 through b (10.0.0.2)"),
    Mistake(1, _a_route_via_a_typo, "a has no route to 10.0.1.0/24 through b (10.0.0.2)"),
    Mistake(2, _c_no_way_back, "the reply must find its way back too"),
    Mistake(2, _c_default_via_a_typo, "through b's 10.0.1.1"),
    Mistake(3, _b_forward_policy_drop, "a still cannot ping c (10.0.1.2)",
            undo=lambda lab: lab["b"].run("iptables -P FORWARD ACCEPT", check=True)),
)


@each_exercise(THIRD_NODE, ROUTE_THROUGH_B)
def test_each_step_catches_a_mistake(two_nodes, cases):
    assert_each_step_catches(two_nodes, cases)
