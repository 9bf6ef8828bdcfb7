"""Docker 29's nftables firewall, ``dockerd --firewall-backend=nftables`` (firewaller "nftables-29").

moby docker-v29.7.2 ``daemon/libnetwork/drivers/bridge/internal/nftabler``: ``nftabler.go`` (init:
table ``ip docker-bridges``, its base chains and four verdict maps, and the same ``ip6`` table),
``network.go`` (configure: four chains and four map elements per bridge), ``endpoint.go``
(filterDirectAccess), ``port.go`` (setPerPortForwarding, -DNAT, -HairpinMasq,
filterPortMappedOnLoopback). The table is kept as ``daemon/libnetwork/internal/nftables`` keeps it:
in memory, each chain's rules in ordered groups; every event is one nft script that declares,
flushes and re-fills the chains it touched (``incremental_update.nft.gotmpl``), and a network is
taken back by undoing its changes, newest first. Nothing goes into iptables, and the FORWARD
policy is not touched: the nftabler has no FilterForwardDrop (commit 67ffa47090, "nftables: don't
enable IP forwarding"). tests/docker/test_docker_nftables_29.py compares the result with
``integration/network/bridge/nftablesdoc/generated/*.md`` at that tag.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field

from ...errors import DriverFailure
from .firewaller import Firewaller, FirewallNetwork, NetworkConfig, PortMapping

TABLE = "docker-bridges"
NAT_CHAIN, RAW_PREROUTING = "nat-prerouting-and-output", "raw-PREROUTING"
FWD_IN_MAP, FWD_OUT_MAP = "filter-forward-in-jumps", "filter-forward-out-jumps"
NAT_IN_MAP, NAT_OUT_MAP = "nat-postrouting-in-jumps", "nat-postrouting-out-jumps"
# rule groups: a chain lists its rules group by group, each in the order added (nftables.RuleGroup);
# filter-forward-in groups 1 and 2 (fwmark accept, legacy links) are not built here
INITIAL, ICC, PORTS, FINAL = 0, 3, 4, 5
RAW_PORTS = 1
CT_ACCEPT = "ct state established,related counter accept"


@dataclass(frozen=True)
class Chain:
    name: str
    hook: str = ""  # a base chain's "type ... hook ... priority ...; policy accept;"


@dataclass(frozen=True)
class Map:
    name: str


@dataclass(frozen=True)
class Element:
    map: str
    key: str
    value: str


@dataclass(frozen=True)
class Rule:
    chain: str
    text: str
    group: int = INITIAL
    shared: bool = False  # IgnoreExist: added once however often asked, deleted if there


Change = tuple[bool, object]  # (create, what); False: delete


@dataclass
class Edit:
    """What one transaction changes, for the script that makes it."""
    touched: set[str] = field(default_factory=set)
    deleted_chains: list[str] = field(default_factory=list)
    new_maps: list[str] = field(default_factory=list)
    added: dict[str, dict[str, str]] = field(default_factory=dict)
    deleted: dict[str, set[str]] = field(default_factory=dict)


class Table:
    """One nftables table as dockerd keeps it (internal/nftables ``table``)."""

    def __init__(self, kernel, family: str) -> None:
        self.kernel, self.family = kernel, family
        self.chains: dict[str, Chain] = {}
        self.rules: dict[str, dict[int, list[str]]] = {}
        self.maps: dict[str, dict[str, str]] = {}
        self.new = True

    def apply(self, changes: list[Change]) -> None:
        """Change the model and the kernel in one transaction; the model is restored if nft refuses."""
        if not changes:
            return
        saved = copy.deepcopy((self.chains, self.rules, self.maps, self.new))
        try:
            self.kernel.nft(self.stage(changes))
        except BaseException:
            self.chains, self.rules, self.maps, self.new = saved
            raise

    def stage(self, changes: list[Change]) -> str:
        """Change the model; the nft script that does the same to the kernel."""
        edit = Edit()
        for create, what in changes:
            (self._create if create else self._delete)(what, edit)
        script = self._script(edit)
        self.new = False
        return script

    def _create(self, what, edit: Edit) -> None:
        if isinstance(what, Chain):
            self.chains[what.name], self.rules[what.name] = what, {}
            edit.touched.add(what.name)
        elif isinstance(what, Map):
            self.maps[what.name] = {}
            edit.new_maps.append(what.name)
        elif isinstance(what, Element):
            self.maps[what.map][what.key] = what.value
            edit.added.setdefault(what.map, {})[what.key] = what.value
            edit.deleted.get(what.map, set()).discard(what.key)
        else:
            group = self.rules[what.chain].setdefault(what.group, [])
            if what.text in group and not what.shared:
                raise DriverFailure(f"adding rule '{what.text}' to chain {what.chain}: rule exists")
            if what.text not in group:
                group.append(what.text)
                edit.touched.add(what.chain)

    def _delete(self, what, edit: Edit) -> None:
        if isinstance(what, Chain):
            del self.chains[what.name], self.rules[what.name]
            edit.touched.discard(what.name)
            edit.deleted_chains.append(what.name)
        elif isinstance(what, Element):
            del self.maps[what.map][what.key]
            edit.added.get(what.map, {}).pop(what.key, None)
            edit.deleted.setdefault(what.map, set()).add(what.key)
        else:  # a Rule (maps are never deleted)
            groups = self.rules[what.chain]
            if what.text not in groups.get(what.group, []):
                if what.shared:
                    return
                raise DriverFailure(f"deleting rule '{what.text}' from chain {what.chain}: rule does not exist")
            groups[what.group] = [r for r in groups[what.group] if r != what.text]
            if not groups[what.group]:
                del groups[what.group]
            edit.touched.add(what.chain)

    def _script(self, edit: Edit) -> str:
        """incremental_update.nft.gotmpl: declare, flush, delete, re-fill, add elements."""
        fam, touched = f"{self.family} {TABLE}", sorted(edit.touched)  # Go templates range maps sorted
        lines = [f"table {fam} {{"]
        lines += [f"\tmap {name} {{ type ifname : verdict; }}" for name in sorted(self.maps)]
        lines += [f"\tchain {name} {{ {self.chains[name].hook} }}" for name in touched]
        lines.append("}")
        lines += [f"flush table {fam}"] if self.new else []
        lines += [f"flush map {fam} {name}" for name in edit.new_maps]
        lines += [f"flush chain {fam} {name}" for name in touched + edit.deleted_chains]
        lines += [f"delete element {fam} {name} {{ " + ", ".join(f'"{k}"' for k in sorted(keys)) + " }"
                  for name, keys in edit.deleted.items() if keys]
        lines += [f"delete chain {fam} {name}" for name in edit.deleted_chains]
        if touched:
            lines.append(f"table {fam} {{")
            for name in touched:
                hook = [self.chains[name].hook] if self.chains[name].hook else []
                rules = [rule for group in sorted(self.rules[name]) for rule in self.rules[name][group]]
                lines += [f"\tchain {name} {{"] + [f"\t\t{line}" for line in hook + rules] + ["\t}"]
            lines.append("}")
        lines += [f"add element {fam} {name} {{ " + ", ".join(f'"{k}" : {v}' for k, v in sorted(elements.items()))
                  + " }" for name, elements in edit.added.items() if elements]
        return "\n".join(lines) + "\n"

def base_chain(kind: str, hook: str, priority: int) -> str:
    return f"type {kind} hook {hook} priority {priority}; policy accept;"


def daemon_start(family: str, hairpin: bool) -> list[Change]:
    """Nftabler.init: the base chains, each with its one or two rules, and the empty verdict maps."""
    skip_loopback = "" if hairpin else ("ip daddr != 127.0.0.0/8 " if family == "ip" else "ip6 daddr != ::1 ")
    jump = f"fib daddr type local counter jump {NAT_CHAIN}"
    return [(True, what) for what in (
        Chain("filter-FORWARD", base_chain("filter", "forward", 0)),
        Map(FWD_IN_MAP), Rule("filter-FORWARD", f"oifname vmap @{FWD_IN_MAP}"),
        Map(FWD_OUT_MAP), Rule("filter-FORWARD", f"iifname vmap @{FWD_OUT_MAP}"),
        Chain("nat-POSTROUTING", base_chain("nat", "postrouting", 100)),
        Map(NAT_OUT_MAP), Rule("nat-POSTROUTING", f"iifname vmap @{NAT_OUT_MAP}"),
        Map(NAT_IN_MAP), Rule("nat-POSTROUTING", f"oifname vmap @{NAT_IN_MAP}"),
        Chain(NAT_CHAIN),
        Chain("nat-PREROUTING", base_chain("nat", "prerouting", -100)), Rule("nat-PREROUTING", jump),
        Chain("nat-OUTPUT", base_chain("nat", "output", -100)), Rule("nat-OUTPUT", skip_loopback + jump),
        Chain(RAW_PREROUTING, base_chain("filter", "prerouting", -300)),
    )]


def chains_of(bridge: str) -> tuple[str, str, str, str]:
    """A network's chains: filter-forward-in/-out, nat-postrouting-in/-out, each ``__<bridge>``."""
    return tuple(f"{prefix}__{bridge}" for prefix in (
        "filter-forward-in", "filter-forward-out", "nat-postrouting-in", "nat-postrouting-out"))


