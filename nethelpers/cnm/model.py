"""libnetwork's Container Network Model as Python objects.

A :class:`Controller` (one per Docker host node) owns drivers and IPAMs, and creates
:class:`Network` s; a network creates :class:`Endpoint` s; an endpoint joins one
:class:`Sandbox` (a container's network namespace, a lab node). The calls reach the
drivers and IPAM in libnetwork's order (moby v27 ``controller.go``, ``network.go``,
``endpoint.go``, ``sandbox.go``), and the rules refuse what libnetwork refuses, with
its messages:

    >>> ctl = Controller(lab)                       # node "host", drivers null/host/bridge
    >>> net = ctl.new_network("bridge", "front")    # IPAM pool 172.17.0.0/16, bridge br-...
    >>> ep = net.create_endpoint("web")             # 172.17.0.2/16, a veth pair
    >>> sb = ctl.new_sandbox("c1")                  # node c1
    >>> ep.join(sb)                                 # eth0 in c1, default route via .1
    >>> net.delete()                                # Forbidden: ... has active endpoints
"""

from __future__ import annotations

from ..docker.naming import make_id
from ..errors import LabError
from . import osl
from .drivers import GENERIC, BridgeDriver, HostDriver, NullDriver
from .errors import DriverFailure, Forbidden, InvalidParameter, NoSuchObject, PluginError
from .ipam import GATEWAY_OPTION, DefaultIpam
from .remote import PluginClient, RemoteDriver, RemoteIpam

SPECIAL = ("null", "host")  # no IPAM, one network each (hasSpecialDriver)


class Controller:
    """libnetwork's ``NetworkController`` for one Docker host node of a lab.

    Args:
        lab: the Lab.
        host: the node the daemon runs in (created if missing); bridges live there.

    Attributes:
        exchanges: every request/response with a remote plugin, in order.
        commands: every ``ip`` command run for the drivers and sandboxes, in order.
    """

    def __init__(self, lab, host: str = "host") -> None:
        self.lab, self.host = lab, host
        if host not in [n.name for n in lab.nodes()]:
            lab.add_node(host, kind="host")
        self.node = lab.node(host)
        self.exchanges: list[dict] = []
        self.commands: list[str] = []
        self.drivers = {"null": NullDriver(), "host": HostDriver(), "bridge": BridgeDriver(self.run)}
        self.scopes = {name: d.capabilities()["Scope"] for name, d in self.drivers.items()}
        self.ipams = {"default": DefaultIpam()}
        self.plugins: dict[str, PluginClient] = {}
        self.networks: dict[str, Network] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self._seq = 0

    def run(self, command: str) -> None:
        """Run a shell command line in the daemon's node (logged in ``commands``)."""
        self.commands.append(command)
        try:
            self.node.run(command, check=True)
        except LabError as exc:
            raise DriverFailure(str(exc), "the kernel refused it; see the command above") from None

    def _id(self, *parts) -> str:
        self._seq += 1
        return make_id("cnm", self.host, self._seq, *parts)

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
            raise PluginError("Plugin does not implement the requested driver",
                              f"{name} implements {implements}")
        if "NetworkDriver" in implements:
            driver = RemoteDriver(client)
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
                    options: dict | None = None, internal: bool = False) -> "Network":
        """``controller.NewNetwork``: IPAM pool and gateway first, then ``CreateNetwork``.

        Args:
            driver: "null", "host", "bridge" or a registered plugin's name.
            ipam: "default" or a registered IPAM plugin's name.
            subnet, ip_range, gateway: the IpamConf (PreferredPool, SubPool, Gateway).
            options: driver options (``-o k=v``), sent as ``com.docker.network.generic``.
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
        net = Network(self, self._id("network", name), name, driver, None if driver in SPECIAL else ipam,
                      internal)
        if net.ipam_name:
            net._ipam_allocate(subnet, ip_range, gateway)
        request = {"NetworkID": net.id,
                   "Options": {"com.docker.network.enable_ipv6": False, GENERIC: dict(options or {})},
                   "IPv4Data": net.ipv4_data or None, "IPv6Data": None}
        try:
            net.driver.create_network(request)
        except BaseException:
            net._ipam_release()
            raise
        self.networks[name] = net
        return net

    def network(self, name: str) -> "Network":
        if name not in self.networks:
            raise NoSuchObject(f"network {name} not found", f"networks: {', '.join(self.networks) or 'none'}")
        return self.networks[name]

    # --- sandboxes -------------------------------------------------------------------------
    def new_sandbox(self, container_id: str, *, use_default_sandbox: bool = False) -> "Sandbox":
        """``controller.NewSandbox``: a network namespace for a container (a lab node named
        after it), or the host's own namespace with ``use_default_sandbox=True``."""
        if not isinstance(container_id, str) or not container_id:
            raise InvalidParameter("invalid container ID", "give the container an ID (a node name)")
        if container_id in self.sandboxes:
            raise Forbidden(f"container {container_id} is already present in sandbox "
                            f"{self.sandboxes[container_id].id}", "delete that sandbox first, or reuse it")
        node = self.host if use_default_sandbox else container_id
        if not use_default_sandbox:
            self.lab.add_node(container_id, kind="container", parent=self.host)
        sb = Sandbox(self, self._id("sandbox", container_id), container_id, node, use_default_sandbox)
        self.sandboxes[container_id] = sb
        return sb

    def __repr__(self) -> str:
        return f"<Controller on {self.host}: {len(self.networks)} networks, {len(self.sandboxes)} sandboxes>"


