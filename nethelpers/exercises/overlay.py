"""Exercises of notebooks 06 (overlay by hand: A3_REACHES_A1, A1_OUT_OF_THE_BLACK_HOLE) and 07 (overlay, the
Docker way: LOST_ENTRY, SECOND_OVERLAY)."""

from __future__ import annotations

import json
import re

from . import Exercise, docker_host, link, node_names, pings, word_after
from ..errors import NotFound
from ..i18n import _, N_

VNI = 42
HOST_IPS = {"host1": "198.51.100.10", "host2": "198.51.100.11", "host3": "198.51.100.12"}
A_IPS = {"a1": "10.9.0.1", "a2": "10.9.0.2", "a3": "10.9.0.3"}
A_MACS = {"a1": "02:42:0a:09:00:01", "a2": "02:42:0a:09:00:02", "a3": "02:42:0a:09:00:03"}
ALL_ZEROS = "00:00:00:00:00:00"
LET_OVBR0_THROUGH = "DOCKER-USER -i ovbr0 -o ovbr0 -j ACCEPT"


def _vxlan_fdb(lab, host: str) -> list[dict]:
    """The entries of ``host``'s vxlan0 that name a remote host (``bridge fdb show dev vxlan0 | grep dst``)."""
    return [e for e in lab.snapshot([host])[host]["fdb"] if e["dev"] == "vxlan0" and e.get("dst")]


def _ensure_flood(lab, host: str, to: str) -> None:
    """An all-zeros entry on ``host``'s vxlan0 towards ``to`` (added only if missing)."""
    if not any(e["mac"] == ALL_ZEROS and e["dst"] == HOST_IPS[to] for e in _vxlan_fdb(lab, host)):
        lab.node(host).add_fdb(ALL_ZEROS, "vxlan0", dst=HOST_IPS[to])


def _inspect(lab, host: str, ref: str) -> dict | None:
    """``docker -H HOST inspect REF`` as data (None when HOST has no such container or network)."""
    from ..docker import DockerError

    try:
        return json.loads(lab.docker(f"inspect {ref}", host=host))[0]
    except DockerError:
        return None


def _needs_part2(lab) -> None:
    """Exercises 1 and 2 build on Part 2's overlay (a1, a2 and host1's and host2's vxlan0)."""
    missing = [n for n in ("a1", "a2") if n not in node_names(lab)]
    missing += [_("{host}'s vxlan0").format(host=h) for h in ("host1", "host2") if link(lab, h, "vxlan0") is None]
    if len(missing) == 1:
        raise NotFound(_("this exercise builds on Part 2's overlay, and {missing} is gone (removed, or a new "
                         "lab since): run Part 2's cells again, then this one").format(
                           missing=missing[0]))
    if missing:
        raise NotFound(_("this exercise builds on Part 2's overlay, and {missing} are gone (removed, or a new "
                         "lab since): run Part 2's cells again, then this one").format(
                           missing=", ".join(missing)))


# --- 1 · host3 joins: a3 reaches a1 ---------------------------------------------------------------
def _host3_setup(lab):
    """host3's side built afresh (bridge, vxlan0 flooding to host1 and host2, a3, the DOCKER-USER rule),
    host2 flooding to host3 too, and no entry on host1's vxlan0 that names host3."""
    _needs_part2(lab)
    host3 = lab.node("host3")
    if "a3" in node_names(lab):
        lab.remove_node("a3")  # its veth goes with it
    for name in ("vxlan0", "ovbr0"):
        if link(lab, "host3", name) is not None:
            host3.remove_link(name)
    while host3.run(f"iptables -C {LET_OVBR0_THROUGH}").rc == 0:
        host3.run(f"iptables -D {LET_OVBR0_THROUGH}", check=True)
    a3 = lab.add_node("a3", kind="container", parent="host3")
    host3.add_bridge("ovbr0", mtu=1450)
    lab.add_veth("host3:veth-a3", "a3:eth0", master="ovbr0", mtu=1450, peer_mac=A_MACS["a3"])
    a3.add_address("eth0", f"{A_IPS['a3']}/24")
    host3.add_vxlan("vxlan0", VNI, local=HOST_IPS["host3"], dev="eth0", port=4789, mtu=1450, master="ovbr0")
    host3.add_fdb(ALL_ZEROS, "vxlan0", dst=HOST_IPS["host1"])
    host3.add_fdb(ALL_ZEROS, "vxlan0", dst=HOST_IPS["host2"])
    host3.run(f"iptables -I {LET_OVBR0_THROUGH}", check=True)
    _ensure_flood(lab, "host2", "host3")
    _ensure_flood(lab, "host1", "host2")
    for entry in _vxlan_fdb(lab, "host1"):
        if entry["dst"] == HOST_IPS["host3"]:
            lab.node("host1").remove_fdb(entry["mac"], "vxlan0", dst=entry["dst"])


