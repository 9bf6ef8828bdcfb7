"""The benchmark command runs, prints one JSON line, and leaves nothing behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    assert report["speedup"] > 1  # a sanity check, not a performance assertion
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
    for key in ("first_command_ms", "run_default_bridge_ms", "run_user_network_ms",
                "run_published_port_ms", "rm_f_ms"):
        assert result[key] > 0


def test_overlay_bench_reports_each_step_and_the_failure_detection():
    from nethelpers.docker.bench import bench_overlay

    result = bench_overlay(3, "swarm")
    assert result["plane"] == "swarm" and result["containers"] == 3
    for key in ("cluster_ms", "network_create_ms", "run_ms_first_on_a_host", "rm_f_ms"):
        assert result[key] > 0
    assert 2 < result["failure_detected_s"] < 10  # missed heartbeats for 3 s, not at once
