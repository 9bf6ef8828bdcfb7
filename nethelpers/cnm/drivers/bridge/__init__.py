"""The ``bridge`` driver: a Linux bridge per network, a veth pair per endpoint, Docker 27's
iptables rules and published ports (libnetwork ``drivers/bridge``).

    driver.py    networks, endpoints, join: the bridge and the veths
    ports.py     published ports: the host-port allocator, docker-proxy, DNAT rules
    firewall.py  the iptables rules, in Docker's order, as data
"""

from .driver import BridgeDriver

__all__ = ["BridgeDriver"]