def _host3_solution(lab):
    lab["host1"].add_fdb("00:00:00:00:00:00", "vxlan0", dst="198.51.100.12")


def _host3_side(lab):
    start = _("run the exercise's first cell (exercises.A3_REACHES_A1.start(lab)) to build it again")
    if "a3" not in node_names(lab):
        return _("there is no node a3: {start}").format(start=start)
    vxlan = link(lab, "host3", "vxlan0")
    if vxlan is None or vxlan.get("vni") != VNI or vxlan.get("master") != "ovbr0":
        return _("host3 has no vxlan0 with VNI 42 on its bridge ovbr0: {start}").format(start=start)


def _a3_pings_a2(lab):
    if not pings(lab, "a3", A_IPS["a2"]):
        return _("a3 does not reach a2 ({a2}) any more, so host3's side or host2's entry towards host3 "
                 "has changed: run the exercise's first cell (exercises.A3_REACHES_A1.start(lab)) to start "
                 "over").format(a2=A_IPS["a2"])


def _host1_sends_to_host3(lab):
    entries = _vxlan_fdb(lab, "host1")
    if any(e["dst"] == HOST_IPS["host3"] and e["mac"] in (ALL_ZEROS, A_MACS["a3"]) for e in entries):
        return None
    known = ", ".join(sorted({f"{e['mac']} dst {e['dst']}" for e in entries}))
    if known:
        head = _("host1's vxlan0 knows only these remote entries: {known}.").format(known=known)
    else:
        head = _("host1's vxlan0 knows only these remote entries: none.")
    return head + _(" a3's ARP request reaches a1 (host3 floods it to host1), but a1's answer goes to a3's MAC "
                    "{a3_mac}, which host1's vxlan0 never learns (learning is off): it floods the answer to the "
                    "hosts it knows, and host3 is not one of them. Add an entry towards host3 ({host3}) on host1's "
                    "vxlan0: host1.add_fdb(\"{zeros}\", \"vxlan0\", dst=\"{host3}\") to flood to host3 too, or "
                    "host1.add_fdb(\"{a3_mac}\", \"vxlan0\", dst=\"{host3}\") for a3's MAC only").format(
                        a3_mac=A_MACS["a3"], host3=HOST_IPS["host3"], zeros=ALL_ZEROS)


def _a3_pings_a1(lab):
    if not pings(lab, "a3", A_IPS["a1"]):
        return _("a3 gets no answer from a1 ({a1}): does host1's entry name host3's LAN address "
                 "{host3} exactly (%lab host1 bridge fdb show dev vxlan0), and is a1 still on "
                 "host1's ovbr0 (%lab host1 ip -br link show master ovbr0)?").format(
                     a1=A_IPS["a1"], host3=HOST_IPS["host3"])


A3_REACHES_A1 = Exercise(N_("host3 joins the overlay: a3 reaches a1"), [
    (N_("host3 has its side: bridge ovbr0, vxlan0 (VNI 42) and a3"), _host3_side),
    (N_("a3 pings a2 (10.9.0.2)"), _a3_pings_a2),
    (N_("host1's vxlan0 has an FDB entry towards host3 (198.51.100.12)"), _host1_sends_to_host3),
    (N_("a3 pings a1 (10.9.0.1)"), _a3_pings_a1),
], setup=_host3_setup, solution=_host3_solution)


