"""rtnetlink: the requests the lab sends, and the dumps it reads back.

Requests are encoded here with ``struct``: building a veth with pyroute2's
message classes costs ~160 µs of Python per message, which alone would use a
tenth of the lab's 2 ms-per-container budget. Replies to dumps are decoded by
pyroute2's parsers, which know every attribute the kernel can send.

A :class:`Netlink` socket belongs to the network namespace it was opened in, so
the sandbox keeps one per node and never has to fork to reach a namespace.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

# message types
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEIGH, RTM_DELNEIGH, RTM_GETNEIGH = 28, 29, 30
RTM_GETNSID = 90
NLMSG_ERROR, NLMSG_DONE = 2, 3

# header flags
F_REQUEST, F_ACK, F_DUMP = 0x1, 0x4, 0x300
F_EXCL, F_CREATE, F_APPEND = 0x200, 0x400, 0x800
NEW = F_REQUEST | F_ACK | F_CREATE | F_EXCL

# link attributes
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK, IFLA_MASTER = 1, 3, 4, 5, 10
IFLA_LINKINFO, IFLA_GROUP, IFLA_NET_NS_FD, IFLA_EXT_MASK = 18, 27, 28, 29
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFLA_VXLAN_ID, IFLA_VXLAN_GROUP, IFLA_VXLAN_LINK, IFLA_VXLAN_LOCAL = 1, 2, 3, 4
IFLA_VXLAN_TTL, IFLA_VXLAN_LEARNING, IFLA_VXLAN_PORT = 5, 7, 15
IFLA_VXLAN_PROXY, IFLA_VXLAN_L2MISS, IFLA_VXLAN_L3MISS = 11, 13, 14
IFLA_MACVLAN_MODE = 1
MACVLAN_MODES = {"private": 1, "vepa": 2, "bridge": 4, "passthru": 8}
IFLA_IPVLAN_MODE = 1
IFLA_VLAN_ID = 1
IPVLAN_MODES = {"l2": 0, "l3": 1, "l3s": 2}
IFF_UP = 0x1

IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_TABLE = 1, 4, 5, 15
RTPROT_BOOT = 3
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253
RTN_UNICAST = 1
NDA_DST, NDA_LLADDR, NDA_VNI = 1, 2, 7
NUD_PERMANENT = 0x80
NTF_SELF, NTF_MASTER = 0x02, 0x04
NETNSA_FD, NETNSA_NSID = 3, 1


class NetlinkError(OSError):
    """The kernel answered a request with an error code."""


def attr(kind: int, payload: bytes) -> bytes:
    """One netlink attribute (TLV), padded to 4 bytes."""
    length = 4 + len(payload)
    return struct.pack("HH", length, kind) + payload + b"\0" * (-length % 4)


def string(text: str) -> bytes:
    return text.encode() + b"\0"


def u32(value: int) -> bytes:
    return struct.pack("I", value)


def u16(value: int) -> bytes:
    return struct.pack("H", value)


def be16(value: int) -> bytes:
    return struct.pack("!H", value)


def mac_bytes(mac: str) -> bytes:
    return bytes(int(part, 16) for part in mac.split(":"))


def ifinfomsg(index: int = 0, up: bool | None = None) -> bytes:
    flags = IFF_UP if up else 0
    change = IFF_UP if up is not None else 0
    return struct.pack("BxHiII", socket.AF_UNSPEC, 0, index, flags, change)


def _family(ip) -> int:
    return socket.AF_INET if ip.version == 4 else socket.AF_INET6


class Netlink:
    """A NETLINK_ROUTE socket in one network namespace."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.seq = 0

    def close(self) -> None:
        self.sock.close()

    def request(self, kind: int, body: bytes, flags: int = F_REQUEST | F_ACK) -> bytes | None:
        """Send one message and wait for its answer; raise NetlinkError on failure."""
        self.seq += 1
        self.sock.send(struct.pack("IHHII", 16 + len(body), kind, flags, self.seq, 0) + body)
        while True:
            data = self.sock.recv(1 << 16)
            _, mtype, _, seq, _ = struct.unpack_from("IHHII", data)
            if seq != self.seq:
                continue  # a late answer to an earlier request; not ours
            if mtype == NLMSG_ERROR:
                code = struct.unpack_from("i", data, 16)[0]
                if code:
                    raise NetlinkError(-code, os.strerror(-code))
                return None
            return data

    def dump(self, kind: int, body: bytes) -> list:
        """Send a dump request and return pyroute2-decoded messages."""
        from pyroute2.netlink.rtnl.marshal import MarshalRtnl

        marshal = MarshalRtnl()
        return [msg for _, raw in self._raw_dump(kind, body) for msg in marshal.parse(raw)]

    # --- links ------------------------------------------------------------
    def link_index(self, name: str) -> int:
        """ifindex of ``name`` in this namespace (ENODEV if absent)."""
        reply = self.request(RTM_GETLINK, ifinfomsg() + attr(IFLA_IFNAME, string(name))
                             + attr(IFLA_EXT_MASK, u32(0)), F_REQUEST)
        return struct.unpack_from("i", reply, 20)[0]

    def link_add(self, name: str, kind: str, *, info_data: bytes = b"", up: bool = False,
                 extra: bytes = b"") -> None:
        linkinfo = attr(IFLA_INFO_KIND, string(kind))
        if info_data:
            linkinfo += attr(IFLA_INFO_DATA, info_data)
        self.request(RTM_NEWLINK, ifinfomsg(up=up or None) + attr(IFLA_IFNAME, string(name))
                     + extra + attr(IFLA_LINKINFO, linkinfo), NEW)

    def link_set(self, name: str, *, up: bool | None = None, master: int | None = None,
                 mtu: int | None = None, mac: str | None = None, group: int | None = None,
                 netns_fd: int | None = None) -> None:
        attrs = attr(IFLA_IFNAME, string(name))
        if master is not None:
            attrs += attr(IFLA_MASTER, u32(master))
        if mtu is not None:
            attrs += attr(IFLA_MTU, u32(mtu))
        if mac is not None:
            attrs += attr(IFLA_ADDRESS, mac_bytes(mac))
        if group is not None:
            attrs += attr(IFLA_GROUP, u32(group))
        if netns_fd is not None:
            attrs += attr(IFLA_NET_NS_FD, u32(netns_fd))
        self.request(RTM_NEWLINK, ifinfomsg(up=up) + attrs)

    def has_link(self, name: str) -> bool:
        try:
            self.link_index(name)
        except NetlinkError as exc:
            if exc.errno == errno.ENODEV:
                return False
            raise
        return True

    def link_rename(self, index: int, name: str) -> None:
        """Rename a link (it must be down)."""
        self.request(RTM_NEWLINK, ifinfomsg(index) + attr(IFLA_IFNAME, string(name)))

    def link_del(self, name: str) -> None:
        self.request(RTM_DELLINK, ifinfomsg() + attr(IFLA_IFNAME, string(name)))

    def group_del(self, group: int) -> None:
        """Delete every link in ``group`` with one request (one RCU grace period)."""
        self.request(RTM_DELLINK, ifinfomsg() + attr(IFLA_GROUP, u32(group)))

    # --- addresses, routes, neighbours -------------------------------------
    def addr(self, add: bool, index: int, iface: ipaddress.IPv4Interface | ipaddress.IPv6Interface) -> None:
        ip, net = iface.ip, iface.network
        body = struct.pack("BBBBI", _family(ip), net.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
        body += attr(IFA_LOCAL, ip.packed) + attr(IFA_ADDRESS, ip.packed)
        if ip.version == 4 and net.prefixlen < 31:
            body += attr(IFA_BROADCAST, net.broadcast_address.packed)
        self.request(RTM_NEWADDR if add else RTM_DELADDR, body, NEW if add else F_REQUEST | F_ACK)

    def route(self, add: bool, dst: ipaddress.IPv4Network | ipaddress.IPv6Network, *,
              via=None, oif: int | None = None, table: int = 254) -> None:
        scope = RT_SCOPE_LINK if via is None else RT_SCOPE_UNIVERSE
        proto = RTPROT_BOOT
        body = struct.pack("BBBBBBBBI", _family(dst.network_address), dst.prefixlen, 0, 0,
                           table if table < 256 else 252, proto, scope, RTN_UNICAST, 0)
        if dst.prefixlen:
            body += attr(RTA_DST, dst.network_address.packed)
        if via is not None:
            body += attr(RTA_GATEWAY, via.packed)
        if oif is not None:
            body += attr(RTA_OIF, u32(oif))
        if table >= 256:
            body += attr(RTA_TABLE, u32(table))
        self.request(RTM_NEWROUTE if add else RTM_DELROUTE, body, NEW if add else F_REQUEST | F_ACK)

    def neigh(self, add: bool, index: int, *, mac: str, ip=None, bridge: bool = False,
              master: bool = False, vni: int | None = None) -> None:
        """A permanent neighbour (ARP/NDP) entry, or with ``bridge`` an FDB entry."""
        family = socket.AF_BRIDGE if bridge else _family(ip)
        flags = (NTF_MASTER if master else NTF_SELF) if bridge else 0
        body = struct.pack("BxxxiHBB", family, index, NUD_PERMANENT, flags, 0)
        body += attr(NDA_LLADDR, mac_bytes(mac))
        if ip is not None:
            body += attr(NDA_DST, ip.packed)
        if vni is not None:
            body += attr(NDA_VNI, u32(vni))
        request_flags = (F_REQUEST | F_ACK | F_CREATE | (F_APPEND if bridge else F_EXCL)) if add \
            else F_REQUEST | F_ACK
        self.request(RTM_NEWNEIGH if add else RTM_DELNEIGH, body, request_flags)

    def nsid_of(self, netns_fd: int) -> int:
        """The id this namespace uses for the namespace ``netns_fd`` (-1: none yet)."""
        reply = self.request(RTM_GETNSID, struct.pack("Bxxx", socket.AF_UNSPEC)
                             + attr(NETNSA_FD, u32(netns_fd)), F_REQUEST)
        found = dict(iter_attrs(reply, 20, len(reply)))
        return struct.unpack("i", found[NETNSA_NSID])[0] if NETNSA_NSID in found else -1

    def _raw_dump(self, kind: int, body: bytes):
        """Yield (type, message bytes) of a dump, undecoded."""
        self.seq += 1
        self.sock.send(struct.pack("IHHII", 16 + len(body), kind, F_REQUEST | F_DUMP, self.seq, 0) + body)
        while True:
            data, offset = self.sock.recv(1 << 20), 0
            while offset < len(data):
                length, mtype = struct.unpack_from("IH", data, offset)
                if mtype == NLMSG_DONE:
                    return
                if mtype == NLMSG_ERROR:
                    code = struct.unpack_from("i", data, offset + 16)[0]
                    raise NetlinkError(-code, os.strerror(-code))
                yield mtype, data[offset:offset + length]
                offset += (length + 3) & ~3

    def addresses(self) -> list[tuple[int, ipaddress.IPv4Interface | ipaddress.IPv6Interface]]:
        """(ifindex, address/prefix) of every address in this namespace; a cheap raw parse."""
        found = []
        for mtype, msg in self._raw_dump(RTM_GETADDR, struct.pack("BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0)):
            if mtype == RTM_NEWADDR:
                _, prefix, _, _, index = struct.unpack_from("BBBBI", msg, 16)
                attrs = dict(iter_attrs(msg, 24, len(msg)))
                raw = attrs.get(IFA_LOCAL, attrs.get(IFA_ADDRESS))
                if raw is not None:
                    found.append((index, ipaddress.ip_interface((ipaddress.ip_address(raw), prefix))))
        return found

    def settle(self) -> None:
        """Ask for each link once: the kernel then applies pending carrier/operstate changes
        (linkwatch, otherwise up to a second late), so what is shown next is final."""
        indexes = [struct.unpack_from("i", msg, 20)[0]
                   for mtype, msg in self._raw_dump(RTM_GETLINK, ifinfomsg()) if mtype == RTM_NEWLINK]
        for index in indexes:
            try:
                self.request(RTM_GETLINK, ifinfomsg(index=index) + attr(IFLA_EXT_MASK, u32(0)), F_REQUEST)
            except NetlinkError:
                pass  # gone meanwhile


def iter_attrs(data: bytes, offset: int, end: int):
    """Yield (type, payload) of the attributes between offset and end."""
    while offset + 4 <= end:
        length, kind = struct.unpack_from("HH", data, offset)
        if length < 4:
            return
        yield kind & 0x3FFF, data[offset + 4:offset + length]
        offset += (length + 3) & ~3


def vxlan_info(vni: int, *, local=None, remote=None, dev_index: int | None = None,
               port: int = 4789, learning: bool = False, ttl: int | None = None,
               proxy: bool = False, l2miss: bool = False, l3miss: bool = False) -> bytes:
    data = attr(IFLA_VXLAN_ID, u32(vni)) + attr(IFLA_VXLAN_PORT, be16(port))
    data += attr(IFLA_VXLAN_LEARNING, bytes([int(learning)]))
    for flag, on in ((IFLA_VXLAN_PROXY, proxy), (IFLA_VXLAN_L2MISS, l2miss), (IFLA_VXLAN_L3MISS, l3miss)):
        if on:
            data += attr(flag, bytes([1]))
    if local is not None:
        data += attr(IFLA_VXLAN_LOCAL, local.packed)
    if remote is not None:
        data += attr(IFLA_VXLAN_GROUP, remote.packed)
    if dev_index is not None:
        data += attr(IFLA_VXLAN_LINK, u32(dev_index))
    if ttl is not None:
        data += attr(IFLA_VXLAN_TTL, bytes([ttl]))
    return data


def veth_peer(name: str, *, netns_fd: int | None = None, mac: str | None = None,
              mtu: int | None = None) -> bytes:
    peer = ifinfomsg() + attr(IFLA_IFNAME, string(name))
    if netns_fd is not None:
        peer += attr(IFLA_NET_NS_FD, u32(netns_fd))
    if mac is not None:
        peer += attr(IFLA_ADDRESS, mac_bytes(mac))
    if mtu is not None:
        peer += attr(IFLA_MTU, u32(mtu))
    return attr(VETH_INFO_PEER, peer)
