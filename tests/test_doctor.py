"""``python -m nethelpers doctor``: real runs on this machine, as root or not (no mocks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nethelpers import Lab, MissingFeature, doctor

PROJECT = Path(__file__).resolve().parents[1]
MARKS = "✓✗–?"


def run_doctor(*prefix: str) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([*prefix, sys.executable, "-m", "nethelpers", "doctor"], cwd=PROJECT,
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    return done, time.monotonic() - started


def marks(output: str) -> dict[str, str]:
    """{check name: its mark} from the report's table lines."""
    found = {}
    for line in output.splitlines():
        if line[:1] in MARKS and line[1:2] == " " and len(line) > 2 + doctor.NAME_WIDTH:
            found[line[2:2 + doctor.NAME_WIDTH].strip()] = line[0]
    return found


@pytest.fixture(scope="module")
def cli():
    interfaces = sorted(os.listdir("/sys/class/net"))
    done, seconds = run_doctor()
    assert sorted(os.listdir("/sys/class/net")) == interfaces, "the doctor touched the machine's links"
    return done, seconds


@pytest.fixture(scope="module")
def results():
    return doctor.checks()


def test_cli_says_a_lab_runs_here_with_the_required_link_types(cli):
    done, seconds = cli
    assert done.returncode == 0, done.stdout + done.stderr
    found = marks(done.stdout)
    for name in ("sandbox", "netns", "bridge", "veth", "vxlan", "macvlan"):
        assert found.get(name) == "✓", f"{name}: {done.stdout}"
    assert found.keys() >= {"dummy", "ipvlan", "vlan", "vrf", "geneve", "netem", "iptables",
                            "iptables rules", "nft", "conntrack", "tcpdump", "iperf3", "cni plugins"}
    verdict = done.stdout.rstrip().splitlines()[-1]
    mode = "as root" if os.geteuid() == 0 else "rootless, in a user namespace"
    assert verdict.startswith(f"A lab can run here: {mode}"), verdict
    assert seconds < 15, f"the doctor took {seconds:.1f} s"


def test_cli_lines_are_at_most_100_characters(cli):
    assert all(len(line) <= 100 for line in cli[0].stdout.splitlines())


def test_dummy_state_agrees_with_trying_it_in_a_fresh_lab(cli, results):
    with Lab() as lab:
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


def test_checks_carry_a_fix_for_every_failure(results):
    assert [c.name for c in results] == list(doctor.ORDER)
    assert all(isinstance(c, doctor.Check) for c in results)
    for c in results:
        assert c.ok or c.fix.strip(), f"{c.name} failed without a fix: {c}"
        assert c.detail.strip(), c
        assert c.mark in MARKS
    required = {c.name for c in results if c.required}
    assert required >= {"sandbox", "netns", "bridge", "veth", "vxlan", "macvlan"}
    assert not required & {"dummy", "ipvlan", "vlan", "vrf", "geneve"}
    assert doctor.lab_can_run(results)
    sandbox = results[0]
    assert sandbox.detail.endswith("rootless via user namespace" if os.geteuid() else ": root")


def test_the_report_is_deterministic(results):
    text = doctor.report(results)
    assert text == doctor.report(results)
    assert list(marks(text)) == list(doctor.ORDER)
    for c in results:
        if not c.ok and not c.skipped:
            assert "fix: " + c.fix.split()[0] in text


def _can_unshare_user() -> bool:
    return bool(shutil.which("unshare") and shutil.which("setpriv")) and subprocess.run(
        ["unshare", "--user", "--map-root-user", "true"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _can_unshare_user(),
                    reason="needs unshare and setpriv (util-linux) and a user namespace to drop caps in")
def test_without_a_sandbox_the_doctor_says_so_and_exits_1():
    # a user namespace whose root lacks CAP_SYS_ADMIN: no lab can start in it
    done, _ = run_doctor("unshare", "--user", "--map-root-user", "setpriv", "--bounding-set=-sys_admin")
    assert done.returncode == 1, done.stdout + done.stderr
    found = marks(done.stdout)
    assert found["sandbox"] == "✗"
    assert {found[name] for name in doctor.KERNEL_CHECKS} == {"?"}
    assert done.stdout.rstrip().splitlines()[-1].startswith("No lab can run here: sandbox")
