"""daemon.json's ``bip`` and ``default-address-pools``, ``DockerHost.restart_daemon``, the host's
on-link routes kept out of dynamic pools, and the overlay driver's MTU option.

Expectations from moby (bare mirror moby/moby, tag docker-v29.7.2):

- ``daemon/config/config_linux.go`` (``bip``), ``daemon/pkg/opts/address_pools.go`` and
  ``daemon/libnetwork/ipamutils/utils.go`` (``default-address-pools``: each ``base`` split into
  ``size``-bit subnets, handed out in order; the built-in list starts 172.17.0.0/16,
  172.18.0.0/16, ...); ``daemon/libnetwork/ipams/defaultipam/allocator.go`` splitByIPFamily (a
  base with host bits set is masked, a ``size`` shorter than the base's prefix is an error) and
  ``address_space.go`` allocatePredefinedPool (the first subnet that overlaps nothing allocated
  or reserved);
- ``daemon/daemon_unix.go`` configureNetworking / initBridgeDriver / getDefaultBridgeIPAMConf /
  selectBIP: docker0 takes ``bip`` (its subnet and gateway); without ``bip`` it keeps the
  address the interface still has, except that the interface is removed first when
  ``default-address-pools`` is set — so docker0 then takes the first free pool;
- ``daemon/libnetwork/network.go`` ipamAllocateVersion and ``netutils/utils_linux.go``
  InferReservedNetworks / queryOnLinkRoutes: for a local-scope network without ``--subnet``,
  routes with scope link and a destination that is not 0.0.0.0 are excluded; routes via a
  gateway are not (PR #42598); an explicit subnet is not checked against them;
- ``daemon/libnetwork/drivers/overlay/ov_network.go`` CreateNetwork (``com.docker.network.driver.mtu``
  parsed with strconv.Atoi: "failed to parse %v: %v", "invalid MTU value: %v") and
  ``encryption.go`` maxMTU with ``overlay.go`` vxlanEncap = 50: the overlay's MTU is the option
  (or 1500) less 50.

A restart stops the running containers (no live-restore); what the lab does when dockerd could
not start (keep docker0 as it was) and its refusal of keys it does not read are the lab's.
Traffic is bounded: ``ping -c1 -W1``.
"""

from __future__ import annotations

import json

import pytest

from nethelpers.docker import DockerError, engine_of
from nethelpers.errors import InvalidValue, LabError

POOLS = {"default-address-pools": [{"base": "10.10.0.0/16", "size": 24}]}


def ipam(lab, net: str) -> list[dict]:
    return json.loads(lab.docker(f"network inspect -f '{{{{json .IPAM.Config}}}}' {net}"))


def subnet(lab, net: str) -> str:
    return ipam(lab, net)[0]["Subnet"]


def docker0(lab) -> str:
    """docker0's IPv4 address as the host's kernel has it (``ADDRESS/LEN``)."""
    return lab["docker-host"].run("ip -4 -br addr show docker0", check=True).stdout.split()[2]


def running(lab, ctr: str) -> bool:
    return json.loads(lab.docker(f"inspect -f '{{{{json .State.Running}}}}' {ctr}"))


def eth0(lab, ctr: str, host: str | None = None) -> str:
    return lab.docker(f"exec {ctr} ip -4 -br addr show eth0", host=host).split()[2]


# --- daemon.json at start ---------------------------------------------------------------
def test_bip_is_docker0s_address_and_subnet(lab):
    lab.docker_host(daemon_json={"bip": "10.99.0.1/24"})
    assert docker0(lab) == "10.99.0.1/24"
    assert ipam(lab, "bridge") == [{"Subnet": "10.99.0.0/24", "Gateway": "10.99.0.1"}]
    lab.docker("run -dit --name c1 busybox")
    assert eth0(lab, "c1") == "10.99.0.2/24"
    assert "default via 10.99.0.1" in lab.docker("exec c1 ip route")


def test_pools_give_docker0_then_each_new_network_the_next_subnet(lab):
    lab.docker_host(daemon_json=POOLS)
    assert subnet(lab, "bridge") == "10.10.0.0/24" and docker0(lab) == "10.10.0.1/24"
    lab.docker("network create n1")
    lab.docker("network create n2")
    assert (subnet(lab, "n1"), subnet(lab, "n2")) == ("10.10.1.0/24", "10.10.2.0/24")


def test_with_bip_the_first_pool_goes_to_the_first_network(lab):
    lab.docker_host(daemon_json={"bip": "10.99.0.1/24", **POOLS})
    assert subnet(lab, "bridge") == "10.99.0.0/24"
    lab.docker("network create n1")
    assert subnet(lab, "n1") == "10.10.0.0/24"


