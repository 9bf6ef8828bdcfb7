"""Published ports (``-p``) of the bridge driver: the host-port allocator, one
``docker-proxy`` per port (``--userland-proxy``, the default), and the DNAT rules.

As moby does it at each tag:

* Docker 27 (v27.5.1 ``libnetwork/drivers/bridge/port_mapping_linux.go``, addPortMappings):
  the bindings are normalised and sorted (sortAndNormPBs, cmpPortBinding), each group of
  bindings that differ only in host address gets one host port (bindHostPorts, up to
  maxAllocatePortAttempts tries for a range) and its docker-proxy; the rules of all of them
  are added after that, in the same order (setPerPortIptables).
* Docker 29 (docker-v29.7.2 ``daemon/libnetwork/drivers/bridge/port_mapping_linux.go``,
  sortAndNormPBs, mapPorts; ``portmappers/nat/mapper_linux.go``;
  ``portallocator/osallocator_linux.go``): the same order (PortBindingReq.Compare); per
  group, a port from the allocator is bound (up to maxAllocateAttempts tries for a range),
  then the firewaller's AddPorts for the group, then the docker-proxy.

The allocator (:class:`PortAllocator`) is moby's ``portallocator``: ports per address and
protocol, an asked-for port taken if free, an unasked one (or one of a range) handed out
round robin, after the last one given for that address, protocol and range.
"""

from __future__ import annotations

import ipaddress
import sys
from dataclasses import dataclass, field

from ...errors import Forbidden, InvalidParameter
from .firewaller import PortMapping

DEFAULT_EPHEMERAL = (32768, 60999)     # Linux's net.ipv4.ip_local_port_range
FALLBACK_RANGE = (49153, 65535)        # portallocator_unix.go: defaultPortRangeStart/End
MAX_ATTEMPTS = 10                      # maxAllocatePortAttempts (27), maxAllocateAttempts (29)
PROTOCOLS = {"tcp": 6, "udp": 17, "sctp": 132}  # types.Protocol: the order bindings sort in
UNSPECIFIED = "0.0.0.0"


@dataclass(frozen=True)
class PortBinding:
    """One binding as the sandbox gives it (libnetwork's types.PortBinding): HostPort 0 and
    HostPortEnd 0 for "any port", HostPort..HostPortEnd for a range."""
    container_port: int
    proto: str = "tcp"
    host_ip: str = ""
    host_port: int | None = None
    host_port_end: int | None = None

    def normalised(self, default_host_ip: str) -> PortBinding:
        """sortAndNormPBs + configurePortBindingIPv4: HostPortEnd=HostPort when not a range,
        the network's default host address when none was given."""
        start = self.host_port or 0
        end = self.host_port_end or start
        host_ip = _unmap(self.host_ip) if self.host_ip else default_host_ip
        return PortBinding(self.container_port, self.proto, host_ip, start, end)

    def sort_key(self) -> tuple:
        """cmpPortBinding (27) / PortBindingReq.Compare (29): exact host ports before ranges,
        then container port, protocol (tcp < udp < sctp), host port, host port end, host IP."""
        is_range = self.host_port == 0 or self.host_port != self.host_port_end
        return (is_range, self.container_port, PROTOCOLS.get(self.proto, 0), self.host_port, self.host_port_end,
                int(ipaddress.ip_address(self.host_ip)))

    def same_port(self, other: PortBinding) -> bool:
        """needSamePort: they differ only in host address, so they get one host port."""
        return (self.container_port, self.proto, self.host_port, self.host_port_end) == \
            (other.container_port, other.proto, other.host_port, other.host_port_end)


def _unmap(ip: str) -> str:
    address = ipaddress.ip_address(ip)
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


@dataclass
class Published:
    """What one endpoint published: its mappings (those with rules) and the proxies that serve them."""
    ports: list[PortMapping] = field(default_factory=list)
    with_rules: list[PortMapping] = field(default_factory=list)
    proxies: list = field(default_factory=list)


