"""Run a command, from root, under the restrictions of a mybinder.org user pod (Kubernetes + containerd).

Reproduced, each checked by ``tests/vm/test_binder_pod.py``:

* **user**: the given uid, its primary gid, supplementary groups = that gid only (``id`` as ``jovyan`` shows);
* **no capabilities**: effective, permitted, inheritable, bounding and ambient sets all empty; ``no_new_privs`` = 1;
* **seccomp**, the part of containerd's RuntimeDefault profile that matters to an unprivileged process (see
  ``SECCOMP_SOURCE``): EPERM for ``unshare``, ``setns``, ``mount``, ``umount2``, ``pivot_root`` and the new mount
  API, for ``clone`` with any ``CLONE_NEW*`` flag, for the other calls the profile leaves out although a user could
  make them (keys, ``userfaultfd``, ``io_uring``, ``bpf``, ``perf_event_open``, ``syslog``, ``AF_VSOCK`` sockets);
  ENOSYS for ``clone3`` (so glibc falls back to ``clone``); everything else allowed (threads, fork, exec);
* **/proc**: a fresh procfs in a PID namespace of its own; containerd's masked paths (``/proc/kcore``, ``/proc/keys``,
  ``/proc/timer_list``, … : ``/dev/null`` over files, an empty read-only tmpfs over directories) and read-only
  paths (``/proc/sys``, ``/proc/sysrq-trigger``, ``/proc/bus``, ``/proc/fs``, ``/proc/irq``);
* **/sys**: read-only, every mount under it too (cgroups included); ``/sys/firmware`` and
  ``/sys/devices/virtual/powercap`` masked;
* **/dev**: a container's: a tmpfs with ``null zero full random urandom tty``, a private ``devpts``, a 64 MB
  ``/dev/shm`` — no ``/dev/kvm``, ``/dev/net/tun``, ``/dev/fuse`` or disks (turn off with ``container_dev=False``).

Not reproduced:

* the image: the command sees this machine's filesystem (``/tmp`` included) and may write wherever the uid may;
* the pod's own network, UTS, IPC and cgroup namespaces: the network is this machine's (``/sys/class/net`` lists
  its interfaces), with no egress policy; no ``/dev/mqueue``;
* cgroup limits (mybinder.org's memory and CPU limits, pids), rlimits;
* AppArmor (containerd's ``cri-containerd.apparmor.d``) and the nodes' Ubuntu 24.04 user-namespace restriction
  (the filter refuses user namespaces anyway);
* the rest of the profile's allowlist: calls that work without privilege but are in no list (``personality`` with
  other flags, ``AF_ALG`` sockets, calls newer than the profile) are allowed here; 32-bit calls are not translated
  (x32 gets EPERM, i386 ``int 0x80`` kills the process), where the profile applies the same rules to them;
* PID 1: here a root process that set the pod up and only waits (the command is PID 2); in a pod, the user's own.
"""

from __future__ import annotations

import json
import os
import platform
import pwd
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass

SECCOMP_SOURCE = ("containerd/containerd contrib/seccomp/seccomp_default.go (DefaultProfile; commit 0c23e946a784, "
                  "2026-05-11), the profile the CRI plugin applies for Kubernetes' RuntimeDefault")

