"""kube-proxy's iptables mode: the ``iptables-restore`` input it writes, rule for rule.

Kubernetes v1.37, ``pkg/proxy/iptables/proxier.go`` ``syncProxyRules`` (the sources read and their
commits are listed in ``docs/design/kubernetes.md``). One ``restore_input(ports, config)`` call is one
full sync: a ``*filter`` and a ``*nat`` section for ``iptables-restore --noflush``, in which every
``:CHAIN`` line flushes that chain. ``JUMPS`` are the rules kube-proxy inserts (``-I``) into the built-in
chains, once, before the first sync. What the tests compare it with: the expected dump of
``TestOverallIPTablesRules`` (``pkg/proxy/iptables/proxier_test.go``).
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import ServicePort
from .names import endpoint_chain, service_chain

MARK_MASQ, POSTROUTING, SERVICES, NODEPORTS = "KUBE-MARK-MASQ", "KUBE-POSTROUTING", "KUBE-SERVICES", "KUBE-NODEPORTS"
EXTERNAL, FORWARD, PROXY_FIREWALL, FIREWALL = ("KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-PROXY-FIREWALL",
                                               "KUBE-FIREWALL")
CANARY = "KUBE-PROXY-CANARY"

# iptablesJumpChains then iptablesKubeletJumpChains: (table, built-in chain, target, extra args, comment),
# each inserted at the top when missing, so a fresh node lists them in the reverse order
JUMPS = (
    ("filter", "INPUT", EXTERNAL, "-m conntrack --ctstate NEW", "kubernetes externally-visible service portals"),
    ("filter", "FORWARD", EXTERNAL, "-m conntrack --ctstate NEW", "kubernetes externally-visible service portals"),
    ("filter", "INPUT", NODEPORTS, "", "kubernetes health check service ports"),
    ("filter", "FORWARD", SERVICES, "-m conntrack --ctstate NEW", "kubernetes service portals"),
    ("filter", "OUTPUT", SERVICES, "-m conntrack --ctstate NEW", "kubernetes service portals"),
    ("filter", "FORWARD", FORWARD, "", "kubernetes forwarding rules"),
    ("filter", "INPUT", PROXY_FIREWALL, "-m conntrack --ctstate NEW", "kubernetes load balancer firewall"),
    ("filter", "OUTPUT", PROXY_FIREWALL, "-m conntrack --ctstate NEW", "kubernetes load balancer firewall"),
    ("filter", "FORWARD", PROXY_FIREWALL, "-m conntrack --ctstate NEW", "kubernetes load balancer firewall"),
    ("nat", "OUTPUT", SERVICES, "", "kubernetes service portals"),
    ("nat", "PREROUTING", SERVICES, "", "kubernetes service portals"),
    ("nat", "POSTROUTING", POSTROUTING, "", "kubernetes postrouting rules"),
    ("filter", "INPUT", FIREWALL, "", ""),
    ("filter", "OUTPUT", FIREWALL, "", ""),
)


@dataclass(frozen=True)
class ProxyConfig:
    """The kube-proxy settings the rules depend on, with the real program's defaults."""
    node: str = ""                     # this node's name (which endpoints are local)
    cluster_cidr: str | None = None    # --cluster-cidr: traffic from outside it is masqueraded
    masquerade_all: bool = False       # --masquerade-all
    mark: str = "0x00004000"           # fmt.Sprintf("%#08x", 1<<14) (--iptables-masquerade-bit 14)
    localhost_nodeports: bool = True   # --iptables-localhost-nodeports
    random_fully: bool = True          # iptables >= 1.6.2 has MASQUERADE --random-fully
    nfacct: bool = False               # the nfacct counters (xt_nfacct): off where they cannot be made
    tcp_be_liberal: bool = False       # nf_conntrack_tcp_be_liberal: no INVALID drop when set


def quote(comment: str) -> str:
    """A comment as kube-proxy writes it: in double quotes when it has a space."""
    return f'"{comment}"' if " " in comment else comment


def probability(n: int) -> str:
    """``computeProbability``: ``%0.10f`` of 1/n."""
    return f"{1.0 / n:0.10f}"