@dataclass
class _Range:
    begin: int
    end: int
    last: int


@dataclass
class _PortMap:
    """portMap: the ports taken for one address and protocol, and the ranges' last ports."""
    taken: set = field(default_factory=set)
    ranges: dict = field(default_factory=dict)  # "BEGIN-END" -> _Range

    def range(self, begin: int, end: int) -> _Range:
        key = f"{begin}-{end}"
        if key not in self.ranges:
            self.ranges[key] = _Range(begin, end, end)  # newPortRange: last = end, so begin comes first
        return self.ranges[key]


class PortAllocator:
    """moby's portallocator: host ports in use, per address and protocol.

    Args:
        version: 27 (v27.5.1 ``libnetwork/portallocator/portallocator.go``: each address has
            its own ports, 0.0.0.0 included, so the kernel's bind is what finds a clash
            between 0.0.0.0 and another address) or 29 (docker-v29.7.2
            ``daemon/libnetwork/portallocator/portallocator.go``: a port taken on 0.0.0.0 is
            taken for every IPv4 address and the other way round, and the kernel's reserved
            ports are skipped when a port is picked from the ephemeral range).
        ephemeral: the default range, (begin, end): ``net.ipv4.ip_local_port_range`` of the
            daemon's namespace, read on first use when None (as getDynamicPortRange).
        reserved: ports never picked from the default range (29; None: read
            ``net.ipv4.ip_local_reserved_ports`` on first use).
        read_sysctl: how to read the daemon's sysctls (the Docker host node's).
    """

    def __init__(self, version: int = 27, ephemeral: tuple[int, int] | None = None,
                 reserved: set[int] | None = None, read_sysctl=None) -> None:
        self.version = version
        self._ephemeral, self._reserved, self._read = ephemeral, reserved, read_sysctl
        self.ip_map: dict[str, dict[str, _PortMap]] = {}

    # --- the kernel's settings, read once (the allocator is a singleton made on first use) --
    @property
    def ephemeral(self) -> tuple[int, int]:
        if self._ephemeral is None:
            self._ephemeral = DEFAULT_EPHEMERAL
            if self._read is not None:
                try:
                    begin, end = (int(w) for w in self._read("net.ipv4.ip_local_port_range").split())
                    self._ephemeral = (begin, end)
                except Exception:  # getDynamicPortRange failed: the fallback range
                    self._ephemeral = FALLBACK_RANGE
        return self._ephemeral

    @property
    def reserved(self) -> set[int]:
        if self._reserved is None:
            self._reserved = set()
            if self._read is not None and self.version >= 29:
                try:
                    self._reserved = parse_reserved_ports(self._read("net.ipv4.ip_local_reserved_ports"),
                                                          *self.ephemeral)
                except Exception:  # "ignoring system reserved ports"
                    self._reserved = set()
        return self._reserved

    def _map(self, ip: str, proto: str) -> _PortMap:
        return self.ip_map.setdefault(ip, {p: _PortMap() for p in PROTOCOLS})[proto]

    def request(self, ips: list[str], proto: str, start: int = 0, end: int = 0) -> int:
        """RequestPortsInRange: ``start`` if ``start == end > 0`` and it is free on every one of
        ``ips``; else a free port of start..end (0, 0: the ephemeral range), round robin.

        Raises:
            Forbidden: "Bind for IP:PORT failed: port is already allocated", "all ports are allocated".
            InvalidParameter: "unknown protocol", "invalid port range: A-B".
        """
        if proto not in PROTOCOLS:
            raise InvalidParameter("unknown protocol", "publish tcp, udp or sctp")
        if self.version >= 29 and (start or end) and (not start or not end or end < start):
            raise InvalidParameter(f"invalid port range: {start}-{end}", "give a range such as 8080-8090")
        ips = [_unmap(ip) for ip in ips]
        # which maps the port must be free in, and which of them take it
        taking = {ip: self._map(ip, proto) for ip in ips}
        checking = dict(taking)
        if self.version >= 29:
            if UNSPECIFIED in taking:
                for ip in self.ip_map:
                    checking.setdefault(ip, self.ip_map[ip][proto])
            else:
                checking.setdefault(UNSPECIFIED, self._map(UNSPECIFIED, proto))
        if start > 0 and start == end:
            for ip, pmap in checking.items():
                if start in pmap.taken:
                    raise Forbidden(f"Bind for {ip}:{start} failed: port is already allocated",
                                    "publish another host port, or stop the container that has it")
            for pmap in taking.values():
                pmap.taken.add(start)
            return start
        begin, last_port = (start, end) if (start or end) else self.ephemeral
        if self.version < 29 and (start or end) and (not start or not end or end < start):
            raise InvalidParameter(f"invalid port range: {start}-{end}", "give a range such as 8080-8090")
        ranges = {ip: pmap.range(begin, last_port) for ip, pmap in checking.items()}
        first = ranges[ips[0]]
        skip_reserved = self.version >= 29 and not (start or end)
        port = first.last
        for _ in range(first.begin, first.end + 1):
            port += 1
            if port > first.end:
                port = first.begin
            if skip_reserved and port in self.reserved:
                continue
            if not any(port in pmap.taken for pmap in checking.values()):
                for ip, pmap in taking.items():
                    pmap.taken.add(port)
                    ranges[ip].last = port
                return port
        raise Forbidden("all ports are allocated", "release published ports, or publish a wider range")

    def release(self, ip: str, proto: str, port: int) -> None:
        """ReleasePort."""
        maps = self.ip_map.get(_unmap(ip or UNSPECIFIED))
        if maps is not None and proto in maps:
            maps[proto].taken.discard(port)

    def taken(self, proto: str) -> set[tuple[str, int]]:
        """(address, port) pairs taken for ``proto`` (what the lab shows of the allocator)."""
        return {(ip, p) for ip, maps in self.ip_map.items() for p in maps[proto].taken}