class Network:
    """A group of endpoints that can talk to each other directly; one driver makes it."""

    def __init__(self, controller: Controller, nid: str, name: str, driver: str, ipam: str | None,
                 internal: bool) -> None:
        self.controller, self.id, self.name, self.type = controller, nid, name, driver
        self.ipam_name, self.internal = ipam, internal
        self.endpoints: dict[str, Endpoint] = {}
        self.ipv4_data: list[dict] = []  # [{"AddressSpace", "Gateway", "Pool"}] as drivers get it
        self.pool_id: str | None = None

    @property
    def driver(self):
        return self.controller.drivers[self.type]

    @property
    def ipam(self):
        return self.controller.ipams[self.ipam_name]

    @property
    def subnet(self) -> str | None:
        return self.ipv4_data[0]["Pool"] if self.ipv4_data else None

    @property
    def gateway(self) -> str | None:
        return self.ipv4_data[0]["Gateway"] if self.ipv4_data else None

    def _ipam_allocate(self, subnet, ip_range, gateway) -> None:
        """``ipamAllocate``: the default address space of the driver's scope, a pool, a gateway."""
        spaces = self.ipam.get_default_address_spaces()
        scope = self.controller.scopes[self.type]
        space = spaces["GlobalDefaultAddressSpace" if scope == "global" else "LocalDefaultAddressSpace"]
        pool = self.ipam.request_pool({"AddressSpace": space, "Pool": subnet or "", "SubPool": ip_range or "",
                                       "Options": {}, "V6": False})
        self.pool_id = pool["PoolID"]
        gw = (pool.get("Data") or {}).get("com.docker.network.gateway")
        if gateway or not gw:
            try:
                gw = self.ipam.request_address({"PoolID": self.pool_id, "Address": gateway or "",
                                                "Options": dict([GATEWAY_OPTION])})["Address"]
            except BaseException as exc:
                self.ipam.release_pool({"PoolID": self.pool_id})
                if isinstance(exc, LabError):
                    raise type(exc)(f"failed to allocate gateway ({gateway or '<nil>'}): "
                                    f"{getattr(exc, 'libnetwork', exc)}") from None
                raise
        self.ipv4_data = [{"AddressSpace": space, "Gateway": gw, "Pool": pool["Pool"]}]

    def _ipam_release(self) -> None:
        """``ipamRelease``: the gateway's address, then the pool."""
        if self.pool_id is None:
            return
        self.ipam.release_address({"PoolID": self.pool_id, "Address": self.gateway.split("/")[0]})
        self.ipam.release_pool({"PoolID": self.pool_id})
        self.pool_id = None

    def create_endpoint(self, name: str, *, ip: str | None = None, mac: str | None = None) -> "Endpoint":
        """``network.CreateEndpoint``: an address from IPAM, then the driver's ``CreateEndpoint``."""
        if not isinstance(name, str) or not name.strip():
            raise InvalidParameter(f"invalid name: {name}", "give the endpoint a name")
        if self.controller.networks.get(self.name) is not self:
            raise NoSuchObject(f"network {self.name} not found", "it was deleted; create it again")
        if name in self.endpoints:
            raise Forbidden(f"endpoint with name {name} already exists in network {self.name}",
                            "choose another name, or delete that endpoint first")
        ep = Endpoint(self, self.controller._id("endpoint", self.id, name), name, mac or "")
        if self.ipam_name:
            ep.address = self.ipam.request_address({"PoolID": self.pool_id, "Address": ip or "",
                                                    "Options": None})["Address"]
        request = {"NetworkID": self.id, "EndpointID": ep.id,
                   "Interface": {"Address": ep.address, "AddressIPv6": "", "MacAddress": ep.mac},
                   "Options": {}}
        try:
            answer = self.driver.create_endpoint(request)
            try:
                ep._take_interface(answer.get("Interface") or {}, request["Interface"])
            except BaseException:
                self.driver.delete_endpoint({"NetworkID": self.id, "EndpointID": ep.id})
                raise
        except BaseException as exc:
            ep._release_address()
            if isinstance(exc, LabError):
                raise type(exc)(f"failed to create endpoint {name} on network {self.name}: "
                                f"{getattr(exc, 'libnetwork', exc)}") from None
            raise
        self.endpoints[name] = ep
        return ep

    def endpoint(self, name: str) -> "Endpoint":
        if name not in self.endpoints:
            raise NoSuchObject(f"endpoint {name} not found", f"endpoints: {', '.join(self.endpoints) or 'none'}")
        return self.endpoints[name]

    def delete(self) -> None:
        """``network.Delete``: refused while it has endpoints; then IPAM release, ``DeleteNetwork``."""
        if self.controller.networks.get(self.name) is not self:
            raise NoSuchObject(f"unknown network {self.name} id {self.id}", "it was deleted already")
        if self.endpoints:
            raise Forbidden(f"network {self.name} id {self.id} has active endpoints",
                            f"delete its endpoints first: {', '.join(self.endpoints)}")
        if self.type in SPECIAL:  # nothing was allocated; the driver refuses (Forbidden)
            self.driver.delete_network({"NetworkID": self.id})
        else:  # libnetwork: IPAM first, then the driver (past this point it does not roll back)
            self._ipam_release()
            del self.controller.networks[self.name]
            self.driver.delete_network({"NetworkID": self.id})

    def __repr__(self) -> str:
        return f"<Network {self.name} ({self.type}) {self.id[:12]} {self.subnet or ''}>"


