"""The doctor's report as data: one :class:`Check` per line, and the names and order of the lines."""

from __future__ import annotations

from dataclasses import dataclass

from ..features import COMMANDS, module_of

WIDTH, NAME_WIDTH = 100, 16
BACKENDS = ("namespaces", "vm")
CNI_PLUGINS = ("loopback", "bridge", "ptp", "host-local", "static", "portmap", "firewall",
               "tuning", "bandwidth", "macvlan")
# link type -> (kernel module, shell command for those add_link cannot express: the one
# Lab(needs=[...]) tries, nethelpers/features.py)
LINKS = {
    "bridge": ("bridge", None), "veth": ("veth", None), "vxlan": ("vxlan", None),
    "macvlan": ("macvlan", None), "dummy": ("dummy", None),
    "ipvlan": ("ipvlan", COMMANDS["ipvlan"].format(name="iv0", parent="v0")),
    "vlan": (module_of("vlan"), COMMANDS["vlan"].format(parent="v0")),
    "vrf": ("vrf", COMMANDS["vrf"].format(name="vrf0")),
    "geneve": ("geneve", COMMANDS["geneve"].format(name="gn0")),
}
QDISCS = {"tbf": ("sch_tbf", "tbf rate 1mbit burst 32kbit latency 400ms"),
          "netem": ("sch_netem", "netem delay 10ms")}
IPTABLES_RULES = (
    ("MASQUERADE", "iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -j MASQUERADE"),
    ("conntrack+addrtype", "iptables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED "
                           "-m addrtype --dst-type LOCAL -j ACCEPT"),
)
IPTABLES_MODULES = "sudo modprobe xt_addrtype xt_conntrack nf_nat"
KERNEL_CHECKS = ("netns", *LINKS, "iptables rules", "nft", "conntrack", "br_netfilter", "ping", "tcpdump",
                 "packet tracer", "iperf3", *QDISCS)
# the namespaces backend's lines, in the report's order
ORDER = ("sandbox", "user namespaces", *KERNEL_CHECKS[:1 + len(LINKS)], "iptables",
         *KERNEL_CHECKS[1 + len(LINKS):], "cni plugins", "etcd")
REQUIRED = {"sandbox", "netns", "bridge", "veth", "vxlan", "macvlan"}  # a lab needs them
OPTIONAL = {"dummy", "ipvlan", "vlan", "vrf", "geneve", "netem", "etcd"}  # the course does not
# the way out wherever namespaces are refused (Lab() also takes it by itself)
VM_BACKEND = ("the VM backend, which needs no privileges: NETHELPERS_BACKEND=vm (Lab() also falls back "
              "to it by itself; its section below says whether it runs here)")


def or_vm(fix: str = "") -> str:
    """``fix``, then "Or just use the VM backend …"; only the latter when there is no other fix."""
    return f"{fix.rstrip()} Or just use {VM_BACKEND}." if fix.strip() else f"Use {VM_BACKEND}."


@dataclass
class Check:
    """One line of the report; ``fix`` says what to do when ``ok`` is False.

    ``fix`` may hold several lines ("\\n"); lines that start with four spaces are commands or
    file contents, printed as they are.
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = False   # no lab (of this backend) without it
    optional: bool = False   # the course does not need it
    skipped: bool = False    # not run (something it depends on failed)
    backend: str = "namespaces"   # the section it belongs to: "namespaces" or "vm"

    @property
    def mark(self) -> str:
        return "✓" if self.ok else "?" if self.skipped else "–" if self.optional else "✗"


def check(name: str, ok: bool, detail: str, fix: str = "", **flags) -> Check:
    """A namespaces-backend line; ``required``/``optional`` default from the name."""
    flags.setdefault("required", name in REQUIRED)
    flags.setdefault("optional", name in OPTIONAL)
    return Check(name, ok, detail, "" if ok else fix, **flags)
