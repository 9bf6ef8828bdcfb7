"""Notebook 05's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

import pytest

from nethelpers.docker import get_host
from nethelpers.exercises import macvlan as exercises

LAN = ("network create -d macvlan --subnet 198.51.100.0/24 --gateway 198.51.100.1 "
       "--ip-range 198.51.100.128/25 -o parent=eth0 lan")



@pytest.fixture
def lan_lab(lab):
    """As in the notebook: docker-host on the LAN, with the macvlan network lan (the exercises'
    first cells make mac1, the shim, v1 and v2)."""
    lab.docker_host()
    lab.docker(LAN)
    return lab


def test_host_reaches_mac1(lan_lab):
    lab, ex = lan_lab, exercises.HOST_REACHES_MAC1
    ex.start(lab)
    host = lab["docker-host"]
    assert "through the shim" in ex.first_problem(lab)[1]
    host.add_route("198.51.100.50/32", dev="eth0")          # wrong: past the macvlan switch
    assert "out of eth0, past the macvlan switch" in ex.first_problem(lab)[1]
    ex.start(lab)                                           # the reset takes that route away
    host.add_route("198.51.100.0/26", dev="shim")           # another right answer: a wider route
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)


def test_host_reaches_mac1_resets_a_removed_shim_and_a_hairpin(lan_lab):
    lab, ex = lan_lab, exercises.HOST_REACHES_MAC1
    ex.start(lab)
    lab["docker-host"].remove_link("shim")
    lab["docker-host"].add_macvlan("shim", "eth0", mode="private")
    assert "is in private mode" in ex.first_problem(lab)[1]
    lab["router"].run("bridge link set dev docker-host hairpin on", check=True)
    lab.remove_node("mac1")
    ex.start(lab)                                           # mac1 made again at once, MAC and all
    assert [h for _, h in ex.problems(lab)][:2] == [None, None]
    assert "hairpin on" not in lab["router"].run("bridge -d link show dev docker-host").stdout
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)


def test_www_on_the_lan(lan_lab):
    lab, ex = lan_lab, exercises.WWW_ON_THE_LAN
    ex.start(lab)
    assert "there is no container www" in ex.first_problem(lab)[1]
    lab.docker("run -d --name www --network lan nginx")
    assert "from Docker's --ip-range, not 198.51.100.200" in ex.first_problem(lab)[1]
    lab.docker("rm -f www")
    lab.docker("run -d --name www --network lan --ip 198.51.100.200 busybox")
    assert "not a web server" in ex.first_problem(lab)[1]     # runs busybox, or has stopped already
    ex.start(lab)
    lab.docker("run -d --name other --network lan --ip 198.51.100.200 nginx")   # holds the address
    ex.start(lab)                                           # ... and goes with the reset
    assert "other" not in get_host(lab).containers
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    ex.start(lab)
    assert not ex.passed(lab)


def test_v1_talks_to_v2(lan_lab):
    lab, ex = lan_lab, exercises.V1_TALKS_TO_V2
    ex.start(lab)
    lab["v1"].run("ip link set eth0 type macvlan mode bridge", check=True)   # half of it
    assert ex.first_problem(lab)[1].startswith("v2's eth0 is a macvlan in vepa mode")
    lab["router"].run("bridge link set dev docker-host hairpin on", check=True)
    assert "hairpin mode" in ex.first_problem(lab)[1]
    ex.start(lab)
    assert [h for _, h in ex.problems(lab)][:2] == [None, None]
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)
    lab.remove_node("v2")
    assert "there is no node v2" in ex.first_problem(lab)[1]
    ex.start(lab)
    ex.start(lab)
    assert not ex.passed(lab)
