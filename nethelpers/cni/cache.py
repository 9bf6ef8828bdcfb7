"""Cached ADD results inside the lab, keyed by (network, container ID, ifname), like libcni's.

libcni keeps ``/var/lib/cni/results/<network>-<container id>-<ifname>``; the lab keeps the
same files in its sandbox's private ``/run`` (``RESULTS_DIR``), so nothing stays on the machine.
Each file is libcni's ``cniCacheV1`` record (``cachedInfo``, containernetworking/cni v1.2.3
``libcni/api.go``): kind, containerId, the configuration list's bytes (base64, as Go encodes a
``[]byte``; the lab's are the list as compact JSON, libcni's the file's own bytes), ifName,
networkName, and, when not empty, netns, cniArgs (``[["K", "V"], ...]``), capabilityArgs and the
final result that CHECK and DEL receive as ``prevResult``.
"""

from __future__ import annotations

import base64
import json

RESULTS_DIR = "/run/nethelpers/cni/results"
KIND = "cniCacheV1"


def path(network: str, container_id: str, ifname: str) -> str:
    return f"{RESULTS_DIR}/{network}-{container_id}-{ifname}"


def record(*, container_id: str, config: dict, ifname: str, network: str, netns: str, cni_args: str,
           capability_args: dict, result: dict | None) -> dict:
    """An attachment's record, keyed and ordered as libcni's cachedInfo (omitempty kept)."""
    out = {"kind": KIND, "containerId": container_id,
           "config": base64.b64encode(json.dumps(config, separators=(",", ":")).encode()).decode(),
           "ifName": ifname, "networkName": network}
    if netns:
        out["netns"] = netns
    pairs = [pair.split("=", 1) for pair in cni_args.split(";")] if cni_args else []
    if pairs:
        out["cniArgs"] = pairs
    if capability_args:
        out["capabilityArgs"] = capability_args
    if result:
        out["result"] = result
    return out


def config_of(record: dict) -> dict:
    """The configuration list the record was made with (decoded from its base64 bytes)."""
    return json.loads(base64.b64decode(record["config"]))


def cni_args_of(record: dict) -> str:
    """The record's CNI_ARGS as the plugins get them ("K=V;K2=V2")."""
    return ";".join(f"{k}={v}" for k, v in record.get("cniArgs") or [])


def save(node, record: dict) -> None:
    """Write one attachment's record (through ``node``: the files live in the sandbox)."""
    target = path(record["networkName"], record["containerId"], record["ifName"])
    node.run(["sh", "-c", 'mkdir -p "$1" && umask 077 && cat > "$2"', "sh", RESULTS_DIR, target],
             input=json.dumps(record), check=True)


def load(node, network: str, container_id: str, ifname: str) -> dict | None:
    """The record of an attachment, or None when there is none."""
    reply = node.run(["cat", path(network, container_id, ifname)])
    if reply.rc != 0:
        return None
    try:
        record = json.loads(reply.stdout)
    except json.JSONDecodeError:
        return None
    return record if record.get("kind") == KIND else None


def remove(node, network: str, container_id: str, ifname: str) -> None:
    node.run(["rm", "-f", path(network, container_id, ifname)], check=True)


def attachments(node, network: str | None = None) -> list[dict]:
    """Every cached attachment (of ``network`` when given), oldest file name first."""
    script = f'for f in {RESULTS_DIR}/*; do [ -f "$f" ] && tr -d "\\n" < "$f" && echo; done; true'
    records = []
    for line in node.run(["sh", "-c", script], check=True).stdout.splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if record.get("kind") == KIND and network in (None, record.get("networkName")):
            records.append(record)
    return records