def network_changes(net: NetworkConfig, hairpin: bool) -> list[Change]:
    """network.go configure: the chains, their jumps in the verdict maps, and their rules."""
    br = net.bridge
    fwd_in, fwd_out, nat_in, nat_out = chains_of(br)
    objects: list = [Chain(fwd_in), Chain(fwd_out), Element(FWD_IN_MAP, br, f"jump {fwd_in}"),
                     Element(FWD_OUT_MAP, br, f"jump {fwd_out}"), Chain(nat_in),
                     Element(NAT_IN_MAP, br, f"jump {nat_in}"), Chain(nat_out),
                     Element(NAT_OUT_MAP, br, f"jump {nat_out}"), Rule(fwd_in, CT_ACCEPT), Rule(fwd_out, CT_ACCEPT)]
    icc = "accept" if net.icc else "drop"
    if net.internal:
        objects += [Rule(fwd_in, f'iifname != "{br}" counter drop comment "INTERNAL NETWORK INGRESS"'),
                    Rule(fwd_out, f'oifname != "{br}" counter drop comment "INTERNAL NETWORK EGRESS"'),
                    Rule(fwd_in, f'counter {icc} comment "ICC"', ICC)]
        return [(True, what) for what in objects]
    objects += [Rule(fwd_in, f'iifname "{br}" counter {icc} comment "ICC"', ICC),
                Rule(fwd_out, 'counter accept comment "OUTGOING"'),
                Rule(fwd_in, 'counter accept comment "UNPROTECTED"' if net.unprotected
                     else 'counter drop comment "UNPUBLISHED PORT DROP"', FINAL)]
    if net.routed:
        objects.append(Rule(fwd_in, 'ip protocol icmp counter accept comment "ICMP"'))
    if net.masquerade and not net.routed:
        objects.append(Rule(nat_out, f'oifname != "{br}" ip saddr {net.subnet} counter masquerade '
                                     f'comment "MASQUERADE"'))
    if hairpin:
        objects.append(Rule(nat_in, 'fib saddr type local counter masquerade comment "MASQUERADE FROM HOST"'))
    return [(True, what) for what in objects]