# --- 2 · the black hole: a1 sends big packets again -----------------------------------------------------
HOST1_MTUS = (("eth0", 1500), ("vxlan0", 1450), ("ovbr0", 1450))  # in an order that is always allowed


def _black_hole_setup(lab):
    """host1's eth0, vxlan0 and ovbr0 as Part 2 made them; a1's eth0 and its host end at MTU 1500, and a1's
    route to the overlay without an MTU of its own, nor one learned."""
    _needs_part2(lab)
    host1, a1 = lab.node("host1"), lab.node("a1")
    for name, mtu in HOST1_MTUS:
        host1.set_link(name, mtu=mtu)
    a1.set_link("eth0", mtu=1500)
    host1.set_link("veth-a1", mtu=1500)
    a1.run(f"ip route replace 10.9.0.0/24 dev eth0 proto kernel scope link src {A_IPS['a1']}", check=True)
    # and forget a path MTU learned earlier: kernels whose VXLAN answers a too-big bridged packet
    # with "Frag needed" (the VM's 6.1) would otherwise keep a1 out of the hole already
    a1.run("ip route flush cache", check=True)


def _black_hole_solution(lab):
    lab["a1"].set_link("eth0", mtu=1450)


def _path_mtu(lab) -> int:
    """The MTU a1 uses towards a2: its route's own (``ip route ... mtu N``), else its eth0's."""
    found = re.search(r"\bmtu (\d+)", lab.node("a1").run(f"ip route get {A_IPS['a2']}", timeout=5).stdout)
    return int(found.group(1)) if found else link(lab, "a1", "eth0")["mtu"]


def _a1_mtu(lab):
    if "a1" not in node_names(lab):
        return _("there is no node a1: run the cells of Part 2 that create it, then this exercise's first cell")
    mtu = _path_mtu(lab)
    if mtu > 1450:
        return _("a1 still sends packets of up to {mtu} bytes to a2: a1 builds packets the tunnel cannot carry, "
                 "and the bridge on host1 drops them without a word. The tunnel's 50 bytes must come off the "
                 "container's MTU: a1.set_link(\"eth0\", mtu=1450) (%lab a1 ip link set eth0 mtu 1450)").format(
                     mtu=mtu)


def _tunnel_untouched(lab):
    for name, mtu in HOST1_MTUS:
        found = link(lab, "host1", name)
        if found is None or found["mtu"] != mtu:
            if found is None:
                return _("host1's {name} is gone: the fix belongs in the container, leave host1's {name} at "
                         "MTU {mtu} (host1.set_link(\"{name}\", mtu={mtu}))").format(name=name, mtu=mtu)
            return _("host1's {name} has MTU {now}: the fix belongs in the container, leave host1's {name} at "
                     "MTU {mtu} (host1.set_link(\"{name}\", mtu={mtu}))").format(
                         name=name, now=found["mtu"], mtu=mtu)


def _df_1422(lab):
    reply = lab.node("a1").run(f"ping -c1 -W1 -M do -s 1422 {A_IPS['a2']}", timeout=5)
    if reply.rc != 0:
        if "message too long" in reply.output:
            return _("a1 now refuses to send a 1450-byte packet itself ({error}): its MTU is "
                     "smaller than it needs to be. 1422 bytes of data + 8 (ICMP) + 20 (IPv4) = 1450 fit the "
                     "tunnel exactly: a1.set_link(\"eth0\", mtu=1450)").format(error=reply.stderr.strip())
        return _("a 1422-byte ping with DF from a1 to a2 ({a2}) does not arrive: is a1's eth0 up, and "
                 "does a small ping cross (%lab a1 ping -c 1 {a2})?").format(a2=A_IPS["a2"])


