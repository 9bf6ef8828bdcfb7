"""``docker network create --subnet/--gateway/--ip-range``, checked as the daemon's API does
before libnetwork's IPAM sees them (moby v27.5.1 ``daemon/network.go``, ``api/types/network``),
and ``--ip``, checked against the network's subnet (``api/types/network/endpoint.go``)."""

from __future__ import annotations

import ipaddress

from .errors import DaemonError


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise DaemonError(f"invalid CIDR address: {text}") from None
    if network.version != 4:
        raise DaemonError(f"this lab's Docker hosts are IPv4-only; {text} is IPv6")
    if network.network_address != ipaddress.ip_interface(text).ip:
        raise DaemonError(f"invalid pool request: Pool {text} is not a network address; did you mean {network}?")
    return network


def check(subnet: str | None, gateway: str | None, ip_range: str | None) -> None:
    """Refuse an IPAM configuration Docker refuses (before anything is made)."""
    if subnet is None:
        if gateway or ip_range:
            raise DaemonError("invalid pool request: --gateway and --ip-range need --subnet")
        return
    network = parse_subnet(subnet)
    if gateway is not None:
        try:
            gw = ipaddress.ip_address(gateway)
        except ValueError:
            raise DaemonError(f"invalid gateway address {gateway}") from None
        if gw not in network:
            raise DaemonError(f"invalid pool request: gateway {gateway} is not in subnet {network}")
    if ip_range is not None and not parse_subnet(ip_range).subnet_of(network):
        raise DaemonError(f"invalid pool request: ip-range {ip_range} is not in subnet {network}")


def check_endpoint_ip(net, ip: str) -> None:
    """``--ip``: inside the network's subnet, not its network or broadcast address."""
    subnet = ipaddress.ip_network(net.subnet)
    address = ipaddress.ip_address(ip)
    if address not in subnet or address in (subnet.network_address, subnet.broadcast_address):
        raise DaemonError(f"no configured subnet or ip-range contain the IP address {ip}")
