"""Publish options Docker accepts: port ranges, sctp, a network's default host address, the
host-port allocator's round robin, and the order the bindings are programmed in, on the Docker
27.5.1 and 29.7.2 engines.

Sources (expectations come from them, not from the lab):
* docker/cli v27.5.1 and v29.7.2 vendor/github.com/docker/go-connections/nat/nat.go
  (ParsePortSpecs, ParsePortSpec, SplitProtoPort, splitParts) and parse.go (ParsePortRange at
  27, parsePortRange/parsePortNumber at 29);
* moby v27.5.1 libnetwork/portallocator/portallocator.go and docker-v29.7.2
  daemon/libnetwork/portallocator/portallocator.go (RequestPortsInRange, getPortRange);
* moby v27.5.1 libnetwork/drivers/bridge/port_mapping_linux.go (addPortMappings,
  sortAndNormPBs, cmpPortBinding, setPerPortForwarding's sctp CHECKSUM rule) and
  docker-v29.7.2 daemon/libnetwork/drivers/bridge/port_mapping_linux.go (sortAndNormPBs,
  mapPorts) with portmapperapi/api.go (PortBindingReq.Compare);
* bridge_linux.go at both tags (parseNetworkOptions: DefaultBindingIP, "nil ip").
"""

from __future__ import annotations

import pytest

from nethelpers.cnm.drivers.bridge.ports import PortAllocator
from nethelpers.docker import DockerError, UsageError, cli, engines

HOST_IP = "198.51.100.10"
CURL = "curl -s --max-time 3"


def specs(raw: str, major: int) -> list[tuple]:
    return [(s.container_port, s.proto, s.host_ip, s.host_port, s.host_port_end)
            for s in cli.publish_specs([raw], major)]


def refusal(raw: str, major: int) -> str:
    with pytest.raises(UsageError) as caught:
        cli.publish_specs([raw], major)
    return str(caught.value)


def curl(lab, url: str, node: str = "lan-client") -> str:
    return lab[node].run(f"{CURL} {url}", timeout=15).stdout


def rules(lab, table: str, chain: str = "") -> list[str]:
    return lab["docker-host"].run(f"iptables -t {table} -S {chain}", check=True).stdout.splitlines()


# --- the CLI: nat.ParsePortSpec --------------------------------------------------------------
@pytest.mark.parametrize("major", [27, 29])
def test_ranges_expand_as_nat_expands_them(major):
    """ParsePortSpec: equal ranges give one binding per port; a host range with one container
    port gives one binding whose HostPort is the range; a container range alone, bindings
    with no host port."""
    assert specs("8080-8081:80-81", major) == [(80, "tcp", "", 8080, None), (81, "tcp", "", 8081, None)]
    assert specs("8080-8090:80", major) == [(80, "tcp", "", 8080, 8090)]
    assert specs("80-81", major) == [(80, "tcp", "", None, None), (81, "tcp", "", None, None)]
    assert specs("127.0.0.1:9000:9000/sctp", major) == [(9000, "sctp", "127.0.0.1", 9000, None)]
    assert cli.publish_specs(["8080-8090:80"], major)[0].host_port_text == "8080-8090"


@pytest.mark.parametrize("raw, message", [
    ("8080-8081:80-82", "invalid ranges specified for container and host Ports: 80-82 and 8080-8081"),
    ("80/xyz", "invalid proto: xyz"),
    ("70000:80", "invalid hostPort: 70000"),
    ("8080:abc", "invalid containerPort: abc"),
    ("81-80", "invalid containerPort: 81-80"),
    ("8080:", "no port specified: 8080:<empty>"),
    ("1.2.3.400:8080:80", "invalid IP address: 1.2.3.400"),
])
@pytest.mark.parametrize("major", [27, 29])
def test_refusals_are_nats_words(raw, message, major):
    assert refusal(raw, major) == message


