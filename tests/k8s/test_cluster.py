"""A cluster in the lab: pods wired by the real CNI plugins, flannel's two backends between nodes, and
kube-proxy's rules in the nodes' kernels, driven through kubectl.

Where the expectations come from:
- flannel v0.28.9: ``pkg/backend/hostgw/hostgw.go`` (a route per remote /24 via its node's address),
  ``pkg/backend/vxlan/vxlan.go`` and ``vxlan_network.go`` (``flannel.1``, VNI 1, port 8472, no learning,
  MTU eth0 - 50, address 10.244.X.0/32; per peer a permanent neighbour, an FDB entry to its node, an
  ``onlink`` route), ``pkg/trafficmngr/iptables/iptables.go`` (no masquerade between pods);
- kubeadm's defaults (10.244.0.0/16, /24 per node in join order; services 10.96.0.0/12, ``kubernetes`` at .1)
  and kube-proxy v1.37 ``pkg/proxy/iptables/proxier.go`` (the probability ladder, which ``iptables-save``
  prints as 0.33333333349 and 0.50000000000);
- kubectl v1.37: ``pkg/printers/internalversion/printers.go`` (``makePortString``: ``80:30123/TCP``),
  ``pkg/cmd/delete/delete.go`` (``... deleted from default namespace``), apimachinery errors
  (``Error from server (NotFound): pods "x" not found``).
"""

from __future__ import annotations

import collections
import ipaddress

import pytest

from nethelpers.errors import InvalidValue
from nethelpers.k8s import KubectlError


@pytest.fixture(params=["host-gw", "vxlan"])
def cluster_lab(lab, request):
    lab.kubernetes(["node1", "node2"], pod_network=request.param)
    return lab


@pytest.fixture
def hostgw_lab(lab):
    lab.kubernetes(["node1", "node2"], pod_network="host-gw")
    return lab


def pods_by_node(lab) -> dict[str, list]:
    found = collections.defaultdict(list)
    for pod in lab.state.k8s.pods.values():
        found[pod.node].append(pod)
    return found


def test_pods_take_their_nodes_cidr_and_reach_each_other_without_nat(cluster_lab):
    lab = cluster_lab
    assert lab.kubectl("create deployment web --image=nginx --replicas=2 --port=80") == "deployment.apps/web created\n"
    lab.kubectl("run client --image=nicolaka/netshoot")
    nodes = lab.state.k8s.nodes
    assert [nodes["node1"].pod_cidr, nodes["node2"].pod_cidr] == ["10.244.0.0/24", "10.244.1.0/24"]
    for node, pods in pods_by_node(lab).items():
        for pod in pods:
            assert ipaddress.ip_address(pod.ip) in ipaddress.ip_network(nodes[node].pod_cidr)
    client = lab.state.k8s.pods["client"]
    remote = next(p for p in lab.state.k8s.pods.values() if p.owner == "web" and p.node != client.node)
    page = lab.kubectl(f"exec client -- curl -s --max-time 5 http://{remote.ip}/")
    assert f"hello from {remote.name}" in page and f"you came from {client.ip}" in page


def test_host_gw_routes_through_the_other_nodes_address(hostgw_lab):
    routes = hostgw_lab["node1"].run("ip route show 10.244.1.0/24").stdout.split()
    assert routes[:5] == ["10.244.1.0/24", "via", "198.51.100.11", "dev", "eth0"]


def test_vxlan_builds_flannel_1_as_flannel_does(lab):
    lab.kubernetes(["node1", "node2"], pod_network="vxlan")
    node1 = lab["node1"]
    details = node1.run("ip -d link show flannel.1").stdout
    assert "vxlan id 1 " in details and "dstport 8472" in details and "nolearning" in details
    assert "mtu 1450" in details and "local 198.51.100.10" in details
    assert "10.244.0.0/32" in node1.run("ip -4 -br addr show flannel.1").stdout
    mac = lab.node("node2").run("cat /sys/class/net/flannel.1/address").stdout.strip()
    assert f"10.244.1.0 lladdr {mac} PERMANENT" in node1.run("ip neigh show dev flannel.1").stdout
    assert f"{mac} dst 198.51.100.11 self permanent" in node1.run("bridge fdb show dev flannel.1").stdout
    route = node1.run("ip route show 10.244.1.0/24").stdout
    assert "via 10.244.1.0 dev flannel.1 onlink" in route
    lab.kubectl("run web --image=nginx")
    assert "mtu 1450" in lab["web"].run("ip link show eth0").stdout  # FLANNEL_MTU, through the bridge plugin


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_a_service_shares_requests_among_three_endpoints(lab, mode):
    """300 requests to a ClusterIP with 3 endpoints: each endpoint gets 33 % +- 8 % (the issue's target)."""
    lab.kubernetes(["node1", "node2"], proxy_mode=mode)
    lab.kubectl("create deployment web --image=nginx --replicas=3 --port=80")
    lab.kubectl("run client --image=nicolaka/netshoot")
    lab.kubectl("expose deployment web --port=80")
    ip = lab.state.k8s.service("web").cluster_ip
    loop = f"for i in $(seq 300); do curl -s --max-time 5 http://{ip}/ | head -n 1; done"
    # a fair three-way split of 300 falls outside 33 % +- 8 % in about 1 % of runs: a second run of 300
    # is drawn before the test fails, so it fails for a real bias, not for chance (about 1 run in 10,000)
    for attempt in range(2):
        counts = collections.Counter(lab["client"].run(loop, timeout=600).stdout.splitlines())
        assert sum(counts.values()) == 300 and len(counts) == 3, counts
        if all(25 <= 100 * count / 300 <= 41 for count in counts.values()):
            break
    else:
        raise AssertionError(f"shares outside 33 % +- 8 % twice: {counts}")


