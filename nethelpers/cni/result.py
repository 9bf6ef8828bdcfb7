"""Checking a plugin's ADD result against SPEC 1.1.0 section 5 ("ADD Success").

``problems(result)`` lists what is wrong (an empty list when the result is valid);
the runtime refuses a result with problems, as libcni refuses one it cannot decode.
"""

from __future__ import annotations

import ipaddress

_INTERFACE_STR = ("name", "mac", "sandbox", "socketPath", "pciID")
_ROUTE_UINT = ("mtu", "advmss", "priority", "table", "scope")
_DNS_LISTS = ("nameservers", "search", "options")


def problems(result, cni_version: str | None = None) -> list[str]:
    """What makes ``result`` not a valid ADD result (empty list: valid)."""
    if not isinstance(result, dict):
        return [f"the result is a {type(result).__name__}, not a JSON object"]
    found = []
    version = result.get("cniVersion")
    if not isinstance(version, str):
        found.append("cniVersion is missing")
    elif cni_version and version != cni_version:
        found.append(f"cniVersion is {version!r}, the request said {cni_version!r}")
    interfaces = result.get("interfaces", [])
    found += _list_of(interfaces, "interfaces", _interface)
    count = len(interfaces) if isinstance(interfaces, list) else 0
    found += _list_of(result.get("ips", []), "ips", lambda i, ip: _ip(i, ip, count))
    found += _list_of(result.get("routes", []), "routes", _route)
    found += _dns(result.get("dns", {}))
    return found


def _list_of(value, key: str, check) -> list[str]:
    if not isinstance(value, list):
        return [f"{key} is a {type(value).__name__}, not a list"]
    found = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            found.append(f"{key}[{i}] is not an object")
        else:
            found += check(i, item)
    return found


def _interface(i: int, iface: dict) -> list[str]:
    found = [] if isinstance(iface.get("name"), str) and iface.get("name") else [f"interfaces[{i}] has no name"]
    for key in _INTERFACE_STR:
        if key in iface and not isinstance(iface[key], str):
            found.append(f"interfaces[{i}].{key} is not a string")
    if "mtu" in iface and not _uint(iface["mtu"]):
        found.append(f"interfaces[{i}].mtu is not an unsigned integer")
    return found


def _ip(i: int, ip: dict, interfaces: int) -> list[str]:
    found = []
    try:
        ipaddress.ip_interface(ip.get("address"))
        if "/" not in ip.get("address"):
            raise ValueError
    except (TypeError, ValueError):
        found.append(f"ips[{i}].address {ip.get('address')!r} is not an address in CIDR notation")
    if "gateway" in ip and not _is_ip(ip["gateway"]):
        found.append(f"ips[{i}].gateway {ip['gateway']!r} is not an IP address")
    if "interface" in ip and not (_uint(ip["interface"]) and ip["interface"] < interfaces):
        found.append(f"ips[{i}].interface {ip['interface']!r} is not an index into interfaces "
                     f"(which has {interfaces})")
    return found


def _route(i: int, route: dict) -> list[str]:
    found = []
    try:
        ipaddress.ip_network(route.get("dst"), strict=False)
    except (TypeError, ValueError):
        found.append(f"routes[{i}].dst {route.get('dst')!r} is not in CIDR notation")
    if "gw" in route and not _is_ip(route["gw"]):
        found.append(f"routes[{i}].gw {route['gw']!r} is not an IP address")
    for key in _ROUTE_UINT:
        if key in route and not _uint(route[key]):
            found.append(f"routes[{i}].{key} is not an unsigned integer")
    return found


def _dns(dns) -> list[str]:
    if not isinstance(dns, dict):
        return ["dns is not an object"]
    found = []
    for key in _DNS_LISTS:
        if key in dns and not (isinstance(dns[key], list) and all(isinstance(x, str) for x in dns[key])):
            found.append(f"dns.{key} is not a list of strings")
    for server in dns.get("nameservers", []) if isinstance(dns.get("nameservers"), list) else []:
        if not _is_ip(server):
            found.append(f"dns.nameservers has {server!r}, not an IP address")
    if "domain" in dns and not isinstance(dns["domain"], str):
        found.append("dns.domain is not a string")
    return found


def _uint(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_ip(value) -> bool:
    try:
        ipaddress.ip_address(value)
        return True
    except (TypeError, ValueError):
        return False
