"""Reading a node's live kernel state back as plain Python data.

Everything here comes from netlink dumps (decoded by pyroute2), never from the
lab's own records: what the learner changed by hand with ``ip`` shows up too.
"""

from __future__ import annotations

import socket
import struct

from . import rtnl

AF_BRIDGE = 7
NUD_NAMES = {0x01: "INCOMPLETE", 0x02: "REACHABLE", 0x04: "STALE", 0x08: "DELAY", 0x10: "PROBE",
             0x20: "FAILED", 0x40: "NOARP", 0x80: "PERMANENT"}


def _linkinfo(msg) -> tuple[str | None, dict]:
    info = msg.get_attr("IFLA_LINKINFO")
    if not info:
        return None, {}
    kind = info.get_attr("IFLA_INFO_KIND")
    data = info.get_attr("IFLA_INFO_DATA")
    details = {}
    if kind == "vxlan" and data is not None:
        details = {"vni": data.get_attr("IFLA_VXLAN_ID"), "port": data.get_attr("IFLA_VXLAN_PORT"),
                   "local": data.get_attr("IFLA_VXLAN_LOCAL"), "remote": data.get_attr("IFLA_VXLAN_GROUP"),
                   "learning": bool(data.get_attr("IFLA_VXLAN_LEARNING"))}
    elif kind == "macvlan" and data is not None:
        mode = data.get_attr("IFLA_MACVLAN_MODE")
        details = {"mode": {v: k for k, v in rtnl.MACVLAN_MODES.items()}.get(mode, mode)}
    return kind, details


def links(nl: rtnl.Netlink) -> list[dict]:
    msgs = nl.dump(rtnl.RTM_GETLINK, rtnl.ifinfomsg())
    names = {m["index"]: m.get_attr("IFLA_IFNAME") for m in msgs}
    result = []
    for m in msgs:
        kind, details = _linkinfo(m)
        master = m.get_attr("IFLA_MASTER")
        nsid = m.get_attr("IFLA_LINK_NETNSID")
        peer_index = m.get_attr("IFLA_LINK")
        if nsid is None and peer_index == m["index"]:
            peer_index = None  # some devices name themselves as their link
        entry = {
            "index": m["index"], "name": m.get_attr("IFLA_IFNAME"), "kind": kind or (
                "loopback" if m.get_attr("IFLA_IFNAME") == "lo" else "device"),
            "mac": m.get_attr("IFLA_ADDRESS"), "mtu": m.get_attr("IFLA_MTU"),
            "up": bool(m["flags"] & 1), "state": m.get_attr("IFLA_OPERSTATE"),
            "master": names.get(master) if master else None,
            "link_index": peer_index or None,
            "link_netnsid": nsid,
            "link": names.get(peer_index) if peer_index and nsid is None else None,
        }
        entry.update(details)
        result.append(entry)
    return result


def addresses(nl: rtnl.Netlink, names: dict[int, str]) -> list[dict]:
    return [{"dev": names.get(m["index"]), "family": "inet" if m["family"] == socket.AF_INET else "inet6",
             "address": f"{m.get_attr('IFA_LOCAL') or m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}"}
            for m in nl.dump(rtnl.RTM_GETADDR, bytes(8))]


def routes(nl: rtnl.Netlink, names: dict[int, str]) -> list[dict]:
    result = []
    for m in nl.dump(rtnl.RTM_GETROUTE, bytes(12)):
        if m["table"] != 254 or m["family"] != socket.AF_INET:
            continue
        dst = m.get_attr("RTA_DST")
        result.append({"dst": f"{dst}/{m['dst_len']}" if dst else "default",
                       "via": m.get_attr("RTA_GATEWAY"), "dev": names.get(m.get_attr("RTA_OIF")),
                       "src": m.get_attr("RTA_PREFSRC")})
    return result


def neighbours(nl: rtnl.Netlink, names: dict[int, str]) -> list[dict]:
    """ARP/NDP entries (failed and no-ARP ones left out)."""
    result = []
    for family in (socket.AF_INET, socket.AF_INET6):
        for m in nl.dump(rtnl.RTM_GETNEIGH, struct.pack("BxxxiHBB", family, 0, 0, 0, 0)):
            if m.get_attr("NDA_DST") and m["state"] not in (0x20, 0x40):
                result.append({"ip": m.get_attr("NDA_DST"), "mac": m.get_attr("NDA_LLADDR"),
                               "dev": names.get(m["ifindex"]), "state": NUD_NAMES.get(m["state"], hex(m["state"]))})
    return result


def fdb(nl: rtnl.Netlink, names: dict[int, str]) -> list[dict]:
    """Bridge and VXLAN forwarding entries (multicast ones left out)."""
    result = []
    for m in nl.dump(rtnl.RTM_GETNEIGH, struct.pack("BxxxiHBB", AF_BRIDGE, 0, 0, 0, 0)):
        mac = m.get_attr("NDA_LLADDR")
        if not mac or int(mac[:2], 16) & 1:
            continue
        master = m.get_attr("NDA_MASTER")
        result.append({"mac": mac, "dev": names.get(m["ifindex"]),
                       "master": names.get(master) if master else None,
                       "dst": m.get_attr("NDA_DST"), "vni": m.get_attr("NDA_VNI"),
                       "state": NUD_NAMES.get(m["state"], hex(m["state"]))})
    return result


def snapshot(nl: rtnl.Netlink) -> dict:
    link_list = links(nl)
    names = {link["index"]: link["name"] for link in link_list}
    return {"links": link_list, "addresses": addresses(nl, names), "routes": routes(nl, names),
            "neighbours": neighbours(nl, names), "fdb": fdb(nl, names)}
