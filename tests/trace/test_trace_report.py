"""The tracer's report asserted whole, on real labs: for every hop the node, the interfaces in and
out, what happened; per hop every netfilter rule met, in order, with its table, chain and verdict;
the NAT translation and its conntrack entry; the outcome — both in the result object and in the
text a learner reads (``print(lab.trace(...))``).

Where the expectations come from (never from the tracer's own output):

* the hooks a packet crosses, netfilter's documented packet flow: a forwarded packet meets
  PREROUTING, FORWARD, POSTROUTING; one for this host PREROUTING, INPUT; one made here OUTPUT,
  POSTROUTING (nat's PREROUTING/OUTPUT at priority -100, filter at 0, nat's POSTROUTING at 100);
  a rule met in a user chain only after a jump to it, and back in the caller after a return;
* which of Docker's rules the packet meets, moby 27's bridge driver (the ruleset of
  ``tests/docker/expected_iptables.py``, transcribed from moby's iptablesdoc; FACTS.md, "Bridge"),
  walked rule by rule for the packet — the walk is written out at each scenario;
* the random names (veths, ``br-<id>``, overlay sandboxes) read from the lab itself, not from
  the trace.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import pytest


BASE_CHAINS = ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING")
# netfilter's packet flow: the hooks in the order a packet can meet them
FLOWS = {"forwarded": ["PREROUTING", "FORWARD", "POSTROUTING"], "for this host": ["PREROUTING", "INPUT"],
         "made here": ["OUTPUT", "POSTROUTING"]}
NAT_TARGETS = ("DNAT", "SNAT", "MASQUERADE", "REDIRECT")


@dataclass
class Expected:
    """One hop as the report must give it. ``rules``: (table, verdict as printed, iptables -S line)."""
    node: str
    came_in: str | None
    bridge_in: str | None
    went_out: str | None
    bridge_out: str | None
    action: str
    what: str
    nat: list[str] = field(default_factory=list)
    rules: list[tuple[str, str, str]] = field(default_factory=list)
    conntrack: str | None = None


# --- the lab's own names -------------------------------------------------------------------
def port_to(lab, node: str, peer: str) -> str:
    """The interface of ``node`` cabled to ``peer`` (from the live kernel state)."""
    return next(link["name"] for link in lab.snapshot([node])[node]["links"] if link.get("peer_node") == peer)


def bridge_of(lab, network: str) -> str:
    """Docker names a user network's bridge br- and the first 12 characters of its id."""
    return "br-" + json.loads(lab.docker(f"network inspect {network}"))[0]["Id"][:12]


def listener(lab, node: str, port: int) -> str:
    """The process listening on TCP ``port`` in ``node``, as ss names it."""
    out = lab.node(node).run(["ss", "-Hltnp", f"sport = :{port}"]).stdout
    return re.search(r'users:\(\("([^"]+)"', out)[1]


# --- the report as printed -----------------------------------------------------------------
_SECTION = re.compile(r"(\d+) (\S+): netfilter, in the order the packet met it \(table, verdict, rule\)")
_RULE = re.compile(r" {4}(\S+) +(.+?) +(-[AP] \S+.*)")


def printed(t) -> dict:
    """str(t) taken apart: its first line, the table's header and rows (cells), and per hop
    number the rule lines (table, verdict, rule) and the conntrack line."""
    lines = str(t).split("\n")
    assert lines[1] == "", lines
    table, i = [], 2
    while i < len(lines) and lines[i]:
        table.append(re.split(r" {2,}", lines[i]))
        i += 1
    header, rows = table[0], [row + [""] * (len(table[0]) - len(row)) for row in table[1:]]
    sections = {}
    while i < len(lines):
        assert lines[i] == "" and (m := _SECTION.fullmatch(lines[i + 1])), lines[i:i + 2]
        number, rules, conntrack = int(m[1]), [], None
        assert rows[number - 1][1] == m[2]  # the section names its hop's node
        i += 2
        while i < len(lines) and lines[i].startswith("    "):
            if lines[i].startswith("    conntrack: "):
                conntrack = lines[i].removeprefix("    conntrack: ")
            else:
                rule = _RULE.fullmatch(lines[i])
                assert rule, lines[i]
                rules.append(rule.groups())
            i += 1
        sections[number] = (rules, conntrack)
    return {"headline": lines[0], "header": header, "rows": rows, "sections": sections}


