"""One Docker host of the lab: dockerd, built on libnetwork's model as dockerd is.

A :class:`DockerHost` owns a node that plays the machine running dockerd, and a CNM
:class:`~nethelpers.cnm.controller.Controller` for it (``host.controller``): every network
``docker network create`` makes is a CNM network of that controller, built by its driver
(:mod:`nethelpers.cnm.drivers`), and every container a CNM sandbox whose endpoints join
them. This module is the daemon's network side (create, rm, connect, disconnect);
:mod:`.containers` the containers' lifecycle, :mod:`.cluster` swarm and the cluster store.
"""

from __future__ import annotations

import contextlib
import ipaddress

from .. import world
from ..cnm import Controller
from ..cnm.ipam import default_pools
from ..cnm.errors import CNMError, Unsupported
from ..errors import InvalidName
from . import daemon_config, engines, etc_files, ipam_config, netinfo
from .cluster import Cluster, check_cluster_store
from .containers import Containers
from .errors import DaemonError, DockerError
from .model import Container, EndpointConfig

DOCKER0 = "docker0"
DOCKER0_OPTIONS = {"com.docker.network.bridge.default_bridge": "true",
                   "com.docker.network.bridge.enable_icc": "true",
                   "com.docker.network.bridge.enable_ip_masquerade": "true",
                   "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                   "com.docker.network.bridge.name": DOCKER0,
                   "com.docker.network.driver.mtu": "1500"}


@contextlib.contextmanager
def daemon_errors():
    """libnetwork's refusals as the daemon reports them (``Error response from daemon: ...``);
    what the lab's drivers do not build, as the lab's own message."""
    try:
        yield
    except Unsupported as exc:
        raise DockerError(exc.libnetwork) from None
    except CNMError as exc:
        raise DaemonError(exc.libnetwork) from None
    except InvalidName as exc:  # a bridge name the kernel would refuse
        raise DockerError(str(exc)) from None


