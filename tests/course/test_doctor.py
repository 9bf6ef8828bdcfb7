"""``python -m nethelpers doctor``: real runs on this machine, as root or not (no mocks).

What this machine cannot show (Ubuntu's AppArmor restriction, sysctls that forbid user
namespaces) is shown from files: the doctor reads sysctls from a directory laid out like
/proc/sys, and its texts are built from what it read. A container-like /proc (masked paths,
/proc/sys read-only) is made for real in user namespaces.
"""

from __future__ import annotations

import inspect
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nethelpers import Lab, LabUnavailable, MissingFeature, doctor
from nethelpers.doctor import causes, userns
from nethelpers.doctor.model import Check, or_vm
from nethelpers.doctor.render import TITLES, render_line
from nethelpers.errors import KernelError

PROJECT = Path(__file__).resolve().parents[2]
MARKS = "✓✗–?"
NO_BACKEND = {k: v for k, v in os.environ.items() if k != "NETHELPERS_BACKEND"}
BINDER_ERROR = ("unexpected OSError in the sandbox: [Errno 30] Read-only file system: "
                "'/proc/sys/net/ipv6/conf/default/disable_ipv6'\nTraceback (most recent call last):\n"
                '  File "/srv/nethelpers/sandbox/nodes.py", line 67, in create\n'
                "OSError: [Errno 30] Read-only file system: '/proc/sys/net/ipv6/conf/default/disable_ipv6'")


def namespaces_lab() -> Lab:
    """A lab on this machine's kernel, as the doctor's namespaces section probes it (even when
    NETHELPERS_BACKEND=vm runs the suite)."""
    return Lab(**({"backend": "namespaces"} if "backend" in inspect.signature(Lab).parameters else {}))


def run_doctor(*prefix: str, env: dict | None = None) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([*prefix, sys.executable, "-m", "nethelpers", "doctor"], cwd=PROJECT,
                          capture_output=True, text=True, encoding="utf-8", timeout=120,
                          env=NO_BACKEND if env is None else env)
    return done, time.monotonic() - started


def marks(output: str) -> dict[str, str]:
    """{check name: its mark} from the report's table lines."""
    found = {}
    for line in output.splitlines():
        if line[:1] in MARKS and line[1:2] == " " and len(line) > 2 + doctor.NAME_WIDTH:
            found[line[2:2 + doctor.NAME_WIDTH].strip()] = line[0]
    return found


def lines_of(output: str, name: str) -> str:
    """The report's lines for check ``name`` (its detail and fix), joined."""
    out, inside = [], False
    for line in output.splitlines():
        if line[:1] in MARKS and line[1:2] == " ":
            inside = line[2:2 + doctor.NAME_WIDTH].strip() == name
        elif not line.startswith(" "):
            inside = False
        if inside:
            out.append(line.strip())
    return " ".join(out)


def verdict_of(output: str) -> str:
    """The report's last paragraph, unwrapped."""
    return " ".join(output.rstrip().split("\n\n")[-1].split())


def fake_proc_sys(root: Path, **values: int) -> str:
    """A directory laid out like /proc/sys with the given sysctls (dots become slashes)."""
    for key, value in values.items():
        path = root.joinpath(*key.replace("__", ".").split("."))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{value}\n")
    return str(root)


@pytest.fixture(scope="module")
def cli():
    interfaces = sorted(os.listdir("/sys/class/net"))
    done, seconds = run_doctor()
    assert sorted(os.listdir("/sys/class/net")) == interfaces, "the doctor touched the machine's links"
    return done, seconds


@pytest.fixture(scope="module")
def results():
    return doctor.checks()


def test_cli_says_a_lab_runs_here_with_the_namespaces_backend(cli):
    done, seconds = cli
    assert done.returncode == 0, done.stdout + done.stderr
    found = marks(done.stdout)
    for name in ("sandbox", "netns", "bridge", "veth", "vxlan", "macvlan"):
        assert found.get(name) == "✓", f"{name}: {done.stdout}"
    assert found.keys() >= {"dummy", "ipvlan", "vlan", "vrf", "geneve", "netem", "iptables",
                            "iptables rules", "nft", "conntrack", "tcpdump", "iperf3", "cni plugins"}
    verdict = verdict_of(done.stdout)
    mode = "as root" if os.geteuid() == 0 else "rootless, in a user namespace"
    assert verdict.startswith(f"A lab can run here: {mode}"), verdict
    assert "with the namespaces backend" in verdict and "Lab() uses it" in verdict, verdict
    assert "Traceback" not in done.stdout + done.stderr   # (how long it took: run_doctor's 120 s bound)


