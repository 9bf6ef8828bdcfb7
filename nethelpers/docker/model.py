"""The Docker host's bookkeeping: networks, containers and their endpoints."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from .firewall import Command, PortMapping
from .ipam import Pool


@dataclass
class Network:
    id: str
    name: str
    driver: str                      # "bridge", "macvlan", "overlay", "host" or "null"
    created: str
    bridge: str = ""                 # the Linux bridge (bridge driver only)
    pool: Pool | None = None
    internal: bool = False
    icc: bool = True
    options: dict = field(default_factory=dict)
    endpoints: dict = field(default_factory=dict)   # container id -> Endpoint
    rules: list[Command] = field(default_factory=list)
    attached: dict = field(default_factory=dict)    # host/none: container id -> endpoint id (no interface)
    parent: str = ""                                 # macvlan: the host interface it hangs off
    macvlan_mode: str = ""
    made_vlan: bool = False                          # macvlan: the parent is an 802.1Q sub-interface we made
    scope: str = "local"                             # overlay: "swarm" (Swarm) or "global" (--cluster-store)
    vni: int = 0                                     # overlay: the VXLAN network identifier
    attachable: bool = False                         # overlay: plain containers may join (--attachable)
    ingress: bool = False                            # overlay: Swarm's routing-mesh network (listed, not built)

    @property
    def default(self) -> bool:
        """docker0's network: no embedded DNS, no --ip, the legacy fields in inspect."""
        return self.name == "bridge"

    @property
    def user_defined(self) -> bool:
        """Made with `docker network create`: embedded DNS, --ip, aliases."""
        return self.driver in ("bridge", "macvlan", "overlay") and not self.default


@dataclass
class Endpoint:
    id: str
    network: Network
    ifname: str                      # in the container: eth0, eth1, ...
    veth: str                        # on the host, enslaved to the bridge ("" for macvlan)
    ip: ipaddress.IPv4Address
    mac: str
    aliases: list[str] = field(default_factory=list)
    requested_ip: str | None = None
    ports: list[PortMapping] = field(default_factory=list)
    rules: list[Command] = field(default_factory=list)
    proxies: list = field(default_factory=list)      # BackgroundProcess of each docker-proxy

    @property
    def cidr(self) -> str:
        return f"{self.ip}/{self.network.pool.subnet.prefixlen}"


@dataclass
class PortSpec:
    """A parsed ``-p``: the container side, and where the host side binds."""
    container_port: int
    proto: str
    host_ip: str
    host_port: int | None


@dataclass
class Container:
    id: str
    name: str
    image: str
    tag: str
    shown_command: list[str]
    node: str
    created: str
    network_mode: str                # "bridge", a network name, "host", "none" or "container:<id>"
    detached: bool
    auto_remove: bool
    publish: list[PortSpec] = field(default_factory=list)
    endpoints: dict = field(default_factory=dict)    # network name -> Endpoint (in connect order)
    process: object = None                           # BackgroundProcess of the main command
    exit_code: int | None = None
    finished: str | None = None                      # when it was first seen exited
    resolver: bool = False                           # embedded DNS sockets open in its namespace
    hostname: str | None = None                      # --hostname
    dns: list[str] = field(default_factory=list)     # --dns
    mac_address: str | None = None                   # --mac-address (its first endpoint)
    joined: str | None = None                        # container mode: the id of the namespace's owner
    left_networks: list[str] = field(default_factory=list)  # released when it exited
    gateway_ep: Endpoint | None = None               # overlay: its endpoint on docker_gwbridge (the way out)

    @property
    def running(self) -> bool:
        """Is the main command still running? (Records its exit code when not.)"""
        if self.process is None:
            return False
        status = self.process._status()
        if status["running"]:
            return True
        if self.exit_code is None:
            rc = status["rc"] if status["rc"] is not None else 0
            self.exit_code = 128 - rc if rc < 0 else rc  # killed by signal N: 128 + N, as a shell says
        return False

    def exited(self, exit_code: int, when: str) -> None:
        self.exit_code, self.finished = exit_code, when
