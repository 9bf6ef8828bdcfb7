"""Exercises of notebook 06 (overlay)."""

from __future__ import annotations

from . import Exercise, link, node_names, pings

VNI = 42
HOST_IPS = {"host1": "198.51.100.10", "host2": "198.51.100.11", "host3": "198.51.100.12"}
A_IPS = {"a1": "10.9.0.1", "a2": "10.9.0.2", "a3": "10.9.0.3"}
A_MACS = {"a1": "02:42:0a:09:00:01", "a2": "02:42:0a:09:00:02", "a3": "02:42:0a:09:00:03"}
ALL_ZEROS = "00:00:00:00:00:00"


def _vxlan_fdb(lab, host: str) -> list[dict]:
    """The entries of ``host``'s vxlan0 that name a remote host (``bridge fdb show dev vxlan0 | grep dst``)."""
    return [e for e in lab.snapshot([host])[host]["fdb"] if e["dev"] == "vxlan0" and e.get("dst")]


# --- 1 · host3 joins: a3 reaches a1 ---------------------------------------------------------------
def _host3_side(lab):
    if "a3" not in node_names(lab):
        return "there is no node a3 yet: run the set-up cell just above the exercise (it builds host3's side)"
    vxlan = link(lab, "host3", "vxlan0")
    if vxlan is None or vxlan.get("vni") != VNI or vxlan.get("master") != "ovbr0":
        return ("host3 has no vxlan0 with VNI 42 on its bridge ovbr0: run the set-up cell above the exercise "
                "again (it is safe to run twice)")


def _host1_sends_to_host3(lab):
    entries = _vxlan_fdb(lab, "host1")
    if any(e["dst"] == HOST_IPS["host3"] and e["mac"] in (ALL_ZEROS, A_MACS["a3"]) for e in entries):
        return None
    known = ", ".join(sorted({f"{e['mac']} dst {e['dst']}" for e in entries})) or "none"
    return (f"host1's vxlan0 knows only these remote entries: {known}. a3's ARP request reaches a1 (host3 floods "
            f"it to host1), but a1's answer goes to a3's MAC {A_MACS['a3']}, which host1's vxlan0 never learns "
            f"(learning is off): it floods the answer to the hosts it knows, and host3 is not one of them. Add an "
            f"entry towards host3 ({HOST_IPS['host3']}) on host1's vxlan0: "
            f"host1.add_fdb(\"{ALL_ZEROS}\", \"vxlan0\", dst=\"{HOST_IPS['host3']}\") to flood to host3 too, or "
            f"host1.add_fdb(\"{A_MACS['a3']}\", \"vxlan0\", dst=\"{HOST_IPS['host3']}\") for a3's MAC only")


def _a3_pings_a1(lab):
    if not pings(lab, "a3", A_IPS["a1"]):
        rule = lab.node("host3").run("iptables -C DOCKER-USER -i ovbr0 -o ovbr0 -j ACCEPT", timeout=5).rc == 0
        if not rule:
            return ("the tunnel is complete, but host3 is a Docker host: its FORWARD policy DROP also drops "
                    "what its bridge ovbr0 forwards. Let ovbr0's traffic through as in Part 2: "
                    "%lab host3 iptables -I DOCKER-USER -i ovbr0 -o ovbr0 -j ACCEPT")
        return (f"a3 gets no answer from a1 ({A_IPS['a1']}): does host1's entry name host3's LAN address "
                f"{HOST_IPS['host3']} exactly (%lab host1 bridge fdb show dev vxlan0)?")


A3_REACHES_A1 = Exercise("host3 joins the overlay: a3 reaches a1", [
    ("host3 has its side: bridge ovbr0, vxlan0 (VNI 42) and a3", _host3_side),
    ("host1's vxlan0 has an FDB entry towards host3 (198.51.100.12)", _host1_sends_to_host3),
    ("a3 pings a1 (10.9.0.1)", _a3_pings_a1),
])


# --- 2 · the black hole: a1 sends big packets again -----------------------------------------------------
def _a1_mtu(lab):
    if "a1" not in node_names(lab):
        return "there is no node a1: run the cells of Parts 2 and 4 that create it"
    eth0 = link(lab, "a1", "eth0")
    if eth0["mtu"] > 1450:
        return (f"a1's eth0 still has MTU {eth0['mtu']}: a1 builds packets the tunnel cannot carry, and the bridge "
                f"on host1 drops them without a word. The tunnel's 50 bytes must come off the container's MTU: "
                f"a1.set_link(\"eth0\", mtu=1450) (ip link set eth0 mtu 1450)")


def _tunnel_untouched(lab):
    for name, mtu in (("ovbr0", 1450), ("vxlan0", 1450), ("eth0", 1500)):
        found = link(lab, "host1", name)
        if found is None or found["mtu"] != mtu:
            now = "is gone" if found is None else f"has MTU {found['mtu']}"
            return (f"host1's {name} {now}: the fix belongs in the container, leave host1's {name} at MTU {mtu} "
                    f"(host1.set_link(\"{name}\", mtu={mtu}))")


def _df_1422(lab):
    if lab.node("a1").run(f"ping -c1 -W1 -M do -s 1422 {A_IPS['a2']}", timeout=5).rc != 0:
        return (f"a 1422-byte ping with DF from a1 to a2 ({A_IPS['a2']}) does not arrive: is a1's eth0 up, and "
                f"is the tunnel still there (%lab a1 ping -c 1 {A_IPS['a2']})?")


def _big_1472(lab):
    if lab.node("a1").run(f"ping -c1 -W1 -s 1472 {A_IPS['a2']}", timeout=5).rc != 0:
        return ("a 1472-byte ping without DF from a1 still vanishes: a1 should cut it into two fragments "
                "that fit MTU 1450; is its eth0's MTU 1450 or less (%lab a1 ip link show eth0)?")


