"""The embedded DNS server's answers: what a container can resolve, and the reply to one query.

Used by the resolver process (:mod:`.dns`) and by the world's DNS server
(:mod:`nethelpers.programs.dns_server`); only they import dnslib.

What the embedded DNS answers itself and what it forwards follows moby's
``Resolver.serveDNS`` (libnetwork/resolver.go at v27.5.1, daemon/libnetwork/resolver.go at
docker-v29.7.2, the same at both): A and AAAA of a name it knows (an empty NOERROR when the name
has no address of that family), MX of a name it knows (an empty NOERROR), PTR of an address
it knows; every other query is the external servers' (:data:`FORWARD`).
"""

from __future__ import annotations

import ipaddress

TTL = 600             # moby resolver.go: respTTL = 600
UDP_LIMIT = 512       # a larger answer over UDP is truncated (unless the client's EDNS(0) allows
                      # more, as Docker's resolver honours it): the client retries over TCP
TCP_LIMIT = 65535     # what a 2-byte length can frame
FORWARD = "forward"   # answer()'s verdict on a query the embedded DNS leaves to the external servers


class Table:
    """What one container can resolve: name -> addresses, and back for PTR."""

    def __init__(self) -> None:
        self.forward: dict = {}   # "web" -> [ip_address, ...]
        self.reverse: dict = {}   # "3.0.18.172.in-addr.arpa" -> "web.net1"

    @classmethod
    def of(cls, names: dict) -> Table:
        """``names`` in the daemon's order: for each endpoint its container name first, then its
        aliases, short ID ..., and each as ``NAME.NETWORK``. An address's PTR names the first name
        given for it, as ``NAME.NETWORK`` when that form is given too: moby's updateSvcRecord
        (network.go) puts only an endpoint's first DNS name in the ipMap, and ResolveIP answers
        ``elem.name + "." + nwName``."""
        table = cls()
        first: dict = {}   # ip -> the first name given for it
        for name, addresses in names.items():
            key = normal(name)
            for text in addresses:
                ip = ipaddress.ip_address(text)
                table.forward.setdefault(key, []).append(ip)
                pointer = ip.reverse_pointer
                if pointer not in first:
                    first[pointer] = key
                    table.reverse[pointer] = key
                elif table.reverse[pointer] == first[pointer] and key.startswith(first[pointer] + "."):
                    table.reverse[pointer] = key   # "web" -> "web.net1"
        return table


def normal(name: str) -> str:
    """DNS names compare without case and without the root's trailing dot."""
    return str(name).rstrip(".").lower()


def answer(packet: bytes, table: Table, limit: int, *, udp: bool = False, unknown: str = FORWARD,
           ttl: int = TTL):
    """The reply to one query; :data:`FORWARD` for a query the table does not answer (with
    ``unknown="nxdomain"``: NXDOMAIN instead, as the world's DNS server answers); None for
    anything that is not a query we can parse.

    ``udp``: ``limit`` grows to the UDP payload size an EDNS(0) OPT record of the query offers
    (moby v27.5.1 libnetwork/resolver.go serveDNS: ``maxSize = dns.MinMsgSize``, raised to the
    OPT's ``UDPSize()``, then ``resp.Truncate(maxSize)``).
    """
    from dnslib import AAAA, PTR, QTYPE, RCODE, RR, A, DNSRecord  # only the DNS processes need it

    try:
        query = DNSRecord.parse(packet)
    except Exception:  # malformed: dnslib raises DNSError, sometimes others
        return None
    if query.header.qr or len(query.questions) != 1:
        return None  # a response (never answer those: no loops), or nothing asked
    if udp:
        limit = max([limit] + [rr.rclass for rr in query.ar if rr.rtype == QTYPE.OPT])
    reply = query.reply(ra=1, aa=0)  # createRespMsg: recursion available, not authoritative
    reply.header.tc = reply.header.z = reply.header.ad = 0  # of the query's flags only RD and CD echo
    reply.header.rcode = RCODE.NOERROR
    question = query.q
    name, qtype = normal(question.qname), question.qtype
    addresses = table.forward.get(name)
    if query.header.opcode != 0:
        reply.header.rcode = RCODE.NOTIMP   # miekg/dns DefaultMsgAcceptFunc: MsgRejectNotImplemented
    elif qtype == QTYPE.PTR and name in table.reverse:
        reply.add_answer(RR(question.qname, QTYPE.PTR, rdata=PTR(table.reverse[name] + "."), ttl=ttl))
    elif addresses is not None and qtype in (QTYPE.A, QTYPE.AAAA):
        # handleIPQuery: the name exists, so its addresses of that family, maybe none (moby
        # shuffles them, rand.Shuffle; the lab keeps the daemon's order so that outputs repeat)
        for ip in addresses:
            if qtype == QTYPE.A and ip.version == 4:
                reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(str(ip)), ttl=ttl))
            elif qtype == QTYPE.AAAA and ip.version == 6:
                reply.add_answer(RR(question.qname, QTYPE.AAAA, rdata=AAAA(str(ip)), ttl=ttl))
    elif addresses and (qtype == QTYPE.MX or unknown != FORWARD):
        pass  # handleMXQuery: an empty NOERROR ("implicit MX", RFC 5321 5.1)
    elif unknown == FORWARD:
        return FORWARD
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


def failure(packet: bytes, rcode: int) -> bytes | None:
    """miekg/dns ``new(dns.Msg).SetRcode(query, rcode)``: the query's ID, opcode, RD, CD and
    question, QR set, nothing else (RA clear), as moby's resolver answers when no external server
    answered (SERVFAIL, 2) or too many queries are being forwarded (REFUSED, 5)."""
    from dnslib import DNSHeader, DNSRecord

    try:
        query = DNSRecord.parse(packet)
        header = DNSHeader(id=query.header.id, qr=1, opcode=query.header.opcode, rd=query.header.rd,
                           rcode=rcode)
        header.cd = query.header.cd
        return DNSRecord(header, questions=query.questions).pack()
    except Exception:
        return None