def _big_1472(lab):
    if lab.node("a1").run(f"ping -c1 -W1 -s 1472 {A_IPS['a2']}", timeout=5).rc != 0:
        a2 = link(lab, "a2", "eth0") if "a2" in node_names(lab) else None
        if a2 is not None and a2["mtu"] > 1450:
            return _("a1's fragments reach a2, but a2's answer is as big (1500 bytes) and a2's eth0 has MTU "
                     "{mtu}: a2 sends packets of up to {mtu} bytes, which the tunnel cannot carry, "
                     "and host2 drops them without a word. a2 needs MTU 1450 too: "
                     "lab[\"a2\"].set_link(\"eth0\", mtu=1450)").format(mtu=a2["mtu"])
        return _("a plain 1472-byte ping from a1 still vanishes: a1 should cut it into two fragments "
                 "that fit MTU 1450; is its eth0's MTU 1450 (%lab a1 ip link show eth0)?")


A1_OUT_OF_THE_BLACK_HOLE = Exercise(N_("a1 out of the MTU black hole"), [
    (N_("a1 sends packets the tunnel can carry (1450 bytes or less)"), _a1_mtu),
    (N_("host1's ovbr0 and vxlan0 stay at 1450, its eth0 at 1500"), _tunnel_untouched),
    (N_("a 1422-byte ping with DF set crosses from a1 to a2"), _df_1422),
    (N_("a plain 1472-byte ping crosses too (a1 fragments it)"), _big_1472),
], setup=_black_hole_setup, solution=_black_hole_solution)


# --- 3 · a lost event: c3's entries, back by hand ------------------------------------------------------
C1_IP, C3_IP, C3_MAC, HOST3_IP = "10.0.1.2", "10.0.1.3", "02:42:0a:00:01:03", "198.51.100.12"
NSENTER = "daemon1.nsenter(netns, "  # how the notebook names host1's daemon and its sandbox of ov1


def _host1_sandbox(lab) -> tuple:
    daemon1 = lab.docker_host("host1")
    return daemon1, daemon1.netns_of("ov1")


def _ensure_on_ov1(lab, host: str, name: str, ip: str) -> None:
    """Container ``name`` running on ``host`` on ov1 at ``ip``, as Part 5 made it (made again if it is not;
    ov1 has no --subnet, so Docker takes the lowest free address and no --ip can ask for it)."""
    def placed() -> bool:
        ctr = docker_host(lab, host).containers.get(name)
        return (ctr is not None and ctr.running and "ov1" in ctr.endpoints
                and str(ctr.endpoints["ov1"].ip) == ip)

    if placed():
        return
    if name in docker_host(lab, host).containers:
        lab.docker(f"rm -f {name}", host=host)
    lab.docker(f"run -dit --name {name} --network ov1 busybox", host=host)
    if not placed():
        lab.docker(f"rm -f {name}", host=host)
        raise NotFound(_("{name} was made again on {host}, but another container on ov1 holds its address {ip}: "
                         "remove the containers you added to ov1 (%docker -H HOST ps), then run this cell "
                         "again").format(name=name, host=host, ip=ip))


def _missing(lab, host: str, name: str) -> str | None:
    """A hint when container ``name`` is not running on ``host``."""
    ctr = _inspect(lab, host, name)
    if ctr is None or not ctr["State"]["Running"]:
        return _("{name} is not running on {host} (%docker -H {host} ps -a): run the exercise's first cell "
                 "again, it starts it afresh").format(name=name, host=host)


def _fields_after(table: str, first: str, keyword: str) -> list[str]:
    """In the lines of ``bridge fdb show``/``ip neigh show`` that begin with ``first`` (a MAC, an IP),
    the word after ``keyword`` (dst, lladdr): compared whole, never as a piece of a line."""
    rows = [line.lower().split() for line in table.splitlines()]
    return [word_after(words, keyword) for words in rows if words and words[0] == first and keyword in words[:-1]]


def _lost_setup(lab):
    """host1 forgets c3, as if its agent had missed the event: no FDB entry for c3's MAC and no neighbour
    entry for its IP in host1's sandbox of ov1 (whatever an attempt wrote), and c1 has no ARP entry for c3.
    (c1 and c3 are made again first if an attempt removed them.)"""
    _ensure_on_ov1(lab, "host1", "c1", C1_IP)
    _ensure_on_ov1(lab, "host3", "c3", C3_IP)
    daemon1, netns = _host1_sandbox(lab)
    daemon1.nsenter(netns, f"bridge fdb del {C3_MAC} dev vxlan0 self")   # every remote of that MAC
    daemon1.nsenter(netns, f"ip neigh del {C3_IP} dev vxlan0")
    lab.node("c1").run(f"ip neigh flush to {C3_IP}", check=True)