class DockerHost(Containers, Cluster):
    """A lab node running the lab's stand-in for dockerd.

    Args:
        lab: the lab.
        name: node name of the host.
        engine: which Docker Engine it emulates (:func:`.engines.engine`: 29 or 27, and the
            firewall backend).
        userland_proxy: dockerd's ``--userland-proxy`` (True: a docker-proxy process
            per published port; False: hairpin NAT, as ``--userland-proxy=false``).
        cluster_store: dockerd's ``--cluster-store`` of Docker 1.9-20.10 (``etcd://IP:PORT``):
            overlay networks through a key-value store instead of Swarm.
    """

    def __init__(self, lab, name: str, *, engine: engines.Engine | None = None, userland_proxy: bool = True,
                 cluster_store: str | None = None, daemon_json: dict | None = None) -> None:
        self.lab, self.name, self.userland_proxy = lab, name, userland_proxy
        self.config = daemon_config.check(daemon_json)  # before the host exists: a refusal leaves the lab as it was
        self.engine = engine or engines.engine()
        self.cluster_store, self.agent = cluster_store, None
        if cluster_store is not None:
            check_cluster_store(lab, cluster_store)  # before the host exists: a refusal leaves the lab as it was
        self.containers: dict[str, Container] = {}
        self.compose_projects: dict = {}  # project name -> the compose Project of its last `up`
        world.add_host(lab, name)
        self.address = world.address_of(lab, name)
        self.controller = Controller(lab, name, userland_proxy=userland_proxy, iptables=True,
                                     firewall=self.engine.firewall, random_macs=self.engine.random_macs,
                                     avoid=(world.LAN,))
        self.node, self.kernel = self.controller.node, self.controller.kernel
        with daemon_errors():
            self._new_docker0()
            self.controller.new_network("host", "host")
            self.controller.new_network("null", "none")
        if cluster_store:
            self._start_agent()  # --cluster-advertise=eth0:2376: registered in the store from the start

    def __repr__(self) -> str:
        bridge = self.networks.get("bridge")
        return (f"<Docker host {self.name}: {self.engine}, docker0 {bridge.gateway if bridge else 'down'}, "
                f"{len(self.containers)} container{'s' if len(self.containers) != 1 else ''}>")

    def _new_docker0(self, keep: ipaddress.IPv4Interface | None = None) -> None:
        """The default bridge: ``bip`` if daemon.json gives one, else ``keep`` (the address docker0
        still has on a restart), else the first free default pool."""
        if self.config["pools"]:
            self.controller.ipams["default"].defaults = list(self.config["pools"])
        bip = self.config["bip"] or keep
        self.controller.reserved = self._on_link_routes() if bip is None else ()
        try:
            self.controller.new_network("bridge", "bridge", options=DOCKER0_OPTIONS, subnet=str(bip.network) if bip
                                        else None, gateway=str(bip.ip) if bip else None)
        finally:
            self.controller.reserved = ()

    def _on_link_routes(self) -> tuple[str, ...]:
        """The host's on-link IPv4 routes, which dockerd keeps out of the pools it hands out
        (moby docker-v29.7.2 libnetwork/netutils InferReservedNetworks, queryOnLinkRoutes: scope
        link, a destination that is not 0.0.0.0 — so neither the default route nor 0.0.0.0/1)."""
        result = self.node.run(["ip", "-4", "-o", "route", "show", "table", "main", "scope", "link"], timeout=10)
        found = []
        for line in result.stdout.splitlines()[:1000]:  # the host's own table, read as untrusted text
            try:
                net = ipaddress.IPv4Network(line.split(" ", 1)[0], strict=False)
            except ValueError:
                continue
            if not net.network_address.is_unspecified:  # route.Dst.IP.IsUnspecified()
                found.append(str(net))
        return tuple(found)

    def restart_daemon(self, daemon_json: dict | None = None) -> str:
        """``sudo systemctl restart docker`` after writing ``daemon_json`` to /etc/docker/daemon.json.

        As dockerd does on a restart (without live-restore): every running container stops, the
        default bridge is made again — with ``bip``; else, if ``default-address-pools`` is set,
        from the first free pool (docker0 is removed first); else with the address docker0
        still has (moby docker-v29.7.2 daemon/daemon_unix.go configureNetworking, selectBIP) —
        networks you created keep their subnets, and later networks come from
        ``default-address-pools``. Containers stay stopped (``docker start`` them). If the
        default bridge cannot be made (``bip`` overlapping a network), the error is raised and
        docker0 is left as it was. Returns what changed, in words.
        """
        config = daemon_config.check(daemon_json)  # a refused file: dockerd does not start, nothing changed
        if self.agent is not None or self.cluster_store:
            raise DaemonError("the lab restarts only a host outside a swarm or cluster store: "
                              "use a new lab for this")
        stopped = [c.name for c in self.containers.values() if c.running]
        for name in stopped:
            self.stop(name)
        bridge = self.networks["bridge"]
        if bridge.endpoints:
            raise DaemonError(f"the default bridge still has endpoints ({', '.join(sorted(bridge.endpoints))})")
        old_config, old_address = self.config, ipaddress.IPv4Interface(bridge.gateway)
        keep = old_address if config["bip"] is None and not config["pools"] else None
        with daemon_errors():
            bridge.delete()
            try:
                self.controller.ipams["default"].defaults = default_pools()
                self.config = config
                self._new_docker0(keep)
            except BaseException:  # dockerd would not start: the lab keeps the bridge it had
                self.controller.ipams["default"].defaults = default_pools()
                self.config = old_config
                self._new_docker0(old_address)
                raise
        subnet = self.networks["bridge"].subnet
        return (f"dockerd restarted: docker0 is {subnet}"
                + (f"; stopped {', '.join(stopped)}" if stopped else ""))

    @property
    def networks(self) -> dict:
        """This host's networks by name (the controller's)."""
        return self.controller.networks

    # --- networks --------------------------------------------------------------------------
    def network(self, ref: str):
        """A network by name, full ID or ID prefix (Docker's lookup order)."""
        return self._find_network(ref, attach=False)

    def _find_network(self, ref: str, *, attach: bool):
        """``attach``: for a container to join, so a worker may see an attachable swarm network."""
        if ref in self.networks:
            return self.networks[ref]
        matches = [n for n in self.networks.values() if n.id == ref or (ref and n.id.startswith(ref))]
        if len(matches) == 1:
            return matches[0]
        overlay = self._overlay_for(ref, attach=attach) if self.agent is not None else None
        if overlay is not None:
            return overlay
        raise DaemonError(f"network {ref} not found")

    def listed_networks(self) -> list:
        """What ``network ls`` shows: this host's networks and, with a cluster store, every global one."""
        if self.cluster_store and self.agent is not None:
            for name in self._kv_specs():
                self._kv_network(name)
        return list(self.networks.values())

    def create_network(self, name: str, *, driver: str = "bridge", subnet: str | None = None,
                       gateway: str | None = None, ip_range: str | None = None,
                       internal: bool = False, options: dict | None = None, attachable: bool = False,
                       ipam: str = "default", labels: dict | None = None):
        """``docker network create``: a CNM network of this host's controller (``driver`` and
        ``ipam``: built in, or a plugin listening on /run/docker/plugins/NAME.sock)."""
        options = dict(options or {})
        if name in self.networks:
            raise DaemonError(f"network with name {name} already exists")
        ipam_config.check(subnet, gateway, ip_range)
        if driver == "overlay":
            return self._create_overlay(name, subnet=subnet, gateway=gateway, ip_range=ip_range,
                                        internal=internal, attachable=attachable, options=options)
        if attachable:
            raise DockerError("--attachable is for overlay networks (swarm scope)")
        if driver not in self.controller.drivers:
            self._load_plugin(driver, "NetworkDriver")
        if ipam not in self.controller.ipams:
            self._load_plugin(ipam, "IpamDriver")
        self.controller.reserved = self._on_link_routes() if subnet is None else ()
        try:
            with daemon_errors():
                return self.controller.new_network(driver, name, subnet=subnet, gateway=gateway, ip_range=ip_range,
                                                   options=options, internal=internal, ipam=ipam, labels=labels)
        finally:
            self.controller.reserved = ()

    def _load_plugin(self, name: str, kind: str) -> None:
        """A driver the daemon does not have built in: a plugin of that name, if one listens on
        /run/docker/plugins/NAME.sock (pkg/plugins' discovery), else Docker's refusal."""
        try:
            manifest = self.controller.register_plugin(name)
        except CNMError:
            raise DaemonError(f'plugin "{name}" not found') from None
        if kind not in (manifest.get("Implements") or []):
            raise DaemonError(f'plugin "{name}" not found')

    def remove_network(self, ref: str) -> str:
        """``docker network rm``."""
        net = self.network(ref)
        if net.name in netinfo.PREDEFINED or netinfo.ingress(net):
            raise DaemonError(f"{net.name} is a pre-defined network and cannot be removed")
        if net.endpoints:
            raise DaemonError(f"error while removing network: network {net.name} id {net.id} "
                              f"has active endpoints")
        if net.type == "overlay":
            self._remove_overlay(net)
        elif net.name == "docker_gwbridge" and self.agent is not None:
            raise DaemonError("docker_gwbridge is in use by this host's cluster membership")
        with daemon_errors():
            net.delete()
        return net.name

    # --- endpoints --------------------------------------------------------------------------
    def _attach(self, ctr: Container, net, *, ip: str | None, aliases: list[str], gw_priority: int = 0):
        """A CNM endpoint of ``net`` for ``ctr``, joined to its sandbox (see :meth:`_plumb_endpoint`),
        then announced (:meth:`_announce`)."""
        if ip is not None:
            ipam_config.check_endpoint_ip(net, ip)
        with daemon_errors(), self.kernel.batch():
            ep = self._plumb_endpoint(ctr, net, ip=ip, aliases=aliases, gw_priority=gw_priority)
            self._in(ctr).write_etc("hosts", etc_files.hosts(ctr))
        ctr.endpoint_config[net.name] = EndpointConfig(ip, tuple(aliases), gw_priority)
        self._announce(ctr, ep)
        return ep

    def _plumb_endpoint(self, ctr: Container, net, *, ip: str | None, aliases: list[str], gw_priority: int = 0):
        """Endpoint.Create and Join (in the open batch): the driver's interface in the container,
        its address, the default route and the published ports if it is now the best way out."""
        if net.type == "overlay":
            self._check_overlay_attach(net)
        mac = ctr.mac_address if ctr.mac_address and not ctr.endpoints else None
        ep = net.create_endpoint(ctr.name, ip=ip, mac=mac, seed=ctr.id, aliases=aliases)
        try:
            ep.join(ctr.sandbox, priority=gw_priority)
        except BaseException:
            ep.delete()
            raise
        return ep

    def _announce(self, ctr: Container, ep) -> None:
        """What the others must learn of a new endpoint: the cluster (overlay), the embedded DNS."""
        net = ep.network
        if net.type == "overlay":
            self._spread(net, ep, present=True)
        if netinfo.user_defined(net):
            if not ctr.resolver:
                # the sandbox's first endpoint with embedded DNS starts its resolver, and
                # resolv.conf is rebuilt to point at it (libnetwork's startResolver/rebuildDNS)
                self._in(ctr).start_resolver(nftables=self.engine.firewall_backend == "nftables")
                ctr.resolver = True
                self._in(ctr).write_etc("resolv.conf", etc_files.resolv_conf(ctr, embedded=True))
            self._refresh_dns(net)

    def _detach(self, ctr: Container, ep) -> None:
        """Undo :meth:`_attach`: the endpoint leaves the sandbox and is deleted (ports, rules,
        interface, address), and the embedded DNS forgets it."""
        net = ep.network
        with daemon_errors(), self.kernel.batch():
            ep.leave(ctr.sandbox)
            ep.delete()
        if net.type == "overlay":
            self._spread(net, ep, present=False)
            if not net.endpoints and self._forgets(net):
                del self.networks[net.name]  # a worker forgets an attachable network it no longer uses
        if netinfo.user_defined(net):
            still_resolving = any(netinfo.user_defined(e.network) for e in ctr.endpoints.values())
            if ctr.resolver and not still_resolving:
                self._in(ctr).stop_resolver()
                ctr.resolver = False
            elif ctr.resolver:
                self._in(ctr).set_resolver_records(self.dns_view(ctr))  # it forgets that network's names
            self._refresh_dns(net)

    def connect(self, net_ref: str, ctr_ref: str, *, ip: str | None = None, aliases: list[str] = (),
                gw_priority: int = 0) -> None:
        """``docker network connect`` (``gw_priority``: Docker 28+'s ``--gw-priority``)."""
        net, ctr = self._find_network(net_ref, attach=True), self.container(ctr_ref)
        if net.type == "host":
            raise DaemonError("container cannot be disconnected from host network or connected to host network")
        if ctr.joined or ctr.network_mode == "host":
            raise DaemonError("container sharing network namespace with another container or host cannot be "
                              "connected to any other network")
        if net.type == "null" or "none" in ctr.endpoint_config:
            raise DaemonError("container cannot be connected to multiple networks with one of the networks "
                              "in private (none) mode")
        if net.name in ctr.endpoints:
            raise DaemonError(f"endpoint with name {ctr.name} already exists in network {net.name}")
        if ip is not None and not (netinfo.user_defined(net) and net.user_configured):
            raise DaemonError("user specified IP address is supported only when connecting to networks "
                              "with user configured subnets")
        if ctr.sandbox is None:
            # a stopped container: only its configuration changes, once per network
            # (ConnectToNetwork, updateNetworkSettings: "Avoid duplicate config"); start plumbs it
            ctr.endpoint_config.setdefault(net.name, EndpointConfig(ip, tuple(aliases), gw_priority))
            return
        self._attach(ctr, net, ip=ip, aliases=list(aliases), gw_priority=gw_priority)

    def disconnect(self, net_ref: str, ctr_ref: str) -> None:
        """``docker network disconnect``."""
        net, ctr = self.network(net_ref), self.container(ctr_ref)
        if ctr.sandbox is None and not ctr.joined:
            # a stopped container (DisconnectFromNetwork): its configuration forgets the network
            if ctr.endpoint_config.pop(net.name, None) is None:
                raise DaemonError(f"container {ctr.id} is not connected to the network {net.name}")
            return
        if net.type == "host":
            raise DaemonError("container cannot be disconnected from host network or connected to host network")
        ep = ctr.endpoints.get(net.name)
        if ep is None:
            raise DaemonError(f"container {ctr.id} is not connected to network {net.name}")
        self._detach(ctr, ep)
        ctr.endpoint_config.pop(net.name, None)
        self._in(ctr).write_etc("hosts", etc_files.hosts(ctr))

    # --- embedded DNS -----------------------------------------------------------------------
    def _refresh_dns(self, net) -> None:
        """Tell the embedded DNS what each container on ``net`` can now resolve."""
        for ep in list(net.endpoints.values()):
            ctr = self._by_id(ep.sandbox.container_id) if ep.sandbox is not None else None
            if ctr is not None and ctr.resolver:
                self._in(ctr).set_resolver_records(self.dns_view(ctr))

    def dns_view(self, ctr: Container) -> dict[str, list[str]]:
        """Names ``ctr`` resolves: everyone on its user-defined networks, by name, aliases, short
        ID and hostname (daemon/container_operations.go buildEndpointDNSNames, v27.5.1 and
        docker-v29.7.2), each also as ``NAME.NETWORK`` (libnetwork's Sandbox.ResolveName)."""
        names: dict[str, list[str]] = {}
        for ep in ctr.endpoints.values():
            net = ep.network
            if not netinfo.user_defined(net):
                continue
            if net.type == "overlay":  # everyone on it, on every host: the agent's table
                members = [([name, *aliases], ip) for name, aliases, ip in self.overlay_names(net)]
            else:
                members = []
                for other in net.endpoints.values():
                    owner = self._by_id(other.sandbox.container_id) if other.sandbox is not None else None
                    if owner is not None and other.ip is not None:
                        members.append((dns_names(owner, other.aliases), str(other.ip)))
            for plain, ip in members:
                for dns_name in plain + [f"{n}.{net.name}" for n in plain]:
                    addresses = names.setdefault(dns_name.lower(), [])
                    if ip not in addresses:
                        addresses.append(ip)
        return names

    def _by_id(self, cid: str) -> Container | None:
        return next((c for c in self.containers.values() if c.id == cid), None)


def dns_names(ctr: Container, aliases) -> list[str]:
    """buildEndpointDNSNames: the name, the aliases, the short ID, the hostname (``--hostname``,
    else the short ID), without repeats."""
    names = [ctr.name, *aliases, ctr.id[:12], ctr.hostname or ctr.id[:12]]
    return list(dict.fromkeys(names))
