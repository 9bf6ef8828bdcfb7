"""A Docker host in a cluster: ``swarm init / join / leave``, ``join-token``, ``node ls``, the
``--cluster-store`` of Docker 1.9-20.10, the host's overlay agent, and its overlay networks.

A mixin of :class:`~nethelpers.docker.daemon.DockerHost`. The overlay *driver* (the kernel
side: sandboxes, VXLAN, veths) is :mod:`nethelpers.cnm.drivers.overlay`; here is what the
daemon does around it: the cluster's record of each network (same ID, VNI and pool on every
host: the swarm manager's, or the store's), a local CNM network made from that record when
a container of this host needs it, and the agent — the control plane, run as a process in
the host — that learns the other hosts' endpoints over the LAN.
"""

from __future__ import annotations

import ipaddress
import json
import sys

from ..cnm.drivers.overlay import MTU_OPTION, VNI_OPTION, max_mtu
from ..errors import LabError
from . import swarm as swarm_mod
from .cluster_ipam import ClusterIpam
from .errors import DaemonError, DockerError
from .kv import check_cluster_store, start_cluster_store  # noqa: F401 (the cluster store's two entry points)
from .naming import make_id, now
from .overlay_views import OverlayViews

GWBRIDGE = "docker_gwbridge"
KV_NETWORKS = "docker/network/v1.0/network/"
KV_FIRST_VNI, KV_LAST_VNI = 256, 1000     # libnetwork 0.7's overlay range
NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
               'connect this node to swarm and try again.')
WORKER = ("This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please "
          "run this command on a manager node or promote the current node to a manager.")


class AgentControl:
    """The overlay driver's control plane on one host: the host's agent, asked over its socket."""

    def __init__(self, host) -> None:
        self.host = host

    def network_up(self, nid: str, sandbox: str) -> None:
        self.host._ask("network_up", nid=nid, sandbox=sandbox)

    def network_down(self, nid: str) -> None:
        self.host._ask("network_down", nid=nid)

    def join(self, nid: str, eid: str, address: str, mac: str, name: str, aliases: list[str]) -> None:
        self.host._ask("join", nid=nid, eid=eid, ip=address, mac=mac, name=name, aliases=list(aliases))

    def leave(self, nid: str, eid: str) -> None:
        self.host._ask("leave", nid=nid, eid=eid)