def _lost_solution(lab):
    daemon1 = lab.docker_host("host1")
    netns = daemon1.netns_of("ov1")
    daemon1.nsenter(netns, "bridge fdb append 02:42:0a:00:01:03 dev vxlan0 dst 198.51.100.12 self permanent")
    daemon1.nsenter(netns, "ip neigh replace 10.0.1.3 lladdr 02:42:0a:00:01:03 dev vxlan0 nud permanent")


def _fdb_back(lab):
    daemon1, netns = _host1_sandbox(lab)
    fdb = daemon1.nsenter(netns, "bridge fdb show dev vxlan0").output
    remotes = _fields_after(fdb, C3_MAC, "dst")   # exactly: dst 198.51.100.120 is not host3
    if HOST3_IP not in remotes:
        elsewhere = sorted(set(remotes))
        if elsewhere:
            return _("host1's vxlan0 sends c3's MAC {c3_mac} to {elsewhere}, but c3 lives on host3 "
                     "({host3}): delete that entry ({nsenter}\"bridge fdb del {c3_mac} dev vxlan0 dst "
                     "{wrong} self\")) and add the right one (dst {host3})").format(
                         c3_mac=C3_MAC, elsewhere=", ".join(elsewhere), host3=HOST3_IP, nsenter=NSENTER,
                         wrong=elsewhere[0])
        return _("host1's vxlan0 does not know where {c3_mac} (c3) lives, so frames for it go nowhere. "
                 "Add the entry Docker's agent would write: "
                 "{nsenter}\"bridge fdb append {c3_mac} dev vxlan0 dst {host3} self permanent\")").format(
                     c3_mac=C3_MAC, nsenter=NSENTER, host3=HOST3_IP)


def _neighbour_back(lab):
    daemon1, netns = _host1_sandbox(lab)
    neigh = daemon1.nsenter(netns, "ip neigh show dev vxlan0").output
    macs = _fields_after(neigh, C3_IP, "lladdr")
    if C3_MAC not in macs:
        if macs:
            return _("vxlan0's neighbour table gives {c3_ip} the MAC {wrong}, but c3's is {c3_mac}: "
                     "{nsenter}\"ip neigh replace {c3_ip} lladdr {c3_mac} dev vxlan0 nud permanent\")").format(
                         c3_ip=C3_IP, wrong=macs[0], c3_mac=C3_MAC, nsenter=NSENTER)
        return _("the FDB entry is there, but vxlan0 answers ARP itself (proxy) from its neighbour table, and "
                 "{c3_ip} is not in it: {nsenter}\"ip neigh replace {c3_ip} lladdr {c3_mac} dev vxlan0 "
                 "nud permanent\")").format(c3_ip=C3_IP, nsenter=NSENTER, c3_mac=C3_MAC)


def _c1_and_c3(lab):
    return _missing(lab, "host1", "c1") or _missing(lab, "host3", "c3")


def _c1_reaches_c3(lab):
    if lab.docker(f"exec c1 ping -c1 -W1 {C3_IP}", host="host1").exit_code:
        return _("both entries are there but c1 still gets no answer from {c3_ip}: compare their spelling with "
                 "the output of {nsenter}\"bridge fdb show dev vxlan0\") and of \"ip neigh show dev vxlan0\", "
                 "and is c3 running (%docker -H host3 ps)?").format(c3_ip=C3_IP, nsenter=NSENTER)


LOST_ENTRY = Exercise(N_("c3's entries are lost: put them back by hand"), [
    (N_("c1 runs on host1 and c3 on host3"), _c1_and_c3),
    (N_("host1's vxlan0 has an FDB entry: c3's MAC -> host3"), _fdb_back),
    (N_("host1's sandbox has a neighbour entry: c3's IP -> its MAC"), _neighbour_back),
    (N_("c1 pings c3 (10.0.1.3)"), _c1_reaches_c3),
], setup=_lost_setup, solution=_lost_solution)


