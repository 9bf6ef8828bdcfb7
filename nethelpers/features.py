"""Kernel features a lab can ask for: ``Lab(needs=["ipvlan"])``.

Kernels differ (this course's own CI machine has no ipvlan, vlan or dummy link type; the VM
backend's Debian kernel has them all). A feature is tried for real, once, in a throwaway node
of the new lab: the command a learner would type, on a bridge ``p0`` as the parent. The doctor
(:mod:`nethelpers.doctor`) tries the same commands for its report.
"""

from __future__ import annotations

from .errors import InvalidValue, LabError

PROBE_NODE = "features-probe"
# feature -> the command that needs it ({name}: the new link; {parent}: an interface to hang it off)
COMMANDS = {
    "ipvlan": "ip link add {name} link {parent} type ipvlan mode l2",
    "vlan": "ip link add link {parent} name {parent}.5 type vlan id 5",
    "dummy": "ip link add {name} type dummy",
    "vrf": "ip link add {name} type vrf table 10",
    "geneve": "ip link add {name} type geneve id 5 remote 192.0.2.1",
    "macvlan": "ip link add {name} link {parent} type macvlan mode bridge",
    "vxlan": "ip link add {name} type vxlan id 42 dstport 4789",
}
# link type -> the kernel module that provides it, where their names differ
MODULES = {"vlan": "8021q"}


def module_of(kind: str) -> str:
    """The kernel module behind link type ``kind`` (for messages and the doctor's fixes)."""
    return MODULES.get(kind, kind)


def checked(needs) -> tuple[str, ...]:
    """``needs`` as a tuple of known feature names, or InvalidValue naming the known ones."""
    if isinstance(needs, str):
        needs = [needs]
    try:
        names = tuple(needs)
    except TypeError:
        raise InvalidValue(f"needs={needs!r} must be a list of kernel features, e.g. needs=['ipvlan']") from None
    unknown = [n for n in names if n not in COMMANDS]
    if unknown:
        raise InvalidValue(f"needs: {', '.join(map(repr, unknown))} is not a kernel feature the lab can check; "
                           f"it knows {', '.join(COMMANDS)}")
    return names


def missing(lab, needs: tuple[str, ...]) -> list[str]:
    """Those of ``needs`` this lab's kernel refuses, tried in a throwaway node (then removed)."""
    if not needs:
        return []
    probe = lab.add_node(PROBE_NODE)
    try:
        probe.add_bridge("p0")
        return [feature for index, feature in enumerate(needs)
                if not probe.run(COMMANDS[feature].format(name=f"t{index}", parent="p0")).ok]
    finally:
        try:
            lab.remove_node(PROBE_NODE)
        except LabError:
            pass


def listed(names: list[str]) -> str:
    """'ipvlan' / 'ipvlan and vlan' link types, for messages."""
    words = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
    return f"{words} link type{'s' if len(names) > 1 else ''}"


BRIDGE_NF_CALL_IPTABLES = "/proc/sys/net/bridge/bridge-nf-call-iptables"


def bridge_netfilter(lab, node) -> bool:
    """Can bridged packets cross iptables in ``node`` (the ``br_netfilter`` module)? Where it is not
    loaded, the lab loads it only into its own VM's kernel (``lab.load_module``), never this machine's."""
    if node.run(["test", "-e", BRIDGE_NF_CALL_IPTABLES]).rc == 0:
        return True
    return lab.load_module("br_netfilter") and node.run(["test", "-e", BRIDGE_NF_CALL_IPTABLES]).rc == 0
