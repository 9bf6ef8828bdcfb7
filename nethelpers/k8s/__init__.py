"""Kubernetes networking in the lab: what the kubelet, the CNI plugins, flannel and kube-proxy build.

    cluster.py         the objects (nodes, pods, deployments, services) and what names and addresses them
    kubelet.py         pods: a namespace wired by the real CNI plugins, a pause process, the containers
    podnet.py          between nodes: flannel's host-gw routes or its VXLAN (flannel.1), its iptables rules
    proxy.py           kube-proxy on every node: start (jumps, canaries), sync (one iptables-restore)
    iptables_proxy.py  kube-proxy's iptables mode: the restore input of one sync, rule for rule
    nftables_proxy.py  kube-proxy's nftables mode: the table ip kube-proxy, as one transaction
    model.py, names.py what kube-proxy reads (service ports, endpoints) and the chain names it computes
    dns.py             CoreDNS behind the kube-dns Service: SERVICE.NAMESPACE.svc.cluster.local
    kubectl.py         the kubectl subset and its tables; apply.py: kubectl apply -f of Pods, Deployments, Services

    cluster = lab.kubernetes(["node1", "node2"], pod_network="host-gw")   # or "vxlan"
    lab.kubectl("create deployment web --image=nginx --replicas=3")
    lab.kubectl("expose deployment web --port=80 --type=NodePort")
"""

from __future__ import annotations

from .. import world
from ..errors import InvalidValue
from . import dns, podnet, proxy
from .cluster import API_SERVER_PORT, Cluster, Node, Service, ServicePortSpec
from .kubectl import KubectlError, run

__all__ = ["Cluster", "KubectlError", "cluster_of", "create", "kubectl"]

POD_NETWORKS = ("host-gw", "vxlan")


def cluster_of(lab) -> Cluster | None:
    return lab.state.k8s


def create(lab, nodes=("node1", "node2"), *, pod_network: str = "host-gw", proxy_mode: str = "iptables") -> Cluster:
    """A cluster of ``nodes`` (hosts on the lab's LAN; the first is the control plane, and takes pods
    too), its pod network, kube-proxy on each (``proxy_mode`` "iptables" or "nftables"), and the
    ``kubernetes`` Service. Once per lab."""
    if lab.state.k8s is not None:
        raise InvalidValue("this lab has its cluster already (lab.kubectl(...) works on it); use a new lab "
                           "for another")
    if pod_network not in POD_NETWORKS:
        raise InvalidValue(f"pod_network {pod_network!r}: use 'host-gw' (routes between the nodes) or 'vxlan' "
                           f"(flannel's VXLAN overlay)")
    if proxy_mode not in proxy.MODES:
        raise InvalidValue(f"proxy_mode {proxy_mode!r}: use 'iptables' (kube-proxy's default) or 'nftables'")
    nodes = list(nodes)
    if not nodes or len(set(nodes)) != len(nodes):
        raise InvalidValue(f"nodes {nodes!r}: give one name or more, each once, e.g. ['node1', 'node2']")
    cluster = Cluster(pod_network=pod_network, proxy_mode=proxy_mode)
    world.ensure(lab)
    podnet.check_bridge_netfilter(lab, world.ROUTER)  # before any node is made: a refusal changes nothing
    for i, name in enumerate(nodes):
        world.add_host(lab, name)
        cluster.nodes[name] = Node(name, world.address_of(lab, name), cluster.next_pod_cidr(),
                                   role="control-plane" if i == 0 else "")
    lab.state.k8s = cluster
    for name in nodes:
        podnet.join(lab, cluster, name)
        proxy.start(lab, cluster, name)
    first = cluster.nodes[nodes[0]]
    cluster.services[("default", "kubernetes")] = Service("kubernetes", "default", "ClusterIP", "10.96.0.1",
                                             [ServicePortSpec(443, API_SERVER_PORT, name="https")], {},
                                             endpoints_override=[(first.address, API_SERVER_PORT, first.name)])
    proxy.sync(lab, cluster)
    dns.deploy(lab, cluster)
    return cluster


def kubectl(lab, command, input: str | None = None):
    """Run one kubectl command line against the lab's cluster (``input``: its standard input, for
    ``apply -f -``)."""
    cluster = lab.state.k8s
    if cluster is None:
        raise InvalidValue("this lab has no Kubernetes cluster yet: make one with lab.kubernetes(['node1', 'node2'])")
    with lab._lock:
        return run(lab, cluster, command, input)
