"""``python -m nethelpers bench --backend vm``: what the VM backend costs, measured against issue 12's targets.

1. the first ``Lab()`` of a fresh process, VM boot included (the VM lives per process, so each
   run is a new ``python -m nethelpers.vm.bench first-lab`` child), the VM's own boot
   (``machine.boot_seconds``), a second ``Lab()`` in that process, and the guest's memory then;
2. :func:`nethelpers.bench.run_lab` — the namespaces bench's build and teardown of N containers
   — in a VM lab of this process, with the guest's memory (``/proc/meminfo``: MemTotal -
   MemAvailable) and QEMU's resident memory on this machine after the build and at the end;
3. with ``notebook``: notebook 01 under nbval (``pytest -n0 --nbval``) with each backend;
4. with ``profile``: one more fresh first ``Lab()`` with ``NETHELPERS_VM_DEBUG=1`` (the guest
   prints when each of its steps ends), split into steps (:mod:`nethelpers.vm.bootprofile`).

Progress goes to stderr (:class:`nethelpers.bench.Progress`); the last line of stdout is the JSON
report. Times are measured, never asserted: the targets are in the README's Performance section.
"""

from __future__ import annotations

import json
import os
import re
import resource
import statistics
import subprocess
import sys
import threading
import time

from ..bench import Progress, per_container, quiesce, run_lab
from ..errors import LabError, LabUnavailable
from .bootprofile import STEPS, instrument, profile_steps

NOTEBOOK = "notebooks/01-bridge.ipynb"
KIB_PER_MB = 1024


def package_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def guest_used_mb(machine) -> float:
    """The guest's memory in use (MB): MemTotal - MemAvailable of its /proc/meminfo."""
    memory = machine.memory()
    return (memory["MemTotal"] - memory["MemAvailable"]) / KIB_PER_MB


