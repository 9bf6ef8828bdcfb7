"""What a topology picture shows of a ``lab.snapshot()``: every link end, what it is wired to
and its label (name, addresses); the VXLAN tunnels the FDB knows.
"""

from __future__ import annotations

from ..errors import NotFound


def only(snapshot: dict, nodes: list[str]) -> dict:
    """The part of ``snapshot`` that shows ``nodes`` and what they contain (a host and its
    containers). Bridge ports cabled to nodes left out are left out; other such ends (an
    uplink like eth0, the parent of macvlans) stay, drawn without their cable."""
    keep, parent_of = set(nodes), {name: s.get("parent") for name, s in snapshot.items()}
    for name in nodes:
        if name not in snapshot:
            raise NotFound(f"there is no node {name!r} to draw (nodes: {', '.join(snapshot)})")
    for name in snapshot:
        ancestor = parent_of[name]
        while ancestor is not None and name not in keep:
            if ancestor in keep:
                keep.add(name)
            ancestor = parent_of.get(ancestor)
    kept = {name: dict(s, links=[dict(link) for link in s["links"]
                                 if link.get("peer_node") in (None, *keep) or not link.get("master")])
            for name, s in snapshot.items() if name in keep}
    for s in kept.values():
        for link in s["links"]:
            if link.get("peer_node") not in (None, *keep):
                link["peer_node"] = link["peer"] = None
    return kept


def _ends(snapshot: dict) -> dict:
    """(node, ifname) -> (kind, target, label lines, master) for every link but loopback; the
    target is the (node, ifname) wired to: a veth's peer, a macvlan's parent, a vxlan's
    underlay device (found by its local address), or None."""
    ends = {}
    for name in sorted(snapshot):
        snap = snapshot[name]
        owner = {a["address"].split("/")[0]: a["dev"] for a in snap["addresses"]}
        for link in snap["links"]:
            kind, ifname = link["kind"], link["name"]
            if kind == "loopback":
                continue
            target = None
            if link.get("peer_node") in snapshot and link.get("peer"):
                target = (link["peer_node"], link["peer"])
            elif kind in ("veth", "macvlan", "vxlan") and link.get("link"):  # lower link, same node
                target = (name, link["link"])
            elif kind == "vxlan" and owner.get(link.get("local")):
                target = (name, owner[link["local"]])
            elif kind == "vxlan" and link.get("peer_node") in snapshot:  # made in another node (Docker's
                target = _uplink(snapshot[link["peer_node"]], link["peer_node"])  # vxlan0): its way out
            lines = [ifname + {"vxlan": f" VNI {link.get('vni')}",
                               "macvlan": f" macvlan {link.get('mode') or ''}".rstrip(),
                               "bridge": f" ({link['network']})" if link.get("network") not in (None, ifname)
                               else ""}.get(kind, "")]
            if kind == "vxlan" and link.get("remote"):
                lines.append(f"remote {link['remote']}")
            mine = sorted((a["family"] != "inet", a["address"]) for a in snap["addresses"]
                          if a["dev"] == ifname and not a["address"].startswith("fe80"))
            lines += [address for _, address in mine]
            ends[(name, ifname)] = (kind, target, lines, link.get("master"))
    return ends


def _uplink(snap: dict, node: str) -> tuple | None:
    """(node, the interface of its default route): where a vxlan made there sends its packets."""
    dev = next((r["dev"] for r in snap["routes"] if r["dst"] == "default" and r.get("dev")), None)
    return (node, dev) if dev else None


def _tunnels(snapshot: dict) -> list[tuple]:
    """VXLAN tunnels as the FDB sees them: (vxlan end, vxlan end at the far host, VNI), one per
    pair — from every ``bridge fdb`` entry with a ``dst`` to an address a node of the picture has."""
    host_of = {a["address"].split("/")[0]: n for n, s in snapshot.items() for a in s["addresses"]}
    vxlans = {}  # (node whose socket it uses, VNI) -> the vxlan's end
    for name, snap in snapshot.items():
        for link in snap["links"]:
            if link["kind"] == "vxlan":
                vxlans[(link.get("peer_node") or name, link.get("vni"))] = (name, link["name"])
    tunnels = set()
    for (home, vni), end in vxlans.items():
        for entry in snapshot[end[0]].get("fdb", []):
            far = vxlans.get((host_of.get(entry.get("dst")), vni))
            if entry["dev"] == end[1] and far and far != end:
                tunnels.add((min(end, far), max(end, far), vni))
    return sorted(tunnels)
