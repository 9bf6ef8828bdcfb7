"""Overlay networks across Docker hosts: swarm init/join, ``-d overlay``, the agents'
control plane, and what it builds in the kernel.

Each test builds a fresh lab with three Docker hosts on the LAN 198.51.100.0/24
(host1 .10 = the manager, host2 .11, host3 .12). Expected behaviour:
docs/design/overlay.md (moby v27.5.1, libnetwork/drivers/overlay) and FACTS.md.
Everything that sends traffic is bounded (ping -c1 -W1, tcpdump -c N, waits <= 8 s).
"""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest

from nethelpers.docker import DaemonError, DockerError, start_cluster_store
from waiting import wait_until

HOSTS = {"host1": "198.51.100.10", "host2": "198.51.100.11", "host3": "198.51.100.12"}


def swarm(lab, *hosts: str) -> str:
    """host1 inits a swarm, the others join; returns the worker token."""
    for host in ("host1", *hosts):
        lab.docker_host(host)
    lab.docker("swarm init", host="host1")
    token = lab.docker("swarm join-token -q worker", host="host1").strip()
    for host in hosts:
        lab.docker(f"swarm join --token {token} {HOSTS['host1']}:2377", host=host)
    return token


@pytest.fixture
def cluster(lab):
    """Three hosts in a swarm, attachable overlay ov1, c1 on host1 and c3 on host3."""
    swarm(lab, "host2", "host3")
    lab.docker("network create -d overlay --attachable ov1", host="host1")
    lab.docker("run -dit --name c1 --network ov1 nicolaka/netshoot", host="host1")
    lab.docker("run -dit --name c3 --network ov1 nicolaka/netshoot", host="host3")
    return lab


def sandbox(lab, host: str, net: str = "ov1") -> str:
    nid = lab.docker(f"network inspect -f {{{{.Id}}}} {net}", host="host1").strip()
    return f"{host}.1-{nid[:10]}"


def in_sandbox(lab, host: str, command: str, net: str = "ov1") -> str:
    return lab.node(sandbox(lab, host, net)).run(command, check=True).output


def pings(lab, host: str, ctr: str, target: str, size: int | None = None) -> bool:
    flags = f"-M do -s {size} " if size else ""
    return lab.docker(f"exec {ctr} ping -c1 -W1 {flags}{target}", host=host).exit_code == 0


def settled(snapshot: dict) -> dict:
    """A snapshot without what the agents' heartbeats keep changing: neighbour states, learned FDB entries."""
    return {name: {**snap, "neighbours": [{k: v for k, v in n.items() if k != "state"} for n in snap["neighbours"]],
                   "fdb": [f for f in snap["fdb"] if f.get("state") == "PERMANENT" or f.get("dst")]}
            for name, snap in snapshot.items()}


# --- swarm init / join ------------------------------------------------------------------
def test_swarm_init_prints_the_join_command_with_a_token_of_dockers_shape(lab):
    lab.docker_host("host1")
    text = lab.docker("swarm init", host="host1")
    lines = text.split("\n")
    assert re.fullmatch(r"Swarm initialized: current node \([0-9a-z]{25}\) is now a manager\.", lines[0])
    assert lines[2] == "To add a worker to this swarm, run the following command:"
    assert re.fullmatch(r"    docker swarm join --token SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25} 198\.51\.100\.10:2377",
                        lines[4])
    assert lines[6] == ("To add a manager to this swarm, run 'docker swarm join-token manager' and follow "
                        "the instructions.")
    worker = lab.docker("swarm join-token -q worker", host="host1").strip()
    manager = lab.docker("swarm join-token -q manager", host="host1").strip()
    assert worker in lines[4] and worker != manager and worker.split("-")[2] == manager.split("-")[2]