class Endpoint:
    """Joins a sandbox to a network: belongs to one network, and to at most one sandbox."""

    def __init__(self, network: Network, eid: str, name: str, mac: str) -> None:
        self.network, self.id, self.name = network, eid, name
        self.address, self.mac = "", mac
        self.sandbox: Sandbox | None = None
        self.join_info: dict = {}  # what the driver's Join answered
        self.ifname = ""  # its name in the sandbox

    def _take_interface(self, given: dict, asked: dict) -> None:
        """What the driver set in CreateEndpoint's answer (libnetwork refuses changes)."""
        if given.get("MacAddress"):
            if asked.get("MacAddress"):
                raise InvalidParameter("driver modified interface MAC address: cannot set MAC address "
                                       f"({given['MacAddress']}) to a non-empty value",
                                       "the driver must not answer a MAC it was given")
            self.mac = given["MacAddress"]
        if given.get("Address"):
            if asked.get("Address"):
                raise InvalidParameter("driver modified interface address: cannot set IP address "
                                       f"({given['Address']}) to a non-empty value",
                                       "the driver must not answer an address IPAM gave")
            self.address = given["Address"]

    def _release_address(self) -> None:
        if self.network.ipam_name and self.address:
            self.network.ipam.release_address({"PoolID": self.network.pool_id,
                                               "Address": self.address.split("/")[0]})

    @property
    def gateway(self) -> str:
        return self.join_info.get("Gateway", "") if self.sandbox else ""

    def join(self, sandbox: "Sandbox") -> None:
        """``endpoint.Join``: the driver's ``Join``, then the interface into the sandbox, its
        address and routes; the first endpoint with a gateway gives the default route."""
        sandbox._check_alive("join")
        if self.network.endpoints.get(self.name) is not self:
            raise NoSuchObject(f"endpoint {self.name} not found", "it was deleted; create it again")
        if self.sandbox is not None:
            raise Forbidden("another container is attached to the same network endpoint",
                            f"{self.name} is joined to {self.sandbox.container_id}; leave it first, "
                            f"or create another endpoint")
        nid, driver = self.network.id, self.network.driver
        answer = driver.join({"NetworkID": nid, "EndpointID": self.id, "SandboxKey": sandbox.key, "Options": {}})
        self.sandbox, self.join_info = sandbox, answer
        try:
            sandbox._populate(self)
        except BaseException:
            self.sandbox, self.join_info = None, {}
            driver.leave({"NetworkID": nid, "EndpointID": self.id})
            raise

    def leave(self, sandbox: "Sandbox") -> None:
        """``endpoint.Leave``: the driver's ``Leave``, then the interface back out."""
        if self.sandbox is None:
            raise Forbidden("cannot leave endpoint with no attached sandbox",
                            f"{self.name} is not joined to any sandbox")
        if self.sandbox is not sandbox:
            raise Forbidden(f"unexpected sandbox ID in leave request. Expected {self.sandbox.id}. Got {sandbox.id}",
                            f"{self.name} is joined to {self.sandbox.container_id}, not {sandbox.container_id}")
        sandbox._leave(self)

    def oper_info(self) -> dict:
        """``EndpointOperInfo``: what the driver says about it (``docker network inspect``)."""
        return self.network.driver.endpoint_oper_info({"NetworkID": self.network.id, "EndpointID": self.id})

    def delete(self) -> None:
        """``endpoint.Delete``: refused while joined; then ``DeleteEndpoint``, then its address."""
        if self.network.endpoints.get(self.name) is not self:
            raise NoSuchObject(f"endpoint {self.name} not found", "it was deleted already")
        if self.sandbox is not None:
            raise Forbidden(f"endpoint with name {self.name} id {self.id} has active containers",
                            f"leave sandbox {self.sandbox.container_id} first")
        self.network.driver.delete_endpoint({"NetworkID": self.network.id, "EndpointID": self.id})
        self._release_address()
        del self.network.endpoints[self.name]

    def __repr__(self) -> str:
        where = f" in {self.sandbox.container_id} as {self.ifname or '-'}" if self.sandbox else ""
        return f"<Endpoint {self.name} on {self.network.name} {self.address}{where}>"


