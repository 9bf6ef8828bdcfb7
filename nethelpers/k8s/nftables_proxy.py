"""kube-proxy's nftables mode: the ``ip kube-proxy`` table it owns, as one transaction.

Kubernetes v1.37, ``pkg/proxy/nftables/proxier.go`` (``setupNFTables``, ``syncProxyRules``); the tests
compare it with ``baseRules`` + ``TestOverallNFTablesRules`` of ``pkg/proxy/nftables/proxier_test.go``.
Dispatch is by verdict maps (``service-ips``, ``service-nodeports``) instead of a chain of rules, a
service's chain does the DNAT itself (``numgen random mod N map``; per-endpoint chains only with
ClientIP affinity), and hairpin traffic is found through a set instead of a rule per endpoint.
``transaction(ports, config)`` lists every object; ``nft_script`` orders it for ``nft -f`` (every
object declared before a rule or element names it) and replaces the whole table atomically.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import ServicePort
from .names import nft_endpoint_base, nft_service_base

TABLE = "ip kube-proxy"


@dataclass(frozen=True)
class NftConfig:
    node: str = ""
    cluster_cidr: str | None = None
    masquerade_all: bool = False
    mark: str = "0x00004000"            # fmt.Sprintf("%#08x", 1<<14)
    service_cidrs: tuple[str, ...] = ()  # the ServiceCIDRs: traffic to unallocated ClusterIPs is dropped
    nodeport_ips: tuple[str, ...] = ()   # nodePortAddresses "primary": the node's own address


SETS = (
    ("set", "cluster-ips", "ipv4_addr", "Active ClusterIPs"),
    ("set", "nodeport-ips", "ipv4_addr", "IPs that accept NodePort traffic"),
    ("set", "hairpin-connections", "ipv4_addr . ipv4_addr . inet_proto . inet_service", "service hairpin connections"),
    ("map", "firewall-ips", "ipv4_addr . inet_proto . inet_service : verdict",
     "destinations that are subject to LoadBalancerSourceRanges"),
    ("map", "no-endpoint-nodeports", "inet_proto . inet_service : verdict",
     "vmap to drop or reject packets to service nodeports with no endpoints"),
    ("map", "no-endpoint-services", "ipv4_addr . inet_proto . inet_service : verdict",
     "vmap to drop or reject packets to services with no endpoints"),
    ("map", "service-ips", "ipv4_addr . inet_proto . inet_service : verdict",
     "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
    ("map", "service-nodeports", "inet_proto . inet_service : verdict", "NodePort traffic"),
)
BASE_CHAINS = (
    ("filter-prerouting-pre-dnat", "filter", "prerouting", -110), ("filter-output-pre-dnat", "filter", "output", -110),
    ("filter-forward", "filter", "forward", 0), ("filter-input", "filter", "input", 0),
    ("filter-output", "filter", "output", 0), ("nat-output", "nat", "output", -100),
    ("nat-postrouting", "nat", "postrouting", 100), ("nat-prerouting", "nat", "prerouting", -100),
)
REGULAR_CHAINS = ("cluster-ips-check", "firewall-check", "masquerading", "nodeport-endpoints-check", "reject-chain",
                  "services", "service-endpoints-check")
JUMPS = (  # nftablesJumpChains: (from, extra match, to)
    ("filter-input", "ct state new", "nodeport-endpoints-check"),
    ("filter-input", "ct state new", "service-endpoints-check"),
    ("filter-forward", "ct state new", "service-endpoints-check"),
    ("filter-output", "ct state new", "service-endpoints-check"),
    ("filter-prerouting-pre-dnat", "ct state new", "firewall-check"),
    ("filter-output-pre-dnat", "ct state new", "firewall-check"),
    ("nat-output", "", "services"), ("nat-postrouting", "", "masquerading"), ("nat-prerouting", "", "services"),
    ("filter-forward", "ct state new", "cluster-ips-check"), ("filter-output", "ct state new", "cluster-ips-check"),
)


class _Tx:
    def __init__(self) -> None:
        self.lines: list[str] = [f'add table {TABLE} {{ comment "rules for kube-proxy" ; }}']

    def add(self, text: str) -> None:
        self.lines.append(f"add {text}")

    def chain(self, name: str, extra: str = "") -> None:
        self.add(f"chain {TABLE} {name}" + (f" {{ {extra} ; }}" if extra else ""))

    def rule(self, chain: str, text: str) -> None:
        self.add(f"rule {TABLE} {chain} {text}")

    def element(self, name: str, text: str) -> None:
        line = f"add element {TABLE} {name} {{ {text} }}"
        if line not in self.lines:
            self.lines.append(line)


def transaction(ports: list[ServicePort], config: NftConfig) -> list[str]:
    """Every object of the table after one full sync (knftables' ``add`` lines)."""
    tx, mark = _Tx(), config.mark
    masquerade = f"mark set mark or {mark}"
    for kind, name, type_, comment in SETS:
        tx.add(f'{kind} {TABLE} {name} {{ type {type_} ; comment "{comment}" ; }}')
    for name, type_, hook, priority in BASE_CHAINS:
        tx.chain(name, f"type {type_} hook {hook} priority {priority}")
    for name in REGULAR_CHAINS:
        tx.chain(name, 'comment "helper for @no-endpoint-services / @no-endpoint-nodeports"'
                 if name == "reject-chain" else "")
    tx.rule("cluster-ips-check", 'ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"')
    if config.service_cidrs:
        tx.rule("cluster-ips-check", f"ip daddr {{ {', '.join(config.service_cidrs)} }} drop "
                f'comment "Drop traffic to unallocated ClusterIPs"')
    for source, match, target in JUMPS:
        tx.rule(source, f"{match + ' ' if match else ''}jump {target}")
    tx.rule("firewall-check", "ip daddr . meta l4proto . th dport vmap @firewall-ips")
    tx.rule("masquerading", f"mark and {mark} != 0 mark set mark xor {mark} masquerade fully-random")
    tx.rule("masquerading", "ct status dnat ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections "
            "masquerade fully-random")
    tx.rule("nodeport-endpoints-check", "ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports")
    tx.rule("reject-chain", "reject")
    if config.masquerade_all:
        tx.rule("services", f'ip daddr @cluster-ips {masquerade} comment "masquerade all clusterIP traffic"')
    elif config.cluster_cidr:
        tx.rule("services", f"ip daddr @cluster-ips ip saddr != {config.cluster_cidr} {masquerade} "
                'comment "masquerade clusterIP traffic from outside cluster"')
    tx.rule("services", "ip daddr . meta l4proto . th dport vmap @service-ips")
    tx.rule("services", "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports")
    for ip in config.nodeport_ips:
        tx.element("nodeport-ips", ip)
    tx.rule("service-endpoints-check", "ip daddr . meta l4proto . th dport vmap @no-endpoint-services")
    for port in ports:
        _service_port(tx, port, config, masquerade)
    return tx.lines


def _service_port(tx: _Tx, port: ServicePort, config: NftConfig, masquerade: str) -> None:
    ns, name, proto, key = port.namespace, port.name, port.proto, port.port_name_string
    base = nft_service_base(ns, name, port.protocol, port.port_name)
    cluster_chain, local_chain = f"service-{base}", f"local-{base}"
    external_chain, firewall_chain = f"external-{base}", f"firewall-{base}"
    plan = port.plan(config.node)
    ready, local, internal, external = plan.ready, plan.local, plan.internal, plan.external
    has_endpoints = bool(ready)
    uses_cluster, uses_local, uses_external, uses_fw = (plan.uses_cluster, plan.uses_local, plan.uses_external,
                                                        plan.uses_firewall)
    internal_chain = local_chain if port.internal_policy_local else cluster_chain
    external_policy_chain = local_chain if port.external_policy_local else cluster_chain

    for chain, endpoints in ((cluster_chain, ready if uses_cluster else None),
                             (local_chain, local if uses_local else None)):
        if endpoints is None:
            continue
        tx.chain(chain)
        if port.affinity_seconds:
            for ep in endpoints:
                eb = nft_endpoint_base(ns, name, port.protocol, port.port_name, ep.ip, ep.port)
                tx.add(f"set {TABLE} affinity-{eb} {{ type ipv4_addr ; flags dynamic,timeout ; "
                       f"timeout {port.affinity_seconds}s ; }}")
                tx.rule(chain, f"ip saddr @affinity-{eb} goto endpoint-{eb}")
            vmap = " , ".join(f"{i} : goto endpoint-{nft_endpoint_base(ns, name, port.protocol, port.port_name, e.ip, e.port)}"
                              for i, e in enumerate(endpoints))
            tx.rule(chain, f"numgen random mod {len(endpoints)} vmap {{ {vmap} }}")
        else:
            targets = " , ".join(f"{i} : {e.ip} . {e.port}" for i, e in enumerate(endpoints))
            tx.rule(chain, f"meta l4proto {proto} dnat ip addr . port to numgen random mod {len(endpoints)} "
                    f"map {{ {targets} }}")
    if uses_external:
        tx.chain(external_chain)
        if not port.external_policy_local:
            tx.rule(external_chain, f'{masquerade} comment "masquerade"')
        else:
            if config.cluster_cidr:
                tx.rule(external_chain, f'ip saddr {config.cluster_cidr} goto {cluster_chain} '
                        'comment "short-circuit pod traffic"')
            tx.rule(external_chain, f'fib saddr type local {masquerade} comment "masquerade local traffic"')
            tx.rule(external_chain, f'fib saddr type local goto {cluster_chain} comment "short-circuit local traffic"')
        if external:
            tx.rule(external_chain, f"goto {external_policy_chain}")
    if port.affinity_seconds:
        for ep in sorted({e for e in (ready if uses_cluster else []) + (local if uses_local else [])},
                         key=lambda e: (e.ip, e.port)):
            eb = nft_endpoint_base(ns, name, port.protocol, port.port_name, ep.ip, ep.port)
            tx.chain(f"endpoint-{eb}")
            tx.rule(f"endpoint-{eb}", f"update @affinity-{eb} {{ ip saddr }}")
            tx.rule(f"endpoint-{eb}", f"meta l4proto {proto} dnat to {ep}")
    if uses_fw:
        tx.chain(firewall_chain)
        tx.rule(firewall_chain, f"ip saddr != {{ {', '.join(port.source_ranges)} }} drop")
    # the elements
    tx.element("cluster-ips", port.cluster_ip)
    here = f"{proto} . {port.port}"
    if internal:
        tx.element("service-ips", f"{port.cluster_ip} . {here} : goto {internal_chain}")
    else:
        verdict = "drop" if port.internal_policy_local and has_endpoints else "goto reject-chain"
        tx.element("no-endpoint-services", f'{port.cluster_ip} . {here} comment "{key}" : {verdict}')
    external_verdict = "drop" if port.external_policy_local and has_endpoints else "goto reject-chain"
    for ip in port.external_ips + port.load_balancer_ips:
        if has_endpoints:
            tx.element("service-ips", f"{ip} . {here} : goto {external_chain}")
    if port.node_port and has_endpoints:
        tx.element("service-nodeports", f"{proto} . {port.node_port} : goto {external_chain}")
    if not external:
        if port.node_port:
            tx.element("no-endpoint-nodeports", f'{proto} . {port.node_port} comment "{key}" : {external_verdict}')
        for ip in sorted(port.external_ips + port.load_balancer_ips, key=lambda a: tuple(map(int, a.split(".")))):
            tx.element("no-endpoint-services", f'{ip} . {here} comment "{key}" : {external_verdict}')
    if uses_fw:
        for ip in port.load_balancer_ips:
            tx.element("firewall-ips", f"{ip} . {here} : goto {firewall_chain}")
    for ep in local:
        tx.element("hairpin-connections", f"{ep.ip} . {ep.ip} . {proto} . {ep.port}")


def nft_script(lines: list[str]) -> str:
    """The transaction for ``nft -f``: the old table (if any) and the new one, atomically, with every
    set, map and chain declared before the rules and elements that name them."""
    declared = [ln for ln in lines if ln.startswith(("add table", "add set", "add map", "add chain"))]
    rest = [ln for ln in lines if ln not in declared]
    return "\n".join([f"add table {TABLE}", f"delete table {TABLE}", *declared, *rest]) + "\n"
