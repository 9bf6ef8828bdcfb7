"""libnetwork's ``NetworkController``: drivers and IPAMs, networks and sandboxes of one host.

    >>> ctl = Controller(lab, "host")               # node "host": drivers null, host, bridge, macvlan, ...
    >>> net = ctl.new_network("bridge", "front")    # IPAM pool 172.17.0.0/16, bridge br-...
    >>> ep = net.create_endpoint("web")             # 172.17.0.2/16, a veth pair
    >>> sb = ctl.new_sandbox("c1")                  # node c1
    >>> ep.join(sb)                                 # eth0 in c1, default route via .1
    >>> net.delete()                                # Forbidden: ... has active endpoints

The Docker engine of the lab (:mod:`nethelpers.docker`) is built on one of these per Docker
host: ``lab.docker_host().controller`` is the controller behind ``docker network ls``.
"""

from __future__ import annotations

from ..errors import LabError
from .drivers import BUILTIN
from .errors import Forbidden, InvalidParameter, NoSuchObject, PluginError
from .ids import make_id, now
from .ipam import AVOID_OPTION, RESERVED_OPTION, DefaultIpam
from .kernel import Kernel
from .network import SPECIAL, Network
from .remote import PluginClient, RemoteDriver, RemoteIpam
from .sandbox import GATEWAY_NETWORK, Sandbox



