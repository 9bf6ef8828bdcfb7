"""``python -m nethelpers bench --backend vm``: what the VM backend costs, measured against issue 12's targets.

1. the first ``Lab()`` of a fresh process, VM boot included (the VM lives per process, so each
   run is a new ``python -m nethelpers.vm.bench first-lab`` child), the VM's own boot
   (``machine.boot_seconds``), a second ``Lab()`` in that process, and the guest's memory then;
2. :func:`nethelpers.bench.run_lab` — the namespaces bench's build and teardown of N containers
   — in a VM lab of this process, with the guest's memory (``/proc/meminfo``: MemTotal -
   MemAvailable) and QEMU's resident memory on this machine after the build and at the end;
3. with ``notebook``: notebook 01 under nbval (``pytest -n0 --nbval``) with each backend;
4. with ``profile``: one more fresh first ``Lab()`` with ``NETHELPERS_VM_DEBUG=1`` (the guest
   prints when each of its steps ends), split into steps (:func:`profile_steps`).

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
import time

from ..bench import Progress, quiesce, run_lab
from ..errors import LabError, LabUnavailable

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

    With ``profile`` the boot is instrumented (:func:`_instrument`) and the result has its steps.
    """
    marks: dict = {}
    if profile:
        _instrument(marks)
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
        result["console"] = machine.console.tail(60)
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
    cpu_before, children_before = _busy_seconds(), _children_cpu_seconds()
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
    # CPU time the rest of the machine took meanwhile: what slowed this boot down, if anything
    ours = _children_cpu_seconds() - children_before  # the child, its supervisor and QEMU
    result["other_cpu_s"] = max(0.0, _busy_seconds() - cpu_before - ours)
    return result


def _busy_seconds() -> float:
    """CPU time this machine spent not idle, all CPUs, since it booted."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:8]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- 3. notebook 01 under each backend -----------------------------------------------------
def time_notebook(backend: str, notebook: str = NOTEBOOK) -> dict:
    """``pytest -n0 --nbval NOTEBOOK`` with ``NETHELPERS_BACKEND=backend``: seconds and outcome."""
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n0", "-q", "--nbval", notebook]
    env = dict(os.environ, NETHELPERS_BACKEND=backend)
    env.pop("NETHELPERS_VM_DEBUG", None)
    started = time.monotonic()
    done = subprocess.run(command, check=False, capture_output=True, text=True, timeout=3600,
                          env=env, cwd=package_root())
    seconds = time.monotonic() - started
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr.strip()[-300:]
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|errors?)", summary)}
    return {"seconds": seconds, "passed": done.returncode == 0, "cells_passed": counts.get("passed", 0),
            "cells_failed": counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0),
            "summary": summary}


# --- 4. where the first Lab()'s time goes ---------------------------------------------------
STEPS = (  # (key, what it is), in order; each the time from the previous step's end
    ("host_before_qemu_s", ("on this machine before QEMU starts: imports, QEMU and the kernel found, "
                            "initramfs checked, KVM or not, nethelpers byte-compiled, exports listed")),
    ("supervisor_start_s", "the supervisor (a Python start) until it executes QEMU"),
    ("qemu_to_kernel_s", "QEMU's set-up and firmware until the guest kernel's clock starts"),
    ("kernel_to_init_s", "the kernel's own boot, until it runs /init"),
    ("init_start_s", "busybox's first mounts, until the init script's first step"),
    ("modules_s", "insmod of the boot modules (virtio, 9p, overlay, …)"),
    ("mounts_s", "9p exports with their overlays, /run, /tmp"),
    ("python_to_hello_s", "switch_root, a Python start and the agent's import, until its hello"),
    ("configure_s", "the configure request: imports of the sandbox's code in the agent"),
    ("first_lab_open_s", "the first lab: a serial port hot-plugged, a sandbox forked, its first answer"),
)


def _instrument(marks: dict) -> None:
    """Record when the boot's steps happen, without changing them: wrappers around the VM's
    progress stages, its control channel and the host-side steps of ``Machine.__init__``."""
    from . import machine, progress

    stage = progress.BootProgress.stage

    def recorded_stage(self, text, fraction):
        marks.setdefault("stage:" + text, time.monotonic())
        return stage(self, text, fraction)

    progress.BootProgress.stage = recorded_stage
    dispatch = machine.Control._dispatch

    def recorded_dispatch(self, message):
        if message.get("event") == "hello":
            marks.setdefault("hello", time.monotonic())
            marks.setdefault("hello_uptime", message.get("uptime"))
        return dispatch(self, message)

    machine.Control._dispatch = recorded_dispatch
    request = machine.Control.request

    def recorded_request(self, op, timeout=30, **arguments):
        begun = time.monotonic()
        try:
            return request(self, op, timeout, **arguments)
        finally:
            marks.setdefault(f"request:{op}", (begun, time.monotonic()))

    machine.Control.request = recorded_request
    for module, name in ((machine.initramfs, "build"), (machine.accel_choice, "choose"),
                         (machine, "_compile_package"), (machine, "exports")):
        _timed(module, name, marks)


def _timed(module, name: str, marks: dict) -> None:
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        begun = time.monotonic()
        try:
            return original(*args, **kwargs)
        finally:
            marks[f"host:{name}"] = time.monotonic() - begun

    setattr(module, name, wrapper)


def _started_at(pid: int) -> float | None:
    """When process ``pid`` started, on the CLOCK_MONOTONIC scale (to 10 ms)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None
    boot_minus_mono = time.clock_gettime(time.CLOCK_BOOTTIME) - time.monotonic()
    return ticks / os.sysconf("SC_CLK_TCK") - boot_minus_mono


