"""Docker's other network modes through the engine: none, host, container:NAME, macvlan.

Each test builds a fresh lab: the Docker host "docker-host" (198.51.100.10) on the LAN
198.51.100.0/24 with "router" (.1), "lan-client" (.20) and "internet" (203.0.113.10, a
web server answering "hello from internet / you came from <client>"). Expected
behaviour: /work/shared/FACTS.md ("none, host, container:<name>, macvlan") and Docker
Engine 27 with its own CLI (moby v27.5.1: runconfig/hostconfig.go, daemon/
container_operations.go, libnetwork/drivers/macvlan; docker/cli v27.5.1: run.go).

Everything that touches the network is bounded: ping -c1 -W1, curl --max-time 3.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from nethelpers.docker import DaemonError, DockerError

HOST_IP = "198.51.100.10"
LAN_CLIENT_IP = "198.51.100.20"
INTERNET_IP = "203.0.113.10"
B1_IP = "172.17.0.2"          # the bridge container of every fixture, made first
POD_IP = "172.17.0.3"         # container mode: the namespace's owner, made second
MV_IP = "198.51.100.128"      # macvlan: the first address of the ip-range
MV_MAC = "02:42:c6:33:64:80"  # 02:42 then 198.51.100.128
SHIM_IP = "198.51.100.254"
CURL = "curl -s --max-time 3"
WORLD = ("lan-client", "docker-host", "internet", "router")
MACVLAN = ("network create -d macvlan --subnet 198.51.100.0/24 --gateway 198.51.100.1 "
           "--ip-range 198.51.100.128/25 -o parent=eth0")


# --- helpers ------------------------------------------------------------------------------
def refused(lab, command, error=DockerError) -> str:
    """The message of a docker command that must fail with ``error``."""
    with pytest.raises(error) as caught:
        lab.docker(command)
    return str(caught.value)


def inspect(lab, ref: str) -> dict:
    return json.loads(lab.docker(f"inspect {ref}"))[0]


def network_inspect(lab, ref: str) -> dict:
    return json.loads(lab.docker(f"network inspect {ref}"))[0]


def run_in(lab, where: str, command: str):
    """Run ``command`` in a world node or (docker exec) in a container: (output, exit code)."""
    if where in WORLD:
        result = lab[where].run(command, timeout=15)
        return result.output, result.rc
    out = lab.docker(f"exec {where} {command}")
    return str(out), out.exit_code


def reaches(lab, source: str, address: str) -> bool:
    """One bounded ping from ``source`` (a node or a container)."""
    return run_in(lab, source, f"ping -c1 -W1 {address}")[1] == 0


def curl(lab, source: str, url: str) -> str:
    """What ``source`` gets from ``url`` ("" when it cannot connect)."""
    return run_in(lab, source, f"{CURL} {url}")[0]


def link_names(text: str) -> list[str]:
    """Interface names of an ``ip -br link`` listing (without the @peer suffix)."""
    return [line.split()[0].split("@")[0] for line in text.splitlines() if line.strip()]


def host_links(lab) -> list[str]:
    return link_names(lab["docker-host"].run("ip -br link", timeout=15).stdout)


def container_links(lab, container: str) -> list[str]:
    return link_names(lab.docker(f"exec {container} ip -br link"))


def addresses(lab, container: str) -> dict[str, str]:
    """{ifname: "ip/len"} inside a container, loopback left out."""
    found = {}
    for line in lab.docker(f"exec {container} ip -br -4 addr").splitlines():
        name, _, *cidrs = line.split()
        if name != "lo" and cidrs:
            found[name.split("@")[0]] = cidrs[0]
    return found


def ps_row(lab, name: str) -> str:
    """The `docker ps -a` row of container ``name`` ("" when it is not listed)."""
    return next((line for line in lab.docker("ps -a").splitlines()[1:] if line.split()[-1] == name), "")


def wait_exited(lab, container: str, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while lab.docker(f"inspect -f '{{{{.State.Running}}}}' {container}").strip() != "false":
        assert time.monotonic() < deadline, f"{container} still running after {seconds} s"
        time.sleep(0.1)


def vlan_capable(node) -> bool:
    """Can this kernel make an 802.1Q sub-interface? (tried on a throwaway node's eth0)"""
    made = node.run("ip link add link eth0 name eth0.9 type vlan id 9", timeout=10).rc == 0
    if made:
        node.remove_link("eth0.9")
    return made


def state(lab) -> tuple:
    """What a refused command must not change: kernel state, rules, containers, networks."""
    snapshot = lab.snapshot()
    for node in snapshot.values():
        for link in node["links"]:
            link.pop("index", None), link.pop("link_index", None)  # interface numbers only grow
    rules = lab["docker-host"].run("iptables -S; iptables -t nat -S", check=True).stdout
    ages = re.compile(r"(Less than a second|About an? \w+|\d+ \w+)( ago)?")
    containers = [[ages.sub("*", cell) for cell in re.split(r"\s{3,}", row)]  # ages tick, widths follow
                  for row in lab.docker("ps -a").splitlines()]
    return (snapshot, rules, containers, lab.docker("network ls"),
            sorted(p["command"] for p in lab.processes()))


# --- fixtures: the bridge container b1 (172.17.0.2) and one container of the mode -----------
@pytest.fixture
def none_mode(lab):
    """b1 on the default bridge, and "iso" with --network none."""
    lab.docker("run -dit --name b1 nicolaka/netshoot")
    lab.docker("run -dit --name iso --network none nicolaka/netshoot")
    return lab


@pytest.fixture
def host_mode(lab):
    """b1 on the default bridge, and "hn" with --network host."""
    lab.docker("run -dit --name b1 nicolaka/netshoot")
    lab.docker("run -dit --name hn --network host nicolaka/netshoot")
    return lab


@pytest.fixture
def container_mode(lab):
    """b1; nginx "pod" on the default bridge (172.17.0.3); "side" in pod's namespace (Docker 27:
    MACs from the address)."""
    lab.docker_host(version="27")
    lab.docker("run -dit --name b1 nicolaka/netshoot")
    lab.docker("run -d --name pod nginx")
    lab.docker("run -dit --name side --network container:pod nicolaka/netshoot")
    return lab


@pytest.fixture
def macvlan_mode(lab):
    """b1; macvlan network "mv" on the host's eth0 (the LAN), "mv1" on it (198.51.100.128), on Docker 27
    (macvlan_endpoint.go GenerateMACFromIP at v27.5.1; 28+ draw MACs at random)."""
    lab.docker_host(version="27")
    lab.docker("run -dit --name b1 nicolaka/netshoot")
    lab.docker(f"{MACVLAN} mv")
    lab.docker("run -dit --name mv1 --network mv nicolaka/netshoot")
    return lab


# === reachability, mode by mode ==============================================================
ADDRESS = {"lan-client": LAN_CLIENT_IP, "docker-host": HOST_IP, "internet": INTERNET_IP, "b1": B1_IP,
           "localhost": "127.0.0.1", "hn": HOST_IP, "side": POD_IP, "mv1": MV_IP}

# what the mode leaves as it was: LAN clients cannot route to container addresses
BASELINE = [
    ("lan-client", "docker-host", True), ("lan-client", "b1", False), ("lan-client", "internet", True),
    ("docker-host", "lan-client", True), ("docker-host", "b1", True), ("docker-host", "internet", True),
    ("b1", "lan-client", True), ("b1", "docker-host", True), ("b1", "internet", True),
]
NONE_MATRIX = BASELINE + [
    ("iso", "lan-client", False), ("iso", "docker-host", False), ("iso", "b1", False),
    ("iso", "internet", False), ("iso", "localhost", True),
]
HOST_MATRIX = BASELINE + [  # hn is the Docker host's own stack: its address is the host's
    ("hn", "lan-client", True), ("hn", "b1", True), ("hn", "internet", True),
    ("lan-client", "hn", True), ("b1", "hn", True),
]
CONTAINER_MATRIX = BASELINE + [  # side is pod: 172.17.0.3 behind docker0, masqueraded outbound
    ("side", "lan-client", True), ("side", "docker-host", True), ("side", "b1", True),
    ("side", "internet", True), ("lan-client", "side", False), ("docker-host", "side", True),
    ("b1", "side", True),
]
MACVLAN_MATRIX = BASELINE + [  # mv1 is on the LAN itself; the host (and so b1) cannot reach it
    ("mv1", "lan-client", True), ("mv1", "docker-host", False), ("mv1", "b1", False),
    ("mv1", "internet", True), ("lan-client", "mv1", True), ("docker-host", "mv1", False),
    ("b1", "mv1", False),
]


def _ids(matrix) -> list[str]:
    return [f"{source}->{target}" for source, target, _ in matrix]


@pytest.mark.parametrize("source, target, expected", NONE_MATRIX, ids=_ids(NONE_MATRIX))
def test_none_reachability(none_mode, source, target, expected):
    assert reaches(none_mode, source, ADDRESS[target]) is expected


@pytest.mark.parametrize("source, target, expected", HOST_MATRIX, ids=_ids(HOST_MATRIX))
def test_host_reachability(host_mode, source, target, expected):
    assert reaches(host_mode, source, ADDRESS[target]) is expected


@pytest.mark.parametrize("source, target, expected", CONTAINER_MATRIX, ids=_ids(CONTAINER_MATRIX))
def test_container_mode_reachability(container_mode, source, target, expected):
    assert reaches(container_mode, source, ADDRESS[target]) is expected


@pytest.mark.parametrize("source, target, expected", MACVLAN_MATRIX, ids=_ids(MACVLAN_MATRIX))
def test_macvlan_reachability(macvlan_mode, source, target, expected):
    assert reaches(macvlan_mode, source, ADDRESS[target]) is expected


# === none ====================================================================================
def test_none_container_has_only_lo(none_mode):
    assert container_links(none_mode, "iso") == ["lo"]


def test_none_container_lo_has_127_0_0_1_8(none_mode):
    assert none_mode.docker("exec iso ip -br -4 addr").split() == ["lo", "UNKNOWN", "127.0.0.1/8"]


def test_none_container_has_no_routes(none_mode):
    assert none_mode.docker("exec iso ip route") == ""


def test_none_container_connecting_fails_with_network_unreachable(none_mode):
    out, code = run_in(none_mode, "iso", f"ping -c1 -W1 {INTERNET_IP}")
    assert code != 0 and "Network is unreachable" in out


def test_none_adds_no_interface_to_the_host(lab):
    lab.docker("ps")
    before = host_links(lab)
    lab.docker("run -dit --name iso --network none nicolaka/netshoot")
    assert host_links(lab) == before


def test_none_inspect_network_mode(none_mode):
    assert inspect(none_mode, "iso")["HostConfig"]["NetworkMode"] == "none"


def test_none_inspect_networks_has_none_with_an_endpoint_and_no_address(none_mode):
    networks = inspect(none_mode, "iso")["NetworkSettings"]["Networks"]
    assert list(networks) == ["none"]
    assert networks["none"]["IPAddress"] == "" and networks["none"]["MacAddress"] == ""
    assert networks["none"]["Gateway"] == "" and networks["none"]["IPPrefixLen"] == 0
    assert re.fullmatch(r"[0-9a-f]{64}", networks["none"]["EndpointID"])
    assert networks["none"]["NetworkID"] == network_inspect(none_mode, "none")["Id"]


def test_network_inspect_none_lists_the_container_without_addresses(none_mode):
    ctr = inspect(none_mode, "iso")
    members = network_inspect(none_mode, "none")["Containers"]
    assert members == {ctr["Id"]: {"Name": "iso",
                                   "EndpointID": ctr["NetworkSettings"]["Networks"]["none"]["EndpointID"],
                                   "MacAddress": "", "IPv4Address": "", "IPv6Address": ""}}


def test_none_container_cannot_be_connected_to_another_network(none_mode):
    assert refused(none_mode, "network connect bridge iso", DaemonError) == (
        "Error response from daemon: container cannot be connected to multiple networks with one of the "
        "networks in private (none) mode")


def test_a_bridge_container_cannot_be_connected_to_none(none_mode):
    assert refused(none_mode, "network connect none b1", DaemonError) == (
        "Error response from daemon: container cannot be connected to multiple networks with one of the "
        "networks in private (none) mode")


# === host ====================================================================================
def test_host_mode_adds_no_interface(lab):
    lab.docker("ps")
    before = host_links(lab)
    lab.docker("run -dit --name hn --network host nicolaka/netshoot")
    assert host_links(lab) == before


def test_host_mode_container_sees_the_hosts_interfaces(host_mode):
    assert container_links(host_mode, "hn") == host_links(host_mode)
    assert addresses(host_mode, "hn")["eth0"] == f"{HOST_IP}/24"


def test_host_mode_nginx_answers_on_the_hosts_address_without_nat(lab):
    lab.docker("run -d --name hweb --network host nginx")
    assert curl(lab, "lan-client", f"http://{HOST_IP}/") == f"hello from hweb\nyou came from {LAN_CLIENT_IP}\n"


def test_host_mode_nginx_is_reached_from_a_bridge_container_via_docker0(lab):
    lab.docker("run -dit --name b1 nicolaka/netshoot")
    lab.docker("run -d --name hweb --network host nginx")
    assert curl(lab, "b1", "http://172.17.0.1/") == f"hello from hweb\nyou came from {B1_IP}\n"


def test_host_mode_outbound_leaves_with_the_hosts_address(host_mode):
    assert curl(host_mode, "hn", f"http://{INTERNET_IP}/") == f"hello from internet\nyou came from {HOST_IP}\n"


def test_host_mode_publish_prints_the_warning_first(lab):
    out = lab.docker("run -d --name hweb --network host -p 8080:80 nginx")
    lines = out.splitlines()
    assert lines[0] == "WARNING: Published ports are discarded when using host network mode"
    assert re.fullmatch(r"[0-9a-f]{64}", lines[1]) and len(lines) == 2


def test_host_mode_published_port_is_not_mapped(lab):
    lab.docker("run -d --name hweb --network host -p 8080:80 nginx")
    assert curl(lab, "lan-client", f"http://{HOST_IP}:8080/") == ""
    assert "8080" not in lab["docker-host"].run("iptables -t nat -S", check=True).stdout
    assert not any("nethelpers.programs.docker_proxy" in p["command"] for p in lab.processes())


def test_host_mode_port_and_ps_show_no_mapping(lab):
    lab.docker("run -d --name hweb --network host -p 8080:80 nginx")
    assert lab.docker("port hweb") == ""
    assert "8080" not in ps_row(lab, "hweb")


def test_host_mode_inspect_keeps_the_port_bindings_it_discards(lab):
    """The daemon warns and ignores them at start; HostConfig keeps what was asked."""
    lab.docker("run -d --name hweb --network host -p 8080:80 nginx")
    bindings = inspect(lab, "hweb")["HostConfig"]["PortBindings"]
    assert [b["HostPort"] for b in bindings.get("80/tcp", [])] == ["8080"]


def test_second_host_mode_nginx_exits_1(lab):
    lab.docker("run -d --name h1 --network host nginx")
    lab.docker("run -d --name h2 --network host nginx")
    wait_exited(lab, "h2")
    assert "Exited (1)" in ps_row(lab, "h2")
    assert " Up " in ps_row(lab, "h1")


def test_second_host_mode_nginx_logs_address_in_use(lab):
    lab.docker("run -d --name h1 --network host nginx")
    lab.docker("run -d --name h2 --network host nginx")
    wait_exited(lab, "h2")
    assert "Address already in use" in lab.docker("logs h2")


def test_first_host_mode_nginx_keeps_port_80(lab):
    lab.docker("run -d --name h1 --network host nginx")
    lab.docker("run -d --name h2 --network host nginx")
    wait_exited(lab, "h2")
    assert curl(lab, "lan-client", f"http://{HOST_IP}/").startswith("hello from h1\n")


def test_two_bridge_mode_nginx_both_run(lab):
    lab.docker("run -d --name w1 nginx")
    lab.docker("run -d --name w2 nginx")
    assert " Up " in ps_row(lab, "w1") and " Up " in ps_row(lab, "w2")
    assert curl(lab, "docker-host", "http://172.17.0.3/").startswith("hello from w2\n")


def test_host_mode_inspect_network_mode(host_mode):
    assert inspect(host_mode, "hn")["HostConfig"]["NetworkMode"] == "host"


def test_host_mode_inspect_networks_has_host_with_an_endpoint_and_no_address(host_mode):
    networks = inspect(host_mode, "hn")["NetworkSettings"]["Networks"]
    assert list(networks) == ["host"]
    assert networks["host"]["IPAddress"] == "" and networks["host"]["MacAddress"] == ""
    assert re.fullmatch(r"[0-9a-f]{64}", networks["host"]["EndpointID"])
    assert networks["host"]["NetworkID"] == network_inspect(host_mode, "host")["Id"]


def test_host_mode_sandbox_is_the_hosts_default_namespace(host_mode):
    assert inspect(host_mode, "hn")["NetworkSettings"]["SandboxKey"] == "/var/run/docker/netns/default"


def test_network_inspect_host_lists_the_container_without_addresses(host_mode):
    ctr = inspect(host_mode, "hn")
    members = network_inspect(host_mode, "host")["Containers"]
    assert members == {ctr["Id"]: {"Name": "hn",
                                   "EndpointID": ctr["NetworkSettings"]["Networks"]["host"]["EndpointID"],
                                   "MacAddress": "", "IPv4Address": "", "IPv6Address": ""}}


def test_host_mode_container_cannot_be_connected_to_another_network(host_mode):
    assert refused(host_mode, "network connect bridge hn", DaemonError) == (
        "Error response from daemon: container sharing network namespace with another container or host "
        "cannot be connected to any other network")


def test_a_bridge_container_cannot_be_connected_to_host(host_mode):
    assert refused(host_mode, "network connect host b1", DaemonError) == (
        "Error response from daemon: container cannot be disconnected from host network or connected to "
        "host network")


def test_host_mode_container_cannot_be_disconnected_from_host(host_mode):
    assert refused(host_mode, "network disconnect host hn", DaemonError) == (
        "Error response from daemon: container cannot be disconnected from host network or connected to "
        "host network")


# === container:NAME ===========================================================================
def test_joiner_sees_the_owners_eth0(container_mode):
    assert addresses(container_mode, "side") == {"eth0": f"{POD_IP}/16"}
    shown = container_mode.docker("exec side ip link show eth0")
    assert "link/ether 02:42:ac:11:00:03 " in shown


def test_joiner_adds_no_veth(container_mode):
    veths = [name for name in host_links(container_mode) if name.startswith("veth")]
    assert len(veths) == 2  # b1's and pod's


def test_joiner_reaches_the_owners_server_on_localhost(container_mode):
    assert curl(container_mode, "side", "http://127.0.0.1/") == "hello from pod\nyou came from 127.0.0.1\n"


def test_joiner_outbound_is_masqueraded_like_the_owner(container_mode):
    assert curl(container_mode, "side", f"http://{INTERNET_IP}/") == \
        f"hello from internet\nyou came from {HOST_IP}\n"


def test_joiner_uses_the_owners_hostname_file(container_mode):
    pod_id = inspect(container_mode, "pod")["Id"]
    assert container_mode.docker("exec side cat /etc/hostname") == pod_id[:12] + "\n"


def test_joiner_config_hostname_is_the_owners(container_mode):
    """initializeNetworking copies the owner's Config.Hostname into the joiner's."""
    pod = inspect(container_mode, "pod")
    assert inspect(container_mode, "side")["Config"]["Hostname"] == pod["Config"]["Hostname"]


def test_joiner_inspect_network_mode_is_container_and_the_owners_full_id(container_mode):
    pod_id = inspect(container_mode, "pod")["Id"]
    assert inspect(container_mode, "side")["HostConfig"]["NetworkMode"] == f"container:{pod_id}"


def test_joiner_inspect_has_no_networks(container_mode):
    settings = inspect(container_mode, "side")["NetworkSettings"]
    assert settings["Networks"] == {} and settings["IPAddress"] == ""


def test_joiner_is_not_listed_on_the_owners_network(container_mode):
    names = [c["Name"] for c in network_inspect(container_mode, "bridge")["Containers"].values()]
    assert sorted(names) == ["b1", "pod"]


CONFLICTS = [
    ("-p 8080:80", "conflicting options: port publishing and the container type network mode"),
    ("--publish=8080:80", "conflicting options: port publishing and the container type network mode"),
    ("--dns 192.0.2.53", "conflicting options: dns and the network mode"),
    ("--hostname web", "conflicting options: hostname and the network mode"),
    ("-h web", "conflicting options: hostname and the network mode"),
    ("--mac-address 02:42:c0:00:02:99", "conflicting options: mac-address and the network mode"),
]


@pytest.mark.parametrize("flag, error", CONFLICTS, ids=[f for f, _ in CONFLICTS])
def test_container_mode_refuses_the_flag(container_mode, flag, error):
    message = refused(container_mode, f"run -dit --name x1 --network container:pod {flag} nicolaka/netshoot")
    assert f"Error response from daemon: {error}" in message
    assert ps_row(container_mode, "x1") == ""


def test_container_mode_conflicts_are_checked_in_dockers_order(container_mode):
    """validateNetContainerMode: hostname, then dns, then port publishing."""
    message = refused(container_mode,
                      "run -dit --name x1 --network container:pod -p 8080:80 --dns 192.0.2.53 -h web nicolaka/netshoot")
    assert "conflicting options: hostname and the network mode" in message


def test_run_refusal_is_printed_as_the_docker_27_cli_prints_it(container_mode):
    """docker/cli 27 reportError: "docker: " + the error + "." + "\\nSee 'docker run --help'."."""
    assert refused(container_mode, "run -dit --name x1 --network container:pod -h web nicolaka/netshoot") == (
        "docker: Error response from daemon: conflicting options: hostname and the network mode.\n"
        "See 'docker run --help'.")


def test_container_mode_without_a_name_is_refused(container_mode):
    assert "Invalid network mode: invalid container format container:<name|id>" in \
        refused(container_mode, "run -dit --network container: nicolaka/netshoot")


def test_joining_a_stopped_container_is_refused_with_its_id(container_mode):
    pod_id = inspect(container_mode, "pod")["Id"]
    container_mode.docker("stop pod")
    message = refused(container_mode, "run -dit --name late --network container:pod nicolaka/netshoot")
    assert f"Error response from daemon: cannot join network of a non running container: {pod_id}" in message


@pytest.mark.xfail(strict=True, reason="known difference (README): the lab refuses before creating, so there is "
                                       "no Created container to list")
def test_joining_a_stopped_container_leaves_the_new_one_created(container_mode):
    """docker run = create, then start: only the start fails, so `ps -a` lists it as Created."""
    container_mode.docker("stop pod")
    refused(container_mode, "run -dit --name late --network container:pod nicolaka/netshoot")
    assert " Created " in ps_row(container_mode, "late")


def test_joiner_cannot_be_connected_to_another_network(container_mode):
    container_mode.docker("network create n1")
    assert refused(container_mode, "network connect n1 side", DaemonError) == (
        "Error response from daemon: container sharing network namespace with another container or host "
        "cannot be connected to any other network")


def test_owner_stop_leaves_the_joiner_only_lo(container_mode):
    container_mode.docker("stop pod")
    assert container_links(container_mode, "side") == ["lo"]


def test_owner_stop_removes_its_veth(container_mode):
    container_mode.docker("stop pod")
    veths = [name for name in host_links(container_mode) if name.startswith("veth")]
    assert len(veths) == 1  # b1's


def test_owner_rm_leaves_the_joiner_running_with_only_lo(container_mode):
    container_mode.docker("rm -f pod")
    assert " Up " in ps_row(container_mode, "side")
    assert container_links(container_mode, "side") == ["lo"]


def test_owner_rm_frees_its_address(container_mode):
    container_mode.docker("rm -f pod")
    container_mode.docker("run -dit --name c3 nicolaka/netshoot")
    assert addresses(container_mode, "c3") == {"eth0": f"{POD_IP}/16"}


# --- the same flags are fine outside container mode -------------------------------------------
def test_dns_flag_sets_the_nameserver_on_the_default_bridge(lab):
    lab.docker("run -dit --name c1 --dns 192.0.2.53 nicolaka/netshoot")
    lines = lab.docker("exec c1 cat /etc/resolv.conf").splitlines()
    assert [line for line in lines if line.startswith("nameserver")] == ["nameserver 192.0.2.53"]


def test_hostname_flag_names_the_container(lab):
    lab.docker("run -dit --name c1 --hostname web1 nicolaka/netshoot")
    assert lab.docker("exec c1 cat /etc/hostname") == "web1\n"
    assert inspect(lab, "c1")["Config"]["Hostname"] == "web1"
    assert f"{B1_IP}\tweb1" in lab.docker("exec c1 cat /etc/hosts").splitlines()


def test_mac_address_flag_sets_eth0s_mac(lab):
    lab.docker("run -dit --name c1 --mac-address 02:42:c0:00:02:99 nicolaka/netshoot")
    assert "link/ether 02:42:c0:00:02:99 " in lab.docker("exec c1 ip link show eth0")
    assert inspect(lab, "c1")["NetworkSettings"]["Networks"]["bridge"]["MacAddress"] == "02:42:c0:00:02:99"


# === macvlan =================================================================================
def test_macvlan_container_takes_the_first_address_of_the_ip_range(macvlan_mode):
    assert addresses(macvlan_mode, "mv1") == {"eth0": f"{MV_IP}/24"}


def test_macvlan_container_mac_is_02_42_and_its_ip(macvlan_mode):
    assert f"link/ether {MV_MAC} " in macvlan_mode.docker("exec mv1 ip link show eth0")


def test_macvlan_container_default_route_is_the_lan_gateway(macvlan_mode):
    routes = [r.strip() for r in macvlan_mode.docker("exec mv1 ip route").splitlines()]
    assert "default via 198.51.100.1 dev eth0" in routes


def test_macvlan_eth0_is_a_bridge_mode_macvlan(macvlan_mode):
    assert "macvlan mode bridge " in macvlan_mode.docker("exec mv1 ip -d link show eth0")


def test_macvlan_adds_no_bridge_or_veth_to_the_host(lab):
    lab.docker("ps")
    before = host_links(lab)
    lab.docker(f"{MACVLAN} mv")
    lab.docker("run -dit --name mv1 --network mv nicolaka/netshoot")
    assert host_links(lab) == before


def test_lan_client_learns_the_containers_mac_after_a_ping(macvlan_mode):
    assert reaches(macvlan_mode, "lan-client", MV_IP)
    neigh = macvlan_mode["lan-client"].run(f"ip neigh show {MV_IP}", timeout=5).stdout
    assert f"lladdr {MV_MAC} " in neigh


def test_internet_sees_the_macvlan_containers_own_address(macvlan_mode):
    assert curl(macvlan_mode, "mv1", f"http://{INTERNET_IP}/") == f"hello from internet\nyou came from {MV_IP}\n"


def test_lan_client_reaches_a_macvlan_nginx_directly(lab):
    lab.docker(f"{MACVLAN} mv")
    lab.docker("run -d --name mweb --network mv nginx")
    assert curl(lab, "lan-client", f"http://{MV_IP}/") == f"hello from mweb\nyou came from {LAN_CLIENT_IP}\n"


def test_host_cannot_reach_its_macvlan_container(macvlan_mode):
    assert not reaches(macvlan_mode, "docker-host", MV_IP)


def add_shim(lab) -> None:
    host = lab["docker-host"]
    host.add_macvlan("shim", "eth0", mode="bridge")
    host.add_address("shim", f"{SHIM_IP}/32")
    host.add_route("198.51.100.128/25", dev="shim")


def test_shim_lets_the_host_reach_its_macvlan_container(macvlan_mode):
    add_shim(macvlan_mode)
    assert reaches(macvlan_mode, "docker-host", MV_IP)


def test_with_the_shim_the_container_sees_the_shims_address(lab):
    lab.docker(f"{MACVLAN} mv")
    lab.docker("run -d --name mweb --network mv nginx")
    add_shim(lab)
    assert curl(lab, "docker-host", f"http://{MV_IP}/") == f"hello from mweb\nyou came from {SHIM_IP}\n"


def test_with_the_shim_a_bridge_container_reaches_it_too(macvlan_mode):
    add_shim(macvlan_mode)
    assert reaches(macvlan_mode, "b1", MV_IP)


def test_bridge_mode_macvlan_containers_reach_each_other(macvlan_mode):
    macvlan_mode.docker("run -dit --name mv2 --network mv nicolaka/netshoot")
    assert reaches(macvlan_mode, "mv1", "198.51.100.129")


def test_private_mode_blocks_container_to_container(lab):
    lab.docker(f"{MACVLAN} -o macvlan_mode=private mvp")
    lab.docker("run -dit --name p1 --network mvp nicolaka/netshoot")
    lab.docker("run -dit --name p2 --network mvp nicolaka/netshoot")
    assert not reaches(lab, "p1", "198.51.100.129")


def test_private_mode_containers_still_reach_the_lan(lab):
    lab.docker(f"{MACVLAN} -o macvlan_mode=private mvp")
    lab.docker("run -dit --name p1 --network mvp nicolaka/netshoot")
    assert reaches(lab, "p1", LAN_CLIENT_IP)
    assert "macvlan mode private " in lab.docker("exec p1 ip -d link show eth0")


def test_macvlan_mac_address_flag_sets_the_macvlans_mac(lab):
    lab.docker(f"{MACVLAN} mv")
    lab.docker("run -dit --name mv1 --network mv --mac-address 02:42:c0:00:02:99 nicolaka/netshoot")
    assert "link/ether 02:42:c0:00:02:99 " in lab.docker("exec mv1 ip link show eth0")


def test_macvlan_network_ls_shows_the_driver(macvlan_mode):
    rows = [line.split() for line in macvlan_mode.docker("network ls").splitlines()[1:]]
    assert {r[1]: r[2] for r in rows}["mv"] == "macvlan"


def test_macvlan_network_inspect_driver_and_parent(macvlan_mode):
    net = network_inspect(macvlan_mode, "mv")
    assert net["Driver"] == "macvlan"
    assert net["Options"] == {"parent": "eth0"}


def test_macvlan_network_inspect_shows_the_mode_when_given(lab):
    lab.docker(f"{MACVLAN} -o macvlan_mode=private mvp")
    assert network_inspect(lab, "mvp")["Options"] == {"parent": "eth0", "macvlan_mode": "private"}


def test_macvlan_network_inspect_ipam(macvlan_mode):
    assert network_inspect(macvlan_mode, "mv")["IPAM"]["Config"] == [
        {"Subnet": "198.51.100.0/24", "IPRange": "198.51.100.128/25", "Gateway": "198.51.100.1"}]


def test_macvlan_network_inspect_lists_the_container(macvlan_mode):
    cid = inspect(macvlan_mode, "mv1")["Id"]
    member = network_inspect(macvlan_mode, "mv")["Containers"][cid]
    assert member["Name"] == "mv1"
    assert member["IPv4Address"] == f"{MV_IP}/24" and member["MacAddress"] == MV_MAC


def test_macvlan_container_inspect(macvlan_mode):
    ctr = inspect(macvlan_mode, "mv1")
    assert ctr["HostConfig"]["NetworkMode"] == "mv"
    mv = ctr["NetworkSettings"]["Networks"]["mv"]
    assert (mv["IPAddress"], mv["IPPrefixLen"], mv["Gateway"], mv["MacAddress"]) == \
        (MV_IP, 24, "198.51.100.1", MV_MAC)


def test_macvlan_without_a_parent_is_refused_clearly(lab):
    message = refused(lab, "network create -d macvlan mv")
    assert "parent" in message
    assert "mv" not in [line.split()[1] for line in lab.docker("network ls").splitlines()[1:]]


def test_macvlan_unknown_parent_is_refused_as_docker_does(lab):
    """createVlanLink: a parent that does not exist and has no ".VID" is not a sub-interface name."""
    assert refused(lab, "network create -d macvlan -o parent=eth9 mv", DaemonError) == (
        "Error response from daemon: invalid subinterface vlan name eth9, example formatting is eth0.10")


def test_macvlan_unknown_vlan_parent_names_the_missing_interface(lab):
    assert refused(lab, "network create -d macvlan -o parent=eth9.50 mv", DaemonError) == \
        "Error response from daemon: -o parent interface was not found on the host: eth9"


def test_macvlan_bad_mode_is_refused(lab):
    assert refused(lab, "network create -d macvlan -o parent=eth0 -o macvlan_mode=bogus mv", DaemonError) == (
        "Error response from daemon: requested macvlan mode 'bogus' is not valid, 'bridge' mode is the "
        "macvlan driver default")


def test_macvlan_on_lo_is_refused(lab):
    assert refused(lab, "network create -d macvlan -o parent=lo mv", DaemonError) == \
        "Error response from daemon: loopback interface is not a valid macvlan parent link"


def test_macvlan_vlan_id_out_of_range_is_refused(lab):
    assert refused(lab, "network create -d macvlan -o parent=eth0.5000 mv", DaemonError) == \
        "Error response from daemon: vlan id must be between 1-4094, received: 5000"


def test_macvlan_vlan_parent_makes_an_8021q_sub_interface_when_the_kernel_can(lab, pair):
    a, _ = pair
    if vlan_capable(a):
        lab.docker("network create -d macvlan -o parent=eth0.50 mv50")
        details = lab["docker-host"].run("ip -d link show eth0.50", timeout=5).stdout
        assert "vlan protocol 802.1Q id 50 " in details
        assert network_inspect(lab, "mv50")["Options"] == {"parent": "eth0.50"}
    else:
        message = refused(lab, "network create -d macvlan -o parent=eth0.50 mv50")
        assert "802.1Q" in message
        assert "eth0.50" not in host_links(lab)
        assert "mv50" not in lab.docker("network ls")


def test_macvlan_network_rm_deletes_the_sub_interface_it_made(lab, pair):
    a, _ = pair
    if not vlan_capable(a):
        pytest.skip("this kernel cannot make 802.1Q sub-interfaces (no vlan link type)")
    lab.docker("network create -d macvlan -o parent=eth0.50 mv50")
    lab.docker("network rm mv50")
    assert "eth0.50" not in host_links(lab)


# === a refused command leaves the lab as it was ============================================
@pytest.fixture
def every_mode(lab):
    """b1; iso (none); hn (host); pod + side (container:pod); mv network with mv1."""
    lab.docker("run -dit --name b1 nicolaka/netshoot")
    lab.docker("run -dit --name iso --network none nicolaka/netshoot")
    lab.docker("run -dit --name hn --network host nicolaka/netshoot")
    lab.docker("run -d --name pod nginx")
    lab.docker("run -dit --name side --network container:pod nicolaka/netshoot")
    lab.docker(f"{MACVLAN} mv")
    lab.docker("run -dit --name mv1 --network mv nicolaka/netshoot")
    return lab


REFUSED = [
    "run -dit --name x1 --network none --ip 172.17.0.9 nicolaka/netshoot",
    "run -dit --name x1 --network none --network-alias db nicolaka/netshoot",
    "run -dit --name x1 --network host --ip 172.17.0.9 nicolaka/netshoot",
    "run -dit --name x1 --network container:pod -p 8080:80 nicolaka/netshoot",
    "run -dit --name x1 --network container:pod --dns 192.0.2.53 nicolaka/netshoot",
    "run -dit --name x1 --network container:pod -h web nicolaka/netshoot",
    "run -dit --name x1 --network container:pod --mac-address 02:42:c0:00:02:99 nicolaka/netshoot",
    "run -dit --name x1 --network mv --ip 10.9.9.9 nicolaka/netshoot",
    "network create -d macvlan -o parent=eth0 -o macvlan_mode=bogus mv2",
    "network create -d macvlan -o parent=eth9.50 mv2",
    "network create -d macvlan mv2",
    "network connect bridge iso",
    "network connect bridge hn",
    "network connect bridge side",
    "network connect host b1",
    "network connect none b1",
    "network disconnect host hn",
]


@pytest.mark.parametrize("command", REFUSED)
def test_refused_command_in_a_mode_changes_nothing(every_mode, command):
    before = state(every_mode)
    with pytest.raises(DockerError):
        every_mode.docker(command)
    assert state(every_mode) == before


def test_host_mode_config_hostname_is_the_hosts(lab):
    """A host-mode container has the host's hostname (the lab writes each host's /etc/hostname)."""
    lab.docker("run -dit --name h1 --network host nicolaka/netshoot")
    assert lab.docker("inspect -f '{{.Config.Hostname}}' h1") == "docker-host\n"
    assert lab.docker("exec h1 cat /etc/hostname") == "docker-host\n"


def test_publish_on_a_port_a_host_program_holds_says_what_docker_27_says(lab):
    lab.docker_host(version="27")  # 29's dockerd binds the port itself: "failed to bind host port ..."
    lab.docker("run -d --name h1 --network host nginx")  # port 80 of the host, outside Docker's port map
    with pytest.raises(DockerError) as refusal:
        lab.docker("run -d --name b3 -p 80:80 nginx")
    assert ("Error starting userland proxy: listen tcp4 0.0.0.0:80: bind: address already in use"
            in str(refusal.value))
    assert "b3" not in {n.name for n in lab.nodes()}


def test_joining_a_joiner_shares_the_same_namespace_even_after_the_owner_is_gone(lab):
    lab.docker("run -dit --name pod -p 8080:80 nicolaka/netshoot")
    lab.docker("run -dit --name side --network container:pod nicolaka/netshoot")
    lab.docker("rm -f pod")
    lab.docker("run -dit --name side2 --network container:side nicolaka/netshoot")
    assert lab.docker("exec side2 ip -br addr") == lab.docker("exec side ip -br addr")
    assert lab.docker("inspect -f '{{.HostConfig.NetworkMode}}' side2").startswith("container:")
