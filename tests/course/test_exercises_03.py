"""Notebook 03's exercises on a real lab: each starts failing, rejects a wrong answer with the right
hint, accepts the reference solution and another right answer, and resets from any state."""

from __future__ import annotations

import pytest

from nethelpers import world
from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise, forwarding
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
    lab.docker("run -d --name h2 --network host nicolaka/netshoot python3 -m http.server 8081 --bind 127.0.0.1")
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
    lab.docker("run -d --name admin --network host nicolaka/netshoot python3 -m http.server 9001")
    assert "includes the LAN address" in ex.first_problem(lab)[1]
    lab.docker("rm -f admin")  # another right answer: another image, the options in another order
    lab.docker("run -d --name admin --network host python:3.13-slim python3 -m http.server --bind 127.0.0.1 9001")
    assert ex.passed(lab)
    ex.start(lab)
    ex.solve(lab, quiet=True)
    assert ex.passed(lab)


# --- every step catches a learner's mistake (tests/course/mistakes.py) -------------------------------
def _h1_removed_to_make_room(lab):
    lab.docker("rm -f h1")


def _h2_on_the_bridge_with_p(lab):
    lab.docker("rm -f h2")
    lab.docker("run -d --name h2 -p 8081:80 nginx")


def _h2_on_the_default_port(lab):
    lab.docker("rm -f h2")
    lab.docker("run -d --name h2 --network host nicolaka/netshoot python3 -m http.server")  # port 8000


def _h2_on_loopback(lab):
    lab.docker("rm -f h2")
    lab.docker("run -d --name h2 --network host nicolaka/netshoot python3 -m http.server 8081 --bind 127.0.0.1")


H2_ON_8081 = Mistakes(
    exercises.H2_ON_8081,
    Mistake(0, _h1_removed_to_make_room, "h1 (nginx in host mode, port 80) is gone or has stopped"),
    Mistake(1, _h2_on_the_bridge_with_p, "not in host mode"),
    Mistake(2, _h2_on_the_default_port, "nothing listens on port 8081 of the Docker host"),
    Mistake(3, _h2_on_loopback, "is the server bound to 127.0.0.1 only?"),
)


def _web_in_host_mode(lab):
    lab.docker("rm -f web")
    lab.docker("run -d --name web --network host nginx")    # exits: port 80 is h1's


def _web_in_host_mode_on_8080(lab):
    lab.docker("rm -f web")
    lab.docker("run -d --name web --network host nicolaka/netshoot python3 -m http.server 8080")


def _web_without_a_network(lab):
    lab.docker("rm -f web")
    lab.docker("run -d --name web --network none nginx")


def _web_publishes_8080_to_8080(lab):
    lab.docker("rm -f web")
    lab.docker("run -d --name web -p 8080:8080 nginx")


def _web_published_on_loopback(lab):
    lab.docker("rm -f web")
    lab.docker("run -d --name web -p 127.0.0.1:8080:80 nginx")


PUBLISH_8080 = Mistakes(
    exercises.PUBLISH_8080,
    Mistake(0, _web_in_host_mode, "in host mode nginx needs the host's port 80, which h1 holds"),
    Mistake(1, _web_in_host_mode_on_8080, "web runs in host mode"),
    Mistake(1, _web_without_a_network, "web has no network interface (network mode 'none')"),
    Mistake(2, _web_publishes_8080_to_8080, "its published ports: 8080->8080"),
    Mistake(3, _web_published_on_loopback, "lan-client does not get web's page from http://198.51.100.11:8080/"),
    Mistake(3, forwarding("docker-host", False), "lan-client does not get web's page from http://198.51.100.11:8080/",
            undo=forwarding("docker-host", True)),
)


def _admin_on_the_bridge_published_on_loopback(lab):
    lab.docker("rm -f admin")
    lab.docker("run -d --name admin -p 127.0.0.1:9001:9001 nicolaka/netshoot python3 -m http.server 9001")


def _admin_on_every_address(lab):
    lab.docker("rm -f admin")
    lab.docker("run -d --name admin --network host nicolaka/netshoot python3 -m http.server 9001")


def _admin_on_another_loopback_address(lab):
    lab.docker("rm -f admin")
    lab.docker("run -d --name admin --network host nicolaka/netshoot python3 -m http.server 9001 --bind 127.0.0.2")


LOCALNET_DNAT = "-t nat -I PREROUTING -p tcp --dport 9001 -j DNAT --to-destination 127.0.0.1:9001"


def _loopback_opened_to_the_lan(lab):
    """route_localnet and a DNAT to 127.0.0.1: what let neighbours reach kube-proxy nodes' loopback (CVE-2020-8558)."""
    lab["docker-host"].sysctl("net.ipv4.conf.all.route_localnet", 1)
    lab["docker-host"].run(f"iptables {LOCALNET_DNAT}", check=True)


def _loopback_closed_again(lab):
    lab["docker-host"].run(f"iptables {LOCALNET_DNAT.replace(' -I ', ' -D ')}", check=True)
    lab["docker-host"].sysctl("net.ipv4.conf.all.route_localnet", 0)


LOCAL_ONLY = Mistakes(
    exercises.LOCAL_ONLY,
    Mistake(0, _admin_on_the_bridge_published_on_loopback, "not in host mode"),
    Mistake(1, _admin_on_every_address, "which includes the LAN address"),
    Mistake(2, _admin_on_another_loopback_address, "the Docker host gets no page from http://127.0.0.1:9001/"),
    Mistake(3, _loopback_opened_to_the_lan, "a NAT rule for port 9001 (iptables -t nat -S)",
            undo=_loopback_closed_again),
)


@each_exercise(H2_ON_8081, PUBLISH_8080, LOCAL_ONLY)
def test_each_step_catches_a_mistake(host_lab, cases):
    assert_each_step_catches(host_lab, cases)