def test_cli_reports_both_backends(cli):
    text = cli[0].stdout
    namespaces, vm = (text.index(TITLES[b]) for b in ("namespaces", "vm"))
    assert namespaces < text.index("✓ sandbox") < vm < text.index("\n\n", vm)
    vm_lines = doctor.vm_checks()
    assert vm_lines and all(c.backend == "vm" for c in vm_lines)
    for c in vm_lines:   # every line nethelpers.vm.diagnose gives is in the VM section
        assert f"{c.mark} {c.name:<{doctor.NAME_WIDTH}} " in text[vm:]


def test_cli_lines_are_at_most_100_characters(cli):
    assert all(len(line) <= 100 for line in cli[0].stdout.splitlines())


def test_dummy_state_agrees_with_trying_it_in_a_fresh_lab(cli, results):
    with namespaces_lab() as lab:
        n = lab.add_node("n")
        try:
            n.add_link("x", "dummy")
            has_dummy = True
        except MissingFeature:
            has_dummy = False
        lab.add_node("m")
        lab.add_veth("n:v0", "m:v0")
        has_ipvlan = n.run("ip link add iv0 link v0 type ipvlan mode l2").ok
    assert marks(cli[0].stdout)["dummy"] == ("✓" if has_dummy else "–")
    by_name = {c.name: c for c in results}
    assert by_name["dummy"].ok is has_dummy
    assert by_name["ipvlan"].ok is has_ipvlan
    assert marks(cli[0].stdout)["ipvlan"] == ("✓" if has_ipvlan else "–")


# each optional feature tried by hand, as ip-link(8), tc-tbf(8) and tc-netem(8) write it
BY_HAND = {
    "ipvlan": "ip link add iv9 link v0 type ipvlan mode l2",
    "vlan": "ip link add link v0 name v0.9 type vlan id 9",
    "vrf": "ip link add vrf9 type vrf table 19",
    "geneve": "ip link add gn9 type geneve id 9 remote 192.0.2.9",
    "tbf": "tc qdisc add dev v0 root tbf rate 1mbit burst 32kbit latency 400ms",
    "netem": "tc qdisc add dev v0 root netem delay 10ms",
}


def test_optional_features_agree_with_trying_each_in_a_fresh_lab(results):
    """Every optional link type and qdisc the doctor reports: present exactly when the kernel
    takes it, tried by hand in a lab of its own (the kernel is the source, not the probe)."""
    by_name = {c.name: c for c in results}
    assert set(BY_HAND) <= set(by_name)
    with namespaces_lab() as lab:
        n = lab.add_node("n")
        lab.add_node("m")
        lab.add_veth("n:v0", "m:v0")
        for name, command in BY_HAND.items():
            works = n.run(command).ok
            n.run("tc qdisc del dev v0 root")
            assert by_name[name].ok is works, f"{name}: doctor says {by_name[name]}, by hand {works}"

def test_checks_carry_a_fix_for_every_failure(results):
    namespaces = [c for c in results if c.backend == "namespaces"]
    assert [c.name for c in namespaces] == list(doctor.ORDER)
    assert [c.backend for c in results] == ["namespaces"] * len(namespaces) + ["vm"] * (len(results) - len(namespaces))
    assert all(isinstance(c, doctor.Check) for c in results)
    for c in namespaces:
        assert c.ok or c.fix.strip(), f"{c.name} failed without a fix: {c}"
        assert c.detail.strip(), c
        assert c.mark in MARKS
    required = {c.name for c in namespaces if c.required}
    assert required >= {"sandbox", "netns", "bridge", "veth", "vxlan", "macvlan"}
    assert not required & {"dummy", "ipvlan", "vlan", "vrf", "geneve"}
    assert doctor.lab_can_run(results, NO_BACKEND)
    assert doctor.chosen_backend(results, NO_BACKEND) == "namespaces"
    sandbox = namespaces[0]
    assert sandbox.detail.endswith("rootless via user namespace" if os.geteuid() else ": root")


