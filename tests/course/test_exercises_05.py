"""Notebook 05's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

import pytest

from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise
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


def test_www_with_a_command_after_nginx_serves_nothing_and_fails(lan_lab):
    """The image's name is not a web server: nginx given a command runs that command instead
    (the checker once passed "www runs a web server" on the image's name alone)."""
    lab, ex = lan_lab, exercises.WWW_ON_THE_LAN
    ex.start(lab)
    lab.docker("run -d --name www --network lan --ip 198.51.100.200 nginx sleep infinity")
    assert ex.first_problem(lab) == ("www runs a web server (nginx)",
                                     "www runs sleep infinity, not a web server: docker rm -f www, then run it again with the "
                                     "nginx image (no command after it) and -d, so that it keeps serving")


# --- every step catches a learner's mistake (tests/course/mistakes.py) -------------------------------
def _shim_in_vepa_mode(lab):
    lab["docker-host"].run("ip link set shim type macvlan mode vepa", check=True)   # ip link's default mode


def _shim_without_address(lab):
    lab["docker-host"].run("ip addr flush dev shim", check=True)


def _mac1_route_out_of_eth0(lab):
    lab["docker-host"].run("ip route replace 198.51.100.50/32 dev eth0", check=True)


def _mac1_in_vepa_mode(lab):
    lab["mac1"].run("ip link set eth0 type macvlan mode vepa", check=True)


HOST_REACHES_MAC1 = Mistakes(
    exercises.HOST_REACHES_MAC1,
    Mistake(0, _shim_in_vepa_mode, "docker-host's macvlan shim on eth0 is in vepa mode"),
    Mistake(1, _shim_without_address, "shim has no address"),
    Mistake(2, _mac1_route_out_of_eth0, "sends packets for 198.51.100.50 out of eth0, past the macvlan switch"),
    Mistake(3, _mac1_in_vepa_mode, "the route is there, but docker-host gets no answer from 198.51.100.50",
            why="mac1's macvlan in vepa mode: the shim's frames go out to the switch, which has hairpin off"),
)


def _www_on_the_default_bridge(lab):
    lab.docker("rm -f www")
    lab.docker("run -d --name www -p 80:80 nginx")


def _www_address_from_the_range(lab):
    lab.docker("rm -f www")
    lab.docker("run -d --name www --network lan nginx")                       # --ip forgotten


def _www_runs_busybox(lab):
    lab.docker("rm -f www")
    lab.docker("run -dit --name www --network lan --ip 198.51.100.200 busybox")


def _www_runs_a_command(lab):
    lab.docker("rm -f www")
    lab.docker("run -d --name www --network lan --ip 198.51.100.200 nginx sleep infinity")   # "to keep it up"


def _lan_client_holds(action):
    """lan-client given (add) or rid of (del) www's address: the address was a LAN machine's already."""
    return lambda lab: lab["lan-client"].run(f"ip addr {action} 198.51.100.200/24 dev eth0", check=True)


WWW_ON_THE_LAN = Mistakes(
    exercises.WWW_ON_THE_LAN,
    Mistake(0, _www_on_the_default_bridge, "www is not on a macvlan network (its networks: bridge)"),
    Mistake(1, _www_address_from_the_range, "from Docker's --ip-range, not 198.51.100.200"),
    Mistake(2, _www_runs_busybox, "www runs busybox, not a web server"),
    Mistake(2, _www_runs_a_command, "www runs sleep infinity, not a web server"),
    Mistake(3, _lan_client_holds("add"), "lan-client gets no page from http://198.51.100.200/",
            why="198.51.100.200 is lan-client's own address already", undo=_lan_client_holds("del")),
)


def _v2_removed(lab):
    lab.remove_node("v2")


def _hairpin_on(lab):
    lab["router"].run("bridge link set dev docker-host hairpin on", check=True)   # solved on the switch


def _v2_left_in_vepa_mode(lab):
    lab["v2"].run("ip link set eth0 type macvlan mode vepa", check=True)          # only v1 changed


def _v2_left_down(lab):
    lab["v2"].run("ip link set eth0 down", check=True)       # down to change the mode, never up again


V1_TALKS_TO_V2 = Mistakes(
    exercises.V1_TALKS_TO_V2,
    Mistake(0, _v2_removed, "there is no node v2"),
    Mistake(1, _hairpin_on, "the router's port to docker-host is in hairpin mode"),
    Mistake(2, _v2_left_in_vepa_mode, "v2's eth0 is a macvlan in vepa mode"),
    Mistake(3, _v2_left_down, "v1 and v2 are both in bridge mode but v1 gets no answer from 198.51.100.52"),
)


@each_exercise(HOST_REACHES_MAC1, WWW_ON_THE_LAN, V1_TALKS_TO_V2)
def test_each_step_catches_a_mistake(lan_lab, cases):
    assert_each_step_catches(lan_lab, cases)