class _Sync:
    """One syncProxyRules: chain lines and rules of the two tables."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        self.filter_chains = [NODEPORTS, SERVICES, EXTERNAL, FORWARD, PROXY_FIREWALL]
        self.nat_chains = [NODEPORTS, SERVICES, MARK_MASQ, POSTROUTING]
        self.filter_rules: list[str] = []
        self.nat_rules: list[str] = []
        if config.localhost_nodeports:  # IPv4 only, as the lab is
            self.filter_chains.insert(3, FIREWALL)

    def nat(self, chain: str, *words: str) -> None:
        self.nat_rules.append(" ".join(["-A", chain, *[w for w in words if w]]))

    def filter(self, chain: str, *words: str) -> None:
        self.filter_rules.append(" ".join(["-A", chain, *[w for w in words if w]]))

    def text(self) -> str:
        lines = ["*filter", *[f":{c} - [0:0]" for c in self.filter_chains], *self.filter_rules, "COMMIT",
                 "*nat", *[f":{c} - [0:0]" for c in self.nat_chains], *self.nat_rules, "COMMIT"]
        return "\n".join(lines) + "\n"


SERVICE_CHAIN_PREFIXES = ("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")


def restore_input(ports: list[ServicePort], config: ProxyConfig, existing: tuple[str, ...] = ()) -> str:
    """What one full sync writes for these service ports; ``existing``: the nat table's chains now,
    of which the service chains no longer used are flushed and deleted (``-X``)."""
    sync = _Sync(config)
    mark = config.mark
    sync.nat(POSTROUTING, f"-m mark ! --mark {mark}/{mark} -j RETURN")
    sync.nat(POSTROUTING, f"-j MARK --xor-mark {mark}")
    sync.nat(POSTROUTING, '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE'
             + (" --random-fully" if config.random_fully else ""))
    sync.nat(MARK_MASQ, f"-j MARK --or-mark {mark}")
    if config.localhost_nodeports:
        sync.filter(FIREWALL, '-m comment --comment "block incoming localnet connections" -d 127.0.0.0/8 '
                    '! -s 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP')
    for port in ports:
        _service_port(sync, port)
    sync.nat(SERVICES, '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in '
             'this chain" -m addrtype --dst-type LOCAL' + ("" if config.localhost_nodeports else " ! -d 127.0.0.0/8")
             + f" -j {NODEPORTS}")
    if not config.tcp_be_liberal:
        sync.filter(FORWARD, "-m conntrack --ctstate INVALID"
                    + (" -m nfacct --nfacct-name ct_state_invalid_dropped_pkts" if config.nfacct else "") + " -j DROP")
    sync.filter(FORWARD, f'-m comment --comment "kubernetes forwarding rules" -m mark --mark {mark}/{mark} -j ACCEPT')
    sync.filter(FORWARD, '-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate '
                'RELATED,ESTABLISHED -j ACCEPT')
    stale = sorted(c for c in existing if c.startswith(SERVICE_CHAIN_PREFIXES) and c not in sync.nat_chains)
    sync.nat_chains += stale
    sync.nat_rules += [f"-X {chain}" for chain in stale]
    return sync.text()


def _service_port(sync: _Sync, port: ServicePort) -> None:
    config, name, proto = sync.config, port.port_name_string, port.proto
    plan = port.plan(config.node)
    ready, local = plan.ready, plan.local
    cluster_chain = service_chain("KUBE-SVC-", name, proto)
    local_chain = service_chain("KUBE-SVL-", name, proto)
    ext_chain = service_chain("KUBE-EXT-", name, proto)
    fw_chain = service_chain("KUBE-FW-", name, proto)
    has_endpoints, has_internal, has_external = bool(ready), bool(plan.internal), bool(plan.external)
    internal_chain = local_chain if port.internal_policy_local else cluster_chain
    external_policy_chain = local_chain if port.external_policy_local else cluster_chain
    uses_cluster, uses_local = plan.uses_cluster, plan.uses_local
    uses_external, uses_fw = plan.uses_external, plan.uses_firewall
    lb_chain = fw_chain if uses_fw else ext_chain

    def filter_target(local_policy: bool) -> tuple[str, str]:
        if local_policy and has_endpoints:
            return f"{name} has no local endpoints", "DROP"
        return f"{name} has no endpoints", "REJECT"

    match = f"-m {proto} -p {proto}"
    # the ClusterIP
    if has_internal:
        sync.nat(SERVICES, f"-m comment --comment {quote(name + ' cluster IP')} {match} -d {port.cluster_ip} "
                 f"--dport {port.port} -j {internal_chain}")
    else:
        comment, target = filter_target(port.internal_policy_local)
        sync.filter(SERVICES, f"-m comment --comment {quote(comment)} {match} -d {port.cluster_ip} "
                    f"--dport {port.port} -j {target}")
    ext_comment, ext_target = filter_target(port.external_policy_local)
    for ip in port.external_ips:
        if has_endpoints:
            sync.nat(SERVICES, f"-m comment --comment {quote(name + ' external IP')} {match} -d {ip} "
                     f"--dport {port.port} -j {ext_chain}")
        if not has_external:
            sync.filter(EXTERNAL, f"-m comment --comment {quote(ext_comment)} {match} -d {ip} --dport {port.port} "
                        f"-j {ext_target}")
    for ip in port.load_balancer_ips:
        if has_endpoints:
            sync.nat(SERVICES, f"-m comment --comment {quote(name + ' loadbalancer IP')} {match} -d {ip} "
                     f"--dport {port.port} -j {lb_chain}")
        if uses_fw:
            sync.filter(PROXY_FIREWALL, f"-m comment --comment {quote(f'{name} traffic not accepted by {fw_chain}')} "
                        f"{match} -d {ip} --dport {port.port} -j DROP")
    if not has_external:
        for ip in port.load_balancer_ips:
            sync.filter(EXTERNAL, f"-m comment --comment {quote(ext_comment)} {match} -d {ip} --dport {port.port} "
                        f"-j {ext_target}")
    # the NodePort
    if port.node_port:
        if has_endpoints:
            if config.localhost_nodeports and config.nfacct:
                sync.nat(NODEPORTS, f"-m comment --comment {quote(name)} {match} -d 127.0.0.0/8 --dport "
                         f"{port.node_port} -m nfacct --nfacct-name localhost_nps_accepted_pkts -j {ext_chain}")
            sync.nat(NODEPORTS, f"-m comment --comment {quote(name)} {match} --dport {port.node_port} -j {ext_chain}")
        if not has_external:
            sync.filter(EXTERNAL, f"-m comment --comment {quote(ext_comment)} -m addrtype --dst-type LOCAL {match} "
                        f"--dport {port.node_port} -j {ext_target}")
    if port.health_check_node_port:
        sync.filter(NODEPORTS, f"-m comment --comment {quote(name + ' health check node port')} {match} "
                    f"--dport {port.health_check_node_port} -j ACCEPT")
    # the service's own chains
    if uses_cluster:
        sync.nat_chains.append(cluster_chain)
    if uses_local:
        sync.nat_chains.append(local_chain)
    if has_internal:
        masquerade = f"-m comment --comment {quote(name + ' cluster IP')} {match} -d {port.cluster_ip} " \
                     f"--dport {port.port}"
        if config.masquerade_all:
            sync.nat(internal_chain, f"{masquerade} -j {MARK_MASQ}")
        elif config.cluster_cidr:
            sync.nat(internal_chain, f"{masquerade} ! -s {config.cluster_cidr} -j {MARK_MASQ}")
    if uses_external:
        sync.nat_chains.append(ext_chain)
        if not port.external_policy_local:
            sync.nat(ext_chain, f"-m comment --comment {quote(f'masquerade traffic for {name} external destinations')} "
                     f"-j {MARK_MASQ}")
        else:
            if config.cluster_cidr and uses_cluster:
                sync.nat(ext_chain, f"-m comment --comment {quote(f'pod traffic for {name} external destinations')} "
                         f"-s {config.cluster_cidr} -j {cluster_chain}")
            sync.nat(ext_chain, "-m comment --comment "
                     + quote(f"masquerade LOCAL traffic for {name} external destinations")
                     + f" -m addrtype --src-type LOCAL -j {MARK_MASQ}")
            sync.nat(ext_chain, "-m comment --comment "
                     + quote(f"route LOCAL traffic for {name} external destinations")
                     + f" -m addrtype --src-type LOCAL -j {cluster_chain}")
        if has_external:
            sync.nat(ext_chain, f"-j {external_policy_chain}")
    if uses_fw:
        sync.nat_chains.append(fw_chain)
        for cidr in port.source_ranges:
            sync.nat(fw_chain, f"-m comment --comment {quote(name + ' loadbalancer IP')} -s {cidr} -j {ext_chain}")
        sync.nat(fw_chain, "-m comment --comment "
                 + quote(f"other traffic to {name} will be dropped by {PROXY_FIREWALL}"))
    if uses_cluster:
        _to_endpoints(sync, port, cluster_chain, ready)
    if uses_local:
        _to_endpoints(sync, port, local_chain, local)
    reachable = {str(e): e for e in (ready if uses_cluster else []) + (local if uses_local else [])}
    for text, ep in sorted(reachable.items()):
        chain = endpoint_chain(name, proto, text)
        sync.nat_chains.append(chain)
        sync.nat(chain, f"-m comment --comment {quote(name)} -s {ep.ip} -j {MARK_MASQ}")
        affinity = f"-m recent --name {chain} --set " if port.affinity_seconds else ""
        sync.nat(chain, f"-m comment --comment {quote(name)} {affinity}{match} -j DNAT --to-destination {text}")


def _to_endpoints(sync: _Sync, port: ServicePort, chain: str, endpoints: list) -> None:
    """writeServiceToEndpointRules: the affinity rules, then the probability ladder."""
    name, proto = port.port_name_string, port.proto
    if port.affinity_seconds:
        for ep in endpoints:
            sep = endpoint_chain(name, proto, str(ep))
            sync.nat(chain, f"-m comment --comment {quote(f'{name} -> {ep}')} -m recent --name {sep} --rcheck "
                     f"--seconds {port.affinity_seconds} --reap -j {sep}")
    n = len(endpoints)
    for i, ep in enumerate(endpoints):
        sep = endpoint_chain(name, proto, str(ep))
        ladder = f" -m statistic --mode random --probability {probability(n - i)}" if i < n - 1 else ""
        sync.nat(chain, f"-m comment --comment {quote(f'{name} -> {ep}')}{ladder} -j {sep}")
