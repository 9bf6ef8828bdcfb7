"""Where a lab's sandbox runs: ``namespaces`` on this machine's kernel, or a Linux ``vm``.

Both run the same sandbox (:mod:`nethelpers.sandbox`) and answer the same requests; a
:class:`nethelpers.Lab` only sees the sandbox handle (``conn``, ``interrupt``, ``wait``,
``tail``). The choice, once per process:

* ``Lab(backend=...)`` or ``NETHELPERS_BACKEND=namespaces|vm`` forces one;
* otherwise namespaces when this machine gives them (the fastest: no emulation), and the VM
  when it refuses (Binder, Ubuntu's AppArmor restriction, a locked-down container).

The first lab of a process says in one line where it runs and why (in a notebook, a line
that is a progress bar while a VM boots).
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading

from . import i18n, unavailable
from .errors import InvalidValue, LabClosed, LabError, LabUnavailable
from .i18n import _
from .sandbox.channel import Channel, ProtocolError, reply

NAMES = ("namespaces", "vm")
_lock = threading.Lock()
_auto: tuple[str, str] | None = None   # (backend, why) once the automatic choice is made
_told = False                          # the one-line notice was given


def child_environment() -> dict:
    """This process's environment for a Python it starts (a sandbox, QEMU's supervisor): the
    directory holding this package first on PYTHONPATH, however this process found it."""
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return dict(os.environ, PYTHONPATH=os.pathsep.join(
        [package_root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))


class ProcessSandbox:
    """The namespaces backend: ``python -m nethelpers.sandbox FD``, a process of this machine."""

    backend = "namespaces"

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        self._stderr = tempfile.TemporaryFile()
        env = dict(child_environment(), **{i18n.VARIABLE: i18n.language()})  # its errors in the learner's language
        self.process = subprocess.Popen(
            [sys.executable, "-m", "nethelpers.sandbox", str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=self._stderr,
            stderr=self._stderr, start_new_session=True, env=env)
        theirs.close()
        self.conn = Channel(ours.detach())
        self.pid = self.process.pid

    def forget_after_fork(self) -> None:
        """In a forked child of the owner: let go of the connection, touch nothing else."""
        self.conn.close()

    def interrupt(self) -> None:
        os.kill(self.process.pid, signal.SIGUSR1)

    def wait(self, timeout: float) -> None:
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._stderr.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def tail(self) -> str:
        try:
            self._stderr.seek(0)
            return self._stderr.read().decode(errors="replace")[-2000:] or "(no output)"
        except ValueError:
            return "(no output)"


def requested(backend: str | None) -> str | None:
    """The backend asked for by argument or environment, checked; None for automatic."""
    name = backend or os.environ.get("NETHELPERS_BACKEND") or None
    if name not in (None, "auto", *NAMES):
        where = "backend=" if backend else "NETHELPERS_BACKEND="
        raise InvalidValue(f"{where}{name!r} is not a lab backend: use 'namespaces' or 'vm' "
                           "(or leave it unset to choose automatically)")
    return None if name == "auto" else name


def start(backend: str | None, timeout: float, *, quiet: bool = False, why: str | None = None):
    """A started sandbox and its first message (facts about it, ``where`` the one line that says
    where it runs) for a new Lab. ``quiet``: say nothing (the lab will :func:`announce` it);
    ``why``: the reason to give for a VM asked for by ``backend="vm"``."""
    global _auto
    name = requested(backend)
    if name == "namespaces":
        return _namespaces(timeout, quiet)
    if name == "vm":
        why = why or _("as asked ({how})").format(how="NETHELPERS_BACKEND=vm" if not backend else "backend='vm'")
        return _vm(timeout, why=why, quiet=quiet)
    if unavailable.verdict() is not None:
        raise LabUnavailable(unavailable.SHORT.split(": ", 1)[1])
    with _lock:
        decided = _auto
    if decided is not None and decided[0] == "vm":
        return _vm(timeout, why=decided[1], quiet=quiet)
    try:
        sandbox, info = _namespaces(timeout, quiet)
    except LabUnavailable as refused:
        why = _("network namespaces are refused here ({reason})").format(reason=_reason(refused))
        try:
            result = _vm(timeout, why=why, quiet=quiet)
        except LabUnavailable as no_vm:
            raise unavailable.record(LabUnavailable(_nothing_runs(refused, no_vm)),
                                     _reason(refused), _first_sentence(no_vm)) from None
        with _lock:
            _auto = ("vm", why)
        return result
    with _lock:
        _auto = ("namespaces", "")
    return sandbox, info


def handshake(sandbox, timeout: float) -> dict:
    """The sandbox's first message: its facts, or the error that kept it from starting."""
    if not sandbox.conn.wait(timeout):
        sandbox.kill()
        raise LabClosed(f"the lab's sandbox did not start within {timeout} s: {sandbox.tail()}")
    try:
        _, status, value = reply(sandbox.conn.recv(), "info")
    except (EOFError, OSError, ProtocolError):
        sandbox.kill()
        raise LabClosed(f"the lab's sandbox exited while starting: {sandbox.tail()}") from None
    if status == "err":
        sandbox.wait(10)
        raise value
    return value


