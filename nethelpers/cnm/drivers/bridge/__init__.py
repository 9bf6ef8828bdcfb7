"""The ``bridge`` driver: a Linux bridge per network, a veth pair per endpoint, the firewall
rules of Docker 27 or 29 and published ports (libnetwork ``drivers/bridge``).

    driver.py      networks, endpoints, join: the bridge and the veths
    ports.py       published ports: the host-port allocator, docker-proxy
    firewaller.py  the firewall seam (one object per daemon, one per network)
    iptables27.py  Docker 27's rules; iptables29.py, nftables29.py Docker 29's two backends
"""

from .driver import BridgeDriver

__all__ = ["BridgeDriver"]