def test_kube_proxy_rules_are_in_every_node(hostgw_lab):
    lab = hostgw_lab
    lab.kubectl("create deployment web --image=nginx --replicas=3 --port=80")
    lab.kubectl("expose deployment web --port=80")
    for node in ("node1", "node2"):
        nat = lab[node].run("iptables-save -t nat").stdout
        ladder = [line for line in nat.splitlines() if line.startswith("-A KUBE-SVC-") and "default/web ->" in line]
        assert len(ladder) == 3
        assert "--probability 0.33333333349" in ladder[0] and "--probability 0.50000000000" in ladder[1]
        assert "statistic" not in ladder[2]
        assert '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES' in nat
    filters = lab["node1"].run("iptables -S INPUT").stdout.splitlines()
    assert filters[1] == "-A INPUT -j KUBE-FIREWALL"  # the last jump inserted comes first


def test_nftables_mode_owns_its_table(lab):
    """pkg/proxy/nftables: the table ip kube-proxy, a service's chain DNATs with numgen; no iptables rules."""
    lab.kubernetes(["node1", "node2"], proxy_mode="nftables")
    lab.kubectl("create deployment web --image=nginx --replicas=2 --port=80")
    lab.kubectl("expose deployment web --port=80 --type=NodePort")
    table = lab["node1"].run("nft list table ip kube-proxy").stdout
    assert 'comment "rules for kube-proxy"' in table and "numgen random mod 2 map" in table
    assert "chain service-" in table and "-default/web/tcp/ {" in table  # an unnamed port: a trailing /
    assert "KUBE-" not in lab["node1"].run("iptables-save").stdout
    port = lab.state.k8s.service("web").ports[0].node_port
    assert lab["lan-client"].run(f"curl -s --max-time 5 http://198.51.100.11:{port}/").stdout.startswith("hello")


def test_a_deleted_service_leaves_no_chain_behind(hostgw_lab):
    lab = hostgw_lab
    lab.kubectl("create deployment web --image=nginx --replicas=2 --port=80")
    lab.kubectl("expose deployment web --port=80")
    assert lab.kubectl("delete service web") == 'service "web" deleted from default namespace\n'
    nat = lab["node1"].run("iptables-save -t nat").stdout
    assert "default/web" not in nat and nat.count(":KUBE-SEP-") == 1 + 3 * 2  # kubernetes; kube-dns: 3 ports, 2 pods


def test_nodeport_from_the_lan_and_hostport_through_portmap(hostgw_lab):
    lab = hostgw_lab
    lab.kubectl("create deployment web --image=nginx --replicas=2 --port=80")
    lab.kubectl("expose deployment web --port=80 --type=NodePort")
    svc = lab.state.k8s.service("web")
    port = svc.ports[0].node_port
    assert 30086 <= port <= 32767
    assert f"80:{port}/TCP" in lab.kubectl("get svc web")
    for address in ("198.51.100.10", "198.51.100.11"):
        page = lab["lan-client"].run(f"curl -s --max-time 5 http://{address}:{port}/").stdout
        assert page.startswith("hello from web-")
    # kubectl run has no --hostport (kubectl pkg/cmd/run/run.go addRunFlags, since the generators went): a manifest
    with pytest.raises(KubectlError, match="unknown flag: --hostport"):
        lab.kubectl("run solo --image=nginx --port=80 --hostport=8081")
    lab.kubectl("apply -f -", input="apiVersion: v1\nkind: Pod\nmetadata:\n  name: solo\nspec:\n  containers:\n"
                                    "  - name: solo\n    image: nginx\n    ports:\n    - containerPort: 80\n"
                                    "      hostPort: 8081\n")
    node = lab.state.k8s.pods["solo"].node
    address = lab.state.k8s.nodes[node].address
    assert lab["lan-client"].run(f"curl -s --max-time 5 http://{address}:8081/").stdout.startswith("hello from solo")
    assert "CNI-HOSTPORT-DNAT" in lab[node].run("iptables -t nat -S").stdout