def test_the_report_is_deterministic(results):
    text = doctor.report(results, NO_BACKEND)
    assert text == doctor.report(results, NO_BACKEND)
    assert list(marks(text))[:len(doctor.ORDER)] == list(doctor.ORDER)
    for c in results:
        if not c.ok and not c.skipped and c.fix:
            assert "fix: " + c.fix.split()[0] in text


def test_the_user_namespace_probe_agrees_with_a_rootless_lab():
    ok, why = userns.probe()
    assert ok, why   # this machine gives user namespaces (root may always create one)
    if os.geteuid() != 0:
        with namespaces_lab() as lab:
            assert lab.rootless


# --- what the doctor says about machines unlike this one, from files --------------------
def test_ubuntus_apparmor_restriction_is_named_with_its_fixes(tmp_path):
    root = fake_proc_sys(tmp_path / "sys", kernel__apparmor_restrict_unprivileged_userns=1,
                         user__max_user_namespaces=63000)
    real = tmp_path / "usr" / "bin" / "python3.12"
    real.parent.mkdir(parents=True)
    real.write_text("")
    venv_python = tmp_path / "venv" / "bin" / "python"
    venv_python.parent.mkdir(parents=True)
    venv_python.symlink_to(real)
    values = userns.read_sysctls(root=root)
    assert values == {"user.max_user_namespaces": 63000, "kernel.unprivileged_userns_clone": None,
                      "kernel.apparmor_restrict_unprivileged_userns": 1}
    failed = (False, "writing /proc/self/uid_map in it failed: Permission denied (errno 13)")
    line = userns.userns_check(None, values, failed, str(venv_python), root=False)
    assert not line.ok and line.required and line.mark == "✗"
    assert line.detail.startswith("this user cannot use one: Ubuntu's AppArmor restricts unprivileged user "
                                  "namespaces (kernel.apparmor_restrict_unprivileged_userns=1)")
    fix = line.fix.splitlines()
    assert "    sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in fix
    assert ("    echo 'kernel.apparmor_restrict_unprivileged_userns = 0' | sudo tee "
            "/etc/sysctl.d/60-nethelpers-userns.conf") in fix
    profile = ["    abi <abi/4.0>,", "    include <tunables/global>",
               f"    profile nethelpers-python {real} flags=(unconfined) {{", "      userns,", "    }"]
    start = fix.index(profile[0])
    assert fix[start:start + len(profile)] == profile, "the profile attaches to the real path, not the venv's link"
    assert str(real) in " ".join(fix) and "    sudo apparmor_parser -r /etc/apparmor.d/nethelpers-python" in fix
    assert fix[-1].startswith("Or just use the VM backend") and "NETHELPERS_BACKEND=vm" in fix[-1]
    text = "\n".join(render_line(line))
    assert "Traceback" not in text and "fix: On a machine you administer" in text


def test_a_profile_for_a_path_with_spaces_is_quoted(tmp_path):
    real = tmp_path / "my pythons" / "python3"
    real.parent.mkdir()
    real.write_text("")
    assert f'profile nethelpers-python "{real}" flags=(unconfined) {{' in userns.apparmor_profile(str(real))


def test_sysctls_that_forbid_user_namespaces_get_one_off_and_lasting_fixes(tmp_path):
    root = fake_proc_sys(tmp_path, user__max_user_namespaces=0, kernel__unprivileged_userns_clone=0)
    values = userns.read_sysctls(root=root)
    assert userns.blockers(values) == ["user.max_user_namespaces", "kernel.unprivileged_userns_clone"]
    assert userns.cause(values) == ("unprivileged user namespaces are disabled "
                                    "(kernel.unprivileged_userns_clone=0)")
    fix = userns.fix(values).splitlines()
    assert "    sudo sysctl -w user.max_user_namespaces=15000" in fix
    assert "    sudo sysctl -w kernel.unprivileged_userns_clone=1" in fix
    assert ("    printf '%s\\n' 'user.max_user_namespaces = 15000' 'kernel.unprivileged_userns_clone = 1' "
            "| sudo tee /etc/sysctl.d/60-nethelpers-userns.conf") in fix
    assert not any("apparmor" in line for line in fix)
    as_root = userns.userns_check(None, values, None, root=True)
    # user.max_user_namespaces=0 stops root too, whose labs give up root in a user namespace
    assert as_root.mark == "✗" and "gives up root" in as_root.detail
    assert "user.max_user_namespaces=15000" in as_root.fix
    values["user.max_user_namespaces"] = 15000
    as_root = userns.userns_check(None, values, None, root=True)
    assert as_root.mark == "✓" and "other users may not create one" in as_root.detail


