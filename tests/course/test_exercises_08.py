"""Notebook 08's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

import re

import pytest

from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise
from nethelpers import world
from nethelpers.cni import Runtime, cache
from nethelpers.errors import NotFound
from nethelpers.exercises import cnm_cni as exercises

MAPPINGS = {"portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]}



def pods(*more: dict, name: str = "pods", subnet: str = "10.22.0.0/24", bridge: str = "cni0") -> dict:
    return {"cniVersion": "1.0.0", "name": name, "plugins": [
        {"type": "bridge", "bridge": bridge, "isGateway": True,
         "ipam": {"type": "host-local", "subnet": subnet, "routes": [{"dst": "0.0.0.0/0"}]}}, *more]}


@pytest.fixture
def cni_lab(lab):
    """As in the notebook: node1 (198.51.100.10) and node2 (.11), the Kubernetes node, on the lab's LAN."""
    world.add_host(lab, "node1")
    world.add_host(lab, "node2")
    return lab


def test_port_mapping(cni_lab):
    lab, ex = cni_lab, exercises.PORT_MAPPING
    runtime = Runtime(lab, "node2")
    ex.start(lab)
    assert "pod2 is not attached through CNI yet" in ex.first_problem(lab)[1]
    runtime.add(pods(), "pod2", capability_args=MAPPINGS)                        # no portmap
    assert "add {\"type\": \"portmap\"" in ex.first_problem(lab)[1]
    ex.start(lab)                                                              # DELs it
    assert runtime.attachments() == []
    runtime.add(pods({"type": "portmap"}), "pod2", capability_args=MAPPINGS)   # no capabilities
    assert "portmap has no \"capabilities\"" in ex.first_problem(lab)[1]
    ex.start(lab)
    runtime.add(pods({"type": "portmap", "capabilities": {"portMappings": True}}), "pod2")  # no mapping
    assert "was given portMappings none" in ex.first_problem(lab)[1]
    ex.start(lab)
    # another right answer: another network, bridge and subnet
    runtime.add(pods({"type": "portmap", "capabilities": {"portMappings": True}}, name="web",
                     subnet="10.30.0.0/24", bridge="cni1"), "pod2", capability_args=MAPPINGS)
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)


def test_port_mapping_setup_brings_pod2_and_its_web_server_back(cni_lab):
    lab, ex = cni_lab, exercises.PORT_MAPPING
    ex.start(lab)
    ex.solve(lab, quiet=True)
    lab.remove_node("pod2")                    # gone, with its web server; the runtime's record stays
    assert not ex.passed(lab)
    ex.start(lab)
    assert Runtime(lab, "node2").attachments() == []
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)


def test_broken_result(cni_lab):
    lab, ex = cni_lab, exercises.BROKEN_RESULT
    with pytest.raises(NotFound, match="BROKEN_RESULT.start"):
        exercises.broken_result(lab)
    ex.start(lab)
    fixed = exercises.broken_result(lab)
    rc, answer = exercises.run_plugin(lab, "bandwidth", "ADD", dict(exercises.BANDWIDTH, prevResult=fixed))
    assert rc == 1 and "no veth peer" in answer["msg"]
    peer = exercises.link(lab, "pod3", "eth0")["peer"]
    assert ex.first_problem(lab)[1].startswith(f"{peer}, the host end of pod3's veth pair, has no tbf qdisc")
    fixed["interfaces"].insert(0, {"name": peer})      # another right answer: first, with the index moved
    fixed["ips"][0]["interface"] = 1
    rc, answer = exercises.run_plugin(lab, "bandwidth", "ADD", dict(exercises.BANDWIDTH, prevResult=fixed))
    assert rc == 0, answer
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)


def test_broken_result_resets_from_a_removed_pod3(cni_lab):
    lab, ex = cni_lab, exercises.BROKEN_RESULT
    ex.start(lab)
    lab.remove_node("pod3")
    assert "pod3 is not plugged into node2" in ex.first_problem(lab)[1]
    ex.start(lab)
    ex.start(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)


# --- every step catches a learner's mistake (tests/course/mistakes.py) -------------------------------
def _pod2_record(lab):
    return next(r for r in Runtime(lab, "node2").attachments() if r["containerId"] == "pod2")