def test_a_pool_base_with_host_bits_is_masked(lab):
    lab.docker_host(daemon_json={"default-address-pools": [{"base": "10.10.1.0/16", "size": 24}]})
    assert subnet(lab, "bridge") == "10.10.0.0/24"


# --- restart_daemon -----------------------------------------------------------------------
def test_restart_stops_containers_and_keeps_user_networks(lab):
    host = lab.docker_host()
    lab.docker("network create n1")
    assert subnet(lab, "n1") == "172.18.0.0/16"
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run -dit --name c2 --network n1 busybox")
    assert eth0(lab, "c1") == "172.17.0.2/16"
    host.restart_daemon({"bip": "10.99.0.1/24"})
    assert not running(lab, "c1") and not running(lab, "c2")
    assert subnet(lab, "bridge") == "10.99.0.0/24" and docker0(lab) == "10.99.0.1/24"
    assert subnet(lab, "n1") == "172.18.0.0/16"
    lab.docker("start c1 c2")
    assert eth0(lab, "c1") == "10.99.0.2/24"
    assert eth0(lab, "c2") == "172.18.0.2/16"
    lab.docker("network create n2")
    assert subnet(lab, "n2") == "172.17.0.0/16"  # the built-in pools, lowest free first: docker0 left it


def test_restart_without_bip_or_pools_keeps_docker0s_address(lab):
    host = lab.docker_host(daemon_json={"bip": "10.99.0.1/24"})
    host.restart_daemon({})  # selectBIP: the address the interface still has
    assert ipam(lab, "bridge") == [{"Subnet": "10.99.0.0/24", "Gateway": "10.99.0.1"}]
    assert docker0(lab) == "10.99.0.1/24"
    host.restart_daemon(POOLS)  # pools set: docker0 is removed first, then the first free pool
    assert subnet(lab, "bridge") == "10.10.0.0/24" and docker0(lab) == "10.10.0.1/24"


def test_a_bip_overlapping_a_network_keeps_the_old_docker0(lab):
    host = lab.docker_host()
    lab.docker("network create n1")  # 172.18.0.0/16
    with pytest.raises(DockerError) as err:
        host.restart_daemon({"bip": "172.18.0.1/16"})
    assert "overlaps" in str(err.value)
    assert subnet(lab, "bridge") == "172.17.0.0/16" and docker0(lab) == "172.17.0.1/16"
    lab.docker("run -dit --name c1 busybox")
    assert eth0(lab, "c1") == "172.17.0.2/16"


# --- the host's routes ------------------------------------------------------------------------
def test_on_link_routes_are_skipped_gateway_routes_are_not(lab):
    lab.docker_host()
    host = lab["docker-host"]
    host.run("ip link add t0 type veth peer name t1", check=True)
    host.run("ip link set t0 up", check=True)
    host.run("ip route add 172.18.0.0/16 dev t0", check=True)  # scope link
    gateway = host.run("ip -4 route show default", check=True).stdout.split()[2]
    host.run(f"ip route add 172.19.0.0/16 via {gateway}", check=True)  # scope global
    assert "172.18.0.0/16 dev t0 scope link" in host.run("ip -4 route", check=True).stdout
    lab.docker("network create n1")
    assert subnet(lab, "n1") == "172.19.0.0/16"
    lab.docker("network create n2")
    assert subnet(lab, "n2") == "172.20.0.0/16"
    lab.docker("network create --subnet 172.18.5.0/24 n3")  # an explicit subnet may overlap it
    assert subnet(lab, "n3") == "172.18.5.0/24"


def test_a_link_route_to_0_0_0_0_slash_1_reserves_nothing(lab):
    lab.docker_host(daemon_json=POOLS)
    host = lab["docker-host"]
    host.run("ip link add t0 type veth peer name t1", check=True)
    host.run("ip link set t0 up", check=True)
    host.run("ip route add 0.0.0.0/1 dev t0", check=True)  # queryOnLinkRoutes: Dst.IP unspecified
    lab.docker("network create n1")
    assert subnet(lab, "n1") == "10.10.1.0/24"


def test_restart_reserves_on_link_routes_for_docker0(lab):
    host = lab.docker_host()
    node = lab["docker-host"]
    node.run("ip link add t0 type veth peer name t1", check=True)
    node.run("ip link set t0 up", check=True)
    node.run("ip route add 10.10.0.0/24 dev t0", check=True)
    host.restart_daemon(POOLS)
    assert subnet(lab, "bridge") == "10.10.1.0/24"


