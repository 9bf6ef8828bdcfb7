"""The benchmark command runs, prints one JSON line, and leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/ → the repo


def test_bench_prints_json_with_no_leftovers():
    result = subprocess.run([sys.executable, "-m", "nethelpers", "bench", "--containers", "5"],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("containers", "build_ms_per_container", "teardown_ms_per_container",
                "baseline_ms_per_container", "speedup", "leftovers"):
        assert key in report
    assert report["containers"] == 5 and report["first_to_last_ping"] is True
    assert report["leftovers"] == 0 and report["baseline_leftovers"] == 0
    assert report["speedup"] > 0  # a number: how much faster is what the bench reports, not a test
    assert report["sandbox_processes"] == 2  # the launcher and PID 1: no process per container
    assert "lab: building" in result.stderr  # progress goes to stderr, JSON alone on stdout


def test_bench_refuses_zero_containers():
    result = subprocess.run([sys.executable, "-m", "nethelpers", "bench", "--containers", "0"],
                            capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2 and "at least 1" in result.stderr


def test_docker_bench_reports_each_command_and_leaves_only_the_world():
    from nethelpers.docker.bench import bench

    result = bench(2)
    assert result["nodes_left"] == 4  # router, lan-client, internet, docker-host
    assert result["engine"] == "29.7.2" and bench(1, version="27")["engine"] == "27.5.1"
    for key in ("first_command_ms", "run_default_bridge_ms", "run_user_network_ms",
                "run_published_port_ms", "rm_f_ms"):
        assert result[key] > 0


def test_overlay_bench_reports_each_step_and_the_failure_detection():
    from nethelpers.docker.bench import bench_overlay

    result = bench_overlay(3, "swarm")
    assert result["plane"] == "swarm" and result["containers"] == 3
    for key in ("cluster_ms", "network_create_ms", "run_ms_first_on_a_host", "rm_f_ms"):
        assert result[key] > 0
    assert result["failure_detected_s"] > 2  # missed heartbeats for 3 s, not at once


def _vm_missing() -> list[str]:
    from nethelpers.vm import kernel, qemu

    return [what for what, found in (("qemu-system-x86_64", qemu.find_binary()),
                                     ("a static busybox", kernel.find_busybox()),
                                     ("the guest kernel (python -m nethelpers vm fetch)", kernel.find()))
            if not found]


@pytest.mark.timeout(900)
def test_vm_bench_reports_every_measure_with_no_leftovers():
    missing = _vm_missing()
    if missing:
        pytest.skip("the VM backend needs " + ", ".join(missing))
    result = subprocess.run([sys.executable, "-m", "nethelpers", "bench", "--backend", "vm", "-n", "3",
                             "--boots", "1", "--profile"],
                            check=False, capture_output=True, text=True, timeout=840, cwd=REPO)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["backend"] == "vm" and report["containers"] == 3 and report["boots"] == 1
    assert report["accel"] in ("kvm", "tcg")
    for key in ("first_lab_s", "vm_boot_s", "second_lab_s", "spawn_to_first_lab_s"):
        spread = report[key]
        assert 0 < spread["fastest"] <= spread["median"] <= spread["slowest"], key
    assert len(report["boot_runs"]) == 1 and report["boot_runs"][0]["other_cpu_s"] >= 0 \
        and report["boot_runs"][0]["steal_s"] >= 0  # what else ran meanwhile, to read a slow boot by
    # sanity, not performance: the first Lab() includes the VM's boot, and its process started first
    assert report["vm_boot_s"]["median"] <= report["first_lab_s"]["median"] \
        <= report["spawn_to_first_lab_s"]["median"]
    assert report["first_to_last_ping"] is True and report["leftovers"] == 0
    for key in ("build_ms_per_container", "teardown_ms_per_container", "build_s"):
        assert report[key] > 0, key
    for key in ("guest_used_mb_idle", "guest_used_mb_after_build", "guest_used_mb_at_end"):
        assert 0 < report[key] < report["guest_memory_mb"], key
    for key in ("qemu_rss_mb_idle", "qemu_rss_mb_after_build", "qemu_rss_mb_at_end"):
        assert report[key] > report["guest_used_mb_idle"], key  # QEMU holds the guest's memory
    profile = report["first_lab_profile"]
    from nethelpers.vm.bootprofile import STEPS

    for key, _ in STEPS:
        assert profile[key] > -0.02, key  # uptimes have 10 ms steps
    assert abs(sum(profile[key] for key, _ in STEPS) - profile["total_s"]) < 0.05
    assert "building 3 containers" in result.stderr  # progress on stderr, JSON alone on stdout
    assert not any(key.startswith("notebook") for key in report)  # only with --notebook


def test_bench_vm_options_need_the_vm_backend():
    result = subprocess.run([sys.executable, "-m", "nethelpers", "bench", "--notebook"],
                            check=False, capture_output=True, text=True, timeout=60, cwd=REPO)
    assert result.returncode == 2 and "--backend vm" in result.stderr


def test_boot_profile_puts_the_kernels_timestamps_on_the_guests_uptime():
    """The kernel stamps ``Run /init`` with its own clock (printk's local_clock), the init script
    reads /proc/uptime (CLOCK_BOOTTIME); under TCG they were 0.2 s apart (CI, stop 28), which made
    a step negative. The init script's first line, written through /dev/kmsg, carries both."""
    from types import SimpleNamespace

    from nethelpers.vm.bootprofile import profile_steps

    console = ["[    1.500000] Run /init as init process",
               "[    1.600000] nethelpers-init: started at 1.35 s",  # uptime 0.25 s behind the kernel's clock
               "[    1.900000] nethelpers-init: modules loaded at 1.65 s"]
    machine = SimpleNamespace(console=SimpleNamespace(lines=console), guest={}, boot_seconds=2.0,
                              process=SimpleNamespace(pid=-1))
    steps = profile_steps({"hello": 12.0, "hello_uptime": 2.0}, machine, started=9.0, ready=13.0)
    assert steps["guest_uptime"]["init"] == pytest.approx(1.25)
    assert steps["init_start_s"] == pytest.approx(0.1) and steps["modules_s"] == pytest.approx(0.3)
