"""Notebook 02's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise
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


# --- every step catches a learner's mistake (tests/course/mistakes.py) -------------------------------
def _worker_run_on_backend(lab):
    lab.docker("rm -f worker")
    lab.docker("run -dit --name worker --network backend busybox")  # Docker does the wiring


def _worker_veth_both_ends_inside(lab):
    lab["worker"].remove_link("eth0")                       # docker-host's vethworker goes with it
    lab.add_veth("worker:eth0", "worker:veth0")


def _worker_on_docker0(lab):
    lab["docker-host"].set_link("vethworker", master="docker0")


def _worker_prefix_24(lab):
    lab["worker"].remove_address("eth0", "172.18.255.254/16")  # its default route goes with it
    lab["worker"].add_address("eth0", "172.18.255.254/24")


def _worker_takes_the_gateway(lab):
    lab["worker"].remove_address("eth0", "172.18.255.254/16")
    lab["worker"].add_address("eth0", "172.18.0.1/16", allow_overlap=True)


def _worker_no_default_route(lab):
    lab["worker"].remove_route("default", via="172.18.0.1")


def _worker_default_via_a_neighbour(lab):
    lab["worker"].run("ip route replace default via 172.18.0.254", check=True)


def _host_end_down(lab):
    lab["docker-host"].set_link("vethworker", up=False)


WIRE_WORKER = Mistakes(
    exercises.WIRE_WORKER,
    Mistake(0, _worker_run_on_backend, "worker runs with --network backend, not none"),
    Mistake(1, _worker_veth_both_ends_inside, "whose other end is in worker"),
    Mistake(2, _worker_on_docker0, "is on docker0, the default bridge"),
    Mistake(3, _worker_prefix_24, "has the wrong prefix length: use /16"),
    Mistake(3, _worker_takes_the_gateway, "172.18.0.1 is backend's gateway"),
    Mistake(4, _worker_no_default_route, "worker has no default route"),
    Mistake(4, _worker_default_via_a_neighbour, "it should go via backend's gateway, 172.18.0.1"),
    Mistake(5, _host_end_down, "worker still gets no answer from http://203.0.113.10/"),
)


def _cache_on_the_default_bridge(lab):
    lab.docker("rm -f cache")
    lab.docker("run -d --name cache nginx")


def _both_on_docker0(lab):
    lab["batch"].remove_link("eth0")                        # the private cable
    for i, name in enumerate(("batch", "cache")):
        lab.add_veth(f"docker-host:veth{name}", f"{name}:eth0", master="docker0")
        lab[name].add_address("eth0", f"172.17.0.{200 + i}/16")


def _cache_outside_the_30(lab):
    lab["cache"].remove_address("eth0", "10.99.0.2/30")
    lab["cache"].add_address("eth0", "10.99.0.5/30")        # 10.99.0.4/30: the next subnet


def _cache_end_down(lab):
    lab["cache"].set_link("eth0", up=False)


def _batch_also_on_docker0(lab):
    lab.add_veth("docker-host:vethbatch", "batch:eth1", master="docker0")


PRIVATE_CABLE = Mistakes(
    exercises.PRIVATE_CABLE,
    Mistake(0, _cache_on_the_default_bridge, "cache runs with --network"),
    Mistake(1, _both_on_docker0, "there is no veth pair between batch and cache"),
    Mistake(2, _cache_outside_the_30, "not one subnet"),
    Mistake(3, _cache_end_down, "batch gets no page from cache's web server at http://10.99.0.2/"),
    Mistake(4, _batch_also_on_docker0, "batch has more than lo and the private cable: eth1"),
)


@each_exercise(WIRE_WORKER, PRIVATE_CABLE)
def test_each_step_catches_a_mistake(docker_lab, cases):
    assert_each_step_catches(docker_lab, cases)
