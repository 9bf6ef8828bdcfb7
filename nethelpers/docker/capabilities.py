"""A container's Linux capabilities, as Docker gives them: ``--cap-add``, ``--cap-drop``, ``--privileged``.

Docker starts a container's processes with a fixed set of capabilities (moby v27.5.1
``oci/caps/defaults.go``, docker-v29.7.2 ``daemon/pkg/oci/caps/defaults.go``): no ``NET_ADMIN``,
so ``ip link set``, ``ip addr add`` and ``iptables`` fail inside a container unless it was run with
``--cap-add NET_ADMIN`` or ``--privileged``. The lab gives a container's processes (its command
and ``docker exec``'s) the same set: they run under ``setpriv`` (util-linux), which empties the
bounding and inheritable sets but for those capabilities, then executes the command itself.
"""

from __future__ import annotations

from .errors import DaemonError

# capability(7) names in the kernel's order (0 .. 40, Linux 5.9+); ALL of them is --privileged
KNOWN = ("CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID", "SETPCAP",
         "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER",
         "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
         "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP",
         "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF",
         "CHECKPOINT_RESTORE")
ALL_CAPS = tuple(f"CAP_{name}" for name in KNOWN)
# DefaultCapabilities(), in moby's order
DEFAULT = ("CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID",
           "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL",
           "CAP_AUDIT_WRITE")


def _canonical(cap: str) -> str:
    cap = cap.upper()
    return cap if cap == "ALL" or cap.startswith("CAP_") else "CAP_" + cap


def validate(cap_add: list[str], cap_drop: list[str]) -> None:
    """validateCapabilities (daemon/container.go) through NormalizeLegacyCapabilities: an unknown
    name is refused when the container is created."""
    for field, given in (("CapAdd", cap_add), ("CapDrop", cap_drop)):
        for cap in given:
            name = _canonical(cap)
            if name != "ALL" and name not in ALL_CAPS:
                raise DaemonError(f'invalid {field}: unknown capability: "{name}"')


def effective(cap_add: list[str], cap_drop: list[str], privileged: bool) -> list[str]:
    """TweakCapabilities: all with --privileged; else the defaults without the dropped, plus the
    added (ALL in --cap-add: all but the dropped; ALL in --cap-drop: only the added)."""
    if privileged:
        return list(ALL_CAPS)
    adds, drops = [_canonical(c) for c in cap_add], [_canonical(c) for c in cap_drop]
    if "ALL" in adds:
        return [c for c in ALL_CAPS if c not in drops]
    if "ALL" in drops:
        return adds
    return [c for c in DEFAULT if c not in drops] + [c for c in adds if c not in DEFAULT]


def as_sent(given: list[str], major: int) -> list[str] | None:
    """HostConfig.CapAdd/CapDrop as the CLI sent them: 29's client normalizes them (upper case,
    ``CAP_`` prefix, no repeats, sorted: moby docker-v29.7.2 client/container_create.go
    normalizeCapabilities); 27's sends them as typed. None when there are none."""
    if not given:
        return None
    if major >= 29:
        return sorted(dict.fromkeys(_canonical(c) for c in given))
    return list(given)


def confine(argv: list[str], caps: list[str]) -> list[str]:
    """``argv`` run with only ``caps`` (bounding set; inheritable and ambient emptied)."""
    if set(caps) >= set(ALL_CAPS):
        return list(argv)
    keep = "".join(f",+{c[len('CAP_'):].lower()}" for c in caps)
    return ["setpriv", "--inh-caps=-all", "--ambient-caps=-all", f"--bounding-set=-all{keep}", "--", *argv]