def test_join_with_the_token_and_node_ls(lab):
    """ENGINE VERSION is each node's own daemon's (node ls prints Description.Engine.EngineVersion,
    docker/cli cli/command/node/formatter.go): a Docker 27 worker in a Docker 29 manager's swarm."""
    lab.docker_host("host1")
    lab.docker_host("host2", version="27")
    swarm(lab, "host2")
    table = lab.docker("node ls", host="host1").splitlines()
    assert table[0].split() == ["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER", "STATUS", "ENGINE",
                                "VERSION"]
    assert [row.split()[1:] for row in table[1:]] == [
        ["*", "host1", "Ready", "Active", "Leader", "29.7.2"], ["host2", "Ready", "Active", "27.5.1"]]


def test_join_refusals_leave_the_host_out(lab):
    lab.docker_host("host1")
    lab.docker("swarm init", host="host1")
    lab.docker_host("host2")
    with pytest.raises(DaemonError, match="A valid join token is necessary"):
        lab.docker("swarm join --token SWMTKN-1-wrong 198.51.100.10:2377", host="host2")
    with pytest.raises(DaemonError, match="no swarm manager listens on 198.51.100.11:2377"):
        token = lab.docker("swarm join-token -q worker", host="host1").strip()
        lab.docker(f"swarm join --token {token} 198.51.100.11:2377", host="host2")
    assert "docker_gwbridge" not in lab.docker("network ls", host="host2")
    with pytest.raises(DaemonError, match="already part of a swarm"):
        lab.docker("swarm init", host="host1")


def test_overlay_networks_are_created_on_the_manager_only(lab):
    swarm(lab, "host2")
    with pytest.raises(DaemonError, match=r'^Error response from daemon: This node is not a swarm manager\. Use "docker swarm init" or '):
        lab.docker("network create -d overlay ov1", host="host2")
    lab.docker_host("host3")
    with pytest.raises(DaemonError, match="This node is not a swarm manager"):
        lab.docker("network create -d overlay ov1", host="host3")
    with pytest.raises(DaemonError, match="Worker nodes can't be used to view or modify cluster state"):
        lab.docker("node ls", host="host2")
    with pytest.raises(DaemonError, match="Worker nodes can't be used"):
        lab.docker("swarm join-token worker", host="host2")
    with pytest.raises(DaemonError, match='Use "docker swarm init" or "docker swarm join"'):
        lab.docker("node ls", host="host3")
    with pytest.raises(DaemonError, match="^Error response from daemon: This node is not part of a swarm$"):
        lab.docker("swarm leave", host="host3")


def test_network_ls_scope_and_when_a_worker_sees_the_network(cluster):
    lab = cluster
    rows = {line.split()[1]: line.split()[2:] for line in lab.docker("network ls", host="host1").splitlines()[1:]}
    assert rows["ov1"] == ["overlay", "swarm"] and rows["ingress"] == ["overlay", "swarm"]
    assert rows["docker_gwbridge"] == ["bridge", "local"]
    assert "ov1" not in lab.docker("network ls", host="host2")   # no container on it there
    assert "ov1" in lab.docker("network ls", host="host3")
    lab.docker("rm -f c3", host="host3")
    assert "ov1" not in lab.docker("network ls", host="host3")


def test_the_first_user_network_gets_vni_4097_and_10_0_1_0_then_the_next(cluster):
    lab = cluster
    lab.docker("network create -d overlay --attachable ov2", host="host1")
    for net, vni, subnet in (("ov1", "4097", "10.0.1.0/24"), ("ov2", "4098", "10.0.2.0/24"),
                             ("ingress", "4096", "10.0.0.0/24")):
        got = json.loads(lab.docker(f"network inspect {net}", host="host1"))[0]
        assert got["Options"]["com.docker.network.driver.overlay.vxlanid_list"] == vni
        assert got["IPAM"]["Config"][0]["Subnet"] == subnet
        assert got["Scope"] == "swarm" and got["Driver"] == "overlay"


def test_network_inspect_lists_local_containers_and_the_peers(cluster):
    lab = cluster
    got = json.loads(lab.docker("network inspect ov1", host="host3"))[0]
    assert got["Attachable"] is True
    assert [c["Name"] for c in got["Containers"].values()] == ["c3"]
    assert {p["IP"] for p in got["Peers"]} == {HOSTS["host1"], HOSTS["host3"]}
    assert all(re.fullmatch(r"[0-9a-f]{12}", p["Name"]) for p in got["Peers"])


