"""The shell commands a lab operation stands for: what ``with lab.explain():`` prints.

Each of the lab's operations (``lab.add_node``, ``lab.add_veth``, ``Node.add_address``, ...)
does in one netlink request what a learner would type as ``ip``, ``bridge`` and ``sysctl``
commands on a real machine; :func:`commands` gives those commands, and :func:`render` writes
them as a shell session in the machine the node belongs to: a node inside another (``app1``
in ``myhost``) is reached with ``ip netns exec app1 ...`` from its parent's prompt, and what
concerns no node (``ip netns add`` of a machine of its own) has the prompt ``lab#``.

Two things the lab does that the commands leave out: it gives each interface a MAC address
derived from its name (the kernel would pick a random one), and it turns IPv6 off in its
nodes (deterministic output: no link-local addresses); neither changes what is taught.
"""

from __future__ import annotations

SHORT = {"macvlan": "mv", "ipvlan": "iv", "vlan": "vl"}  # a temporary name's prefix, per kind
MACHINE = "lab"  # the prompt of commands run outside every node: the lab's own machine


def _on_off(flag: bool | None) -> list[str]:
    return [] if flag is None else ["up" if flag else "down"]


def _link_add(name: str, kind: str, *options: str, link: str | None = None, mtu=None,
              before_type: tuple[str, ...] = ()) -> str:
    words = ["ip", "link", "add", name]
    if link:
        words += ["link", link]
    if mtu:
        words += ["mtu", str(mtu)]
    words += before_type
    return " ".join([*words, "type", kind, *options])


def _up(name: str, up: bool) -> list[str]:
    return [f"ip link set {name} up"] if up else []


def _route(verb: str, kw: dict) -> str:
    words = ["ip", "route", verb, kw["dst"]]
    if kw.get("via"):
        words += ["via", kw["via"]]
    if kw.get("dev"):
        words += ["dev", kw["dev"]]
    if kw.get("table", 254) != 254:
        words += ["table", str(kw["table"])]
    return " ".join(words)


def _fdb(verb: str, kw: dict) -> str:
    words = ["bridge", "fdb", verb, kw["mac"], "dev", kw["dev"]]
    if kw.get("dst"):
        words += ["dst", kw["dst"]]
    if kw.get("vni") is not None:
        words += ["vni", str(kw["vni"])]
    if kw.get("master"):
        words.append("master")
    return " ".join(words)