@pytest.mark.parametrize("raw, at27, at29", [
    # 27 checks the address before the empty container port, 29 after
    ("1.2.3:80:", "invalid IP address: 1.2.3", "no port specified: 1.2.3:80:<empty>"),
    # 27 checks the protocol last, 29 before the ports; 29 prints it lower-cased
    ("abc:80/XYZ", "invalid hostPort: abc", "invalid proto: xyz"),
])
def test_the_two_clis_check_in_their_own_order(raw, at27, at29):
    assert refusal(raw, 27) == at27
    assert refusal(raw, 29) == at29


def test_what_only_one_cli_accepts():
    """27's ParsePortRange splits on every "-" and uses two parts; 29's parsePortRange cuts at
    the first and parses with ParseInt, which takes a "+"; 27's SplitProtoPort takes the
    second "/" part only."""
    assert specs("1-2-3", 27) == [(1, "tcp", "", None, None), (2, "tcp", "", None, None)]
    assert refusal("1-2-3", 29) == "invalid containerPort: 1-2-3"
    assert specs("+8080:80", 29) == [(80, "tcp", "", 8080, None)]
    assert refusal("+8080:80", 27) == "invalid hostPort: +8080"
    assert specs("80/udp/x", 27) == [(80, "udp", "", None, None)]
    assert refusal("80/udp/x", 29) == "invalid proto: udp/x"


def test_a_parsed_run_keeps_each_engines_reading():
    """parse() knows no engine yet: ``publish`` is the default engine's reading, and
    publish_for() gives each engine's (its CLI's error where it refuses)."""
    default = engines.engine().major
    other = 27 if default == 29 else 29
    spec, refused = ("+8080:80", "invalid hostPort: +8080") if default == 29 else ("1-2-3", "invalid containerPort: 1-2-3")
    parsed = cli.parse(cli.split(f"run -d -p {spec} busybox"))
    assert parsed.options["publish"] == cli.publish_for(parsed.options, engines.engine())
    with pytest.raises(UsageError) as caught:
        cli.publish_for(parsed.options, engines.engine(str(other)))
    assert str(caught.value) == refused


@pytest.mark.parametrize("command, message", [
    ("network create --ip-range 10.9.0.0/25 n1", "every ip-range or gateway must have a corresponding subnet"),
    ("network create --subnet 10.9.0.0/24 --ip-range 10.8.0.0/25 n1", "no matching subnet for range 10.8.0.0/25"),
    ("network create --subnet 10.9.0.0/24 --gateway 10.8.0.1 n1", "no matching subnet for gateway 10.8.0.1"),
])
def test_network_create_ipam_flags_are_checked_by_the_cli(command, message):
    """docker/cli cli/command/network/create.go: consolidateIpam (v27.5.1), createIPAMConfig
    (v29.7.2), same words."""
    with pytest.raises(UsageError) as caught:
        cli.parse(cli.split(command))
    assert str(caught.value) == message


# --- the allocator ------------------------------------------------------------------------
@pytest.mark.parametrize("version", [27, 29])
def test_ephemeral_ports_are_handed_out_round_robin(version):
    """RequestPortsInRange: after the last port given for the address, protocol and range
    (newPortRange starts last at the end, so the first is the range's first)."""
    alloc = PortAllocator(version, ephemeral=(32768, 32770), reserved=set())
    assert alloc.request(["0.0.0.0"], "tcp") == 32768
    alloc.release("0.0.0.0", "tcp", 32768)
    assert alloc.request(["0.0.0.0"], "tcp") == 32769  # not 32768 again
    assert alloc.request(["0.0.0.0"], "udp") == 32768  # each protocol its own
    assert alloc.request(["0.0.0.0"], "tcp") == 32770
    assert alloc.request(["0.0.0.0"], "tcp") == 32768  # wrapped round
    with pytest.raises(Exception) as caught:  # all taken
        alloc.request(["0.0.0.0"], "tcp")
    assert caught.value.libnetwork == "all ports are allocated"


