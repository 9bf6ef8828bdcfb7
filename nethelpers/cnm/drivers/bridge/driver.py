"""The bridge driver's networks and endpoints (libnetwork ``drivers/bridge/bridge_linux.go``).

CreateNetwork makes the bridge with the gateway address IPAM gave and installs the
network's iptables rules; CreateEndpoint a veth pair with one end on the bridge; Join names
the other end (``SrcName``) for the daemon to move into the sandbox and rename
``eth<N>``, and gives the gateway; ProgramExternalConnectivity publishes the ports.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from .... import validate
from ....features import bridge_netfilter
from ...driverapi import PORT_MAP, Driver, generic_options
from ...errors import Forbidden, InvalidParameter, NoSuchObject, Unsupported
from ...ids import mac_from_ip, random_mac, veth_name
from . import firewaller, ports

BRIDGE_NAME = "com.docker.network.bridge.name"
ENABLE_ICC = "com.docker.network.bridge.enable_icc"
ENABLE_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade"
DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge"
GATEWAY_MODE = "com.docker.network.bridge.gateway_mode_ipv4"  # Docker 28+
HOST_BINDING_IPV4 = "com.docker.network.bridge.host_binding_ipv4"  # labels.go DefaultBindingIP
KNOWN_OPTIONS = (BRIDGE_NAME, ENABLE_ICC, ENABLE_MASQUERADE, HOST_BINDING_IPV4)
# options Docker sets on its default network (docker0), shown by inspect, not choices of the driver here
DEFAULT_NETWORK_OPTIONS = (DEFAULT_BRIDGE, "com.docker.network.driver.mtu")

# Go's strconv.ParseBool, which the bridge driver parses its options with.
_GO_BOOLS = {**dict.fromkeys(("1", "t", "T", "TRUE", "true", "True"), True),
             **dict.fromkeys(("0", "f", "F", "FALSE", "false", "False"), False)}


@dataclass
class BridgeNetwork:
    bridge: str
    subnet: str
    gateway: str
    internal: bool
    firewall: firewaller.FirewallNetwork | None = None
    default_host_ip: str = "0.0.0.0"  # com.docker.network.bridge.host_binding_ipv4


@dataclass
class BridgeEndpoint:
    network: str
    host_end: str
    sandbox_end: str
    mac: str
    address: str
    published: ports.Published = field(default_factory=ports.Published)


class BridgeDriver(Driver):
    """Docker's ``bridge`` driver, with its firewall.

    Args:
        kernel: the daemon's :class:`~nethelpers.cnm.kernel.Kernel`.
        userland_proxy: dockerd's ``--userland-proxy`` (a docker-proxy per published port;
            False: hairpin NAT instead).
        iptables: dockerd's ``--iptables`` (False: no rules at all, as ``--iptables=false``).
        firewall: whose rules, :data:`firewaller.FIREWALLS` ("iptables-27": Docker 27's;
            "iptables-29", "nftables-29": Docker 29's two backends).
        random_macs: endpoints get random MACs (Docker 28+) instead of 02:42 + the address.
    """

    name = "bridge"

    def __init__(self, kernel, *, userland_proxy: bool = True, iptables: bool = True,
                 firewall: str = "iptables-27", random_macs: bool = False, **config) -> None:
        self.kernel, self.userland_proxy, self.iptables = kernel, userland_proxy, iptables
        self.random_macs = random_macs
        self.firewall = firewaller.make(firewall, kernel, hairpin=not userland_proxy)
        self.networks: dict[str, BridgeNetwork] = {}
        self.endpoints: dict[str, BridgeEndpoint] = {}
        self.allocator = ports.PortAllocator(27 if firewall.endswith("-27") else 29,
                                             read_sysctl=kernel.node.sysctl)
        self._setup_firewall()

    def _setup_firewall(self) -> None:
        """setupIPForwarding and the chains dockerd makes before any network (moby v27.5.1
        ``drivers/bridge/setup_ip_forwarding.go``, ``setup_ip_tables_linux.go``; docker-v29.7.2
        ``internal/iptabler/iptabler.go``)."""
        forwarding_was_on = self.kernel.node.sysctl("net.ipv4.ip_forward") == "1"
        if not forwarding_was_on:
            self.kernel.sysctl("net.ipv4.ip_forward", 1)
        if not self.iptables:
            return
        self.firewall.start(set_forward_drop=not forwarding_was_on)

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
        known = KNOWN_OPTIONS + ((GATEWAY_MODE,) if self.firewall.name.endswith("-29") else ())
        for key in options:
            if key not in known + (DEFAULT_NETWORK_OPTIONS if default else ()):
                raise Unsupported(f"the lab's bridge driver does not support the option {key!r} "
                                  f"(it knows: {', '.join(sorted(known))})")
        icc, masquerade = _bool(options, ENABLE_ICC), _bool(options, ENABLE_MASQUERADE)
        default_host_ip = _host_binding_ip(options)
        gateway_mode = self._gateway_mode(options)
        bridge = options.get(BRIDGE_NAME) or "br-" + nid[:12]
        validate.ifname(bridge)
        if any(n.bridge == bridge for n in self.networks.values()):
            raise Forbidden(f"bridge name {bridge} is already used by another network",
                            "choose another com.docker.network.bridge.name")
        internal = bool((req.get("Options") or {}).get("com.docker.network.internal"))
        net = BridgeNetwork(bridge, ipv4["Pool"], ipv4["Gateway"].split("/")[0], internal,
                            default_host_ip=default_host_ip)
        self.kernel.add_bridge(bridge, ipv4["Gateway"])
        try:
            if self.iptables:
                net.firewall = self.firewall.new_network(firewaller.NetworkConfig(
                    bridge, ipv4["Pool"], icc=icc, internal=internal, masquerade=masquerade,
                    gateway_mode=gateway_mode))
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

    @staticmethod
    def _gateway_mode(options: dict) -> str:
        """``com.docker.network.bridge.gateway_mode_ipv4`` (docker-v29.7.2 bridge_linux.go,
        newGwMode): nat (the default), nat-unprotected or routed; "isolated" is not built here."""
        value = options.get(GATEWAY_MODE, "nat")
        if value not in firewaller.GATEWAY_MODES + ("isolated",):
            raise InvalidParameter(f"failed to parse {GATEWAY_MODE} value: {value} (unknown gateway mode {value})")
        if value == "isolated":
            raise Unsupported("the lab's bridge driver does not build gateway mode 'isolated' "
                              "(it builds nat, nat-unprotected and routed)")
        return value

    def _bridge_netfilter(self) -> None:
        """What dockerd does for ICC off or --userland-proxy=false (moby v27.5.1,
        libnetwork/drivers/bridge: setupIPv4BridgeNetFiltering): with ip_forward on, br_netfilter
        loaded and net.bridge.bridge-nf-call-iptables=1, so that bridged packets cross iptables.
        The lab loads the module only into its own VM's kernel; on this machine's kernel it uses
        br_netfilter where it is loaded already, and otherwise goes on without it."""
        node = self.kernel.node
        if node.run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() != "1":
            return
        if not bridge_netfilter(self.kernel.lab, node):
            return
        self.kernel.sysctl("net.bridge.bridge-nf-call-iptables", 1)

    def delete_network(self, req: dict) -> dict:
        net = self._network(req.get("NetworkID", ""))
        if net.firewall is not None:
            net.firewall.delete()
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
        mac = iface.get("MacAddress") or self._mac(eid, address)
        ep = BridgeEndpoint(req["NetworkID"], veth_name(eid), veth_name(eid, "sandbox"), mac, address)
        self.kernel.add_veth(ep.host_end, ep.sandbox_end, master=net.bridge, peer_mac=mac or None)
        if net.firewall is not None and address:
            try:
                net.firewall.add_endpoint(address.split("/")[0])
            except Exception:
                self.kernel.remove_link(ep.host_end)
                raise
        self.endpoints[eid] = ep
        if mac and not iface.get("MacAddress"):
            return {"Interface": {"MacAddress": mac}}  # the driver chose it
        return {}

    def _mac(self, endpoint_id: str, address: str) -> str:
        """The MAC the driver picks: GenerateMACFromIP (Docker 27) or GenerateRandomMAC (28+)."""
        if self.random_macs:
            return random_mac(endpoint_id)
        return mac_from_ip(address.split("/")[0]) if address else ""

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
        net = self.networks[ep.network]
        if net.firewall is not None and ep.address:
            net.firewall.del_endpoint(ep.address.split("/")[0])
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
        bindings = [ports.PortBinding(b["Port"], b.get("Proto", "tcp"), b.get("HostIP", ""), b.get("HostPort"),
                                      b.get("HostPortEnd"))
                    for b in (req.get("Options") or {}).get(PORT_MAP) or []]
        net = self.networks[ep.network]
        if bindings:
            ep.published = ports.publish(self.kernel, self.allocator, bindings, endpoint_id=req["EndpointID"],
                                         container_ip=ep.address.split("/")[0], bridge=net.bridge,
                                         firewall=net.firewall, userland_proxy=self.userland_proxy,
                                         routed=net.firewall is not None and net.firewall.config.routed,
                                         default_host_ip=net.default_host_ip)
        return {}

    def revoke_external_connectivity(self, req: dict) -> dict:
        ep = self._endpoint(req)
        ports.unpublish(self.allocator, ep.published, self.networks[ep.network].firewall)
        return {}


def _host_binding_ip(options: dict) -> str:
    """``com.docker.network.bridge.host_binding_ipv4``: the host address of the network's
    published ports that name none (v27.5.1 and docker-v29.7.2 bridge_linux.go, DefaultBindingIP:
    net.ParseIP, parseErr "nil ip"; addPortMappings unmaps an IPv4-mapped address)."""
    value = options.get(HOST_BINDING_IPV4)
    if value is None:
        return "0.0.0.0"
    try:
        if "%" in value:  # net.ParseIP takes no zone
            raise ValueError(value)
        address = ipaddress.ip_address(value)
    except ValueError:
        raise InvalidParameter(f"failed to parse {HOST_BINDING_IPV4} value: {value} (nil ip)") from None
    mapped = getattr(address, "ipv4_mapped", None)
    if address.version == 6 and mapped is None:
        raise Unsupported(f"the lab's Docker hosts are IPv4-only: {HOST_BINDING_IPV4}={value} would publish "
                          f"the network's ports on IPv6 only (configurePortBindingIPv6)")
    return str(mapped or address)


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