def parse_reserved_ports(text: str, begin: int, end: int) -> set[int]:
    """parseReservedPorts (docker-v29.7.2 portallocator_linux.go): "a,b-c,..." within begin..end."""
    reserved: set[int] = set()
    for entry in filter(None, text.strip().split(",")):
        first, dash, last = entry.partition("-")
        lo = int(first)
        hi = int(last) if dash else lo
        if not (0 <= lo <= 65535 and 0 <= hi <= 65535) or hi < lo:
            raise ValueError(f"invalid port range {entry!r}")
        reserved.update(range(max(lo, begin), min(hi, end) + 1))
    return reserved


def publish(kernel, allocator: PortAllocator, bindings: list[PortBinding], *, endpoint_id: str,
            container_ip: str, bridge: str, firewall, userland_proxy: bool, routed: bool = False,
            default_host_ip: str = UNSPECIFIED) -> Published:
    """Allocate, start the proxies and add the rules of ``bindings`` in Docker's order
    (``firewall``: the network's FirewallNetwork, None with ``--iptables=false``); all or
    nothing. ``default_host_ip``: the network's ``com.docker.network.bridge.host_binding_ipv4``.
    A routed network maps no host port: its rules only open the container's port."""
    done = Published()
    ordered = sorted((b.normalised(default_host_ip) for b in bindings), key=PortBinding.sort_key)
    groups: list[list[PortBinding]] = []
    for b in ordered:
        if groups and groups[-1][-1].same_port(b):
            groups[-1].append(b)
        else:
            groups.append([b])
    version = allocator.version
    try:
        for group in groups:
            mappings = _bind_group(kernel, allocator, group, done, container_ip=container_ip, bridge=bridge,
                                   proxy=userland_proxy and not routed, version=version)
            if version >= 29 and firewall is not None:  # mapPorts: AddPorts per group
                firewall.add_ports(mappings)
                done.with_rules.extend(mappings)
        if version < 29 and firewall is not None:  # setPerPortIptables for every binding, after them all
            firewall.add_ports(list(done.ports))
            done.with_rules.extend(done.ports)
    except BaseException:
        unpublish(allocator, done, firewall)
        raise
    return done