class Sandbox:
    """A container's network stack: a network namespace (a lab node) and its endpoints."""

    def __init__(self, controller: Controller, sid: str, container_id: str, node: str, default: bool) -> None:
        self.controller, self.id, self.container_id = controller, sid, container_id
        self.node, self.default = node, default
        self.key = f"/run/netns/{node}"  # libnetwork: /var/run/docker/netns/<id>
        self.endpoints: list[Endpoint] = []  # in join order
        self.gateway_endpoint: Endpoint | None = None
        self._next_index: dict[str, int] = {}
        self.deleted = False

    def _check_alive(self, what: str) -> None:
        if self.deleted:
            raise NoSuchObject(f"sandbox {self.id} not found", f"it was deleted; cannot {what} it")

    def _populate(self, ep: Endpoint) -> None:
        """``populateNetworkResources`` (+ the default gateway, external connectivity)."""
        ctl, info, ns = self.controller, ep.join_info, None if self.default else self.node
        names = info.get("InterfaceName") or {}
        commands = []
        if names.get("SrcName"):
            src, prefix = names["SrcName"], names.get("DstPrefix") or "eth"
            dst = src if self.default else f"{prefix}{self._next_index.get(prefix, 0)}"
            commands = osl.add_interface(ns, src, dst, mac=ep.mac, address=ep.address,
                                         routes=info.get("StaticRoutes") or [])
            self._run_all(commands, undo=osl.remove_interface(ns, src, dst, host=ctl.host, address=ep.address))
            self._next_index[prefix] = self._next_index.get(prefix, 0) + 1
            ep.ifname = dst
        self.endpoints.append(ep)
        if self.gateway_endpoint is None and info.get("Gateway") and not ep.network.internal:
            try:
                self._make_gateway(ep)
            except BaseException:
                self.endpoints.remove(ep)
                if ep.ifname:
                    self._run_all(osl.remove_interface(ns, names["SrcName"], ep.ifname, host=ctl.host,
                                                       address=ep.address))
                    ep.ifname = ""
                raise

    def _make_gateway(self, ep: Endpoint) -> None:
        ns = None if self.default else self.node
        self._run_all(osl.set_gateway(ns, ep.join_info["Gateway"]))
        self.gateway_endpoint = ep
        try:
            ep.network.driver.program_external_connectivity(
                {"NetworkID": ep.network.id, "EndpointID": ep.id, "Options": {}})
        except BaseException:
            self.gateway_endpoint = None
            self._run_all(osl.unset_gateway(ns, ep.join_info["Gateway"]))
            raise

    def _run_all(self, commands: list[str], undo: list[str] | None = None) -> None:
        if not commands:
            return
        try:
            self.controller.run(" && ".join(commands))
        except BaseException:
            if undo:
                self.controller.run(" ; ".join(undo) + " ; true")  # best effort: some steps were not done
            raise

    def _leave(self, ep: Endpoint) -> None:
        """``sbLeave``: revoke, driver Leave, interface out, another endpoint's gateway in."""
        ctl, ns, net = self.controller, None if self.default else self.node, ep.network
        was_gateway = self.gateway_endpoint is ep
        request = {"NetworkID": net.id, "EndpointID": ep.id}
        if was_gateway:
            net.driver.revoke_external_connectivity(dict(request))
        net.driver.leave(request)  # libnetwork goes on even if the driver fails
        names = ep.join_info.get("InterfaceName") or {}
        commands = osl.unset_gateway(ns, ep.join_info["Gateway"]) if was_gateway else []
        if ep.ifname:
            commands += osl.remove_interface(ns, names["SrcName"], ep.ifname, host=ctl.host, address=ep.address)
        self._run_all(commands)
        self.endpoints.remove(ep)
        ep.sandbox, ep.join_info, ep.ifname = None, {}, ""
        if was_gateway:
            self.gateway_endpoint = None
            for other in self.endpoints:
                if other.join_info.get("Gateway") and not other.network.internal:
                    self._make_gateway(other)
                    break

    def delete(self) -> None:
        """``sandbox.Delete``: leave and delete every endpoint, then the namespace."""
        self._check_alive("delete")
        for ep in list(reversed(self.endpoints)):
            ep.leave(self)
            ep.delete()
        if not self.default:
            self.controller.lab.remove_node(self.node)
        self.deleted = True
        del self.controller.sandboxes[self.container_id]

    def __repr__(self) -> str:
        return f"<Sandbox {self.container_id} ({self.key}): {', '.join(e.name for e in self.endpoints) or 'no endpoints'}>"
