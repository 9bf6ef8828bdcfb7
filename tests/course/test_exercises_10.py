"""Notebook 10's exercises on a real lab: each starts failing, rejects a wrong answer at the step that
should catch it (with that step's hint), accepts the reference solution and another right answer, and
resets from any state.

Right and wrong answers come from how the real things behave, not from the lab: Docker's embedded DNS
answers on user-defined networks only (docs "Bridge network driver", moby daemon/container_operations.go);
Compose aliases each container with its service name (docker/compose v5.5.0 pkg/compose/create.go
getAliases); a published port is DNATed in nat PREROUTING and crosses FORWARD, where DOCKER-USER comes
first (moby docker-v29.7.2 iptablesdoc); dockerd keeps only on-link routes out of its pools (moby
docker-v29.7.2 libnetwork/netutils InferReservedNetworks), so a VPN route through a gateway does not stop
docker0 from taking 172.17.0.0/16; the overlay's MTU is com.docker.network.driver.mtu less 50 (moby
drivers/overlay maxMTU).
"""

from __future__ import annotations

import ipaddress

import pytest

from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise
from nethelpers import world
from nethelpers.exercises import troubleshooting as exercises


@pytest.fixture
def docker_lab(lab):
    lab.docker_host()
    return lab


def _shop(text: str):
    def up(lab):
        lab.docker("compose -f - up -d", input=text)
    return up


EVERYTHING_ON_BOTH = exercises.SHOP_FIXED.replace("""  web:
    image: nginx
    ports: ["8000:80"]
    networks: [front]""", """  web:
    image: nginx
    ports: ["8000:80"]
    networks: [front, back]""")


def _mtu_of(lab, container: str, host: str, mtu: int) -> None:
    """Set the MTU of ``container``'s interface on an overlay by hand (the lab's root in its namespace)."""
    ctr = lab.docker_host(host).containers[container]
    subnets = [ipaddress.ip_network(ep.network.subnet) for ep in ctr.endpoints.values()
               if ep.network.type == "overlay"]
    for line in lab[ctr.node].run("ip -o -4 addr show", check=True).stdout.splitlines():
        words = line.split()
        if any(ipaddress.ip_interface(words[3]).ip in net for net in subnets):
            lab[ctr.node].run(f"ip link set {words[1]} mtu {mtu}", check=True)
            return
    raise AssertionError(f"{container} has no interface on an overlay")


NAMES = Mistakes(
    exercises.NAMES_ON_THE_DEFAULT_BRIDGE,
    Mistake(0, lambda lab: lab.docker("stop api"), "not running", "api stopped"),
    Mistake(1, lambda lab: lab.docker("network disconnect appnet web"), "share no user-defined network",
            "web left the shared network"),
    Mistake(2, lambda lab: lab["web"].write_etc("resolv.conf", "nameserver 198.51.100.1\n"), "cannot resolve api",
            "web's resolv.conf points at the host's resolver, not 127.0.0.11"),
)

SHOP = Mistakes(
    exercises.COMPOSE_API,
    Mistake(0, lambda lab: lab.docker("compose -p shop down"), "not up", "the project taken down"),
    Mistake(1, lambda lab: lab.docker("network disconnect shop_front shop-api-1"), "the compose file gives it",
            "a network changed by hand, not in the file"),
    Mistake(2, _shop(exercises.SHOP_BROKEN), "cannot resolve api", "the broken file again"),
    Mistake(3, _shop(EVERYTHING_ON_BOTH), "resolves db", "web put on the back network too"),
)

PORT = Mistakes(
    exercises.PORT_PAST_THE_FIREWALL,
    Mistake(0, lambda lab: lab.docker("rm -f admin"), "not running", "admin removed"),
    Mistake(1, lambda lab: lab["docker-host"].run("iptables -I INPUT -p tcp --dport 8080 -j DROP", check=True),
            "block the LAN only", "the INPUT rule on every interface, lo too",
            undo=lambda lab: lab["docker-host"].run("iptables -D INPUT -p tcp --dport 8080 -j DROP", check=True)),
    Mistake(2, lambda lab: lab["docker-host"].run("iptables -F DOCKER-USER", check=True), "never INPUT",
            "only the INPUT rule"),
    Mistake(3, lambda lab: lab["docker-host"].run("iptables -F DOCKER-USER && iptables -I DOCKER-USER -i eth0 -j DROP",
                                                  check=True),
            "replies", "everything from eth0 dropped"),
)

