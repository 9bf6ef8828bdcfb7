"""Networks of a Docker host: ``network create / rm`` for the bridge and macvlan drivers.

A mixin of :class:`~nethelpers.docker.engine.DockerHost`: it uses the host's
``lab``, ``node``, ``networks`` and ``_iptables``.
"""

from __future__ import annotations

import json

from .. import validate, world
from ..errors import InvalidName
from . import firewall, ipam
from .errors import DaemonError, DockerError
from .firewall import BridgeNet
from .model import Network
from .naming import make_id, now, short


class Networks:
    """The network side of :class:`DockerHost` (a mixin)."""

    def network(self, ref: str) -> Network:
        """A network by name, full ID or ID prefix (Docker's lookup order)."""
        return self._find_network(ref, attach=False)

    def _find_network(self, ref: str, *, attach: bool) -> Network:
        """``attach``: for a container to join, so a worker may see an attachable swarm network."""
        if ref in self.networks:
            return self.networks[ref]
        matches = [n for n in self.networks.values() if n.id == ref or (len(ref) >= 1 and n.id.startswith(ref))]
        if len(matches) == 1:
            return matches[0]
        overlay = self._overlay_for(ref, attach=attach) if self.agent is not None else None
        if overlay is not None:
            return overlay
        raise DaemonError(f"network {ref} not found")

    def listed_networks(self) -> list[Network]:
        """What ``network ls`` shows: this host's networks and, with a cluster store, every global one."""
        networks = dict(self.networks)
        if self.cluster_store and self.agent is not None:
            for name, spec in self._kv_specs().items():
                networks.setdefault(name, self._local_network(spec))
        return list(networks.values())

    def create_network(self, name: str, *, driver: str = "bridge", subnet: str | None = None,
                       gateway: str | None = None, ip_range: str | None = None,
                       internal: bool = False, options: dict | None = None, attachable: bool = False) -> Network:
        options = dict(options or {})
        if driver not in ("bridge", "macvlan", "overlay"):
            raise DaemonError(f"plugin \"{driver}\" not found" if driver != "ipvlan"
                              else "the lab's Docker host has no ipvlan driver (this kernel lacks ipvlan)")
        if name in self.networks:
            raise DaemonError(f"network with name {name} already exists")
        if driver == "overlay":
            return self._create_overlay(name, subnet=subnet, gateway=gateway, ip_range=ip_range,
                                        internal=internal, attachable=attachable, options=options)
        if attachable:
            raise DockerError("--attachable is for overlay networks (swarm scope)")
        if driver == "macvlan":
            return self._add_macvlan_network(name, subnet=subnet, gateway=gateway, ip_range=ip_range,
                                             internal=internal, options=options)
        icc = _bool_option(options, "com.docker.network.bridge.enable_icc", True)
        masquerade = _bool_option(options, "com.docker.network.bridge.enable_ip_masquerade", True)
        known = {"com.docker.network.bridge.name", "com.docker.network.bridge.enable_icc",
                 "com.docker.network.bridge.enable_ip_masquerade"}
        for key in options:
            if key not in known:
                raise DockerError(f"the lab's bridge driver does not support the option {key!r} "
                                  f"(it knows: {', '.join(sorted(known))})")
        net_id = make_id(self.name, "network", name)
        bridge = options.get("com.docker.network.bridge.name", "br-" + short(net_id))
        if any(n.bridge == bridge for n in self.networks.values()):
            raise DaemonError(f"bridge name {bridge} is already used by another network")
        return self._add_network(name, "bridge", bridge=bridge, subnet=subnet, gateway=gateway,
                                 ip_range=ip_range, internal=internal, icc=icc, masquerade=masquerade,
                                 options=options)

    def _add_network(self, name, driver, *, bridge, subnet, gateway, ip_range, internal, icc,
                     options, masquerade=True) -> Network:
        try:
            validate.ifname(bridge)
        except InvalidName as exc:
            raise DockerError(str(exc)) from None
        used = [n.pool.subnet for n in self.networks.values() if n.pool] + [ipam.parse_subnet(world.LAN)]
        pool = ipam.new_pool(used, subnet, gateway, ip_range)
        net = Network(make_id(self.name, "network", name), name, driver, now(), bridge=bridge, pool=pool,
                      internal=internal, icc=icc, options=options)
        self.node.add_bridge(bridge, address=f"{pool.gateway}/{pool.subnet.prefixlen}")
        net.rules = firewall.network_rules(
            BridgeNet(bridge, str(pool.subnet), icc=icc, internal=internal, masquerade=masquerade),
            self.userland_proxy, first=not self.networks)
        try:
            self._iptables(net.rules)
        except Exception:
            self.node.remove_link(bridge)
            raise
        if not self.userland_proxy and not internal:
            self.node.sysctl(f"net.ipv4.conf.{bridge}.route_localnet", 1)
        if not icc or not self.userland_proxy:
            self._bridge_netfilter()
        self.networks[name] = net
        return net

    def _bridge_netfilter(self) -> None:
        """What dockerd does for ICC off or --userland-proxy=false (moby v27.5.1,
        libnetwork/drivers/bridge: setupIPv4BridgeNetFiltering): with ip_forward on, br_netfilter
        loaded and net.bridge.bridge-nf-call-iptables=1, so that bridged packets cross iptables.
        The lab loads the module only into its own VM's kernel; on this machine's kernel it uses
        br_netfilter where it is loaded already, and otherwise goes on without it."""
        if self.node.run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() != "1":
            return
        switch = "/proc/sys/net/bridge/bridge-nf-call-iptables"
        if self.node.run(["test", "-e", switch]).rc != 0 and not self.lab._call("load_module", "br_netfilter"):
            return
        self.node.sysctl("net.bridge.bridge-nf-call-iptables", 1)

    def _add_macvlan_network(self, name, *, subnet, gateway, ip_range, internal, options) -> Network:
        """``-d macvlan``: no bridge and no rules; each container gets a macvlan of the parent."""
        for key in options:
            if key not in ("parent", "macvlan_mode"):
                raise DockerError(f"the lab's macvlan driver does not support the option {key!r} "
                                  f"(it knows: parent, macvlan_mode)")
        mode = options.get("macvlan_mode") or "bridge"
        if mode not in ("bridge", "private", "vepa", "passthru"):
            raise DaemonError(f"requested macvlan mode '{mode}' is not valid, 'bridge' mode is the macvlan "
                              f"driver default")
        parent = options.get("parent", "")
        if not parent:
            raise DockerError("the lab's macvlan networks need -o parent=<an interface of the Docker host>, "
                              "e.g. -o parent=eth0 (without it Docker hangs the network off a dummy interface, "
                              "which the lab does not make)")
        if parent == "lo":
            raise DaemonError("loopback interface is not a valid macvlan parent link")
        for other in self.networks.values():
            if other.driver == "macvlan" and other.parent == parent:
                if mode == "passthru":
                    raise DaemonError(f"cannot use mode passthru, macvlan network {other.id} is already using "
                                      f"parent interface {parent}")
                if other.macvlan_mode == "passthru":
                    raise DaemonError(f"macvlan network {other.id} is already using parent interface {parent} "
                                      f"in mode passthru")
        links = {link["name"] for link in self.lab.snapshot([self.name])[self.name]["links"]}
        made_vlan = False
        if parent not in links:  # libnetwork's createVlanLink: NAME.VLAN or nothing
            if "." not in parent:
                raise DaemonError(f"invalid subinterface vlan name {parent}, example formatting is eth0.10")
            base, _, vid = parent.partition(".")
            if not vid.isdigit():
                raise DaemonError(f"unable to parse a valid vlan id from: {vid} (ex. eth0.10 for vlan 10)")
            if base not in links:
                raise DaemonError(f"-o parent interface was not found on the host: {base}")
            if not 1 <= int(vid) <= 4094:
                raise DaemonError(f"vlan id must be between 1-4094, received: {vid}")
            made = self.node.run(f"ip link add link {base} name {parent} type vlan id {vid}")
            if made.rc:
                raise DockerError(f"-o parent={parent} asks for an 802.1Q sub-interface (VLAN {vid} on {base}), "
                                  f"and this kernel cannot make one: {made.output.strip()} "
                                  f"(python -m nethelpers doctor shows which link types exist)")
            self.node.set_link(parent, up=True)
            made_vlan = True
        used = [n.pool.subnet for n in self.networks.values() if n.pool]
        try:
            pool = ipam.new_pool(used, subnet, gateway, ip_range)
        except DaemonError:
            if made_vlan:
                self.node.remove_link(parent)
            raise
        net = Network(make_id(self.name, "network", name), name, "macvlan", now(), pool=pool,
                      internal=internal, options=options, parent=parent, macvlan_mode=mode, made_vlan=made_vlan)
        self.networks[name] = net
        return net

    def remove_network(self, ref: str) -> str:
        net = self.network(ref)
        if net.driver not in ("bridge", "macvlan", "overlay") or net.default or net.ingress:
            raise DaemonError(f"{net.name} is a pre-defined network and cannot be removed")
        if net.endpoints:
            raise DaemonError(f"error while removing network: network {net.name} id {net.id} "
                              f"has active endpoints")
        if net.driver == "overlay":
            self._remove_overlay(net)
        elif net.name == "docker_gwbridge" and self.agent is not None:
            raise DaemonError("docker_gwbridge is in use by this host's cluster membership")
        elif net.driver == "bridge":
            self._iptables(firewall.undo(net.rules))
            self.node.remove_link(net.bridge)
        elif net.made_vlan:
            self.node.remove_link(net.parent)  # Docker deletes the sub-interface it made
        self.networks.pop(net.name, None)
        return net.name


# Go's strconv.ParseBool, which the bridge driver parses these options with.
_GO_BOOLS = {**dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
             **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False)}


def _bool_option(options: dict, key: str, default: bool) -> bool:
    """A bridge driver option that must be a Go bool, with the daemon's error when it is not
    (moby daemon/libnetwork/drivers/bridge/bridge_linux.go, parseErr)."""
    value = options.get(key)
    if value is None:
        return default
    if value not in _GO_BOOLS:
        raise DaemonError(f"failed to parse {key} value: {value} "
                          f"(strconv.ParseBool: parsing {json.dumps(value)}: invalid syntax)")
    return _GO_BOOLS[value]
