"""The iptables rules Docker 27 installs, in the order it installs them (firewaller "iptables-27").

Each function returns the iptables commands Docker's bridge driver runs for one
event (daemon start, network created, port published, ...), as ``(table, rule)``
pairs where ``rule`` is an iptables command line such as ``-I FORWARD 1 -j DOCKER``.
The driver sends each event's commands to the Docker host in one
``iptables-restore --noflush`` (:meth:`~nethelpers.cnm.kernel.Kernel.iptables`: one process
instead of one per rule; the rules and their order are the same as Docker's one-by-one calls).

Source of truth: moby's ``integration/network/bridge/iptablesdoc/generated/*.md``
at 59cf8e8565 (v27.0.1-633, before the 28.0 rewrite) and
``libnetwork/drivers/bridge/setup_ip_tables_linux.go`` at v27.5.1.
tests/docker/test_docker_iptables.py compares the result with those files.
"""

from __future__ import annotations

from .firewaller import Command, Firewaller, IptablesNetwork, NetworkConfig, PortMapping, undo


class Iptables27(Firewaller):
    """Docker 27's bridge firewall."""

    name = "iptables-27"

    def start(self, set_forward_drop: bool) -> None:
        self.kernel.iptables(daemon_start(not self.hairpin, set_forward_drop))

    def new_network(self, config: NetworkConfig) -> IptablesNetwork:
        if config.gateway_mode != "nat":
            raise ValueError("Docker 27 has no gateway modes")
        net = Network27(self, config)
        net.rules = net._apply(network_rules(config, not self.hairpin, first=not self.networks))
        self.networks.append(net)
        return net


class Network27(IptablesNetwork):
    def delete(self) -> None:
        self.firewaller.kernel.iptables(undo(self.rules, keep=_JUMPS))
        self.rules = []
        self.firewaller.networks.remove(self)

    def port_commands(self, pm: PortMapping) -> list[Command]:
        return port_rules(pm, not self.firewaller.hairpin)


def daemon_start(userland_proxy: bool, set_forward_drop: bool) -> list[Command]:
    """Chains and jumps dockerd creates before any network exists."""
    out_jump = "-A OUTPUT -m addrtype --dst-type LOCAL -j DOCKER" if not userland_proxy else \
        "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER"
    commands = [
        ("nat", "-N DOCKER"),
        ("nat", "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER"),
        ("nat", out_jump),
        ("filter", "-N DOCKER"),
        ("filter", "-N DOCKER-ISOLATION-STAGE-1"),
        ("filter", "-N DOCKER-ISOLATION-STAGE-2"),
        ("filter", "-N DOCKER-USER"),
        ("filter", "-A DOCKER-ISOLATION-STAGE-1 -j RETURN"),
        ("filter", "-A DOCKER-ISOLATION-STAGE-2 -j RETURN"),
        ("filter", "-A DOCKER-USER -j RETURN"),
    ]
    if set_forward_drop:
        # dockerd turned ip_forward on itself, so it closes the FORWARD chain's policy
        commands.append(("filter", "-P FORWARD DROP"))
    return commands


def network_rules(net: NetworkConfig, userland_proxy: bool, first: bool = False) -> list[Command]:
    """The rules of one bridge network, as Docker inserts or appends them.

    ``first``: the daemon's first network (docker0), when the FORWARD jumps do
    not exist yet.
    """
    br, sub = net.bridge, net.subnet
    hairpin = not userland_proxy
    rules: list[Command] = []
    if not net.internal:
        # ProgramChain(filterChain): DOCKER jump, then conntrack ACCEPT above it
        if net.masquerade:
            rules.append(("nat", f"-I POSTROUTING 1 -s {sub} ! -o {br} -j MASQUERADE"))
            if not hairpin:
                rules.append(("nat", f"-I DOCKER 1 -i {br} -j RETURN"))
        if hairpin:
            rules.append(("nat", f"-I POSTROUTING 1 -o {br} -m addrtype --src-type LOCAL -j MASQUERADE"))
    rules.extend(_icc(br, net.icc))
    if net.internal:
        rules.append(("filter", f"-I DOCKER-ISOLATION-STAGE-1 1 ! -d {sub} -i {br} -j DROP"))
        rules.append(("filter", f"-I DOCKER-ISOLATION-STAGE-1 1 ! -s {sub} -o {br} -j DROP"))
    else:
        rules.append(("filter", f"-I FORWARD 1 -i {br} ! -o {br} -j ACCEPT"))
        rules.append(("filter", f"-I FORWARD 1 -o {br} -j DOCKER"))
        rules.append(("filter", f"-I FORWARD 1 -o {br} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"))
        rules.append(("filter", f"-I DOCKER-ISOLATION-STAGE-1 1 -i {br} ! -o {br} -j DOCKER-ISOLATION-STAGE-2"))
        rules.append(("filter", f"-I DOCKER-ISOLATION-STAGE-2 1 -o {br} -j DROP"))
    # keep the jumps on top: Docker deletes and re-inserts them after each new network
    rules.extend(first_jumps() if first else _jumps_to_top())
    return rules


def _icc(br: str, icc: bool) -> list[Command]:
    if icc:
        return [("filter", f"-I FORWARD 1 -i {br} -o {br} -j ACCEPT")]
    return [("filter", f"-A FORWARD -i {br} -o {br} -j DROP")]


def _jumps_to_top() -> list[Command]:
    return [("filter", "-D FORWARD -j DOCKER-ISOLATION-STAGE-1"),
            ("filter", "-I FORWARD 1 -j DOCKER-ISOLATION-STAGE-1"),
            ("filter", "-D FORWARD -j DOCKER-USER"),
            ("filter", "-I FORWARD 1 -j DOCKER-USER")]


def first_jumps() -> list[Command]:
    """The FORWARD jumps as the first network finds them missing (nothing to delete yet)."""
    return [("filter", "-I FORWARD 1 -j DOCKER-ISOLATION-STAGE-1"),
            ("filter", "-I FORWARD 1 -j DOCKER-USER")]


def port_rules(pm: PortMapping, userland_proxy: bool) -> list[Command]:
    """DNAT in, ACCEPT through, and the hairpin MASQUERADE (all appended); for sctp also the
    CHECKSUM fill in mangle POSTROUTING (v27.5.1 port_mapping_linux.go, setPerPortForwarding:
    the workaround for veths of kernels up to 4.9 that leave SCTP checksums to the NIC)."""
    p, cip, cport, br = pm.proto, pm.container_ip, pm.container_port, pm.bridge
    dest = "" if pm.host_ip in ("0.0.0.0", "") else f"-d {pm.host_ip}/32 "
    not_from_bridge = "" if not userland_proxy else f"! -i {br} "
    rules = [
        ("filter", f"-A DOCKER -d {cip}/32 ! -i {br} -o {br} -p {p} -m {p} --dport {cport} -j ACCEPT"),
        ("nat", f"-A POSTROUTING -s {cip}/32 -d {cip}/32 -p {p} -m {p} --dport {cport} -j MASQUERADE"),
        ("nat", f"-A DOCKER {dest}{not_from_bridge}-p {p} -m {p} --dport {pm.host_port} "
                f"-j DNAT --to-destination {cip}:{cport}"),
    ]
    if p == "sctp":
        rules.append(("mangle", f"-A POSTROUTING -p sctp -m sctp --sport {cport} -j CHECKSUM --checksum-fill"))
    return rules


_JUMPS = frozenset(r for _, r in _jumps_to_top() + first_jumps())

FIREWALLER = Iptables27
