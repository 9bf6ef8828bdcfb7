"""Notebook 09's exercises (Kubernetes) on a real lab: each starts failing, rejects a wrong answer at the
step that should catch it (with that step's hint), accepts the reference solution and other right
answers, and resets from any state, the other exercise's included; the checkers change nothing.

Right and wrong answers come from how the real things behave, not from the lab: flannel's host-gw
backend routes each other node's pod /24 through that node's address (flannel v0.28.9
pkg/backend/hostgw), so a route through the LAN's router or on-link does not reach them, and a node
that does not forward drops them; kube-proxy writes a Service as a KUBE-SVC chain jumping to one
KUBE-SEP chain per endpoint, each ``-p tcp -j DNAT``, through the ladder ``computeProbability``
writes as ``%0.10f`` of 1/(n-i) (kubernetes pkg/proxy/iptables/proxier.go: 0.3333333333, 0.5000000000,
then no statistic match), which iptables stores as a fraction of 2^31 and prints as ``%.11f``
(iptables extensions/libxt_statistic.c: 0.33333333349, 0.50000000000); it inserts (``-I``) its jump to
KUBE-SERVICES at the top of PREROUTING, and rewrites KUBE-SERVICES whole at every sync
(``:KUBE-SERVICES - [0:0]`` in ``iptables-restore --noflush``), so a learner's rule there does not last;
``-m statistic --mode nth --every N`` takes one in N of what reaches it (iptables-extensions(8)), and a
nat rule sees only the first packet of a connection; iptables refuses a DNAT that names a port without
``-p tcp``.
"""

from __future__ import annotations

import pytest

from mistakes import Mistake, Mistakes, assert_each_step_catches, each_exercise, forwarding
from nethelpers.exercises import kubernetes as exercises
from nethelpers.exercises.kubernetes import dnat_shares

JUMP = "-d 10.96.99.99/32 -p tcp --dport 80 -j BY-HAND-SVC"   # the reference solution's jump, as typed


@pytest.fixture
def k8s_lab(lab):
    """The chapter's cluster: node1 (control plane) and node2, flannel host-gw, kube-proxy in iptables mode.
    SERVICE_BY_HAND's own start makes hello and client."""
    lab.kubernetes(["node1", "node2"])
    return lab


def _client_node(lab) -> str:
    return lab.state.k8s.pods["client"].node


def _other_node(lab) -> str:
    return next(name for name in lab.state.k8s.nodes if name != _client_node(lab))


def _hello(lab) -> list[str]:
    return sorted(p.ip for p in lab.state.k8s.pods.values() if p.owner == "hello")


def _coredns(lab) -> str:
    return min(p.ip for p in lab.state.k8s.pods_in("kube-system"))


def _nat(lab, node: str, *rules: str) -> None:
    """``iptables -t nat RULE`` for each rule, on ``node``, stopping at the first that fails."""
    lab.node(node).run(" && ".join(f"iptables -t nat {rule}" for rule in rules), check=True)


def _ladder(destinations: list[str], probabilities: list[str | None], chain: str = "BY-HAND-SVC") -> list[str]:
    """One ``-p tcp`` DNAT rule per destination, with its ``--probability`` (None: no statistic match)."""
    return [f"-A {chain} -p tcp" + (f" -m statistic --mode random --probability {p}" if p else "")
            + f" -j DNAT --to-destination {destination}" for destination, p in zip(destinations, probabilities)]


def _rewrite(probabilities: list[str | None], *, port: int = 80, stranger: bool = False):
    """From the solved exercise: BY-HAND-SVC's rules replaced by a ladder of these probabilities to hello's
    pods on ``port`` (``stranger``: the last one to a CoreDNS pod instead, an IP copied from the wrong line
    of ``kubectl get pods -A -o wide``)."""
    def rewrite(lab):
        ips = _hello(lab)
        if stranger:
            ips[-1] = _coredns(lab)
        _nat(lab, _client_node(lab), "-F BY-HAND-SVC",
             *_ladder([f"{ip}:{port}" for ip in ips], probabilities))
    rewrite.__name__ = f"ladder_{'_'.join(str(p) for p in probabilities)}_port_{port}"
    return rewrite


