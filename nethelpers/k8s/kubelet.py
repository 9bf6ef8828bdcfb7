"""The node agent: a pod is a network namespace that the real CNI plugins wire, with its containers in it.

As the kubelet asks containerd to (containerd ``internal/cri/server/sandbox_run.go``): a namespace
for the pod sandbox, CNI ADD of the node's network configuration (``eth0``) and of the loopback one
(``lo``), then the pause process that holds the namespace, then the pod's containers. The node's
configuration is what flannel's CNI plugin hands the bridge plugin on a kubeadm + flannel node
(flannel ``cni-plugin`` ``flannel_linux.go``: bridge ``cni0``, hairpin, gateway, no masquerade of
its own, host-local from the node's /24 with a route to the whole pod network) followed by
``portmap`` for hostPorts. (The flannel plugin itself only reads ``/run/flannel/subnet.env`` and
delegates; the lab writes the delegated configuration directly, with a ``dataDir`` per node.)
"""

from __future__ import annotations

import hashlib

from ..cni import Runtime
from ..docker import images
from .cluster import CLUSTER_CIDR, DNS_IP, DOMAIN, Cluster, Pod

LOOPBACK = {"cniVersion": "0.3.1", "name": "cni-loopback", "plugins": [{"type": "loopback"}]}


def network_config(cluster: Cluster, node: str, mtu: int) -> dict:
    """The node's ``10-flannel.conflist``, as the bridge and portmap plugins receive it."""
    pod_cidr = cluster.nodes[node].pod_cidr
    return {"cniVersion": "0.3.1", "name": "cbr0", "plugins": [
        {"type": "bridge", "bridge": "cni0", "hairpinMode": True, "ipMasq": False, "isDefaultGateway": True,
         "isGateway": True, "mtu": mtu,
         "ipam": {"type": "host-local", "ranges": [[{"subnet": pod_cidr}]], "routes": [{"dst": CLUSTER_CIDR}],
                  "dataDir": f"/run/nethelpers/cni/networks/{node}"}},
        {"type": "portmap", "capabilities": {"portMappings": True}}]}


def _ids(pod: Pod) -> tuple[str, str]:
    digest = hashlib.sha256(f"{pod.namespace}/{pod.name}".encode()).hexdigest()
    return digest, f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def cni_args(pod: Pod) -> dict:
    """containerd's ``toCNILabels`` (CNI_ARGS)."""
    return {"K8S_POD_NAMESPACE": pod.namespace, "K8S_POD_NAME": pod.name,
            "K8S_POD_INFRA_CONTAINER_ID": pod.sandbox_id, "K8S_POD_UID": pod.uid, "IgnoreUnknown": "1"}


def port_mappings(pod: Pod) -> dict:
    if not pod.host_port:
        return {}
    return {"portMappings": [{"hostPort": pod.host_port, "containerPort": pod.container_port or 80,
                              "protocol": "tcp"}]}


def start_pod(lab, cluster: Cluster, pod: Pod, mtu: int) -> None:
    """RunPodSandbox, then the containers: the pod's address is in ``pod.ip`` afterwards."""
    pod.sandbox_id, pod.uid = _ids(pod)
    lab.add_node(pod.name, kind="container", parent=pod.node)
    runtime = Runtime(lab, pod.node)
    try:
        added = runtime.add(network_config(cluster, pod.node, mtu), pod.name, container_id=pod.sandbox_id,
                            args=cni_args(pod), capability_args=port_mappings(pod))
        runtime.add(LOOPBACK, pod.name, ifname="lo", container_id=pod.sandbox_id, args=cni_args(pod))
    except BaseException:
        lab.remove_node(pod.name)
        raise
    pod.ip = added.result["ips"][0]["address"].split("/")[0]
    node = lab.node(pod.name)
    node.write_etc("hostname", pod.name + "\n")
    if pod.dns_policy == "ClusterFirst":
        node.write_etc("resolv.conf", resolv_conf(pod.namespace))
    pod.processes = [node.start(["sleep", "infinity"])]  # the pause container: it only holds the namespace
    if pod.argv:
        pod.processes.append(node.start(pod.argv))
        pod.processes[-1].wait_for("serving", timeout=15)
        return
    image, _ = images.parse(pod.image)
    _, argv = images.default_command(image, pod.name, keep_open=True)
    pod.processes.append(node.start(argv))
    if image in images.WEB_IMAGES:
        pod.processes[-1].wait_for("serving", timeout=15)


def resolv_conf(namespace: str) -> str:
    """What the kubelet writes for a ClusterFirst pod (``pkg/kubelet/network/dns``): the cluster DNS
    Service, the namespace's search domains, ndots 5."""
    return (f"search {namespace}.svc.{DOMAIN} svc.{DOMAIN} {DOMAIN}\nnameserver {DNS_IP}\noptions ndots:5\n")


def stop_pod(lab, cluster: Cluster, pod: Pod, mtu: int) -> None:
    """StopPodSandbox and RemovePodSandbox: the containers stop, CNI DEL, the namespace goes."""
    for process in reversed(pod.processes):
        process.stop()
    runtime = Runtime(lab, pod.node)
    runtime.delete(LOOPBACK, pod.name, ifname="lo", container_id=pod.sandbox_id, args=cni_args(pod))
    runtime.delete(network_config(cluster, pod.node, mtu), pod.name, container_id=pod.sandbox_id,
                   args=cni_args(pod), capability_args=port_mappings(pod))
    lab.remove_node(pod.name)