def endpoint_rules(net: NetworkConfig, ip: str) -> list[Rule]:
    """filterDirectAccess: only the container's own bridge may send packets to its address."""
    if net.internal or net.unprotected or net.routed:
        return []
    return [Rule(RAW_PREROUTING, f'ip daddr {ip} iifname != "{net.bridge}" counter drop '
                                 f'comment "DROP DIRECT ACCESS"', RAW_PORTS)]


def port_rules(net: NetworkConfig, mappings: list[PortMapping], hairpin: bool) -> list[Rule]:
    """setPerPortRules: forwarding (unless nat-unprotected), DNAT, hairpin MASQUERADE, loopback DROP,
    each for every binding in turn. A routed network maps no host port, so it only opens the port."""
    if net.internal:
        return []
    fwd_in, _, nat_in, _ = chains_of(net.bridge)
    nat = [pm for pm in mappings if pm.host_port and not net.routed]
    rules = [] if net.unprotected else [
        Rule(fwd_in, f"ip daddr {pm.container_ip} {pm.proto} dport {pm.container_port} counter accept",
             PORTS, shared=True) for pm in mappings]
    not_from_bridge = "" if hairpin else f'iifname != "{net.bridge}" '
    rules += [Rule(NAT_CHAIN, f"{not_from_bridge}{_daddr(pm)}{pm.proto} dport {pm.host_port} counter "
                              f'dnat to {pm.container_ip}:{pm.container_port} comment "DNAT"') for pm in nat]
    if hairpin:
        rules += [Rule(nat_in, f"ip saddr {pm.container_ip} ip daddr {pm.container_ip} {pm.proto} dport "
                               f'{pm.container_port} counter masquerade comment "MASQ TO OWN PORT"') for pm in nat]
    rules += [Rule(RAW_PREROUTING, f'iifname != "lo" ip daddr {pm.host_ip} {pm.proto} dport {pm.host_port} '
                                   f'counter drop comment "DROP REMOTE LOOPBACK"', RAW_PORTS)
              for pm in nat if _daddr(pm) and ipaddress.ip_address(pm.host_ip).is_loopback]
    return rules