def test_without_a_forbidding_sysctl_the_probe_says_what_failed(tmp_path):
    values = userns.read_sysctls(root=str(tmp_path))   # no such files: nothing forbids them by sysctl
    assert set(values.values()) == {None}
    probed = (False, "creating it (unshare CLONE_NEWUSER) failed: Operation not permitted (errno 1)")
    line = userns.userns_check(None, values, probed, root=False)
    assert line.detail == f"this user cannot use one: {probed[1]}"
    assert line.fix.splitlines()[0].startswith("Run the course where you are root")
    assert "NETHELPERS_BACKEND=vm" in line.fix
    works = userns.userns_check(True, {**values, userns.APPARMOR: 1}, None, root=False)
    assert works.ok and "a profile lets this Python through" in works.detail


def test_errors_become_a_named_cause_and_a_fix_never_a_traceback():
    cause, fix = causes.describe(BINDER_ERROR)
    assert cause == ("/proc/sys is read-only here (a container's default /proc masking): namespaces "
                     "cannot be configured")
    assert "NETHELPERS_BACKEND=vm" in fix
    reason, fix = causes.sandbox_failure(KernelError(BINDER_ERROR))
    assert (reason, "Traceback" in reason + fix) == (cause, False)
    said = LabUnavailable("This machine allows no lab: /proc/sys is read-only. Fix: use the VM backend.")
    assert causes.sandbox_failure(said) == ("This machine allows no lab: /proc/sys is read-only.",
                                            or_vm("use the VM backend."))
    unknown = causes.sandbox_failure(OSError(5, "Input/output error", "/dev/sda"))
    assert unknown[0] == "[Errno 5] Input/output error: '/dev/sda'" and "maintainers" in unknown[1]


def _backend_lines(namespaces: bool, vm: bool) -> list[Check]:
    return [Check("sandbox", namespaces, "a lab starts here: root" if namespaces else "no sandbox", "fix A",
                  required=True),
            Check("qemu", vm, "QEMU 8.2" if vm else "no QEMU", "" if vm else "sudo apt-get install qemu-system-x86",
                  required=True, backend="vm")]


@pytest.mark.parametrize("namespaces, vm, environ, chosen, start", [
    (True, True, {}, "namespaces", "A lab can run here: as root, with the namespaces backend"),
    (True, False, {}, "namespaces", "A lab can run here: as root, with the namespaces backend"),
    (False, True, {}, "vm", "A lab can run here: with the VM backend"),
    (False, False, {}, None, "No lab can run here: the namespaces backend fails (sandbox) and so does the "
                             "VM backend (qemu)"),
    (True, True, {"NETHELPERS_BACKEND": "vm"}, "vm", "NETHELPERS_BACKEND=vm forces the choice"),
    (True, False, {"NETHELPERS_BACKEND": "vm"}, None, "NETHELPERS_BACKEND=vm forces the choice"),
    (False, True, {"NETHELPERS_BACKEND": "namespaces"}, None, "NETHELPERS_BACKEND=namespaces forces"),
    (True, True, {"NETHELPERS_BACKEND": "auto"}, "namespaces", "A lab can run here"),
    (True, True, {"NETHELPERS_BACKEND": "qemu"}, None, "NETHELPERS_BACKEND='qemu' is not a lab backend"),
])
def test_the_verdict_says_which_backend_lab_uses(namespaces, vm, environ, chosen, start):
    results = _backend_lines(namespaces, vm)
    assert doctor.chosen_backend(results, environ) == chosen
    assert doctor.lab_can_run(results, environ) is (chosen is not None)
    said = doctor.verdict(results, environ)
    assert said.startswith(start), said
    if chosen == "vm" and not environ:
        assert "Lab() uses it because the namespaces backend fails here (sandbox" in said
    if environ.get("NETHELPERS_BACKEND") == "vm" and chosen is None:
        assert "No lab can run here with NETHELPERS_BACKEND=vm: the VM backend fails (qemu" in said
        assert "Unset NETHELPERS_BACKEND: the namespaces backend runs here." in said


