"""The embedded DNS server's answers: what a container can resolve, and the reply to one query.

Used by the resolver process (:mod:`.dns`); only it imports dnslib.
"""

from __future__ import annotations

import ipaddress

TTL = 600             # what Docker gives its answers
UDP_LIMIT = 512       # a larger answer over UDP is truncated (unless the client's EDNS(0) allows
                      # more, as Docker's resolver honours it): the client retries over TCP
TCP_LIMIT = 65535     # what a 2-byte length can frame


class Table:
    """What one container can resolve: name -> addresses, and back for PTR."""

    def __init__(self) -> None:
        self.forward: dict = {}   # "web" -> [ip_address, ...]
        self.reverse: dict = {}   # "3.0.18.172.in-addr.arpa" -> ["web"]

    @classmethod
    def of(cls, names: dict) -> Table:
        table = cls()
        for name, addresses in names.items():
            key = normal(name)
            for text in addresses:
                ip = ipaddress.ip_address(text)
                table.forward.setdefault(key, []).append(ip)
                table.reverse.setdefault(ip.reverse_pointer, []).append(key)
        return table


def normal(name: str) -> str:
    """DNS names compare without case and without the root's trailing dot."""
    return str(name).rstrip(".").lower()


def answer(packet: bytes, table: Table, limit: int, *, udp: bool = False) -> bytes | None:
    """The reply to one query, or None for anything that is not a query we can parse.

    ``udp``: ``limit`` grows to the UDP payload size an EDNS(0) OPT record of the query offers
    (moby v27.5.1 libnetwork/resolver.go: ``maxSize = dns.MinMsgSize``, raised to the OPT's
    ``UDPSize()``, then ``resp.Truncate(maxSize)``).
    """
    from dnslib import AAAA, PTR, QTYPE, RCODE, RR, A, DNSRecord  # only this process needs it

    try:
        query = DNSRecord.parse(packet)
    except Exception:  # malformed: dnslib raises DNSError, sometimes others
        return None
    if query.header.qr or len(query.questions) != 1:
        return None  # a response (never answer those: no loops), or nothing asked
    if udp:
        limit = max([limit] + [rr.rclass for rr in query.ar if rr.rtype == QTYPE.OPT])
    reply = query.reply(ra=1, aa=0)  # like Docker: recursion available, not authoritative
    reply.header.tc = reply.header.z = reply.header.ad = 0  # of the query's flags only RD and CD echo
    reply.header.rcode = RCODE.NOERROR
    question = query.q
    name, qtype = normal(question.qname), question.qtype
    if query.header.opcode != 0:
        reply.header.rcode = RCODE.NOTIMP
    elif qtype == QTYPE.PTR and name in table.reverse:
        for target in table.reverse[name]:
            reply.add_answer(RR(question.qname, QTYPE.PTR, rdata=PTR(target + "."), ttl=TTL))
    elif name in table.forward:  # A: its IPv4 addresses; AAAA: its IPv6 ones; others: none
        for ip in table.forward[name]:
            if qtype == QTYPE.A and ip.version == 4:
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(str(ip)), ttl=TTL))
            elif qtype == QTYPE.AAAA and ip.version == 6:
                reply.add_answer(RR(question.qname, QTYPE.AAAA, rdata=AAAA(str(ip)), ttl=TTL))
    else:
        reply.header.rcode = RCODE.NXDOMAIN
    try:
        data = reply.pack()
        if len(data) > limit:
            reply.rr = []
            reply.header.tc = 1
            data = reply.pack()
    except Exception:  # a name dnslib parsed but cannot write back
        return None
    return data