def _daddr(pm: PortMapping) -> str:
    return "" if pm.host_ip in ("", "0.0.0.0") else f"ip daddr {pm.host_ip} "


class Nftables29(Firewaller):
    """Docker 29's bridge firewall with ``--firewall-backend=nftables``."""

    name = "nftables-29"

    def __init__(self, kernel, *, hairpin: bool) -> None:
        super().__init__(kernel, hairpin=hairpin)
        self.table, self.table6 = Table(kernel, "ip"), Table(kernel, "ip6")

    def start(self, set_forward_drop: bool) -> None:
        """Both tables (dockerd's ip6tables is on by default; with no IPv6 network the ip6 table keeps
        only what init makes). ``set_forward_drop`` is ignored: Docker 29 with nftables neither turns
        ip_forward on nor sets a FORWARD policy (bridge_linux.go: no filterForwardDropper)."""
        self.kernel.nft(self.table.stage(daemon_start("ip", self.hairpin))
                        + self.table6.stage(daemon_start("ip6", self.hairpin)))

    def new_network(self, config: NetworkConfig) -> NftablesNetwork:
        net = NftablesNetwork(self, config)
        self.table.apply(net.changes)
        self.networks.append(net)
        return net


class NftablesNetwork(FirewallNetwork):
    """One network's chains and rules in ``ip docker-bridges`` (network.go ``network``)."""

    def __init__(self, firewaller: Nftables29, config: NetworkConfig) -> None:
        super().__init__(firewaller, config)
        self.table = firewaller.table
        self.changes = network_changes(config, firewaller.hairpin)

    def delete(self) -> None:
        """DelNetworkLevelRules: the network's changes undone, newest first (Modifier.Reverse)."""
        self.table.apply([(not create, what) for create, what in reversed(self.changes)])
        self.changes = []
        if self in self.firewaller.networks:
            self.firewaller.networks.remove(self)

    def add_endpoint(self, ip: str) -> None:
        self.table.apply([(True, rule) for rule in endpoint_rules(self.config, ip)])

    def del_endpoint(self, ip: str) -> None:
        self.table.apply([(False, rule) for rule in endpoint_rules(self.config, ip)])

    def add_ports(self, mappings: list[PortMapping]) -> None:
        self.table.apply([(True, rule) for rule in port_rules(self.config, mappings, self.firewaller.hairpin)])

    def del_ports(self, mappings: list[PortMapping]) -> None:
        self.table.apply([(False, rule) for rule in port_rules(self.config, mappings, self.firewaller.hairpin)])


FIREWALLER = Nftables29
