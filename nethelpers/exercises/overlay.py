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