def _readd_pod2(conflist, capability_args):
    """DEL pod2, then ADD it again with the learner's ``conflist`` and ``capability_args``."""
    def readd(lab):
        runtime, record = Runtime(lab, "node2"), _pod2_record(lab)
        runtime.delete(cache.config_of(record), "pod2", ifname=record["ifName"])
        runtime.add(conflist, "pod2", capability_args=capability_args)
    return readd


def _pod2_deleted(lab):
    record = _pod2_record(lab)
    Runtime(lab, "node2").delete(cache.config_of(record), "pod2", ifname=record["ifName"])   # and never added again


def _nat_table_flushed(lab):
    lab["node2"].run("iptables -t nat -F", check=True)          # "clearing out" old rules: portmap's go too


def _dnat_to_port_8080(lab):
    """The DNAT rule rewritten by hand to send to pod2's port 8080 (the checker once took it for :80)."""
    rules = lab["node2"].run("iptables -t nat -S", check=True).stdout.splitlines()
    rule = next(r for r in rules if "-j DNAT" in r)
    lab["node2"].run(f"iptables -t nat -D {rule[3:]}", check=True)
    lab["node2"].run(f"iptables -t nat {rule.replace(':80', ':8080')}", check=True)


def _pod2_web_stopped(lab):
    listening = lab["pod2"].run("ss -Htlnp sport = :80", check=True).stdout
    pid = re.search(r"pid=(\d+)", listening).group(1)
    lab["pod2"].run(f"kill {pid}", check=True)


PORTMAP = {"type": "portmap", "capabilities": {"portMappings": True}}

PORT_MAPPING = Mistakes(
    exercises.PORT_MAPPING,
    Mistake(0, _pod2_deleted, "pod2 is not attached through CNI yet"),
    Mistake(1, _readd_pod2(pods({"type": "portmap"}), MAPPINGS), "portmap has no \"capabilities\""),
    Mistake(1, _readd_pod2(pods(), MAPPINGS), "your conflist runs ['bridge']: add {\"type\": \"portmap\""),
    Mistake(2, _readd_pod2(pods(PORTMAP), {"portMappings": [{"hostPort": 8080, "containerPort": 80,
                                                              "protocol": "udp"}]}),
            "the ADD of pod2 was given portMappings [{'hostPort': 8080, 'containerPort': 80, 'protocol': 'udp'}]"),
    Mistake(2, _readd_pod2(pods(PORTMAP), {"portMappings": [{"hostPort": 8080, "containerPort": 8080,
                                                              "protocol": "tcp"}]}),
            "the ADD of pod2 was given portMappings [{'hostPort': 8080, 'containerPort': 8080"),
    Mistake(3, _nat_table_flushed, "node2's nat table has no DNAT of tcp port 8080 to 10.22.0."),
    Mistake(3, _dnat_to_port_8080, "node2's nat table has no DNAT of tcp port 8080 to 10.22.0."),
    Mistake(4, _pod2_web_stopped, "curl http://198.51.100.11:8080/ from lan-client got 'no answer'"),
)


def _bandwidth_given_the_wrong_interface(lab):
    """bandwidth run on a result 'repaired' with the container's own eth0, not its host end: refused."""
    peer = exercises.link(lab, "pod3", "eth0")["peer"]
    lab["node2"].run(f"tc qdisc del dev {peer} root", check=True)   # (as before the solution)
    fixed = exercises.broken_result(lab)
    fixed["interfaces"].append({"name": "eth0"})
    rc, answer = exercises.run_plugin(lab, "bandwidth", "ADD", dict(exercises.BANDWIDTH, prevResult=fixed))
    assert rc == 1, answer


def _pod3_deleted(lab):
    Runtime(lab, "node2").delete(exercises.LAB_VETH, "pod3")    # lab-veth's DEL takes the veth pair away


BROKEN_RESULT = Mistakes(
    exercises.BROKEN_RESULT,
    Mistake(0, _pod3_deleted, "pod3 is not plugged into node2 with a veth pair"),
    Mistake(1, _bandwidth_given_the_wrong_interface, ", the host end of pod3's veth pair, has no tbf qdisc"),
)


@each_exercise(PORT_MAPPING, BROKEN_RESULT)
def test_each_step_catches_a_mistake(cni_lab, cases):
    assert_each_step_catches(cni_lab, cases)
