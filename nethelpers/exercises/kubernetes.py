"""Exercises of notebook 09 (Kubernetes): a node cut off from the other's pods, and a Service by hand.

    CUT_OFF_NODE     node1 lost flannel's host-gw route to node2's pods: put it back
    SERVICE_BY_HAND  a ClusterIP (10.96.99.99:80) to hello's three pods, written as kube-proxy writes one

SERVICE_BY_HAND's checker reads the rules before it sends traffic: it follows a packet from
``client`` to 10.96.99.99:80 through the nat table of ``client``'s node, rule by rule, and adds up
the share of packets each ``DNAT`` takes (a ``-m statistic --mode random --probability P`` rule takes P
of what reaches it, a ``--mode nth --every N`` rule one in N). Shares that do not add up to 100 %, or
that are uneven, are told before any request waits for an answer that cannot come.
"""

from __future__ import annotations

import ipaddress
import shlex

from ..i18n import _, N_
from . import Exercise, gateway_to, pings, word_after

SERVICE_IP, SERVICE_PORT = "10.96.99.99", 80
DEPLOYMENT, CLIENT = "hello", "client"
REPLICAS = 3
REQUESTS = 30
EVEN = 0.01                 # how far from 1/3 a share may be (0.33 is a third; 0.5 is not)
KEPT_PREFIXES = ("KUBE-", "FLANNEL-", "CNI-")   # chains that kube-proxy, flanneld and portmap own


def _cluster(lab):
    from ..errors import InvalidValue

    cluster = lab.state.k8s
    if cluster is None:
        raise InvalidValue(_("this exercise needs the chapter's cluster: run the notebook's first cells "
                             "(lab.kubernetes(['node1', 'node2']))"))
    return cluster


def _first_pod_on(lab, node: str):
    pods = sorted((p for p in _cluster(lab).pods.values() if p.node == node and p.ip), key=lambda p: p.name)
    return pods[0] if pods else None


# --- 1 · a node cut off -----------------------------------------------------------------------------
def _cut_off_setup(lab):
    """node1 without its route to node2's pod CIDR (node2's to node1 kept, forwarding on)."""
    cluster = _cluster(lab)
    node1, node2 = cluster.nodes["node1"], cluster.nodes["node2"]
    for name in ("node1", "node2"):
        lab.node(name).sysctl("net.ipv4.ip_forward", 1)
    lab.node("node2").run(f"ip route replace {node1.pod_cidr} via {node1.address} dev eth0", check=True)
    lab.node("node1").run(f"ip route del {node2.pod_cidr}")  # any form of it the learner added
    lab.node("node1").run(f"ip route del {node2.pod_cidr}")


def _cut_off_solution(lab):
    lab.node("node1").run("ip route add 10.244.1.0/24 via 198.51.100.11 dev eth0", check=True)


def _route_to(here: str, there: str):
    def check(lab):
        cluster = _cluster(lab)
        remote = cluster.nodes[there]
        probe = _first_pod_on(lab, there)
        target = probe.ip if probe else remote.pod_cidr.split("/")[0]
        via = gateway_to(lab, here, target)
        if via == remote.address:
            return None
        if via is None:
            return _("{here} has no next hop for {cidr}: `ip route get {target}` on {here} names no "
                     "`via`; flannel's host-gw routes each other node's pod CIDR through that node's address "
                     "(ip route add {cidr} via {address} dev eth0)").format(
                here=here, cidr=remote.pod_cidr, target=target, address=remote.address)
        return _("{here} sends {cidr} via {via}, which has no route to pods: only {there} "
                 "({address}) knows them, as `ip route` on the other node shows the other way round").format(
            here=here, cidr=remote.pod_cidr, via=via, there=there, address=remote.address)
    return check


def _pods_ping(lab):
    one, two = _first_pod_on(lab, "node1"), _first_pod_on(lab, "node2")
    if one is None or two is None:
        return _("a pod is needed on each node: kubectl get pods -A -o wide shows where they run")
    if not pings(lab, one.name, two.ip):
        return _("{one} (node1) gets no answer from {two} ({ip}, node2): do both nodes forward "
                 "(sysctl net.ipv4.ip_forward)?").format(one=one.name, two=two.name, ip=two.ip)
    if not pings(lab, two.name, one.ip):
        return _("{two} (node2) gets no answer from {one} ({ip}, node1)").format(
            two=two.name, one=one.name, ip=one.ip)


