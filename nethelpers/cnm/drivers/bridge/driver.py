"""The bridge driver's networks and endpoints (libnetwork ``drivers/bridge/bridge_linux.go``).

CreateNetwork makes the bridge with the gateway address IPAM gave and installs the
network's iptables rules; CreateEndpoint a veth pair with one end on the bridge; Join names
the other end (``SrcName``) for the daemon to move into the sandbox and rename
``eth<N>``, and gives the gateway; ProgramExternalConnectivity publishes the ports.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .... import validate
from ...driverapi import PORT_MAP, Driver, generic_options
from ...errors import Forbidden, InvalidParameter, NoSuchObject, Unsupported
from ...ids import mac_from_ip, veth_name
from . import firewall, ports

BRIDGE_NAME = "com.docker.network.bridge.name"
ENABLE_ICC = "com.docker.network.bridge.enable_icc"
ENABLE_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"
KNOWN_OPTIONS = (BRIDGE_NAME, ENABLE_ICC, ENABLE_MASQUERADE)
# options Docker sets on its default network (docker0), shown by inspect, not choices of the driver here
DEFAULT_NETWORK_OPTIONS = (DEFAULT_BRIDGE, "com.docker.network.bridge.host_binding_ipv4",
                           "com.docker.network.driver.mtu")

# Go's strconv.ParseBool, which the bridge driver parses its options with.
_GO_BOOLS = {**dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
             **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False)}


@dataclass
class BridgeNetwork:
    bridge: str
    subnet: str
    gateway: str
    internal: bool
    rules: list = field(default_factory=list)


@dataclass
class BridgeEndpoint:
    network: str
    host_end: str
    sandbox_end: str
    mac: str
    address: str
    published: ports.Published = field(default_factory=ports.Published)


class BridgeDriver(Driver):
    """Docker's ``bridge`` driver, with its firewall (Docker 27's rules).

    Args:
        kernel: the daemon's :class:`~nethelpers.cnm.kernel.Kernel`.
        userland_proxy: dockerd's ``--userland-proxy`` (a docker-proxy per published port;
            False: hairpin NAT instead).
        iptables: dockerd's ``--iptables`` (False: no rules at all, as ``--iptables=false``).
    """

    name = "bridge"

    def __init__(self, kernel, *, userland_proxy: bool = True, iptables: bool = True, **config) -> None:
        self.kernel, self.userland_proxy, self.iptables = kernel, userland_proxy, iptables
        self.networks: dict[str, BridgeNetwork] = {}
        self.endpoints: dict[str, BridgeEndpoint] = {}
        self.allocator = ports.PortAllocator()
        self._setup_firewall()

    def _setup_firewall(self) -> None:
        """setupIPForwarding and the chains dockerd makes before any network (moby v27.5.1
        ``drivers/bridge/setup_ip_forwarding.go``, ``setup_ip_tables_linux.go``)."""
        forwarding_was_on = self.kernel.node.sysctl("net.ipv4.ip_forward") == "1"
        if not forwarding_was_on:
            self.kernel.sysctl("net.ipv4.ip_forward", 1)
        if not self.iptables:
            return
        self.kernel.iptables(firewall.daemon_start(self.userland_proxy, set_forward_drop=not forwarding_was_on))

    def _network(self, nid: str) -> BridgeNetwork:
        if nid not in self.networks:
            raise NoSuchObject(f"network {nid} does not exist", "create the network first")
        return self.networks[nid]

    def _endpoint(self, req: dict) -> BridgeEndpoint:
        self._network(req.get("NetworkID", ""))
        eid = req.get("EndpointID", "")
        if eid not in self.endpoints:
            raise NoSuchObject(f"endpoint {eid} not found", "create the endpoint first")
        return self.endpoints[eid]

    # --- networks -------------------------------------------------------------------------
    def create_network(self, req: dict) -> dict:
        nid = req["NetworkID"]
        if nid in self.networks:
            raise Forbidden(f"network {nid} already exists", "use another network ID")
        ipv4 = (req.get("IPv4Data") or [{}])[0]
        if not ipv4.get("Gateway"):
            raise Forbidden("the bridge driver needs IPv4Data with a Gateway", "create it with an IPAM pool")
        options = generic_options(req)
        default = options.get(DEFAULT_BRIDGE) == "true"  # docker0, made by the daemon with these options
        for key in options:
            if key not in KNOWN_OPTIONS + (DEFAULT_NETWORK_OPTIONS if default else ()):
                raise Unsupported(f"the lab's bridge driver does not support the option {key!r} "
                                  f"(it knows: {', '.join(sorted(KNOWN_OPTIONS))})")
        icc, masquerade = _bool(options, ENABLE_ICC), _bool(options, ENABLE_MASQUERADE)
        bridge = options.get(BRIDGE_NAME) or "br-" + nid[:12]
        validate.ifname(bridge)
        if any(n.bridge == bridge for n in self.networks.values()):
            raise Forbidden(f"bridge name {bridge} is already used by another network",
                            "choose another com.docker.network.bridge.name")
        internal = bool((req.get("Options") or {}).get("com.docker.network.internal"))
        net = BridgeNetwork(bridge, ipv4["Pool"], ipv4["Gateway"].split("/")[0], internal)
        self.kernel.add_bridge(bridge, ipv4["Gateway"])
        net.rules = firewall.network_rules(
            firewall.BridgeNet(bridge, ipv4["Pool"], icc=icc, internal=internal, masquerade=masquerade),
            self.userland_proxy, first=not self.networks) if self.iptables else []
        try:
            self.kernel.iptables(net.rules)
        except Exception:
            self.kernel.remove_link(bridge)
            raise
        if not self.iptables:
            pass
        elif not self.userland_proxy and not internal:
            self.kernel.sysctl(f"net.ipv4.conf.{bridge}.route_localnet", 1)
        if self.iptables and (not icc or not self.userland_proxy):
            self._bridge_netfilter()
        self.networks[nid] = net
        return {}

    def _bridge_netfilter(self) -> None:
        """What dockerd does for ICC off or --userland-proxy=false (moby v27.5.1,
        libnetwork/drivers/bridge: setupIPv4BridgeNetFiltering): with ip_forward on, br_netfilter
        loaded and net.bridge.bridge-nf-call-iptables=1, so that bridged packets cross iptables.
        The lab loads the module only into its own VM's kernel; on this machine's kernel it uses
        br_netfilter where it is loaded already, and otherwise goes on without it."""
        node = self.kernel.node
        if node.run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() != "1":
            return
        switch = "/proc/sys/net/bridge/bridge-nf-call-iptables"
        if node.run(["test", "-e", switch]).rc != 0 and not self.kernel.lab.load_module("br_netfilter"):
            return
        self.kernel.sysctl("net.bridge.bridge-nf-call-iptables", 1)

    def delete_network(self, req: dict) -> dict:
        net = self._network(req.get("NetworkID", ""))
        self.kernel.iptables(firewall.undo(net.rules))
        self.kernel.remove_link(net.bridge)
        del self.networks[req["NetworkID"]]
        return {}

    def bridge_name(self, nid: str) -> str:
        """The Linux bridge of network ``nid``."""
        return self._network(nid).bridge

    # --- endpoints ------------------------------------------------------------------------
    def create_endpoint(self, req: dict) -> dict:
        net, eid = self._network(req.get("NetworkID", "")), req.get("EndpointID", "")
        if eid in self.endpoints:
            raise Forbidden(f"Endpoint ({eid}) already exists (Only one endpoint allowed)", "use a new endpoint ID")
        iface = req.get("Interface") or {}
        address = iface.get("Address") or ""
        mac = iface.get("MacAddress") or (mac_from_ip(address.split("/")[0]) if address else "")
        ep = BridgeEndpoint(req["NetworkID"], veth_name(eid), veth_name(eid, "sandbox"), mac, address)
        self.kernel.add_veth(ep.host_end, ep.sandbox_end, master=net.bridge, peer_mac=mac or None)
        self.endpoints[eid] = ep
        if mac and not iface.get("MacAddress"):
            return {"Interface": {"MacAddress": mac}}  # the driver chose it
        return {}

    def endpoint_oper_info(self, req: dict) -> dict:
        """The MAC, the host end of the veth, and the published ports (libnetwork's PortMap:
        ``[{"Proto", "IP", "Port", "HostIP", "HostPort"}]``)."""
        ep = self._endpoint(req)
        published = [{"Proto": pm.proto, "IP": pm.container_ip, "Port": pm.container_port, "HostIP": pm.host_ip,
                      "HostPort": pm.host_port} for pm in ep.published.ports]
        return {"Value": {"com.docker.network.endpoint.macaddress": ep.mac, "HostInterface": ep.host_end,
                          PORT_MAP: published}}

    def delete_endpoint(self, req: dict) -> dict:
        ep = self._endpoint(req)
        self.kernel.remove_link(ep.host_end)
        del self.endpoints[req["EndpointID"]]
        return {}

    def join(self, req: dict) -> dict:
        ep = self._endpoint(req)
        net = self.networks[ep.network]
        if not self.userland_proxy:  # hairpin NAT needs the port to send packets back out of itself
            self.kernel.run_later(f"ip link set {ep.host_end} type bridge_slave hairpin on")
        answer = {"InterfaceName": {"SrcName": ep.sandbox_end, "DstPrefix": "eth"}, "StaticRoutes": []}
        if not net.internal:
            answer["Gateway"] = net.gateway
        return answer

    def leave(self, req: dict) -> dict:
        self._endpoint(req)
        return {}

    # --- published ports ------------------------------------------------------------------
    def program_external_connectivity(self, req: dict) -> dict:
        ep = self._endpoint(req)
        bindings = [ports.PortBinding(b["Port"], b.get("Proto", "tcp"), b.get("HostIP", ""), b.get("HostPort"))
                    for b in (req.get("Options") or {}).get(PORT_MAP) or []]
        if bindings:
            ep.published = ports.publish(self.kernel, self.allocator, bindings, endpoint_id=req["EndpointID"],
                                         container_ip=ep.address.split("/")[0],
                                         bridge=self.networks[ep.network].bridge,
                                         userland_proxy=self.userland_proxy, iptables=self.iptables)
        return {}

    def revoke_external_connectivity(self, req: dict) -> dict:
        ports.unpublish(self.kernel, self.allocator, self._endpoint(req).published)
        return {}


def _bool(options: dict, key: str) -> bool:
    """A bridge driver option that must be a Go bool, with the daemon's error when it is not
    (moby daemon/libnetwork/drivers/bridge/bridge_linux.go, parseErr); default true."""
    value = options.get(key)
    if value is None:
        return True
    if value not in _GO_BOOLS:
        raise InvalidParameter(f"failed to parse {key} value: {value} "
                               f"(strconv.ParseBool: parsing {json.dumps(value)}: invalid syntax)")
    return _GO_BOOLS[value]