def _rules_on_the_other_node(lab):
    node, other, ips = _client_node(lab), _other_node(lab), _hello(lab)
    _nat(lab, node, f"-D PREROUTING {JUMP}", "-F BY-HAND-SVC", "-X BY-HAND-SVC")
    _nat(lab, other, "-N BY-HAND-SVC", f"-A PREROUTING {JUMP}",
         *_ladder([f"{ip}:80" for ip in ips], ["0.33333", "0.5", None]))


def _jump_in_output(lab):
    node = _client_node(lab)
    _nat(lab, node, f"-D PREROUTING {JUMP}", f"-A OUTPUT {JUMP}")


CUT_OFF = Mistakes(
    exercises.CUT_OFF_NODE,
    Mistake(0, lambda lab: lab["node1"].run("ip route replace 10.244.1.0/24 via 198.51.100.1 dev eth0", check=True),
            "via 198.51.100.1, which has no route to pods", "node1's route through the LAN's router"),
    Mistake(0, lambda lab: lab["node1"].run("ip route replace 10.244.1.0/24 dev eth0", check=True),
            "has no next hop", "the route on-link, as if node2's pods were on the LAN"),
    Mistake(1, lambda lab: lab["node2"].run("ip route del 10.244.0.0/24", check=True),
            "node2 sends 10.244.0.0/24 via 198.51.100.1", "node2's route to node1's pods deleted"),
    # _cut_off_setup turns forwarding on on both nodes: no undo needed
    Mistake(2, forwarding("node2", False), "net.ipv4.ip_forward", "node2 does not forward"),
)

SERVICE = Mistakes(
    exercises.SERVICE_BY_HAND,
    Mistake(0, lambda lab: lab.kubectl("scale deployment hello --replicas=2"), "not 3", "hello scaled to 2"),
    Mistake(1, lambda lab: _nat(lab, _client_node(lab), "-F BY-HAND-SVC"), "DNATs a packet for 10.96.99.99:80",
            "the learner's DNAT rules flushed"),
    Mistake(1, _rules_on_the_other_node, "client runs on", "the rules written on the node client does not run on"),
    Mistake(1, _jump_in_output, "PREROUTING", "the jump in OUTPUT, which only the node's own packets cross"),
    Mistake(2, _rewrite(["0.33333", "0.33333", "0.33333"]), "30% of the connections match none",
            "the naive ladder: a third at each rule"),
    Mistake(3, _rewrite(["0.5", "0.5", None]), "the shares are uneven", "1/2, 1/2, rest: 50/25/25"),
    Mistake(3, _rewrite(["0.33333", "0.5", None], stranger=True), "is not one of hello's pods",
            "a CoreDNS pod's address among the destinations"),
    Mistake(4, _rewrite(["0.33333", "0.5", None], port=8080), "is each DNAT's port the one nginx listens on",
            "the right ladder to port 8080"),
)


@each_exercise(CUT_OFF, SERVICE)
def test_each_step_catches_a_mistake(k8s_lab, cases):
    assert_each_step_catches(k8s_lab, cases)


# --- other right answers, other wrong ones -----------------------------------------------------------
def test_cut_off_a_route_to_the_whole_cluster_cidr_via_node2_is_right_too(k8s_lab):
    """With two nodes, 10.244.0.0/16 via node2 is enough: node1's own /24 on cni0 is more specific."""
    lab, ex = k8s_lab, exercises.CUT_OFF_NODE
    ex.start(lab)
    lab["node1"].run("ip route add 10.244.0.0/16 via 198.51.100.11 dev eth0", check=True)
    assert ex.passed(lab)


