"""``python -m nethelpers doctor``: can a lab run here, and what can it do?

Every kernel feature is tried for real inside one throwaway lab (link types,
iptables rules, qdiscs, a capture); nothing touches the machine's own network.
Outside the lab the doctor only reads /proc/sys and /lib/modules and runs
``--version``.

    from nethelpers import doctor
    print(doctor.report(doctor.checks()))
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import textwrap
from dataclasses import dataclass

from .errors import LabError, LabUnavailable
from .sandbox.processes import PACKAGES, PATH

WIDTH, NAME_WIDTH = 100, 16
CNI_DIRS = ("/usr/lib/cni", "/opt/cni/bin")
CNI_PLUGINS = ("loopback", "bridge", "ptp", "host-local", "static", "portmap", "firewall",
               "tuning", "bandwidth", "macvlan")
# link type -> (kernel module, shell command for those add_link cannot express)
LINKS = {
    "bridge": ("bridge", None), "veth": ("veth", None), "vxlan": ("vxlan", None),
    "macvlan": ("macvlan", None), "dummy": ("dummy", None),
    "ipvlan": ("ipvlan", "ip link add iv0 link v0 type ipvlan mode l2"),
    "vlan": ("8021q", "ip link add link v0 name v0.5 type vlan id 5"),
    "vrf": ("vrf", "ip link add vrf0 type vrf table 10"),
    "geneve": ("geneve", "ip link add gn0 type geneve id 5 remote 192.0.2.1"),
}
QDISCS = {"tbf": ("sch_tbf", "tbf rate 1mbit burst 32kbit latency 400ms"),
          "netem": ("sch_netem", "netem delay 10ms")}
IPTABLES_RULES = (
    ("MASQUERADE", "iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -j MASQUERADE"),
    ("conntrack+addrtype", "iptables -A INPUT -m conntrack --ctstate RELATED,ESTABLISHED "
                           "-m addrtype --dst-type LOCAL -j ACCEPT"),
)
IPTABLES_MODULES = "sudo modprobe xt_addrtype xt_conntrack nf_nat"
KERNEL_CHECKS = ("netns", *LINKS, "iptables rules", "nft", "conntrack", "ping", "tcpdump",
                 "packet tracer", "iperf3", *QDISCS)
ORDER = ("sandbox", "user namespaces", *KERNEL_CHECKS[:1 + len(LINKS)], "iptables",
         *KERNEL_CHECKS[1 + len(LINKS):], "cni plugins", "etcd")
REQUIRED = {"sandbox", "netns", "bridge", "veth", "vxlan", "macvlan"}  # a lab needs them
OPTIONAL = {"dummy", "ipvlan", "vlan", "vrf", "geneve", "netem", "etcd"}  # the course does not


@dataclass
class Check:
    """One line of the report; ``fix`` says what to do when ``ok`` is False."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = False   # no lab without it
    optional: bool = False   # the course does not need it
    skipped: bool = False    # not run (something it depends on failed)

    @property
    def mark(self) -> str:
        return "✓" if self.ok else "?" if self.skipped else "–" if self.optional else "✗"


def _check(name: str, ok: bool, detail: str, fix: str = "", **flags) -> Check:
    flags.setdefault("required", name in REQUIRED)
    flags.setdefault("optional", name in OPTIONAL)
    return Check(name, ok, detail, "" if ok else fix, **flags)


