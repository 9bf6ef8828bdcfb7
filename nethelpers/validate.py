"""Checks of the caller's input, done before anything reaches the kernel."""

from __future__ import annotations

import ipaddress
import re

from .errors import InvalidAddress, InvalidName, InvalidValue

IFNAMSIZ = 15
_NODE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


def node_name(name: str) -> str:
    if not isinstance(name, str) or not _NODE_NAME.match(name):
        raise InvalidName(f"node name {name!r} is not usable: use 1-64 letters, digits, '.', '_' "
                          f"or '-', starting with a letter or digit (e.g. 'host1', 'c1')")
    return name


def ifname(name: str) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidName(f"interface name {name!r} is empty; give it a name such as 'eth0'")
    if len(name.encode()) > IFNAMSIZ:
        raise InvalidName(f"interface name {name!r} has {len(name.encode())} characters; Linux allows "
                          f"at most {IFNAMSIZ} (IFNAMSIZ-1). Shorten it, e.g. {name[:IFNAMSIZ]!r}")
    if name in (".", "..") or any(c in name for c in "/: \t\n"):
        raise InvalidName(f"interface name {name!r} may not contain '/', ':' or spaces, "
                          f"nor be '.' or '..'")
    return name


def cidr(text: str, *, what: str = "address") -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """An address with its prefix, e.g. '10.0.0.2/24', that names a usable host."""
    if not isinstance(text, str) or "/" not in text:
        raise InvalidAddress(f"{what} {text!r} needs a prefix length, e.g. '10.0.0.2/24'")
    try:
        iface = ipaddress.ip_interface(text)
    except ValueError as exc:
        raise InvalidAddress(f"{what} {text!r} is not a valid CIDR ({exc}); write it like '10.0.0.2/24'") from None
    net = iface.network
    if iface.version == 4 and net.prefixlen < 31:
        if iface.ip == net.network_address:
            raise InvalidAddress(f"{text} is the network address of {net}, not a host address; "
                                 f"use the first host, {net.network_address + 1}/{net.prefixlen}")
        if iface.ip == net.broadcast_address:
            raise InvalidAddress(f"{text} is the broadcast address of {net}, not a host address; "
                                 f"use {net.broadcast_address - 1}/{net.prefixlen}")
    return iface


def network(text: str) -> str:
    """A destination network such as '10.1.0.0/16' or 'default'."""
    if text == "default":
        return text
    try:
        return str(ipaddress.ip_network(text))
    except ValueError:
        try:
            ipaddress.ip_network(text, strict=False)
        except ValueError as exc:
            raise InvalidAddress(f"destination {text!r} is not a network ({exc}); write it like "
                                 f"'10.1.0.0/16' or 'default'") from None
        fixed = ipaddress.ip_network(text, strict=False)
        raise InvalidAddress(f"destination {text!r} has host bits set; the network is {fixed}") from None


def ip(text: str, *, what: str = "address") -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise InvalidAddress(f"{what} {text!r} is not an IP address (write it like '10.0.0.1', "
                             f"without a prefix)") from None


def mac(text: str) -> str:
    if not isinstance(text, str) or not _MAC.match(text):
        raise InvalidAddress(f"MAC address {text!r} is malformed; write six hex pairs like "
                             f"'02:42:ac:11:00:02'")
    return text.lower()


def number(value, *, what: str, low: int, high: int) -> int:
    if not isinstance(value, int) or not low <= value <= high:
        raise InvalidValue(f"{what} {value!r} is out of range; it must be an integer "
                             f"from {low} to {high}")
    return value


def mtu(value: int | None) -> int | None:
    return None if value is None else number(value, what="MTU", low=68, high=65535)
