"""The part of ``/etc/docker/daemon.json`` that decides addresses: ``bip`` and ``default-address-pools``.

    {"bip": "10.99.0.1/24",                                    # docker0's address and subnet
     "default-address-pools": [{"base": "10.10.0.0/16", "size": 24}]}   # where new networks come from

As dockerd reads them (moby docker-v29.7.2 daemon/config/config_linux.go ``BridgeConfig.Bip``,
libnetwork/ipamutils ``PredefinedPool``): ``bip`` is an address with its prefix length, the
gateway of docker0 (its network is docker0's subnet); each pool's ``base`` is split into subnets
of ``size`` bits, handed out in order, and docker0 takes the first free one when there is no
``bip``. A change takes effect when the daemon restarts (``DockerHost.restart_daemon``).
"""

from __future__ import annotations

import ipaddress

from ..errors import InvalidValue

KNOWN = ("bip", "default-address-pools")
MAX_SUBNETS = 65536  # a pool's subnets are listed: 10.0.0.0/8 in /24s is the most a daemon.json commonly asks


def check(config: dict | None) -> dict:
    """``config`` checked and normalised: {"bip": IPv4Interface | None, "pools": [IPv4Network, ...] | None}."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(KNOWN))
    if unknown:
        raise InvalidValue(f"daemon.json: the lab's dockerd reads only {', '.join(KNOWN)} (not {', '.join(unknown)}); "
                           f"remove the other keys")
    return {"bip": _bip(config.get("bip")), "pools": _pools(config.get("default-address-pools"))}


def _bip(text) -> ipaddress.IPv4Interface | None:
    if text is None:
        return None
    try:
        bip = ipaddress.IPv4Interface(str(text))
    except ValueError:
        raise InvalidValue(f'daemon.json: bip {text!r} is not an IPv4 address with a prefix length; '
                           f'write it as docker0\'s own address, for example "10.99.0.1/24"') from None
    if "/" not in str(text) or bip.network.prefixlen > 30:
        raise InvalidValue(f'daemon.json: bip {text!r} needs a prefix length of /30 or shorter, '
                           f'for example "10.99.0.1/24"')
    if bip.ip in (bip.network.network_address, bip.network.broadcast_address):
        raise InvalidValue(f"daemon.json: bip {text!r} is the {'network' if bip.ip == bip.network.network_address else 'broadcast'} "
                           f"address of {bip.network}: bip is docker0's own address, such as "
                           f"{bip.network.network_address + 1}/{bip.network.prefixlen}")
    return bip


def _pools(value) -> list[ipaddress.IPv4Network] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise InvalidValue('daemon.json: default-address-pools is a list such as [{"base": "10.10.0.0/16", "size": 24}]')
    subnets: list[ipaddress.IPv4Network] = []
    for pool in value:
        if not isinstance(pool, dict) or set(pool) != {"base", "size"}:
            raise InvalidValue(f'daemon.json: each default address pool is {{"base": CIDR, "size": BITS}}, not {pool!r}')
        try:  # host bits are masked off, as moby's splitByIPFamily does (10.10.1.0/16 -> 10.10.0.0/16)
            base = ipaddress.IPv4Network(str(pool["base"]), strict=False)
        except ValueError:
            raise InvalidValue(f"daemon.json: pool base {pool['base']!r} is not an IPv4 network address "
                               f"such as 10.10.0.0/16") from None
        size = pool["size"]
        if not isinstance(size, int) or not base.prefixlen <= size <= 30:
            raise InvalidValue(f"daemon.json: pool size {size!r} must be a number of bits from the base's "
                               f"{base.prefixlen} to 30 (the size of each network made from {base})")
        if 2 ** (size - base.prefixlen) > MAX_SUBNETS:
            raise InvalidValue(f"daemon.json: {base} in /{size} networks makes {2 ** (size - base.prefixlen)} "
                               f"of them; the lab takes up to {MAX_SUBNETS}: use a larger size")
        subnets += base.subnets(new_prefix=size)
    return subnets