def test_kubectl_tables_and_messages(hostgw_lab):
    lab = hostgw_lab
    nodes = lab.kubectl("get nodes").splitlines()
    assert nodes[0].split() == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert nodes[1].startswith("node1   Ready    control-plane   ")
    assert lab.kubectl("get pods") == "No resources found in default namespace.\n"
    svc = lab.kubectl("get svc").splitlines()
    assert svc[0] == "NAME         TYPE        CLUSTER-IP   EXTERNAL-IP   PORT(S)   AGE"
    assert svc[1].startswith("kubernetes   ClusterIP   10.96.0.1    <none>        443/TCP   ")
    assert lab.kubectl("run web --image=nginx") == "pod/web created\n"
    assert lab.kubectl("delete pod web") == 'pod "web" deleted from default namespace\n'
    with pytest.raises(KubectlError, match=r'^Error from server \(NotFound\): pods "web" not found$'):
        lab.kubectl("delete pod web")
    lab.kubectl("create deployment api --image=nginx --replicas=4 --port=80")
    lab.kubectl("expose deployment api --port=80")
    ends = lab.kubectl("get endpointslices").splitlines()[1].split()
    assert ends[0].startswith("api-") and ends[3].count(",") == 2 and ends[4:7] == ["+", "1", "more..."]
    # -A: kubectl's printer adds NAMESPACE first (printers.go, WithNamespace); kube-system holds CoreDNS
    every = lab.kubectl("get pods -A").splitlines()
    assert every[0].split() == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert [row.split()[0] for row in every[1:]] == ["default"] * 4 + ["kube-system"] * 2
    assert lab.kubectl("get deployments --all-namespaces").splitlines()[2].split()[:2] == ["kube-system", "coredns"]


def test_bad_input_is_refused_and_changes_nothing(lab):
    with pytest.raises(InvalidValue, match="host-gw"):
        lab.kubernetes(["node1"], pod_network="flannel")
    with pytest.raises(InvalidValue, match="no Kubernetes cluster"):
        lab.kubectl("get pods")
    lab.kubernetes(["node1"])
    with pytest.raises(InvalidValue, match="has its cluster already"):
        lab.kubernetes(["node9"])
    with pytest.raises(KubectlError, match="unknown command"):
        lab.kubectl("frobnicate pods")
    with pytest.raises(KubectlError, match="couldn't find port"):
        lab.kubectl("create deployment web --image=nginx") and lab.kubectl("expose deployment web")
    with pytest.raises(KubectlError, match="already exists"):
        lab.kubectl("create deployment web --image=nginx")
    # apimachinery validation: a Service's name is a DNS-1035 label, a pod's a DNS-1123 subdomain
    with pytest.raises(KubectlError, match=r'^The Service "Web_1" is invalid: metadata.name: Invalid value: "Web_1": '
                                           r"a DNS-1035 label"):
        lab.kubectl("expose deployment web --port=80 --name=Web_1")
    with pytest.raises(KubectlError, match="RFC 1123 subdomain"):
        lab.kubectl("run My_Pod --image=nginx")
    assert lab.state.k8s.service("web") is None and "My_Pod" not in lab.state.k8s.pods


