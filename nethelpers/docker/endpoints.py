"""Endpoints of a Docker host: plugging a container into a network, its published
ports, and what the embedded DNS tells it.

A mixin of :class:`~nethelpers.docker.engine.DockerHost`: it uses the host's
``lab``, ``node``, ``containers``, ``bound``, ``userland_proxy`` and ``_iptables``.
"""

from __future__ import annotations

import sys

from . import firewall
from .errors import DaemonError
from .firewall import PortMapping
from .model import Container, Endpoint, Network
from .naming import mac_for, make_id, short, veth_name

EPHEMERAL_PORTS = range(32768, 61000)  # Docker picks free host ports from the kernel's range


class Endpoints:
    """The endpoint side of :class:`DockerHost` (a mixin)."""

    def _attach(self, ctr: Container, net: Network, *, ip: str | None, aliases: list[str]) -> Endpoint:
        """Plumb one endpoint: a veth from the bridge into the container, address, route."""
        if net.driver == "overlay":
            return self._attach_overlay(ctr, net, ip=ip, aliases=aliases)
        address = net.pool.allocate(ip)
        ep_id = make_id(self.name, "endpoint", net.id, ctr.id)
        ifname = free_ifname(ctr)
        mac = ctr.mac_address if ctr.mac_address and not ctr.endpoints else mac_for(str(address))
        ep = Endpoint(ep_id, net, ifname, veth_name(ep_id) if net.driver == "bridge" else "", address, mac,
                      aliases=aliases, requested_ip=ip)
        # an overlay endpoint gives no gateway: docker_gwbridge's endpoint does, until a network that has one comes
        gateway_needed = not net.internal and not any(not e.network.internal and e.network.driver != "overlay"
                                                      for e in ctr.endpoints.values())
        if gateway_needed and ctr.gateway_ep is not None:
            self._drop_gateway(ctr)  # libnetwork's clearDefaultGW
        node = self._in(ctr)
        try:
            with self.lab.batch():
                if net.driver == "macvlan":  # made on the parent, straight into the container
                    self.node.add_macvlan(ifname, net.parent, mode=net.macvlan_mode, into=ctr.node, mac=ep.mac)
                else:
                    self.lab.add_veth(f"{self.name}:{ep.veth}", f"{ctr.node}:{ifname}", master=net.bridge,
                                      peer_mac=ep.mac)
                node.add_address(ifname, ep.cidr)
                if gateway_needed:
                    node.add_route("default", via=str(net.pool.gateway))
        except BaseException:
            net.pool.release(address)
            raise
        net.endpoints[ctr.id] = ep
        ctr.endpoints[net.name] = ep
        try:
            if not self.userland_proxy and ep.veth:
                self.node.run(f"ip link set {ep.veth} type bridge_slave hairpin on", check=True)
            if gateway_needed and ctr.publish and net.driver == "bridge":  # only the bridge driver maps ports
                self._publish(ctr, ep)
            node.write_etc("hosts", self._hosts_file(ctr))
            if net.user_defined:
                if not ctr.resolver:
                    # the sandbox's first endpoint with embedded DNS starts its resolver, and
                    # resolv.conf is rebuilt to point at it (libnetwork's startResolver/rebuildDNS)
                    self.lab._call("dns_attach", ctr.node)
                    ctr.resolver = True
                    self._write_etc(ctr, net)
                self._refresh_dns(net)
        except BaseException:
            self._detach(ctr, ep)
            raise
        return ep

    def _detach(self, ctr: Container, ep: Endpoint, *, remove_link: bool = True) -> None:
        """Undo :meth:`_attach` (ports, rules, DNS, address)."""
        if ep.network.driver == "overlay":
            return self._detach_overlay(ctr, ep, remove_link=remove_link)
        for proxy in ep.proxies:
            proxy.stop()
        ep.proxies.clear()
        self._iptables(firewall.undo(ep.rules))
        ep.rules.clear()
        for pm in ep.ports:
            self.bound.pop((pm.proto, pm.host_ip, pm.host_port), None)
        ep.ports.clear()
        ep.network.endpoints.pop(ctr.id, None)
        ctr.endpoints.pop(ep.network.name, None)
        ep.network.pool.release(ep.ip)
        if remove_link and ep.veth:
            self.node.remove_link(ep.veth)
        elif remove_link:  # a macvlan lives in the container
            self._in(ctr).remove_link(ep.ifname)
        if ep.network.user_defined:
            still_resolving = any(e.network.user_defined for e in ctr.endpoints.values())
            if ctr.resolver and not still_resolving and remove_link:
                self.lab._call("dns_detach", ctr.node)
                ctr.resolver = False
            elif ctr.resolver and still_resolving:
                self.lab._call("dns_records", ctr.node, self.dns_view(ctr))  # it forgets that network's names
            self._refresh_dns(ep.network)

    # --- published ports ------------------------------------------------------------------
    def _publish(self, ctr: Container, ep: Endpoint) -> None:
        mappings = []
        for spec in ctr.publish:
            host_ip = spec.host_ip or "0.0.0.0"
            port = spec.host_port or self._free_port(spec.proto, host_ip)
            for (proto, ip, p), owner in self.bound.items():
                if proto == spec.proto and p == port and "0.0.0.0" in (ip, host_ip) or \
                        (proto, ip, p) == (spec.proto, host_ip, port):
                    raise DaemonError(
                        f"driver failed programming external connectivity on endpoint {ctr.name} "
                        f"({ep.id}): Bind for {host_ip}:{port} failed: port is already allocated")
            mappings.append(PortMapping(spec.proto, host_ip, port, str(ep.ip), spec.container_port,
                                        ep.network.bridge))
        for pm in mappings:
            self.bound[(pm.proto, pm.host_ip, pm.host_port)] = ctr.id
            ep.ports.append(pm)
            if self.userland_proxy:
                proxy = self.node.start([
                    sys.executable, "-m", "nethelpers.docker.proxy", "-proto", pm.proto,
                    "-host-ip", pm.host_ip, "-host-port", str(pm.host_port),
                    "-container-ip", pm.container_ip, "-container-port", str(pm.container_port)])
                ep.proxies.append(proxy)
                try:
                    proxy.wait_for("listening", timeout=10)
                except Exception:
                    said = proxy.stop().strip()
                    if "already allocated" in said:  # another program holds the port (not a container)
                        said = (f"Error starting userland proxy: listen {pm.proto}4 {pm.host_ip}:{pm.host_port}: "
                                f"bind: address already in use")
                    raise DaemonError(f"driver failed programming external connectivity on endpoint "
                                      f"{ctr.name} ({ep.id}): {said}") from None
            rules = firewall.port_rules(pm, self.userland_proxy)
            self._iptables(rules)
            ep.rules.extend(rules)

    def _free_port(self, proto: str, host_ip: str) -> int:
        for port in EPHEMERAL_PORTS:
            if not any(p == port and pr == proto for pr, _, p in self.bound):
                return port
        raise DaemonError("no free host port")

    # --- embedded DNS -----------------------------------------------------------------------
    def _refresh_dns(self, net: Network) -> None:
        """Tell the embedded DNS what each container on ``net`` can now resolve."""
        for ctr in [self._by_id(cid) for cid in net.endpoints]:
            if ctr.resolver:
                self.lab._call("dns_records", ctr.node, self.dns_view(ctr))

    def dns_view(self, ctr: Container) -> dict[str, list[str]]:
        """Names ``ctr`` resolves: everyone on its user-defined networks, by name, alias and
        short ID, each also as ``NAME.NETWORK`` (libnetwork's Sandbox.ResolveName)."""
        names: dict[str, list[str]] = {}
        for ep in ctr.endpoints.values():
            if not ep.network.user_defined:
                continue
            if ep.network.driver == "overlay":  # everyone on it, on every host: the agent's table
                members = [([name, *aliases], ip) for name, aliases, ip in self.overlay_names(ep.network)]
            else:
                members = [([self._by_id(cid).name, *other.aliases, short(cid)], str(other.ip))
                           for cid, other in ep.network.endpoints.items()]
            for plain, ip in members:
                for dns_name in plain + [f"{n}.{ep.network.name}" for n in plain]:
                    addresses = names.setdefault(dns_name.lower(), [])
                    if ip not in addresses:
                        addresses.append(ip)
        return names

    def _by_id(self, cid: str) -> Container:
        return next(c for c in self.containers.values() if c.id == cid)


def free_ifname(ctr: Container) -> str:
    """The lowest ``ethN`` the container does not use (its docker_gwbridge endpoint counts too)."""
    used = {ep.ifname for ep in ctr.endpoints.values()} | ({ctr.gateway_ep.ifname} if ctr.gateway_ep else set())
    return next(f"eth{i}" for i in range(len(used) + 1) if f"eth{i}" not in used)
