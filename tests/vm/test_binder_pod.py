"""The Binder-pod harness (``binder_pod.py``) really imposes each restriction it claims, and nothing leaks out.

One probe runs inside the pod and reports what it can and cannot do; the same probe runs as the same user
without the harness (``setpriv`` alone: no capabilities, no_new_privs, no filter, no mounts) as a control, so
that every refusal the pod shows is proved to be the harness's doing and not this machine's.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess

import pytest

import binder_pod
from waiting import wait_until

REASON = binder_pod.unsupported()
PYTHON = shutil.which("python3", path="/usr/bin:/bin")  # Debian's: readable by any user, unlike root's pyenv
if REASON is None and PYTHON is None:
    REASON = "the probe needs /usr/bin/python3, which any user can run"
if REASON is not None:
    pytest.skip(REASON, allow_module_level=True)

PROBE = r"""
import ctypes, json, os, socket, stat, subprocess, threading
libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNET, SIGCHLD = 0x10000000, 0x40000000, 17

def errno_of(call):
    try:
        result = call()
    except OSError as e:
        return e.errno
    return ctypes.get_errno() if isinstance(result, int) and result < 0 else 0

def in_child(call):  # a call that might succeed and change this process (a namespace) runs in a child
    pid = os.fork()
    if pid == 0:
        os._exit(errno_of(call))
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])

def raw_clone(flags):
    pid = libc.syscall(56, ctypes.c_ulong(flags | SIGCHLD), None, None, None, None)
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return pid

def run(*argv):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    return [done.returncode, done.stdout.strip(), done.stderr.strip()]

def masked(path):
    if not os.path.lexists(path):
        return None
    st = os.stat(path)
    if stat.S_ISDIR(st.st_mode):
        return ["dir", os.listdir(path)]
    try:
        with open(path, "rb") as f:
            content = len(f.read())
    except OSError as e:
        content = e.errno
    return ["chr 1:3" if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3) else "file", content]

def mounts():
    found = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            found[fields[4]] = [fields[5], fields[fields.index("-") + 1]]  # per-mount options, fs type
    return found

status = {}
with open("/proc/self/status") as f:
    for line in f:
        key, _, value = line.partition(":")
        status[key] = value.strip()

threaded = []
worker = threading.Thread(target=lambda: threaded.append(run("id", "-u")))
worker.start()
worker.join(20)
child = os.fork()
if child == 0:
    os._exit(7)