# containerd pkg/oci/spec.go populateDefaultUnixSpec: MaskedPaths and ReadonlyPaths (the kubelet sends the same).
MASKED_PATHS = ("/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/sys/devices/virtual/powercap",
                "/proc/scsi")
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# --- the seccomp filter (x86_64) -----------------------------------------------------------------------------
# containerd's DefaultProfile is an allowlist with DefaultAction ActErrno (EPERM). Without CAP_SYS_ADMIN in the
# bounding set (a Binder pod has no capability at all) it leaves out the namespace and mount calls — "bpf clone
# clone3 fanotify_init fsconfig fsmount fsopen fspick lookup_dcookie mount mount_setattr move_mount open_tree
# perf_event_open quotactl quotactl_fd setdomainname sethostname setns syslog umount umount2 unshare" are allowed
# only `case "CAP_SYS_ADMIN"` — and adds instead:
#   clone  allowed when (arg0 & (CLONE_NEWNS|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET|NEWCGROUP)) == 0  (OpMaskedEqual);
#   clone3 ActErrno with ErrnoRet ENOSYS ("clone3 is explicitly requested to give ENOSYS instead of the default
#          EPERM, when CAP_SYS_ADMIN is unset", moby/moby#42681), so that glibc falls back to clone.
# pivot_root, keyctl, add_key, request_key, userfaultfd and io_uring_* (removed 2023-11-02, a48ddf4a2) are in no
# list; socket is allowed for every family but AF_VSOCK (since 2022-10-11, 17a932403) and, since 2026-05-11,
# AF_ALG (not refused here: too new to be on Binder's nodes). Calls that fail anyway without capabilities (reboot,
# chroot, init_module, …) need no rule. Numbers: x86_64's asm/unistd_64.h.
X86_64 = {
    # namespaces and mounts (CAP_SYS_ADMIN only)
    "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155, "open_tree": 428,
    "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "mount_setattr": 442,
    "open_tree_attr": 467,
    # the other calls the profile leaves out although an unprivileged process could make them
    "add_key": 248, "request_key": 249, "keyctl": 250, "userfaultfd": 323, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "bpf": 321, "perf_event_open": 298, "syslog": 103,
}
NR_CLONE, NR_CLONE3, NR_SOCKET = 56, 435, 41
CLONE_NEW_FLAGS = (0x00020000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
                   | 0x02000000)  # NEWNS NEWUTS NEWIPC NEWUSER NEWPID NEWNET NEWCGROUP
AF_VSOCK = 40
AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
EPERM, ENOSYS = 1, 38


def seccomp_program() -> bytes:
    """The classic-BPF seccomp filter, as ``struct sock_filter`` bytes for ``PR_SET_SECCOMP``."""
    ld_w_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, errno, kill = 0x7FFF0000, 0x00050000, 0x80000000  # SECCOMP_RET_ALLOW, _ERRNO, _KILL_PROCESS
    nr, arch, arg0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low 32 bits: little-endian)
    code = [  # (opcode, jump if true, jump if false, k); a jump is a label or 0 (the next instruction)
        (ld_w_abs, 0, 0, arch),
        (jeq, 0, "kill", AUDIT_ARCH_X86_64),       # i386 int 0x80 would bypass x86_64 numbers
        (ld_w_abs, 0, 0, nr),
        (jge, "eperm", 0, X32_SYSCALL_BIT),        # x32 likewise
        *((jeq, "eperm", 0, number) for number in X86_64.values()),
        (jeq, "clone", 0, NR_CLONE),
        (jeq, "enosys", 0, NR_CLONE3),
        (jeq, "socket", 0, NR_SOCKET),
        (ret, 0, 0, allow),
        "clone", (ld_w_abs, 0, 0, arg0), (jset, "eperm", "allow", CLONE_NEW_FLAGS),
        "socket", (ld_w_abs, 0, 0, arg0), (jeq, "eperm", "allow", AF_VSOCK),
        "allow", (ret, 0, 0, allow),
        "eperm", (ret, 0, 0, errno | EPERM),
        "enosys", (ret, 0, 0, errno | ENOSYS),
        "kill", (ret, 0, 0, kill),
    ]
    labels, program = {}, []
    for item in code:
        if isinstance(item, str):
            labels[item] = len(program)
        else:
            program.append(item)
    out = b""
    for i, (op, jt, jf, k) in enumerate(program):
        jt, jf = (labels[j] - i - 1 if isinstance(j, str) else j for j in (jt, jf))
        out += struct.pack("HBBI", op, jt, jf, k)
    return out


