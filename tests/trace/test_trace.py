"""The packet-path tracer against real labs: the path, the rules, NAT and drops it reports are
checked against what the lab was built to do (and each case sends one bounded probe)."""

from __future__ import annotations

import pytest

from nethelpers import LabError
from nethelpers.errors import InvalidValue, NotFound
from nethelpers.trace import nft


def nodes_of(t):
    return [hop.node for hop in t.hops]


def rules_of(hop):
    return [rule.rule for rule in hop.rules]


@pytest.fixture
def bridge_lab(lab):
    """On Docker 27 (whose rule names these tests read; Docker 29's: test_trace_29.py)."""
    lab.docker_host(version="27")
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -d --name web -p 8080:80 nginx")
    lab.docker("network create bridge1")
    lab.docker("run -dit --name c3 --network bridge1 busybox")
    return lab


def test_outbound_nat_shows_the_path_the_masquerade_rule_and_its_conntrack_entry(bridge_lab):
    t = bridge_lab.trace("c1", "203.0.113.10")
    assert nodes_of(t) == ["c1", "docker-host", "router", "internet"]
    host = t.hops[1]
    assert host.action == "routed" and host.bridge_in == "docker0" and host.went_out == "eth0"
    assert "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE" in rules_of(host)
    assert "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT" in rules_of(host)
    assert host.nat == ["source 172.17.0.2 → 198.51.100.10"]
    assert "reply src=203.0.113.10 dst=198.51.100.10" in host.conntrack
    assert t.delivered and t.reply == "the reply came back"
    assert "delivered to internet" in str(t)


def test_a_published_port_is_dnat_to_the_container(bridge_lab):
    t = bridge_lab.trace("lan-client", "198.51.100.10", tcp=8080)
    assert nodes_of(t) == ["lan-client", "router", "docker-host", "web"]
    assert t.hops[1].action == "switched" and t.hops[1].bridge_in == "lan0"
    host = t.hops[2]
    assert host.nat == ["destination 198.51.100.10:8080 → 172.17.0.3:80"]
    assert "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.3:80" \
        in rules_of(host)
    # the probe's RST closes the flow, and conntrack forgets a closed one after 10 s: the tracer
    # reads it first (the VM backend's emulated CPU takes longer than that for a whole trace)
    assert host.conntrack == ("original src=198.51.100.20 dst=198.51.100.10 sport=40404 dport=8080, "
                              "reply src=172.17.0.3 dst=198.51.100.20 sport=80 dport=40404")
    assert t.hops[-1].action == "delivered" and "(port 80)" in t.hops[-1].receiver
    assert t.reply.startswith("the connection was accepted")


def test_hairpin_goes_to_docker_proxy_unless_the_userland_proxy_is_off(lab):
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -d --name web -p 8080:80 nginx")
    t = lab.trace("c1", "198.51.100.10", tcp=8080)
    assert nodes_of(t) == ["c1", "docker-host"]
    assert t.hops[-1].receiver == "delivered to docker-proxy (port 8080)"


def test_hairpin_nat_without_the_userland_proxy(lab):
    lab.docker_host(userland_proxy=False)
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -d --name web -p 8080:80 nginx")
    t = lab.trace("c1", "198.51.100.10", tcp=8080)
    assert nodes_of(t) == ["c1", "docker-host", "web"]
    # DNAT only: Docker masquerades hairpin traffic only from the container to its own port
    assert t.hops[1].nat == ["destination 198.51.100.10:8080 → 172.17.0.3:80"]
    assert "-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.3:80" in rules_of(t.hops[1])
    assert t.delivered


def test_isolation_between_networks_is_a_drop_by_the_isolation_rule(bridge_lab):
    t = bridge_lab.trace("c1", "c3")
    assert t.dropped_at is t.hops[-1] and t.hops[-1].node == "docker-host"
    last = t.hops[-1].rules[-1]
    assert (last.table, last.chain, last.verdict) == ("filter", "DOCKER-ISOLATION-STAGE-2", "drop")
    assert last.rule.startswith("-A DOCKER-ISOLATION-STAGE-2 -o br-") and last.rule.endswith("-j DROP")
    assert t.outcome == "dropped on docker-host" and t.reply == "no reply"