def profile_steps(marks: dict, machine, started: float, ready: float) -> dict:
    """The first Lab()'s time split into :data:`STEPS` (seconds), from the marks, the guest's
    uptime in its hello and configure replies, and its console (``[ t] Run /init``, the init
    script's ``nethelpers-init: … at T s``). Steps that could not be placed are absent."""
    console = "\n".join(machine.console.lines)
    guest: dict[str, float] = {}
    found = re.search(r"\[\s*([\d.]+)\] Run /init as init process", console)
    if found:
        guest["init"] = float(found.group(1))
    for key, text in (("init_started", "started"), ("modules", "modules loaded"),
                      ("mounts", "directories shared")):
        found = re.search(rf"nethelpers-init: {text} at ([\d.]+) s", console)
        if found:
            guest[key] = float(found.group(1))
    if marks.get("hello_uptime") is not None:
        guest["hello"] = float(marks["hello_uptime"])
    if machine.guest.get("uptime") is not None:
        guest["configured"] = float(machine.guest["uptime"])
    qemu_pid = _qemu_pid(machine)
    zero = marks["hello"] - guest["hello"] if "hello" in marks and "hello" in guest else None
    configure = marks.get("request:configure")
    # STEPS[i] runs from points[i] to points[i + 1], all on this machine's monotonic clock
    points = [started, marks.get("stage:starting QEMU"), _started_at(qemu_pid) if qemu_pid else None, zero]
    points += [zero + guest[key] if zero is not None and key in guest else None
               for key in ("init", "init_started", "modules", "mounts")]
    points += [marks.get("hello"), configure[1] if configure else None, ready]
    steps: dict = {}
    for (key, _), begin, end in zip(STEPS, points, points[1:]):
        if begin is not None and end is not None:
            steps[key] = round(end - begin, 3)
    steps["total_s"] = round(ready - started, 3)
    steps["vm_boot_s"] = round(machine.boot_seconds, 3)
    steps["guest_uptime"] = {k: round(v, 3) for k, v in guest.items()}
    steps["host_parts_s"] = {k.split(":", 1)[1]: round(v, 3) for k, v in marks.items() if k.startswith("host:")}
    if "request:open" in marks:
        begun, ended = marks["request:open"]
        steps["host_parts_s"]["open_request"] = round(ended - begun, 3)
    return steps


def _qemu_pid(machine) -> int | None:
    pid = machine.process.pid
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
        return int(children[0]) if children else None
    except (OSError, ValueError):
        return None


# --- the bench -------------------------------------------------------------------------------
def _spread(values: list[float], digits: int = 3) -> dict:
    values = sorted(values)
    return {"fastest": round(values[0], digits), "median": round(statistics.median(values), digits),
            "slowest": round(values[-1], digits)}


