"""A Docker 29 host's iptables equal Docker 29's, rule for rule and in order.

Expected rules: tests/docker/expected_iptables_29.py (moby docker-v29.7.2's generated docs).
The same known difference as for Docker 27 (test_docker_iptables.py): the docs were made
where ip_forward was on already, so their FORWARD policy is ACCEPT; a lab Docker host turns
ip_forward on itself, and dockerd then sets the policy to DROP (setupIPv4Forwarding, which
the docs' own prose describes).
"""

from __future__ import annotations

import pytest

from expected_iptables_29 import SCENARIOS


def rules(lab, table: str) -> str:
    return lab["docker-host"].run(f"iptables -t {table} -S", check=True).stdout.strip()


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_rules_match_docker_29(lab, scenario):
    commands, tables, userland_proxy = SCENARIOS[scenario]
    lab.docker_host(version="29", userland_proxy=userland_proxy)
    for command in commands:
        lab.docker(command)
    for table, expected in tables.items():
        expected = expected.strip().replace("-P FORWARD ACCEPT", "-P FORWARD DROP")
        assert rules(lab, table) == expected, table


def test_removing_everything_leaves_only_the_daemons_rules(lab):
    _, fresh, _ = SCENARIOS["new-daemon"]
    lab.docker_host(version="29")
    lab.docker("network create -o com.docker.network.bridge.enable_icc=false bridge1")
    lab.docker("network create --internal bridge2")
    lab.docker("network create -o com.docker.network.bridge.gateway_mode_ipv4=routed bridge3")
    lab.docker("run -dit --name c1 --network bridge1 -p 8080:80 -p 5353:53/udp busybox")
    lab.docker("run -dit --name c2 -p 127.0.0.1:9090:80 busybox")
    lab.docker("run -dit --name c3 --network bridge3 -p 8081:80 busybox")
    lab.docker("rm -f c1 c2 c3")
    lab.docker("network rm bridge1 bridge2 bridge3")
    assert rules(lab, "filter") == fresh["filter"].strip().replace("-P FORWARD ACCEPT", "-P FORWARD DROP")
    assert rules(lab, "nat") == fresh["nat"].strip()
    assert rules(lab, "raw") == "-P PREROUTING ACCEPT\n-P OUTPUT ACCEPT"


def test_every_container_address_is_guarded_in_raw(lab):
    """endpoint.go filterDirectAccess: one raw DROP per endpoint of a NAT network, published or
    not; none for the container of a routed network."""
    lab.docker_host(version="29")
    lab.docker("network create -o com.docker.network.bridge.gateway_mode_ipv4=routed --subnet 192.0.2.0/24 r1")
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -dit --name c2 --network r1 busybox")
    assert rules(lab, "raw").splitlines()[2:] == ["-A PREROUTING -d 172.17.0.2/32 ! -i docker0 -j DROP"]


def test_udp_and_host_ip_port_rules(lab):
    """port.go: setPerPortNAT (``-d HOST_IP`` when the binding has one), setPerPortForwarding
    (inserted at the head of DOCKER), filterPortMappedOnLoopback (raw DROP of the loopback
    port from anything but lo)."""
    lab.docker_host(version="29")
    lab.docker("run -dit --name c1 -p 5353:53/udp -p 127.0.0.1:9090:80 busybox")
    nat, filter_, raw = (rules(lab, t).splitlines() for t in ("nat", "filter", "raw"))
    assert "-A DOCKER ! -i docker0 -p udp -m udp --dport 5353 -j DNAT --to-destination 172.17.0.2:53" in nat
    assert "-A DOCKER -d 127.0.0.1/32 ! -i docker0 -p tcp -m tcp --dport 9090 -j DNAT " \
           "--to-destination 172.17.0.2:80" in nat
    assert "-A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p udp -m udp --dport 53 -j ACCEPT" in filter_
    assert "-A PREROUTING -d 127.0.0.1/32 ! -i lo -p tcp -m tcp --dport 9090 -j DROP" in raw
    assert not any("MASQUERADE" in r and "/32" in r for r in nat), "no hairpin rule with the proxy"


def test_macs_are_random_and_locally_administered(lab):
    """Docker 28+ (bridge_linux.go createEndpoint: netutils.GenerateRandomMAC): not 02:42 + the
    address; unicast, locally administered (utils.go: ``hw[0] &= 0xfe; hw[0] |= 0x02``)."""
    lab.docker_host(version="29")
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -dit --name c2 busybox")
    macs = [lab.docker(f"inspect -f '{{{{.NetworkSettings.Networks.bridge.MacAddress}}}}' {c}").strip()
            for c in ("c1", "c2")]
    assert macs[0] != macs[1]
    for mac in macs:
        assert not mac.startswith("02:42:ac:11"), mac
        first = int(mac.split(":")[0], 16)
        assert first & 1 == 0 and first & 2 == 2, mac
        assert mac in lab[f"c{macs.index(mac) + 1}"].run("ip link show eth0").stdout