def test_a_non_attachable_network_refuses_plain_containers(lab):
    swarm(lab)
    lab.docker("network create -d overlay ov9", host="host1")
    with pytest.raises(DockerError, match=r"Could not attach to network ov9: rpc error: code = PermissionDenied "
                                          r"desc = network ov9 not manually attachable"):
        lab.docker("run -dit --name c1 --network ov9 nicolaka/netshoot", host="host1")
    assert "c1" not in {n.name for n in lab.nodes()}


# --- the data plane ----------------------------------------------------------------------
def test_reachability_matrix_across_hosts_and_isolation_between_overlays(cluster):
    lab = cluster
    lab.docker("run -dit --name c2 --network ov1 nicolaka/netshoot", host="host2")
    lab.docker("network create -d overlay --attachable ov2", host="host1")
    lab.docker("run -dit --name d2 --network ov2 nicolaka/netshoot", host="host2")
    where = {"c1": "host1", "c2": "host2", "c3": "host3"}
    for a, host in where.items():
        for b in where:
            if a != b:
                assert pings(lab, host, a, b), f"{a} cannot reach {b}"
    for a, host in where.items():  # ov2 is another VNI and another subnet: no path
        assert not pings(lab, host, a, "10.0.2.2")
        assert not pings(lab, "host2", "d2", lab.docker(f"inspect -f '{{{{.NetworkSettings.Networks.ov1.IPAddress}}}}' {a}",
                                                          host=host).strip())


def test_the_sandbox_holds_br0_with_the_gateway_and_vxlan0_as_docker_makes_it(cluster):
    lab = cluster
    nid = lab.docker("network inspect -f {{.Id}} ov1", host="host1").strip()
    assert sandbox(lab, "host1") == f"host1.1-{nid[:10]}"
    assert "10.0.1.1/24" in in_sandbox(lab, "host1", "ip -br addr show br0")
    vxlan = in_sandbox(lab, "host1", "ip -d link show vxlan0")
    assert "mtu 1450" in vxlan and "master br0" in vxlan
    assert re.search(r"vxlan id 4097 .*dstport 4789 proxy l2miss l3miss ttl auto", vxlan)
    assert "learning on" in vxlan
    # the UDP socket of 4789 stays in the host: the vxlan was made there and moved in
    assert ":4789" in lab.node("host1").run("ss -uln").output
    assert ":4789" not in in_sandbox(lab, "host1", "ss -uln")


def test_container_interfaces_mtu_mac_and_the_way_out_through_docker_gwbridge(cluster):
    lab = cluster
    addr = lab.docker("exec c1 ip -o addr show", host="host1")
    assert re.search(r"eth0\s+inet 10\.0\.1\.2/24", addr) and re.search(r"eth1\s+inet 172\.18\.0\.2/16", addr)
    link = lab.docker("exec c1 ip link show eth0", host="host1")
    assert "mtu 1450" in link and "02:42:0a:00:01:02" in link
    routes = lab.docker("exec c1 ip route", host="host1")
    assert routes.splitlines()[0].split() == ["default", "via", "172.18.0.1", "dev", "eth1"]
    said = lab.docker("exec c1 curl -s --max-time 3 http://203.0.113.10/", host="host1")
    assert "you came from 198.51.100.10" in said  # masqueraded on docker_gwbridge's way out
    got = json.loads(lab.docker("network inspect docker_gwbridge", host="host1"))[0]
    assert got["IPAM"]["Config"][0]["Subnet"] == "172.18.0.0/16"
    assert got["Options"]["com.docker.network.bridge.enable_icc"] == "false"
    assert [c["Name"] for c in got["Containers"].values()] == [
        "gateway_" + lab.docker("inspect -f {{.Id}} c1", host="host1")[:12]]
    # Docker 29: docker_gwbridge's ICC off is a DROP in DOCKER-FORWARD (moby docker-v29.7.2
    # integration/network/bridge/iptablesdoc/generated/swarm-portmap.md)
    rules = lab.node("host1").run("iptables -S DOCKER-FORWARD").output
    assert "-A DOCKER-FORWARD -i docker_gwbridge -o docker_gwbridge -j DROP" in rules
    assert "-A DOCKER-FORWARD -i docker_gwbridge ! -o docker_gwbridge -j ACCEPT" in rules
    nat = lab.node("host1").run("iptables -t nat -S POSTROUTING").output
    assert "-A POSTROUTING -s 172.18.0.0/16 ! -o docker_gwbridge -j MASQUERADE" in nat


