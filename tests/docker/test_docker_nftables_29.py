"""A Docker 29 host with ``--firewall-backend=nftables``: its table ``ip docker-bridges`` equals
Docker 29's, chain for chain and rule for rule, and it really forwards and isolates.

Expected rulesets: tests/docker/expected_nftables_29.py (moby docker-v29.7.2's nftablesdoc and the
nftabler's golden ip6 table). One known difference, on purpose: Docker 29 with nftables never turns
ip_forward on (commit 67ffa47090, bridge_linux.go checkIPv4Forwarding): on a host where it is off,
dockerd refuses to create docker0 and does not start. A lab Docker host starts with it off and the
lab's bridge driver turns it on, as for iptables; the nftabler sets no FORWARD policy either way,
so filter-FORWARD and iptables' FORWARD both stay ``policy accept``, as in the docs.
"""

from __future__ import annotations

import pytest

from expected_nftables_29 import IP6_TABLE, IP6_TABLE_NOPROXY, SCENARIOS

HOST_IP = "198.51.100.10"
CURL = "curl -s --max-time 3"


def docker_host(lab, userland_proxy: bool = True):
    return lab.docker_host(version="29", firewall_backend="nftables", userland_proxy=userland_proxy)


def ruleset(lab, family: str = "ip") -> str:
    listed = lab["docker-host"].run(f"nft -s list table {family} docker-bridges", check=True).stdout
    # as the doc generator does (nftablesdoc_linux_test.go runNftables)
    return listed.replace("type nat hook output priority -100", "type nat hook output priority dstnat").strip()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_ruleset_matches_docker_29(lab, scenario):
    commands, expected, userland_proxy = SCENARIOS[scenario]
    docker_host(lab, userland_proxy)
    for command in commands:
        lab.docker(command)
    assert ruleset(lab) == expected.strip()
    assert ruleset(lab, "ip6") == (IP6_TABLE if userland_proxy else IP6_TABLE_NOPROXY).strip()


def test_removing_everything_leaves_only_the_daemons_table(lab):
    docker_host(lab)
    lab.docker("network create -o com.docker.network.bridge.enable_icc=false bridge1")
    lab.docker("network create --internal bridge2")
    lab.docker("network create -o com.docker.network.bridge.gateway_mode_ipv4=routed bridge3")
    lab.docker("network create -o com.docker.network.bridge.gateway_mode_ipv4=nat-unprotected bridge4")
    lab.docker("run -dit --name c1 --network bridge1 -p 8080:80 -p 5353:53/udp busybox")
    lab.docker("run -dit --name c2 -p 127.0.0.1:9090:80 busybox")
    lab.docker("run -dit --name c3 --network bridge3 -p 8081:80 busybox")
    lab.docker("run -dit --name c4 --network bridge4 -p 8082:80 busybox")
    lab.docker("run -dit --name c5 --network bridge2 busybox")
    lab.docker("rm -f c1 c2 c3 c4 c5")
    lab.docker("network rm bridge1 bridge2 bridge3 bridge4")
    assert ruleset(lab) == SCENARIOS["new-daemon"][1].strip()
    assert ruleset(lab, "ip6") == IP6_TABLE.strip()


def test_no_iptables_rules_with_the_nftables_backend(lab):
    """Docker's nftables backend writes nothing into iptables: no DOCKER chain, no rule, and
    FORWARD keeps its ACCEPT policy (the nftabler has no FilterForwardDrop)."""
    docker_host(lab)
    lab.docker("network create --subnet 192.0.2.0/24 bridge1")
    lab.docker("run -dit --name c1 --network bridge1 -p 8080:80 busybox")
    for table in ("filter", "nat", "raw", "mangle"):
        rules = lab["docker-host"].run(f"iptables -t {table} -S", check=True).stdout.splitlines()
        assert all(rule.startswith("-P ") for rule in rules), (table, rules)
    assert "-P FORWARD ACCEPT" in lab["docker-host"].run("iptables -S FORWARD", check=True).stdout


@pytest.mark.parametrize("userland_proxy", [True, False], ids=["proxy", "noproxy"])
def test_a_published_port_answers_from_the_lan(lab, userland_proxy):
    """The LAN client reaches the container through the host's port 8080: the DNAT in
    nat-prerouting-and-output, then filter-forward-in__docker0's per-port accept (without the
    proxy nothing else could answer)."""
    docker_host(lab, userland_proxy)
    lab.docker("run -d --name web -p 8080:80 nginx")
    reply = lab["lan-client"].run(f"{CURL} http://{HOST_IP}:8080/", timeout=15).stdout
    assert reply.startswith("hello from web\n")
    assert lab["lan-client"].run(f"{CURL} http://{HOST_IP}:8081/", timeout=15).stdout == ""


def test_two_bridge_networks_are_isolated(lab):
    """A packet from docker0 to bridge1's container meets raw-PREROUTING's DROP DIRECT ACCESS
    (and, after it, filter-forward-in__bridge1's UNPUBLISHED PORT DROP); the way back likewise."""
    docker_host(lab)
    lab.docker("network create --subnet 192.0.2.0/24 bridge1")
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -dit --name c2 --network bridge1 busybox")
    assert lab["c1"].run("ping -c1 -W1 192.0.2.2").rc != 0
    assert lab["c2"].run("ping -c1 -W1 172.17.0.2").rc != 0
    raw = lab["docker-host"].run("nft list chain ip docker-bridges raw-PREROUTING", check=True).stdout
    drops = [line for line in raw.splitlines() if "DROP DIRECT ACCESS" in line]
    assert drops and all("packets 0 " not in line for line in drops), raw
    assert lab["c1"].run("ping -c1 -W1 172.17.0.1").rc == 0  # its own gateway still answers


def test_hairpin_reaches_its_own_published_port(lab):
    """--userland-proxy=false: a container reaches its own port through the host's address
    (nat-postrouting-in's MASQ TO OWN PORT)."""
    docker_host(lab, userland_proxy=False)
    lab.docker("network create -o com.docker.network.bridge.name=bridge1 --subnet 192.0.2.0/24 bridge1")
    lab.docker("run -d --name web --network bridge1 -p 8080:80 nginx")
    reply = lab.docker(f"exec web {CURL} http://{HOST_IP}:8080/")
    assert reply.startswith("hello from web\n")


def test_the_commands_are_one_nft_transaction_per_event(lab):
    """Each event is one ``nft -f -`` (all or nothing), shown in the daemon's command log."""
    host = docker_host(lab)
    before = len(host.kernel.commands)
    lab.docker("run -dit --name c1 -p 8080:80 busybox")
    nft = [c for c in host.kernel.commands[before:] if c.startswith("nft ")]
    assert len(nft) == 2  # the endpoint's DROP DIRECT ACCESS, then the port's rules
    assert all(c.startswith("nft -f - <<EOF\n") for c in nft)