# --- the machine itself: read only ---------------------------------------------------
def _sysctl(key: str) -> int | None:
    try:
        with open("/proc/sys/" + key.replace(".", "/")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _module_exists(module: str) -> bool:
    """Does this kernel ship ``module`` as a loadable module (in modules.dep)?"""
    try:
        with open(f"/lib/modules/{platform.release()}/modules.dep") as f:
            return re.search(rf"/{re.escape(module)}\.ko(\.\w+)?:", f.read()) is not None
    except OSError:
        return False


def _kernel_fix(module: str, name: str, rootless: bool) -> str:
    if _module_exists(module):
        why = " (a rootless lab cannot load kernel modules)" if rootless else ""
        return f"sudo modprobe {module}{why}" + ("; the course does not need it" * (name in OPTIONAL))
    if name in OPTIONAL:
        return f"this kernel lacks it (no {module} module); the course does not need it"
    return f"this kernel lacks it (no {module} module): use a stock Debian or Ubuntu kernel"


def _install(program: str) -> str:
    return f"sudo apt-get install {PACKAGES.get(program, program)}"


def _version(program: str) -> str | None:
    """First line of ``program --version``; None when it is not installed."""
    path = shutil.which(program, path=PATH)
    if path is None:
        return None
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return ((done.stdout or done.stderr).strip().splitlines() or [""])[0]


def _userns(rootless: bool | None, error: LabError | None) -> Check:
    keys = {"user.max_user_namespaces": (0, 15000), "kernel.unprivileged_userns_clone": (0, 1),
            "kernel.apparmor_restrict_unprivileged_userns": (1, 0)}
    values = {key: _sysctl(key) for key in keys}
    fixes = [f"sudo sysctl -w {key}={good}" for key, (bad, good) in keys.items() if values[key] == bad]
    shown = ", ".join(f"{k}={v}" for k, v in values.items() if v is not None) or "no sysctls"
    if os.geteuid() == 0:
        return _check("user namespaces", not fixes, f"not needed as root; other users "
                      f"{'may not' if fixes else 'may'} create one ({shown})", "; ".join(fixes),
                      optional=True)
    ok = rootless is True or (not fixes and not isinstance(error, LabUnavailable))
    return _check("user namespaces", ok, f"this user {'can' if ok else 'cannot'} create one ({shown})",
                  "; ".join(fixes) or "run as root, or in the course's devcontainer", required=True)


def _iptables() -> Check:
    text = _version("iptables")
    if text is None:
        return _check("iptables", False, "iptables is not installed", _install("iptables"))
    backend = "nf_tables" if "nf_tables" in text else "legacy" if "legacy" in text else "unknown"
    real = os.path.realpath(shutil.which("iptables", path=PATH))
    note = "; lab.trace() finds legacy rules by their packet counters (no order)" if backend == "legacy" else ""
    return _check("iptables", True, f"{text.split(' (')[0]}, {backend} backend ({real}){note}")


def _cni() -> Check:
    found = {p: d for p in CNI_PLUGINS for d in reversed(CNI_DIRS)
             if os.access(os.path.join(d, p), os.X_OK)}
    missing = [p for p in CNI_PLUGINS if p not in found]
    where = ", ".join(sorted(set(found.values()))) or " or ".join(CNI_DIRS)
    detail = f"{len(found)}/{len(CNI_PLUGINS)} reference plugins in {where}"
    detail += "; missing: " + ", ".join(missing) if missing else ""
    return _check("cni plugins", not missing, detail, "sudo apt-get install containernetworking-plugins")


def _etcd() -> Check:
    version = _version("etcd")
    if version is None:
        return _check("etcd", False, "not installed: chapter 06's Docker 1.11 cluster store is the course's built-in "
                      "etcd v2 store instead (the same output)", "sudo apt-get install etcd-server (optional)")
    return _check("etcd", True, f"{version}: chapter 06's Docker 1.11 cluster store runs real etcd")


# --- probes inside the lab: nodes a and b, joined by a:v0 (10.0.0.1) <-> b:v0 (10.0.0.2) ---
class _Probe:
    def __init__(self, lab) -> None:
        self.lab, self.rootless, self.out = lab, lab.rootless, []

    def add(self, name: str, ok: bool, detail: str, error: str = "", fix: str = "") -> None:
        """Record a result; "'x' is not installed" errors get the package as their fix."""
        missing = re.search(r"'([^']+)' is not installed", error)
        if not ok and missing:
            error, fix = f"{missing[1]} is not installed", _install(os.path.basename(missing[1]))
        self.out.append(_check(name, ok, detail if ok else error or "failed", fix))

    def skip(self, names, reason: str = "it needs a working veth", fix: str = "fix veth first") -> None:
        self.out += [_check(n, False, f"not run: {reason}", fix, skipped=True) for n in names]

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

    def run_all(self) -> list[Check]:
        try:
            self.a, self.b = self.lab.add_node("a"), self.lab.add_node("b")
        except LabError as exc:
            self.add("netns", False, "", str(exc), "run as root, or in the course's devcontainer")
            return self.out
        self.add("netns", True, "named network namespaces (nodes) can be created")
        for name in LINKS:
            self.link(name)
        self.netfilter()
        if not self.worked("veth"):
            self.skip(["ping", "tcpdump", "iperf3", *QDISCS])
            return self.out
        self.traffic()
        for name, (module, spec) in QDISCS.items():
            ok, err = self.sh(self.a, f"tc qdisc add dev v0 root {spec} && tc qdisc del dev v0 root")
            self.add(name, ok, f"tc qdisc add … {spec}",
                     f"this kernel has no {name} qdisc" if "kind is unknown" in err else err,
                     _kernel_fix(module, name, self.rootless))
        return self.out

    def link(self, name: str) -> None:
        module, command = LINKS[name]
        fix = _kernel_fix(module, name, self.rootless)
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
        version = (_version("nft") or "nft").split(" (")[0]
        self.add("nft", ok, f"{version}: nft list ruleset works in a node", err,
                 _kernel_fix("nf_tables", "nft", self.rootless))
        ok, err = self.sh(self.a, "cat /proc/sys/net/netfilter/nf_conntrack_max")
        if not ok:
            self.add("conntrack", False, "", "no net.netfilter.nf_conntrack_max in a node after a NAT "
                     "rule", _kernel_fix("nf_conntrack", "conntrack", self.rootless))
            return
        ok, err = self.sh(self.a, "conntrack -L")
        self.add("conntrack", ok, "conntrack -L and nf_conntrack_max work in a node", err,
                 _kernel_fix("nf_conntrack_netlink", "conntrack", self.rootless))

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
                 _kernel_fix("af_packet", "tcpdump", self.rootless))
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
        from .trace import trace

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