def test_service_kube_proxy_style_chains_pass_and_start_removes_them_all(k8s_lab):
    """A Service chain jumping to one chain per endpoint, as kube-proxy writes it (the MASQ marks too,
    the probabilities as computeProbability writes them). Named outside kube-proxy's KUBE-SVC-/KUBE-SEP-:
    its sync deletes the chains of those prefixes it did not write."""
    lab, ex = k8s_lab, exercises.SERVICE_BY_HAND
    ex.start(lab)
    node, ips = _client_node(lab), _hello(lab)
    rules = ["-N HAND-SVC-HELLO", *[f"-N HAND-SEP-{i}" for i in (1, 2, 3)],
             ('-A PREROUTING -d 10.96.99.99/32 -p tcp -m comment --comment "default/hello cluster IP" -m tcp '
              '--dport 80 -j HAND-SVC-HELLO'),
             "-A HAND-SVC-HELLO ! -s 10.244.0.0/16 -d 10.96.99.99/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ",
             "-A HAND-SVC-HELLO -m statistic --mode random --probability 0.3333333333 -j HAND-SEP-1",
             "-A HAND-SVC-HELLO -m statistic --mode random --probability 0.5000000000 -j HAND-SEP-2",
             "-A HAND-SVC-HELLO -j HAND-SEP-3"]
    for i, ip in enumerate(ips, 1):
        rules += [f"-A HAND-SEP-{i} -s {ip}/32 -j KUBE-MARK-MASQ",
                  f"-A HAND-SEP-{i} -p tcp -m tcp -j DNAT --to-destination {ip}:80"]
    _nat(lab, node, *rules)
    listed = lab[node].run("iptables -t nat -S HAND-SVC-HELLO", check=True).stdout
    assert "--probability 0.33333333349 -j HAND-SEP-1" in listed
    assert "--probability 0.50000000000 -j HAND-SEP-2" in listed
    assert ex.passed(lab)
    lab.kubectl("run other --image=nginx")        # a pod more: kube-proxy syncs, and leaves these chains alone
    assert ex.passed(lab)
    ex.start(lab)                                 # the reset: every chain of the answer gone, however deep
    assert "HAND-" not in lab[node].run("iptables -t nat -S", check=True).stdout
    _nat(lab, node, *rules)                       # so the learner's cell runs again as it is
    assert ex.passed(lab)


def test_service_a_jump_inserted_before_kube_proxys_passes(k8s_lab):
    lab, ex = k8s_lab, exercises.SERVICE_BY_HAND
    ex.start(lab)
    node = _client_node(lab)
    _nat(lab, node, "-N BY-HAND-SVC", f"-I PREROUTING 1 {JUMP}",
         *_ladder([f"{ip}:80" for ip in _hello(lab)], ["0.33333333349", "0.50000000000", None]))
    first = lab[node].run("iptables -t nat -S PREROUTING", check=True).stdout.splitlines()[1]
    assert first.endswith("-j BY-HAND-SVC")       # above kube-proxy's jump to KUBE-SERVICES
    assert ex.passed(lab)


def test_service_round_robin_with_nth_passes(k8s_lab):
    """``--mode nth --every 3``, then ``--every 2``, then the rest: one connection in three to each pod."""
    lab, ex = k8s_lab, exercises.SERVICE_BY_HAND
    ex.start(lab)
    a, b, c = _hello(lab)
    _nat(lab, _client_node(lab), "-N BY-HAND-SVC", f"-A PREROUTING {JUMP}",
         f"-A BY-HAND-SVC -p tcp -m statistic --mode nth --every 3 --packet 0 -j DNAT --to-destination {a}:80",
         f"-A BY-HAND-SVC -p tcp -m statistic --mode nth --every 2 --packet 0 -j DNAT --to-destination {b}:80",
         f"-A BY-HAND-SVC -p tcp -j DNAT --to-destination {c}:80")
    assert ex.passed(lab)


def test_service_a_jump_only_for_the_pods_cidr_passes(k8s_lab):
    """``-s 10.244.0.0/16``: client's address is inside it, so its packets are taken."""
    lab, ex = k8s_lab, exercises.SERVICE_BY_HAND
    ex.start(lab)
    _nat(lab, _client_node(lab), "-N BY-HAND-SVC", f"-A PREROUTING -s 10.244.0.0/16 {JUMP}",
         *_ladder([f"{ip}:80" for ip in _hello(lab)], ["0.33333", "0.5", None]))
    assert ex.passed(lab)


def test_service_a_jump_only_for_packets_from_eth0_is_caught_before_any_request(k8s_lab):
    """Pods' packets enter their node on cni0, not eth0: the rules take none of client's."""
    lab, ex = k8s_lab, exercises.SERVICE_BY_HAND
    ex.start(lab)
    _nat(lab, _client_node(lab), "-N BY-HAND-SVC", f"-A PREROUTING -i eth0 {JUMP}",
         *_ladder([f"{ip}:80" for ip in _hello(lab)], ["0.33333", "0.5", None]))
    text, hint = ex.first_problem(lab)
    assert text.startswith("client's node DNATs") and "PREROUTING" in hint


