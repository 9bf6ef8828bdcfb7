"""A Kubernetes cluster's state, as the API server would hold it, and what assigns its names and addresses.

There is no API server: ``Cluster`` is the objects (nodes, pods, deployments, services) that the
node agent (:mod:`.kubelet`), the pod network (:mod:`.podnet`) and kube-proxy (:mod:`.proxy`) act on,
the way their real counterparts watch them. Addresses and names as a kubeadm cluster with flannel
gets them (Kubernetes v1.37 and kubeadm's defaults; ``docs/design/kubernetes.md`` has the sources):
pod network 10.244.0.0/16, a /24 per node in the order the nodes join; services 10.96.0.0/12, the
``kubernetes`` service at .1, kube-dns's address .10; ClusterIPs and NodePorts drawn at random above the
range's first 256 addresses / 86 ports (here drawn from the object's name, so a notebook prints the
same every run); pods of a Deployment ``<deploy>-<pod-template-hash>-<5 characters>``.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
from dataclasses import dataclass, field

CLUSTER_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/12"
NODE_MASK = 24
ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"     # apimachinery pkg/util/rand: no vowels, no 0, 1, 3
NODE_PORTS = (30000, 32767)
KUBELET_VERSION = "v1.37.1"
DNS_IP = "10.96.0.10"          # kubeadm: the service range's 10th address
DOMAIN = "cluster.local"
API_SERVER_PORT = 6443


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


def _draw(seed: str, n: int) -> int:
    """A number in [0, n) drawn from ``seed`` (where Kubernetes draws at random)."""
    return int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") % n


def random_suffix(seed: str, length: int = 5) -> str:
    """``utilrand.String(5)``: characters of ALPHANUMS (drawn from ``seed``)."""
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(ALPHANUMS[b % len(ALPHANUMS)] for b in digest[:length])


def template_hash(text: str) -> str:
    """``ComputeHash``: the FNV-1a 32-bit sum of the pod template, its decimal digits through
    ``SafeEncodeString`` (each character's code modulo 27 picks from ALPHANUMS)."""
    value = 0x811C9DC5
    for byte in text.encode():
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return "".join(ALPHANUMS[ord(c) % len(ALPHANUMS)] for c in str(value))


@dataclass
class Node:
    name: str
    address: str              # its InternalIP, on the lab's LAN
    pod_cidr: str             # spec.podCIDR
    role: str = ""            # "control-plane" for the first
    created: datetime.datetime = field(default_factory=now)


@dataclass
class Pod:
    name: str
    namespace: str
    node: str
    image: str
    labels: dict
    container_port: int = 0
    host_port: int = 0
    owner: str = ""           # the Deployment that made it
    argv: list | None = None  # a system pod's program (CoreDNS), instead of the image's
    dns_policy: str = "ClusterFirst"
    ip: str | None = None
    uid: str = ""
    sandbox_id: str = ""
    processes: list = field(default_factory=list)
    created: datetime.datetime = field(default_factory=now)

    @property
    def container(self) -> str:
        """The container's name: the image's base name (``buildPodSpec``), or the pod's for ``run``."""
        return self.name if not self.owner else self.image.split("/")[-1].split(":")[0].split("@")[0]


@dataclass
class Deployment:
    name: str
    namespace: str
    image: str
    replicas: int
    port: int = 0
    selector: dict | None = None      # the pods' labels (default: app=NAME, as kubectl create deployment)
    argv: list | None = None          # a system deployment's program
    dns_policy: str = "ClusterFirst"
    created: datetime.datetime = field(default_factory=now)

    @property
    def labels(self) -> dict:
        return dict(self.selector) if self.selector else {"app": self.name}

    @property
    def hash(self) -> str:
        return template_hash(f"{self.namespace}/{self.name}|{self.image}|{self.port}")


@dataclass
class ServicePortSpec:
    port: int
    target_port: int
    protocol: str = "TCP"
    name: str = ""
    node_port: int = 0


@dataclass
class Service:
    name: str
    namespace: str
    type: str                     # ClusterIP, NodePort
    cluster_ip: str
    ports: list[ServicePortSpec]
    selector: dict
    affinity_seconds: int = 0     # sessionAffinity: ClientIP
    external_policy_local: bool = False
    endpoints_override: list | None = None   # the kubernetes service: the API server, not pods
    slice_suffix: str = ""
    created: datetime.datetime = field(default_factory=now)


@dataclass
class Cluster:
    """The objects of one cluster, and the allocators that name and address them."""
    pod_network: str = "host-gw"           # or "vxlan": how pods on two nodes reach each other
    proxy_mode: str = "iptables"
    nodes: dict[str, Node] = field(default_factory=dict)
    joined: list[str] = field(default_factory=list)   # nodes whose pod network is up, in order
    pods: dict[str, Pod] = field(default_factory=dict)                       # by name (unique in the lab)
    deployments: dict[tuple[str, str], Deployment] = field(default_factory=dict)   # by (namespace, name)
    services: dict[tuple[str, str], Service] = field(default_factory=dict)         # by (namespace, name)
    proxy_log: list[str] = field(default_factory=list)   # the syncs kube-proxy could not apply, as it logs them
    created: datetime.datetime = field(default_factory=now)

    def service(self, name: str, namespace: str = "default") -> Service | None:
        return self.services.get((namespace, name))

    def deployment(self, name: str, namespace: str = "default") -> Deployment | None:
        return self.deployments.get((namespace, name))

    def pods_in(self, namespace: str) -> list[Pod]:
        return [p for p in self.pods.values() if p.namespace == namespace]

    def owned_by(self, dep: Deployment) -> list[Pod]:
        return [p for p in self.pods.values() if p.namespace == dep.namespace and p.owner == dep.name]

    # --- allocators -----------------------------------------------------------------------
    def next_pod_cidr(self) -> str:
        """The node IPAM's CidrSet: the next free /24 of the cluster CIDR, in order."""
        taken = {n.pod_cidr for n in self.nodes.values()}
        for subnet in ipaddress.ip_network(CLUSTER_CIDR).subnets(new_prefix=NODE_MASK):
            if str(subnet) not in taken:
                return str(subnet)
        raise ValueError("the cluster CIDR has no free /24 left")

    def allocate_cluster_ip(self, key: str) -> str:
        """A free address above the service range's first 256, drawn from ``key``."""
        net = ipaddress.ip_network(SERVICE_CIDR)
        taken = {s.cluster_ip for s in self.services.values()}
        span = net.num_addresses - 256 - 1
        start = _draw("clusterip/" + key, span)
        for i in range(span):
            ip = str(net.network_address + 256 + (start + i) % span)
            if ip not in taken:
                return ip
        raise ValueError("the service range is full")

    def allocate_node_port(self, key: str) -> int:
        """A free port of 30086-32767 (then 30000-30085), drawn from ``key``."""
        taken = {p.node_port for s in self.services.values() for p in s.ports}
        upper = list(range(30086, NODE_PORTS[1] + 1))
        start = _draw("nodeport/" + key, len(upper))
        for port in upper[start:] + upper[:start] + list(range(NODE_PORTS[0], 30086)):
            if port not in taken:
                return port
        raise ValueError("no free NodePort is left")

    def schedule(self) -> str:
        """The node for the next pod: the one running the fewest pods (then the first by name). The
        control plane takes pods too, as after ``kubectl taint nodes --all node-role.kubernetes.io/control-plane-``."""
        load = {name: 0 for name in self.nodes}
        for pod in self.pods.values():
            load[pod.node] = load.get(pod.node, 0) + 1
        return min(sorted(self.nodes), key=lambda n: (load[n], n))

    def pods_of(self, service: Service) -> list[Pod]:
        return [p for p in self.pods.values() if p.namespace == service.namespace and p.ip
                and all(p.labels.get(k) == v for k, v in service.selector.items())]
