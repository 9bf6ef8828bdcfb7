"""The world around the hosts, inside the lab: a LAN, a router and "the internet".

    internet (203.0.113.10) ── router ── LAN 198.51.100.0/24 ── docker-host (.10), host2 (.11) ...
                                              └── lan-client (198.51.100.20)

Documentation addresses only (RFC 5737), so nothing here could be mistaken for
a real network. ``internet`` runs a small web server that tells each client the
address it saw, which is how the notebooks show NAT at work.

The router is the LAN's DNS server (198.51.100.1:53, as a home router's resolver), and
the hosts' and the LAN client's /etc/resolv.conf name it: it knows ``example.com`` and
``www.example.com`` (the ``internet`` server) and answers NXDOMAIN for any other name,
asking no one (:mod:`nethelpers.programs.dns_server`). Docker's embedded DNS forwards
there what it does not know, and default-bridge containers copy the host's resolv.conf,
so a container's lookups never leave the lab.
"""

from __future__ import annotations

import sys

from .node import Interface

LAN = "198.51.100.0/24"
ROUTER_LAN_IP = "198.51.100.1"
LAN_CLIENT_IP = "198.51.100.20"
FIRST_HOST_IP = 10  # docker hosts get 198.51.100.10, .11, ...
INTERNET_IP = "203.0.113.10"
ROUTER_WAN_IP = "203.0.113.1"
DNS_SERVER_IP = ROUTER_LAN_IP  # the world's DNS server: the hosts' resolv.conf names it
RESOLV_CONF = f"nameserver {DNS_SERVER_IP}\n"

ROUTER, LAN_CLIENT, INTERNET = "router", "lan-client", "internet"


def ensure(lab) -> None:
    """Create router, lan-client and internet unless the lab has them already."""
    if ROUTER in {n.name for n in lab.nodes()}:
        return
    with lab.batch():
        router = lab.add_node(ROUTER, kind="router")
        client = lab.add_node(LAN_CLIENT, kind="client")
        internet = lab.add_node(INTERNET, kind="server")
        router.add_bridge("lan0", address=f"{ROUTER_LAN_IP}/24")
        lab.add_veth(router.interface("eth1"), internet.interface("eth0"))
        router.add_address("eth1", f"{ROUTER_WAN_IP}/24")
        internet.add_address("eth0", f"{INTERNET_IP}/24")
        internet.add_route("default", via=ROUTER_WAN_IP)
        lab.add_veth(router.interface("lan-client"), client.interface("eth0"), master="lan0")
        client.add_address("eth0", f"{LAN_CLIENT_IP}/24")
        client.add_route("default", via=ROUTER_LAN_IP)
        client.write_etc("resolv.conf", RESOLV_CONF)
        router.sysctl("net.ipv4.ip_forward", 1)
        # the router's ICMP errors (port unreachable, time exceeded) are not rate-limited: a
        # probe the router refuses fails at once, every time
        router.sysctl("net.ipv4.icmp_ratelimit", 0)
    web = internet.start([sys.executable, "-m", "nethelpers.programs.web", "--port", "80", "--name", INTERNET])
    dns = router.start([sys.executable, "-m", "nethelpers.programs.dns_server", "--port", "53"])
    web.wait_for("serving")
    dns.wait_for("serving")


def add_host(lab, name: str, *, address: str | None = None, kind: str = "host"):
    """A new host node ``name`` on the LAN (eth0 198.51.100.10, .11, ... in order of
    creation, or ``address``; default route via the router); the world is built first if needed."""
    ensure(lab)
    host = lab.add_node(name, kind=kind)
    plug_in_host(lab, name, address)
    return host


def plug_in_host(lab, name: str, address: str | None = None) -> str:
    """Connect node ``name`` to the LAN as eth0 with the next free address; returns it."""
    addresses, numbered = lab.state.lan_addresses, lab.state.lan_numbered
    index = len(addresses)
    if address is None:
        address = f"198.51.100.{FIRST_HOST_IP + len(numbered)}"
        numbered.append(name)
    host = lab.node(name)
    port = Interface(ROUTER, name if len(name) <= 15 else f"lan{index}")  # the switch's port for it
    with lab.batch():
        lab.add_veth(port, host.interface("eth0"), master="lan0")
        host.add_address("eth0", f"{address}/24")
        host.add_route("default", via=ROUTER_LAN_IP)
    host.write_etc("resolv.conf", RESOLV_CONF)  # the world's DNS server (see the module's docstring)
    host.write_etc("hostname", f"{name}\n")
    addresses[name] = address
    return address


def address_of(lab, name: str) -> str:
    """The LAN address of a host made by :func:`add_host`."""
    return lab.state.lan_addresses[name]