# --- the pod's PID 1 (root, in the new mount and PID namespaces) ---------------------------------------------
# unshare(1) has made / private and mounted a fresh /proc; this sets the rest up as runc would for containerd's
# spec, forks the command (seccomp filter installed, then setpriv drops to the user, then env chdirs as the user)
# and waits for it. When it exits, the kernel kills whatever is left in the namespace; when unshare dies (a
# timeout), --kill-child kills PID 1 and with it the whole pod.
_POD_INIT = r"""
import ctypes, json, os, stat, struct, sys
cfg = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC = 1, 2, 4, 8, 0x1000, 0x4000

def fail(what):
    err = ctypes.get_errno()
    sys.stderr.write(f"binder_pod: {what}: {os.strerror(err)}\n")
    os._exit(125)

def mount(source, target, fstype, flags, data=None):
    enc = lambda s: s.encode() if s is not None else None
    if libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)) != 0:
        fail(f"mount {target}")

def read_only(path, recursive=False):
    attr = struct.pack("QQQQ", 1, 0, 0, 0)  # struct mount_attr: attr_set = MOUNT_ATTR_RDONLY
    flags = 0x8000 if recursive else 0      # AT_RECURSIVE
    if libc.syscall(442, -100, path.encode(), flags, attr, len(attr)) != 0:  # mount_setattr(AT_FDCWD, ...)
        fail(f"read-only {path}")

for path in cfg["readonly"]:
    if os.path.exists(path):
        mount(path, path, None, MS_BIND | MS_REC)
        read_only(path, recursive=True)
for path in cfg["masked"]:
    if os.path.isdir(path):
        mount("tmpfs", path, "tmpfs", MS_RDONLY)
    elif os.path.exists(path):
        mount("/dev/null", path, None, MS_BIND)
read_only("/sys", recursive=True)
if cfg["container_dev"]:
    mount("tmpfs", "/dev", "tmpfs", MS_NOSUID, "mode=755,size=65536k")
    for name, major, minor in (("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8),
                               ("urandom", 1, 9), ("tty", 5, 0)):
        os.mknod(f"/dev/{name}", stat.S_IFCHR | 0o666, os.makedev(major, minor))
        os.chmod(f"/dev/{name}", 0o666)
    os.mkdir("/dev/pts")
    mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5")
    os.mkdir("/dev/shm")
    mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=1777,size=65536k")
    for link, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")):
        os.symlink(target, f"/dev/{link}")

pid = os.fork()
if pid == 0:
    # The filter goes on while still root, so that no interpreter need be readable by the user; setpriv's own
    # calls (setresuid, setgroups, capset, prctl) are all allowed by it, and it is in force from the exec on.
    program = bytes.fromhex(cfg["seccomp"])
    filters = ctypes.create_string_buffer(program)
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxP", len(program) // 8, ctypes.addressof(filters)))
    if libc.prctl(22, 2, fprog, 0, 0) != 0:  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER
        fail("seccomp")
    try:
        os.execv(cfg["argv"][0], cfg["argv"])
    except OSError as e:
        sys.stderr.write(f"binder_pod: {cfg['argv'][0]}: {e}\n")
        os._exit(125)
while True:
    try:
        done, status = os.wait()
    except ChildProcessError:
        sys.exit(125)
    if done == pid:
        code = os.waitstatus_to_exitcode(status)
        sys.exit(code if code >= 0 else 128 - code)
"""


# --- users ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class User:
    name: str
    uid: int
    gid: int
    home: str


def user_of(uid: int) -> User:
    """The passwd entry of ``uid`` (or a nameless user: gid = uid, home /)."""
    try:
        entry = pwd.getpwuid(uid)
        return User(entry.pw_name, uid, entry.pw_gid, entry.pw_dir)
    except KeyError:
        return User(str(uid), uid, uid, "/")


