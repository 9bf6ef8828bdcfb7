"""Notebook 07's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

import pytest

from nethelpers import world
from nethelpers.cni import Runtime
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
