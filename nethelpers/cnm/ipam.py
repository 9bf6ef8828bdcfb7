"""libnetwork's IPAM contract and its default driver (``ipams/defaultipam``).

The five calls of the contract, with the remote protocol's names and JSON shapes:
``GetDefaultAddressSpaces``, ``RequestPool``, ``ReleasePool``, ``RequestAddress``,
``ReleaseAddress``. A pool's ID is ``ADDRESS-SPACE/SUBNET[/SUBPOOL]``, as libnetwork's;
addresses are handed out lowest free first from the sub-pool if there is one, the gateway's
too (a sub-pool's own first address included);
the network and broadcast addresses are never handed out. Messages are libnetwork's
(moby v27.5.1 ``libnetwork/ipamapi/contract.go``, ``ipams/defaultipam``).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .errors import Forbidden, InvalidParameter

GATEWAY_OPTION = ("RequestAddressType", "com.docker.network.gateway")  # ipamapi / netlabel
AVOID_OPTION = "lab.avoid"  # RequestPool option: subnets the lab keeps free (its LAN), comma-separated
# RequestPool option: subnets a pool handed out must not overlap, comma-separated (libnetwork's
# PoolRequest.Exclude: the host's on-link routes, moby docker-v29.7.2 ipams/defaultipam); an
# explicit subnet may overlap them, as in Docker
RESERVED_OPTION = "lab.reserved"


def default_pools() -> list[ipaddress.IPv4Network]:
    """The subnets Docker hands out, in its order (docker0 takes the first)."""
    sixteens = [ipaddress.ip_network(f"172.{n}.0.0/16") for n in range(17, 32)]
    twenties = list(ipaddress.ip_network("192.168.0.0/16").subnets(new_prefix=20))
    return sixteens + twenties


@dataclass
class Pool:
    """One pool: its subnet, the sub-pool addresses come from, and the addresses taken."""
    subnet: ipaddress.IPv4Network
    sub_pool: ipaddress.IPv4Network | None = None
    taken: set = field(default_factory=set)

    def first_free(self) -> ipaddress.IPv4Address:
        reserved = {self.subnet.network_address, self.subnet.broadcast_address}
        for address in self.sub_pool or self.subnet:
            if address not in self.taken and address not in reserved:
                return address
        raise InvalidParameter(f"no available IPv4 addresses on this network's address pools: {self.subnet}",
                               f"release an address or use a larger subnet than {self.subnet}")


class DefaultIpam:
    """libnetwork's built-in IPAM: local and global address spaces, Docker's default pools.

    Args:
        pools: the subnets handed out when a request names none (default: Docker's,
            172.17.0.0/16 first).
        spaces: the names of the local and global default address spaces.
    """

    def __init__(self, pools: list | None = None,
                 spaces: tuple[str, str] = ("LocalDefault", "GlobalDefault")) -> None:
        self.defaults = [ipaddress.ip_network(p) for p in pools] if pools else default_pools()
        self.spaces = spaces
        self.pools: dict[str, Pool] = {}

    def capabilities(self, req=None) -> dict:
        return {"RequiresMACAddress": False, "RequiresRequestReplay": False}

    def get_default_address_spaces(self, req=None) -> dict:
        return {"LocalDefaultAddressSpace": self.spaces[0], "GlobalDefaultAddressSpace": self.spaces[1]}

    def request_pool(self, req: dict) -> dict:
        """``{"AddressSpace", "Pool", "SubPool", "Options", "V6"}`` -> ``{"PoolID", "Pool", "Data"}``."""
        space, pool, sub = req.get("AddressSpace") or "", req.get("Pool") or "", req.get("SubPool") or ""
        what = f'failed to parse pool request for address space "{space}" pool "{pool}" subpool "{sub}"'
        if not space:
            raise InvalidParameter(f"{what}: invalid address space", "name an address space")
        if space not in self.spaces:
            raise InvalidParameter(f"cannot find address space {space}",
                                   f"use {self.spaces[0]} or {self.spaces[1]}")
        if req.get("V6"):
            raise InvalidParameter("this lab's IPAM is IPv4-only", "leave V6 false")
        if not pool and sub:
            raise InvalidParameter(f"{what}: invalid address subpool", "give the Pool the SubPool belongs to")
        used = [p.subnet for k, p in self.pools.items() if k.startswith(space + "/")]
        avoid = [ipaddress.ip_network(s) for s in ((req.get("Options") or {}).get(AVOID_OPTION) or "").split(",")
                 if s]
        reserved = [ipaddress.ip_network(s) for s in ((req.get("Options") or {}).get(RESERVED_OPTION) or "").split(",")
                    if s]
        if not pool:
            for candidate in self.defaults:
                if not any(candidate.overlaps(u) for u in used + avoid + reserved):
                    return self._add(space, candidate, None)
            raise InvalidParameter("all predefined address pools have been fully subnetted",
                                   "release a pool or ask for an explicit one")
        try:
            subnet = ipaddress.ip_network(pool, strict=False)
            child = ipaddress.ip_network(sub, strict=False) if sub else None
        except ValueError:
            raise InvalidParameter(f"{what}: invalid address pool", "give a CIDR such as 10.1.0.0/24") from None
        if subnet.version != 4 or (child and child.version != 4):
            raise InvalidParameter("this lab's IPAM is IPv4-only", f"{pool} is IPv6")
        if child and not child.subnet_of(subnet):
            raise InvalidParameter(f"{what}: invalid address subpool", f"{sub} is not inside {subnet}")
        # the same pool again overlaps too (moby v27.5.1 ipams/defaultipam/address_space.go, allocateSubnet)
        if any(subnet.overlaps(u) for u in used + avoid):
            raise Forbidden("invalid pool request: Pool overlaps with other one on this address space",
                            f"choose a subnet that overlaps none of {', '.join(map(str, used + avoid))}")
        return self._add(space, subnet, child)

    def _key(self, space, subnet, child) -> str:
        return f"{space}/{subnet}" + (f"/{child}" if child else "")

    def _add(self, space, subnet, child) -> dict:
        key = self._key(space, subnet, child)
        self.pools[key] = Pool(subnet, child)
        return {"PoolID": key, "Pool": str(subnet), "Data": {}}

    def pool(self, pool_id: str) -> Pool:
        """The pool ``pool_id`` names (InvalidParameter if none)."""
        if pool_id not in self.pools:
            raise InvalidParameter(f"invalid pool id: {pool_id}", "use a PoolID that RequestPool returned")
        return self.pools[pool_id]

    def release_pool(self, req: dict) -> dict:
        self.pool(req.get("PoolID", ""))
        del self.pools[req["PoolID"]]
        return {}

    def request_address(self, req: dict) -> dict:
        """``{"PoolID", "Address", "Options"}`` -> ``{"Address": "A.B.C.D/LEN", "Data"}``."""
        pool = self.pool(req.get("PoolID", ""))
        if req.get("Address"):
            try:
                address = ipaddress.ip_address(req["Address"])
            except ValueError:
                raise InvalidParameter(f"invalid preferred address: {req['Address']}",
                                       "give an address such as 10.1.0.5") from None
            if address not in pool.subnet:
                raise InvalidParameter("requested address is out of range", f"{address} is not in {pool.subnet}")
            if address in pool.taken:
                raise Forbidden("Address already in use", f"{address} is taken; ask for another or for none")
        else:
            # a gateway too comes from the sub-pool (--ip-range) when there is one: the pool ID
            # names it, and getAddress searches SubnetRange(base, ipr) whatever the request type
            # (moby v27.5.1 libnetwork/ipams/defaultipam/allocator.go getAddress, address_space.go
            # requestAddress; the same at docker-v29.7.2 daemon/libnetwork/ipams/defaultipam)
            address = pool.first_free()
        pool.taken.add(address)
        return {"Address": f"{address}/{pool.subnet.prefixlen}", "Data": {}}

    def release_address(self, req: dict) -> dict:
        pool = self.pool(req.get("PoolID", ""))
        try:
            pool.taken.discard(ipaddress.ip_address(req.get("Address", "")))
        except ValueError:
            raise InvalidParameter(f"invalid address: {req.get('Address')}", "give an IPv4 address") from None
        return {}
