"""--ip-range without --gateway: the gateway comes from the range.

moby v27.5.1 libnetwork/network.go ipamAllocateVersion asks RequestAddress(d.PoolID, nil,
{RequestAddressType: gateway}) with the pool ID RequestPool returned, which names the sub-pool;
libnetwork/ipams/defaultipam/address_space.go requestAddress passes that sub-pool to
allocator.go getAddress, which searches SubnetRange(base, ipr) for the lowest free address,
whatever the request type. docker-v29.7.2 daemon/libnetwork/network.go and
daemon/libnetwork/ipams/defaultipam do the same. The subnet's network and broadcast addresses
are never handed out (newPoolData sets their bits).
"""

from __future__ import annotations

from nethelpers.cnm.ipam import GATEWAY_OPTION, DefaultIpam


def _pool(ipam: DefaultIpam, subnet: str, sub: str = "") -> str:
    return ipam.request_pool({"AddressSpace": "LocalDefault", "Pool": subnet, "SubPool": sub})["PoolID"]


def _address(ipam: DefaultIpam, pool_id: str, gateway: bool = False) -> str:
    options = dict([GATEWAY_OPTION]) if gateway else None
    return ipam.request_address({"PoolID": pool_id, "Options": options})["Address"]


def test_gateway_is_the_first_address_of_the_range():
    ipam = DefaultIpam()
    pool_id = _pool(ipam, "10.10.0.0/24", "10.10.0.128/25")
    assert _address(ipam, pool_id, gateway=True) == "10.10.0.128/24"
    assert _address(ipam, pool_id) == "10.10.0.129/24"


def test_a_range_at_the_start_of_the_subnet_skips_the_network_address():
    ipam = DefaultIpam()
    pool_id = _pool(ipam, "10.10.0.0/24", "10.10.0.0/25")
    assert _address(ipam, pool_id, gateway=True) == "10.10.0.1/24"


def test_without_a_range_the_gateway_is_the_subnets_first_address():
    ipam = DefaultIpam()
    pool_id = _pool(ipam, "10.10.0.0/24")
    assert _address(ipam, pool_id, gateway=True) == "10.10.0.1/24"


def test_network_create_with_a_range_and_no_gateway(lab):
    """The bridge gets the range's first address, the containers the next ones, and the
    gateway answers a ping from a container."""
    lab.docker("network create --subnet 10.10.0.0/24 --ip-range 10.10.0.128/25 n1")
    lab.docker("run -dit --name c1 --network n1 busybox")
    config = lab.docker("network inspect -f '{{json .IPAM.Config}}' n1")
    assert '"Gateway":"10.10.0.128"' in config.replace(" ", "") and '"IPRange":"10.10.0.128/25"' in config
    assert lab.docker("inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{.Gateway}}{{end}}' c1") \
        .strip() == "10.10.0.129 10.10.0.128"
    assert lab.docker("exec c1 ping -c1 -W2 10.10.0.128").exit_code == 0
