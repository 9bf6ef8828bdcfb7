"""Notebook 04's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

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