def shown(name: str | None, bridge: str | None) -> str:
    """An interface as the table shows it: "—" for none, "name (bridge)" for a bridge's port."""
    return "—" if name is None else f"{name} ({bridge})" if bridge and bridge != name else name


# --- the checks ------------------------------------------------------------------------------
def assert_report(t, description: str, outcome: str, reply: str, hops: list[Expected]) -> None:
    # the result object
    assert (t.description, t.outcome, t.reply) == (description, outcome, reply)
    assert [h.node for h in t.hops] == [e.node for e in hops]
    for i, (hop, e) in enumerate(zip(t.hops, hops), 1):
        where = f"hop {i} ({e.node})"
        assert (hop.came_in, hop.bridge_in, hop.went_out, hop.bridge_out, hop.action) == (
            e.came_in, e.bridge_in, e.went_out, e.bridge_out, e.action), where
        assert hop.nat == e.nat, where
        assert hop.conntrack == e.conntrack, where
        assert [(r.table, r.chain, r.verdict, r.rule) for r in hop.rules] == [
            (table, rule.split()[1], verdict.split(" (")[0], rule) for table, verdict, rule in e.rules], where
        assert_netfilter_flow(hop, where)
    assert t.delivered == (hops[-1].action == "delivered")
    assert t.dropped_at is next((hop for hop in t.hops if hop.action == "dropped"), None)
    rows = [[str(i), e.node, shown(e.came_in, e.bridge_in), shown(e.went_out, e.bridge_out), e.what,
             "; ".join(e.nat)] for i, e in enumerate(hops, 1)]
    assert [list(map(str, row.values())) for row in t.table()] == rows

    # the text the learner reads
    text = printed(t)
    assert text["headline"] == f"{description}: {outcome}; {reply}"
    nat_column = any(e.nat for e in hops)
    assert text["header"] == ["#", "node", "in", "out", "what happened"] + (["NAT"] if nat_column else [])
    assert text["rows"] == [row if nat_column else row[:5] for row in rows]
    assert text["sections"] == {i: (list(e.rules), e.conntrack) for i, e in enumerate(hops, 1)
                                if e.rules or e.conntrack}


def assert_netfilter_flow(hop, where: str) -> None:
    """The rules of one hop in an order netfilter can produce: the base chains in the order of
    one of its flows; a user chain entered only by a jump to it, and left back to its caller;
    nothing after a final verdict but the next hook."""
    hooks = [r.chain for r in hop.rules if r.chain in BASE_CHAINS]
    hooks = [c for i, c in enumerate(hooks) if i == 0 or hooks[i - 1] != c]
    assert any(_in_order(hooks, flow) for flow in FLOWS.values()), f"{where}: hooks in the order {hooks}"
    stack, jumped = [], None
    for rule in hop.rules:
        key = (rule.table, rule.chain)
        if jumped and key == (rule.table, jumped):
            stack.append(key)
        elif key in stack:  # back in a caller (a RETURN, or the end of the chain jumped to)
            del stack[stack.index(key) + 1:]
        else:
            assert not jumped and rule.chain in BASE_CHAINS, f"{where}: {rule.chain} met with no jump to it"
            stack = [key]
        assert rule.rule.split()[1] == rule.chain, f"{where}: {rule.rule!r} is not a rule of {rule.chain}"
        jumped = rule.verdict.split()[1] if rule.verdict.startswith("jump ") else None
        if rule.verdict == "return":
            assert rule.chain not in BASE_CHAINS and stack, where
            stack.pop()
        elif not jumped and rule.verdict != "continue":
            stack = []  # a final verdict: this hook is done with the packet


def _in_order(hooks: list[str], flow: list[str]) -> bool:
    return all(h in flow for h in hooks) and [flow.index(h) for h in hooks] == sorted(flow.index(h) for h in hooks)