def qemu_rss_mb(machine) -> float:
    """QEMU's resident memory on this machine (MB): the child of the VM's supervisor process."""
    pid = machine.process.pid
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
        total = 0
        for child in children:
            with open(f"/proc/{child}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        return total / KIB_PER_MB
    except (OSError, StopIteration, ValueError):
        return 0.0


def vm_footprint(lab) -> dict:
    """:func:`run_lab`'s measure after the build, on the VM backend."""
    machine = lab._sandbox.machine
    return {"guest_used_mb": guest_used_mb(machine), "qemu_rss_mb": qemu_rss_mb(machine)}


# --- 1. the first Lab() of a fresh process -------------------------------------------------
def first_lab(profile: bool = False) -> dict:
    """In this (fresh) process: the first and a second ``Lab(backend="vm")``; times in seconds.

    With ``profile`` the boot is instrumented (:func:`nethelpers.vm.bootprofile.instrument`) and
    the result has its steps.
    """
    marks: dict = {}
    if profile:
        instrument(marks)
    from ..lab import Lab

    started = time.monotonic()
    lab = Lab(backend="vm")
    ready = time.monotonic()
    machine = lab._sandbox.machine
    second = Lab(backend="vm")
    second_ready = time.monotonic()
    second.close()
    closed = time.monotonic()
    result = {"first_lab_s": ready - started, "vm_boot_s": machine.boot_seconds,
              "second_lab_s": second_ready - ready, "close_lab_s": closed - second_ready,
              "ready_at": ready, "accel": machine.accel, "kernel": machine.kernel.release,
              "guest_used_mb": guest_used_mb(machine), "qemu_rss_mb": qemu_rss_mb(machine)}
    if profile:
        result["steps"] = profile_steps(marks, machine, started, ready)
    lab.close()
    return result


def fresh_first_lab(profile: bool = False) -> dict:
    """:func:`first_lab` in a new process, as a learner's first notebook cell would run it."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_root()] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    if profile:
        env["NETHELPERS_VM_DEBUG"] = "1"
    else:
        env.pop("NETHELPERS_VM_DEBUG", None)
    others = OtherCpu()
    spawned = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "nethelpers.vm.bench", "first-lab",
                           *(["--profile"] if profile else [])],
                          check=False, capture_output=True, text=True, timeout=600, env=env)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise LabUnavailable("the VM's first Lab() failed in a fresh process: "
                             + (done.stderr.strip()[-1500:] or "no message"))
    result = json.loads(lines[-1])
    result["spawn_to_first_lab_s"] = result.pop("ready_at") - spawned  # CLOCK_MONOTONIC is system-wide
    result["other_cpu_s"], result["steal_s"] = others.seconds(), others.steal()
    return result


class OtherCpu:
    """What slows a measure down, if anything: the CPU time the rest of the machine takes while
    our child processes run (all CPU time not idle, less our descendants'), and the time a
    hypervisor gave this machine's CPUs to others (steal)."""

    def __init__(self) -> None:
        (self.busy, self.stolen), self.ours = self._stat(), self._ours()

    def seconds(self, also_ours: float = 0.0) -> float:
        """``also_ours``: our descendants' CPU time as sampled (:class:`_Descendants`), used when
        more than the reaped ones' (a process not reaped through the chain is not in getrusage)."""
        ours = max(self._ours() - self.ours, also_ours)
        return max(0.0, self._stat()[0] - self.busy - ours)

    def steal(self) -> float:
        return self._stat()[1] - self.stolen

    @staticmethod
    def _stat() -> tuple[float, float]:
        """(CPU time not idle, stolen CPU time), all CPUs, in seconds."""
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
        tick = os.sysconf("SC_CLK_TCK")
        return (sum(values[:7]) - values[3] - values[4]) / tick, values[7] / tick

    @staticmethod
    def _ours() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # children, their QEMU, once waited for
        return usage.ru_utime + usage.ru_stime


# --- 3. notebook 01 under each backend -----------------------------------------------------
def time_notebook(backend: str, notebook: str = NOTEBOOK) -> dict:
    """``pytest -n0 --nbval NOTEBOOK`` with ``NETHELPERS_BACKEND=backend``: seconds and outcome."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n0", "-q", "--nbval", notebook]
    env = dict(os.environ, NETHELPERS_BACKEND=backend)
    env.pop("NETHELPERS_VM_DEBUG", None)
    others = OtherCpu()
    started = time.monotonic()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          cwd=package_root()) as process:
        sampled = _Descendants(process.pid)
        try:
            stdout, stderr = process.communicate(timeout=3600)
        finally:
            sampled.stop()
    seconds = time.monotonic() - started
    done = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|errors?)", summary)}
    return {"seconds": seconds, "passed": done.returncode == 0, "cells_passed": counts.get("passed", 0),
            "cells_failed": counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0),
            "summary": summary, "qemu_rss_mb_peak": sampled.qemu_rss_mb,
            "other_cpu_s": others.seconds(also_ours=sum(sampled.cpu.values())), "steal_s": others.steal()}


class _Descendants:
    """``root``'s descendants, sampled by a thread: the largest resident memory of a QEMU among
    them, and the CPU time each used (last seen) — a notebook kernel's QEMU is not always reaped
    through the chain, so ``getrusage`` alone would miss it."""

    def __init__(self, root: int, every: float = 0.5) -> None:
        self.root, self.every, self.qemu_rss_mb = root, every, 0.0
        self.cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nethelpers-bench-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.wait(self.every):
            todo = [self.root]
            while todo:
                pid = todo.pop()
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    with open(f"/proc/{pid}/status") as f:
                        status = dict(line.split(":", 1) for line in f if ":" in line)
                    with open(f"/proc/{pid}/task/{pid}/children") as f:
                        todo += [int(c) for c in f.read().split()]
                except (OSError, ValueError, IndexError):
                    continue
                self.cpu[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
                if status.get("Name", "").strip().startswith("qemu-system") and "VmRSS" in status:
                    self.qemu_rss_mb = max(self.qemu_rss_mb, int(status["VmRSS"].split()[0]) / KIB_PER_MB)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# --- the bench -------------------------------------------------------------------------------
def _spread(values: list[float], digits: int = 3) -> dict:
    values = sorted(values)
    return {"fastest": round(values[0], digits), "median": round(statistics.median(values), digits),
            "slowest": round(values[-1], digits)}


def bench(n: int = 50, boots: int = 3, notebook: bool = False, profile: bool = False,
          progress: Progress | None = None) -> dict:
    """Every measure of the VM backend (see the module's docstring); times in seconds or ms."""
    from . import machine as vm_machine

    progress = progress or Progress()
    steps = 2 + notebook + profile
    report: dict = {"backend": "vm", "cpus": os.cpu_count(), "guest_memory_mb": vm_machine.memory_mb()}
    times = f"{boots} times" if boots > 1 else "once"
    progress(f"[1/{steps}] the first Lab() of a fresh process, VM boot included, {times} ...")
    report.update(_first_labs(boots, progress))
    progress(f"[2/{steps}] a VM lab in this process: building and removing {n} containers ...")
    report.update(_build_and_teardown(n, progress))
    step = 3
    if notebook:
        progress(f"[{step}/{steps}] notebook 01 under nbval, with namespaces then in the VM (minutes) ...")
        report.update(_notebooks(progress))
        step += 1
    if profile:
        progress(f"[{step}/{steps}] where the first Lab()'s time goes (NETHELPERS_VM_DEBUG=1) ...")
        quiesce()
        report["first_lab_profile"] = steps_taken = fresh_first_lab(profile=True)["steps"]
        for key, what in STEPS:
            if key in steps_taken:
                progress(f"  {steps_taken[key]:6.2f} s  {key[:-2]}: {what}")
    return report


def _first_labs(boots: int, progress: Progress) -> dict:
    runs = []
    for i in range(boots):
        progress("  waiting for the machine to be idle (at most 10 s) ...")
        quiesce()
        runs.append(fresh_first_lab())
        progress(f"  boot {i + 1}/{boots}: first Lab() {runs[-1]['first_lab_s']:.2f} s "
                 f"(the VM's boot {runs[-1]['vm_boot_s']:.2f} s), second {runs[-1]['second_lab_s']:.3f} s; "
                 f"meanwhile other processes used {runs[-1]['other_cpu_s']:.1f} s of CPU, steal "
                 f"{runs[-1]['steal_s']:.1f} s")
    result: dict = {"accel": runs[0]["accel"], "kernel": runs[0]["kernel"], "boots": boots}
    for key in ("first_lab_s", "vm_boot_s", "second_lab_s", "close_lab_s", "spawn_to_first_lab_s"):
        result[key] = _spread([run[key] for run in runs])
    result["boot_runs"] = [{key: round(run[key], 3) for key in ("first_lab_s", "vm_boot_s", "other_cpu_s",
                                                                "steal_s")}
                           for run in runs]  # in order: a slow boot next to the CPU others took
    result["guest_used_mb_idle"] = round(statistics.median(run["guest_used_mb"] for run in runs), 1)
    result["qemu_rss_mb_idle"] = round(statistics.median(run["qemu_rss_mb"] for run in runs), 1)
    return result


def _build_and_teardown(n: int, progress: Progress) -> dict:
    from . import machine as vm_machine
    from .progress import BootProgress

    quiesce()
    booted = time.monotonic()
    machine = vm_machine.get(BootProgress(stream=None if progress.quiet else sys.stderr))
    progress(f"  this process's VM started in {time.monotonic() - booted:.1f} s")
    try:
        ours = run_lab(n, progress, backend="vm", footprint=vm_footprint)
        end = {"guest_used_mb_at_end": round(guest_used_mb(machine), 1),
               "qemu_rss_mb_at_end": round(qemu_rss_mb(machine), 1)}
    finally:
        vm_machine.shutdown()
    progress(f"  guest memory in use: {ours['guest_used_mb']:.0f} MB after the build, "
             f"{end['guest_used_mb_at_end']:.0f} MB at the end; QEMU's RSS {end['qemu_rss_mb_at_end']:.0f} MB")
    return {
        **per_container(ours, n),
        "guest_used_mb_after_build": round(ours["guest_used_mb"], 1),
        "qemu_rss_mb_after_build": round(ours["qemu_rss_mb"], 1),
        **end,
    }


def _notebooks(progress: Progress) -> dict:
    result: dict = {}
    timed = {}
    for backend in ("namespaces", "vm"):
        quiesce()
        timed[backend] = run = time_notebook(backend)
        progress(f"  {backend}: {run['seconds']:.1f} s, {run['summary']}; meanwhile other processes "
                 f"used {run['other_cpu_s']:.1f} s of CPU, steal {run['steal_s']:.1f} s")
        result[f"notebook_01_{backend}_s"] = round(run["seconds"], 1)
        result[f"notebook_01_{backend}_other_cpu_s"] = round(run["other_cpu_s"], 1)
        result[f"notebook_01_{backend}_steal_s"] = round(run["steal_s"], 1)
        result[f"notebook_01_{backend}_passed"] = run["passed"]
        result[f"notebook_01_{backend}_cells"] = {"passed": run["cells_passed"], "failed": run["cells_failed"]}
    result["notebook_01_vm_qemu_rss_mb_peak"] = round(timed["vm"]["qemu_rss_mb_peak"], 1)
    result["notebook_01_ratio"] = round(timed["vm"]["seconds"] / timed["namespaces"]["seconds"], 2)
    progress(f"  the VM takes {result['notebook_01_ratio']:.1f}x as long; its QEMU's RSS peaked at "
             f"{result['notebook_01_vm_qemu_rss_mb_peak']:.0f} MB")
    return result


def main(n: int = 50, boots: int = 3, notebook: bool = False, profile: bool = False,
         quiet: bool = False) -> int:
    """Progress on stderr (none if ``quiet``); the last line of stdout is the JSON report."""
    try:
        report = bench(n, boots, notebook, profile, Progress(quiet=quiet))
    except LabError as exc:
        print(f"python -m nethelpers bench --backend vm: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(report))
    ok = report["leftovers"] == 0 and report["first_to_last_ping"]
    if notebook:
        ok = ok and report["notebook_01_namespaces_passed"] and report["notebook_01_vm_passed"]
    return 0 if ok else 1


def _child(argv: list[str]) -> int:
    """``python -m nethelpers.vm.bench first-lab [--profile]``: one JSON line on stdout."""
    if argv[:1] != ["first-lab"]:
        print("usage: python -m nethelpers.vm.bench first-lab [--profile]", file=sys.stderr)
        return 2
    print(json.dumps(first_lab(profile="--profile" in argv[1:])))
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
