"""The tracer's report on a Docker 29 host: the same paths as test_trace_report.py's, through
Docker 29's chains.

Where the expectations come from (never from the tracer's own output): netfilter's packet flow
(as in test_trace_report.py: raw PREROUTING at priority -300 before nat's at -100, filter at 0,
nat POSTROUTING at 100; a jump shown, an implicit return at a chain's end not), and Docker
29.7.2's ruleset for these containers, from moby docker-v29.7.2
``integration/network/bridge/iptablesdoc/generated/usernet-portmap.md`` (tests/docker/
expected_iptables_29.py): filter FORWARD = DOCKER-USER (empty), DOCKER-FORWARD = DOCKER-CT,
DOCKER-INTERNAL, DOCKER-BRIDGE, then one ``-i <bridge> -j ACCEPT`` per bridge; DOCKER-BRIDGE
``-o <bridge> -j DOCKER``; DOCKER = the per-port ACCEPT, then a DROP per bridge; raw PREROUTING
a DROP per container address ``! -i <its bridge>``; nat as Docker 27's without the RETURN and
hairpin rules. The walk is written out at each scenario.
"""

from __future__ import annotations

import pytest

from test_trace_report import Expected, assert_report, bridge_of, listener, port_to


@pytest.fixture
def bridge29(lab):
    """docker-host as Docker 29: c1 172.17.0.2 and web 172.17.0.3 (-p 8080:80) on docker0; c3
    172.18.0.2 on bridge1."""
    lab.docker_host(version="29")
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -d --name web -p 8080:80 nginx")
    lab.docker("network create bridge1")
    lab.docker("run -dit --name c3 --network bridge1 busybox")
    return lab


def test_outbound_masquerade_through_docker_forward(bridge29):
    lab = bridge29
    t = lab.trace("c1", "203.0.113.10")
    # raw PREROUTING: the DROPs are for the containers' addresses: the policy. nat PREROUTING: not
    # local: the policy. filter FORWARD: DOCKER-USER (empty), DOCKER-FORWARD: DOCKER-CT's rules
    # are -o <bridge> (out eth0), DOCKER-INTERNAL is empty, DOCKER-BRIDGE's rules -o <bridge>;
    # back in DOCKER-FORWARD, "-i docker0 -j ACCEPT". nat POSTROUTING: bridge1's MASQUERADE is
    # for 172.18.0.0/16, docker0's takes it.
    assert_report(t, "ICMP echo request from c1 to 203.0.113.10", "delivered to internet", "the reply came back", [
        Expected("c1", None, None, "eth0", None, "sent", "sent"),
        Expected("docker-host", port_to(lab, "docker-host", "c1"), "docker0", "eth0", None, "routed", "routed",
                 nat=["source 172.17.0.2 → 198.51.100.10"],
                 rules=[("raw", "policy accept", "-P PREROUTING ACCEPT"),
                        ("nat", "policy accept", "-P PREROUTING ACCEPT"),
                        ("filter", "jump DOCKER-USER", "-A FORWARD -j DOCKER-USER"),
                        ("filter", "jump DOCKER-FORWARD", "-A FORWARD -j DOCKER-FORWARD"),
                        ("filter", "jump DOCKER-CT", "-A DOCKER-FORWARD -j DOCKER-CT"),
                        ("filter", "jump DOCKER-INTERNAL", "-A DOCKER-FORWARD -j DOCKER-INTERNAL"),
                        ("filter", "jump DOCKER-BRIDGE", "-A DOCKER-FORWARD -j DOCKER-BRIDGE"),
                        ("filter", "accept", "-A DOCKER-FORWARD -i docker0 -j ACCEPT"),
                        ("nat", "accept (MASQUERADE)", "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE")],
                 conntrack="original src=172.17.0.2 dst=203.0.113.10, reply src=203.0.113.10 dst=198.51.100.10"),
        Expected("router", port_to(lab, "router", "docker-host"), "lan0", port_to(lab, "router", "internet"), None,
                 "routed", "routed"),
        Expected("internet", port_to(lab, "internet", "router"), None, None, None, "delivered",
                 "delivered; the kernel answers (echo reply)"),
    ])