# --- chapter 01's Docker host ------------------------------------------------------------------
@pytest.fixture
def bridge_lab(lab):
    """docker-host 198.51.100.10; c1 172.17.0.2 and web 172.17.0.3 (-p 8080:80) on docker0;
    c3 172.18.0.2 on the user network bridge1 (FACTS.md: the default pools, in order). Docker 27's rules:
    the same paths through Docker 29's are test_trace_29.py's."""
    lab.docker_host(version="27")
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -d --name web -p 8080:80 nginx")
    lab.docker("network create bridge1")
    lab.docker("run -dit --name c3 --network bridge1 busybox")
    return lab


def test_outbound_masquerade(bridge_lab):
    lab = bridge_lab
    t = lab.trace("c1", "203.0.113.10")
    # docker-host forwards it (docker0 -> eth0). nat PREROUTING: "-m addrtype --dst-type LOCAL"
    # does not match 203.0.113.10, the policy accepts. filter FORWARD: DOCKER-USER returns;
    # DOCKER-ISOLATION-STAGE-1's bridge1 rule (-i br-…) does not match, its docker0 rule jumps to
    # STAGE-2, whose DROPs are for -o br-… / -o docker0 (out eth0: no), so both return; the
    # -o br-…/-o docker0 rules do not match, "-i docker0 ! -o docker0 -j ACCEPT" does.
    # nat POSTROUTING: docker0's MASQUERADE (the first, bridge1's, is -s 172.18.0.0/16).
    assert_report(t, "ICMP echo request from c1 to 203.0.113.10", "delivered to internet", "the reply came back", [
        Expected("c1", None, None, "eth0", None, "sent", "sent"),
        Expected("docker-host", port_to(lab, "docker-host", "c1"), "docker0", "eth0", None, "routed", "routed",
                 nat=["source 172.17.0.2 → 198.51.100.10"],
                 rules=[("nat", "policy accept", "-P PREROUTING ACCEPT"),
                        ("filter", "jump DOCKER-USER", "-A FORWARD -j DOCKER-USER"),
                        ("filter", "return", "-A DOCKER-USER -j RETURN"),
                        ("filter", "jump DOCKER-ISOLATION-STAGE-1", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"),
                        ("filter", "jump DOCKER-ISOLATION-STAGE-2",
                         "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2"),
                        ("filter", "return", "-A DOCKER-ISOLATION-STAGE-2 -j RETURN"),
                        ("filter", "return", "-A DOCKER-ISOLATION-STAGE-1 -j RETURN"),
                        ("filter", "accept", "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT"),
                        ("nat", "accept (MASQUERADE)", "-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE")],
                 conntrack="original src=172.17.0.2 dst=203.0.113.10, reply src=203.0.113.10 dst=198.51.100.10"),
        Expected("router", port_to(lab, "router", "docker-host"), "lan0", port_to(lab, "router", "internet"), None,
                 "routed", "routed"),
        Expected("internet", port_to(lab, "internet", "router"), None, None, None, "delivered",
                 "delivered; the kernel answers (echo reply)"),
    ])


def test_published_port_dnat(bridge_lab):
    lab = bridge_lab
    t = lab.trace("lan-client", "198.51.100.10", tcp=8080)
    # nat PREROUTING: 198.51.100.10 is local, jump DOCKER; its "-i br-… / -i docker0 -j RETURN"
    # do not match (in eth0), the DNAT for 8080 does. filter FORWARD: DOCKER-USER returns,
    # STAGE-1's rules are for -i br-…/-i docker0 so its RETURN; the conntrack ACCEPT needs an
    # established flow, "-o docker0 -j DOCKER" jumps, and DOCKER's per-port ACCEPT takes it.
    # nat POSTROUTING: no MASQUERADE matches (source 198.51.100.20, no hairpin rule with the
    # userland proxy on): the policy.
    assert_report(t, "TCP SYN to port 8080 from lan-client to 198.51.100.10", "delivered to web",
                  "the connection was accepted (SYN-ACK)", [
        Expected("lan-client", None, None, "eth0", None, "sent", "sent"),
        Expected("router", port_to(lab, "router", "lan-client"), "lan0", port_to(lab, "router", "docker-host"),
                 "lan0", "switched", "switched by bridge lan0"),
        Expected("docker-host", "eth0", None, port_to(lab, "docker-host", "web"), "docker0", "routed", "routed",
                 nat=["destination 198.51.100.10:8080 → 172.17.0.3:80"],
                 rules=[("nat", "jump DOCKER", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
                        ("nat", "accept (DNAT)",
                         "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.3:80"),
                        ("filter", "jump DOCKER-USER", "-A FORWARD -j DOCKER-USER"),
                        ("filter", "return", "-A DOCKER-USER -j RETURN"),
                        ("filter", "jump DOCKER-ISOLATION-STAGE-1", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"),
                        ("filter", "return", "-A DOCKER-ISOLATION-STAGE-1 -j RETURN"),
                        ("filter", "jump DOCKER", "-A FORWARD -o docker0 -j DOCKER"),
                        ("filter", "accept",
                         "-A DOCKER -d 172.17.0.3/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT"),
                        ("nat", "policy accept", "-P POSTROUTING ACCEPT")],
                 conntrack="original src=198.51.100.20 dst=198.51.100.10 sport=40404 dport=8080, "
                           "reply src=172.17.0.3 dst=198.51.100.20 sport=80 dport=40404"),
        Expected("web", "eth0", None, None, None, "delivered", f"delivered to {listener(lab, 'web', 80)} (port 80)"),
    ])


def test_isolation_drop_between_bridge_networks(bridge_lab):
    lab = bridge_lab
    t = lab.trace("c1", "c3")
    # filter FORWARD: DOCKER-USER returns; STAGE-1's docker0 rule jumps to STAGE-2, whose first
    # rule, bridge1's "-o br-… -j DROP", drops it (c3 is out that bridge).
    assert_report(t, "ICMP echo request from c1 to c3 (172.18.0.2)", "dropped on docker-host", "no reply", [
        Expected("c1", None, None, "eth0", None, "sent", "sent"),
        Expected("docker-host", port_to(lab, "docker-host", "c1"), "docker0", None, None, "dropped",
                 "dropped by filter DOCKER-ISOLATION-STAGE-2",
                 rules=[("nat", "policy accept", "-P PREROUTING ACCEPT"),
                        ("filter", "jump DOCKER-USER", "-A FORWARD -j DOCKER-USER"),
                        ("filter", "return", "-A DOCKER-USER -j RETURN"),
                        ("filter", "jump DOCKER-ISOLATION-STAGE-1", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"),
                        ("filter", "jump DOCKER-ISOLATION-STAGE-2",
                         "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2"),
                        ("filter", "drop", f"-A DOCKER-ISOLATION-STAGE-2 -o {bridge_of(lab, 'bridge1')} -j DROP")]),
    ])


def test_hairpin_to_the_userland_proxy(bridge_lab):
    lab = bridge_lab
    t = lab.trace("c1", "198.51.100.10", tcp=8080)
    # nat PREROUTING: the host's own address, jump DOCKER; "-i docker0 -j RETURN" (the userland
    # proxy takes hairpin traffic) returns, the policy accepts: INPUT, docker-proxy's socket.
    assert_report(t, "TCP SYN to port 8080 from c1 to 198.51.100.10", "delivered to docker-host",
                  "the connection was accepted (SYN-ACK)", [
        Expected("c1", None, None, "eth0", None, "sent", "sent"),
        Expected("docker-host", port_to(lab, "docker-host", "c1"), "docker0", None, None, "delivered",
                 "delivered to docker-proxy (port 8080)",
                 rules=[("nat", "jump DOCKER", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
                        ("nat", "return", "-A DOCKER -i docker0 -j RETURN"),
                        ("nat", "policy accept", "-P PREROUTING ACCEPT")]),
    ])


def test_hairpin_nat_without_the_userland_proxy(lab):
    lab.docker_host(version="27", userland_proxy=False)
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -d --name web -p 8080:80 nginx")
    t = lab.trace("c1", "198.51.100.10", tcp=8080)
    # --userland-proxy=false: no "-i docker0 -j RETURN" in nat DOCKER and the DNAT has no
    # "! -i docker0", so it translates c1's SYN. The new destination is on the bridge it came
    # from: br_netfilter bridges it (a DNAT'ed frame for its own bridge is not routed).
    # filter FORWARD: DOCKER-USER returns; STAGE-1's "-i docker0 ! -o docker0" does not match
    # (out docker0): its RETURN; "-o docker0 -j DOCKER", whose ACCEPT needs "! -i docker0"
    # (an implicit return, not listed); "-i docker0 -o docker0 -j ACCEPT". nat POSTROUTING: the
    # hairpin MASQUERADEs are for a local source / web's own address: the policy. DNAT only.
    assert_report(t, "TCP SYN to port 8080 from c1 to 198.51.100.10", "delivered to web",
                  "the connection was accepted (SYN-ACK)", [
        Expected("c1", None, None, "eth0", None, "sent", "sent"),
        Expected("docker-host", port_to(lab, "docker-host", "c1"), "docker0", port_to(lab, "docker-host", "web"),
                 "docker0", "switched", "switched by bridge docker0",
                 nat=["destination 198.51.100.10:8080 → 172.17.0.3:80"],
                 rules=[("nat", "jump DOCKER", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
                        ("nat", "accept (DNAT)", "-A DOCKER -p tcp -m tcp --dport 8080 -j DNAT --to-destination 172.17.0.3:80"),
                        ("filter", "jump DOCKER-USER", "-A FORWARD -j DOCKER-USER"),
                        ("filter", "return", "-A DOCKER-USER -j RETURN"),
                        ("filter", "jump DOCKER-ISOLATION-STAGE-1", "-A FORWARD -j DOCKER-ISOLATION-STAGE-1"),
                        ("filter", "return", "-A DOCKER-ISOLATION-STAGE-1 -j RETURN"),
                        ("filter", "jump DOCKER", "-A FORWARD -o docker0 -j DOCKER"),
                        ("filter", "accept", "-A FORWARD -i docker0 -o docker0 -j ACCEPT"),
                        ("nat", "policy accept", "-P POSTROUTING ACCEPT")],
                 conntrack="original src=172.17.0.2 dst=198.51.100.10 sport=40404 dport=8080, "
                           "reply src=172.17.0.3 dst=172.17.0.2 sport=80 dport=40404"),
        Expected("web", "eth0", None, None, None, "delivered", f"delivered to {listener(lab, 'web', 80)} (port 80)"),
    ])


# --- drops outside netfilter: a host built by hand (myhost_lab) ------------------------------------
def test_not_forwarded_then_no_route(myhost_lab):
    sent = Expected("app1", None, None, "eth0", None, "sent", "sent")
    t = myhost_lab.trace("app1", "203.0.113.10")
    assert_report(t, "ICMP echo request from app1 to 203.0.113.10", "dropped on myhost (not forwarded)", "no reply", [
        sent, Expected("myhost", "veth1", "br0", None, None, "stopped",
                       "not forwarded: net.ipv4.ip_forward is 0 on myhost")])
    myhost_lab["myhost"].sysctl("net.ipv4.ip_forward", 1)
    myhost_lab["myhost"].run("ip route del default", check=True)
    t = myhost_lab.trace("app1", "203.0.113.10")
    assert_report(t, "ICMP echo request from app1 to 203.0.113.10", "dropped on myhost (no route)", "no reply", [
        sent, Expected("myhost", "veth1", "br0", None, None, "stopped",
                       "no route: RTNETLINK answers: Network is unreachable")])
    # a TCP SYN: connect() fails as if there were no route, but the SYN did leave app1
    t = myhost_lab.trace("app1", "203.0.113.10", tcp=80)
    assert_report(t, "TCP SYN to port 80 from app1 to 203.0.113.10", "dropped on myhost (no route)",
                  "no route on the way (an ICMP unreachable came back)", [
        sent, Expected("myhost", "veth1", "br0", None, None, "stopped",
                       "no route: RTNETLINK answers: Network is unreachable")])
    # with no route in app1 itself, nothing leaves
    myhost_lab["app1"].run("ip route del default", check=True)
    t = myhost_lab.trace("app1", "203.0.113.10", tcp=80)
    assert (t.hops, t.outcome, t.reply) == ([], "it never left (no packet was sent)", "not sent: no route")
    assert str(t) == ("TCP SYN to port 80 from app1 to 203.0.113.10: it never left (no packet was sent); "
                      "not sent: no route\n\n#  node  in  out  what happened")


def test_no_arp_answer(myhost_lab):
    t = myhost_lab.trace("app1", "10.0.0.99", udp=53)
    assert_report(t, "UDP datagram to port 53 from app1 to 10.0.0.99",
                  "it never left app1: nobody answered ARP for 10.0.0.99 on eth0 (no such address on that link?)",
                  "sent (UDP expects no reply)", [Expected("app1", None, None, "eth0", None, "sent", "sent")])


def test_a_drop_by_the_forward_policy_names_the_policy(myhost_lab):
    myhost_lab["myhost"].sysctl("net.ipv4.ip_forward", 1)
    myhost_lab["myhost"].run("iptables -P FORWARD DROP", check=True)
    t = myhost_lab.trace("app1", "203.0.113.10")
    assert_report(t, "ICMP echo request from app1 to 203.0.113.10", "dropped on myhost", "no reply", [
        Expected("app1", None, None, "eth0", None, "sent", "sent"),
        Expected("myhost", "veth1", "br0", None, None, "dropped", "dropped by filter FORWARD",
                 rules=[("filter", "policy drop", "-P FORWARD DROP")])])


# --- chapter 07's overlay ---------------------------------------------------------------------
def test_overlay_encapsulation(overlay_pair):
    lab = overlay_pair
    sandbox1, sandbox2 = (n.name for n in lab.nodes() if n.name.startswith(("docker-host.1-", "host2.1-")))
    t = lab.trace("c1", "c2")
    # c1's frame is switched by br0 in the network's sandbox out vxlan0, whose UDP socket is
    # docker-host's: the VXLAN packet is made there (nat OUTPUT: 198.51.100.11 is not local,
    # the policy; nat POSTROUTING: the MASQUERADEs are for 172.17/16 and docker_gwbridge's
    # 172.18/16, the policy), switched by the router's lan0, taken by host2's VXLAN socket (Docker
    # 29's raw PREROUTING guards only container addresses: the policy; nat PREROUTING: its own
    # address, jump DOCKER, whose DNATs are none: an implicit return, the policy) and the inner
    # frame switched to c2. c1 itself,
    # on a user-defined network, has the embedded DNS's nat rules (moby resolver_unix.go
    # setupIPTable: OUTPUT and POSTROUTING jump only for -d 127.0.0.11/32): the policies.
    assert_report(t, "ICMP echo request from c1 to c2 (10.0.1.3)", "delivered to c2", "the reply came back", [
        Expected("c1", None, None, "eth0", None, "sent", "sent",
                 rules=[("nat", "policy accept", "-P OUTPUT ACCEPT"),
                        ("nat", "policy accept", "-P POSTROUTING ACCEPT")]),
        Expected(sandbox1, "veth0", "br0", "vxlan0", "br0", "switched",
                 "switched by bridge br0; encapsulated: VXLAN to 198.51.100.11"),
        Expected("docker-host", None, None, "eth0", None, "sent",
                 "VXLAN packet made here, sent to 198.51.100.11 port 4789",
                 rules=[("nat", "policy accept", "-P OUTPUT ACCEPT"),
                        ("nat", "policy accept", "-P POSTROUTING ACCEPT")]),
        Expected("router", port_to(lab, "router", "docker-host"), "lan0", port_to(lab, "router", "host2"), "lan0",
                 "switched", "switched by bridge lan0"),
        Expected("host2", "eth0", None, None, None, "decapsulated", "VXLAN socket: decapsulated",
                 rules=[("raw", "policy accept", "-P PREROUTING ACCEPT"),
                        ("nat", "jump DOCKER", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
                        ("nat", "policy accept", "-P PREROUTING ACCEPT")]),
        Expected(sandbox2, "vxlan0", "br0", "veth0", "br0", "switched", "switched by bridge br0"),
        Expected("c2", "eth0", None, None, None, "delivered", "delivered; the kernel answers (echo reply)"),
    ])
    assert t.hops[1].encapsulation == "VXLAN to 198.51.100.11" and t.hops[2].after["dport"] == "4789"