def test_cluster_dns_answers_service_names_through_the_kube_dns_service(hostgw_lab):
    """kubeadm's CoreDNS: two pods behind kube-dns at 10.96.0.10; a ClusterFirst pod's resolv.conf
    (kubelet pkg/kubelet/network/dns) searches NS.svc.cluster.local, svc.cluster.local, cluster.local."""
    lab = hostgw_lab
    system = lab.kubectl("get pods -n kube-system").splitlines()
    assert len(system) == 3 and all(line.startswith("coredns-") for line in system[1:])
    assert lab.kubectl("get svc -n kube-system").splitlines()[1].split()[:5] == [
        "kube-dns", "ClusterIP", "10.96.0.10", "<none>", "53/UDP,53/TCP,9153/TCP"]
    lab.kubectl("create deployment web --image=nginx --replicas=2 --port=80")
    lab.kubectl("expose deployment web --port=80")
    lab.kubectl("run client --image=nicolaka/netshoot")
    assert lab.kubectl("exec client -- cat /etc/resolv.conf") == (
        "search default.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n")
    web = lab.state.k8s.service("web").cluster_ip
    for name in ("web", "web.default", "web.default.svc.cluster.local"):
        assert lab.kubectl(f"exec client -- dig +short +search +time=5 +tries=1 {name}").split() == [web]
    assert lab.kubectl("exec client -- dig +short +search kube-dns.kube-system").split() == ["10.96.0.10"]
    assert lab.kubectl("exec client -- curl -s --max-time 5 http://web/").startswith("hello from web-")
    lab.kubectl("delete service web")
    assert lab.kubectl("exec client -- dig +short +search +time=5 +tries=1 web").split() == []


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 2
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec:
      containers: [{name: nginx, image: nginx, ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec:
  type: NodePort
  selector: {app: api}
  ports: [{port: 8080, targetPort: 80, nodePort: 30080}]
"""


def test_apply_creates_configures_and_leaves_unchanged(hostgw_lab):
    """kubectl pkg/cmd/apply/apply.go: created, then unchanged, then configured; nodePort as asked."""
    lab = hostgw_lab
    assert lab.kubectl("apply -f -", input=DEPLOYMENT) == "deployment.apps/api created\nservice/api created\n"
    assert lab.kubectl("apply -f -", input=DEPLOYMENT) == "deployment.apps/api unchanged\nservice/api unchanged\n"
    assert lab.kubectl("apply -f -", input=DEPLOYMENT.replace("replicas: 2", "replicas: 3")).splitlines()[0] == \
        "deployment.apps/api configured"
    assert len(lab.state.k8s.owned_by(lab.state.k8s.deployment("api"))) == 3
    assert "8080:30080/TCP" in lab.kubectl("get svc api")
    assert lab["lan-client"].run("curl -s --max-time 5 http://198.51.100.10:30080/").stdout.startswith("hello from api-")
    with pytest.raises(KubectlError, match="volumes"):
        lab.kubectl("apply -f -", input=DEPLOYMENT.replace("      containers:", "      volumes: []\n      containers:"))
    with pytest.raises(KubectlError, match="does not match template"):
        lab.kubectl("apply -f -", input=DEPLOYMENT.replace("matchLabels: {app: api}", "matchLabels: {app: other}"))


def test_the_tracer_shows_the_probability_rule_it_took_as_iptables_prints_it(hostgw_lab):
    """kube-proxy's `-m statistic --probability` rule (with its comment first, which nft lists as
    nothing, so the rule's text starts with a space) is told in iptables' words, without counters."""
    lab = hostgw_lab
    lab.kubectl("create deployment hello --image=nginx --replicas=2 --port=80")
    lab.kubectl("expose deployment hello --port=80")
    lab.kubectl("run client --image=nicolaka/netshoot")
    report = str(lab.trace("client", lab.state.k8s.service("hello").cluster_ip, tcp=80))
    taken = [line for line in report.splitlines() if "jump KUBE-SEP-" in line]
    assert taken, report
    assert all("-A KUBE-SVC-" in line and "counter packets" not in line for line in taken), taken


def test_a_sync_the_kernel_refuses_is_logged_and_the_node_keeps_its_rules(hostgw_lab, capsys):
    """kube-proxy deletes the chains with its prefixes that it did not write (proxier.go, the stale
    KUBE-SVC-/KUBE-SEP- chains among existingNATChains); one a learner's rule still jumps to makes
    iptables-restore fail, atomically. kube-proxy logs "Failed to execute iptables-restore" and goes
    on: the kubectl command still succeeds, the other node gets its rules."""
    lab = hostgw_lab
    lab["node2"].run("iptables -t nat -N KUBE-SVC-MINE && "
                     "iptables -t nat -A PREROUTING -d 10.96.99.99/32 -j KUBE-SVC-MINE", check=True)
    before = lab["node2"].run("iptables -t nat -S KUBE-SERVICES", check=True).stdout
    lab.kubectl("create deployment hello --image=nginx --replicas=1 --port=80")
    assert lab.kubectl("expose deployment hello --port=80") == "service/hello exposed\n"
    told = capsys.readouterr().err
    assert "kube-proxy on node2: Failed to execute iptables-restore" in told and "node1" not in told.split(":")[0]
    assert lab.state.k8s.proxy_log and lab.state.k8s.proxy_log[-1] in told
    ip = lab.state.k8s.service("hello").cluster_ip
    assert ip in lab["node1"].run("iptables -t nat -S KUBE-SERVICES", check=True).stdout
    assert lab["node2"].run("iptables -t nat -S KUBE-SERVICES", check=True).stdout == before
    lab["node2"].run("iptables -t nat -D PREROUTING -d 10.96.99.99/32 -j KUBE-SVC-MINE", check=True)
    lab.kubectl("scale deployment hello --replicas=2")   # the next change syncs, and removes the stray chain
    assert ip in lab["node2"].run("iptables -t nat -S KUBE-SERVICES", check=True).stdout
    assert "KUBE-SVC-MINE" not in lab["node2"].run("iptables -t nat -S", check=True).stdout