def test_drops_outside_netfilter_are_explained(myhost_lab):
    t = myhost_lab.trace("app1", "203.0.113.10")
    assert t.hops[-1].reason == "not forwarded: net.ipv4.ip_forward is 0 on myhost"
    myhost_lab["myhost"].sysctl("net.ipv4.ip_forward", 1)
    t = myhost_lab.trace("app1", "203.0.113.10")
    assert t.delivered and t.reply == "no reply"  # it got there, but nothing translated its source
    myhost_lab["myhost"].run("iptables -P FORWARD DROP", check=True)
    t = myhost_lab.trace("app1", "203.0.113.10")
    assert t.outcome == "dropped on myhost"
    assert (t.hops[-1].rules[-1].rule, t.hops[-1].rules[-1].verdict) == ("-P FORWARD DROP", "policy drop")


def test_an_address_nobody_answers_arp_for(myhost_lab):
    t = myhost_lab.trace("app1", "10.0.0.99", udp=53)
    assert nodes_of(t) == ["app1"]
    assert t.outcome.startswith("it never left app1: nobody answered ARP for 10.0.0.99")


def test_nothing_is_left_behind_and_bad_input_changes_nothing(myhost_lab):
    before = {n.name: n.run("nft list ruleset").stdout for n in myhost_lab.nodes()}
    myhost_lab.trace("app1", "10.0.0.1", tcp=80)
    for bad, error in ((dict(destination="nowhere"), InvalidValue), (dict(source="ghost"), NotFound),
                       (dict(tcp=80, udp=53), InvalidValue), (dict(tcp=0), InvalidValue),
                       (dict(udp="53"), InvalidValue), (dict(nodes=["myhost"]), InvalidValue)):
        args = {"source": "app1", "destination": "10.0.0.1"} | bad
        with pytest.raises(error) as info:
            myhost_lab.trace(args.pop("source"), args.pop("destination"), **args)
        assert isinstance(info.value, LabError) and str(info.value)
    after = {n.name: n.run("nft list ruleset").stdout for n in myhost_lab.nodes()}
    assert after == before and nft.TABLE not in "".join(after.values())
    assert not [p for p in myhost_lab.processes() if "nft monitor" in " ".join(p.get("command", []))
                or "nft monitor" in str(p)]


def test_overlay_shows_the_encapsulation_hop(overlay_pair):
    lab = overlay_pair
    t = lab.trace("c1", "c2")
    sandbox1, sandbox2 = (n.name for n in lab.nodes() if n.name.startswith(("docker-host.1-", "host2.1-")))
    assert nodes_of(t) == ["c1", sandbox1, "docker-host", "router", "host2", sandbox2, "c2"]
    assert t.hops[1].encapsulation == "VXLAN to 198.51.100.11" and t.hops[1].went_out == "vxlan0"
    assert t.hops[2].after["dport"] == "4789" and t.hops[4].action == "decapsulated"
    assert t.hops[5].came_in == "vxlan0" and t.delivered
    picture = t.plot()
    assert picture.axes and "delivered to c2" in picture.axes[0].get_title()


def test_iptables_legacy_rules_are_found_by_their_counters(myhost_lab, monkeypatch):
    # the lab's iptables is nf_tables here; these rules are made with iptables-legacy, which nft's
    # tracing cannot see, and the tracer is told the lab uses the legacy backend
    from nethelpers.trace import counters

    host = myhost_lab["myhost"]
    host.sysctl("net.ipv4.ip_forward", 1)
    host.run("iptables-legacy -t nat -A POSTROUTING -s 10.0.0.0/24 ! -o br0 -j MASQUERADE", check=True)
    monkeypatch.setattr(counters, "backend", lambda lab: "legacy")
    t = myhost_lab.trace("app1", "203.0.113.10")
    hop = t.hops[1]
    assert t.delivered and t.reply == "the reply came back"
    assert [(r.table, r.chain, r.rule, r.verdict) for r in hop.rules if r.rule.startswith("-A")] == [
        ("nat", "POSTROUTING", "-A POSTROUTING -s 10.0.0.0/24 ! -o br0 -j MASQUERADE", "accept")]
    assert hop.nat == ["source 10.0.0.2 → 198.51.100.10"]
    assert "iptables-legacy: the rules whose packet counters it moved" in str(t)
    host.run("iptables-legacy -I FORWARD -s 10.0.0.2 -j DROP", check=True)
    t = myhost_lab.trace("app1", "203.0.113.10")
    assert t.outcome == "dropped on myhost"
    assert ("filter", "FORWARD", "-A FORWARD -s 10.0.0.2/32 -j DROP", "drop") in [
        (r.table, r.chain, r.rule, r.verdict) for r in t.hops[1].rules]
