"""Chapter 01's primer picture (nethelpers.netfilter): each rule at the hook where the kernel meets it.

Which table hooks which chain, and in which order, is the kernel's: include/uapi/linux/netfilter_ipv4.h
(NF_IP_PRI_RAW -300 < CONNTRACK -200 < MANGLE -150 < NAT_DST -100 < FILTER 0 < NAT_SRC 100).
"""

from __future__ import annotations

from nethelpers import netfilter
from nethelpers.plot.legibility import problems


def _texts(fig, gid_prefix):
    return [(t.get_gid(), t.get_text()) for t in fig.axes[0].texts if (t.get_gid() or "").startswith(gid_prefix)]


def test_rules_are_read_per_table_and_chain(lab):
    node = lab.add_node("myhost")
    node.run("iptables -t nat -A POSTROUTING -s 10.0.0.0/24 ! -o br0 -j MASQUERADE", check=True)
    node.run("iptables -A FORWARD -i br0 -j ACCEPT && iptables -A FORWARD -o br0 -j DROP", check=True)
    assert netfilter.rules(node) == {("nat", "POSTROUTING"): ["-s 10.0.0.0/24 ! -o br0 -j MASQUERADE"],
                                     ("filter", "FORWARD"): ["-i br0 -j ACCEPT", "-o br0 -j DROP"]}


def test_each_rule_is_drawn_in_its_hook_in_the_kernels_order(lab):
    node = lab.add_node("myhost")
    node.run("iptables -t nat -A PREROUTING -p tcp --dport 8080 -j DNAT --to-destination 10.0.0.2:80", check=True)
    node.run("iptables -t raw -A PREROUTING -d 10.0.0.2 ! -i br0 -j DROP", check=True)
    node.run("iptables -A FORWARD -i br0 -j ACCEPT && iptables -A FORWARD -o br0 -j DROP", check=True)
    fig = netfilter.plot(node)
    pre = [gid for gid, _ in _texts(fig, "table:") if gid.endswith(":PREROUTING")]
    assert pre[0] == "table:raw:PREROUTING" and pre.index("table:conntrack:PREROUTING") < \
        pre.index("table:nat:PREROUTING")
    assert [text for _, text in _texts(fig, "table:filter:FORWARD")] == ["filter: -i br0 -j ACCEPT", "  (+1 more)"]
    # tables that hook nowhere: no filter in PREROUTING or POSTROUTING, no nat in FORWARD
    gids = {gid for gid, _ in _texts(fig, "table:")}
    assert not gids & {"table:filter:PREROUTING", "table:filter:POSTROUTING", "table:nat:FORWARD"}
    assert {f"hook:{chain}" for chain in netfilter.HOOKS} <= {p.get_gid() for p in fig.axes[0].patches}


def test_the_picture_is_readable_with_dockers_rules(docker_lab):
    docker_lab.docker("run -d --name web -p 8080:80 nginx")
    fig = netfilter.plot(docker_lab["docker-host"], title="docker-host")
    assert problems(fig) == []
    assert fig.get_figwidth() * fig.dpi <= 1000
