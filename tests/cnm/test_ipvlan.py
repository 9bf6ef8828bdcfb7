"""The ipvlan driver, added as one module (nethelpers/cnm/drivers/ipvlan.py): L2 and L3 modes, as
moby v27.5.1 libnetwork/drivers/ipvlan builds them (ipvlan_joinleave.go Join: L2 gives the network's
gateway; L3/L3S disable the gateway service and add a connected default route; ipvlan_endpoint.go:
no custom MAC; ipvlan_network.go: one network per parent). The kernel must have ipvlan: the VM
backend's has it; where it does not, the tests are skipped with the reason."""

from __future__ import annotations

import pytest

from nethelpers import world
from nethelpers.docker import DaemonError, DockerError

SUBNET, RANGE = "198.51.100.0/24", "198.51.100.192/27"


@pytest.fixture
def ipvlan_lab(lab):
    probe = lab.add_node("ipvlan-probe")
    probe.add_bridge("p0")
    if not probe.run("ip link add iv0 link p0 type ipvlan mode l2").ok:
        pytest.skip("this kernel has no ipvlan link type (the VM backend's has it: NETHELPERS_BACKEND=vm)")
    lab.remove_node("ipvlan-probe")
    return lab


def parent_mac(lab) -> str:
    return lab["docker-host"].run("cat /sys/class/net/eth0/address", check=True).stdout.strip()


def test_l2_containers_sit_on_the_lan_with_the_parents_mac(ipvlan_lab):
    lab = ipvlan_lab
    lab.docker(f"network create -d ipvlan --subnet {SUBNET} --gateway {world.ROUTER_LAN_IP} --ip-range {RANGE} "
               f"-o parent=eth0 lan")
    lab.docker("run -dit --name c1 --network lan busybox")
    details = lab["c1"].run("ip -d link show eth0", check=True).stdout
    assert "ipvlan  mode l2" in details
    mac = lab["c1"].run("cat /sys/class/net/eth0/address", check=True).stdout.strip()
    assert mac == parent_mac(lab)  # one MAC on the LAN for the host and its containers
    assert "198.51.100.192/24" in lab["c1"].run("ip -br addr show eth0", check=True).stdout
    assert f"default via {world.ROUTER_LAN_IP} dev eth0" in lab["c1"].run("ip route", check=True).stdout
    assert lab["c1"].run(f"ping -c 1 -W 2 {world.LAN_CLIENT_IP}").ok
    inspect = lab.docker("inspect -f '{{json .NetworkSettings.Networks.lan.MacAddress}}' c1")
    assert inspect.strip() == '""'


def test_l3_routes_out_of_the_interface_without_a_gateway(ipvlan_lab):
    lab = ipvlan_lab
    lab.docker("network create -d ipvlan --subnet 10.77.0.0/24 -o parent=eth0 -o ipvlan_mode=l3 l3net")
    lab.docker("run -dit --name r1 --network l3net busybox")
    lab.docker("run -dit --name r2 --network l3net busybox")
    routes = lab["r1"].run("ip route", check=True).stdout
    assert "default dev eth0" in routes and "via" not in routes
    assert "ipvlan  mode l3" in lab["r1"].run("ip -d link show eth0", check=True).stdout
    assert lab["r1"].run("ping -c 1 -W 2 10.77.0.3").ok  # the parent routes between its L3 slaves
    # no docker_gwbridge: L3 mode gives the sandbox its own way out (DisableGatewayService)
    assert "docker_gwbridge" not in lab.docker("network ls")
    # the LAN does not know 10.77.0.0/24 until its router has a route to it via the host
    assert not lab["r1"].run(f"ping -c 1 -W 1 {world.LAN_CLIENT_IP}").ok


def test_ipvlan_refusals_are_libnetworks(ipvlan_lab):
    lab = ipvlan_lab
    with pytest.raises(DaemonError, match="requested ipvlan mode 'l9' is not valid, 'l2' mode is the ipvlan "
                                          "driver default"):
        lab.docker("network create -d ipvlan -o parent=eth0 -o ipvlan_mode=l9 bad")
    lab.docker("network create -d ipvlan --subnet 10.78.0.0/24 -o parent=eth0 one")
    with pytest.raises(DaemonError, match="is already using parent interface eth0"):
        lab.docker("network create -d ipvlan --subnet 10.79.0.0/24 -o parent=eth0 two")
    with pytest.raises(DockerError, match="ipvlan interfaces do not support custom mac address assignment"):
        lab.docker("run -dit --name m1 --network one --mac-address 02:00:00:00:00:01 busybox")
    assert "m1" not in lab.docker("ps -a")
    with pytest.raises(DaemonError, match="loopback interface is not a valid ipvlan parent link"):
        lab.docker("network create -d ipvlan -o parent=lo three")