def test_service_a_jump_in_kube_services_is_gone_at_kube_proxys_next_sync(k8s_lab):
    lab, ex = k8s_lab, exercises.SERVICE_BY_HAND
    ex.start(lab)
    _nat(lab, _client_node(lab), "-N BY-HAND-SVC", f"-I KUBE-SERVICES 1 {JUMP}",
         *_ladder([f"{ip}:80" for ip in _hello(lab)], ["0.33333", "0.5", None]))
    assert ex.passed(lab)
    lab.kubectl("run other --image=nginx")        # a pod more: kube-proxy rewrites KUBE-SERVICES
    text, hint = ex.first_problem(lab)
    assert text == "client's node DNATs connections to 10.96.99.99:80" and "no rule" in hint


def test_service_start_mends_the_pod_network_cut_off_node_left_cut(k8s_lab):
    """A learner who leaves the first exercise unsolved: the second's start gives node1 its route back
    (else requests to node1's pods get no reply, and the hint would blame the port)."""
    lab = k8s_lab
    exercises.CUT_OFF_NODE.start(lab)
    forwarding("node2", False)(lab)
    exercises.SERVICE_BY_HAND.start(lab)
    exercises.SERVICE_BY_HAND.solve(lab, quiet=True)
    assert exercises.SERVICE_BY_HAND.passed(lab)


def test_each_setup_resets_a_solved_exercise(k8s_lab):
    lab = k8s_lab
    for ex in (exercises.CUT_OFF_NODE, exercises.SERVICE_BY_HAND):
        ex.start(lab)
        ex.solve(lab, quiet=True)
        ex.start(lab)
        assert not ex.passed(lab), ex.title


def _rules_and_routes(lab) -> dict[str, str]:
    return {f"{node}: {command}": lab[node].run(command, check=True).stdout
            for node in ("node1", "node2")
            for command in ("iptables -t nat -S", "iptables -S", "ip route", "sysctl -n net.ipv4.ip_forward")}


def test_the_checkers_change_nothing(k8s_lab, monkeypatch, capsys):
    """check() on a wrong answer caught at the last step and on a solved exercise (every step run: the
    pings, SERVICE_BY_HAND's requests) leaves the rules, routes, forwarding and pods as they were."""
    lab = k8s_lab
    monkeypatch.delenv("NETHELPERS_SOLUTIONS", raising=False)
    for ex, wrong in ((exercises.CUT_OFF_NODE, CUT_OFF.mistakes[-1]),
                      (exercises.SERVICE_BY_HAND, SERVICE.mistakes[-1])):
        for mistake in (wrong, None):
            ex.start(lab)
            ex.solve(lab, quiet=True)
            if mistake is not None:
                mistake.make(lab)
            before = _rules_and_routes(lab), sorted(lab.state.k8s.pods)
            ex.check(lab)
            assert (_rules_and_routes(lab), sorted(lab.state.k8s.pods)) == before, (ex.title, mistake)
            assert ("solved" in capsys.readouterr().out) == (mistake is None)


# --- the share arithmetic, on iptables -S lines ------------------------------------------------------
PACKET = {"src": "10.244.1.4", "dst": "10.96.99.99", "dport": 80, "in": "cni0"}
KUBE_PROXY = [   # what kube-proxy has put in a node's nat table (the lab's node2, kube-dns's tcp port only)
    '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
    ('-A KUBE-SERVICES -d 10.96.0.10/32 -p tcp -m comment --comment "kube-system/kube-dns:dns-tcp cluster IP" '
     '-m tcp --dport 53 -j KUBE-SVC-ERIFXISQEP7F7OF4'),
    ('-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this '
     'chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS'),
    ('-A KUBE-SVC-ERIFXISQEP7F7OF4 -m comment --comment "kube-system/kube-dns:dns-tcp -> 10.244.0.2:53" -m statistic '
     '--mode random --probability 0.50000000000 -j KUBE-SEP-IT2ZTR26TO4XFPTO'),
    ('-A KUBE-SEP-IT2ZTR26TO4XFPTO -p tcp -m comment --comment "kube-system/kube-dns:dns-tcp" -m tcp -j DNAT '
     '--to-destination 10.244.0.2:53'),
]
PODS = ["10.244.0.3:80", "10.244.0.4:80", "10.244.1.3:80"]


