"""Notebook 03's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

import pytest

from nethelpers import world
from nethelpers.exercises import host as exercises



@pytest.fixture
def host_lab(lab):
    """As in the notebook: myhost takes 198.51.100.10, the Docker host .11, with h1 on port 80."""
    world.add_host(lab, "myhost")
    lab.docker("run -d --name h1 --network host nginx")
    return lab


def test_h2_on_8081(host_lab):
    lab, ex = host_lab, exercises.H2_ON_8081
    ex.start(lab)
    assert "`docker rm h2`" in ex.first_problem(lab)[1]  # the exited h2 still holds its name
    lab.docker("rm h2")
    lab.docker("run -d --name h2 --network host busybox python3 -m http.server 8081 --bind 127.0.0.1")
    assert "bound to 127.0.0.1 only" in ex.first_problem(lab)[1]
    ex.start(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)


def test_h2_setup_brings_h1_back(host_lab):
    lab, ex = host_lab, exercises.H2_ON_8081
    lab.docker("rm -f h1")
    ex.start(lab)
    assert ex.problems(lab)[0][1] is None  # h1 serves port 80 again


def test_publish_8080(host_lab):
    lab, ex = host_lab, exercises.PUBLISH_8080
    ex.start(lab)
    lab.docker("run -d --name web --network host nginx")  # exits: port 80 is h1's
    assert "in host mode nginx needs the host's port 80" in ex.first_problem(lab)[1]
    lab.docker("rm web")
    lab.docker("run -d --name web -p 8082:80 nginx")
    assert "8082->80" in ex.first_problem(lab)[1]
    ex.start(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)


def test_local_only(host_lab):
    lab, ex = host_lab, exercises.LOCAL_ONLY
    ex.start(lab)
    lab.docker("run -d --name admin --network host busybox python3 -m http.server 9001")
    assert "includes the LAN address" in ex.first_problem(lab)[1]
    lab.docker("rm -f admin")  # another right answer: another image, the options in another order
    lab.docker("run -d --name admin --network host alpine python3 -m http.server --bind 127.0.0.1 9001")
    assert ex.passed(lab)
    ex.start(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