def learner(name: str = "learner") -> User:
    """A non-root user with a home, created with ``useradd`` if missing (CI's ``.ci/run`` uses the same one)."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        # Another test worker may be creating it at the same moment: whoever loses looks it up again.
        subprocess.run(["useradd", "--create-home", "--home-dir", f"/home/{name}", "--shell", "/bin/bash", name],
                       check=False, capture_output=True, timeout=30)
        entry = pwd.getpwnam(name)
    return User(name, entry.pw_uid, entry.pw_gid, entry.pw_dir)


def pod_env(user: User) -> dict[str, str]:
    """A bare login environment for ``user``, as ``.ci/run`` gives its learner run."""
    return {"HOME": user.home, "USER": user.name, "LOGNAME": user.name, "SHELL": "/bin/bash",
            "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}


# --- running --------------------------------------------------------------------------------------------------
TOOLS = ("unshare", "setpriv", "env")


def unsupported() -> str | None:
    """Why the harness cannot run here, or None."""
    if platform.machine() != "x86_64":
        return f"the Binder-pod seccomp filter knows x86_64's system call numbers only, not {platform.machine()}'s"
    if os.geteuid() != 0:
        return "the Binder-pod harness needs root to set up the pod's mounts and then drop to its user"
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        return f"the Binder-pod harness needs {', '.join(missing)} (util-linux, coreutils)"
    return None


def pod_command(argv: list[str], *, uid: int, gid: int | None = None, cwd: str | None = None,
                container_dev: bool = True) -> list[str]:
    """The command line that runs ``argv`` in a pod as ``uid`` (primary group ``gid``, default its passwd one),
    in ``cwd`` (default the user's home), entered as the user."""
    user = user_of(uid)
    gid = user.gid if gid is None else gid
    unshare, setpriv, env = (shutil.which(tool) for tool in TOOLS)
    inside = [setpriv, f"--reuid={uid}", f"--regid={gid}", f"--groups={gid}", "--inh-caps=-all",
              "--ambient-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
              env, f"--chdir={cwd or user.home}", "--", *argv]
    cfg = {"argv": inside, "seccomp": seccomp_program().hex(), "masked": MASKED_PATHS,
           "readonly": READONLY_PATHS, "container_dev": container_dev}
    return [unshare, "--mount", "--propagation=private", "--pid", "--fork", "--kill-child", "--mount-proc",
            sys.executable, "-I", "-S", "-c", _POD_INIT, json.dumps(cfg)]


def run_in_binder_pod(argv: list[str], *, uid: int | None = None, gid: int | None = None,
                      env: dict[str, str] | None = None, cwd: str | None = None, timeout: float = 60,
                      input: str | bytes | None = None, capture_output: bool = True, text: bool = True,
                      container_dev: bool = True) -> subprocess.CompletedProcess:
    """Run ``argv`` as on a Binder pod and wait for it (at most ``timeout`` seconds).

    Args:
        argv: the command; ``argv[0]`` is looked up in ``env``'s PATH, as the user.
        uid: the pod's user (default: ``learner()``, created if missing); gid: its group (default: passwd's).
        env: the whole environment (default: ``pod_env`` of the user); cwd: default the user's home.
    Returns:
        the CompletedProcess; exit status 125 with ``binder_pod: …`` or ``env: …`` on stderr when the pod could not
        be entered (e.g. ``cwd`` not reachable by the user).
    Raises:
        subprocess.TimeoutExpired: after ``timeout``; every process of the pod has been killed.
    """
    if uid is None:
        uid = learner().uid
    env = pod_env(user_of(uid)) if env is None else env
    return subprocess.run(pod_command(argv, uid=uid, gid=gid, cwd=cwd, container_dev=container_dev), env=env,
                          check=False, input=input, stdin=subprocess.DEVNULL if input is None else None,
                          capture_output=capture_output, text=text, timeout=timeout)


def popen_in_binder_pod(argv: list[str], *, uid: int | None = None, gid: int | None = None,
                        env: dict[str, str] | None = None, cwd: str | None = None, container_dev: bool = True,
                        **popen_kwargs) -> subprocess.Popen:
    """Start ``argv`` as on a Binder pod (arguments as ``run_in_binder_pod``, plus Popen's).

    ``kill()`` ends the whole pod (unshare dies, its PID 1 with it, then every process in it); ``terminate()``
    does not: unshare blocks SIGTERM while it waits.
    """
    if uid is None:
        uid = learner().uid
    env = pod_env(user_of(uid)) if env is None else env
    popen_kwargs.setdefault("stdin", subprocess.DEVNULL)
    return subprocess.Popen(pod_command(argv, uid=uid, gid=gid, cwd=cwd, container_dev=container_dev), env=env,
                            **popen_kwargs)