# --- 4 · a second overlay for a database -----------------------------------------------------------------
OV2_HOSTS = ("host1", "host2", "host3")


def _ov2_setup(lab):
    """No db and no app on any host, no container on ov2, and no network ov2."""
    for host in OV2_HOSTS:
        daemon = docker_host(lab, host)
        for name in ("db", "app"):
            if name in daemon.containers:
                lab.docker(f"rm -f {name}", host=host)
        for ctr in list(daemon.containers.values()):
            if "ov2" in ctr.endpoints:
                lab.docker(f"network disconnect ov2 {ctr.name}", host=host)
    for host in OV2_HOSTS:
        if _inspect(lab, host, "ov2") is not None:
            lab.docker("network rm ov2", host=host)


def _ov2_solution(lab):
    lab.docker("network create -d overlay --attachable --subnet 10.20.0.0/24 ov2", host="host1")
    lab.docker("run -dit --name db --network ov2 busybox", host="host2")
    lab.docker("run -dit --name app --network ov2 busybox", host="host3")


def _ov2(lab):
    net = _inspect(lab, "host1", "ov2")
    if net is None:
        return _("there is no network ov2 on the manager, host1: "
                 "%docker -H host1 network create -d overlay --attachable --subnet 10.20.0.0/24 ov2")
    if net.get("Driver") != "overlay":
        return _("ov2 uses the {driver} driver: remove it (%docker -H host1 network rm ov2) and "
                 "create it again with -d overlay").format(driver=net.get("Driver"))
    if not net.get("Attachable"):
        return _("ov2 is not attachable, so docker run cannot put containers on it: remove it "
                 "(%docker -H host1 network rm ov2) and create it again with --attachable")
    subnet = [c["Subnet"] for c in net["IPAM"]["Config"]]
    if subnet != ["10.20.0.0/24"]:
        return _("ov2's subnet is {subnet}: remove it (%docker -H host1 network rm ov2) and create "
                 "it again with --subnet 10.20.0.0/24").format(subnet=", ".join(subnet))


def _on_ov2(host: str, name: str):
    def check(lab):
        ctr = _inspect(lab, host, name)
        if ctr is None:
            return _("no container {name} on {host}: %docker -H {host} run -dit --name {name} --network ov2 "
                     "busybox").format(name=name, host=host)
        if "ov2" not in ctr["NetworkSettings"]["Networks"]:
            return _("{name} is not on ov2: %docker -H {host} network connect ov2 {name}").format(
                name=name, host=host)
        if not ctr["State"]["Running"]:
            return _("{name} is not running (%docker -H {host} ps -a: busybox's sh exits at once unless run "
                     "with -it): %docker -H {host} rm -f {name}, then "
                     "%docker -H {host} run -dit --name {name} --network ov2 busybox").format(name=name, host=host)
    return check


def _app_finds_db(lab):
    if lab.docker("exec app ping -c1 -W1 db", host="host3").exit_code:
        return _("app cannot reach db by name: both must be on ov2 and running "
                 "(%docker -H host3 exec app nslookup db shows what the embedded DNS answers)")


def _c1_kept_out(lab):
    if _missing(lab, "host1", "c1"):
        return None  # no c1, nothing of c1's reaches db
    db = _inspect(lab, "host2", "db")["NetworkSettings"]["Networks"]["ov2"]["IPAddress"]
    if not lab.docker(f"exec c1 ping -c1 -W0.5 {db}", host="host1").exit_code:
        return _("c1 (on ov1) reaches db at {db}: only app and db belong on ov2; "
                 "%docker -H host1 network disconnect ov2 c1").format(db=db)


SECOND_OVERLAY = Exercise(N_("a private overlay for a database"), [
    (N_("an attachable overlay ov2 on 10.20.0.0/24"), _ov2),
    (N_("db runs on host2, on ov2"), _on_ov2("host2", "db")),
    (N_("app runs on host3, on ov2"), _on_ov2("host3", "app")),
    (N_("app reaches db by name"), _app_finds_db),
    (N_("c1 (ov1) cannot reach db"), _c1_kept_out),
], setup=_ov2_setup, solution=_ov2_solution)