def test_vxlan_on_the_wire_vni_and_port(cluster):
    lab = cluster
    capture = lab.node("host1").start("tcpdump -n -l -c 1 -i eth0 udp port 4789")
    capture.wait_for("listening on")
    assert pings(lab, "host1", "c1", "c3")
    text = capture.wait(timeout=5)
    assert re.search(r"198\.51\.100\.10\.\d+ > 198\.51\.100\.12\.4789: VXLAN, flags \[I\] \(0x08\), vni 4097", text)
    assert "10.0.1.2 > 10.0.1.3: ICMP echo request" in text


def test_mtu_boundary_1422_crosses_1423_does_not(cluster):
    lab = cluster
    assert pings(lab, "host1", "c1", "c3", size=1422)
    assert not pings(lab, "host1", "c1", "c3", size=1423)


# --- the control plane -------------------------------------------------------------------
def entries(lab, host: str) -> str:
    return in_sandbox(lab, host, "bridge fdb show dev vxlan0") + in_sandbox(lab, host, "ip neigh show dev vxlan0")


def test_entries_appear_with_a_remote_endpoint_and_go_with_it(cluster):
    lab = cluster
    got = entries(lab, "host1")
    assert "02:42:0a:00:01:03 dst 198.51.100.12 link-netnsid 0 self permanent" in got
    assert "10.0.1.3 lladdr 02:42:0a:00:01:03 PERMANENT" in got
    assert "02:42:0a:00:01:02" not in got           # no entry for a local endpoint: br0 learns it
    assert "dst 198.51.100.12" not in entries(lab, "host3")
    assert not any(n.name.startswith("host2.") for n in lab.nodes())  # no container there, no sandbox
    lab.docker("rm -f c3", host="host3")
    got = entries(lab, "host1")
    assert "198.51.100.12" not in got and "10.0.1.3" not in got
    assert not any(n.name.startswith("host3.") for n in lab.nodes())  # its last endpoint: sandbox gone
    log = lab.docker_host("host1").agent_log()
    assert "peer add 10.0.1.3/24 02:42:0a:00:01:03 on 198.51.100.12 (gossip from host3)" in log
    assert "peer delete 10.0.1.3/24 02:42:0a:00:01:03 on 198.51.100.12 (gossip from host3)" in log


def test_a_host_that_joins_the_network_later_gets_the_existing_entries(cluster):
    lab = cluster
    lab.docker("run -dit --name c2 --network ov1 nicolaka/netshoot", host="host2")
    got = entries(lab, "host2")
    assert "02:42:0a:00:01:02 dst 198.51.100.10" in got and "02:42:0a:00:01:03 dst 198.51.100.12" in got
    assert pings(lab, "host2", "c2", "c1")


def test_a_failed_host_loses_its_entries_and_gets_them_back(cluster):
    lab = cluster
    lab.node("host3").set_link("eth0", up=False)     # host3's cable out
    took = wait_until(lambda: "198.51.100.12" not in entries(lab, "host1"), timeout=30)
    assert took > 2  # not before the heartbeats were missed for 3 s
    assert "host3      Down" in lab.docker("node ls", host="host1")
    assert "failed (no heartbeat for 3 s): deleting its 1 entry" in lab.docker_host("host1").agent_log()
    lab.node("host3").set_link("eth0", up=True)
    wait_until(lambda: "198.51.100.12" in entries(lab, "host1"))
    assert pings(lab, "host1", "c1", "c3")


