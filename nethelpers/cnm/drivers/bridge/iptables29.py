"""The iptables rules Docker 28 and 29 install, in the order they install them (firewaller "iptables-29").

moby docker-v29.7.2 ``daemon/libnetwork/drivers/bridge/internal/iptabler``: ``iptabler.go``
(setupIPChains: the chains and their jumps), ``network.go`` (setupNonInternalNetworkRules,
setDefaultForwardRule, setIcc, setupInternalNetworkRules), ``endpoint.go`` (filterDirectAccess:
a raw-PREROUTING DROP per container address), ``port.go`` (setPerPortNAT,
setPerPortForwarding, filterPortMappedOnLoopback). What changed from 27: the filter rules
moved from FORWARD into DOCKER-FORWARD and its sub-chains, the isolation chains are gone (the
DOCKER chain's per-network DROP isolates networks), the per-port hairpin MASQUERADE exists only
with ``--userland-proxy=false``, and the raw table drops packets addressed to a container from
anywhere but its own bridge. tests/docker/test_docker_iptables_29.py compares the result with
``integration/network/bridge/iptablesdoc/generated/*.md`` at that tag.

``-I CHAIN 1`` where moby's ``Rule.Insert`` puts a rule at the head, ``-A`` where it appends.
"""

from __future__ import annotations

from .firewaller import Command, Firewaller, IptablesNetwork, NetworkConfig, PortMapping

CHAINS = ("DOCKER-FORWARD", "DOCKER-BRIDGE", "DOCKER-CT", "DOCKER-INTERNAL")


class Iptables29(Firewaller):
    """Docker 29's bridge firewall with ``--firewall-backend=iptables`` (the default)."""

    name = "iptables-29"

    def start(self, set_forward_drop: bool) -> None:
        self.kernel.iptables(daemon_start(self.hairpin, set_forward_drop))

    def new_network(self, config: NetworkConfig) -> IptablesNetwork:
        net = Network29(self, config)
        net.rules = net._apply(network_rules(config, self.hairpin))
        self.networks.append(net)
        return net


class Network29(IptablesNetwork):
    def endpoint_commands(self, ip: str) -> list[Command]:
        return endpoint_rules(self.config, ip)

    def port_commands(self, pm: PortMapping) -> list[Command]:
        return port_rules(self.config, pm, self.firewaller.hairpin)


def daemon_start(hairpin: bool, set_forward_drop: bool) -> list[Command]:
    """setupIPChains, then the daemon's DOCKER-USER chain (setupUserChain) and FORWARD policy."""
    output = "-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER" if hairpin else \
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER"
    commands: list[Command] = [("nat", "-N DOCKER"), ("filter", "-N DOCKER")]
    commands += [("filter", f"-N {chain}") for chain in CHAINS]
    commands += [
        ("nat", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
        ("nat", output),
        # EnsureJumpRule puts each jump at the head of its chain
        ("filter", "-I FORWARD 1 -j DOCKER-FORWARD"),
        ("filter", "-I DOCKER-FORWARD 1 -j DOCKER-BRIDGE"),
        ("filter", "-I DOCKER-FORWARD 1 -j DOCKER-INTERNAL"),
        ("filter", "-I DOCKER-FORWARD 1 -j DOCKER-CT"),
        ("filter", "-N DOCKER-USER"),
        ("filter", "-I FORWARD 1 -j DOCKER-USER"),
    ]
    if set_forward_drop:
        commands.append(("filter", "-P FORWARD DROP"))
    return commands


def network_rules(net: NetworkConfig, hairpin: bool) -> list[Command]:
    """setupIPTables for one network: internal or not."""
    br, sub = net.bridge, net.subnet
    if net.internal:
        return [("filter", f"-I DOCKER-INTERNAL 1 ! -d {sub} -i {br} -j DROP"),
                ("filter", f"-I DOCKER-INTERNAL 1 ! -s {sub} -o {br} -j DROP"),
                ("filter", f"-A DOCKER-FORWARD -i {br} -o {br} -j {'ACCEPT' if net.icc else 'DROP'}")]
    rules: list[Command] = []
    if net.masquerade and not net.routed:
        rules.append(("nat", f"-I POSTROUTING 1 -s {sub} ! -o {br} -j MASQUERADE"))
    if hairpin:
        rules.append(("nat", f"-I POSTROUTING 1 -o {br} -m addrtype --src-type LOCAL -j MASQUERADE"))
    if not net.icc:
        rules.append(("filter", f"-A DOCKER-FORWARD -i {br} -o {br} -j DROP"))
    if net.routed:
        rules.append(("filter", f"-A DOCKER -o {br} -p icmp -j ACCEPT"))
    rules.append(("filter", f"-A DOCKER-FORWARD -i {br} -j ACCEPT" if net.icc else
                  f"-A DOCKER-FORWARD -i {br} ! -o {br} -j ACCEPT"))
    rules += [
        ("filter", f"-A DOCKER ! -i {br} -o {br} -j {'ACCEPT' if net.unprotected else 'DROP'}"),
        ("filter", f"-A DOCKER-CT -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"),
        ("filter", f"-A DOCKER-BRIDGE -o {br} -j DOCKER"),
    ]
    return rules


def endpoint_rules(net: NetworkConfig, ip: str) -> list[Command]:
    """filterDirectAccess: only the container's own bridge may send packets to its address."""
    if net.internal or net.unprotected or net.routed:
        return []
    return [("raw", f"-A PREROUTING -d {ip}/32 ! -i {net.bridge} -j DROP")]


def port_rules(net: NetworkConfig, pm: PortMapping, hairpin: bool) -> list[Command]:
    """setPerPortIptables for one binding: the loopback filter, DNAT (and the hairpin
    MASQUERADE without the proxy), and the ACCEPT at the head of DOCKER."""
    if net.internal:
        return []
    p, cip, cport, br = pm.proto, pm.container_ip, pm.container_port, pm.bridge
    rules: list[Command] = []
    host_ip = "" if pm.host_ip in ("", "0.0.0.0") else pm.host_ip
    if host_ip.startswith("127."):
        rules.append(("raw", f"-A PREROUTING -d {host_ip}/32 ! -i lo -p {p} -m {p} --dport {pm.host_port} -j DROP"))
    if pm.host_port and not net.routed:
        dest = f"-d {host_ip}/32 " if host_ip else ""
        not_from_bridge = "" if hairpin else f"! -i {br} "
        rules.append(("nat", f"-A DOCKER {dest}{not_from_bridge}-p {p} -m {p} --dport {pm.host_port} "
                             f"-j DNAT --to-destination {cip}:{cport}"))
        if hairpin:
            rules.append(("nat", f"-A POSTROUTING -s {cip}/32 -d {cip}/32 -p {p} -m {p} --dport {cport} "
                                 f"-j MASQUERADE"))
    if not net.unprotected:
        rules.append(("filter", f"-I DOCKER 1 -d {cip}/32 ! -i {br} -o {br} -p {p} -m {p} --dport {cport} -j ACCEPT"))
    return rules


FIREWALLER = Iptables29
