"""A lab is a boundary (issue 13): nothing in a node reaches the owner or the machine.

Each test reproduces an escape that worked before the lab was hardened, and checks it
fails now: the owner takes only plain data from the sandbox; a node cannot take the
sandbox's connection, see or enter the machine's namespaces, or change anything
machine-wide; the lab ends with its owner even in the middle of a request.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import textwrap
import threading
import time

import pytest

import footprint
from conftest import ROOT
from nethelpers import LabClosed, LabError
from nethelpers.errors import InvalidValue, KernelError, NotFound
from nethelpers.sandbox import channel

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/ → the repo
TESTS = os.path.dirname(os.path.abspath(__file__))


class _Marker:
    """Unpickling this creates a file: the proof that code ran in the owner."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _framed(payload: bytes) -> bytes:
    return struct.pack("!I", len(payload)) + payload


# --- 1. the control channel carries data only -----------------------------------------------
def test_a_forged_pickle_from_the_sandbox_side_runs_nothing_in_the_owner(tmp_path):
    """What a process that took over the sandbox's end could send: a pickle that, if
    unpickled, runs code. The owner's end reads JSON only and refuses it."""
    marker = tmp_path / "ran-in-owner"
    ours, theirs = socket.socketpair()
    owner = channel.Channel(ours.detach())
    theirs.sendall(_framed(pickle.dumps([1, "ok", _Marker(str(marker))])))
    with pytest.raises(channel.ProtocolError):
        channel.reply(owner.recv(), "run")
    assert not marker.exists()
    theirs.close()
    owner.close()


@pytest.mark.skipif(not ROOT or os.uname().machine != "x86_64",
                    reason="takes the sandbox's socket with pidfd_getfd: root's CAP_SYS_PTRACE, x86_64 numbers")
def test_the_exploit_end_to_end_runs_nothing_in_the_owner(lab, tmp_path):
    """Issue 13's exploit on a live lab: the sandbox's end of the connection, taken as a process
    that got hold of it would (here by root, who may), sends a pickle as the answer to the next
    request. The owner refuses it as not JSON; no code ran in it (no marker file)."""
    import ctypes

    if lab.backend == "vm":
        pytest.skip("the sandbox's end is in the VM")
    marker = tmp_path / "ran-in-owner"
    libc = ctypes.CDLL(None, use_errno=True)
    pid1 = footprint.children(lab._sandbox.pid)[0]
    with open(f"/proc/{lab._sandbox.pid}/cmdline", "rb") as f:
        fd_number = int(f.read().split(b"\0")[-2])  # python -m nethelpers.sandbox FD
    pidfd = os.pidfd_open(pid1)
    stolen = libc.syscall(438, pidfd, fd_number, 0)  # pidfd_getfd
    assert stolen >= 0, os.strerror(ctypes.get_errno())
    try:
        os.write(stolen, _framed(pickle.dumps([lab._request_id + 1, "ok", [_Marker(str(marker))]])))
        with pytest.raises(channel.ProtocolError, match="not valid JSON"):
            lab.nodes()
    finally:
        os.close(stolen)
        os.close(pidfd)
    assert not marker.exists()


@pytest.mark.parametrize("message, why", [
    ([1, "ok"], "not \\[id"),                                       # wrong shape
    ([1, "ok", "a string"], "not a dict"),                         # run answers a dict
    ([1, "err", {"type": "SystemExit", "message": "x"}], None),  # not a lab error: KernelError
    (["1", "ok", {}], "not \\[id"),
])
def test_replies_are_checked_before_use(message, why):
    if why is None:
        _, status, error = channel.reply(message, "run")
        assert status == "err" and type(error) is KernelError
    else:
        with pytest.raises(channel.ProtocolError, match=why):
            channel.reply(message, "run")


def test_an_oversized_message_is_refused_before_it_is_read():
    ours, theirs = socket.socketpair()
    owner = channel.Channel(ours.detach())
    theirs.sendall(struct.pack("!I", channel.MAX_MESSAGE + 1))
    with pytest.raises(channel.ProtocolError, match="over the limit"):
        owner.recv()
    theirs.close()
    owner.close()


def test_errors_cross_as_their_own_class(lab):
    with pytest.raises(NotFound):
        lab._call("write_etc", "nowhere", "hosts", "")
    lab.add_node("a")
    with pytest.raises(InvalidValue, match="cannot be set per node"):
        lab._call("write_etc", "a", "../../../tmp/nethelpers-traversal", "x")  # issue 13, item 9
    assert not os.path.exists("/tmp/nethelpers-traversal")