def test_names_resolve_across_hosts_and_stop_when_the_container_goes(cluster):
    lab = cluster
    said = lab.docker("exec c1 nslookup c3", host="host1")
    assert "Address: 10.0.1.3" in said
    assert "Address: 10.0.1.3" in lab.docker("exec c1 nslookup c3.ov1", host="host1")
    lab.docker("rm -f c3", host="host3")
    assert "NXDOMAIN" in lab.docker("exec c1 nslookup c3", host="host1")


def test_leaving_the_swarm(cluster):
    lab = cluster
    with pytest.raises(DaemonError, match="participating as a manager"):
        lab.docker("swarm leave", host="host1")
    with pytest.raises(DockerError, match="c3 still use overlay networks on host3"):
        lab.docker("swarm leave", host="host3")
    lab.docker("rm -f c3", host="host3")
    assert lab.docker("swarm leave", host="host3") == "Node left the swarm.\n"
    assert "host3" not in lab.docker("node ls", host="host1")
    assert "left the cluster" in lab.docker_host("host1").agent_log()


def test_a_port_published_on_an_overlay_container_goes_through_docker_gwbridge(cluster):
    """The sandbox's port bindings go to its gateway endpoint, which for an overlay-only container is
    the one libnetwork adds on docker_gwbridge (moby v27.5.1 libnetwork/default_gateway.go,
    setupDefaultGW: CreateOptionPortMapping(sb's PortMap); the bridge driver maps it there)."""
    lab = cluster
    lab.docker("run -d --name web -p 8080:80 --network ov1 nginx", host="host1")
    nat = lab["host1"].run("iptables -t nat -S DOCKER", check=True).stdout
    gw_ip = lab["web"].run("ip -4 -o addr show eth1", check=True).stdout.split()[3].split("/")[0]
    assert f"-A DOCKER ! -i docker_gwbridge -p tcp -m tcp --dport 8080 -j DNAT --to-destination {gw_ip}:80" in nat
    assert lab.docker("port web", host="host1") == "80/tcp -> 0.0.0.0:8080\n"
    page = lab["lan-client"].run("curl -s -m 5 http://198.51.100.10:8080/", check=True).stdout
    assert "web" in page


def test_refused_overlay_commands_leave_the_lab_as_it_was(cluster):
    lab = cluster
    before = settled(lab.snapshot())
    for command, error, message in (
            ("network create -d overlay --ip-range 10.9.0.0/25 --subnet 10.9.0.0/24 ov8", DockerError, "ip-range"),
            ("network create -d overlay -o encrypted ov8", DockerError, "takes only -o com.docker.network.driver.mtu"),
            ("network create -d overlay --subnet 10.0.1.0/24 ov8", DaemonError, "overlaps"),
            ("network rm ingress", DaemonError, "pre-defined network"),
            ("run -dit --name c9 --network ov1 --ip 10.0.1.3 nicolaka/netshoot", DockerError, "user configured subnets")):
        with pytest.raises(error, match=message):
            lab.docker(command, host="host1")
    assert settled(lab.snapshot()) == before


# --- both control planes: Swarm gossip, and the Docker 1.11 cluster store ------------------
PLANES = ["swarm", "kv-built-in", pytest.param("kv-etcd", marks=pytest.mark.skipif(
    not shutil.which("etcd"), reason="etcd is not installed (apt-get install etcd-server)"))]


@pytest.fixture(params=PLANES)
def plane(request, lab):
    """c1 on host1, c3 on host3, on ov1, through one control plane or the other."""
    if request.param == "swarm":
        swarm(lab, "host2", "host3")
        lab.docker("network create -d overlay --attachable ov1", host="host1")
    else:
        store = start_cluster_store(lab, kind=request.param[3:])
        for host in HOSTS:
            lab.docker_host(host, cluster_store=store)
        lab.docker("network create -d overlay ov1", host="host2")  # any host: the network is global
    lab.docker("run -dit --name c1 --network ov1 nicolaka/netshoot", host="host1")
    lab.docker("run -dit --name c3 --network ov1 nicolaka/netshoot", host="host3")
    return request.param