A1_OUT_OF_THE_BLACK_HOLE = Exercise("a1 out of the MTU black hole", [
    ("a1's eth0 has an MTU the tunnel can carry (1450 or less)", _a1_mtu),
    ("host1's ovbr0 and vxlan0 stay at 1450, its eth0 at 1500", _tunnel_untouched),
    ("a 1422-byte ping with DF set crosses from a1 to a2", _df_1422),
    ("a 1472-byte ping without DF crosses too (a1 fragments it)", _big_1472),
])


# --- Docker part: a lost FDB entry, and a second overlay ------------------------------------------------
C3_IP, C3_MAC, HOST3_IP = "10.0.1.3", "02:42:0a:00:01:03", "198.51.100.12"


def _host1_sandbox(lab) -> tuple:
    host1 = lab.docker_host("host1")
    return host1, host1.netns_of("ov1")


def _fdb_back(lab):
    host1, netns = _host1_sandbox(lab)
    fdb = host1.nsenter(netns, "bridge fdb show dev vxlan0").output
    if f"{C3_MAC} dst {HOST3_IP}" not in fdb:
        return (f"host1's vxlan0 does not know where {C3_MAC} (c3) lives, so frames for it go nowhere: "
                f"lab.docker_host(\"host1\").nsenter(netns, \"bridge fdb append {C3_MAC} dev vxlan0 dst {HOST3_IP} self permanent\")")


def _neighbour_back(lab):
    host1, netns = _host1_sandbox(lab)
    neigh = host1.nsenter(netns, "ip neigh show dev vxlan0").output
    if f"{C3_IP} lladdr {C3_MAC}" not in neigh:
        return (f"the FDB entry is there, but vxlan0 answers ARP itself (proxy) from its neighbour table, and "
                f"{C3_IP} is not in it: lab.docker_host(\"host1\").nsenter(netns, \"ip neigh replace {C3_IP} lladdr {C3_MAC} dev vxlan0 "
                f"nud permanent\")")


def _c1_reaches_c3(lab):
    if lab.docker("exec c1 ping -c1 -W1 10.0.1.3", host="host1").exit_code:
        return ("both entries are there but c1 still gets no answer from 10.0.1.3: check their spelling with "
                "lab.docker_host(\"host1\").nsenter(netns, \"bridge fdb show dev vxlan0\") and is c3 running (docker -H host3 ps)?")


LOST_ENTRY = Exercise("c3's entries are lost: put them back by hand", [
    ("host1's vxlan0 has an FDB entry: c3's MAC -> host3", _fdb_back),
    ("host1's sandbox has a neighbour entry: c3's IP -> its MAC", _neighbour_back),
    ("c1 pings c3 (10.0.1.3)", _c1_reaches_c3),
])


def lose_c3_entries(lab) -> None:
    """The exercise's start: host1 forgets c3 (as if its agent had missed the event)."""
    host1, netns = _host1_sandbox(lab)
    host1.nsenter(netns, f"bridge fdb del {C3_MAC} dev vxlan0 dst {HOST3_IP} self")
    host1.nsenter(netns, f"ip neigh del {C3_IP} dev vxlan0")


def _inspect(lab, host: str, ref: str) -> dict | None:
    import json

    from ..docker import DockerError
    try:
        return json.loads(lab.docker(f"inspect {ref}", host=host))[0]
    except DockerError:
        return None


def _ov2(lab):
    net = _inspect(lab, "host1", "ov2")
    if net is None:
        return ("there is no network ov2 on the manager: "
                "%docker -H host1 network create -d overlay --attachable --subnet 10.20.0.0/24 ov2")
    if net.get("Driver") != "overlay":
        return f"ov2 uses the {net.get('Driver')} driver: remove it and create it with -d overlay"
    if not net.get("Attachable"):
        return "ov2 is not attachable, so docker run cannot put containers on it: recreate it with --attachable"
    subnet = [c["Subnet"] for c in net["IPAM"]["Config"]]
    if subnet != ["10.20.0.0/24"]:
        return f"ov2's subnet is {subnet[0]}: recreate it with --subnet 10.20.0.0/24"


def _on_ov2(host: str, name: str):
    def check(lab):
        ctr = _inspect(lab, host, name)
        if ctr is None:
            return f"no container {name} on {host}: %docker -H {host} run -dit --name {name} --network ov2 busybox"
        if "ov2" not in ctr["NetworkSettings"]["Networks"]:
            return f"{name} is not on ov2: %docker -H {host} network connect ov2 {name}"
    return check


def _app_finds_db(lab):
    if lab.docker("exec app ping -c1 -W1 db", host="host3").exit_code:
        return ("app cannot reach db by name: both must be on ov2 and running "
                "(%docker -H host3 exec app nslookup db shows what the embedded DNS answers)")


def _c1_kept_out(lab):
    db = _inspect(lab, "host2", "db")["NetworkSettings"]["Networks"]["ov2"]["IPAddress"]
    if not lab.docker(f"exec c1 ping -c1 -W1 {db}", host="host1").exit_code:
        return f"c1 (on ov1 only) reaches db at {db}: c1 must not be connected to ov2"


SECOND_OVERLAY = Exercise("a private overlay for a database", [
    ("an attachable overlay ov2 on 10.20.0.0/24", _ov2),
    ("db runs on host2, on ov2", _on_ov2("host2", "db")),
    ("app runs on host3, on ov2", _on_ov2("host3", "app")),
    ("app reaches db by name", _app_finds_db),
    ("c1 (ov1) cannot reach db", _c1_kept_out),
])
