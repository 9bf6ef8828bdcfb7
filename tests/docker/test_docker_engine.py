"""The Docker-syntax engine (``lab.docker(...)``) against Docker 27, command by command.

Every test builds a fresh lab with real network namespaces: the default Docker
host "docker-host" (198.51.100.10) on the LAN 198.51.100.0/24, with "router",
"lan-client" (198.51.100.20) and "internet" (203.0.113.10, a web server on port 80
that answers "hello from internet / you came from <client>"). Expected behaviour:
/work/shared/FACTS.md (Bridge section) and Docker 27's CLI and daemon.

Everything that touches the network is bounded: ping -c1 -W1, curl --max-time 3,
dig +time=1 +tries=1.
"""

from __future__ import annotations

import ipaddress
import json
import re
import sys
import time

import pytest

from nethelpers.docker import DaemonError, DockerError, UsageError
from nethelpers.errors import InvalidValue

HOST_IP = "198.51.100.10"
HOST2_IP = "198.51.100.11"
LAN_CLIENT_IP = "198.51.100.20"
INTERNET_IP = "203.0.113.10"
CURL = "curl -s --max-time 3"
DIG = "dig +time=1 +tries=1"


# --- helpers ------------------------------------------------------------------------------
def refused(lab, command, error=DockerError, host=None) -> str:
    """The message of a docker command that must fail with ``error``."""
    with pytest.raises(error) as caught:
        lab.docker(command, host=host)
    return str(caught.value)


def host_run(lab, command: str, node: str = "docker-host"):
    return lab[node].run(command, timeout=15)


def curl(lab, url: str, node: str = "lan-client") -> str:
    """What a node gets from ``url`` ("" when it cannot connect)."""
    return host_run(lab, f"{CURL} {url}", node).stdout


def curl_from(lab, container: str, url: str) -> str:
    return lab.docker(f"exec {container} {CURL} {url}")


def pings(lab, container: str, address: str) -> bool:
    return lab.docker(f"exec {container} ping -c1 -W1 {address}").exit_code == 0


def inspect(lab, ref: str) -> dict:
    return json.loads(lab.docker(f"inspect {ref}"))[0]


def network_inspect(lab, ref: str) -> dict:
    return json.loads(lab.docker(f"network inspect {ref}"))[0]


def ip_of(lab, container: str, network: str = "bridge") -> str:
    return inspect(lab, container)["NetworkSettings"]["Networks"][network]["IPAddress"]


def subnet_of(lab, network: str) -> str:
    return network_inspect(lab, network)["IPAM"]["Config"][0]["Subnet"]


def addresses(lab, container: str) -> dict[str, str]:
    """{ifname: "ip/len"} inside a container (``ip -br -4 addr``), loopback left out."""
    found = {}
    for line in lab.docker(f"exec {container} ip -br -4 addr").splitlines():
        name, _, *cidrs = line.split()
        if name != "lo" and cidrs:
            found[name.split("@")[0]] = cidrs[0]
    return found


def host_links(lab, node: str = "docker-host") -> list[str]:
    """Interface names on the Docker host (without the @peer suffix)."""
    return [line.split()[0].split("@")[0] for line in host_run(lab, "ip -br link", node).stdout.splitlines()]


def dig(lab, container: str, args: str) -> str:
    return lab.docker(f"exec {container} {DIG} {args} @127.0.0.11")


def resolves(lab, container: str, name: str) -> list[str]:
    """The A records the embedded DNS gives ``container`` for ``name``."""
    return dig(lab, container, f"+short {name}").split()


def status_of(lab, container: str, name: str) -> str:
    header = dig(lab, container, f"+noall +comments {name}")
    return re.search(r"status: (\w+)", header).group(1)


def wait_exited(lab, container: str, seconds: float = 10) -> None:
    """Wait until the container's main command has ended (as `docker wait` does)."""
    deadline = time.monotonic() + seconds
    while lab.docker(f"inspect -f '{{{{.State.Running}}}}' {container}").strip() != "false":
        assert time.monotonic() < deadline, f"{container} still running after {seconds} s"
        time.sleep(0.1)


def ps_names(text: str) -> list[str]:
    """The NAMES column of a `docker ps` table, top to bottom."""
    return [line.split()[-1] for line in text.splitlines()[1:]]


UDP_ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
while True:
    data, peer = s.recvfrom(512)
    s.sendto(data + b" seen from " + peer[0].encode(), peer)
"""

UDP_CLIENT = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.5)
for _ in range(10):  # the echo server may still be starting
    s.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))
    try:
        print(s.recvfrom(512)[0].decode())
        break
    except socket.timeout:
        pass
"""


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture
def web(lab):
    """nginx "web" publishing 8080:80 on the default bridge (172.17.0.2), and netshoot c1 (.3), on
    Docker 27 (whose MACs are 02:42 + the address; Docker 29's: tests/docker/test_docker_iptables_29.py)."""
    lab.docker_host(version="27")
    lab.docker("run -d --name web -p 8080:80 nginx")
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    return lab


@pytest.fixture
def proxyless(lab):
    """The same as ``web`` on a host started as ``dockerd --userland-proxy=false``."""
    lab.docker_host(userland_proxy=False)
    lab.docker("run -d --name web -p 8080:80 nginx")
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    return lab


@pytest.fixture
def two_networks(lab):
    """User networks n1 (c1, c2 alias "db") and n2 (c3), and c4 on the default bridge."""
    lab.docker("network create n1")
    lab.docker("network create n2")
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    lab.docker("run -dit --name c2 --network n1 --network-alias db nicolaka/netshoot")
    lab.docker("run -dit --name c3 --network n2 nicolaka/netshoot")
    lab.docker("run -dit --name c4 nicolaka/netshoot")
    return lab


# === the default bridge ===================================================================
def test_docker0_is_172_17_0_1_16(lab):
    lab.docker("ps")
    out = host_run(lab, "ip -br -4 addr show docker0").stdout.split()
    assert out[0] == "docker0" and out[2] == "172.17.0.1/16"


