"""The overlay driver of a Docker host: one network across hosts.

A mixin of :class:`~nethelpers.docker.engine.DockerHost`. Built as libnetwork's
overlay driver builds it (moby v27.5.1, ``libnetwork/drivers/overlay``; the
sources are in ``docs/design/overlay.md``):

* per overlay network, on each host that has a container on it, a **network
  sandbox** — a namespace ``1-<network id[:10]>`` (here the node
  ``<host>.1-<id[:10]>``) holding a bridge ``br0`` with the gateway address and a
  ``vxlan0`` (VNI, UDP 4789, learning, proxy, l2miss, l3miss, MTU 1450) whose UDP
  socket stays in the host;
* each container's veth from that ``br0`` (``veth0``, ``veth1``... in the sandbox,
  ``eth0`` in the container, MTU 1450, MAC 02:42:<IP>), with no default route;
* a second endpoint ``eth1`` on ``docker_gwbridge`` (172.18.0.0/16, icc off,
  masquerade) that carries the default route: the way out;
* the remote endpoints written into the sandbox by the host's **agent** (``agent.py``),
  which learns them over the LAN: Swarm gossip, or a KV store (``--cluster-store``).

Cluster membership (``swarm init/join/leave``, ``node ls``) is here too.
"""

from __future__ import annotations

import ipaddress
import json
import sys
import time

from . import swarm as swarm_mod
from ..errors import LabError
from .errors import DaemonError, DockerError
from .endpoints import free_ifname
from .ipam import Pool, new_pool
from .model import Container, Endpoint, Network
from .naming import mac_for, make_id, networkdb_name, now, veth_name

MTU = 1450                       # 1500 - 50 bytes of VXLAN encapsulation
VXLAN_PORT = 4789
GWBRIDGE = "docker_gwbridge"
KV_NETWORKS = "docker/network/v1.0/network/"
KV_IPAM = "docker/network/v1.0/ipam/"
KV_FIRST_VNI, KV_LAST_VNI = 256, 1000     # libnetwork 0.7's overlay range
NOT_MANAGER = ('This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
               'connect this node to swarm and try again.')
WORKER = ("This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please "
          "run this command on a manager node or promote the current node to a manager.")


STORE_NODE, STORE_IP = "kv", "198.51.100.30"


def start_cluster_store(lab, kind: str | None = None) -> str:
    """The Docker 1.9-1.11 way: a key-value store on the LAN (node ``kv``, 198.51.100.30:2379) —
    real etcd when this machine has it (``etcd-server``), else the lab's built-in one speaking
    the same etcd v2 API. Returns the value for ``docker_host(..., cluster_store=...)``."""
    from .. import world
    from .kv import start_store

    if STORE_NODE not in {n.name for n in lab.nodes()}:
        world.add_host(lab, STORE_NODE, address=STORE_IP, kind="server")
        _, _, lab.__dict__["_store_kind"] = start_store(lab, STORE_NODE, STORE_IP, kind=kind)
    return f"etcd://{STORE_IP}:2379"


def check_cluster_store(lab, url: str) -> None:
    """Refuse a ``--cluster-store`` the lab cannot use, before anything is made: the wrong form,
    or no store listening there."""
    import re

    match = re.fullmatch(r"(\w+)://(\d+\.\d+\.\d+\.\d+):(\d+)", url or "")
    if match is None or match.group(1) != "etcd":
        raise DockerError(f"cluster_store={url!r}: the lab's Docker 1.11 hosts take etcd://IP:PORT (the lab's stores "
                          f"speak etcd's v2 API; Consul and ZooKeeper are not built), e.g. the value "
                          f"nethelpers.docker.start_cluster_store(lab) returns")
    ip, port = match.group(2), match.group(3)
    owner = next((name for name, snap in lab.snapshot().items()
                  if any(a["address"].split("/")[0] == ip for a in snap["addresses"])), None)
    # who listens there, asked of the owner's sockets (a probe over the LAN would leave ARP traces)
    listening = owner is not None and lab.node(owner).run(["ss", "-Hltn", f"sport = :{port}"]).stdout.strip()
    if not listening:
        raise DockerError(f"dockerd --cluster-store={url}: no store answers at {ip}:{port}; "
                          f"start one first: store = nethelpers.docker.start_cluster_store(lab)")