CUT_OFF_NODE = Exercise(N_("node1 reaches node2's pods again"), [
    (N_("node1 sends node2's pods (10.244.1.0/24) to node2"), _route_to("node1", "node2")),
    (N_("node2 sends node1's pods (10.244.0.0/24) to node1"), _route_to("node2", "node1")),
    (N_("a pod on node1 and a pod on node2 ping each other"), _pods_ping),
], setup=_cut_off_setup, solution=_cut_off_solution)


# --- 2 · a Service by hand --------------------------------------------------------------------------
def _service_setup(lab):
    """The pod network whole again (each node's way to the others' pods, forwarding on: what
    CUT_OFF_NODE's start took away); hello (3 pods) and client running; no rule for 10.96.99.99 on any
    node, and the chains they led to (other than kube-proxy's, flanneld's and portmap's) gone."""
    from ..k8s import podnet

    cluster = _cluster(lab)
    for here in cluster.joined:
        lab.node(here).sysctl("net.ipv4.ip_forward", 1)
        for there in cluster.joined:
            if there != here:
                podnet.connect_peer(lab, cluster, here, there)   # flanneld's route (host-gw) or VXLAN entries
    deployment = cluster.deployment(DEPLOYMENT)
    if deployment is None:
        lab.kubectl(f"create deployment {DEPLOYMENT} --image=nginx --replicas={REPLICAS} --port=80")
    elif deployment.replicas != REPLICAS:
        lab.kubectl(f"scale deployment {DEPLOYMENT} --replicas={REPLICAS}")
    if CLIENT not in cluster.pods:
        lab.kubectl(f"run {CLIENT} --image=nicolaka/netshoot")
    for name in cluster.nodes:
        _forget_service(lab, name)


def _forget_service(lab, node: str) -> None:
    """Delete ``node``'s nat rules that name 10.96.99.99, and the chains they lead to, however deep (a
    service chain jumping to one chain per endpoint, as kube-proxy's): all flushed, then all deleted,
    so that no chain is still referenced by another when it goes."""
    rules = lab.node(node).run("iptables -t nat -S", check=True).stdout.splitlines()
    user_chains = {shlex.split(r)[1] for r in rules if r.startswith("-N ")}
    targets: dict[str, set[str]] = {}
    chains: set[str] = set()
    for rule in rules:
        words = shlex.split(rule)
        if words[:1] != ["-A"]:
            continue
        target = word_after(words, "-j") or word_after(words, "-g")
        targets.setdefault(words[1], set()).add(target)
        if SERVICE_IP in rule:
            lab.node(node).run(["iptables", "-t", "nat", "-D", *words[1:]], check=True)
            chains.add(target)
    ours, todo = set(), [c for c in chains if c in user_chains and not c.startswith(KEPT_PREFIXES)]
    while todo:
        chain = todo.pop()
        if chain not in ours:
            ours.add(chain)
            todo += [c for c in targets.get(chain, ()) if c in user_chains and not c.startswith(KEPT_PREFIXES)]
    for chain in sorted(ours):
        lab.node(node).run(f"iptables -t nat -F {chain}")
    for chain in sorted(ours):
        lab.node(node).run(f"iptables -t nat -X {chain}")


def _service_solution(lab):
    """On the node where client runs, the rules kube-proxy would write for a Service 10.96.99.99:80
    with hello's three pods as its endpoints."""
    node = lab.state.k8s.pods["client"].node
    pods = sorted(p.ip for p in lab.state.k8s.pods.values() if p.owner == "hello")
    rules = ["iptables -t nat -N BY-HAND-SVC",
             "iptables -t nat -A PREROUTING -d 10.96.99.99/32 -p tcp --dport 80 -j BY-HAND-SVC",
             f"iptables -t nat -A BY-HAND-SVC -p tcp -m statistic --mode random --probability 0.33333 "
             f"-j DNAT --to-destination {pods[0]}:80",
             f"iptables -t nat -A BY-HAND-SVC -p tcp -m statistic --mode random --probability 0.5 "
             f"-j DNAT --to-destination {pods[1]}:80",
             f"iptables -t nat -A BY-HAND-SVC -p tcp -j DNAT --to-destination {pods[2]}:80"]
    lab.node(node).run(" && ".join(rules), check=True)