print(json.dumps({
    "status": status, "resuid": os.getresuid(), "resgid": os.getresgid(), "groups": os.getgroups(),
    "id": run("id", "-u"), "cwd": os.getcwd(), "home": os.environ.get("HOME"),
    "thread": threaded, "fork": os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]),
    "unshare_net_cmd": run("unshare", "-n", "true"), "unshare_user_cmd": run("unshare", "-U", "true"),
    "unshare_user": in_child(lambda: libc.unshare(CLONE_NEWUSER)),
    "clone_newuser": in_child(lambda: raw_clone(CLONE_NEWUSER)),
    "clone_newnet": in_child(lambda: raw_clone(CLONE_NEWNET)),
    "clone_plain": in_child(lambda: raw_clone(0)),
    "clone3": errno_of(lambda: libc.syscall(435, None, 0)),               # no filter: EINVAL (size 0)
    "setns": errno_of(lambda: libc.setns(-1, 0)),                         # no filter: EBADF
    "mount": errno_of(lambda: libc.mount(b"none", b"/nonexistent-pod-probe", b"tmpfs", 0, None)),  # ENOENT
    "umount2": errno_of(lambda: libc.umount2(b"/nonexistent-pod-probe", 0)),                       # ENOENT
    "pivot_root": errno_of(lambda: libc.syscall(155, b"/nonexistent", b"/nonexistent")),
    "keyctl": errno_of(lambda: libc.syscall(250, 0, -3, 0)),  # KEYCTL_GET_KEYRING_ID of the session keyring
    "io_uring_setup": errno_of(lambda: libc.syscall(425, 1, None)),       # no filter: EFAULT
    "vsock": errno_of(lambda: socket.socket(40, socket.SOCK_STREAM).close()),
    "proc_sys_utime": errno_of(lambda: os.utime("/proc/sys/kernel/hostname")),
    "proc_sys_open_write": errno_of(lambda: os.open("/proc/sys/kernel/hostname", os.O_WRONLY)),
    "sys_create": errno_of(lambda: os.open("/sys/pod-probe", os.O_CREAT | os.O_WRONLY)),
    "cgroup_create": errno_of(lambda: os.open("/sys/fs/cgroup/pod-probe", os.O_CREAT | os.O_WRONLY)),
    "masked": {path: masked(path) for path in %(masked)r},
    "mounts": mounts(), "dev": sorted(os.listdir("/dev")),
}))
""" % {"masked": binder_pod.MASKED_PATHS}


def host_state() -> dict:
    """What the pod's set-up could change on this machine if it leaked: its mounts and a few kernel values."""
    with open("/proc/self/mountinfo") as f:
        mounts = sorted(" ".join(line.split()[3:]) for line in f
                        if line.split()[4].startswith(("/proc", "/sys", "/dev")))
    values = {}
    for path in ("/proc/sys/kernel/hostname", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/user/max_user_namespaces"):
        with open(path) as f:
            values[path] = f.read()
    masked = {path: os.stat(path).st_rdev for path in binder_pod.MASKED_PATHS if os.path.exists(path)}
    return {"mounts": mounts, "values": values, "masked": masked, "dev": sorted(os.listdir("/dev"))}


@pytest.fixture(scope="module")
def user():
    return binder_pod.learner()


@pytest.fixture(scope="module")
def host_before():
    return host_state()


@pytest.fixture(scope="module")
def pod(user, host_before):
    done = binder_pod.run_in_binder_pod([PYTHON, "-I", "-c", PROBE], uid=user.uid, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def control(user):
    """The same probe, same user, no capabilities and no_new_privs, but neither the filter nor the mounts."""
    done = subprocess.run(["setpriv", f"--reuid={user.uid}", f"--regid={user.gid}", f"--groups={user.gid}",
                           "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
                           PYTHON, "-I", "-c", PROBE], cwd=user.home, env=binder_pod.pod_env(user),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_runs_as_the_user_with_its_group_only(pod, user):
    assert pod["id"] == [0, str(user.uid), ""]
    assert pod["resuid"] == [user.uid] * 3 and pod["resgid"] == [user.gid] * 3
    assert pod["groups"] == [user.gid]
    assert pod["cwd"] == user.home and pod["home"] == user.home


def test_no_capabilities_no_new_privs_and_a_seccomp_filter(pod):
    status = pod["status"]
    for caps in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert status[caps] == "0000000000000000", (caps, status[caps])
    assert status["NoNewPrivs"] == "1"
    assert status["Seccomp"] == "2" and status["Seccomp_filters"] == "1"


def test_user_namespaces_are_refused_though_this_machine_allows_them(pod, control):
    assert pod["unshare_user"] == errno.EPERM
    assert pod["clone_newuser"] == errno.EPERM
    assert pod["unshare_user_cmd"][0] != 0 and "Operation not permitted" in pod["unshare_user_cmd"][2]
    if control["unshare_user"] != 0:
        pytest.skip(f"this machine refuses user namespaces itself (errno {control['unshare_user']}): "
                    "the pod's refusal proves nothing more")
    assert control["clone_newuser"] == 0 and control["unshare_user_cmd"][0] == 0


def test_unshare_n_fails(pod):
    assert pod["unshare_net_cmd"][0] == 1
    assert pod["unshare_net_cmd"][2] == "unshare: unshare failed: Operation not permitted"
    assert pod["clone_newnet"] == errno.EPERM


def test_the_filter_answers_before_the_kernel_looks(pod, control):
    # Arguments the kernel rejects on its own with another errno: EPERM can only be the filter's.
    assert (pod["setns"], control["setns"]) == (errno.EPERM, errno.EBADF)
    assert (pod["mount"], control["mount"]) == (errno.EPERM, errno.ENOENT)
    assert (pod["umount2"], control["umount2"]) == (errno.EPERM, errno.ENOENT)
    assert (pod["clone3"], control["clone3"]) == (errno.ENOSYS, errno.EINVAL)
    assert pod["pivot_root"] == errno.EPERM  # the kernel says EPERM too without CAP_SYS_ADMIN
    assert pod["keyctl"] == errno.EPERM and control["keyctl"] != errno.EPERM
    assert pod["io_uring_setup"] == errno.EPERM
    assert pod["vsock"] == errno.EPERM


def test_threads_fork_and_exec_still_work(pod, user):
    assert pod["thread"] == [[0, str(user.uid), ""]]  # a thread that ran a subprocess (clone3 -> clone)
    assert pod["fork"] == 7
    assert pod["clone_plain"] == 0


def test_proc_sys_is_read_only(pod, control):
    assert pod["mounts"]["/proc/sys"][0].split(",")[0] == "ro"
    assert (pod["proc_sys_utime"], control["proc_sys_utime"]) == (errno.EROFS, errno.EACCES)
    # Opening a sysctl for writing is refused by its mode first, to a non-root user, in a pod as here.
    assert pod["proc_sys_open_write"] == errno.EACCES
    for path in binder_pod.READONLY_PATHS:
        if os.path.exists(path):
            assert pod["mounts"][path][0].split(",")[0] == "ro", path


def test_sys_is_read_only_with_every_mount_under_it(pod, control):
    under_sys = {p: m for p, m in pod["mounts"].items() if p == "/sys" or p.startswith("/sys/")}
    assert len(under_sys) > 1
    assert all(options.split(",")[0] == "ro" for options, _ in under_sys.values()), under_sys
    assert (pod["sys_create"], control["sys_create"]) == (errno.EROFS, errno.EACCES)
    if "/sys/fs/cgroup" in under_sys:
        assert pod["cgroup_create"] == errno.EROFS


def test_masked_paths_are_empty(pod, control):
    files = dirs = 0
    for path, seen in pod["masked"].items():
        if seen is None:
            assert control["masked"][path] is None, path
        elif seen[0] == "dir":
            dirs += 1
            options, fstype = pod["mounts"][path]
            assert seen[1] == [] and options.startswith("ro,") and fstype == "tmpfs", (path, seen, options)
        else:
            files += 1
            assert seen == ["chr 1:3", 0], (path, seen)  # /dev/null over it: reads empty
            assert control["masked"][path][0] == "file", path
    assert files and dirs, pod["masked"]


def test_dev_is_a_containers(pod):
    assert pod["dev"] == ["core", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
                          "stdout", "tty", "urandom", "zero"]
    assert pod["mounts"]["/dev"][1] == "tmpfs" and pod["mounts"]["/dev/shm"][1] == "tmpfs"


def test_the_machine_is_untouched(pod, control, host_before):
    after = host_state()
    assert after == host_before
    host_sys = [m.split()[2] for m in host_before["mounts"] if m.split()[1] == "/sys"]
    assert host_sys and host_sys[0].startswith("rw"), host_sys  # the machine's own view, not the pod's
    assert pod["mounts"]["/sys"][0] != control["mounts"]["/sys"][0]


def test_chdir_is_done_as_the_user(user):
    done = binder_pod.run_in_binder_pod(["true"], uid=user.uid, cwd="/root", timeout=20)
    assert done.returncode == 125
    assert "/root" in done.stderr and "Permission denied" in done.stderr


def holders(token: str) -> list[bytes]:
    """The command lines of the processes on this machine that have ``token`` in theirs."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if token.encode() in cmdline:
            found.append(cmdline)
    return found


def test_a_timeout_kills_every_process_of_the_pod(user):
    token = f"{1000 + random.random():.6f}"  # `sleep 1000.123456`: a command line found nowhere else
    with pytest.raises(subprocess.TimeoutExpired):
        binder_pod.run_in_binder_pod(["sh", "-c", f"sleep {token} & sleep {token}; wait"], uid=user.uid,
                                     timeout=1)
    wait_until(lambda: not holders(token), timeout=5)


def test_killing_a_started_pod_kills_every_process_of_it(user):
    token = f"{1000 + random.random():.6f}"
    pod = binder_pod.popen_in_binder_pod(["sh", "-c", f"sleep {token} & sleep {token}; wait"], uid=user.uid)
    sleeping = f"sleep\0{token}\0".encode()
    wait_until(lambda: holders(token).count(sleeping) == 2, timeout=5)
    pod.kill()
    pod.wait(timeout=5)
    wait_until(lambda: not holders(token), timeout=5)
