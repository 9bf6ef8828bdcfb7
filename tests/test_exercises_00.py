"""Notebook 00's exercises on a real lab: a third node, then a route through the middle one."""

from __future__ import annotations

import pytest

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