def checks() -> list[Check]:
    """Run every check (the kernel ones in one throwaway lab), in a fixed order."""
    from .lab import Lab

    try:
        lab, error = Lab(), None
    except LabError as exc:
        lab, error = None, exc
    mode = "root" if lab is None or not lab.rootless else "rootless via user namespace"
    found = [_check("sandbox", lab is not None, f"a lab starts here: {mode}" if lab else str(error),
                    "follow the advice above"),
             _userns(lab.rootless if lab else None, error)]
    reason = (("no sandbox", "fix 'sandbox' first") if lab is None
              else ("an earlier probe failed", "see the failure above"))
    found += [_check(name, False, f"not run: {reason[0]}", reason[1], skipped=True)
              for name in KERNEL_CHECKS]
    if lab is not None:
        probe = _Probe(lab)
        try:
            probe.run_all()
        except Exception as exc:  # a bug, or the sandbox died: report it, keep what was found
            done = {c.name for c in probe.out}
            name = next(n for n in KERNEL_CHECKS if n not in done)
            probe.out.append(_check(name, False, f"the doctor itself failed here: {exc!r}",
                                    "report this output to the course's maintainers"))
        finally:
            lab.close()
        found += probe.out  # later entries replace the "not run" placeholders
    by_name = {c.name: c for c in found + [_iptables(), _cni(), _etcd()]}
    return [by_name[name] for name in ORDER]


def lab_can_run(results: list[Check]) -> bool:
    """True when the sandbox starts and every required feature works."""
    return all(c.ok for c in results if c.required)


def _wrap(text: str, first: str) -> list[str]:
    indent = " " * (2 + NAME_WIDTH + 1)
    return textwrap.wrap(text, WIDTH, initial_indent=first, subsequent_indent=indent,
                         break_on_hyphens=False) or [first.rstrip()]


def report(results: list[Check]) -> str:
    """Plain-text table: mark, name, detail (and the fix of failures), then a verdict."""
    lines = [f"nethelpers doctor — kernel {platform.release()}, uid {os.geteuid()}",
             "(✓ works, ✗ missing: fix below, – missing but the course does not need it, "
             "? not run)",
             ""]
    for c in results:
        lines += _wrap(c.detail, f"{c.mark} {c.name:<{NAME_WIDTH}} ")
        if not c.ok and c.fix and not c.skipped:
            lines += _wrap(c.fix, " " * (2 + NAME_WIDTH + 1) + "fix: ")
    blockers = [c.name for c in results if c.required and not c.ok and not c.skipped]
    gaps = [c.name for c in results if not (c.ok or c.required or c.optional or c.skipped)]
    sandbox = next((c for c in results if c.name == "sandbox"), None)
    lines.append("")
    if not lab_can_run(results) or sandbox is None:
        lines += textwrap.wrap(f"No lab can run here: {', '.join(blockers) or 'no sandbox check'} "
                               "failed; see the fixes above.", WIDTH)
    else:
        how = ("rootless, in a user namespace (no sudo needed)" if "rootless" in sandbox.detail
               else "as root")
        extra = f"; missing: {', '.join(gaps)} (see the fixes above)" if gaps else ""
        lines += textwrap.wrap(f"A lab can run here: {how}{extra}.", WIDTH)
    return "\n".join(lines)


def main() -> int:
    """Print the report; exit status 0 when a lab can run here, 1 otherwise."""
    results = checks()
    print(report(results))
    return 0 if lab_can_run(results) else 1