def test_published_port_through_docker_bridge(bridge29):
    lab = bridge29
    t = lab.trace("lan-client", "198.51.100.10", tcp=8080)
    # raw PREROUTING sees the host's address (DNAT comes later, in nat PREROUTING): the policy.
    # nat: local, jump DOCKER, the DNAT. filter: DOCKER-USER, DOCKER-FORWARD, DOCKER-CT (a new
    # connection), DOCKER-INTERNAL, DOCKER-BRIDGE's "-o docker0 -j DOCKER", DOCKER's per-port
    # ACCEPT. nat POSTROUTING: no MASQUERADE for 198.51.100.20: the policy.
    assert_report(t, "TCP SYN to port 8080 from lan-client to 198.51.100.10", "delivered to web",
                  "the connection was accepted (SYN-ACK)", [
        Expected("lan-client", None, None, "eth0", None, "sent", "sent"),
        Expected("router", port_to(lab, "router", "lan-client"), "lan0", port_to(lab, "router", "docker-host"),
                 "lan0", "switched", "switched by bridge lan0"),
        Expected("docker-host", "eth0", None, port_to(lab, "docker-host", "web"), "docker0", "routed", "routed",
                 nat=["destination 198.51.100.10:8080 → 172.17.0.3:80"],
                 rules=[("raw", "policy accept", "-P PREROUTING ACCEPT"),
                        ("nat", "jump DOCKER", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
                        ("nat", "accept (DNAT)",
                         "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.3:80"),
                        ("filter", "jump DOCKER-USER", "-A FORWARD -j DOCKER-USER"),
                        ("filter", "jump DOCKER-FORWARD", "-A FORWARD -j DOCKER-FORWARD"),
                        ("filter", "jump DOCKER-CT", "-A DOCKER-FORWARD -j DOCKER-CT"),
                        ("filter", "jump DOCKER-INTERNAL", "-A DOCKER-FORWARD -j DOCKER-INTERNAL"),
                        ("filter", "jump DOCKER-BRIDGE", "-A DOCKER-FORWARD -j DOCKER-BRIDGE"),
                        ("filter", "jump DOCKER", "-A DOCKER-BRIDGE -o docker0 -j DOCKER"),
                        ("filter", "accept",
                         "-A DOCKER -d 172.17.0.3/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT"),
                        ("nat", "policy accept", "-P POSTROUTING ACCEPT")],
                 conntrack="original src=198.51.100.20 dst=198.51.100.10 sport=40404 dport=8080, "
                           "reply src=172.17.0.3 dst=198.51.100.20 sport=80 dport=40404"),
        Expected("web", "eth0", None, None, None, "delivered", f"delivered to {listener(lab, 'web', 80)} (port 80)"),
    ])


def test_isolation_is_the_raw_guard(bridge29):
    lab = bridge29
    t = lab.trace("c1", "c3")
    # raw PREROUTING, before routing and NAT: c3's address from anywhere but bridge1 is dropped
    # (Docker 29 has no isolation chains; the filter DROP in DOCKER would be next in line).
    assert_report(t, "ICMP echo request from c1 to c3 (172.18.0.2)", "dropped on docker-host", "no reply", [
        Expected("c1", None, None, "eth0", None, "sent", "sent"),
        Expected("docker-host", port_to(lab, "docker-host", "c1"), "docker0", None, None, "dropped",
                 "dropped by raw PREROUTING",
                 rules=[("raw", "drop", f"-A PREROUTING -d 172.18.0.2/32 ! -i {bridge_of(lab, 'bridge1')} -j DROP")]),
    ])


def test_hairpin_to_the_userland_proxy(bridge29):
    lab = bridge29
    t = lab.trace("c1", "198.51.100.10", tcp=8080)
    # raw: the policy. nat PREROUTING: local, jump DOCKER, whose DNAT is "! -i docker0": no
    # match, the chain ends (an implicit return); the policy accepts: INPUT, docker-proxy.
    assert_report(t, "TCP SYN to port 8080 from c1 to 198.51.100.10", "delivered to docker-host",
                  "the connection was accepted (SYN-ACK)", [
        Expected("c1", None, None, "eth0", None, "sent", "sent"),
        Expected("docker-host", port_to(lab, "docker-host", "c1"), "docker0", None, None, "delivered",
                 "delivered to docker-proxy (port 8080)",
                 rules=[("raw", "policy accept", "-P PREROUTING ACCEPT"),
                        ("nat", "jump DOCKER", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
                        ("nat", "policy accept", "-P PREROUTING ACCEPT")]),
    ])