class Overlays:
    """The overlay side of :class:`DockerHost` (a mixin)."""

    # --- the agent ------------------------------------------------------------------------
    def _start_agent(self) -> None:
        command = [sys.executable, "-m", "nethelpers.docker.agent", "--host", self.name,
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

    def _ask(self, op: str, **request) -> dict:
        answer = self.lab._call("ask", f"agent-{self.name}", dict(request, op=op))
        if "error" in answer:
            raise DaemonError(answer["error"])
        return answer

    def agent_log(self) -> str:
        """What this host's overlay agent has printed: the entries it learnt and the commands it ran."""
        if self.agent is None:
            raise DockerError(f"{self.name} runs no overlay agent: it is in no swarm and has no --cluster-store")
        return self.agent.output

    def _cluster_hosts(self) -> list:
        """The other Docker hosts of this lab in the same cluster as this one."""
        hosts = self.lab.__dict__.get("_docker_hosts", {}).values()
        return [h for h in hosts if h is not self and h.agent is not None
                and h.cluster_store == self.cluster_store and (h.cluster_store or h.in_swarm)]

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
        self.lab.__dict__["_swarm"] = swarm
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
        swarm = swarm_mod.of(self.lab)
        made_gwbridge = GWBRIDGE not in self.networks
        try:
            self._ensure_gwbridge()
            self._start_agent()
            if join:
                self._ask("join_cluster", remote=join)
        except BaseException:
            if self.agent is not None:
                self.agent.stop()
                self.agent = None
            if made_gwbridge and GWBRIDGE in self.networks:
                self.remove_network(GWBRIDGE)
            del swarm.nodes[self.name]
            if swarm.manager == self.name:
                del self.lab.__dict__["_swarm"]
            raise
        self.networks["ingress"] = self._local_network(swarm.networks["ingress"])

    def swarm_leave(self, force: bool = False) -> str:
        swarm = swarm_mod.of(self.lab)
        if not self.in_swarm:
            raise DaemonError("This node is not part of a swarm")
        if swarm.manager == self.name and not force:
            raise DaemonError("You are attempting to leave the swarm on a node that is participating as a "
                              "manager. Removing the last manager erases all current state of the swarm. Use "
                              "`--force` to ignore this message.")
        busy = [c.name for c in self.containers.values() if any(ep.network.driver == "overlay"
                                                                for ep in c.endpoints.values())]
        if busy:
            raise DockerError(f"{', '.join(busy)} still use overlay networks on {self.name}: remove them first "
                              f"(docker rm -f ...)")
        self._ask("leave_cluster")
        self.agent.stop()
        self.agent = None
        del swarm.nodes[self.name]
        for name in [n for n, net in self.networks.items() if net.driver == "overlay"]:
            del self.networks[name]
        if swarm.manager == self.name:
            del self.lab.__dict__["_swarm"]
        return "Node left the swarm.\n"

    def join_token(self, role: str, quiet: bool) -> str:
        swarm = self._manager_swarm()
        if role not in ("worker", "manager"):
            raise DockerError(f"unknown role {role}")
        if quiet:
            return swarm.token(role) + "\n"
        return (f"To add a {role} to this swarm, run the following command:\n\n"
                f"    docker swarm join --token {swarm.token(role)} {swarm.address}:{swarm_mod.MANAGER_PORT}\n\n")

    def node_ls(self) -> str:
        from .output import table

        swarm = self._manager_swarm()
        states = {m["host"]: m["state"] for m in self._ask("members")["members"]}
        rows = []
        for host, node_id in sorted(swarm.nodes.items()):  # the CLI sorts by hostname
            me = " *" if host == self.name else ""
            rows.append([node_id + me, host, "Ready" if states.get(host) == "alive" else "Down", "Active",
                         "Leader" if host == swarm.manager else "", swarm_mod.ENGINE_VERSION])
        return table(["ID", "HOSTNAME", "STATUS", "AVAILABILITY", "MANAGER STATUS", "ENGINE VERSION"], rows)

    def _manager_swarm(self):
        swarm = swarm_mod.of(self.lab)
        if not self.in_swarm:
            raise DaemonError(NOT_MANAGER)
        if swarm.manager != self.name:  # the cluster's errNoManager, for a worker
            raise DaemonError(WORKER)
        return swarm

    # --- networks -----------------------------------------------------------------------------
    def _ensure_gwbridge(self) -> Network:
        if GWBRIDGE not in self.networks:
            self._add_network(GWBRIDGE, "bridge", bridge=GWBRIDGE, subnet=None, gateway=None, ip_range=None,
                              internal=False, icc=False, masquerade=True, options={
                                  "com.docker.network.bridge.enable_icc": "false",
                                  "com.docker.network.bridge.enable_ip_masquerade": "true",
                                  "com.docker.network.bridge.name": GWBRIDGE})
        return self.networks[GWBRIDGE]

    def _local_network(self, spec) -> Network:
        """This host's view of an overlay network (the same ID, VNI and pool on every host)."""
        scope = "global" if self.cluster_store else "swarm"
        options = {"com.docker.network.driver.overlay.vxlanid_list": str(spec.vni)}
        return Network(spec.id, spec.name, "overlay", spec.created, pool=spec.pool, internal=spec.internal,
                       options=options, scope=scope, vni=spec.vni, attachable=spec.attachable,
                       ingress=spec.ingress)

    def _create_overlay(self, name: str, *, subnet, gateway, ip_range, internal, attachable, options) -> Network:
        if options:
            raise DockerError(f"the lab's overlay driver takes no -o options (asked: {', '.join(options)}); "
                              f"encrypted overlays and --data-path-port are not built")
        if ip_range:
            raise DockerError("the lab's overlay driver does not implement --ip-range")
        if self.cluster_store:
            return self._kv_create(name, subnet=subnet, gateway=gateway, internal=internal)
        swarm = swarm_mod.of(self.lab)
        if not self.in_swarm or swarm.manager != self.name:
            raise DaemonError(NOT_MANAGER)
        spec = swarm.add_network(name, attachable=attachable, internal=internal, subnet=subnet, gateway=gateway)
        net = self._local_network(spec)
        self.networks[name] = net
        return net

    def _overlay_for(self, ref: str, *, attach: bool) -> Network | None:
        """A cluster network this host does not have yet (workers see one when a container joins it)."""
        if self.cluster_store:
            return self._kv_network(ref)
        swarm = swarm_mod.of(self.lab)
        spec = swarm.find(ref) if self.in_swarm else None
        if spec is None or not attach:
            return None
        return self._local_network(spec)

    def _remove_overlay(self, net: Network) -> None:
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
            del swarm.networks[net.name]

    # --- KV era (--cluster-store): networks and addresses live in the store ---------------------
    def _kv_specs(self) -> dict:
        items = self._ask("kv_get", prefix=KV_NETWORKS)["items"]
        specs = {}
        for value in items.values():
            record = json.loads(value)
            pool_net = ipaddress.ip_network(record["subnet"])
            spec = swarm_mod.OverlaySpec(record["id"], record["name"], record["vni"],
                                         Pool(pool_net, ipaddress.ip_address(record["gateway"])),
                                         True, record["internal"], record["created"])
            specs[spec.name] = spec
        return specs

    def _kv_network(self, ref: str) -> Network | None:
        specs = self._kv_specs()
        spec = specs.get(ref) or next((s for s in specs.values() if s.id.startswith(ref)), None)
        return self._local_network(spec) if spec else None

    def _kv_create(self, name: str, *, subnet, gateway, internal) -> Network:
        specs = self._kv_specs()
        if name in specs:
            raise DaemonError(f"network with name {name} already exists")
        used = {s.vni for s in specs.values()}
        vni = next(v for v in range(KV_FIRST_VNI, KV_LAST_VNI + 1) if v not in used)
        if subnet is None:
            taken = [s.pool.subnet for s in specs.values()]
            network = next(s for s in swarm_mod.DEFAULT_POOL.subnets(new_prefix=24)
                           if not any(s.overlaps(t) for t in taken))
            subnet = str(network)
        pool = new_pool([s.pool.subnet for s in specs.values()], subnet, gateway, None)
        record = {"name": name, "id": make_id("kv", self.cluster_store, "network", name), "vni": vni,
                  "subnet": str(pool.subnet), "gateway": str(pool.gateway), "internal": internal,
                  "created": now()}
        answer = self._ask("kv_put", key=KV_NETWORKS + record["id"], value=json.dumps(record, separators=(",", ":")),
                           create=True)
        if "error" in answer:
            raise DaemonError(f"network with name {name} already exists")
        return self._kv_network(name)

    def _kv_allocate(self, net: Network, wanted: str | None) -> ipaddress.IPv4Address:
        """Claim an address in the store (create-only keys), lowest free first."""
        prefix = f"{KV_IPAM}{net.id}/"
        taken = {k.strip("/").split("/")[-1] for k in self._ask("kv_get", prefix=prefix)["items"]}
        pool = net.pool
        candidates = [ipaddress.ip_address(wanted)] if wanted else \
            [a for a in pool.subnet.hosts() if a != pool.gateway and str(a) not in taken]
        for address in candidates:
            answer = self.lab._call("ask", f"agent-{self.name}",
                                    {"op": "kv_put", "key": prefix + str(address), "value": self.name,
                                     "create": True})
            if "error" not in answer:
                return address
        raise DaemonError("Address already in use" if wanted else
                          f"no available IPv4 addresses on this network's address pools: {pool.subnet}")

    def store_keys(self, prefix: str = "docker") -> str:
        """What the cluster store holds under ``prefix``, one ``key = value`` line each (as the
        agent of this host reads it: ``GET /v2/keys/PREFIX?recursive=true``)."""
        if not self.cluster_store:
            raise DockerError(f"{self.name} has no --cluster-store (it is a Docker 1.12+ host)")
        items = self._ask("kv_get", prefix=prefix)["items"]
        return "".join(f"{key} = {value}\n" for key, value in sorted(items.items()))

    # --- endpoints ------------------------------------------------------------------------------
    def _sandbox_of(self, net: Network) -> str:
        return f"{self.name}.1-{net.id[:10]}"

    def _attach_overlay(self, ctr: Container, net: Network, *, ip: str | None, aliases: list[str]) -> Endpoint:
        if not net.attachable or net.ingress:  # swarm services only (which the lab does not run)
            raise DaemonError(f"Could not attach to network {net.name}: rpc error: code = PermissionDenied "
                              f"desc = network {net.name} not manually attachable")
        if ctr.publish:
            raise DockerError("the lab does not publish ports of containers on overlay networks (Docker maps "
                              "them through docker_gwbridge or the routing mesh): use a bridge network for -p")
        if self.cluster_store:
            address = self._kv_allocate(net, ip)
        else:
            address = net.pool.allocate(ip)
        ep_id = make_id(self.name, "endpoint", net.id, ctr.id)
        mac = ctr.mac_address if ctr.mac_address and not ctr.endpoints else mac_for(str(address))
        ifname = free_ifname(ctr)
        sandbox = self._sandbox_of(net)
        first = not net.endpoints
        index = next(i for i in range(len(net.endpoints) + 1)
                     if f"veth{i}" not in {e.veth for e in net.endpoints.values()})
        ep = Endpoint(ep_id, net, ifname, f"veth{index}", address, mac, aliases=aliases, requested_ip=ip)
        try:
            if first:
                self._make_sandbox(net, sandbox)
            with self.lab.batch():
                self.lab.add_veth(f"{sandbox}:{ep.veth}", f"{ctr.node}:{ifname}", master="br0", peer_mac=mac,
                                  mtu=MTU)
                self._in(ctr).add_address(ifname, ep.cidr)
        except BaseException:
            self._release_address(net, address)
            if first:
                self._remove_sandbox(net, sandbox)
            raise
        net.endpoints[ctr.id] = ep
        ctr.endpoints[net.name] = ep
        self.networks.setdefault(net.name, net)
        has_way_out = ctr.gateway_ep is not None or any(
            e.network.driver in ("bridge", "macvlan") and not e.network.internal for e in ctr.endpoints.values())
        if not net.internal and not has_way_out:
            self._attach_gateway(ctr)
        self._ask("join", nid=net.id, eid=ep.id, ip=ep.cidr, mac=mac, name=ctr.name, aliases=list(aliases))
        self._spread(net, ep, present=True)
        if not ctr.resolver:
            self.lab._call("dns_attach", ctr.node)
            ctr.resolver = True
            self._write_etc(ctr, net)
        self._in(ctr).write_etc("hosts", self._hosts_file(ctr))
        return ep

    def _make_sandbox(self, net: Network, sandbox: str) -> None:
        """joinSandbox: the namespace with br0 (the gateway address) and vxlan0, then the peers."""
        with self.lab.batch():
            node = self.lab.add_node(sandbox, kind="node", parent=self.name)
            node.add_bridge("br0", address=f"{net.pool.gateway}/{net.pool.subnet.prefixlen}")
            self.node.add_vxlan("vxlan0", net.vni, port=VXLAN_PORT, learning=True, proxy=True, l2miss=True,
                                l3miss=True, mtu=MTU, master="br0", into=sandbox)
        self._ask("network_up", nid=net.id, sandbox=sandbox)

    def _remove_sandbox(self, net: Network, sandbox: str) -> None:
        try:
            self._ask("network_down", nid=net.id)
        finally:
            if sandbox in {n.name for n in self.lab.nodes()}:
                self.lab.remove_node(sandbox)

    def _release_address(self, net: Network, address) -> None:
        if self.cluster_store:
            self._ask("kv_delete", key=f"{KV_IPAM}{net.id}/{address}")
        else:
            net.pool.release(address)

    def _attach_gateway(self, ctr: Container) -> None:
        """libnetwork's default gateway: an endpoint ``gateway_<id>`` on docker_gwbridge, the default route."""
        gw = self._ensure_gwbridge()
        address = gw.pool.allocate()
        ep_id = make_id(self.name, "endpoint", gw.id, ctr.id)
        ifname = free_ifname(ctr)
        ep = Endpoint(ep_id, gw, ifname, veth_name(ep_id), address, mac_for(str(address)))
        node = self._in(ctr)
        try:
            with self.lab.batch():
                self.lab.add_veth(f"{self.name}:{ep.veth}", f"{ctr.node}:{ifname}", master=GWBRIDGE,
                                  peer_mac=ep.mac)
                node.add_address(ifname, ep.cidr)
                node.add_route("default", via=str(gw.pool.gateway))
        except BaseException:
            gw.pool.release(address)
            raise
        gw.endpoints[ctr.id] = ep
        ctr.gateway_ep = ep

    def _drop_gateway(self, ctr: Container, *, remove_link: bool = True) -> None:
        """Take the docker_gwbridge endpoint away (its default route goes with its interface)."""
        gw = ctr.gateway_ep
        gw.network.endpoints.pop(ctr.id, None)
        gw.network.pool.release(gw.ip)
        if remove_link:
            self.node.remove_link(gw.veth)
        ctr.gateway_ep = None

    def _restore_gateway(self, ctr: Container) -> None:
        """After a disconnect: an overlay-only container needs docker_gwbridge again for its way out."""
        overlays = [e.network for e in ctr.endpoints.values() if e.network.driver == "overlay"]
        others = [e for e in ctr.endpoints.values() if e.network.driver != "overlay" and not e.network.internal]
        if overlays and not others and ctr.gateway_ep is None and not all(n.internal for n in overlays):
            self._attach_gateway(ctr)

    def _detach_overlay(self, ctr: Container, ep: Endpoint, *, remove_link: bool = True) -> None:
        net = ep.network
        self._ask("leave", nid=net.id, eid=ep.id)
        net.endpoints.pop(ctr.id, None)
        ctr.endpoints.pop(net.name, None)
        self._release_address(net, ep.ip)
        sandbox = self._sandbox_of(net)
        if net.endpoints:
            self.lab.node(sandbox).remove_link(ep.veth)
        else:
            self._remove_sandbox(net, sandbox)  # the last one here: the sandbox goes (leaveSandbox)
            if self.cluster_store or swarm_mod.of(self.lab).manager != self.name:
                # a worker forgets an attachable network it no longer uses; a global one lives in the store
                self.networks.pop(net.name, None)
        if ctr.gateway_ep is not None and not any(e.network.driver == "overlay" for e in ctr.endpoints.values()):
            self._drop_gateway(ctr, remove_link=remove_link)
        self._spread(net, ep, present=False)
        if ctr.resolver and remove_link:
            if any(e.network.user_defined for e in ctr.endpoints.values()):
                self.lab._call("dns_records", ctr.node, self.dns_view(ctr))
            else:
                self.lab._call("dns_detach", ctr.node)
                ctr.resolver = False

    def _spread(self, net: Network, ep: Endpoint, *, present: bool) -> None:
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
            if local is not None and local.driver == "overlay":
                host._refresh_dns(local)

    # --- looking inside (for lessons and tests) --------------------------------------------------
    def netns_of(self, network: str) -> str:
        """The name Docker gives the network's sandbox namespace here: ``1-<id[:10]>``
        (under /var/run/docker/netns/; in the lab, the node ``<host>.1-<id[:10]>``)."""
        net = self.network(network)
        if net.driver != "overlay" or not net.endpoints:
            raise DockerError(f"{self.name} has no sandbox for {net.name}: Docker makes one for an overlay "
                              f"network when the first container on this host joins it")
        return self._sandbox_of(net).split(".", 1)[1]

    def nsenter(self, netns: str, command: str):
        """``nsenter --net=/var/run/docker/netns/NETNS COMMAND`` on this host: a command in an
        overlay's sandbox (``netns`` as :meth:`netns_of` gives it)."""
        node = f"{self.name}.{netns}"
        if node not in {n.name for n in self.lab.nodes()}:
            raise DockerError(f"{self.name} has no namespace /var/run/docker/netns/{netns}; "
                              f"host.netns_of('NETWORK') names the one of an overlay network")
        return self.lab.node(node).run(command)

    def watch_fdb(self, network: str) -> "FdbWatch":
        """``bridge monitor fdb`` in this host's sandbox of ``network``, started and known to be
        listening (a marker entry is written and seen first); ``.lines(n)`` then returns the next n
        changes as it prints them."""
        node = self.lab.node(f"{self.name}.{self.netns_of(network)}")
        monitor = node.start("bridge monitor fdb")
        marker = f"{MARKER_MAC} dev vxlan0 dst {MARKER_VTEP} self"

        def marker_lines() -> list[str]:
            return [line for line in monitor.output.splitlines() if MARKER_MAC in line]

        deadline = time.monotonic() + 10
        while not any(line.startswith(MARKER_MAC) for line in marker_lines()):
            # the monitor has no "ready" line: make the marker entry appear until it reports one
            if time.monotonic() > deadline:
                monitor.stop()
                raise DockerError(f"bridge monitor fdb in {node.name} reported nothing for 10 s")
            node.run(f"bridge fdb del {marker}")  # (absent the first time: fine)
            node.run(f"bridge fdb replace {marker} permanent", check=True)
            time.sleep(0.05)
        node.run(f"bridge fdb del {marker}", check=True)
        while not marker_lines()[-1].startswith("Deleted") and time.monotonic() < deadline:
            time.sleep(0.02)
        return FdbWatch(monitor)

    def wait_for_entry(self, network: str, ip: str, present: bool = True, timeout: float = 10) -> float:
        """Wait until this host's agent has (or no longer has) an entry for ``ip`` on ``network``
        — and so has written (or deleted) its FDB and neighbour entries. Returns the seconds waited."""
        net = self.network(network)
        start = time.monotonic()
        # the agent answers when its table changes (no polling); the socket waits a little longer than it
        if not self.lab._call("ask", f"agent-{self.name}", {"op": "wait", "nid": net.id, "ip": ip,
                                                             "present": present, "timeout": timeout},
                              timeout + 5)["ok"]:
            raise DockerError(f"after {timeout} s the agent of {self.name} still "
                              f"{'has no' if present else 'has an'} entry for {ip} on {net.name}")
        return time.monotonic() - start

    def overlay_names(self, net: Network) -> list[tuple[str, list[str], str]]:
        """(name, aliases, IP) of every endpoint of ``net`` this host's agent knows, local or remote."""
        entries = self._ask("table", nid=net.id)["entries"]
        return [(e["name"], e["aliases"], e["ip"].split("/")[0]) for e in entries]

    def overlay_peers(self, net: Network) -> list[dict]:
        """``network inspect``'s Peers: the hosts that have the network, as NetworkDB names them."""
        if self.agent is None or net.ingress:
            return []
        nodes = self._ask("table", nid=net.id)["nodes"]
        by_address = {h.address: h.name for h in [self, *self._cluster_hosts()]}
        return [{"Name": networkdb_name(by_address.get(ip, ip)), "IP": ip} for ip in nodes]



MARKER_MAC, MARKER_VTEP = "02:00:5e:00:53:ff", "192.0.2.1"  # documentation MAC (RFC 7042) and address


class FdbWatch:
    """A running ``bridge monitor fdb`` (see :meth:`Overlays.watch_fdb`)."""

    def __init__(self, monitor) -> None:
        self.monitor = monitor

    def _changes(self) -> list[str]:
        return [line for line in self.monitor.output.splitlines() if line.strip() and MARKER_MAC not in line]

    def lines(self, count: int, timeout: float = 10) -> str:
        """Wait for ``count`` changes (bounded), stop the monitor, and return what it printed."""
        deadline = time.monotonic() + timeout
        while len(self._changes()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        self.monitor.stop()
        return "\n".join(self._changes()) + "\n"