def _bind_group(kernel, allocator: PortAllocator, group: list[PortBinding], done: Published, *,
                container_ip: str, bridge: str, proxy: bool, version: int) -> list[PortMapping]:
    """One host port for the group's addresses and its proxies: bindHostPorts (27) or the nat
    port mapper's RequestPortsInRange (29); a range is tried up to MAX_ATTEMPTS times."""
    first = group[0]
    start, end = first.host_port, first.host_port_end
    exact = start != 0 and start == end
    error: BaseException | None = None
    for _ in range(MAX_ATTEMPTS):
        port = allocator.request([b.host_ip for b in group], first.proto, start, end)
        mappings = [PortMapping(b.proto, b.host_ip, port, container_ip, b.container_port, bridge) for b in group]
        started = []
        try:
            for pm in mappings:
                if proxy:
                    started.append(_start_proxy(kernel, pm, version))
        except Forbidden as exc:
            for p in started:
                p.stop()
            for pm in mappings:
                allocator.release(pm.host_ip, pm.proto, pm.host_port)
            error = exc
            if exact:
                break
            continue
        done.ports.extend(mappings)
        done.proxies.extend(started)
        return mappings
    raise error


def _start_proxy(kernel, pm: PortMapping, version: int):
    kernel._log(f"docker-proxy -proto {pm.proto} -host-ip {pm.host_ip} -host-port {pm.host_port} "
                f"-container-ip {pm.container_ip} -container-port {pm.container_port} &")
    proxy = kernel.node.start([sys.executable, "-m", "nethelpers.programs.docker_proxy", "-proto", pm.proto,
                               "-host-ip", pm.host_ip, "-host-port", str(pm.host_port),
                               "-container-ip", pm.container_ip, "-container-port", str(pm.container_port)])
    try:
        proxy.wait_for("listening", timeout=10)
    except Exception:
        said = proxy.stop().strip()
        reason = _bind_failure(said)
        where = f"{pm.host_ip}:{pm.host_port}"
        if version >= 29:  # the daemon binds the port itself (osallocator_linux.go, bindTCPOrUDP/bindSCTP)
            if reason == "protocol not supported":  # socket() failed: no SCTP in the kernel
                said = f"failed to create socket for {where}/{pm.proto}: {reason}"
            elif reason is not None:
                said = f"failed to bind host port {where}/{pm.proto}: {reason}"
        else:  # docker-proxy's own listen (27: cmd/docker-proxy, then attemptBindHostPorts wraps it)
            if reason is not None and pm.proto == "sctp":  # ishidawataru/sctp returns the bare errno
                said = f"Error starting userland proxy: {reason}"
            elif reason is not None:  # net.ListenTCP/ListenUDP's *net.OpError
                said = f"Error starting userland proxy: listen {pm.proto}4 {where}: bind: {reason}"
            said = f"failed to bind port {where}/{pm.proto}: {said}"
        raise Forbidden(said, "another program listens on that port") from None
    return proxy


def _bind_failure(said: str) -> str | None:
    """The errno text of the lab's docker-proxy's bind failure, as Go prints it."""
    if "port is already allocated" in said:
        return "address already in use"
    if "Protocol not supported" in said or "protocol not supported" in said:
        return "protocol not supported"
    return None


def unpublish(allocator: PortAllocator, published: Published, firewall) -> None:
    """Undo :func:`publish`: proxies stopped, rules deleted (one call), ports free."""
    for proxy in published.proxies:
        proxy.stop()
    published.proxies.clear()
    if firewall is not None and published.with_rules:
        firewall.del_ports(published.with_rules)
    published.with_rules.clear()
    for pm in published.ports:
        allocator.release(pm.host_ip, pm.proto, pm.host_port)
    published.ports.clear()
