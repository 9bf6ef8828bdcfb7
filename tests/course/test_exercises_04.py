"""Notebook 04's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

import re
import time

from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise, forwarding
from nethelpers.docker import get_host
from nethelpers.exercises import container as exercises


def test_pod_back(docker_lab):
    lab, ex = docker_lab, exercises.POD_BACK
    ex.start(lab)  # from nothing: the pod of Part 4, owner gone
    assert "namespace of the removed owner" in ex.first_problem(lab)[1]
    lab.docker("rm -f web sidecar")
    lab.docker("run -dit --name pod2 busybox")  # no -p on the owner
    lab.docker("run -d --name web --network container:pod2 nginx")
    assert "publishes no port" in ex.first_problem(lab)[1]
    ex.start(lab)  # from a half-done attempt with another owner
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)  # from the solved state
    assert not ex.passed(lab)


def test_pod_back_accepts_another_owner(docker_lab):
    lab, ex = docker_lab, exercises.POD_BACK
    ex.start(lab)
    lab.docker("rm -f web sidecar")
    lab.docker("run -dit --name owner -p 8080:80 busybox")
    lab.docker("run -d --name web --network container:owner nginx")
    lab.docker("run -dit --name sidecar --network container:web busybox")  # joining a joiner: the same pod
    assert ex.passed(lab)


def test_debug_sidecar(docker_lab):
    lab, ex = docker_lab, exercises.DEBUG_SIDECAR
    ex.start(lab)  # from nothing: the setup builds the pod
    lab.docker("run -dit --name debug busybox")  # its own namespace
    assert "network namespace of its own" in ex.first_problem(lab)[1]
    ex.start(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)


def _wait_until_exited(lab, name):
    deadline = time.monotonic() + 5
    while get_host(lab).containers[name].running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not get_host(lab).containers[name].running


def test_a_container_that_exits_between_two_steps_gets_its_hint_not_a_crash(docker_lab):
    """busybox without -it exits at once: a step may see it running and the next one not (the later steps
    once took it for granted, an AttributeError)."""
    lab = docker_lab
    exercises.DEBUG_SIDECAR.start(lab)
    lab.docker("run -d --name debug --network container:pause busybox")
    _wait_until_exited(lab, "debug")
    for _, step in exercises.DEBUG_SIDECAR.steps[1:]:
        assert "debug exists but is not running" in step(lab)
    exercises.POD_BACK.start(lab)
    lab.docker("rm -f web sidecar")
    lab.docker("run -dit --name owner -p 8080:80 busybox")
    lab.docker("run -d --name web --network container:owner nginx")
    lab.docker("run -dit --name sidecar --network container:owner busybox")
    lab.docker("stop owner")
    for _, step in [exercises.POD_BACK.steps[i] for i in (2, 3, 5)]:   # (the ones that read the owner)
        assert "web's owner owner is not running" in step(lab)


# --- every step catches a learner's mistake (tests/course/mistakes.py) -------------------------------
def _pod_node(lab):
    """The network namespace (node) of the pod's owner, pause."""
    return lab.node(get_host(lab).containers["pause"].node)


def _web_stopped(lab):
    lab.docker("stop web")


def _new_owner_but_the_old_web(lab):
    lab.docker("rm -f pause")                                   # a new owner, but web and sidecar kept:
    lab.docker("run -dit --name pause2 -p 8080:80 busybox")      # they stay in the old, removed namespace


def _owner_without_network(lab):
    lab.docker("rm -f web sidecar pause")
    lab.docker("run -dit --name pause --network none -p 8080:80 busybox")
    lab.docker("run -d --name web --network container:pause nginx")
    lab.docker("run -dit --name sidecar --network container:pause busybox")


def _ports_swapped(lab):
    lab.docker("rm -f web sidecar pause")
    lab.docker("run -dit --name pause -p 80:8080 busybox")       # container port first: the wrong way round
    lab.docker("run -d --name web --network container:pause nginx")
    lab.docker("run -dit --name sidecar --network container:pause busybox")


def _sidecar_alone(lab):
    lab.docker("rm -f sidecar")
    lab.docker("run -dit --name sidecar busybox")                # --network container:pause forgotten


MASQUERADE = "POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"


def _masquerade_deleted(lab):
    lab["docker-host"].run(f"iptables -t nat -D {MASQUERADE}", check=True)


def _masquerade_back(lab):
    lab["docker-host"].run(f"iptables -t nat -I {MASQUERADE.replace('POSTROUTING', 'POSTROUTING 1', 1)}",
                           check=True)


POD_BACK = Mistakes(
    exercises.POD_BACK,
    Mistake(0, _web_stopped, "web exists but is not running"),
    Mistake(1, _new_owner_but_the_old_web, "web still lives in the namespace of the removed owner"),
    Mistake(2, _owner_without_network, "the owner pause has no network interface"),
    Mistake(3, _ports_swapped, "pause publishes 80->8080/tcp; it should publish host port 8080 to port 80"),
    Mistake(4, forwarding("docker-host", False), "lan-client asked http://198.51.100.10:8080/ and got 'no answer",
            undo=forwarding("docker-host", True)),
    Mistake(5, _sidecar_alone, "sidecar has its own namespace"),
    Mistake(6, _masquerade_deleted, "sidecar cannot reach the internet server 203.0.113.10",
            undo=_masquerade_back),
)


def _owner_removed(lab):
    lab.docker("rm -f pause")                                    # "pause does nothing": it held the namespace


def _debug_without_a_terminal(lab):
    lab.docker("rm -f debug")
    lab.docker("run -d --name debug --network container:pause busybox")   # no -it: sh exits at once
    _wait_until_exited(lab, "debug")                             # (and the learner checks a moment later)


def _debug_alone(lab):
    lab.docker("rm -f debug")
    lab.docker("run -dit --name debug busybox")                  # --network container:pause forgotten


def _debug_joins_another(lab):
    lab.docker("rm -f debug")
    lab.docker("run -dit --name tools busybox")
    lab.docker("run -dit --name debug --network container:tools busybox")   # joined the wrong container


def _web_signal(signal):
    """Send web's server (the process listening on port 80 in the pod) ``signal``: STOP freezes it, as
    docker pause would, while docker still counts web as running."""
    def send(lab):
        listening = _pod_node(lab).run("ss -Htlnp sport = :80", check=True).stdout
        pid = re.search(r"pid=(\d+)", listening).group(1)
        _pod_node(lab).run(f"kill -{signal} {pid}", check=True)
    return send


DEBUG_SIDECAR = Mistakes(
    exercises.DEBUG_SIDECAR,
    Mistake(0, _owner_removed, "web is not running in a live pod"),
    Mistake(1, _debug_without_a_terminal, "debug exists but is not running"),
    Mistake(2, _debug_alone, "debug has a network namespace of its own"),
    Mistake(2, _debug_joins_another, "not the pod's owner pause", undo=lambda lab: lab.docker("rm -f tools")),
    Mistake(3, _web_signal("STOP"), "curl http://127.0.0.1:80/ from debug got no page from web",
            why="web's server frozen (as by docker pause)", undo=_web_signal("CONT")),
)


@each_exercise(POD_BACK, DEBUG_SIDECAR)
def test_each_step_catches_a_mistake(docker_lab, cases):
    assert_each_step_catches(docker_lab, cases)
