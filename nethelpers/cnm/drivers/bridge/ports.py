"""Published ports (``-p``) of the bridge driver: the host-port allocator, one
``docker-proxy`` per port (``--userland-proxy``, the default), and the DNAT rules.

moby v27.5.1 ``libnetwork/drivers/bridge/port_mapping_linux.go`` and
``libnetwork/portallocator``: a host port is taken for a protocol on an address (0.0.0.0
clashes with every address), an unasked one is the first free in the kernel's ephemeral
range.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from ...errors import Forbidden
from .firewaller import PortMapping

EPHEMERAL_PORTS = range(32768, 61000)


@dataclass(frozen=True)
class PortBinding:
    """One ``-p [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]`` (libnetwork's types.PortBinding)."""
    container_port: int
    proto: str = "tcp"
    host_ip: str = ""
    host_port: int | None = None


@dataclass
class Published:
    """What one endpoint published: its mappings (those with rules) and the proxies that serve them."""
    ports: list[PortMapping] = field(default_factory=list)
    with_rules: list[PortMapping] = field(default_factory=list)
    proxies: list = field(default_factory=list)


class PortAllocator:
    """Host ports in use, per (protocol, address)."""

    def __init__(self) -> None:
        self.bound: dict[tuple[str, str, int], str] = {}  # (proto, host ip, port) -> endpoint id

    def take(self, binding: PortBinding, owner: str) -> tuple[str, int]:
        host_ip = binding.host_ip or "0.0.0.0"
        port = binding.host_port or self._free(binding.proto)
        for proto, ip, p in self.bound:
            if proto == binding.proto and p == port and "0.0.0.0" in (ip, host_ip) or \
                    (proto, ip, p) == (binding.proto, host_ip, port):
                raise Forbidden(f"Bind for {host_ip}:{port} failed: port is already allocated",
                                "publish another host port, or stop the container that has it")
        self.bound[(binding.proto, host_ip, port)] = owner
        return host_ip, port

    def _free(self, proto: str) -> int:
        for port in EPHEMERAL_PORTS:
            if not any(p == port and pr == proto for pr, _, p in self.bound):
                return port
        raise Forbidden("no free host port", "release published ports")

    def release(self, pm: PortMapping) -> None:
        self.bound.pop((pm.proto, pm.host_ip, pm.host_port), None)


def publish(kernel, allocator: PortAllocator, bindings: list[PortBinding], *, endpoint_id: str,
            container_ip: str, bridge: str, firewall, userland_proxy: bool, routed: bool = False) -> Published:
    """Allocate, start the proxies and add the rules of ``bindings`` (``firewall``: the
    network's FirewallNetwork, None with ``--iptables=false``); all or nothing. A routed
    network maps no host port: its rules only open the container's port."""
    done = Published()
    try:
        mappings = []
        for binding in bindings:
            host_ip, port = allocator.take(binding, endpoint_id)
            mappings.append(PortMapping(binding.proto, host_ip, port, container_ip, binding.container_port, bridge))
            done.ports.append(mappings[-1])
        for pm in mappings:
            if userland_proxy and not routed:
                done.proxies.append(_start_proxy(kernel, pm))
            if firewall is not None:
                firewall.add_ports([pm])
                done.with_rules.append(pm)
    except BaseException:
        unpublish(allocator, done, firewall)
        raise
    return done


def _start_proxy(kernel, pm: PortMapping):
    kernel._log(f"docker-proxy -proto {pm.proto} -host-ip {pm.host_ip} -host-port {pm.host_port} "
                f"-container-ip {pm.container_ip} -container-port {pm.container_port} &")
    proxy = kernel.node.start([sys.executable, "-m", "nethelpers.programs.docker_proxy", "-proto", pm.proto,
                               "-host-ip", pm.host_ip, "-host-port", str(pm.host_port),
                               "-container-ip", pm.container_ip, "-container-port", str(pm.container_port)])
    try:
        proxy.wait_for("listening", timeout=10)
    except Exception:
        said = proxy.stop().strip()
        if "already allocated" in said:  # another program holds the port (not a container)
            said = (f"Error starting userland proxy: listen {pm.proto}4 {pm.host_ip}:{pm.host_port}: "
                    f"bind: address already in use")
        raise Forbidden(said, "another program listens on that port") from None
    return proxy


def unpublish(allocator: PortAllocator, published: Published, firewall) -> None:
    """Undo :func:`publish`: proxies stopped, rules deleted, ports free."""
    for proxy in published.proxies:
        proxy.stop()
    published.proxies.clear()
    if firewall is not None:
        firewall.del_ports(published.with_rules)
    published.with_rules.clear()
    for pm in published.ports:
        allocator.release(pm)
    published.ports.clear()