OFFICE = Mistakes(
    exercises.OFFICE_VPN,
    Mistake(0, lambda lab: (lab.docker_host().restart_daemon(
        {"bip": "172.31.0.1/24", "default-address-pools": [{"base": "10.100.0.0/16", "size": 24}]}),
        lab.docker("start reporter")), "inside the office", "a bip inside the office's block"),
    Mistake(1, lambda lab: (lab.docker_host().restart_daemon({"bip": "10.99.0.1/24"}), lab.docker("start reporter")),
            "no default-address-pools", "bip only"),
    Mistake(1, lambda lab: (lab.docker_host().restart_daemon(
        {"bip": "10.99.0.1/24", "default-address-pools": [{"base": "172.24.0.0/14", "size": 24}]}),
        lab.docker("start reporter")), "still hands out 172.24.0.0/24", "pools inside the office"),
    Mistake(2, lambda lab: lab["docker-host"].remove_route("172.16.0.0/12", via="10.8.0.1"), "ip route get",
            "the VPN's route gone (the tunnel dropped)"),
    Mistake(3, lambda lab: lab.docker("stop reporter"), "docker start reporter", "reporter left stopped"),
)

MTU = Mistakes(
    exercises.OVERLAY_MTU,
    Mistake(0, lambda lab: lab[world.ROUTER].run("ip link set host1 mtu 1500", check=True), "not yours to change",
            "the path widened instead of the overlay narrowed"),
    Mistake(1, lambda lab: lab.docker("rm -f c2", host="host2"), "not running on host2", "c2 removed"),
    Mistake(2, lambda lab: _mtu_of(lab, "c1", "host1", 1450), "is lost on the way", "c1 set back to 1450 by hand"),
    Mistake(3, lambda lab: _mtu_of(lab, "c2", "host2", 1450), "is lost on the way", "c2 set back to 1450 by hand"),
)


@each_exercise(NAMES, SHOP, PORT, OFFICE, MTU)
def test_each_step_catches_a_mistake(docker_lab, cases):
    assert_each_step_catches(docker_lab, cases)


def test_names_another_right_answer_runs_them_again_on_a_network(docker_lab):
    lab, ex = docker_lab, exercises.NAMES_ON_THE_DEFAULT_BRIDGE
    ex.start(lab)
    lab.docker("network create shopnet")
    lab.docker("rm -f api web")
    lab.docker("run -d --name api --network shopnet nginx")
    lab.docker("run -d --name web --network shopnet nicolaka/netshoot sleep infinity")
    assert ex.passed(lab)


def test_names_a_hosts_file_line_is_not_enough(docker_lab):
    lab, ex = docker_lab, exercises.NAMES_ON_THE_DEFAULT_BRIDGE
    ex.start(lab)
    api = lab.docker_host().containers["api"].endpoints["bridge"].ip
    lab["web"].write_etc("hosts", f"127.0.0.1 localhost\n{api} api\n")
    text, hint = ex.first_problem(lab)
    assert text == "web and api share a user-defined network" and "default bridge" in hint


def test_port_publishing_on_loopback_only_is_right_too(docker_lab):
    lab, ex = docker_lab, exercises.PORT_PAST_THE_FIREWALL
    ex.start(lab)
    lab.docker("rm -f admin")
    lab.docker("run -d --name admin -p 127.0.0.1:8080:80 nginx")
    assert ex.passed(lab)


def test_office_an_empty_daemon_json_keeps_docker0_where_it_was(docker_lab):
    """Without a bip, dockerd keeps the address docker0 already has (moby docker-v29.7.2
    daemon/daemon_unix.go): removing the fix from daemon.json does not bring the clash back."""
    lab, ex = docker_lab, exercises.OFFICE_VPN
    ex.start(lab)
    ex.solve(lab, quiet=True)
    lab.docker_host().restart_daemon({})
    assert lab.docker_host().networks["bridge"].subnet == "10.99.0.0/24"


def test_office_pools_without_bip_give_docker0_their_first_subnet(docker_lab):
    lab, ex = docker_lab, exercises.OFFICE_VPN
    ex.start(lab)
    lab.docker_host().restart_daemon({"default-address-pools": [{"base": "10.100.0.0/16", "size": 24}]})
    lab.docker("start reporter")
    assert lab.docker_host().networks["bridge"].subnet == "10.100.0.0/24"
    assert ex.passed(lab)


def test_mtu_setting_only_c1_by_hand_leaves_c2_in_the_hole(docker_lab):
    lab, ex = docker_lab, exercises.OVERLAY_MTU
    ex.start(lab)
    _mtu_of(lab, "c1", "host1", 1350)
    text, hint = ex.first_problem(lab)
    assert text == "c2's full-size packets reach c1" and "1450 bytes" in hint


def test_each_setup_resets_a_solved_exercise(docker_lab):
    lab = docker_lab
    for ex in (exercises.NAMES_ON_THE_DEFAULT_BRIDGE, exercises.COMPOSE_API, exercises.PORT_PAST_THE_FIREWALL,
               exercises.OFFICE_VPN, exercises.OVERLAY_MTU):
        ex.start(lab)
        ex.solve(lab, quiet=True)
        ex.start(lab)
        assert not ex.passed(lab), ex.title