def _can_unshare_user() -> bool:
    return bool(shutil.which("unshare") and shutil.which("setpriv")) and subprocess.run(
        ["unshare", "--user", "--map-root-user", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare_user(),
                    reason="needs unshare and setpriv (util-linux) and a user namespace to drop caps in")
def test_without_a_sandbox_the_doctor_says_so():
    # a user namespace whose root lacks CAP_SYS_ADMIN: no lab can start in it
    done, _ = run_doctor("unshare", "--user", "--map-root-user", "setpriv", "--bounding-set=-sys_admin")
    found = marks(done.stdout)
    assert found["sandbox"] == "✗", done.stdout
    assert {found[name] for name in doctor.KERNEL_CHECKS} == {"?"}
    assert "Traceback" not in done.stdout + done.stderr
    assert "CAP_SYS_ADMIN" in lines_of(done.stdout, "sandbox")   # the sandbox's own message, as the reason
    verdict = verdict_of(done.stdout)
    if done.returncode == 0:   # the VM backend runs here: Lab() would take it
        assert verdict.startswith("A lab can run here: with the VM backend"), verdict
    else:
        assert done.returncode == 1 and verdict.startswith("No lab can run here: the namespaces backend fails "
                                                           "(sandbox)"), verdict


def _can_nest_user_namespaces() -> bool:
    return _can_unshare_user() and subprocess.run(
        ["unshare", "--user", "--map-root-user", "unshare", "--user", "--map-user=1000", "--map-group=1000",
         "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_nest_user_namespaces(),
                    reason="needs unshare --map-user (util-linux 2.38+) and nested user namespaces")
def test_a_container_like_proc_gives_a_named_cause_not_a_traceback():
    """As in a Binder pod: a masked /proc path and a read-only /proc/sys, set up by a more privileged
    user namespace than the one the doctor runs in (so that they are locked, as a container's are):
    the sandbox cannot mount a fresh /proc nor configure a node's namespace."""
    pod = ("mount --bind /dev/null /proc/timer_list && mount --bind /proc/sys /proc/sys && "
           "mount -o remount,bind,ro /proc/sys && exec unshare --user --map-user=1000 --map-group=1000 \"$@\"")
    done, _ = run_doctor("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", pod, "sh")
    out = done.stdout
    assert marks(out)["sandbox"] == "✗", out
    sandbox = lines_of(out, "sandbox")
    assert "/proc/sys" in sandbox and re.search(r"read.only", sandbox), sandbox   # ours, or the sandbox's own
    assert "NETHELPERS_BACKEND=vm" in sandbox
    assert marks(out)["user namespaces"] == "✓"   # what works is said too
    assert {marks(out)[name] for name in doctor.KERNEL_CHECKS} == {"?"}
    assert "Traceback" not in out + done.stderr and "[Errno" not in out
    assert done.returncode == (0 if verdict_of(out).startswith("A lab can run here: with the VM backend") else 1)


def _binder_pod_unsupported() -> str | None:
    import binder_pod

    return binder_pod.unsupported()


@pytest.mark.skipif(_binder_pod_unsupported() is not None, reason=str(_binder_pod_unsupported()))
def test_in_a_binder_pod_the_doctor_names_why_and_shows_no_traceback():
    """mybinder.org's restrictions (tests/binder_pod.py: no capabilities, no_new_privs, containerd's seccomp
    profile, masked and read-only /proc paths), as uid 0 so that this venv's Python runs there: no ✓ for what
    fails, the sandbox's own message as the reason, the probe's finding for user namespaces."""
    from binder_pod import pod_env, run_in_binder_pod, user_of

    env = {**pod_env(user_of(0)), "PYTHONPATH": str(PROJECT)}
    done = run_in_binder_pod([sys.executable, "-m", "nethelpers", "doctor"], uid=0, cwd=str(PROJECT), env=env,
                             timeout=120)
    out = done.stdout
    assert marks(out)["sandbox"] == "✗", out + done.stderr
    assert "CAP_SYS_ADMIN" in lines_of(out, "sandbox") and "NETHELPERS_BACKEND=vm" in lines_of(out, "sandbox")
    assert marks(out)["user namespaces"] == "✗"  # even root's labs need one (they give up root in it)
    assert "a seccomp filter or a container's policy forbids it" in lines_of(out, "user namespaces")
    assert {marks(out)[name] for name in doctor.KERNEL_CHECKS} == {"?"}
    assert "Traceback" not in out + done.stderr
    assert done.returncode == (0 if verdict_of(out).startswith("A lab can run here: with the VM backend") else 1)