def _svc(*rules: str) -> list[str]:
    return [*KUBE_PROXY, "-A PREROUTING -d 10.96.99.99/32 -p tcp -m tcp --dport 80 -j BY-HAND-SVC", *rules]


def test_dnat_shares_the_ladder_gives_each_a_third_and_loses_nothing():
    shares = dnat_shares(_svc(*_ladder(PODS, ["0.33333333349", "0.50000000000", None])), PACKET)
    assert all(shares[pod] == pytest.approx(1 / 3, abs=1e-9) for pod in PODS)
    assert shares[""] == pytest.approx(0, abs=1e-9) and "10.244.0.2:53" not in shares


def test_dnat_shares_three_thirds_lose_two_thirds_cubed():
    shares = dnat_shares(_svc(*_ladder(PODS, ["0.33333333349"] * 3)), PACKET)
    assert shares[""] == pytest.approx((2 / 3) ** 3, abs=1e-6)
    assert [round(shares[pod], 4) for pod in PODS] == [0.3333, 0.2222, 0.1481]


def test_dnat_shares_a_return_sends_the_rest_on():
    rules = _svc("-A BY-HAND-SVC -m statistic --mode random --probability 0.5 -j FIRST-HALF",
                 f"-A BY-HAND-SVC -p tcp -j DNAT --to-destination {PODS[2]}",
                 "-A FIRST-HALF -p tcp -m statistic --mode random --probability 0.5 -j DNAT "
                 f"--to-destination {PODS[0]}",
                 "-A FIRST-HALF -j RETURN",
                 f"-A FIRST-HALF -p tcp -j DNAT --to-destination {PODS[1]}")   # never reached
    shares = dnat_shares(rules, PACKET)
    assert shares == pytest.approx({PODS[0]: 0.25, PODS[2]: 0.75, "": 0.0})


def test_dnat_shares_nodeports_and_other_addresses_are_not_taken():
    rules = [*KUBE_PROXY, f"-A KUBE-NODEPORTS -p tcp -m tcp --dport 80 -j DNAT --to-destination {PODS[0]}",
             f"-A PREROUTING -d 10.96.99.98/32 -p tcp -j DNAT --to-destination {PODS[1]}",
             f"-A PREROUTING -d 10.96.0.10/32 -p tcp -j DNAT --to-destination {PODS[2]}"]
    assert dnat_shares(rules, PACKET) == {"": 1.0}


def test_dnat_shares_reads_prefixes_negations_ports_protocols_and_nth():
    def taken(match: str) -> float:
        return 1 - dnat_shares([f"-A PREROUTING {match} -j DNAT --to-destination {PODS[0]}"], PACKET)[""]
    assert taken("-s 10.244.0.0/16") == taken("-d 10.96.0.0/12") == taken("! -s 198.51.100.0/24") == 1
    assert taken("! -s 10.244.0.0/16") == taken("-d 10.96.99.98/32") == 0
    assert taken("-p tcp -m tcp --dport 1:1024") == taken("-p tcp -m multiport --dports 443,80") == 1
    assert taken("-p tcp -m tcp ! --dport 80") == taken("-p udp -m udp --dport 80") == taken("! -p tcp") == 0
    # a pod's packets come in on cni0 (the bridge plugin's gateway; flannel's configuration names it)
    assert taken("-i cni0") == taken("-i cni+") == taken("! -i eth0") == 1
    assert taken("-i eth0") == taken("! -i cni0") == 0
    nth = _svc(*[f"-A BY-HAND-SVC -p tcp{f' -m statistic --mode nth --every {n}' if n else ''} -j DNAT "
                 f"--to-destination {pod}" for pod, n in zip(PODS, (3, 2, None))])
    assert dnat_shares(nth, PACKET) == pytest.approx({**{pod: 1 / 3 for pod in PODS}, "": 0.0})
