"""The bridge driver's firewall seam, as libnetwork's ``internal/firewaller`` (docker-v29.7.2).

The driver talks to one :class:`Firewaller` per daemon: it makes a :class:`FirewallNetwork`
per bridge network, which adds and deletes that network's rules, its endpoints' rules and
its published ports' rules. Implementations, one module each:

    iptables27.py   Docker 27's iptables rules (DOCKER-ISOLATION-STAGE-1/2)
    iptables29.py   Docker 28/29's iptables rules (DOCKER-FORWARD, -BRIDGE, -CT, -INTERNAL, raw)
    nftables29.py   Docker 29's ``--firewall-backend=nftables`` (table ``ip docker-bridges``)

:func:`make` picks one by name ("iptables-27", "iptables-29", "nftables-29").
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

Command = tuple[str, str]  # (table, iptables command without the table)
FIREWALLS = ("iptables-27", "iptables-29", "nftables-29")
GATEWAY_MODES = ("nat", "nat-unprotected", "routed")


@dataclass(frozen=True)
class NetworkConfig:
    """What the rules of one bridge network depend on (firewaller.NetworkConfig)."""
    bridge: str
    subnet: str
    icc: bool = True
    internal: bool = False
    masquerade: bool = True
    gateway_mode: str = "nat"  # com.docker.network.bridge.gateway_mode_ipv4 (Docker 28+)

    @property
    def routed(self) -> bool:
        return self.gateway_mode == "routed"

    @property
    def unprotected(self) -> bool:
        return self.gateway_mode == "nat-unprotected"


@dataclass(frozen=True)
class PortMapping:
    """One published port: ``-p [HOST_IP:]HOST_PORT:CONTAINER_PORT[/PROTO]`` (types.PortBinding)."""
    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int
    bridge: str


class Firewaller:
    """One daemon's firewall: the chains made at start, then a network object per bridge.

    Args:
        kernel: the daemon's :class:`~nethelpers.cnm.kernel.Kernel`.
        hairpin: ``--userland-proxy=false`` (NAT loops back through the bridge instead of a proxy).
    """

    name = ""

    def __init__(self, kernel, *, hairpin: bool) -> None:
        self.kernel, self.hairpin = kernel, hairpin
        self.networks: list[FirewallNetwork] = []

    def start(self, set_forward_drop: bool) -> None:
        """The chains and jumps dockerd makes before any network (and FORWARD's DROP policy
        when dockerd turned ip_forward on itself)."""
        raise NotImplementedError

    def new_network(self, config: NetworkConfig) -> FirewallNetwork:
        """Install a network's rules (NewNetwork), all or nothing."""
        raise NotImplementedError


class FirewallNetwork:
    """The rules of one bridge network (firewaller.Network)."""

    def __init__(self, firewaller: Firewaller, config: NetworkConfig) -> None:
        self.firewaller, self.config = firewaller, config

    def delete(self) -> None:
        """DelNetworkLevelRules."""
        raise NotImplementedError

    def add_endpoint(self, ip: str) -> None:
        """AddEndpoint: rules for one container address (Docker 27 has none)."""

    def del_endpoint(self, ip: str) -> None:
        """DelEndpoint."""

    def add_ports(self, mappings: list[PortMapping]) -> None:
        """AddPorts: DNAT in, ACCEPT through (all or nothing)."""
        raise NotImplementedError

    def del_ports(self, mappings: list[PortMapping]) -> None:
        """DelPorts."""
        raise NotImplementedError


class IptablesNetwork(FirewallNetwork):
    """A network whose every rule is an ``iptables -I/-A``: applied in one iptables-restore per
    event, and taken back by deleting each rule it added, newest first."""

    def __init__(self, firewaller: Firewaller, config: NetworkConfig) -> None:
        super().__init__(firewaller, config)
        self.rules: list[Command] = []
        self.endpoint_rules: dict[str, list[Command]] = {}
        self.port_rules: dict[PortMapping, list[Command]] = {}

    def _apply(self, commands: list[Command]) -> list[Command]:
        self.firewaller.kernel.iptables(commands)
        return commands

    def delete(self) -> None:
        self.firewaller.kernel.iptables(undo(self.rules))
        self.rules = []
        if self in self.firewaller.networks:
            self.firewaller.networks.remove(self)

    def add_endpoint(self, ip: str) -> None:
        self.endpoint_rules[ip] = self._apply(self.endpoint_commands(ip))

    def del_endpoint(self, ip: str) -> None:
        self.firewaller.kernel.iptables(undo(self.endpoint_rules.pop(ip, [])))

    def add_ports(self, mappings: list[PortMapping]) -> None:
        done = []
        try:
            for pm in mappings:
                self.port_rules[pm] = self._apply(self.port_commands(pm))
                done.append(pm)
        except BaseException:
            self.del_ports(done)
            raise

    def del_ports(self, mappings: list[PortMapping]) -> None:
        for pm in reversed(mappings):
            self.firewaller.kernel.iptables(undo(self.port_rules.pop(pm, [])))

    def endpoint_commands(self, ip: str) -> list[Command]:
        return []

    def port_commands(self, pm: PortMapping) -> list[Command]:
        raise NotImplementedError


def undo(commands: list[Command], keep: frozenset[str] = frozenset()) -> list[Command]:
    """The deletions that take back what ``commands`` added, newest first (rules in ``keep``,
    chain creations and policies stay)."""
    result = []
    for table, rule in reversed(commands):
        verb, chain, *rest = rule.split(" ")
        if verb not in ("-I", "-A") or rule in keep:
            continue
        if verb == "-I" and rest and rest[0].isdigit():
            rest = rest[1:]  # the position
        result.append((table, " ".join(["-D", chain, *rest])))
    return result


def make(name: str, kernel, *, hairpin: bool) -> Firewaller:
    """The firewaller ``name`` ("iptables-27", "iptables-29", "nftables-29") for ``kernel``."""
    if name not in FIREWALLS:
        raise ValueError(f"unknown firewaller {name!r}: one of {', '.join(FIREWALLS)}")
    module = importlib.import_module(f".{name.replace('-', '')}", __package__)
    return module.FIREWALLER(kernel, hairpin=hairpin)