TAKE_OVER = textwrap.dedent("""
    import ctypes, errno, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    SYS_pidfd_open, SYS_pidfd_getfd, PTRACE_ATTACH = 434, 438, 16
    pidfd = libc.syscall(SYS_pidfd_open, 1, 0)
    got = [fd for fd in range(64) if pidfd >= 0 and libc.syscall(SYS_pidfd_getfd, pidfd, fd, 0) >= 0]
    traced = libc.ptrace(PTRACE_ATTACH, 1, 0, 0) == 0
    print(f"pidfd={pidfd >= 0} got={got} traced={traced} mem={os.access('/proc/1/mem', os.R_OK)}")
""")


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers of x86_64")
def test_a_node_cannot_take_the_sandboxs_connection(lab):
    """The escape of issue 13: pidfd_getfd on PID 1 gave a node the sandbox's socket."""
    a = lab.add_node("a")
    out = a.run([sys.executable, "-c", TAKE_OVER], timeout=30)
    assert out.rc == 0, out.stderr
    assert "got=[]" in out.stdout and "traced=False" in out.stdout, out.stdout


# --- 2. nodes are contained, root or not ------------------------------------------------------
def _machine_links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(": ")[1].split("@")[0] for line in out.splitlines()} - {"lo"}


def test_a_node_cannot_see_or_enter_the_machines_network(lab):
    a = lab.add_node("a")
    out = a.run(f"umount -l /proc 2>&1; nsenter --net=/proc/{os.getpid()}/ns/net ip -o link; "
                "nsenter --net=/proc/1/ns/net ip -o link", timeout=20)
    seen = {line.split(": ")[1].split("@")[0] for line in out.stdout.splitlines() if ": " in line}
    assert not seen & _machine_links(), out.stdout


def test_a_node_cannot_change_machine_wide_settings(lab):
    with open("/proc/sys/kernel/printk_ratelimit") as f:
        before = f.read()
    hostname = socket.gethostname()
    a = lab.add_node("a")
    out = a.run("sysctl -w kernel.printk_ratelimit=7; echo 7 > /proc/sys/kernel/printk_ratelimit; "
                "hostname lab-escape; umount -l /proc /etc 2>&1; "
                "echo 7 > /proc/sys/kernel/printk_ratelimit", timeout=20)
    with open("/proc/sys/kernel/printk_ratelimit") as f:
        assert f.read() == before, out
    assert socket.gethostname() == hostname
    with pytest.raises(InvalidValue, match="machine"):
        a.sysctl("kernel.printk_ratelimit", 7)


def test_a_node_writes_no_file_the_learner_could_not(lab, tmp_path):
    """Root of a lab started by root is nobody on the machine: root's files stay as they are."""
    a = lab.add_node("a")
    target = "/nethelpers-boundary-test" if ROOT else str(tmp_path / "../../nethelpers-boundary")
    out = a.run(f"umount -l /etc 2>/dev/null; touch {target}; echo x >> /etc/hostname; "
                "cat /etc/shadow", timeout=20)
    assert not os.path.exists(target) or not ROOT
    assert out.rc != 0
    if ROOT:
        assert "root:" not in out.stdout


def test_a_node_fills_the_labs_shm_not_the_machines(lab):
    """/dev/shm is the lab's own tmpfs, of bounded size (memory, which the machine's /dev/shm is)."""
    a = lab.add_node("a")
    name = f"nethelpers-fill-{os.getpid()}"
    out = a.run(f"dd if=/dev/zero of=/dev/shm/{name} bs=1M count=48; sync; du -m /dev/shm/{name}", timeout=60)
    assert "No space left on device" in out.stderr, out
    assert int(out.stdout.split()[0]) <= 32
    assert not os.path.exists(f"/dev/shm/{name}")  # the machine's own /dev/shm never saw it


def test_a_node_sees_the_machines_tmp_as_ip_netns_exec_would(lab, tmp_path):
    """/tmp is the machine's (where the course, its Python or a learner's files may be)."""
    if lab.backend == "vm":
        pytest.skip("the VM shares the course and its Python with the guest, not this machine's /tmp")
    shared = os.path.join("/tmp", f"nethelpers-shared-{os.getpid()}")
    with open(shared, "w") as f:
        f.write("from the notebook\n")
    os.chmod(shared, 0o644)
    try:
        assert lab.add_node("a").run(f"cat {shared}").stdout == "from the notebook\n"
    finally:
        os.unlink(shared)


