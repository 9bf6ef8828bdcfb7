"""Cluster DNS: CoreDNS as kubeadm deploys it, answering ``SERVICE.NAMESPACE.svc.cluster.local``.

Two pods of the Deployment ``coredns`` in ``kube-system`` (labels ``k8s-app=kube-dns``), behind the
Service ``kube-dns`` at 10.96.0.10 (ports ``dns`` 53/UDP, ``dns-tcp`` 53/TCP, ``metrics`` 9153/TCP),
so a query crosses kube-proxy's rules like any Service traffic. Each pod runs the lab's DNS server
(:mod:`nethelpers.programs.dns_server`) with a record per Service (CoreDNS's ``kubernetes`` plugin)
and the world's names (its ``forward .`` to the node's resolver); it is restarted with the new records
when a Service comes or goes (CoreDNS watches the API instead). Pods get the kubelet's resolv.conf
(search ``NS.svc.cluster.local svc.cluster.local cluster.local``, ``ndots:5``).
"""

from __future__ import annotations

import sys

from .cluster import DNS_IP, DOMAIN, Cluster, Deployment, Service, ServicePortSpec, random_suffix

NAMESPACE, NAME, IMAGE = "kube-system", "coredns", "registry.k8s.io/coredns/coredns:v1.12.1"
LABELS = {"k8s-app": "kube-dns"}


def records(cluster: Cluster) -> list[str]:
    return [f"{svc.name}.{svc.namespace}.svc.{DOMAIN}={svc.cluster_ip}"
            for svc in sorted(cluster.services.values(), key=lambda s: (s.namespace, s.name))]


def program(cluster: Cluster) -> list[str]:
    return [sys.executable, "-m", "nethelpers.programs.dns_server", "--port", "53", *records(cluster)]


def deploy(lab, cluster: Cluster) -> None:
    """The coredns Deployment and the kube-dns Service, as ``kubeadm init`` leaves them."""
    from .kubectl import reconcile

    dep = Deployment(NAME, NAMESPACE, IMAGE, 2, 53, selector=dict(LABELS), argv=program(cluster), dns_policy="Default")
    cluster.deployments[(NAMESPACE, NAME)] = dep
    cluster.services[(NAMESPACE, "kube-dns")] = Service(
        "kube-dns", NAMESPACE, "ClusterIP", DNS_IP,
        [ServicePortSpec(53, 53, "UDP", "dns"), ServicePortSpec(53, 53, "TCP", "dns-tcp"),
         ServicePortSpec(9153, 9153, "TCP", "metrics")], dict(LABELS),
        slice_suffix=random_suffix(f"slice/{NAMESPACE}/kube-dns"))
    reconcile(lab, cluster, dep)
    refresh(lab, cluster)


def refresh(lab, cluster: Cluster) -> None:
    """Every CoreDNS pod answers for the Services there are now."""
    dep = cluster.deployment(NAME, NAMESPACE)
    if dep is None:
        return
    dep.argv = program(cluster)
    for pod in cluster.owned_by(dep):
        pod.processes[-1].stop()
        pod.argv = dep.argv
        pod.processes[-1] = lab.node(pod.name).start(dep.argv)
        pod.processes[-1].wait_for("serving", timeout=15)