def test_docker_27_keeps_macs_from_the_address(lab):
    """v27.5.1 bridge_linux.go createEndpoint: netutils.GenerateMACFromIP."""
    lab.docker_host(version="27")
    lab.docker("run -dit --name c1 busybox")
    assert lab.docker("inspect -f '{{.NetworkSettings.Networks.bridge.MacAddress}}' c1").strip() == \
        "02:42:ac:11:00:02"


def test_isolation_without_isolation_chains(lab):
    """Docker 29 has no DOCKER-ISOLATION-STAGE chains: a packet from docker0 to bridge1 meets
    DOCKER's ``! -i bridge1 -o bridge1 -j DROP`` (and raw's DROP of bridge1's addresses)."""
    lab.docker_host(version="29")
    lab.docker("network create --subnet 192.0.2.0/24 bridge1")
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -dit --name c2 --network bridge1 busybox")
    assert lab["c1"].run("ping -c1 -W1 192.0.2.2").rc != 0
    assert lab["c2"].run("ping -c1 -W1 172.17.0.2").rc != 0
    assert "DOCKER-ISOLATION" not in rules(lab, "filter")


@pytest.mark.parametrize("mode", ["routed", "nat-unprotected"])
def test_gateway_modes_are_docker_29s(lab, mode):
    """Docker 27 had gateway_mode_ipv4=routed with other rules, which the lab does not build:
    it says so instead of installing 29's; an unknown mode is the daemon's parse error
    (docker-v29.7.2 bridge_linux.go newGwMode, parseErr)."""
    from nethelpers.docker import DockerError

    lab.docker_host(version="27")
    with pytest.raises(DockerError, match="gateway_mode_ipv4"):
        lab.docker(f"network create -o com.docker.network.bridge.gateway_mode_ipv4={mode} n1")
    assert "n1" not in lab.docker("network ls")


def test_unknown_gateway_mode(lab):
    from nethelpers.docker import DockerError

    lab.docker_host(version="29")
    with pytest.raises(DockerError, match="unknown gateway mode bogus"):
        lab.docker("network create -o com.docker.network.bridge.gateway_mode_ipv4=bogus n1")


def test_engine_choice_errors(lab):
    from nethelpers import LabError

    with pytest.raises(LabError, match="does not emulate Docker '26'"):
        lab.docker_host(version="26")
    with pytest.raises(LabError, match="no nftables firewall backend"):
        lab.docker_host(version="27", firewall_backend="nftables")
    lab.docker_host(version="29")
    with pytest.raises(LabError, match="already runs Docker Engine 29.7.2"):
        lab.docker_host(version="27")
    assert lab.docker_host(version="29.7").engine.version == "29.7.2"


def test_macvlan_macs_are_random_too_and_the_lan_learns_them(lab):
    """docker-v29.7.2 macvlan_endpoint.go createEndpoint: GenerateRandomMAC when none is asked
    (v27.5.1: GenerateMACFromIP). The LAN learns the container's MAC by ARP, as any other."""
    lab.docker_host(version="29")
    lab.docker("network create -d macvlan --subnet 198.51.100.0/24 --gateway 198.51.100.1 "
               "--ip-range 198.51.100.128/25 -o parent=eth0 mv")
    lab.docker("run -dit --name mv1 --network mv busybox")
    mac = lab.docker("inspect -f '{{.NetworkSettings.Networks.mv.MacAddress}}' mv1").strip()
    assert mac != "02:42:c6:33:64:80" and int(mac.split(":")[0], 16) & 3 == 2, mac
    assert lab["lan-client"].run("ping -c1 -W1 198.51.100.128").rc == 0
    assert f"lladdr {mac} " in lab["lan-client"].run("ip neigh show 198.51.100.128").stdout


def test_run_refusal_is_printed_as_the_docker_29_cli_prints_it(lab):
    """docker/cli v29.7.2 cli/command/container/run.go toStatusError/withHelp: "docker: %w" then
    "\\n\\nRun 'docker run --help' for more information" (no period added, as 27's reportError did)."""
    from nethelpers.docker import DockerError

    lab.docker_host(version="29")
    lab.docker("run -d --name pod nginx")
    with pytest.raises(DockerError) as refused:
        lab.docker("run -dit --name x1 --network container:pod -h web busybox")
    assert str(refused.value) == ("docker: Error response from daemon: conflicting options: hostname and the "
                                  "network mode\n\nRun 'docker run --help' for more information")