def endpoint(lab, host: str, ctr: str) -> tuple[str, str]:
    got = json.loads(lab.docker(f"inspect -f '{{{{json .NetworkSettings.Networks.ov1}}}}' {ctr}", host=host))
    return got["IPAddress"], got["MacAddress"]


def test_each_plane_delivers_the_entries_and_takes_them_back(lab, plane):
    ip3, mac3 = endpoint(lab, "host3", "c3")
    assert mac3 == "02:42:" + ":".join(f"{int(b):02x}" for b in ip3.split("."))
    got = entries(lab, "host1")
    assert f"{mac3} dst 198.51.100.12 link-netnsid 0 self permanent" in got
    assert f"{ip3} lladdr {mac3} PERMANENT" in got
    assert pings(lab, "host1", "c1", "c3") and pings(lab, "host3", "c3", "c1")
    lab.docker("rm -f c3", host="host3")
    assert "198.51.100.12" not in entries(lab, "host1")
    source = "gossip from host3" if plane == "swarm" else "store watch"
    assert f"peer add {ip3}/24 {mac3} on 198.51.100.12 ({source})" in lab.docker_host("host1").agent_log()


def test_each_plane_drops_a_failed_host_and_takes_it_back(lab, plane):
    lab.node("host3").set_link("eth0", up=False)
    took = wait_until(lambda: "198.51.100.12" not in entries(lab, "host1"), timeout=30)
    assert took > 2  # not before the heartbeats were missed for 3 s (how long it takes: the overlay bench)
    assert not pings(lab, "host1", "c1", "c3")
    lab.node("host3").set_link("eth0", up=True)
    wait_until(lambda: "198.51.100.12" in entries(lab, "host1"))
    assert pings(lab, "host1", "c1", "c3")


def test_each_plane_resolves_names_across_hosts(lab, plane):
    ip3, _ = endpoint(lab, "host3", "c3")
    assert f"Address: {ip3}" in lab.docker("exec c1 nslookup c3", host="host1")
    assert f"Address: {ip3}" in lab.docker("exec c1 nslookup c3.ov1", host="host1")


def test_the_cluster_store_holds_docker_1_11_keys(lab):
    store = start_cluster_store(lab)
    assert store == "etcd://198.51.100.30:2379"
    for host in ("host1", "host2"):
        lab.docker_host(host, cluster_store=store)
    nid = lab.docker("network create -d overlay ov1", host="host1").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", nid)
    got = json.loads(lab.docker("network inspect ov1", host="host2"))[0]   # seen on every host at once
    assert got["Scope"] == "global" and got["IPAM"]["Config"][0]["Subnet"] == "10.0.0.0/24"
    assert got["Options"]["com.docker.network.driver.overlay.vxlanid_list"] == "256"
    lab.docker("run -dit --name c1 --network ov1 nicolaka/netshoot", host="host1")
    keys = lab.docker_host("host2").store_keys()
    assert "docker/nodes/198.51.100.10:2376 = 198.51.100.10:2376" in keys.replace("/docker", "docker")
    record = next(json.loads(line.split(" = ", 1)[1]) for line in keys.splitlines()
                  if "/network/v1.0/endpoint/" in line)
    assert record["name"] == "c1" and record["locator"] == "198.51.100.10"
    assert record["ep_iface"] == {"mac": "02:42:0a:00:00:02", "addr": "10.0.0.2/24"}
    with pytest.raises(DockerError, match="swarm mode and a cluster store do not mix"):
        lab.docker("swarm init", host="host1")