def _namespaces(timeout: float, quiet: bool = False):
    sandbox = ProcessSandbox()
    info = handshake(sandbox, timeout)
    info["backend"] = "namespaces"
    mode = _("rootless, in a user namespace") if info["rootless"] else _("as root")
    info["where"] = _("Lab: network namespaces on this machine's kernel (Linux {release}, {mode}).").format(
        release=platform.release(), mode=mode)
    if not quiet:
        _tell(None, info["where"], notebook_only=True)
    return sandbox, info


def _vm(timeout: float, why: str, quiet: bool = False):
    from .vm import machine
    from .vm.progress import BootProgress

    running = machine.running()
    progress = _progress() if running is None and not quiet else BootProgress()
    vm = running or machine.get(progress)
    sandbox = vm.open_sandbox()
    try:  # a new sandbox is a new Python in the guest: as slow as any program there (patience)
        info = handshake(sandbox, timeout * vm.patience)
    except BaseException:
        sandbox.wait(1)
        raise
    info.update(backend="vm", accel=vm.accel, kernel=vm.kernel.release)
    how = "KVM" if vm.accel == "kvm" else _("an emulated CPU: no KVM here")
    info["where"] = _("Lab: in a Linux VM, {why}: QEMU with {how}, Linux {release}, started in {seconds} s.").format(
        why=why, how=how, release=vm.kernel.release, seconds=f"{vm.boot_seconds:.1f}")
    if not quiet:
        _tell(progress, info["where"])
    return sandbox, info


def _reason(refused: LabError) -> str:
    """Why the namespaces backend could not start, in a few words."""
    text = str(refused)
    if "read-only" in text:
        return _("/proc/sys is read-only, as in a container")
    if "user namespace" in text:
        return _("this user may not create a user namespace: a seccomp filter, a sysctl or AppArmor")
    if "as root" in text:
        return _("even root may not create namespaces: a seccomp filter or no CAP_SYS_ADMIN")
    return _first_sentence(refused)


def _first_sentence(error: LabError) -> str:
    """The gist of an error's message: its first sentence, at most 160 characters."""
    text = " ".join(str(error).split())
    sentence = text.split(". ")[0].rstrip(".")
    return sentence if len(sentence) <= 160 else sentence[:157] + "…"


def _nothing_runs(refused: LabError, no_vm: LabError) -> str:
    return ("No lab can run on this machine. Network namespaces: " + str(refused) + "\n\nThe VM backend "
            "(a Linux VM that needs no privileges): " + str(no_vm) + "\n\nThe notebooks still show "
            "their stored outputs; `python -m nethelpers doctor` lists every fix.")


# --- the one-line notice ------------------------------------------------------------------
def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _progress():
    from .vm.progress import BootProgress

    if _in_notebook() and not _told:
        from IPython.display import display

        handle = display({"text/plain": _("Lab: starting a Linux VM")}, raw=True, display_id=True)
        return BootProgress(display=handle)
    return BootProgress(stream=sys.stderr)


def announce(info: dict) -> None:
    """Say where a lab started with ``quiet`` runs (``info["where"]``), whatever was said before."""
    _say(info["where"], notebook_only=info["backend"] != "vm")


def _tell(progress, line: str, notebook_only: bool = False) -> None:
    """Say where the lab runs, once per process."""
    global _told
    with _lock:
        if _told:
            return
        _told = True
    if progress is not None:
        progress.done(line)
    else:
        _say(line, notebook_only)


def _say(line: str, notebook_only: bool) -> None:
    """One line: in a notebook as its output, on a terminal on stderr (unless ``notebook_only``)."""
    if _in_notebook():
        from IPython.display import display

        display({"text/plain": line}, raw=True)
    elif not notebook_only:
        print(line, file=sys.stderr)