def test_root_of_the_lab_is_nobody_on_the_machine(lab):
    if lab.backend == "vm":
        pytest.skip("the lab's processes are in the VM, not on this machine")
    a = lab.add_node("a")
    a.start(["sleep", "30"])
    real = [pid for pid in footprint.descendants(lab._sandbox.pid)
            if _cmdline(pid) == "sleep 30"]
    assert real
    with open(f"/proc/{real[0]}/status") as f:
        uid = next(line.split()[2] for line in f if line.startswith("Uid:"))
    assert int(uid) == (65534 if ROOT else os.getuid())
    assert a.run("id -u").stdout.strip() == "0"  # ...and root inside, as lessons need


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


# --- 4. the lab ends with its owner, even in the middle of a request --------------------------
OWNER = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, {repo!r}); sys.path.insert(0, {tests!r})
    from nethelpers import Lab
    import footprint
    lab = Lab()
    a = lab.add_node("a")
    seen = footprint.of_lab(lab)
    if sys.argv[1] == "fork":
        if os.fork() == 0:   # a child that outlives its parent, holding the lab's connection
            time.sleep(60)
            os._exit(0)
    print(json.dumps({{"pids": sorted(seen["pids"]), "mnt": seen["mnt"], "net": sorted(seen["net"])}}),
          flush=True)
    a.run("sleep 40", timeout=60)
""")


@pytest.mark.skipif(os.environ.get("NETHELPERS_BACKEND") == "vm",
                    reason="in the VM backend the owner's death ends the VM (test_vm.py)")
@pytest.mark.parametrize("how", ["request", "fork"])
def test_the_owners_death_ends_the_lab_within_seconds(how):
    code = OWNER.format(repo=REPO, tests=TESTS)
    proc = subprocess.Popen([sys.executable, "-c", code, how], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        seen = json.loads(proc.stdout.readline())
        seen = {"pids": set(seen["pids"]), "mnt": seen["mnt"], "net": set(seen["net"])}
        time.sleep(0.5)  # the sandbox is now running `sleep 40`
        os.kill(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(10)
        assert footprint.wait_gone(seen, timeout=5) == []
        assert time.monotonic() - killed < 3   # generous: 20-30 ms measured (README, bench-soak)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the forked child too
        except ProcessLookupError:
            pass


def test_a_forked_child_cannot_use_its_parents_lab(lab):
    lab.add_node("a")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            lab.add_node("b")
            answer = b"used it"
        except LabClosed as exc:
            answer = str(exc).encode()
        except BaseException as exc:  # noqa: BLE001  (any other answer fails the test)
            answer = repr(exc).encode()
        os.write(write, answer)
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1000).decode()
    os.waitpid(pid, 0)
    os.close(read)
    assert "forked child" in answer
    assert [n.name for n in lab.nodes()] == ["a"]  # the parent's lab is untouched and works


# --- 5. several threads --------------------------------------------------------------------
def _in_threads(work, n: int = 4, timeout: float = 120) -> None:
    """``work(i)`` in n threads at once; returns when all have ended."""
    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)


def test_each_thread_has_its_own_batch(lab):
    errors, started = [], threading.Barrier(4)

    def work(i: int) -> None:
        try:
            started.wait()
            with lab.batch():
                lab.add_node(f"t{i}a")
                time.sleep(0.05)  # the other threads' batches are open meanwhile
                lab.add_node(f"t{i}b")
                if i == 0:
                    raise RuntimeError("thread 0's batch fails: only its nodes are dropped")
        except RuntimeError:
            pass
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    _in_threads(work)
    assert errors == []
    assert sorted(n.name for n in lab.nodes()) == sorted(f"t{i}{x}" for i in (1, 2, 3) for x in "ab")


def test_the_first_docker_command_from_several_threads_starts_one_host(lab):
    results, errors = [], []

    def work(i: int) -> None:
        try:
            results.append(str(lab.docker("network ls")))
        except LabError as exc:
            errors.append(exc)

    _in_threads(work)
    assert errors == [] and len(results) == 4
    assert len(set(results)) == 1
    assert sorted(n.name for n in lab.nodes()).count("docker-host") == 1


# --- soak: nothing piles up -------------------------------------------------------------------
@pytest.mark.skipif(os.environ.get("NETHELPERS_BACKEND") == "vm",
                    reason="the VM (QEMU) outlives its labs by design: test_vm.py checks its end")
def test_a_hundred_labs_opened_and_closed_leave_nothing_and_pile_nothing_up():
    """The short form of `python -m nethelpers bench-soak` (1,000 labs; README's numbers)."""
    from nethelpers import soak

    report = soak.soak(100)
    assert report["leftovers"] == []
    assert report["after"]["fds"] <= report["warm"]["fds"]
    assert report["after"]["rss_kib"] - report["warm"]["rss_kib"] < 8 * 1024, report