# --- refusals ---------------------------------------------------------------------------------
BAD = {
    "bip without a prefix length": {"bip": "10.99.0.1"},
    "bip not an address": {"bip": "docker0/24"},
    "pool size shorter than its base": {"default-address-pools": [{"base": "10.10.0.0/16", "size": 8}]},
    "pool base not a prefix": {"default-address-pools": [{"base": "ten", "size": 24}]},
    "pools not a list": {"default-address-pools": "10.10.0.0/16"},
    "a directive the lab does not read": {"no-such-directive": True},
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_daemon_json_at_start_starts_no_host(lab, case):
    with pytest.raises(InvalidValue) as err:
        lab.docker_host(daemon_json=BAD[case])
    assert isinstance(err.value, LabError) and "daemon.json" in str(err.value)
    assert "docker-host" not in engine_of(lab).hosts
    lab.docker_host()  # the name is free: nothing was left half made
    assert subnet(lab, "bridge") == "172.17.0.0/16"


@pytest.mark.parametrize("case", list(BAD))
def test_bad_daemon_json_on_restart_changes_nothing(lab, case):
    host = lab.docker_host(daemon_json={"bip": "10.99.0.1/24"})
    lab.docker("run -dit --name c1 busybox")
    with pytest.raises(InvalidValue):
        host.restart_daemon(BAD[case])
    assert running(lab, "c1")
    assert ipam(lab, "bridge") == [{"Subnet": "10.99.0.0/24", "Gateway": "10.99.0.1"}]
    assert docker0(lab) == "10.99.0.1/24"
    assert eth0(lab, "c1") == "10.99.0.2/24"


# --- the overlay driver's MTU option ---------------------------------------------------------------
MTU = "com.docker.network.driver.mtu"


@pytest.fixture
def swarm_pair(lab):
    """docker-host the manager of a swarm, host2 a worker."""
    lab.docker("swarm init --advertise-addr 198.51.100.10")
    token = lab.docker("swarm join-token -q worker").strip()
    lab.docker(f"swarm join --token {token} 198.51.100.10:2377", host="host2")
    return lab


def test_overlay_mtu_option_is_the_underlays_less_vxlan(overlay_pair):
    lab = overlay_pair
    assert lab.docker("exec c1 cat /sys/class/net/eth0/mtu").strip() == "1450"  # 1500 - 50
    lab.docker(f"network create -d overlay --attachable -o {MTU}=1400 ovm")
    lab.docker("run -dit --name m1 --network ovm nicolaka/netshoot")
    lab.docker("run -dit --name m2 --network ovm nicolaka/netshoot", host="host2")
    assert lab.docker("exec m1 cat /sys/class/net/eth0/mtu").strip() == "1350"
    assert lab.docker("exec m2 cat /sys/class/net/eth0/mtu", host="host2").strip() == "1350"
    assert lab.docker("exec c2 cat /sys/class/net/eth0/mtu", host="host2").strip() == "1450"  # ov1 unchanged
    peer = eth0(lab, "m2", host="host2").split("/")[0]
    assert lab.docker(f"exec m1 ping -c1 -W1 -M do -s 1322 {peer}").exit_code == 0  # 1350 bytes
    assert lab.docker(f"exec m1 ping -c1 -W1 -M do -s 1323 {peer}").exit_code != 0  # 1351: too long


@pytest.mark.parametrize("value, words", [
    ("x", 'failed to parse x: strconv.Atoi: parsing "x": invalid syntax'),
    ("1_400", 'failed to parse 1_400: strconv.Atoi: parsing "1_400": invalid syntax'),
    ("99999999999999999999",
     'failed to parse 99999999999999999999: strconv.Atoi: parsing "99999999999999999999": value out of range'),
    ("-1", "invalid MTU value: -1"),
])
def test_a_bad_overlay_mtu_is_refused_in_moby_words(swarm_pair, value, words):
    lab = swarm_pair
    with pytest.raises(DockerError) as err:
        lab.docker(f"network create -d overlay --attachable -o {MTU}={value} ovbad")
        # (on a real swarm the node's driver parses the option when a container joins)
        lab.docker("run -dit --name cbad --network ovbad busybox", host="host2")
    assert words in str(err.value)


def test_another_overlay_option_is_refused(swarm_pair):
    lab = swarm_pair
    with pytest.raises(DockerError) as err:
        lab.docker("network create -d overlay --attachable -o encrypted ovenc")
    assert "encrypted" in str(err.value) and MTU in str(err.value)
    assert "ovenc" not in lab.docker("network ls --format '{{.Name}}'").split()