@pytest.mark.parametrize("version", [27, 29])
def test_a_range_keeps_its_own_last_port(version):
    alloc = PortAllocator(version, ephemeral=(32768, 60999), reserved=set())
    assert alloc.request(["0.0.0.0"], "tcp", 8080, 8082) == 8080
    assert alloc.request(["0.0.0.0"], "tcp", 8081, 8081) == 8081  # an exact port
    assert alloc.request(["0.0.0.0"], "tcp", 8080, 8082) == 8082
    with pytest.raises(Exception) as caught:
        alloc.request(["0.0.0.0"], "tcp", 8081, 8081)
    assert caught.value.libnetwork == "Bind for 0.0.0.0:8081 failed: port is already allocated"
    with pytest.raises(Exception) as caught:
        alloc.request(["0.0.0.0"], "tcp", 0, 100)
    assert caught.value.libnetwork == "invalid port range: 0-100"


def test_docker_29_checks_0000_against_every_address_27_does_not():
    """29: a port taken on 0.0.0.0 is taken for every IPv4 address, and the other way round;
    27 keeps one map per address (the kernel's bind finds the clash)."""
    for version, clash in ((27, False), (29, True)):
        alloc = PortAllocator(version, ephemeral=(32768, 60999), reserved=set())
        alloc.request(["0.0.0.0"], "tcp", 8080, 8080)
        if clash:
            with pytest.raises(Exception) as caught:
                alloc.request(["127.0.0.1"], "tcp", 8080, 8080)
            assert caught.value.libnetwork == "Bind for 0.0.0.0:8080 failed: port is already allocated"
        else:
            assert alloc.request(["127.0.0.1"], "tcp", 8080, 8080) == 8080


def test_docker_29_skips_the_kernels_reserved_ports():
    """docker-v29.7.2 portallocator: skipReserved for the default range (ip_local_reserved_ports)."""
    alloc = PortAllocator(29, ephemeral=(32768, 32770), reserved={32768})
    assert alloc.request(["0.0.0.0"], "tcp") == 32769
    assert PortAllocator(29, ephemeral=(32768, 32770), reserved={32768}).request(["0.0.0.0"], "tcp", 32768, 32770) \
        == 32768  # a range asked for is honoured as it is


# --- in a lab -----------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["27", "29"])
def test_publish_a_range_and_reach_it(lab, version):
    lab.docker_host(version=version)
    lab.docker("run -d --name web -p 8080-8081:80-81 nginx")
    assert lab.docker("port web") == "80/tcp -> 0.0.0.0:8080\n81/tcp -> 0.0.0.0:8081\n"
    assert curl(lab, f"http://{HOST_IP}:8080/").startswith("hello from web\n")
    dnat = [r for r in rules(lab, "nat", "DOCKER") if "DNAT" in r]
    assert [r.split("--dport ")[1].split()[0] for r in dnat] == ["8080", "8081"]


@pytest.mark.parametrize("version", ["27", "29"])
def test_a_host_range_takes_a_free_port_of_it(lab, version):
    """-p 8080-8090:80: one binding, HostPort 8080, HostPortEnd 8090; the allocator gives the
    range's first free port (8080 is another container's)."""
    lab.docker_host(version=version)
    lab.docker("run -d --name web1 -p 8080:80 nginx")
    lab.docker("run -d --name web2 -p 8080-8090:80 nginx")
    assert lab.docker("port web2") == "80/tcp -> 0.0.0.0:8081\n"
    assert curl(lab, f"http://{HOST_IP}:8081/").startswith("hello from web2\n")


def test_an_ephemeral_port_is_not_handed_out_again_at_once(lab):
    """Round robin: after web1 leaves, web2 gets 32769, not 32768 (ip_local_port_range
    32768-60999 of the Docker host)."""
    lab.docker("run -d --name web1 -p 80 nginx")
    assert lab.docker("port web1") == "80/tcp -> 0.0.0.0:32768\n"
    lab.docker("rm -f web1")
    lab.docker("run -d --name web2 -p 80 nginx")
    assert lab.docker("port web2") == "80/tcp -> 0.0.0.0:32769\n"
    assert curl(lab, f"http://{HOST_IP}:32769/").startswith("hello from web2\n")


