"""kube-proxy on every node: the Services and their endpoints, turned into that node's rules.

In iptables mode (:mod:`.iptables_proxy`) each node's kube-proxy, on start, makes its canary chains
and inserts its jumps into the built-in chains (``-C``, then ``-I`` where missing), turns on
``route_localnet`` for NodePorts on 127.0.0.1, and on every change writes its chains in one
``iptables-restore --noflush`` — here after each ``kubectl`` command that changes a Service or a pod.
In nftables mode (:mod:`.nftables_proxy`) it owns the table ``ip kube-proxy`` and writes it whole, in
one ``nft -f`` transaction; it leaves ``route_localnet`` alone (no NodePorts on 127.0.0.1).
"""

from __future__ import annotations

import sys

from ..errors import CommandFailed
from .cluster import CLUSTER_CIDR, SERVICE_CIDR, Cluster
from .iptables_proxy import CANARY, JUMPS, ProxyConfig, restore_input
from .model import Endpoint, ServicePort
from .nftables_proxy import NftConfig, nft_script, transaction

MODES = ("iptables", "nftables")


def service_ports(cluster: Cluster) -> list[ServicePort]:
    """Every Service port with its endpoints (the EndpointSlices' ready addresses)."""
    ports = []
    for svc in sorted(cluster.services.values(), key=lambda s: (s.namespace, s.name)):
        pods = cluster.pods_of(svc) if svc.endpoints_override is None else []
        for spec in svc.ports:
            if svc.endpoints_override is not None:
                endpoints = [Endpoint(ip, port, node) for ip, port, node in svc.endpoints_override]
            else:
                endpoints = [Endpoint(p.ip, spec.target_port, p.node) for p in pods]
            ports.append(ServicePort(svc.namespace, svc.name, spec.name, spec.protocol, svc.cluster_ip, spec.port,
                                     node_port=spec.node_port, external_policy_local=svc.external_policy_local,
                                     affinity_seconds=svc.affinity_seconds, endpoints=endpoints))
    return ports


def config_for(node: str) -> ProxyConfig:
    return ProxyConfig(node=node, cluster_cidr=CLUSTER_CIDR)


def start(lab, cluster: Cluster, node: str) -> None:
    """kube-proxy starting on ``node``: in iptables mode its canaries, the jumps, route_localnet."""
    if cluster.proxy_mode == "nftables":
        return
    script = [f"iptables -t {table} -N {CANARY}" for table in ("mangle", "nat", "filter")]
    for table, chain, target, extra, comment in JUMPS:
        script.append(f"iptables -t {table} -N {target} 2>/dev/null || true")
        rule = " ".join(w for w in (extra, f'-m comment --comment "{comment}"' if comment else "", f"-j {target}") if w)
        script.append(f"iptables -t {table} -C {chain} {rule} 2>/dev/null || iptables -t {table} -I {chain} {rule}")
    lab.node(node).run(" && ".join(f"( {line} )" for line in script), check=True)
    lab.node(node).sysctl("net.ipv4.conf.all.route_localnet", 1)


def sync(lab, cluster: Cluster) -> None:
    """One full sync on every node. A node whose sync the kernel refuses keeps its rules as they were,
    and its kube-proxy logs the failure and goes on (proxier.go: "Failed to execute iptables-restore",
    then a retry): the command that changed a Service still succeeds, as with a real API server. The
    lab keeps the log in ``cluster.proxy_log`` and prints it, since a notebook has no ``kubectl logs``."""
    ports = service_ports(cluster)
    for name in sorted(cluster.nodes):
        try:
            _sync_node(lab, cluster, name, ports)
        except CommandFailed as exc:
            what = "nftables sync failed" if cluster.proxy_mode == "nftables" else "Failed to execute iptables-restore"
            entry = (f"kube-proxy on {name}: {what}: {exc} — {name} keeps its previous rules; kube-proxy deletes "
                     f"chains with its prefixes that it did not write, so a chain of yours named KUBE-… that a "
                     f"rule still jumps to blocks it (rename or delete it, and the next change syncs)")
            cluster.proxy_log.append(entry)
            print(entry, file=sys.stderr)


def _sync_node(lab, cluster: Cluster, name: str, ports: list[ServicePort]) -> None:
    node = lab.node(name)
    if cluster.proxy_mode == "nftables":
        config = NftConfig(node=name, cluster_cidr=CLUSTER_CIDR, service_cidrs=(SERVICE_CIDR,),
                           nodeport_ips=(cluster.nodes[name].address,))
        node.run(["nft", "-f", "-"], input=nft_script(transaction(ports, config)), check=True)
        return
    listed = node.run(["iptables", "-w", "-t", "nat", "-S"], check=True).stdout.splitlines()
    existing = tuple(line.split()[1] for line in listed if line.startswith("-N ") and len(line.split()) == 2)
    node.run(["iptables-restore", "-w", "--noflush", "--counters"],
             input=restore_input(ports, config_for(name), existing), check=True)