def test_containers_get_172_17_0_2_then_3(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    lab.docker("run -dit --name c2 nicolaka/netshoot")
    assert ip_of(lab, "c1") == "172.17.0.2"
    assert ip_of(lab, "c2") == "172.17.0.3"


def test_container_side_is_eth0_with_its_address(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert addresses(lab, "c1") == {"eth0": "172.17.0.2/16"}


def test_container_mac_is_02_42_then_the_ip_bytes(lab):
    lab.docker_host(version="27")  # GenerateMACFromIP (28+ draw MACs at random)
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    lab.docker("run -dit --name c2 nicolaka/netshoot")
    assert "link/ether 02:42:ac:11:00:02 " in lab.docker("exec c1 ip link show eth0")
    assert "link/ether 02:42:ac:11:00:03 " in lab.docker("exec c2 ip link show eth0")


def test_host_end_is_veth_and_7_hex_enslaved_to_docker0(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    veths = [name for name in host_links(lab) if name.startswith("veth")]
    assert len(veths) == 1 and re.fullmatch(r"veth[0-9a-f]{7}", veths[0])
    details = host_run(lab, f"ip -d link show {veths[0]}").stdout
    assert "master docker0" in details and "\n    veth" in details
    assert "link-netns c1" in details


def test_each_container_adds_one_veth_to_docker0(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    lab.docker("run -dit --name c2 nicolaka/netshoot")
    enslaved = host_run(lab, "ip -br link show master docker0").stdout.splitlines()
    assert len(enslaved) == 2


def test_container_default_route_is_via_172_17_0_1(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    routes = lab.docker("exec c1 ip route").splitlines()
    assert "default via 172.17.0.1 dev eth0" in [r.strip() for r in routes]


def test_docker_host_turns_on_ip_forward(lab):
    lab.docker("ps")
    assert lab["docker-host"].sysctl("net.ipv4.ip_forward") == "1"


def test_freed_address_is_reused_lowest_first(lab):
    for name in ("c1", "c2", "c3"):
        lab.docker(f"run -dit --name {name} nicolaka/netshoot")
    lab.docker("rm -f c2")
    lab.docker("run -dit --name c4 nicolaka/netshoot")
    assert ip_of(lab, "c4") == "172.17.0.3"


def test_exited_container_gives_its_address_back(lab):
    """A stopped container has no endpoint any more (Docker releases the sandbox)."""
    lab.docker("run -d --name gone nicolaka/netshoot")  # sh without a terminal exits at once
    wait_exited(lab, "gone")
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert inspect(lab, "gone")["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] == ""
    assert ip_of(lab, "c1") == "172.17.0.2"


# === address pools ===========================================================================
def test_user_networks_take_172_18_then_172_19_then_172_20(lab):
    for name in ("n1", "n2", "n3"):
        lab.docker(f"network create {name}")
    assert [subnet_of(lab, n) for n in ("n1", "n2", "n3")] == [
        "172.18.0.0/16", "172.19.0.0/16", "172.20.0.0/16"]
    assert network_inspect(lab, "n1")["IPAM"]["Config"][0]["Gateway"] == "172.18.0.1"


def test_default_pool_skips_a_subnet_already_taken(lab):
    lab.docker("network create --subnet 172.18.0.0/16 mine")
    lab.docker("network create n2")
    assert subnet_of(lab, "n2") == "172.19.0.0/16"


def test_user_network_bridge_has_the_gateway_and_first_container_gets_dot_2(lab):
    lab.docker_host(version="27")  # its MAC assertion is 27's GenerateMACFromIP
    net_id = lab.docker("network create n1").strip()
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    bridge = "br-" + net_id[:12]
    assert host_run(lab, f"ip -br -4 addr show {bridge}").stdout.split()[2] == "172.18.0.1/16"
    assert addresses(lab, "c1") == {"eth0": "172.18.0.2/16"}
    assert "link/ether 02:42:ac:12:00:02 " in lab.docker("exec c1 ip link show eth0")


def test_subnet_and_gateway_are_honoured(lab):
    lab.docker("network create --subnet 10.10.0.0/24 --gateway 10.10.0.254 n1")
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    assert network_inspect(lab, "n1")["IPAM"]["Config"] == [{"Subnet": "10.10.0.0/24", "Gateway": "10.10.0.254"}]
    assert addresses(lab, "c1") == {"eth0": "10.10.0.1/24"}
    assert "default via 10.10.0.254 dev eth0" in lab.docker("exec c1 ip route")
    assert pings(lab, "c1", "10.10.0.254")


def test_ip_range_gives_containers_addresses_from_the_range(lab):
    lab.docker("network create --subnet 10.10.0.0/24 --ip-range 10.10.0.128/25 n1")
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    lab.docker("run -dit --name c2 --network n1 nicolaka/netshoot")
    config = network_inspect(lab, "n1")["IPAM"]["Config"][0]
    # the gateway too comes from the range (tests/cnm/test_ipam_ranges.py)
    assert config["IPRange"] == "10.10.0.128/25" and config["Gateway"] == "10.10.0.128"
    ips = [ipaddress.ip_address(ip_of(lab, c, "n1")) for c in ("c1", "c2")]
    assert all(ip in ipaddress.ip_network("10.10.0.128/25") for ip in ips)
    assert ips[0] != ips[1]


def test_overlapping_subnet_is_refused(lab):
    lab.docker("network create n1")  # 172.18.0.0/16
    message = refused(lab, "network create --subnet 172.18.5.0/24 n2", DaemonError)
    assert message == ("Error response from daemon: invalid pool request: "
                       "Pool overlaps with other one on this address space")


def test_subnet_overlapping_docker0_is_refused(lab):
    assert "Pool overlaps" in refused(lab, "network create --subnet 172.17.0.0/24 n1", DaemonError)


def test_duplicate_network_name_is_refused(lab):
    lab.docker("network create n1")
    assert refused(lab, "network create n1", DaemonError) == \
        "Error response from daemon: network with name n1 already exists"


def test_bridge_name_option_names_the_bridge(lab):
    lab.docker("network create -o com.docker.network.bridge.name=foo n1")
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    assert "foo" in host_links(lab)
    assert len(host_run(lab, "ip -br link show master foo").stdout.splitlines()) == 1
    assert network_inspect(lab, "n1")["Options"]["com.docker.network.bridge.name"] == "foo"


def test_default_bridge_name_is_br_and_12_hex_of_the_network_id(lab):
    net_id = lab.docker("network create n1").strip()
    assert re.fullmatch(r"[0-9a-f]{64}", net_id)
    bridges = [name for name in host_links(lab) if name.startswith("br-")]
    assert bridges == ["br-" + net_id[:12]]


def test_bad_subnet_is_refused(lab):
    assert "bogus" in refused(lab, "network create --subnet bogus n1", DaemonError)


def test_gateway_outside_the_subnet_is_refused(lab):
    # docker/cli create.go consolidateIpam refuses it before the daemon
    assert refused(lab, "network create --subnet 10.10.0.0/24 --gateway 10.20.0.1 n1", UsageError) == \
        "no matching subnet for gateway 10.20.0.1"
    assert "n1" not in lab.docker("network ls")


def test_driver_option_without_a_value_is_an_empty_value_and_unknown_to_the_bridge_driver(lab):
    assert "does not support the option 'foo'" in refused(lab, "network create -o foo n1", DockerError)


def test_unsupported_driver_is_refused_clearly(lab):
    assert "-o parent=" in refused(lab, "network create -d ipvlan n1")  # the lab's ipvlan needs its parent
    assert refused(lab, "network create -d frob n1", DaemonError) == 'Error response from daemon: plugin "frob" not found'


# === network ls / inspect / rm ===============================================================
def test_network_ls_has_a_header_and_is_sorted_by_name(lab):
    lab.docker("network create zeta")
    lab.docker("network create alpha")
    lines = lab.docker("network ls").splitlines()
    assert lines[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    rows = [line.split() for line in lines[1:]]
    assert [r[1] for r in rows] == ["alpha", "bridge", "host", "none", "zeta"]
    assert {r[1]: r[2] for r in rows} == {"alpha": "bridge", "bridge": "bridge", "host": "host",
                                          "none": "null", "zeta": "bridge"}
    assert all(re.fullmatch(r"[0-9a-f]{12}", r[0]) and r[3] == "local" for r in rows)


def test_network_ls_quiet_prints_short_ids(lab):
    net_id = lab.docker("network create n1").strip()
    ids = lab.docker("network ls -q").split()
    assert len(ids) == 4 and net_id[:12] in ids


def test_network_inspect_json_shape(lab):
    lab.docker_host(version="27")  # its MAC assertion is 27's GenerateMACFromIP
    net_id = lab.docker("network create --internal n1").strip()
    cid = lab.docker("run -d --name c1 --network n1 -it nicolaka/netshoot").strip()
    net = network_inspect(lab, "n1")
    assert net["Name"] == "n1" and net["Id"] == net_id and net["Driver"] == "bridge"
    assert net["IPAM"]["Config"] == [{"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"}]
    assert net["Internal"] is True
    assert net["Containers"][cid]["Name"] == "c1"
    assert net["Containers"][cid]["IPv4Address"] == "172.18.0.2/16"
    assert net["Containers"][cid]["MacAddress"] == "02:42:ac:12:00:02"


def test_network_inspect_default_bridge(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    net = network_inspect(lab, "bridge")
    assert net["Internal"] is False
    assert net["IPAM"]["Config"] == [{"Subnet": "172.17.0.0/16", "Gateway": "172.17.0.1"}]
    assert net["Options"]["com.docker.network.bridge.name"] == "docker0"
    assert [c["IPv4Address"] for c in net["Containers"].values()] == ["172.17.0.2/16"]


def test_network_inspect_by_id_prefix_and_format(lab):
    net_id = lab.docker("network create n1").strip()
    assert lab.docker(f"network inspect -f '{{{{.Name}}}}' {net_id[:6]}") == "n1\n"


def test_network_inspect_unknown_network(lab):
    assert refused(lab, "network inspect nosuch", DaemonError) == \
        "Error response from daemon: network nosuch not found"


def test_network_rm_is_refused_while_a_container_is_attached(lab):
    lab.docker("network create n1")
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    message = refused(lab, "network rm n1", DaemonError)
    assert message.startswith("Error response from daemon: error while removing network: network n1 id ")
    assert message.endswith("has active endpoints")


@pytest.mark.parametrize("name", ["bridge", "host", "none"])
def test_network_rm_of_a_predefined_network_is_refused(lab, name):
    assert refused(lab, f"network rm {name}", DaemonError) == \
        f"Error response from daemon: {name} is a pre-defined network and cannot be removed"


def test_network_rm_after_the_container_is_gone_removes_the_bridge(lab):
    net_id = lab.docker("network create n1").strip()
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    lab.docker("rm -f c1")
    assert lab.docker("network rm n1") == "n1\n"
    assert "br-" + net_id[:12] not in host_links(lab)
    assert "n1" not in lab.docker("network ls")


def test_network_rm_frees_the_pool(lab):
    lab.docker("network create n1")
    lab.docker("network rm n1")
    lab.docker("network create n2")
    assert subnet_of(lab, "n2") == "172.18.0.0/16"


def test_network_rm_unknown_network(lab):
    assert refused(lab, "network rm nosuch", DaemonError) == \
        "Error response from daemon: network nosuch not found"


# === docker run: flags =======================================================================
def test_run_detached_prints_the_64_hex_id(lab):
    out = lab.docker("run -d --name c1 -i nicolaka/netshoot")
    assert re.fullmatch(r"[0-9a-f]{64}\n", out)
    assert inspect(lab, "c1")["Id"] == out.strip()
    assert out.exit_code == 0


def test_run_name_names_the_container(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert inspect(lab, "c1")["Name"] == "/c1"
    assert ps_names(lab.docker("ps")) == ["c1"]


def test_run_without_name_gets_a_docker_style_name(lab):
    lab.docker("run -dit nicolaka/netshoot")
    [name] = ps_names(lab.docker("ps"))
    assert re.fullmatch(r"[a-z]+_[a-z]+", name)


@pytest.mark.parametrize("flag", ["--network n1", "--net n1", "--network=n1", "--net=n1"])
def test_run_network_flag_and_its_net_alias(lab, flag):
    lab.docker("network create n1")
    lab.docker(f"run -dit --name c1 {flag} nicolaka/netshoot")
    assert list(inspect(lab, "c1")["NetworkSettings"]["Networks"]) == ["n1"]
    assert addresses(lab, "c1") == {"eth0": "172.18.0.2/16"}


def test_run_on_an_unknown_network_is_refused(lab):
    message = refused(lab, "run --network nosuch nicolaka/netshoot")
    assert "Error response from daemon: network nosuch not found" in message
    assert lab.docker("ps -a -q") == ""


def test_publish_host_port_to_container_port(lab):
    lab.docker("run -d --name web -p 8080:80 nginx")
    assert lab.docker("port web") == "80/tcp -> 0.0.0.0:8080\n"
    assert curl(lab, f"http://{HOST_IP}:8080/").startswith("hello from web\n")


def test_publish_udp_port(lab):
    lab.docker("run -dit --name dns -p 5353:53/udp nicolaka/netshoot")
    assert lab.docker("port dns") == "53/udp -> 0.0.0.0:5353\n"
    lab.docker(["exec", "-d", "dns", sys.executable, "-c", UDP_ECHO])
    reply = lab["lan-client"].run([sys.executable, "-c", UDP_CLIENT, HOST_IP, "5353"], timeout=15).stdout
    assert reply.strip() == f"ping seen from {LAN_CLIENT_IP}"


def test_publish_on_one_host_address_only(lab):
    lab.docker("run -d --name web -p 127.0.0.1:9090:80 nginx")
    assert lab.docker("port web") == "80/tcp -> 127.0.0.1:9090\n"
    assert curl(lab, "http://127.0.0.1:9090/", "docker-host").startswith("hello from web\n")
    assert curl(lab, f"http://{HOST_IP}:9090/") == ""  # not on the LAN address


def test_publish_container_port_only_picks_a_host_port_from_32768(lab):
    lab.docker("run -d --name web -p 80 nginx")
    lab.docker("run -dit --name c2 -p 80 nicolaka/netshoot")
    assert lab.docker("port web") == "80/tcp -> 0.0.0.0:32768\n"
    assert lab.docker("port c2") == "80/tcp -> 0.0.0.0:32769\n"
    assert curl(lab, f"http://{HOST_IP}:32768/").startswith("hello from web\n")


def test_ip_on_a_user_network_with_a_subnet(lab):
    lab.docker_host(version="27")  # its MAC assertion is 27's GenerateMACFromIP
    lab.docker("network create --subnet 10.5.0.0/24 n1")
    lab.docker("run -dit --name c1 --network n1 --ip 10.5.0.9 nicolaka/netshoot")
    assert addresses(lab, "c1") == {"eth0": "10.5.0.9/24"}
    net = inspect(lab, "c1")["NetworkSettings"]["Networks"]["n1"]
    assert net["IPAMConfig"] == {"IPv4Address": "10.5.0.9"}
    assert net["MacAddress"] == "02:42:0a:05:00:09"


def test_ip_on_the_default_bridge_is_refused(lab):
    message = refused(lab, "run -dit --ip 172.17.0.50 nicolaka/netshoot")
    assert "Error response from daemon: user specified IP address is supported on user defined networks only" \
        in message


def test_ip_on_a_network_without_subnet_is_refused(lab):
    lab.docker("network create n1")
    assert "user specified IP address is supported only when connecting to networks with user configured " \
           "subnets" in refused(lab, "run -dit --network n1 --ip 172.18.0.9 nicolaka/netshoot")


def test_ip_already_in_use_is_refused(lab):
    lab.docker("network create --subnet 10.5.0.0/24 n1")
    lab.docker("run -dit --name c1 --network n1 --ip 10.5.0.9 nicolaka/netshoot")
    assert "Address already in use" in refused(lab, "run -dit --name c2 --network n1 --ip 10.5.0.9 nicolaka/netshoot")
    assert "Address already in use" in refused(lab, "run -dit --name c3 --network n1 --ip 10.5.0.1 nicolaka/netshoot")


def test_ip_outside_the_subnet_is_refused(lab):
    lab.docker("network create --subnet 10.5.0.0/24 n1")
    assert "no configured subnet or ip-range contain the IP address 10.9.0.1" in \
        refused(lab, "run -dit --network n1 --ip 10.9.0.1 nicolaka/netshoot")


def test_rm_flag_returns_the_output_and_removes_the_container(lab):
    out = lab.docker("run --rm nicolaka/netshoot echo hello")
    assert out == "hello\n" and out.exit_code == 0
    assert lab.docker("ps -a -q") == ""
    assert [n.name for n in lab.nodes()] == ["router", "lan-client", "internet", "docker-host"]


def test_command_after_the_image_runs_in_the_container(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")  # takes .2
    out = lab.docker("run --rm nicolaka/netshoot ip -br -4 addr")
    assert re.search(r"^eth0@\S+\s+UP\s+172\.17\.0\.3/16", out, re.M)


def test_foreground_run_returns_the_containers_exit_code(lab):
    out = lab.docker(["run", "--rm", "nicolaka/netshoot", "sh", "-c", "echo bye; exit 5"])
    assert out == "bye\n"
    assert out.exit_code == 5


def test_foreground_run_without_rm_leaves_an_exited_container(lab):
    lab.docker(["run", "--name", "fg", "nicolaka/netshoot", "sh", "-c", "exit 3"])
    state = inspect(lab, "fg")["State"]
    assert state["Running"] is False and state["ExitCode"] == 3
    assert "Exited (3)" in lab.docker("ps -a")


def test_detached_rm_container_is_removed_when_it_exits(lab):
    lab.docker("run -d --rm --name brief nicolaka/netshoot")
    deadline = time.monotonic() + 10
    while "brief" in lab.docker("ps -a"):
        assert time.monotonic() < deadline, "--rm container still listed"
        time.sleep(0.1)
    assert "brief" not in [n.name for n in lab.nodes()]


def test_env_flag_sets_the_variable(lab):
    out = lab.docker(["run", "--rm", "-e", "GREETING=hi there", "--env=X=1", "nicolaka/netshoot", "sh", "-c",
                      "echo $GREETING $X"])
    assert out == "hi there 1\n"


def test_network_alias_on_the_default_bridge_is_refused(lab):
    assert "network-scoped alias is supported only for containers in user defined networks" in \
        refused(lab, "run -dit --network-alias db nicolaka/netshoot")


def test_unknown_image(lab):
    message = refused(lab, "run nosuchimage")
    assert message.startswith("Unable to find image 'nosuchimage:latest' locally\n")
    assert "pull access denied for nosuchimage, repository does not exist or may require 'docker login'" \
        in message


def test_container_name_conflict(lab):
    cid = lab.docker("run -dit --name c1 nicolaka/netshoot").strip()
    message = refused(lab, "run -dit --name c1 nicolaka/netshoot")
    assert (f'Error response from daemon: Conflict. The container name "/c1" is already in use by container '
            f'"{cid}". You have to remove (or rename) that container to be able to reuse that name.') in message


def test_invalid_container_name_is_a_docker_error(lab):
    message = refused(lab, ["run", "--name", "bad name", "nicolaka/netshoot"])
    assert "Invalid container name (bad name)" in message


def test_interactive_foreground_run_is_refused_clearly(lab):
    assert "-d" in refused(lab, "run -it nicolaka/netshoot")


def test_two_nginx_containers_start_back_to_back(lab):
    lab.docker("run -d --name web1 nginx")
    lab.docker("run -d --name web2 nginx")
    assert curl_from(lab, "web1", "http://172.17.0.3/").startswith("hello from web2\n")


def test_container_etc_hostname_is_its_short_id(lab):
    cid = lab.docker("run -dit --name c1 nicolaka/netshoot").strip()
    assert lab.docker("exec c1 cat /etc/hostname") == cid[:12] + "\n"
    assert f"172.17.0.2\t{cid[:12]}" in lab.docker("exec c1 cat /etc/hosts").splitlines()


@pytest.mark.parametrize("alias, command", [("container ls", "ps"), ("container rm -f c1", "rm -f c1"),
                                            ("container inspect c1", "inspect c1")])
def test_container_subcommands_are_aliases(lab, alias, command):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    expected = lab.docker(command) if command != "rm -f c1" else "c1\n"
    assert lab.docker(alias) == expected


# === exec ====================================================================================
def test_exec_returns_output_and_exit_code(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    out = lab.docker(["exec", "c1", "sh", "-c", "echo hi; exit 3"])
    assert out == "hi\n" and out.exit_code == 3
    assert lab.docker("exec c1 true").exit_code == 0


def test_exec_env_flag(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert lab.docker(["exec", "-e", "A=1", "c1", "sh", "-c", "echo $A"]) == "1\n"


def test_exec_runs_in_the_containers_namespace(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert addresses(lab, "c1") == {"eth0": "172.17.0.2/16"}


def test_exec_into_a_stopped_container_is_refused(lab):
    cid = lab.docker("run -d --name s1 nicolaka/netshoot").strip()
    wait_exited(lab, "s1")
    assert refused(lab, "exec s1 true", DaemonError) == \
        f"Error response from daemon: container {cid} is not running"


def test_exec_into_an_unknown_container(lab):
    assert refused(lab, "exec nosuch true", DaemonError) == "Error response from daemon: No such container: nosuch"


def test_exec_needs_a_container_and_a_command(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert refused(lab, "exec c1", UsageError).startswith('"docker exec" requires at least 2 arguments.')


# === rm ======================================================================================
def test_rm_of_a_running_container_is_refused(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    message = refused(lab, "rm c1", DaemonError)
    assert message.startswith('Error response from daemon: cannot remove container "/c1": container is running')
    assert ps_names(lab.docker("ps")) == ["c1"]


def test_rm_of_a_stopped_container_needs_no_force(lab):
    lab.docker("run -d --name s1 nicolaka/netshoot")
    wait_exited(lab, "s1")
    assert lab.docker("rm s1") == "s1\n"
    assert lab.docker("ps -a -q") == ""


def test_rm_force_removes_the_node_and_its_veth(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert any(name.startswith("veth") for name in host_links(lab))
    assert lab.docker("rm -f c1") == "c1\n"
    assert "c1" not in [n.name for n in lab.nodes()]
    assert not any(name.startswith("veth") for name in host_links(lab))
    assert network_inspect(lab, "bridge")["Containers"] == {}


def test_rm_several_containers_prints_each(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    lab.docker("run -dit --name c2 nicolaka/netshoot")
    assert lab.docker("rm -f c1 c2") == "c1\nc2\n"


def test_rm_by_short_id(lab):
    cid = lab.docker("run -dit --name c1 nicolaka/netshoot").strip()
    assert lab.docker(f"rm -f {cid[:12]}") == f"{cid[:12]}\n"
    assert lab.docker("ps -a -q") == ""


def test_rm_of_an_unknown_container(lab):
    assert refused(lab, "rm nosuch", DaemonError) == "Error response from daemon: No such container: nosuch"


def test_rm_force_frees_the_published_port(web):
    web.docker("rm -f web")
    assert curl(web, f"http://{HOST_IP}:8080/") == ""
    web.docker("run -dit --name c2 -p 8080:80 nicolaka/netshoot")
    assert web.docker("port c2") == "80/tcp -> 0.0.0.0:8080\n"


# === inspect =================================================================================
def test_inspect_network_settings(web):
    settings = inspect(web, "web")["NetworkSettings"]
    assert settings["IPAddress"] == "172.17.0.2"
    assert settings["IPPrefixLen"] == 16
    assert settings["MacAddress"] == "02:42:ac:11:00:02"
    assert settings["Gateway"] == "172.17.0.1"
    assert list(settings["Networks"]) == ["bridge"]
    assert settings["Networks"]["bridge"]["IPAddress"] == "172.17.0.2"
    assert settings["Networks"]["bridge"]["NetworkID"] == network_inspect(web, "bridge")["Id"]
    assert settings["Ports"]["80/tcp"][0] == {"HostIp": "0.0.0.0", "HostPort": "8080"}


def test_inspect_container_on_a_user_network_has_empty_legacy_fields(lab):
    lab.docker_host(version="27")  # API 1.52 (Docker 29) has no legacy NetworkSettings fields
    lab.docker("network create n1")
    lab.docker("run -dit --name c1 --network n1 --network-alias db nicolaka/netshoot")
    c1 = inspect(lab, "c1")
    settings = c1["NetworkSettings"]
    assert settings["IPAddress"] == "" and settings["Gateway"] == "" and settings["MacAddress"] == ""
    n1 = settings["Networks"]["n1"]
    assert n1["IPAddress"] == "172.18.0.2" and n1["Gateway"] == "172.18.0.1"
    assert n1["Aliases"] == ["db"]
    assert n1["DNSNames"] == ["c1", "db", c1["Id"][:12]]


def test_inspect_format_ip_address(web):
    assert web.docker("inspect -f '{{.NetworkSettings.IPAddress}}' web") == "172.17.0.2\n"


def test_inspect_format_range_over_networks(lab):
    lab.docker("network create n1")
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    out = lab.docker("inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' c1")
    assert out == "172.18.0.2\n"


def test_inspect_format_json_ports_is_compact_json(web):
    out = web.docker("inspect -f '{{json .NetworkSettings.Ports}}' web")
    ports = json.loads(out)
    assert ports["80/tcp"][0] == {"HostIp": "0.0.0.0", "HostPort": "8080"}
    assert out == json.dumps(ports, separators=(",", ":")) + "\n"  # Go's json: no spaces


def test_inspect_format_json_of_a_string(web):
    assert web.docker("inspect -f '{{json .Name}}' web") == '"/web"\n'


def test_inspect_several_objects(web):
    objects = json.loads(web.docker("inspect web c1"))
    assert [o["Name"] for o in objects] == ["/web", "/c1"]


def test_inspect_unknown_object(lab):
    assert refused(lab, "inspect nosuch") == "Error: No such object: nosuch"


def test_inspect_finds_networks_too(lab):
    lab.docker("network create n1")
    assert lab.docker("inspect -f '{{.Driver}}' n1") == "bridge\n"


# === port ====================================================================================
def test_port_lists_every_mapping(lab):
    lab.docker("run -d --name web -p 8080:80 -p 127.0.0.1:9090:443 nginx")
    assert sorted(lab.docker("port web").splitlines()) == [
        "443/tcp -> 127.0.0.1:9090", "80/tcp -> 0.0.0.0:8080"]


def test_port_of_one_private_port(web):
    assert web.docker("port web 80") == "0.0.0.0:8080\n"  # port.go runPort: the frontends only
    assert web.docker("port web 80/tcp") == "0.0.0.0:8080\n"


def test_port_without_proto_means_tcp(lab):
    lab.docker("run -dit --name dns -p 5353:53/udp nicolaka/netshoot")
    assert lab.docker("port dns 53/udp") == "0.0.0.0:5353\n"
    # Docker 29's CLI (port.go at v29.7.2): "no public port ..."; 27's: "Error: No public port ..."
    assert refused(lab, "port dns 53") == "no public port '53' published for dns"


def test_port_not_published(web):
    assert refused(web, "port web 81") == "Error: No public port '81' published for web"


def test_port_of_a_container_without_ports_prints_nothing(web):
    assert web.docker("port c1") == ""


# === ps ======================================================================================
def test_ps_table_header_and_running_containers(web):
    lines = web.docker("ps").splitlines()
    assert re.split(r"\s{3,}", lines[0]) == ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS",
                                             "NAMES"]
    assert sorted(ps_names("\n".join(lines))) == ["c1", "web"]
    row = next(line for line in lines if line.endswith(" web"))
    assert "nginx" in row and "0.0.0.0:8080->80/tcp" in row and " Up " in row


def test_ps_command_is_quoted_and_ellipsized_to_20_columns(lab):
    """docker-cli v27.5.1 cli/command/formatter/container.go ``Command()``:
    ``strconv.Quote(Ellipsis(command, 20))``; displayutils.go ``Ellipsis``: a string of at most 20
    columns is kept whole, a longer one becomes its first 19 runes and "…" (20 columns in all)."""
    lab.docker("run -dit --name exact nicolaka/netshoot sleep 12345678901234")   # 20 characters: kept
    lab.docker("run -dit --name long nicolaka/netshoot sleep 123456789012345")   # 21 characters: cut
    rows = {line.split()[-1]: line for line in lab.docker("ps").splitlines()[1:]}
    assert '   "sleep 12345678901234"   ' in rows["exact"]
    assert '   "sleep 1234567890123…"   ' in rows["long"]


def test_ps_lists_newest_first(lab):
    lab.docker("run -dit --name first nicolaka/netshoot")
    lab.docker("run -dit --name second nicolaka/netshoot")
    assert ps_names(lab.docker("ps")) == ["second", "first"]


def test_ps_hides_exited_containers_and_ps_a_shows_them(lab):
    lab.docker("run -dit --name up nicolaka/netshoot")
    lab.docker("run -d --name gone nicolaka/netshoot")
    wait_exited(lab, "gone")
    assert ps_names(lab.docker("ps")) == ["up"]
    assert sorted(ps_names(lab.docker("ps -a"))) == ["gone", "up"]


def test_ps_status_of_an_exited_container(lab):
    lab.docker("run -d --name gone nicolaka/netshoot")
    wait_exited(lab, "gone")
    row = next(line for line in lab.docker("ps -a").splitlines() if line.endswith(" gone"))
    assert re.search(r"  Exited \(0\) (Less than a second|\d+ seconds?) ago  ", row)


def test_exited_container_has_no_published_port(lab):
    lab.docker("run -d --name gone -p 9090:80 nicolaka/netshoot")
    wait_exited(lab, "gone")
    row = next(line for line in lab.docker("ps -a").splitlines() if line.endswith(" gone"))
    assert "9090" not in row
    lab.docker("run -d --name web -p 9090:80 nginx")  # the port is free again
    assert curl(lab, f"http://{HOST_IP}:9090/").startswith("hello from web\n")


def test_ps_quiet_prints_short_ids(lab):
    cid = lab.docker("run -dit --name c1 nicolaka/netshoot").strip()
    lab.docker("run -d --name gone nicolaka/netshoot")
    wait_exited(lab, "gone")
    assert lab.docker("ps -q") == cid[:12] + "\n"
    assert len(lab.docker("ps -a -q").split()) == 2
    assert lab.docker("ps -aq") == lab.docker("ps -a -q")


# === reaching a published port ===============================================================
def test_published_port_from_the_lan_keeps_the_clients_address(web):
    """DNAT only rewrites the destination: the server sees lan-client itself."""
    assert curl(web, f"http://{HOST_IP}:8080/") == f"hello from web\nyou came from {LAN_CLIENT_IP}\n"


def test_published_port_from_the_host_loopback_goes_through_docker_proxy(web):
    assert curl(web, "http://127.0.0.1:8080/", "docker-host") == "hello from web\nyou came from 172.17.0.1\n"
    processes = host_run(web, "ps -e -o args").stdout.splitlines()
    assert ("docker-proxy -proto tcp -host-ip 0.0.0.0 -host-port 8080 -container-ip 172.17.0.2 "
            "-container-port 80") in processes


def test_published_port_hairpin_from_another_container(web):
    out = curl_from(web, "c1", f"http://{HOST_IP}:8080/")
    assert out == "hello from web\nyou came from 172.17.0.1\n"  # via docker-proxy


def test_container_reaches_another_directly(web):
    assert curl_from(web, "c1", "http://172.17.0.2/") == "hello from web\nyou came from 172.17.0.3\n"


def test_published_port_on_a_user_network(lab):
    lab.docker("network create n1")
    lab.docker("run -d --name web --network n1 -p 8081:80 nginx")
    assert curl(lab, f"http://{HOST_IP}:8081/") == f"hello from web\nyou came from {LAN_CLIENT_IP}\n"


def test_container_on_another_network_reaches_a_published_port_via_the_host(lab):
    lab.docker("network create n1")
    lab.docker("run -d --name web --network n1 -p 8081:80 nginx")
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert curl_from(lab, "c1", f"http://{HOST_IP}:8081/").startswith("hello from web\n")


def test_second_publish_of_the_same_host_port_is_refused(web):
    message = refused(web, "run -d --name web2 -p 8080:80 nginx")
    assert "Bind for 0.0.0.0:8080 failed: port is already allocated" in message
    assert "driver failed programming external connectivity on endpoint web2" in message
    assert curl(web, f"http://{HOST_IP}:8080/").startswith("hello from web\n")


def test_same_port_on_another_protocol_is_allowed(web):
    web.docker("run -dit --name dns -p 8080:80/udp nicolaka/netshoot")
    assert web.docker("port dns") == "80/udp -> 0.0.0.0:8080\n"


def test_without_userland_proxy_no_docker_proxy_runs(proxyless):
    assert not any("nethelpers.programs.docker_proxy" in p["command"] for p in proxyless.processes())
    assert proxyless["docker-host"].sysctl("net.ipv4.conf.docker0.route_localnet") == "1"


def test_without_userland_proxy_lan_client_still_reaches_the_port(proxyless):
    assert curl(proxyless, f"http://{HOST_IP}:8080/") == f"hello from web\nyou came from {LAN_CLIENT_IP}\n"


def test_without_userland_proxy_hairpin_still_works(proxyless):
    out = curl_from(proxyless, "c1", f"http://{HOST_IP}:8080/")
    assert out == "hello from web\nyou came from 172.17.0.3\n"  # hairpin NAT keeps the container's address


def test_without_userland_proxy_host_loopback_still_works(proxyless):
    """route_localnet + the OUTPUT DNAT + MASQUERADE of local sources on the bridge."""
    assert curl(proxyless, "http://127.0.0.1:8080/", "docker-host") == "hello from web\nyou came from 172.17.0.1\n"


def test_userland_proxy_setting_is_fixed_once_the_host_runs(lab):
    lab.docker("ps")
    with pytest.raises(InvalidValue):
        lab.docker_host(userland_proxy=False)


# === outbound NAT ============================================================================
def test_outbound_traffic_is_masqueraded_to_the_hosts_address(web):
    assert curl_from(web, "c1", f"http://{INTERNET_IP}/") == f"hello from internet\nyou came from {HOST_IP}\n"


def test_outbound_from_a_user_network_is_masqueraded_too(lab):
    lab.docker("network create n1")
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    assert curl_from(lab, "c1", f"http://{INTERNET_IP}/").endswith(f"you came from {HOST_IP}\n")


def test_conntrack_shows_the_masquerade(web):
    curl_from(web, "c1", f"http://{INTERNET_IP}/")
    result = host_run(web, "conntrack -L -p tcp --dport 80")
    if result.rc != 0 and "Operation not permitted" in result.stderr:
        pytest.skip(f"conntrack -L is not permitted here: {result.stderr.strip()}")
    assert result.rc == 0, result.stderr
    entries = [line for line in result.stdout.splitlines()
               if f"src=172.17.0.3 dst={INTERNET_IP} " in line]
    assert entries, result.stdout
    assert f"src={INTERNET_IP} dst={HOST_IP} " in entries[0]  # the reply goes to the host's address


# === isolation ===============================================================================
def test_containers_on_two_user_networks_cannot_reach_each_other(two_networks):
    lab = two_networks
    assert pings(lab, "c1", ip_of(lab, "c2", "n1"))
    assert not pings(lab, "c1", ip_of(lab, "c3", "n2"))
    assert not pings(lab, "c3", ip_of(lab, "c1", "n1"))


def test_default_bridge_and_user_network_are_isolated(two_networks):
    lab = two_networks
    assert not pings(lab, "c4", ip_of(lab, "c1", "n1"))
    assert not pings(lab, "c1", ip_of(lab, "c4"))


def test_network_connect_gives_eth1_and_reaches_the_other_network(two_networks):
    lab = two_networks
    assert lab.docker("network connect n2 c1") == ""
    assert addresses(lab, "c1") == {"eth0": "172.18.0.2/16", "eth1": "172.19.0.3/16"}
    assert list(inspect(lab, "c1")["NetworkSettings"]["Networks"]) == ["n1", "n2"]
    assert pings(lab, "c1", ip_of(lab, "c3", "n2"))


def test_network_connect_keeps_the_first_default_route(two_networks):
    lab = two_networks
    lab.docker("network connect n2 c1")
    routes = [r.strip() for r in lab.docker("exec c1 ip route").splitlines()]
    assert [r for r in routes if r.startswith("default")] == ["default via 172.18.0.1 dev eth0"]


def test_network_connect_with_ip_and_alias(lab):
    lab.docker("network create --subnet 10.5.0.0/24 n1")
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    lab.docker("run -dit --name c2 --network n1 nicolaka/netshoot")
    lab.docker("network connect --ip 10.5.0.20 --alias api n1 c1")
    assert addresses(lab, "c1")["eth1"] == "10.5.0.20/24"
    assert resolves(lab, "c2", "api") == ["10.5.0.20"]


def test_network_disconnect_removes_eth1(two_networks):
    lab = two_networks
    lab.docker("network connect n2 c1")
    assert lab.docker("network disconnect n2 c1") == ""
    assert addresses(lab, "c1") == {"eth0": "172.18.0.2/16"}
    assert not pings(lab, "c1", ip_of(lab, "c3", "n2"))
    assert len(network_inspect(lab, "n2")["Containers"]) == 1


def test_network_connect_twice_is_refused(two_networks):
    assert refused(two_networks, "network connect n1 c1", DaemonError) == \
        "Error response from daemon: endpoint with name c1 already exists in network n1"


def test_network_disconnect_when_not_connected_is_refused(two_networks):
    message = refused(two_networks, "network disconnect n2 c1", DaemonError)
    assert "is not connected to network n2" in message


def test_internal_network_cannot_reach_the_internet(lab):
    lab.docker("network create --internal int")
    lab.docker("run -dit --name i1 --network int nicolaka/netshoot")
    assert curl_from(lab, "i1", f"http://{INTERNET_IP}/") == ""
    assert not pings(lab, "i1", INTERNET_IP)


def test_internal_network_containers_reach_each_other(lab):
    lab.docker("network create --internal int")
    lab.docker("run -dit --name i1 --network int nicolaka/netshoot")
    lab.docker("run -dit --name i2 --network int nicolaka/netshoot")
    assert pings(lab, "i1", ip_of(lab, "i2", "int"))


def test_internal_network_gives_no_default_route(lab):
    lab.docker("network create --internal int")
    lab.docker("run -dit --name i1 --network int nicolaka/netshoot")
    assert "default" not in lab.docker("exec i1 ip route")


def test_icc_false_blocks_containers_on_the_same_network(lab):
    lab.docker("network create -o com.docker.network.bridge.enable_icc=false quiet")
    lab.docker("run -dit --name q1 --network quiet nicolaka/netshoot")
    lab.docker("run -dit --name q2 --network quiet nicolaka/netshoot")
    assert not pings(lab, "q1", ip_of(lab, "q2", "quiet"))


def test_icc_false_still_reaches_the_gateway_and_outside(lab):
    lab.docker("network create -o com.docker.network.bridge.enable_icc=false quiet")
    lab.docker("run -dit --name q1 --network quiet nicolaka/netshoot")
    assert pings(lab, "q1", "172.18.0.1")
    assert curl_from(lab, "q1", f"http://{INTERNET_IP}/").startswith("hello from internet")


def test_icc_option_needs_true_or_false(lab):
    """The bridge driver parses it with Go's strconv.ParseBool and says so (moby v29.7.2 and v27.5.1,
    drivers/bridge/bridge_linux.go: parseErr); nothing is created."""
    message = refused(lab, "network create -o com.docker.network.bridge.enable_icc=maybe quiet")
    assert message == ('Error response from daemon: failed to parse com.docker.network.bridge.enable_icc value: '
                       'maybe (strconv.ParseBool: parsing "maybe": invalid syntax)')
    assert "quiet" not in lab.docker("network ls")
    lab.docker("network create -o com.docker.network.bridge.enable_icc=F quiet")   # ParseBool's spellings
    refused(lab, "network create -o com.docker.network.bridge.enable_ip_masquerade=tRuE loud")


# === embedded DNS ============================================================================
def test_user_network_resolv_conf_points_at_127_0_0_11(two_networks):
    lines = two_networks.docker("exec c1 cat /etc/resolv.conf").splitlines()
    assert "nameserver 127.0.0.11" in lines and "options ndots:0" in lines
    assert [line for line in lines if line.startswith("nameserver")] == ["nameserver 127.0.0.11"]


def test_container_name_resolves_with_ttl_600(two_networks):
    answer = dig(two_networks, "c1", "+noall +answer c2").split()
    assert answer == ["c2.", "600", "IN", "A", "172.18.0.3"]


def test_network_alias_resolves(two_networks):
    assert resolves(two_networks, "c1", "db") == ["172.18.0.3"]


def test_short_container_id_resolves(two_networks):
    cid = inspect(two_networks, "c2")["Id"]
    assert resolves(two_networks, "c1", cid[:12]) == ["172.18.0.3"]


def test_names_resolve_for_ordinary_programs(two_networks):
    assert two_networks.docker("exec c1 getent hosts c2").split() == ["172.18.0.3", "c2"]
    assert pings(two_networks, "c1", "c2")


def test_names_are_case_insensitive(two_networks):
    assert resolves(two_networks, "c1", "C2") == ["172.18.0.3"]


def test_foreground_run_on_a_user_network_resolves_names(two_networks):
    out = two_networks.docker(f"run --rm --network n1 nicolaka/netshoot {DIG} +short c1 @127.0.0.11")
    assert out.split() == ["172.18.0.2"]


def test_unknown_name_is_nxdomain(two_networks):
    assert status_of(two_networks, "c1", "nosuch") == "NXDOMAIN"


def test_container_on_another_network_does_not_resolve(two_networks):
    assert resolves(two_networks, "c1", "c3") == []
    assert resolves(two_networks, "c3", "c1") == []


def test_default_bridge_resolv_conf_copies_the_host(two_networks):
    text = two_networks.docker("exec c4 cat /etc/resolv.conf")
    assert "127.0.0.11" not in text
    assert "nameserver 198.51.100.1" in text.splitlines()


def test_default_bridge_names_do_not_resolve(two_networks):
    lab = two_networks
    lab.docker("run -dit --name c5 nicolaka/netshoot")
    assert lab.docker("exec c4 getent hosts c5").exit_code != 0
    assert lab.docker(f"exec c4 {DIG} +short c5 @127.0.0.11").exit_code != 0  # nothing listens there


def test_removed_container_no_longer_resolves(two_networks):
    lab = two_networks
    lab.docker("rm -f c2")
    assert status_of(lab, "c1", "c2") == "NXDOMAIN"
    assert status_of(lab, "c1", "db") == "NXDOMAIN"


def test_connected_container_resolves_names_on_the_new_network(two_networks):
    lab = two_networks
    lab.docker("network connect n2 c1")
    assert resolves(lab, "c1", "c3") == ["172.19.0.2"]
    assert resolves(lab, "c3", "c1") == ["172.19.0.3"]


def test_container_connected_from_the_default_bridge_gets_dns(two_networks):
    lab = two_networks
    lab.docker("network connect n1 c4")
    assert resolves(lab, "c4", "c2") == ["172.18.0.3"]
    assert resolves(lab, "c1", "c4") == ["172.18.0.4"]


def test_disconnected_container_no_longer_resolves_that_network(two_networks):
    lab = two_networks
    lab.docker("network connect n2 c1")
    lab.docker("network disconnect n2 c1")
    assert resolves(lab, "c1", "c3") == []
    assert resolves(lab, "c3", "c1") == []
    assert resolves(lab, "c1", "c2") == ["172.18.0.3"]


# === several Docker hosts ====================================================================
def test_host2_is_198_51_100_11_next_to_docker_host(lab):
    lab.docker("ps")
    lab.docker("run -dit --name c9 nicolaka/netshoot", host="host2")
    assert f"{HOST_IP}/24" in host_run(lab, "ip -br -4 addr show eth0").stdout
    assert f"{HOST2_IP}/24" in host_run(lab, "ip -br -4 addr show eth0", "host2").stdout
    assert host_run(lab, f"ping -c1 -W1 {HOST_IP}", "host2").rc == 0


def test_hosts_take_lan_addresses_in_order_of_creation(lab):
    """The first host made gets .10, whatever its name; the next .11."""
    lab.docker("run -dit --name c9 nicolaka/netshoot", host="host2")
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert "198.51.100.10/24" in host_run(lab, "ip -br -4 addr show eth0", "host2").stdout
    assert "198.51.100.11/24" in host_run(lab, "ip -br -4 addr show eth0").stdout


def test_second_host_has_its_own_docker0(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    lab.docker("run -dit --name c9 nicolaka/netshoot", host="host2")
    assert "172.17.0.1/16" in host_run(lab, "ip -br -4 addr show docker0", "host2").stdout
    assert lab.docker("inspect -f '{{.NetworkSettings.Networks.bridge.IPAddress}}' c9", host="host2") == "172.17.0.2\n"
    assert ip_of(lab, "c1") == "172.17.0.2"


def test_dash_H_picks_the_host(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    lab.docker("run -dit --name c9 nicolaka/netshoot", host="host2")
    assert ps_names(lab.docker("-H host2 ps")) == ["c9"]
    assert ps_names(lab.docker("--host=host2 ps")) == ["c9"]
    assert ps_names(lab.docker("docker -H host2 ps")) == ["c9"]
    assert ps_names(lab.docker("ps")) == ["c1"]


def test_container_on_the_second_host_reaches_the_first_hosts_published_port(web):
    web.docker("run -dit --name c9 nicolaka/netshoot", host="host2")
    out = web.docker(f"-H host2 exec c9 {CURL} http://{HOST_IP}:8080/")
    assert out == f"hello from web\nyou came from {HOST2_IP}\n"


def test_unknown_global_flag(lab):
    assert refused(lab, "--bogus ps", UsageError).startswith("unknown flag: --bogus")


def test_one_letter_names_are_refused_as_docker_does(lab):
    """Docker's name pattern needs two characters at least: [a-zA-Z0-9][a-zA-Z0-9_.-]+."""
    message = refused(lab, "run -dit --name s nicolaka/netshoot", DockerError)
    assert "Invalid container name (s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed" in message


def test_a_refused_publish_on_a_user_network_leaves_no_trace(lab):
    """The port clash is reported as Docker reports it, and the half-made container is gone."""
    lab.docker("network create n1")
    lab.docker("run -dit --name c1 --network n1 -p 8080:80 nicolaka/netshoot")
    message = refused(lab, "run -dit --name c2 --network n1 -p 8080:80 nicolaka/netshoot", DockerError)
    assert "port is already allocated" in message
    assert "c2" not in {n.name for n in lab.nodes()}
    assert lab.docker("run -dit --name c2 --network n1 nicolaka/netshoot").strip()
    assert lab["c1"].run("dig +short +time=1 +tries=1 c2 @127.0.0.11", timeout=5).stdout == "172.18.0.3\n"


def test_ps_quiet_lists_newest_first_too(lab):
    first = lab.docker("run -dit --name c1 nicolaka/netshoot").strip()
    second = lab.docker("run -dit --name c2 nicolaka/netshoot").strip()
    assert lab.docker("ps -q") == f"{second[:12]}\n{first[:12]}\n"


def test_names_also_resolve_with_the_network_as_domain(lab):
    """container.network works, as libnetwork's ResolveName allows; another network's name does not."""
    lab.docker("network create n1")
    lab.docker("network create n2")
    lab.docker("run -dit --name c1 --network n1 nicolaka/netshoot")
    lab.docker("run -dit --name c2 --network n1 --network-alias db nicolaka/netshoot")
    dig = lambda name: lab["c1"].run(f"dig +short +time=1 +tries=1 {name}", timeout=5).stdout
    assert dig("c2.n1") == "172.18.0.3\n"
    assert dig("db.n1") == "172.18.0.3\n"
    assert dig("c2.n2") == ""


def test_env_reaches_the_image_default_command_too(lab):
    """-e applies to nginx's own server as to a given command (the web server is started under env)."""
    lab.docker("run -d --name web -e GREETING=hi nginx")
    environments = lab["web"].run("for p in /proc/[0-9]*; do tr '\\0' '\\n' < $p/environ 2>/dev/null; done")
    assert "GREETING=hi" in environments.stdout.split("\n")  # the web server's own environment
    assert lab.docker("run --rm -e GREETING=hi nicolaka/netshoot sh -c 'echo $GREETING'") == "hi\n"


def test_servers_that_ask_dns_for_their_own_name_start_at_once(lab):
    """The hosts' resolver (the world's DNS server on the router) answers at once: Python's
    http.server, which looks its own name up before it listens, starts without waiting for the
    resolver's timeout (glibc: 5 s, 2 attempts), every time."""
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    answer = lab["docker-host"].run("dig +time=5 +tries=1 docker-host", timeout=15)
    assert "status: NXDOMAIN" in answer.stdout                       # answered at once, not unanswered
    for port in (8101, 8102, 8103):
        # a generous bound: the normal start takes well under a second, a timed-out lookup 10 s
        lab["docker-host"].start(f"python3 -m http.server {port}").wait_for("Serving", timeout=8)


def test_rm_force_of_a_missing_container_is_not_an_error(lab):
    lab.docker("run -dit --name c1 nicolaka/netshoot")
    assert lab.docker("rm -f nosuch c1") == "c1\n"   # as docker CLI 20.10+: only c1 is reported
    assert lab.docker("rm -f nosuch") == ""