class Cluster(OverlayViews):
    """The cluster side of :class:`DockerHost` (a mixin)."""

    # --- the agent ------------------------------------------------------------------------
    def _start_agent(self) -> None:
        command = [sys.executable, "-m", "nethelpers.programs.overlay_agent", "--host", self.name,
                   "--advertise", self.address]
        if self.cluster_store:
            command += ["--cluster-store", self.cluster_store]
        agent = self.node.start(command)
        try:
            agent.wait_for(") ready: ", timeout=10)  # (not "ready": "already in use" has it)
        except LabError:
            said = agent.stop().strip().splitlines()
            raise DockerError(f"the overlay agent of {self.name} did not start: {said[-1] if said else 'no output'} "
                              f"(is something else using port 7946 on {self.address}?)") from None
        self.agent = agent
        self.controller.drivers["overlay"].control = AgentControl(self)
        self.controller.ipams["cluster"] = ClusterIpam(self, self._spec_by_subnet)

    def _stop_agent(self) -> None:
        self.agent.stop()
        self.agent = None
        self.controller.drivers["overlay"].control = None

    def _ask_raw(self, op: str, **request) -> dict:
        return self.lab.ask_daemon(f"agent-{self.name}", dict(request, op=op))

    def _ask(self, op: str, **request) -> dict:
        answer = self._ask_raw(op, **request)
        if "error" in answer:
            raise DaemonError(answer["error"])
        return answer

    def _cluster_hosts(self) -> list:
        """The other Docker hosts of this lab in the same cluster as this one."""
        from . import engine_of

        return [h for h in engine_of(self.lab).hosts.values() if h is not self and h.agent is not None
                and h.cluster_store == self.cluster_store and (h.cluster_store or h.in_swarm)]

    def swarm_ipam(self):
        """The swarm manager's allocator (swarmkit's), which hands out overlay addresses."""
        return swarm_mod.of(self.lab).ipam

    # --- swarm init / join / leave ------------------------------------------------------------
    @property
    def in_swarm(self) -> bool:
        swarm = swarm_mod.of(self.lab)
        return swarm is not None and self.name in swarm.nodes

    def _not_in_kv_mode(self) -> None:
        if self.cluster_store:
            raise DockerError(f"{self.name} runs with --cluster-store (the Docker 1.11 way): swarm mode "
                              f"and a cluster store do not mix; use another lab or host for swarm")

    def swarm_init(self, advertise: str | None = None) -> str:
        from . import engine_of

        self._not_in_kv_mode()
        if self.in_swarm:
            raise DaemonError('This node is already part of a swarm. Use "docker swarm leave" to leave this '
                              'swarm and join another one.')
        if swarm_mod.of(self.lab) is not None:
            raise DockerError("the lab has a swarm already (one per lab): join it with the command "
                              "`docker swarm join-token worker` prints on its manager")
        if advertise not in (None, self.address, "eth0"):
            raise DaemonError(f"advertise address must be a non-zero IP address or network interface "
                              f"(with optional port number); this host's is {self.address} (eth0)")
        swarm = swarm_mod.Swarm(self.name, self.address)
        engine_of(self.lab).swarm = swarm
        swarm.nodes[self.name] = swarm.node_id(self.name)
        self._enter_cluster()
        return swarm_mod.init_text(swarm, self.name)

    def swarm_join(self, token: str, remote: str) -> str:
        self._not_in_kv_mode()
        if self.in_swarm:
            raise DaemonError('This node is already part of a swarm. Use "docker swarm leave" to leave this '
                              'swarm and join another one.')
        swarm = swarm_mod.of(self.lab)
        address, _, port = remote.partition(":")
        if swarm is None or address != swarm.address or port not in ("", str(swarm_mod.MANAGER_PORT)):
            raise DaemonError(f"Timeout was reached before node joined. The attempt to join the swarm will "
                              f"continue in the background. Use the \"docker info\" command to see the current "
                              f"swarm status of your node. (no swarm manager listens on {remote})")
        if token not in (swarm.token("worker"), swarm.token("manager")):
            raise DaemonError("rpc error: code = InvalidArgument desc = A valid join token is necessary to join "
                              "this cluster")
        swarm.nodes[self.name] = swarm.node_id(self.name)
        self._enter_cluster(join=swarm.address)
        return "This node joined a swarm as a worker.\n"

    def _enter_cluster(self, join: str | None = None) -> None:
        """docker_gwbridge, the agent (joining the others'), ingress; all undone if a step fails."""
        from . import engine_of
        from .daemon import daemon_errors

        swarm = swarm_mod.of(self.lab)
        made_gwbridge = GWBRIDGE not in self.networks
        try:
            with daemon_errors():
                self.controller.default_gw_network()
            self._start_agent()
            if join:
                self._ask("join_cluster", remote=join)
        except BaseException:
            if self.agent is not None:
                self._stop_agent()
            if made_gwbridge and GWBRIDGE in self.networks:
                self.networks[GWBRIDGE].delete()
            del swarm.nodes[self.name]
            if swarm.manager == self.name:
                engine_of(self.lab).swarm = None
            raise
        self._local_network(swarm.networks["ingress"])

    def swarm_leave(self, force: bool = False) -> str:
        from . import engine_of

        swarm = swarm_mod.of(self.lab)
        if not self.in_swarm:
            raise DaemonError("This node is not part of a swarm")
        if swarm.manager == self.name and not force:
            raise DaemonError("You are attempting to leave the swarm on a node that is participating as a "
                              "manager. Removing the last manager erases all current state of the swarm. Use "
                              "`--force` to ignore this message.")
        busy = [c.name for c in self.containers.values()
                if any(ep.network.type == "overlay" for ep in c.endpoints.values())]
        if busy:
            raise DockerError(f"{', '.join(busy)} still use overlay networks on {self.name}: remove them first "
                              f"(docker rm -f ...)")
        self._ask("leave_cluster")
        self._stop_agent()
        del swarm.nodes[self.name]
        for net in [net for net in self.networks.values() if net.type == "overlay"]:
            net.delete()
        if swarm.manager == self.name:
            engine_of(self.lab).swarm = None
        return "Node left the swarm.\n"

    def join_token(self, role: str, quiet: bool) -> str:
        swarm = self._manager_swarm()
        if role not in ("worker", "manager"):
            raise DockerError(f"unknown role {role}")
        if quiet:
            return swarm.token(role) + "\n"
        return (f"To add a {role} to this swarm, run the following command:\n\n"
                f"    docker swarm join --token {swarm.token(role)} {swarm.address}:{swarm_mod.MANAGER_PORT}\n\n")

    def _engine_version_of(self, host: str) -> str:
        """ENGINE VERSION of ``node ls``: what each node's daemon reports (its Description.Engine)."""
        from . import engine_of

        return engine_of(self.lab).hosts[host].engine.version

    def node_ls(self) -> str:
        from .output import table

        swarm = self._manager_swarm()
        states = {m["host"]: m["state"] for m in self._ask("members")["members"]}
        rows = []
        for host, node_id in sorted(swarm.nodes.items()):  # the CLI sorts by hostname
            me = " *" if host == self.name else ""
            rows.append([node_id + me, host, "Ready" if states.get(host) == "alive" else "Down", "Active",
                         "Leader" if host == swarm.manager else "", self._engine_version_of(host)])
        return table(["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"], rows)

    def _manager_swarm(self):
        swarm = swarm_mod.of(self.lab)
        if not self.in_swarm:
            raise DaemonError(NOT_MANAGER)
        if swarm.manager != self.name:  # the cluster's errNoManager, for a worker
            raise DaemonError(WORKER)
        return swarm

    # --- overlay networks: the cluster's record, this host's CNM network ------------------------
    def _spec_by_subnet(self, subnet: str):
        specs = self._kv_specs() if self.cluster_store else \
            (swarm_mod.of(self.lab).networks if swarm_mod.of(self.lab) else {})
        return next((s for s in specs.values() if s.subnet == subnet), None)

    def _local_network(self, spec):
        """This host's CNM network for the cluster's ``spec`` (made on first need)."""
        from .daemon import daemon_errors

        if spec.name in self.networks:
            return self.networks[spec.name]
        labels = {"scope": "global" if self.cluster_store else "swarm", "attachable": spec.attachable,
                  "ingress": spec.ingress}
        with daemon_errors():
            net = self.controller.new_network("overlay", spec.name, ipam="cluster", subnet=spec.subnet,
                                              options={**spec.options, VNI_OPTION: str(spec.vni)},
                                              internal=spec.internal,
                                              labels=labels, network_id=spec.id, created=spec.created)
        net.user_configured = spec.user_configured  # (the subnet came from the cluster, asked for or not)
        return net

    def _create_overlay(self, name: str, *, subnet, gateway, ip_range, internal, attachable, options):
        from .daemon import daemon_errors

        others = sorted(set(options) - {MTU_OPTION})
        if others or (options and self.cluster_store):
            raise DockerError(f"the lab's overlay driver takes only -o {MTU_OPTION}=BYTES, in swarm mode "
                              f"(asked: {', '.join(others or options)}); encrypted overlays and --data-path-port "
                              f"are not built")
        if ip_range:
            raise DockerError("the lab's overlay driver does not implement --ip-range")
        with daemon_errors():
            max_mtu(options)  # refused here, before the cluster records the network
        if self.cluster_store:
            return self._kv_create(name, subnet=subnet, gateway=gateway, internal=internal)
        swarm = swarm_mod.of(self.lab)
        if not self.in_swarm or swarm.manager != self.name:
            raise DaemonError(NOT_MANAGER)
        with daemon_errors():
            spec = swarm.add_network(name, attachable=attachable, internal=internal, subnet=subnet, gateway=gateway,
                                     options=options)
        return self._local_network(spec)

    def _overlay_for(self, ref: str, *, attach: bool):
        """A cluster network this host does not have yet (workers see one when a container joins it)."""
        if self.cluster_store:
            return self._kv_network(ref)
        swarm = swarm_mod.of(self.lab)
        spec = swarm.find(ref) if self.in_swarm else None
        if spec is None or not attach:
            return None
        return self._local_network(spec)

    def _forgets(self, net) -> bool:
        """A worker forgets an attachable network it no longer uses; a global one lives in the store."""
        swarm = swarm_mod.of(self.lab)
        return bool(self.cluster_store) or swarm is None or swarm.manager != self.name

    def _check_overlay_attach(self, net) -> None:
        if not net.labels.get("attachable") or net.labels.get("ingress"):  # swarm services only
            raise DaemonError(f"Could not attach to network {net.name}: rpc error: code = PermissionDenied "
                              f"desc = network {net.name} not manually attachable")

    def _remove_overlay(self, net) -> None:
        if self.cluster_store:
            if self._ask("kv_get", prefix=f"docker/network/v1.0/endpoint/{net.id}")["items"]:
                raise DaemonError(f"error while removing network: network {net.name} id {net.id} has active "
                                  f"endpoints")
            self._ask("kv_delete", key=KV_NETWORKS + net.id)
        else:
            swarm = swarm_mod.of(self.lab)
            if swarm.manager != self.name:
                raise DaemonError(NOT_MANAGER)
            users = [h.name for h in self._cluster_hosts() if net.name in h.networks
                     and h.networks[net.name].endpoints]
            if users:
                raise DaemonError(f"rpc error: code = FailedPrecondition desc = network {net.id} is in use "
                                  f"by task(s) on {', '.join(users)}")
            swarm.remove_network(net.name)

    # --- KV era (--cluster-store): networks and addresses live in the store ---------------------
    def _kv_specs(self) -> dict:
        specs = {}
        for value in self._ask("kv_get", prefix=KV_NETWORKS)["items"].values():
            record = json.loads(value)
            prefix = ipaddress.ip_network(record["subnet"]).prefixlen
            spec = swarm_mod.OverlaySpec(record["id"], record["name"], record["vni"], record["subnet"],
                                         f"{record['gateway']}/{prefix}", f"GlobalDefault/{record['subnet']}",
                                         True, record["internal"], record["created"])
            specs[spec.name] = spec
        return specs

    def _kv_network(self, ref: str):
        specs = self._kv_specs()
        spec = specs.get(ref) or next((s for s in specs.values() if s.id.startswith(ref)), None)
        return self._local_network(spec) if spec else None

    def _kv_create(self, name: str, *, subnet, gateway, internal):
        specs = self._kv_specs()
        if name in specs:
            raise DaemonError(f"network with name {name} already exists")
        used = {s.vni for s in specs.values()}
        vni = next(v for v in range(KV_FIRST_VNI, KV_LAST_VNI + 1) if v not in used)
        taken = [ipaddress.ip_network(s.subnet) for s in specs.values()]
        if subnet is None:
            network = next(s for s in swarm_mod.DEFAULT_POOL.subnets(new_prefix=24)
                           if not any(s.overlaps(t) for t in taken))
        else:
            network = ipaddress.ip_network(subnet)
            if any(network.overlaps(t) for t in taken):
                raise DaemonError("invalid pool request: Pool overlaps with other one on this address space")
        record = {"name": name, "id": make_id("kv", self.cluster_store, "network", name), "vni": vni,
                  "subnet": str(network), "gateway": gateway or str(next(network.hosts())), "internal": internal,
                  "created": now()}
        answer = self._ask_raw("kv_put", key=KV_NETWORKS + record["id"],
                               value=json.dumps(record, separators=(",", ":")), create=True)
        if "error" in answer:
            raise DaemonError(f"network with name {name} already exists")
        return self._kv_network(name)

    def _spread(self, net, ep, *, present: bool) -> None:
        """Wait until the agent of every host this one's agent believes alive has heard of the
        endpoint (or of its going) — the news travels between the agents; waiting here keeps
        notebook cells in step (Docker does not wait) — then let each host's embedded DNS answer
        with what its agent knows. A host cut off hears later, when it is back (no error here:
        as in Docker, the command has done its part)."""
        alive = set(self._ask("alive")["alive"])
        for host in self._cluster_hosts():
            if host.address in alive:
                host._ask("wait", nid=net.id, eid=ep.id, present=present, timeout=5)
        for host in [self, *self._cluster_hosts()]:
            local = host.networks.get(net.name)
            if local is not None and local.type == "overlay":
                host._refresh_dns(local)
