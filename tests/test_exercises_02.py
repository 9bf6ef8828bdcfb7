"""Notebook 02's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

from nethelpers.exercises import none as exercises


def backend_bridge(lab) -> str:
    return "br-" + lab.docker("network inspect -f '{{.Id}}' backend")[:12]


def test_wire_worker_hints_then_solution_then_reset(docker_lab):
    lab, ex = docker_lab, exercises.WIRE_WORKER
    ex.start(lab)
    assert not ex.passed(lab)
    lab.add_veth("docker-host:vethworker", "worker:eth0", master="docker0")  # the wrong bridge
    step, hint = ex.first_problem(lab)
    assert "plugged into backend's bridge" in step and "docker0" in hint and backend_bridge(lab) in hint
    ex.start(lab)  # from a half-done attempt: a fresh worker, no cable left on docker-host
    assert ex.problems(lab)[1][1].startswith("worker has no eth0")
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)  # from the solved state
    assert not ex.passed(lab)


def test_wire_worker_accepts_another_right_answer(docker_lab):
    lab, ex = docker_lab, exercises.WIRE_WORKER
    ex.start(lab)
    lab.add_veth("docker-host:w0", "worker:eth0", master=backend_bridge(lab))
    lab["worker"].add_address("eth0", "172.18.0.9/16")
    lab["worker"].add_route("default", via="172.18.0.1")
    assert ex.passed(lab)


def test_wire_worker_rejects_the_wrong_prefix(docker_lab):
    lab, ex = docker_lab, exercises.WIRE_WORKER
    ex.start(lab)
    lab.add_veth("docker-host:vethworker", "worker:eth0", master=backend_bridge(lab))
    lab["worker"].add_address("eth0", "172.18.0.9/24")
    step, hint = ex.first_problem(lab)
    assert "wrong prefix length" in hint and "/16" in hint


def test_private_cable_hints_then_solution_then_reset(docker_lab):
    lab, ex = docker_lab, exercises.PRIVATE_CABLE
    ex.start(lab)
    assert "no veth pair between batch and cache" in ex.first_problem(lab)[1]
    lab.add_veth("batch:eth0", "cache:eth0")
    lab["batch"].add_address("eth0", "10.99.0.1/30")
    lab["cache"].add_address("eth0", "10.99.1.2/30")  # not the same subnet
    assert "not one subnet" in ex.first_problem(lab)[1]
    ex.start(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)


def test_private_cable_rejects_a_way_out(docker_lab):
    lab, ex = docker_lab, exercises.PRIVATE_CABLE
    ex.start(lab)
    lab.add_veth("batch:p2p", "cache:p2p")
    lab["batch"].add_address("p2p", "192.168.7.1/24")
    lab["cache"].add_address("p2p", "192.168.7.2/24")
    lab.add_veth("docker-host:vethbatch", "batch:eth1", master="docker0")  # one cable too many
    step, hint = ex.first_problem(lab)
    assert "the cable is all they have" in step and "eth1" in hint