def _negated(words: list[str], flag: str) -> bool:
    """``iptables -S`` writes a negated match as ``! FLAG VALUE``."""
    return words.index(flag) > 0 and words[words.index(flag) - 1] == "!"


def _in_ports(wanted: str, port: int) -> bool:
    """``80``, ``8000:8100`` or (multiport) ``80,443,8000:8100``."""
    for part in wanted.split(","):
        low, colon, high = part.partition(":")
        first = int(low or 0)
        last = int(high or 65535) if colon else first
        if first <= port <= last:
            return True
    return False


def _matches(words: list[str], packet: dict) -> bool:
    """Whether a rule's matches take the client's packet (those that cannot be told here do)."""
    for flag, value in (("-d", packet["dst"]), ("-s", packet["src"])):
        wanted = word_after(words, flag)
        if wanted is not None:
            inside = ipaddress.ip_address(value) in ipaddress.ip_network(wanted, strict=False)
            if inside == _negated(words, flag):
                return False
    for flag in ("--dport", "--dports"):
        wanted = word_after(words, flag)
        if wanted is not None and _in_ports(wanted, packet["dport"]) == _negated(words, flag):
            return False
    protocol = word_after(words, "-p")
    if protocol is not None and (protocol == "tcp") == _negated(words, "-p"):
        return False
    interface = word_after(words, "-i")
    if interface is not None and packet.get("in"):
        same = (packet["in"].startswith(interface[:-1]) if interface.endswith("+") else packet["in"] == interface)
        if same == _negated(words, "-i"):
            return False
    return "--dst-type" not in words   # addrtype LOCAL: the node's own addresses, not a Service's


def _taken(words: list[str]) -> float:
    """The part of what reaches a rule that its statistic match takes: P of ``--mode random
    --probability P``, one connection in N of ``--mode nth --every N`` (its counter sees the first
    packet of each in turn: nat rules see no other), all of it without the match."""
    every = word_after(words, "--every")
    if every is not None:
        return 1 / int(every)
    return float(word_after(words, "--probability") or 1)


def dnat_shares(rules: list[str], packet: dict) -> dict[str, float]:
    """The share of ``packet``'s connections each DNAT destination takes, from nat PREROUTING on,
    following jumps (``--probability`` of what reaches the rule); "" is what no DNAT takes."""
    chains: dict[str, list[list[str]]] = {}
    for rule in rules:
        words = shlex.split(rule)
        if words[:1] == ["-A"]:
            chains.setdefault(words[1], []).append(words[2:])
    shares: dict[str, float] = {}

    def walk(chain: str, mass: float, depth: int) -> float:
        """Send ``mass`` through ``chain``; what RETURNs or falls off its end comes back."""
        for words in chains.get(chain, []):
            if mass <= 1e-9 or not _matches(words, packet):
                continue
            probability = _taken(words)
            taken, mass = mass * probability, mass * (1 - probability)
            target = word_after(words, "-j")
            if target == "DNAT":
                destination = word_after(words, "--to-destination") or ""
                shares[destination] = shares.get(destination, 0) + taken
            elif target == "RETURN":
                mass += taken
                break
            elif target in chains and depth < 20:
                mass += walk(target, taken, depth + 1)
            elif target in ("ACCEPT", "DROP", "REJECT"):
                shares[""] = shares.get("", 0) + taken
            else:
                mass += taken          # MARK, KUBE-MARK-MASQ, LOG...: the packet goes on
        return mass

    left = walk("PREROUTING", 1.0, 0)
    shares[""] = shares.get("", 0) + left
    return shares


def _shares(lab) -> tuple[dict[str, float], str]:
    client = lab.state.k8s.pods[CLIENT]
    rules = lab.node(client.node).run("iptables -t nat -S", check=True).stdout.splitlines()
    # a pod's packets come in to its node on cni0, the bridge flannel's configuration names
    packet = {"src": client.ip, "dst": SERVICE_IP, "dport": SERVICE_PORT, "in": "cni0"}
    return dnat_shares(rules, packet), client.node


