"""The attachment parameters a runtime checks before any plugin runs, with libcni's words."""

from __future__ import annotations

from .errors import CNIError


def check_ifname(ifname) -> None:
    """libcni ValidateInterfaceName: not empty, < 16 characters, not . or .., no / : or spaces."""
    problem = None
    if not isinstance(ifname, str) or not ifname:
        problem = "interface name is empty"
    elif len(ifname) > 15:
        problem = "interface name is too long"
    elif ifname in (".", ".."):
        problem = "interface name is . or .."
    elif any(c in "/:" or c.isspace() for c in ifname):
        problem = "interface name contains / or : or whitespace characters"
    if problem:
        raise CNIError(4, problem, repr(ifname), fix="use a name like eth0 or net1 (at most 15 characters)")


def cni_args(args) -> str:
    """CNI_ARGS as "K=V;K2=V2" from a dict or that text (each pair checked, as cnitool does)."""
    if not args:
        return ""
    pairs = list(args.items()) if isinstance(args, dict) else [p.split("=", 1) for p in str(args).split(";")]
    for pair in pairs:
        if len(pair) != 2 or not str(pair[0]) or not str(pair[1]) or any(c in str(x) for x in pair for c in ";="):
            raise CNIError(4, "invalid CNI_ARGS pair", "=".join(map(str, pair)),
                           fix='give CNI_ARGS as {"K": "V"} or "K=V;K2=V2"')
    return ";".join(f"{k}={v}" for k, v in pairs)


def attachment_ref(item) -> dict:
    """A GC "valid attachment" as the spec writes it: {"containerID": ..., "ifname": ...}."""
    if isinstance(item, dict) and {"containerID", "ifname"} <= item.keys():
        return {"containerID": item["containerID"], "ifname": item["ifname"]}
    if isinstance(item, (tuple, list)) and len(item) == 2:
        return {"containerID": str(item[0]), "ifname": str(item[1])}
    raise CNIError(7, "invalid valid attachment", repr(item),
                   fix='give (container ID, ifname) pairs or {"containerID": ..., "ifname": ...}')
