"""``python -m nethelpers doctor``: can a lab run here, with which backend, and what can it do?

A lab runs with one of two backends (:mod:`nethelpers.backends`), and the doctor reports both,
what works, what is missing and the exact fix:

* **namespaces**, this machine's kernel: the sandbox is started and every kernel feature tried
  for real inside one throwaway lab (link types, iptables rules, qdiscs, a capture); a rootless
  lab's user namespace is probed in a throwaway process, and Ubuntu's AppArmor restriction is
  named with its fixes. Nothing touches the machine's own network; outside the lab the doctor
  only reads /proc/sys and /lib/modules and runs ``--version``.
* **vm**, a small Linux VM that QEMU runs as this user: the lines of
  :func:`nethelpers.vm.diagnose.checks`.

Then it says which backend a ``Lab()`` uses here (``NETHELPERS_BACKEND`` forces one). A ✓ is
only shown for what worked; any error becomes a named cause and a fix, never a traceback.

    from nethelpers import doctor
    print(doctor.report(doctor.checks()))
"""

from __future__ import annotations

import inspect
import sys

from .. import i18n
from . import host, userns
from .causes import describe, sandbox_failure
from .host import CNI_DIRS
from .model import (BACKENDS, CNI_PLUGINS, KERNEL_CHECKS, NAME_WIDTH, OPTIONAL, ORDER, REQUIRED, WIDTH,
                    Check, check, or_vm)
from .probes import Probe
from .render import chosen_backend, lab_can_run, report, verdict
from .vmsection import vm_checks

__all__ = ["BACKENDS", "CNI_DIRS", "CNI_PLUGINS", "Check", "KERNEL_CHECKS", "NAME_WIDTH", "OPTIONAL", "ORDER",
           "REQUIRED", "WIDTH", "checks", "chosen_backend", "describe", "lab_can_run", "main",
           "namespace_checks", "report", "verdict", "vm_checks"]


def _namespaces_lab():
    """(a Lab on this machine's namespaces, None) or (None, what kept it from starting)."""
    from ..lab import Lab

    # never the VM: the namespaces section is about this kernel, whatever NETHELPERS_BACKEND says
    kwargs = {"backend": "namespaces"} if "backend" in inspect.signature(Lab).parameters else {}
    try:
        with i18n.speaking("en"):  # its sandbox's errors are read (probes.py) and reported in English
            return Lab(**kwargs), None
    except Exception as exc:  # a LabError names its cause; anything else becomes one named line too
        return None, exc


def _close(lab) -> None:
    try:
        lab.close()
    except Exception:  # the sandbox died: what it did is reported already, and nothing is left of it
        pass


def namespace_checks() -> list[Check]:
    """The namespaces backend's lines, in ORDER. A ✓ sandbox means a lab started and made nodes."""
    values = userns.read_sysctls()
    probed = userns.probe()
    lab, error = _namespaces_lab()
    probe = None
    if lab is not None:
        probe = Probe(lab)
        try:
            probe.make_nodes()
        except Exception as exc:  # the sandbox starts but cannot make a node (e.g. a read-only /proc/sys)
            _close(lab)
            lab, error = None, exc
    users = userns.userns_check(probe.rootless if probe is not None else None, values, probed)
    found = [users]
    if lab is None:
        reason, fix = sandbox_failure(error)
        if not users.ok and users.required:
            fix = or_vm("Fix 'user namespaces' (next line).")
        started = probe is not None
        found.append(check("sandbox", False, f"the sandbox starts, but cannot make a node: {reason}" if started
                           else reason, fix))
        found += [check(name, False, "not run: no sandbox", "fix 'sandbox' first", skipped=True)
                  for name in KERNEL_CHECKS]
    else:
        mode = "rootless via user namespace" if lab.rootless else "root"
        found.append(check("sandbox", True, f"a lab starts here: {mode}"))
        found += [check(name, False, "not run: an earlier probe failed", "see the failure above", skipped=True)
                  for name in KERNEL_CHECKS]
        try:
            probe.run_all()
        except Exception as exc:  # a bug, or the sandbox died: report it in one line, keep what was found
            done = {c.name for c in probe.out}
            name = next(n for n in KERNEL_CHECKS if n not in done)
            cause, fix = describe(str(exc))
            probe.out.append(check(name, False, f"the doctor itself failed here: {cause}",
                                   fix or "report this output to the course's maintainers"))
        finally:
            _close(lab)
        found += probe.out  # later entries replace the "not run" placeholders
    by_name = {c.name: c for c in found + [host.iptables(), host.cni(), host.etcd()]}
    return [by_name[name] for name in ORDER]


def checks() -> list[Check]:
    """Every line of the report: the namespaces backend's (ORDER), then the VM backend's."""
    return namespace_checks() + vm_checks()


def main() -> int:
    """Print the report; exit status 0 when a lab can run here (with either backend), 1 otherwise."""
    results = checks()
    print(report(results))
    sys.stdout.flush()
    return 0 if lab_can_run(results) else 1