class Controller:
    """libnetwork's ``NetworkController`` for one Docker host node of a lab.

    Args:
        lab: the Lab.
        host: the node the daemon runs in (created if missing); bridges live there.
        userland_proxy: the bridge driver's ``--userland-proxy``.
        iptables: dockerd's ``--iptables``: the bridge driver's firewall rules (off by default here,
            as ``dockerd --iptables=false``; the Docker engine's hosts have them).
        firewall: whose rules the bridge driver installs ("iptables-27", "iptables-29",
            "nftables-29": Docker 27's, or Docker 29's with either ``--firewall-backend``).
        random_macs: bridge and macvlan endpoints get random MACs, as from Docker 28.
        avoid: subnets the bridge driver's networks must not overlap (the hosts' LAN).

    Attributes:
        exchanges: every request/response with a remote plugin, in order.
        commands: every kernel change the drivers and sandboxes made, as the command it stands for.
    """

    def __init__(self, lab, host: str = "host", *, userland_proxy: bool = True, iptables: bool = False,
                 firewall: str = "iptables-27", random_macs: bool = False,
                 avoid: tuple[str, ...] = ()) -> None:
        self.lab, self.host, self.avoid = lab, host, tuple(avoid)
        self.reserved: tuple[str, ...] = ()  # kept out of pools handed out (the daemon's InferReservedNetworks)
        if host not in [n.name for n in lab.nodes()]:
            lab.add_node(host, kind="host")
        self.kernel = Kernel(lab, host)
        self.node = self.kernel.node
        self.exchanges: list[dict] = []
        self.drivers = {name: cls(self.kernel, userland_proxy=userland_proxy, iptables=iptables,
                                  firewall=firewall, random_macs=random_macs)
                        for name, cls in BUILTIN.items()}
        self.scopes = {name: d.capabilities()["Scope"] for name, d in self.drivers.items()}
        self.ipams = {"default": DefaultIpam()}
        self.plugins: dict[str, PluginClient] = {}
        self.networks: dict[str, Network] = {}
        self.sandboxes: dict[str, Sandbox] = {}

    @property
    def commands(self) -> list[str]:
        return self.kernel.commands

    # --- plugins ---------------------------------------------------------------------------
    def register_plugin(self, name: str) -> dict:
        """Activate plugin ``name`` (``/run/docker/plugins/NAME.sock``) and register what it
        implements, as ``pkg/plugins`` and libnetwork's remote packages do; its manifest."""
        client = PluginClient(self.lab, name, self.exchanges)
        try:
            manifest = client.activate()
        except LabError as exc:
            raise NoSuchObject(f"could not find plugin {name} in v1 plugin registry: plugin not found",
                               f"start it first (remote.start_plugin(node, {name!r})); {exc}") from None
        implements = manifest.get("Implements") or []
        if "NetworkDriver" not in implements and "IpamDriver" not in implements:
            raise PluginError("Plugin does not implement the requested driver", f"{name} implements {implements}")
        if "NetworkDriver" in implements:
            driver = RemoteDriver(client, before_call=self.kernel.flush)
            self.scopes[name] = driver.capabilities()["Scope"]
            self.drivers[name] = driver
        if "IpamDriver" in implements:
            ipam = RemoteIpam(client)
            ipam.capabilities()
            self.ipams[name] = ipam
        self.plugins[name] = client
        return manifest

    # --- networks --------------------------------------------------------------------------
    def new_network(self, driver: str, name: str, *, ipam: str = "default", subnet: str | None = None,
                    ip_range: str | None = None, gateway: str | None = None,
                    options: dict | None = None, internal: bool = False, labels: dict | None = None,
                    network_id: str | None = None, created: str | None = None) -> Network:
        """``controller.NewNetwork``: IPAM pool and gateway first, then ``CreateNetwork``.

        Args:
            driver: "null", "host", "bridge", "macvlan", "ipvlan", "overlay" or a registered plugin's name.
            ipam: "default" or a registered IPAM plugin's name.
            subnet, ip_range, gateway: the IpamConf (PreferredPool, SubPool, Gateway).
            options: driver options (``-o k=v``), sent as ``com.docker.network.generic``.
            labels: what the daemon keeps with the network (not sent to the driver).
            network_id, created: a cluster's network: the ID and time the cluster gave it.
        """
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameter(f"invalid name: {name}", "give the network a name")
        if name in self.networks:
            raise Forbidden(f"network with name {name} already exists", "choose another name or delete it")
        if driver not in self.drivers:
            raise NoSuchObject(f"could not find plugin {driver} in v1 plugin registry: plugin not found",
                               f"use one of {', '.join(self.drivers)}, or start and register a plugin")
        if driver not in SPECIAL and ipam not in self.ipams:
            raise NoSuchObject(f"could not find plugin {ipam} in v1 plugin registry: plugin not found",
                               f"use one of {', '.join(self.ipams)}")
        net = Network(self, network_id or make_id(self.host, "network", name), name, driver,
                      None if driver in SPECIAL else ipam, internal, dict(options or {}), created or now())
        net.labels = dict(labels or {})
        if net.ipam_name:
            avoid = ",".join(self.avoid) if driver == "bridge" else ""
            reserved = ",".join(self.reserved) if driver == "bridge" else ""
            net._ipam_allocate(subnet, ip_range, gateway, {k: v for k, v in ((AVOID_OPTION, avoid),
                                                                              (RESERVED_OPTION, reserved)) if v})
        request = {"NetworkID": net.id,
                   "Options": {"com.docker.network.enable_ipv6": False, "com.docker.network.generic": net.options,
                               **({"com.docker.network.internal": True} if internal else {})},
                   "IPv4Data": net.ipv4_data or None, "IPv6Data": None}
        try:
            net.driver.create_network(request)
        except BaseException:
            net._ipam_release()
            raise
        self.networks[name] = net
        return net

    def network(self, name: str) -> Network:
        if name not in self.networks:
            raise NoSuchObject(f"network {name} not found", f"networks: {', '.join(self.networks) or 'none'}")
        return self.networks[name]

    def default_gw_network(self) -> Network:
        """docker_gwbridge, made on first use (libnetwork's createGWNetwork): a bridge network with
        inter-container traffic off and masquerading on, the way out of overlay-only containers."""
        if GATEWAY_NETWORK not in self.networks:
            self.new_network("bridge", GATEWAY_NETWORK, options={
                "com.docker.network.bridge.enable_icc": "false",
                "com.docker.network.bridge.enable_ip_masquerade": "true",
                "com.docker.network.bridge.name": GATEWAY_NETWORK})
        return self.networks[GATEWAY_NETWORK]

    # --- sandboxes -------------------------------------------------------------------------
    def new_sandbox(self, container_id: str, *, use_default_sandbox: bool = False, node: str | None = None,
                    create_node: bool = True) -> Sandbox:
        """``controller.NewSandbox``: a network namespace for a container (a lab node named
        ``node``, by default after it), or the host's own with ``use_default_sandbox=True``.
        ``create_node=False``: the node exists already (made by the caller in the same batch)."""
        if not isinstance(container_id, str) or not container_id:
            raise InvalidParameter("invalid container ID", "give the container an ID (a node name)")
        if container_id in self.sandboxes:
            raise Forbidden(f"container {container_id} is already present in sandbox "
                            f"{self.sandboxes[container_id].id}", "delete that sandbox first, or reuse it")
        node = self.host if use_default_sandbox else node or container_id
        if not use_default_sandbox and create_node:
            self.kernel.add_namespace(node, kind="container")
        sb = Sandbox(self, make_id(self.host, "sandbox", container_id), container_id, node, use_default_sandbox)
        self.sandboxes[container_id] = sb
        return sb

    def __repr__(self) -> str:
        return f"<Controller on {self.host}: {len(self.networks)} networks, {len(self.sandboxes)} sandboxes>"
