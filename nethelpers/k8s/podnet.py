"""The pod network between nodes, as flannel builds it (flannel v0.28.9), in either of its two backends.

- ``host-gw`` (``pkg/backend/hostgw``): on every node, a route to each other node's pod /24 through
  that node's own address (``ip route add 10.244.N.0/24 via NODE_IP dev eth0``): the nodes must share
  a LAN, and packets travel unwrapped.
- ``vxlan`` (``pkg/backend/vxlan``): a VXLAN device ``flannel.1`` (VNI 1, UDP 8472, no learning,
  MTU 50 less than eth0's) with the address 10.244.X.0/32; for every other node a neighbour entry
  (its ``flannel.1`` address -> its VTEP MAC), an FDB entry (that MAC -> its node address) and an
  ``onlink`` route to its /24 through its ``flannel.1`` address — chapter 06's overlay, programmed from
  the node objects instead of a gossip.

Both add flanneld's iptables rules (``pkg/trafficmngr/iptables``, with ``--ip-masq``): pod traffic
leaving the pod network is masqueraded, pod-to-pod traffic is not, and FORWARD accepts the pod network.
"""

from __future__ import annotations

import hashlib
import ipaddress

from .cluster import CLUSTER_CIDR, Cluster

VNI, VXLAN_PORT, DEVICE = 1, 8472, "flannel.1"
MASQ_COMMENT, FORWARD_COMMENT = "flanneld masq", "flanneld forward"


def mtu(cluster: Cluster) -> int:
    """The pods' MTU (FLANNEL_MTU): eth0's, less VXLAN's 50 bytes with the vxlan backend."""
    return 1450 if cluster.pod_network == "vxlan" else 1500


def vtep_mac(node: str) -> str:
    """flannel.1's MAC: random and locally administered (drawn from the node's name here)."""
    raw = bytearray(hashlib.sha256(f"vtep/{node}".encode()).digest()[:6])
    raw[0] = (raw[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


def vtep_address(pod_cidr: str) -> str:
    return str(ipaddress.ip_network(pod_cidr).network_address)


def masquerade_rules(pod_cidr: str) -> list[str]:
    """flanneld's ``masqRules`` (kube-proxy's mark 0x4000/0x4000 left alone)."""
    c, p = CLUSTER_CIDR, pod_cidr
    tail = f'-m comment --comment "{MASQ_COMMENT}"'
    return [f"-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 {tail} -j RETURN",
            f"-A FLANNEL-POSTRTG -s {p} -d {c} {tail} -j RETURN",
            f"-A FLANNEL-POSTRTG -s {c} -d {p} {tail} -j RETURN",
            f"-A FLANNEL-POSTRTG ! -s {c} -d {p} {tail} -j RETURN",
            f"-A FLANNEL-POSTRTG -s {c} ! -d 224.0.0.0/4 {tail} -j MASQUERADE --random-fully",
            f"-A FLANNEL-POSTRTG ! -s {c} -d {c} {tail} -j MASQUERADE --random-fully"]


def check_bridge_netfilter(lab, name: str) -> None:
    """kubeadm's preflight: a pod's reply to a Service address, bridged to a pod on the same node, must
    cross iptables to be un-NATed, so ``br_netfilter`` must be loaded (kubeadm ``FileContentCheck``)."""
    from ..errors import MissingFeature
    from ..features import BRIDGE_NF_CALL_IPTABLES, bridge_netfilter

    if not bridge_netfilter(lab, lab.node(name)):
        raise MissingFeature(f"[ERROR FileContent--proc-sys-net-bridge-bridge-nf-call-iptables]: "
                             f"{BRIDGE_NF_CALL_IPTABLES} does not exist: Kubernetes needs the br_netfilter module, "
                             f"which this machine's kernel has not loaded (and a lab never loads a module into it). "
                             f"Load it with `sudo modprobe br_netfilter`, or run the lab in its own VM "
                             f"(NETHELPERS_BACKEND=vm)")


def join(lab, cluster: Cluster, name: str) -> None:
    """What flanneld does when it starts on node ``name``: its rules, its device, and its side of
    every route, neighbour and FDB entry (each other node gets its side for ``name`` too). Before it,
    the node's kubeadm prerequisites: ip_forward and bridge-nf-call-iptables on."""
    node = lab.node(name)
    node.sysctl("net.ipv4.ip_forward", 1)
    node.sysctl("net.bridge.bridge-nf-call-iptables", 1)
    script = ["iptables -t nat -N FLANNEL-POSTRTG",
              f'iptables -t nat -A POSTROUTING -m comment --comment "{MASQ_COMMENT}" -j FLANNEL-POSTRTG',
              *[f"iptables -t nat {rule}" for rule in masquerade_rules(cluster.nodes[name].pod_cidr)],
              "iptables -t filter -N FLANNEL-FWD",
              f'iptables -t filter -A FORWARD -m comment --comment "{FORWARD_COMMENT}" -j FLANNEL-FWD',
              f'iptables -t filter -A FLANNEL-FWD -s {CLUSTER_CIDR} -m comment --comment "{FORWARD_COMMENT}" -j ACCEPT',
              f'iptables -t filter -A FLANNEL-FWD -d {CLUSTER_CIDR} -m comment --comment "{FORWARD_COMMENT}" -j ACCEPT']
    if cluster.pod_network == "vxlan":
        me = cluster.nodes[name]
        script += [f"ip link add {DEVICE} type vxlan id {VNI} local {me.address} dev eth0 dstport {VXLAN_PORT} "
                   f"nolearning",
                   f"ip link set {DEVICE} address {vtep_mac(name)} mtu 1450 up",
                   f"ip addr add {vtep_address(me.pod_cidr)}/32 dev {DEVICE}"]
    node.run(" && ".join(script), check=True)
    for other in cluster.joined:
        connect_peer(lab, cluster, name, other)
        connect_peer(lab, cluster, other, name)
    cluster.joined.append(name)


def connect_peer(lab, cluster: Cluster, here: str, there: str) -> None:
    """On node ``here``, the way to node ``there``'s pods."""
    remote = cluster.nodes[there]
    if cluster.pod_network == "vxlan":
        gateway, mac = vtep_address(remote.pod_cidr), vtep_mac(there)
        lab.node(here).run(f"ip neigh replace {gateway} lladdr {mac} dev {DEVICE} nud permanent && "
                           f"bridge fdb replace {mac} dev {DEVICE} dst {remote.address} self permanent && "
                           f"ip route replace {remote.pod_cidr} via {gateway} dev {DEVICE} onlink", check=True)
    else:
        lab.node(here).run(f"ip route replace {remote.pod_cidr} via {remote.address} dev eth0", check=True)
