"""Docker's default IPAM for one host: address pools and addresses, lowest free first."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .errors import DaemonError


def default_pools() -> list[ipaddress.IPv4Network]:
    """The subnets Docker hands out, in its order (docker0 takes the first)."""
    sixteens = [ipaddress.ip_network(f"172.{n}.0.0/16") for n in range(17, 32)]
    twenties = list(ipaddress.ip_network("192.168.0.0/16").subnets(new_prefix=20))
    return sixteens + twenties


@dataclass
class Pool:
    """One network's subnet: which addresses are taken, and where containers' come from."""
    subnet: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address
    ip_range: ipaddress.IPv4Network | None = None
    user_configured: bool = False
    taken: set[ipaddress.IPv4Address] = field(default_factory=set)

    def allocate(self, wanted: str | None = None) -> ipaddress.IPv4Address:
        if wanted is not None:
            address = ipaddress.ip_address(wanted)
            if address not in self.subnet or address in (self.subnet.network_address,
                                                         self.subnet.broadcast_address):
                raise DaemonError(f"no configured subnet or ip-range contain the IP address {wanted}")
            if address in self.taken or address == self.gateway:
                raise DaemonError("Address already in use")
            self.taken.add(address)
            return address
        reserved = {self.gateway, self.subnet.network_address, self.subnet.broadcast_address}
        for address in self.ip_range or self.subnet:  # a range's own first address is allocatable
            if address not in self.taken and address not in reserved:
                self.taken.add(address)
                return address
        raise DaemonError(f"no available IPv4 addresses on this network's address pools: {self.subnet}")

    def release(self, address: ipaddress.IPv4Address) -> None:
        self.taken.discard(address)


def parse_subnet(text: str) -> ipaddress.IPv4Network:
    try:
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise DaemonError(f"invalid CIDR address: {text}") from None
    if network.version != 4:
        raise DaemonError(f"this lab's Docker hosts are IPv4-only; {text} is IPv6")
    if network.network_address != ipaddress.ip_interface(text).ip:
        raise DaemonError(f"invalid pool request: Pool {text} is not a network address; "
                          f"did you mean {network}?")
    return network


def new_pool(used: list[ipaddress.IPv4Network], subnet: str | None, gateway: str | None,
             ip_range: str | None) -> Pool:
    """The pool of a new network: the requested subnet, or the first free default one."""
    if subnet is None:
        if gateway or ip_range:
            raise DaemonError("invalid pool request: --gateway and --ip-range need --subnet")
        for candidate in default_pools():
            if not any(candidate.overlaps(u) for u in used):
                return Pool(candidate, next(candidate.hosts()))
        raise DaemonError("all predefined address pools have been fully subnetted")
    network = parse_subnet(subnet)
    if any(network.overlaps(u) for u in used):
        raise DaemonError("invalid pool request: Pool overlaps with other one on this address space")
    gw = next(network.hosts())
    if gateway is not None:
        try:
            gw = ipaddress.ip_address(gateway)
        except ValueError:
            raise DaemonError(f"invalid gateway address {gateway}") from None
        if gw not in network:
            raise DaemonError(f"invalid pool request: gateway {gateway} is not in subnet {network}")
    rng = None
    if ip_range is not None:
        rng = parse_subnet(ip_range)
        if not rng.subnet_of(network):
            raise DaemonError(f"invalid pool request: ip-range {ip_range} is not in subnet {network}")
    return Pool(network, gw, rng, user_configured=True)