def bench(n: int = 50, boots: int = 3, notebook: bool = False, profile: bool = False,
          progress: Progress | None = None) -> dict:
    """Every measure of the VM backend (see the module's docstring); times in seconds or ms."""
    from . import machine as vm_machine
    from .progress import BootProgress

    progress = progress or Progress()
    steps = 2 + notebook + profile
    report: dict = {"backend": "vm", "cpus": os.cpu_count(), "guest_memory_mb": vm_machine.memory_mb()}
    times = f"{boots} times" if boots > 1 else "once"
    progress(f"[1/{steps}] the first Lab() of a fresh process, VM boot included, {times} ...")
    runs = []
    for i in range(boots):
        progress("  waiting for the machine to be idle (at most 10 s) ...")
        quiesce()
        runs.append(fresh_first_lab())
        progress(f"  boot {i + 1}/{boots}: first Lab() {runs[-1]['first_lab_s']:.2f} s "
                 f"(the VM's boot {runs[-1]['vm_boot_s']:.2f} s), second {runs[-1]['second_lab_s']:.3f} s; "
                 f"other processes used {runs[-1]['other_cpu_s']:.1f} s of CPU meanwhile")
    report.update(accel=runs[0]["accel"], kernel=runs[0]["kernel"], boots=boots)
    for key in ("first_lab_s", "vm_boot_s", "second_lab_s", "close_lab_s", "spawn_to_first_lab_s"):
        report[key] = _spread([run[key] for run in runs])
    report["boot_runs"] = [{key: round(run[key], 3) for key in ("first_lab_s", "vm_boot_s", "other_cpu_s")}
                           for run in runs]  # in order: a slow boot next to the CPU others took
    report["guest_used_mb_idle"] = round(statistics.median(run["guest_used_mb"] for run in runs), 1)
    report["qemu_rss_mb_idle"] = round(statistics.median(run["qemu_rss_mb"] for run in runs), 1)

    progress(f"[2/{steps}] a VM lab in this process: building and removing {n} containers ...")
    quiesce()
    booted = time.monotonic()
    machine = vm_machine.get(BootProgress(stream=None if progress.quiet else sys.stderr))
    progress(f"  this process's VM started in {time.monotonic() - booted:.1f} s")
    ours = run_lab(n, progress, backend="vm", footprint=vm_footprint)
    per = 1000 / n
    report.update({
        "containers": n,
        "build_ms_per_container": round(ours["build"] * per, 3),
        "teardown_ms_per_container": round(ours["teardown"] * per, 3),
        "total_ms_per_container": round((ours["build"] + ours["teardown"]) * per, 3),
        "build_s": round(ours["build"], 3),
        "first_to_last_ping": ours["ping_ok"],
        "leftovers": ours["leftovers"],
        "guest_used_mb_after_build": round(ours["guest_used_mb"], 1),
        "qemu_rss_mb_after_build": round(ours["qemu_rss_mb"], 1),
        "guest_used_mb_at_end": round(guest_used_mb(machine), 1),
        "qemu_rss_mb_at_end": round(qemu_rss_mb(machine), 1),
    })
    progress(f"  guest memory in use: {report['guest_used_mb_after_build']:.0f} MB after the build, "
             f"{report['guest_used_mb_at_end']:.0f} MB at the end; QEMU's RSS "
             f"{report['qemu_rss_mb_at_end']:.0f} MB")
    vm_machine.shutdown()
    step = 3
    if notebook:
        progress(f"[{step}/{steps}] notebook 01 under nbval, namespaces then VM (minutes) ...")
        timed = {}
        for backend in ("namespaces", "vm"):
            quiesce()
            timed[backend] = time_notebook(backend)
            progress(f"  {backend}: {timed[backend]['seconds']:.1f} s, {timed[backend]['summary']}")
        for backend, result in timed.items():
            report[f"notebook_01_{backend}_s"] = round(result["seconds"], 1)
            report[f"notebook_01_{backend}_passed"] = result["passed"]
            report[f"notebook_01_{backend}_cells"] = {"passed": result["cells_passed"],
                                                      "failed": result["cells_failed"]}
        report["notebook_01_ratio"] = round(timed["vm"]["seconds"] / timed["namespaces"]["seconds"], 2)
        step += 1
    if profile:
        progress(f"[{step}/{steps}] where the first Lab()'s time goes (NETHELPERS_VM_DEBUG=1) ...")
        quiesce()
        profiled = fresh_first_lab(profile=True)
        report["first_lab_profile"] = profiled["steps"]
        for key, what in STEPS:
            if key in profiled["steps"]:
                progress(f"  {profiled['steps'][key]:6.2f} s  {key[:-2]}: {what}")
    return report


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
