"""Where a VM lab's first ``Lab()`` spends its time, step by step (``bench --backend vm --profile``).

:func:`instrument` wraps, without changing them, the VM's boot-progress stages, its control
channel and the host-side steps of :class:`nethelpers.vm.machine.Machine`, recording when each
happens; :func:`profile_steps` then puts them, the guest's uptimes (in the agent's hello and
configure replies) and its console (the kernel's ``Run /init``, and with ``NETHELPERS_VM_DEBUG=1``
the init script's ``nethelpers-init: … at T s``) on this machine's clock, as :data:`STEPS`.
The kernel stamps its messages with its own clock, which under emulation can be a few hundred ms
off the uptime: the init script writes its steps through ``/dev/kmsg``, so that its first line
carries both and pairs the two.
"""

from __future__ import annotations

import os
import re
import time

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


def instrument(marks: dict) -> None:
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
    paired = re.search(r"\[\s*([\d.]+)\] nethelpers-init: started at ([\d.]+) s", console)
    if found and paired:  # the kernel's timestamps run on their own clock: put it on the uptime's
        guest["init"] = float(found.group(1)) + float(paired.group(2)) - float(paired.group(1))
    for key, text in (("init_started", "started"), ("modules", "modules loaded"),
                      ("mounts", "directories shared")):
        found = re.search(rf"nethelpers-init: {text} at ([\d.]+) s", console)
        if found:
            guest[key] = float(found.group(1))
    if marks.get("hello_uptime") is not None:
        guest["hello"] = float(marks["hello_uptime"])
    if machine.guest.get("uptime") is not None:
        guest["configured"] = float(machine.guest["uptime"])
    qemu = qemu_pid(machine)
    zero = marks["hello"] - guest["hello"] if "hello" in marks and "hello" in guest else None
    configure = marks.get("request:configure")
    # STEPS[i] runs from points[i] to points[i + 1], all on this machine's monotonic clock
    points = [started, marks.get("stage:starting QEMU"), _started_at(qemu) if qemu else None, zero]
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


def qemu_pid(machine) -> int | None:
    pid = machine.process.pid
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
        return int(children[0]) if children else None
    except (OSError, ValueError):
        return None