@pytest.mark.skipif(not shutil.which("etcd"), reason="etcd is not installed (apt-get install etcd-server)")
def test_the_notebook_prints_the_same_with_etcd_and_with_the_built_in_store():
    """Chapter 07 promises the same outputs whichever store runs: replay its KV-era commands on both."""
    from nethelpers import Lab

    def transcript(kind: str) -> list[str]:
        with Lab() as lab:
            store = start_cluster_store(lab, kind=kind)
            for host in HOSTS:
                lab.docker_host(host, cluster_store=store)
            out = [lab.docker("network create -d overlay ov1", host="host2"),
                   lab.docker("network inspect -f '{{.Options}} {{.IPAM.Config}} {{.Scope}}' ov1", host="host1"),
                   lab.docker("run -dit --name c1 --network ov1 nicolaka/netshoot", host="host1"),
                   lab.docker("run -dit --name c3 --network ov1 nicolaka/netshoot", host="host3")]
            host1 = lab.docker_host("host1")
            out += [host1.store_keys("docker/nodes"), host1.store_keys("docker/network/v1.0/endpoint")]
            lab.node("host3").set_link("eth0", up=False)
            host1.wait_for_entry("ov1", "10.0.0.3", present=False)
            lab.node("host3").set_link("eth0", up=True)
            host1.wait_for_entry("ov1", "10.0.0.3")
            return out + [host1.agent_log()]

    assert transcript("etcd") == transcript("built-in")


def test_connect_and_disconnect_move_the_way_out_between_docker_gwbridge_and_a_bridge(cluster):
    lab = cluster
    lab.docker("run -dit --name b2 nicolaka/netshoot", host="host2")           # default bridge first
    lab.docker("network connect ov1 b2", host="host2")               # a worker joins an attachable network
    assert "10.0.1." in lab.docker("exec b2 ip -br addr show eth1", host="host2")
    assert "default via 172.17.0.1 dev eth0" in lab.docker("exec b2 ip route", host="host2")
    assert pings(lab, "host2", "b2", "c1")
    lab.docker("network disconnect bridge b2", host="host2")        # now only the overlay: gwbridge again
    routes = lab.docker("exec b2 ip route", host="host2")
    assert "default via 172.18.0.1" in routes
    assert "you came from 198.51.100.11" in lab.docker("exec b2 curl -s --max-time 3 http://203.0.113.10/",
                                                          host="host2")
    lab.docker("network connect bridge b2", host="host2")           # a gateway again: gwbridge's endpoint goes
    assert "default via 172.17.0.1" in lab.docker("exec b2 ip route", host="host2")
    assert "172.18." not in lab.docker("exec b2 ip -br addr", host="host2")


def test_a_global_network_in_use_on_another_host_cannot_be_removed(lab):
    store = start_cluster_store(lab, kind="built-in")
    for host in ("host1", "host2"):
        lab.docker_host(host, cluster_store=store)
    lab.docker("network create -d overlay ov1", host="host1")
    lab.docker("run -dit --name c2 --network ov1 nicolaka/netshoot", host="host2")
    with pytest.raises(DaemonError, match="has active endpoints"):
        lab.docker("network rm ov1", host="host1")
    lab.docker("rm -f c2", host="host2")
    assert lab.docker("network rm ov1", host="host1") == "ov1\n"
    assert "ov1" not in lab.docker("network ls", host="host2")


def test_a_cluster_store_that_is_not_there_is_refused_before_anything_is_made(lab):
    lab.docker_host("host1")
    before = lab.snapshot()
    with pytest.raises(DockerError, match=r"no store answers at 198\.51\.100\.30:2379; start one first"):
        lab.docker_host("host2", cluster_store="etcd://198.51.100.30:2379")
    with pytest.raises(DockerError, match="take etcd://IP:PORT"):
        lab.docker_host("host2", cluster_store="consul://198.51.100.30:8500")
    assert lab.snapshot() == before
    store = start_cluster_store(lab, kind="built-in")
    lab.docker_host("host2", cluster_store=store)   # now it works, under the same name
    assert "198.51.100.11" in lab.docker_host("host2").agent_log()


def test_a_missing_cluster_store_in_a_fresh_lab_makes_nothing(lab):
    with pytest.raises(DockerError, match="no store answers"):
        lab.docker_host("host1", cluster_store="etcd://198.51.100.30:2379")
    assert lab.nodes() == []


