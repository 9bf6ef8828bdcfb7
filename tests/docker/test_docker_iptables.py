"""A Docker 27 host's iptables equal Docker 27's, rule for rule and in order (Docker 29's:
test_docker_iptables_29.py).

Expected rules: tests/docker/expected_iptables.py (Docker's own generated docs). One
known difference, on purpose: the docs were generated on a machine where
ip_forward was already on, so their FORWARD policy is ACCEPT; a lab Docker host
starts with ip_forward off, dockerd turns it on itself and therefore sets the
policy to DROP (libnetwork setupIPForwarding) — the facts page's rule.
"""

from __future__ import annotations

import pytest

from expected_iptables import SCENARIOS


def rules(lab, table: str) -> str:
    return lab["docker-host"].run(f"iptables -t {table} -S", check=True).stdout.strip()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_rules_match_docker_27(lab, scenario):
    commands, filter_rules, nat_rules = SCENARIOS[scenario]
    lab.docker_host(version="27", userland_proxy="noproxy" not in scenario)
    for command in commands:
        lab.docker(command)
    expected_filter = filter_rules.strip().replace("-P FORWARD ACCEPT", "-P FORWARD DROP")
    assert rules(lab, "filter") == expected_filter
    assert rules(lab, "nat") == nat_rules.strip()


def test_forward_policy_stays_accept_when_forwarding_was_already_on(lab):
    """dockerd only closes FORWARD when it was the one to turn ip_forward on."""
    from nethelpers import world

    world.ensure(lab)
    lab.add_node("docker-host", kind="host").sysctl("net.ipv4.ip_forward", 1)
    # the host node exists already: start the bridge driver on it, as dockerd does at start
    from nethelpers.cnm.drivers import BridgeDriver
    from nethelpers.cnm.kernel import Kernel

    BridgeDriver(Kernel(lab, "docker-host"))
    assert "-P FORWARD ACCEPT" in rules(lab, "filter")


def test_removing_everything_leaves_only_the_daemons_rules(lab):
    fresh_filter, fresh_nat = SCENARIOS["new-daemon"][1:]
    lab.docker_host(version="27")
    lab.docker("network create -o com.docker.network.bridge.enable_icc=false bridge1")
    lab.docker("network create --internal bridge2")
    lab.docker("run -dit --name c1 --network bridge1 -p 8080:80 -p 5353:53/udp busybox")
    lab.docker("run -dit --name c2 -p 127.0.0.1:9090:80 busybox")
    lab.docker("rm -f c1 c2")
    lab.docker("network rm bridge1 bridge2")
    assert rules(lab, "filter") == fresh_filter.strip().replace("-P FORWARD ACCEPT", "-P FORWARD DROP")
    assert rules(lab, "nat") == fresh_nat.strip()


def test_udp_and_host_ip_port_rules(lab):
    lab.docker_host(version="27")
    lab.docker("run -dit --name c1 -p 5353:53/udp -p 127.0.0.1:9090:80 busybox")
    nat = rules(lab, "nat")
    assert ("-A DOCKER ! -i docker0 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.17.0.2:53"
            in nat.splitlines())
    assert ("-A DOCKER -d 127.0.0.1/32 ! -i docker0 -p tcp -m tcp --dport 9090 "
            "-j DNAT --to-destination 172.17.0.2:80" in nat.splitlines())
    assert ("-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p udp -m udp --dport 53 -j ACCEPT"
            in rules(lab, "filter").splitlines())


@pytest.mark.parametrize("userland_proxy", [True, False], ids=["proxy", "noproxy"])
def test_masquerade_off_drops_the_networks_nat_rules(lab, userland_proxy):
    """``-o com.docker.network.bridge.enable_ip_masquerade=false``: no MASQUERADE of the subnet and
    no ``DOCKER -i <bridge> -j RETURN``; only the hairpin rule of --userland-proxy=false stays.

    moby v27.5.1 libnetwork/drivers/bridge/setup_ip_tables_linux.go, setupIPTablesInternal:
    ``if nat && config.EnableIPMasquerade { natRule; if !hairpin { skipDNAT } }``, then
    ``programChainRule(hpNatRule, ..., enable && hairpin)`` whatever the option; the filter
    rules (ICC, outRule, the isolation chains) do not depend on it.
    """
    lab.docker_host(version="27", userland_proxy=userland_proxy)
    lab.docker("network create -o com.docker.network.bridge.name=bridge1 "
               "-o com.docker.network.bridge.enable_ip_masquerade=false --subnet 192.0.2.0/24 bridge1")
    nat = rules(lab, "nat").splitlines()
    assert [r for r in nat if "bridge1" in r or "192.0.2." in r] == (
        [] if userland_proxy else ["-A POSTROUTING -o bridge1 -m addrtype --src-type LOCAL -j MASQUERADE"])
    # docker0 keeps its own
    assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in nat
    filt = rules(lab, "filter").splitlines()
    for rule in ("-A FORWARD -o bridge1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                 "-A FORWARD -o bridge1 -j DOCKER", "-A FORWARD -i bridge1 ! -o bridge1 -j ACCEPT",
                 "-A FORWARD -i bridge1 -o bridge1 -j ACCEPT",
                 "-A DOCKER-ISOLATION-STAGE-2 -o bridge1 -j DROP"):
        assert rule in filt
