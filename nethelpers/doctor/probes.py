"""The namespaces backend's kernel features, tried for real in one throwaway lab.

Nodes a and b, joined by a:v0 (10.0.0.1) <-> b:v0 (10.0.0.2): link types, iptables rules,
nftables, conntrack, a ping captured with tcpdump, a packet trace, iperf3, qdiscs. Nothing
touches the machine's own network. Every error becomes one line with its cause and fix.
"""

from __future__ import annotations

import os
import re

from ..errors import LabError
from ..features import BRIDGE_NF_CALL_IPTABLES, bridge_netfilter
from .causes import describe, one_line
from .host import install, kernel_fix, version
from .model import IPTABLES_MODULES, IPTABLES_RULES, LINKS, QDISCS, check


class Probe:
    def __init__(self, lab) -> None:
        self.lab, self.rootless, self.out = lab, lab.rootless, []

    def add(self, name: str, ok: bool, detail: str, error: str = "", fix: str = "") -> None:
        """Record a result; "'x' is not installed" errors get the package as their fix, errors
        with an errno a named cause (and its fix where one is known), none a traceback."""
        missing = re.search(r"'([^']+)' is not installed", error)
        if not ok and missing:
            error, fix = f"{missing[1]} is not installed", install(os.path.basename(missing[1]))
        elif not ok and ("[Errno" in error or "Traceback" in error):
            error, known = describe(error)
            fix = known or fix
        self.out.append(check(name, ok, detail if ok else one_line(error) or "failed", fix))

    def skip(self, names, reason: str = "it needs a working veth", fix: str = "fix veth first") -> None:
        self.out += [check(n, False, f"not run: {reason}", fix, skipped=True) for n in names]

    def sh(self, node, command: str, timeout: float = 5) -> tuple[bool, str]:
        """(worked, last line of its error) for a shell command in a node."""
        try:
            result = node.run(command, timeout=timeout)
        except LabError as exc:
            return False, str(exc)
        lines = (result.stderr or result.stdout).strip().splitlines()
        return result.ok, "" if result.ok else (lines or [f"exit status {result.rc}"])[-1]

    def worked(self, name: str) -> bool:
        return any(c.name == name and c.ok for c in self.out)

    def make_nodes(self) -> None:
        """The two nodes every probe uses; raises what the lab raised (the sandbox check's cause)."""
        self.a, self.b = self.lab.add_node("a"), self.lab.add_node("b")
        self.add("netns", True, "named network namespaces (nodes) can be created")

    def run_all(self) -> list:
        """Every probe after :meth:`make_nodes`, in order; returns the lines."""
        for name in LINKS:
            self.link(name)
        self.netfilter()
        self.bridge_netfilter()
        if not self.worked("veth"):
            self.skip(["ping", "tcpdump", "iperf3", *QDISCS])
            return self.out
        self.traffic()
        for name, (module, spec) in QDISCS.items():
            ok, err = self.sh(self.a, f"tc qdisc add dev v0 root {spec} && tc qdisc del dev v0 root")
            self.add(name, ok, f"tc qdisc add … {spec}",
                     f"this kernel has no {name} qdisc" if "kind is unknown" in err else err,
                     kernel_fix(module, name, self.rootless))
        return self.out

    def link(self, name: str) -> None:
        module, command = LINKS[name]
        fix = kernel_fix(module, name, self.rootless)
        try:
            if name == "bridge":
                self.a.add_bridge("br0")
            elif name == "veth":
                self.lab.add_veth("a:v0", "b:v0")
                self.a.add_address("v0", "10.0.0.1/24")
                self.b.add_address("v0", "10.0.0.2/24")
            elif name == "dummy":
                self.a.add_link("d0", "dummy")
            elif name == "vxlan":
                over = {"local": "10.0.0.1", "dev": "v0"} if self.worked("veth") else {}
                self.a.add_vxlan("vx0", 42, **over)
            elif name in ("macvlan", "ipvlan", "vlan") and not self.worked("veth"):
                return self.skip([name])
            elif name == "macvlan":
                self.a.add_macvlan("mv0", "v0")
            else:
                ok, err = self.sh(self.a, command)
                if not ok:
                    raise LabError(err.replace("Unknown device type", "no such link type"))
        except LabError as exc:
            error = str(exc)
            lacks = "link type" in error or "Operation not supported" in error
            self.add(name, False, "", f"this kernel has no {name!r} link type" if lacks else error, fix)
        else:
            self.add(name, True, f"ip link add … type {name} works in a node")

    def netfilter(self) -> None:
        failed = [f"{what}: {err}" for what, rule in IPTABLES_RULES
                  for ok, err in [self.sh(self.a, rule)] if not ok]
        fix = (f"{IPTABLES_MODULES} (a rootless lab cannot load kernel modules), or run as root once"
               if self.rootless else f"{IPTABLES_MODULES}; if that fails this kernel lacks them")
        self.add("iptables rules", not failed, "MASQUERADE, -m conntrack and -m addrtype (as Docker "
                 "uses them) work in a node", "; ".join(failed), fix)
        ok, err = self.sh(self.a, "nft list ruleset")
        nft = (version("nft") or "nft").split(" (")[0]
        self.add("nft", ok, f"{nft}: nft list ruleset works in a node", err,
                 kernel_fix("nf_tables", "nft", self.rootless))
        ok, err = self.sh(self.a, "cat /proc/sys/net/netfilter/nf_conntrack_max")
        if not ok:
            self.add("conntrack", False, "", "no net.netfilter.nf_conntrack_max in a node after a NAT "
                     "rule", kernel_fix("nf_conntrack", "conntrack", self.rootless))
            return
        ok, err = self.sh(self.a, "conntrack -L")
        self.add("conntrack", ok, "conntrack -L and nf_conntrack_max work in a node", err,
                 kernel_fix("nf_conntrack_netlink", "conntrack", self.rootless))

    def bridge_netfilter(self) -> None:
        """br_netfilter, which Kubernetes needs (kubeadm's preflight): loaded by the lab in its own VM."""
        try:
            ok = bridge_netfilter(self.lab, self.a)
        except LabError:
            ok = False
        self.add("br_netfilter", ok, "bridged packets can cross iptables (Kubernetes, chapter 09)",
                 f"no {BRIDGE_NF_CALL_IPTABLES}: the Kubernetes chapter cannot run here",
                 kernel_fix("br_netfilter", "br_netfilter", self.rootless))

    def traffic(self) -> None:
        """ping a -> b while tcpdump listens on b, then a short iperf3 run."""
        capture = self.start(self.b, "tcpdump -c1 -l --immediate-mode -ni v0 icmp", "listening on")
        ok, err = self.sh(self.a, "ping -c1 -W2 10.0.0.2")
        self.add("ping", ok, "ping across a veth works", err, "sudo apt-get install --reinstall "
                 "iputils-ping (a node's root needs raw sockets for ping)")
        if not isinstance(capture, str):
            process = capture
            try:
                capture = process.wait_for("1 packet captured", 3)
            except LabError as exc:
                capture = str(exc)
            process.stop()
        ok = "1 packet captured" in capture
        self.add("tcpdump", ok, "captured a ping on a veth in a node", capture.strip()[-200:],
                 kernel_fix("af_packet", "tcpdump", self.rootless))
        self.tracer()
        server = self.start(self.b, "iperf3 -s -1 --forceflush -B 10.0.0.2", "listening")
        if isinstance(server, str):
            ok, err = False, server
        else:
            ok, err = self.sh(self.a, "iperf3 -c 10.0.0.2 -n 64K")
            server.stop()
        self.add("iperf3", ok, "sent 64 KiB across a veth", err,
                 "iperf3 3.7 or newer is needed: sudo apt-get install iperf3")

    def tracer(self) -> None:
        """lab.trace() of one ping a -> b: nft's packet tracing works in nodes."""
        from ..trace import trace

        try:
            result = trace(self.lab, self.a.name, "10.0.0.2", nodes=[self.a.name, self.b.name])
            ok, err = result.delivered, f"the trace saw: {result.outcome}"
        except LabError as exc:
            ok, err = False, str(exc)
        self.add("packet tracer", ok, "lab.trace() followed a ping through nft's packet tracing", err,
                 "sudo apt-get install nftables; the kernel needs nf_tables with tracing (nfnetlink)")

    def start(self, node, command: str, ready: str):
        """A background process once it printed ``ready``, or the error as text."""
        try:
            process = node.start(command)
        except LabError as exc:
            return str(exc)
        try:
            process.wait_for(ready, 3)
        except LabError as exc:
            process.stop()
            return str(exc)
        return process