def test_a_host_whose_gossip_port_is_taken_cannot_join_and_stays_out(lab):
    lab.docker_host("host1")
    lab.docker("swarm init", host="host1")
    lab.docker_host("host2")
    squatter = lab.node("host2").start(["python3", "-c", "import socket,time; s=socket.socket(socket.AF_INET, "
                                        "socket.SOCK_DGRAM); s.bind(('198.51.100.11', 7946)); print('bound', "
                                        "flush=True); time.sleep(60)"])
    squatter.wait_for("bound")
    before = settled(lab.snapshot())
    token = lab.docker("swarm join-token -q worker", host="host1").strip()
    with pytest.raises(DockerError, match="the overlay agent of host2 did not start: .*Address already in use"):
        lab.docker(f"swarm join --token {token} 198.51.100.10:2377", host="host2")
    assert settled(lab.snapshot()) == before          # no docker_gwbridge left behind
    assert "host2" not in lab.docker("node ls", host="host1")
    squatter.stop()
    assert "joined" in lab.docker(f"swarm join --token {token} 198.51.100.10:2377", host="host2")


@pytest.mark.parametrize("plane", ["swarm", "kv-built-in"])
def test_a_container_started_while_a_host_is_cut_off_reaches_it_once_it_is_back(lab, plane):
    if plane == "swarm":
        swarm(lab, "host2", "host3")
        lab.docker("network create -d overlay --attachable ov1", host="host1")
    else:
        store = start_cluster_store(lab, kind="built-in")
        for host in HOSTS:
            lab.docker_host(host, cluster_store=store)
        lab.docker("network create -d overlay ov1", host="host1")
    lab.docker("run -dit --name c3 --network ov1 nicolaka/netshoot", host="host3")
    lab.node("host3").set_link("eth0", up=False)
    lab.docker_host("host1").wait_for_entry("ov1", endpoint(lab, "host3", "c3")[0], present=False)
    assert "198.51.100.12" not in lab.docker_host("host1")._ask("alive")["alive"]   # host1 knows host3 is gone
    started = time.monotonic()
    lab.docker("run -dit --name c1 --network ov1 nicolaka/netshoot", host="host1")  # host3 cannot hear it now
    # Not waiting for host3's agent, which would take the 5 s wait timeout (overlay.py _spread).
    assert time.monotonic() - started < 4.5, "run waited for a host that is cut off"
    lab.node("host3").set_link("eth0", up=True)
    ip1, _ = endpoint(lab, "host1", "c1")
    lab.docker_host("host3").wait_for_entry("ov1", ip1)
    lab.docker_host("host1").wait_for_entry("ov1", endpoint(lab, "host3", "c3")[0])
    assert pings(lab, "host3", "c3", "c1")


def test_watch_fdb_sees_an_entry_arrive_and_go(cluster):
    lab = cluster
    daemon1 = lab.docker_host("host1")
    monitor = daemon1.watch_fdb("ov1")
    lab.docker("run -dit --name c2 --network ov1 nicolaka/netshoot", host="host2")
    assert monitor.lines(1) == "02:42:0a:00:01:04 dev vxlan0 dst 198.51.100.11 link-netnsid 0 self permanent\n"
    monitor = daemon1.watch_fdb("ov1")
    lab.docker("rm -f c2", host="host2")
    assert monitor.lines(1).startswith("Deleted 02:42:0a:00:01:04 dev vxlan0 dst 198.51.100.11")
    assert "02:00:5e:00:53:ff" not in in_sandbox(lab, "host1", "bridge fdb show")  # the marker is gone


def test_an_internal_bridge_network_joins_next_to_the_gateway_endpoint_without_a_name_clash(cluster):
    lab = cluster
    lab.docker("network create --internal back", host="host1")
    lab.docker("network connect back c1", host="host1")              # c1 has eth0 (ov1) and eth1 (gwbridge)
    names = lab.docker("exec c1 ip -br link", host="host1")
    assert "eth2@" in names and "default via 172.18.0.1 dev eth1" in lab.docker("exec c1 ip route", host="host1")