def _hello_pods(lab) -> dict[str, str]:
    return {p.ip: p.name for p in lab.state.k8s.pods.values() if p.owner == DEPLOYMENT and p.ip}


def _pods_running(lab):
    cluster = _cluster(lab)
    if CLIENT not in cluster.pods:
        return _("client is gone: run SERVICE_BY_HAND.start(lab) again")
    if len(_hello_pods(lab)) != REPLICAS:
        return _("hello has {count} pods, not {replicas}: kubectl scale deployment hello --replicas=3").format(
            count=len(_hello_pods(lab)), replicas=REPLICAS)


def _something_dnats(lab):
    shares, node = _shares(lab)
    if shares.get("", 0) > 0.999:
        return _("no rule of {node}'s nat table DNATs a packet for {address}:{port}: client runs on "
                 "{node}, and its packets come in on cni0 to {node}'s PREROUTING (iptables -t nat -A PREROUTING -d "
                 "{address}/32 -p tcp --dport 80 -j ...)").format(node=node, address=SERVICE_IP, port=SERVICE_PORT)


def _every_packet_dnated(lab):
    shares, node = _shares(lab)
    lost = shares.get("", 0)
    if lost > 0.001:
        return _("{percent} of the connections match none of your DNAT rules (each rule with "
                 "--probability P takes P of what is left when it is reached): the last rule must take the "
                 "rest, with no probability, as kube-proxy's ladder 1/3, 1/2, then none").format(
            percent=f"{lost:.0%}")


def _even(lab):
    shares, _node = _shares(lab)
    pods = _hello_pods(lab)
    taken = {dest: share for dest, share in shares.items() if dest}
    strangers = sorted(dest for dest in taken if dest.split(":")[0] not in pods)
    if strangers:
        return _("{address} is not one of hello's pods ({pods}: kubectl get pods -o wide)").format(
            address=strangers[0], pods=", ".join(sorted(pods)))
    per_pod = {ip: sum(s for d, s in taken.items() if d.split(":")[0] == ip) for ip in pods}
    if any(abs(share - 1 / REPLICAS) > EVEN for share in per_pod.values()):
        told = ", ".join(f"{pods[ip]} {share:.0%}" for ip, share in sorted(per_pod.items()))
        return _("the shares are uneven ({told}): the first of n rules takes 1/n, the next 1/(n-1) of what is "
                 "left, and so on").format(told=told)


def _requests_answered(lab):
    pods = _hello_pods(lab)
    loop = (f"for i in $(seq {REQUESTS}); do curl -s --max-time 2 http://{SERVICE_IP}/ | head -n 1; "
            f"echo; done")
    reply = lab.node(CLIENT).run(["sh", "-c", loop], timeout=REQUESTS * 3 + 10)
    answered = [line for line in reply.stdout.splitlines() if line.startswith("hello from ")]
    if len(answered) < REQUESTS:
        return _("{missed} of {requests} requests from client got no page: is each DNAT's port "
                 "the one nginx listens on (80)?").format(missed=REQUESTS - len(answered), requests=REQUESTS)
    seen = {line.split()[2] for line in answered}
    missing = sorted(set(pods.values()) - seen)
    if missing:
        return _("{pods} answered none of {requests} requests").format(pods=", ".join(missing), requests=REQUESTS)


# the steps' texts name SERVICE_IP, SERVICE_PORT and REQUESTS as they are (a catalogue's message is a literal)
SERVICE_BY_HAND = Exercise(N_("a Service by hand: 10.96.99.99 spread over hello's pods"), [
    (N_("hello runs 3 pods, and client runs"), _pods_running),
    (N_("client's node DNATs connections to 10.96.99.99:80"), _something_dnats),
    (N_("every connection is DNATed (the shares add up to 100 %)"), _every_packet_dnated),
    (N_("each of hello's pods takes a third"), _even),
    (N_("30 requests from client are all answered, by all three pods"), _requests_answered),
], setup=_service_setup, solution=_service_solution)