@pytest.mark.parametrize("version", ["27", "29"])
def test_bindings_are_programmed_in_dockers_order(lab, version):
    """-p 8081:81 -p 8080:80: sorted by container port first. 27 appends every rule after
    all the ports are bound; 29 adds each group's rules (mapPorts) with the ACCEPT inserted at
    the head of filter DOCKER, so there the later port's ACCEPT comes first."""
    lab.docker_host(version=version)
    lab.docker("run -dit --name c1 -p 8081:81 -p 8080:80 busybox")
    dnat = [r for r in rules(lab, "nat", "DOCKER") if "DNAT" in r]
    assert [r.split("--to-destination ")[1] for r in dnat] == ["172.17.0.2:80", "172.17.0.2:81"]
    accept = [r.split("--dport ")[1].split()[0] for r in rules(lab, "filter", "DOCKER") if "ACCEPT" in r]
    assert accept == (["80", "81"] if version == "27" else ["81", "80"])


@pytest.mark.parametrize("version", ["27", "29"])
def test_host_binding_ipv4_is_the_networks_default_host_address(lab, version):
    lab.docker_host(version=version)
    lab.docker("network create -o com.docker.network.bridge.host_binding_ipv4=127.0.0.1 n1")
    lab.docker("run -d --name web --network n1 -p 8080:80 -p 198.51.100.10:8082:80 nginx")
    assert lab.docker("port web") == "80/tcp -> 127.0.0.1:8080\n80/tcp -> 198.51.100.10:8082\n"
    assert curl(lab, "http://127.0.0.1:8080/", node="docker-host").startswith("hello from web\n")
    assert curl(lab, f"http://{HOST_IP}:8080/") == ""  # not published on the LAN address
    assert curl(lab, f"http://{HOST_IP}:8082/").startswith("hello from web\n")


def test_host_binding_ipv4_must_be_an_address(lab):
    with pytest.raises(DockerError) as caught:
        lab.docker("network create -o com.docker.network.bridge.host_binding_ipv4=abc n1")
    assert "failed to parse com.docker.network.bridge.host_binding_ipv4 value: abc (nil ip)" in str(caught.value)


def _host_has_sctp(lab) -> bool:
    probe = "import socket; socket.socket(socket.AF_INET, socket.SOCK_STREAM, 132)"
    return lab["docker-host"].run(f"python3 -c '{probe}'", timeout=15).rc == 0


@pytest.mark.parametrize("version", ["27", "29"])
def test_sctp_rules(lab, version):
    """-p 9000:9000/sctp: the same rules with -p sctp -m sctp; 27 adds mangle POSTROUTING
    CHECKSUM --checksum-fill (setPerPortForwarding), 29 has no such rule. Without the
    userland proxy (the lab's hairpin mode binds no socket) the rules are all there is."""
    lab.docker_host(version=version, userland_proxy=False)
    lab.docker("run -dit --name c1 -p 9000:9000/sctp busybox")
    assert any("-p sctp -m sctp --dport 9000 -j DNAT --to-destination 172.17.0.2:9000" in r
               for r in rules(lab, "nat", "DOCKER"))
    checksum = "-A POSTROUTING -p sctp -m sctp --sport 9000 -j CHECKSUM --checksum-fill"
    assert (checksum in rules(lab, "mangle")) == (version == "27")
    assert lab.docker("port c1") == "9000/sctp -> 0.0.0.0:9000\n"
    lab.docker("rm -f c1")
    assert checksum not in rules(lab, "mangle")


@pytest.mark.parametrize("version", ["27", "29"])
def test_sctp_with_the_proxy_needs_sctp_in_the_kernel(lab, version):
    """With the userland proxy the port is bound (29: by dockerd, osallocator bindSCTP; 27: by
    docker-proxy): where the kernel has no SCTP, Docker fails as it would, in its words."""
    lab.docker_host(version=version)
    if _host_has_sctp(lab):
        lab.docker("run -dit --name c1 -p 9000:9000/sctp busybox")
        assert lab.docker("port c1") == "9000/sctp -> 0.0.0.0:9000\n"
        return
    with pytest.raises(DockerError) as caught:
        lab.docker("run -dit --name c1 -p 9000:9000/sctp busybox")
    expected = ("failed to create socket for 0.0.0.0:9000/sctp: protocol not supported" if version == "29" else
                "failed to bind port 0.0.0.0:9000/sctp: Error starting userland proxy: protocol not supported")
    assert expected in str(caught.value)