def commands(op: str, kw: dict) -> list[tuple[str | None, str]]:
    """(node the command runs in, command) for one operation; node None: the lab's machine."""
    node = kw.get("node")
    if op == "add_node":
        return [(kw.get("parent"), f"ip netns add {kw['name']}"), (kw["name"], "ip link set lo up")]
    if op == "remove_nodes":
        return [(None, f"ip netns delete {name}") for name in kw["names"]]
    if op == "add_veth":  # the peer's own options follow its name (ip-link(8): veth)
        peer = f"peer name {kw['peer_name']}"
        if kw.get("peer_mac"):
            peer += f" address {kw['peer_mac']}"
        if kw.get("mtu"):
            peer += f" mtu {kw['mtu']}"
        if kw["peer_node"] != node:
            peer += f" netns {kw['peer_node']}"
        mac = ("address", kw["mac"]) if kw.get("mac") else ()
        out = [(node, _link_add(kw["name"], "veth", peer, mtu=kw.get("mtu"), before_type=mac))]
        if kw.get("master"):
            out.append((node, f"ip link set {kw['name']} master {kw['master']}"))
        if kw.get("up", True):
            out += [(node, f"ip link set {kw['name']} up"), (kw["peer_node"], f"ip link set {kw['peer_name']} up")]
        return out
    if op in ("add_bridge", "add_link"):
        kind = "bridge" if op == "add_bridge" else kw["kind"]
        out = [(node, _link_add(kw["name"], kind, mtu=kw.get("mtu")))]
        if kw.get("master"):
            out.append((node, f"ip link set {kw['name']} master {kw['master']}"))
        return out + [(node, c) for c in _up(kw["name"], kw.get("up", True))]
    if op == "add_vxlan":
        options = [f"id {kw['vni']}"]
        for key in ("local", "remote", "dev"):
            if kw.get(key):
                options.append(f"{key} {kw[key]}")
        options.append(f"dstport {kw.get('port', 4789)}")
        options += [] if kw.get("learning") else ["nolearning"]
        options += [flag for flag in ("proxy", "l2miss", "l3miss") if kw.get(flag)]
        out = [(node, _link_add(kw["name"], "vxlan", *options, mtu=kw.get("mtu")))]
        home = node
        if kw.get("into"):  # made here (its UDP socket stays here), then handed over
            out.append((node, f"ip link set {kw['name']} netns {kw['into']}"))
            home = kw["into"]
        if kw.get("master"):
            out.append((home, f"ip link set {kw['name']} master {kw['master']}"))
        return out + [(home, c) for c in _up(kw["name"], kw.get("up", True))]
    if op in ("add_macvlan", "add_ipvlan", "add_vlan"):
        kind = op[len("add_"):]
        options = [f"id {kw['vid']}"] if kind == "vlan" else [f"mode {kw.get('mode')}"]
        # made on the parent's node, then moved: under another name when it is to be called like
        # its parent there (eth0 in a container, of the host's eth0)
        made = f"{SHORT[kind]}-{kw['into']}"[:15] if kw.get("into") and kw["name"] == kw["parent"] else kw["name"]
        out = [(node, _link_add(made, kind, *options, link=kw["parent"], mtu=kw.get("mtu")))]
        if kw.get("mac"):
            out.append((node, f"ip link set {made} address {kw['mac']}"))
        home = node
        if kw.get("into"):
            rename = f" name {kw['name']}" if made != kw["name"] else ""
            out.append((node, f"ip link set {made} netns {kw['into']}{rename}"))
            home = kw["into"]
        return out + [(home, c) for c in _up(kw["name"], kw.get("up", True))]
    if op == "set_link":
        words = []
        if kw.get("master"):
            words += ["master", kw["master"]]
        if kw.get("nomaster"):
            words.append("nomaster")
        if kw.get("mtu"):
            words += ["mtu", str(kw["mtu"])]
        if kw.get("mac"):
            words += ["address", kw["mac"]]
        words += _on_off(kw.get("up"))
        return [(node, " ".join(["ip", "link", "set", kw["name"], *words]))]
    if op == "move_link":
        new = kw.get("new_name") or kw["name"]
        words = ["ip", "link", "set", kw["name"], "netns", kw["into"]]
        if kw.get("new_name"):
            words += ["name", new]
        if kw.get("mac"):
            words += ["address", kw["mac"]]
        return [(node, " ".join(words)), *((kw["into"], c) for c in _up(new, kw.get("up", True)))]
    if op == "remove_link":
        return [(node, f"ip link del {kw['name']}")]
    if op in ("add_address", "remove_address"):
        verb = "add" if op == "add_address" else "del"
        return [(node, f"ip addr {verb} {kw['cidr']} dev {kw['ifname']}")]
    if op in ("add_route", "remove_route"):
        return [(node, _route("add" if op == "add_route" else "del", kw))]
    if op in ("add_neighbour", "remove_neighbour"):
        verb = "add" if op == "add_neighbour" else "del"
        return [(node, f"ip neigh {verb} {kw['ip']} lladdr {kw['mac']} dev {kw['dev']}")]
    if op in ("add_fdb", "remove_fdb"):
        return [(node, _fdb("append" if op == "add_fdb" else "del", kw))]
    if op == "sysctl":
        return [(node, f"sysctl -w {kw['key']}={kw['value']}")]
    if op == "write_etc":
        path = f"/etc/netns/{node}/{kw['filename']}"
        text = kw["text"] if kw["text"].endswith("\n") or not kw["text"] else kw["text"] + "\n"
        return [(None, f"mkdir -p /etc/netns/{node}"),
                (None, f"cat > {path} <<'EOF'\n{text}EOF")]
    return [(node, f"# ({op}: no single shell command)")]


def render(ops: list[tuple[str, dict]], parents: dict[str, str | None]) -> str:
    """The commands of ``ops`` as a shell session: ``myhost# ip netns exec app1 ip addr add ...``.

    ``parents``: node -> the node it is inside (None for a machine of its own).
    """
    lines = []
    for op, kw in ops:
        for node, command in commands(op, kw):
            if node is None:
                lines.append(f"{MACHINE}# {command}")
            elif parents.get(node):
                lines.append(f"{parents[node]}# ip netns exec {node} {command}")
            else:
                lines.append(f"{node}# {command}")
    return "\n".join(lines)


def split(line: str) -> tuple[str | None, str]:
    """(node, command) of one rendered line (None: the lab's machine), for replaying it."""
    prompt, _, command = line.partition("# ")
    return (None if prompt == MACHINE else prompt), command

