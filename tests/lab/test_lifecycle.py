"""A lab's life: it starts, it isolates, and it leaves nothing behind however it ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

import footprint
from conftest import ROOT, pings
from nethelpers import Lab, LabClosed

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/ → the repo


def test_mode_matches_who_we_are(lab):
    assert lab.rootless is (not ROOT)
    assert lab.info["pid"] == 1  # the sandbox is PID 1 of its own PID namespace


def test_close_removes_every_process_and_namespace(bridged, lab):
    host = bridged[0]
    server = host.start("python3 -m http.server 8080 --bind 10.0.0.1")
    server.wait_for("Serving")
    orphan = host.run("sh -c 'sleep 300 &'")  # a process the shell abandons
    assert orphan.rc == 0
    seen = footprint.of_lab(lab)
    assert len(seen["net"]) == 4  # host, c1, c2 and the sandbox's own
    assert footprint.holders(seen)  # alive now...
    lab.close()
    assert footprint.wait_gone(seen) == []  # ...and gone
    with pytest.raises(LabClosed, match="closed"):
        lab.add_node("again")



def test_removing_a_node_ends_its_processes_and_frees_its_namespace(lab):
    """``remove_node``: "Remove a node, its processes, and every link" (nethelpers/lab.py). A network
    namespace lives as long as a process is in it (network_namespaces(7): it is freed when the last
    process leaves and no bind mount or fd holds it), so a process left running keeps the node's
    namespace alive: a background command, and one its shell abandoned (``sh -c 'x &'``, as
    ``docker rm -f`` must end what ``docker exec`` left behind). The other node keeps its own."""
    a, b = lab.add_node("a"), lab.add_node("b")
    a.start("sleep 300")
    b.start("sleep 300")
    assert b.run("sh -c 'sleep 301 &'").rc == 0
    inode = {n: int(lab.run_in_sandbox(f"stat -L -c %i /run/netns/{n}").stdout) for n in ("a", "b")}
    in_a, in_b = ({"pids": set(), "mnt": -1, "net": {inode[n]}} for n in ("a", "b"))
    held_a = footprint.holders(in_a)
    assert held_a and len(footprint.holders(in_b)) > len(held_a)  # b: one more, the abandoned sleep
    lab.remove_node("b")
    assert footprint.wait_gone(in_b) == []
    assert footprint.holders(in_a) == held_a
    assert [n.name for n in lab.nodes()] == ["a"]

OWNER = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, {repo!r}); sys.path.insert(0, {tests!r})
    from nethelpers import Lab
    import footprint
    lab = Lab()
    a, b = lab.add_node("a"), lab.add_node("b")
    lab.add_veth("a:eth0", "b:eth0")
    a.add_address("eth0", "10.0.0.1/24")
    a.start("sleep 300")
    seen = footprint.of_lab(lab)
    print(json.dumps({{"pids": sorted(seen["pids"]), "mnt": seen["mnt"], "net": sorted(seen["net"])}}), flush=True)
    if sys.argv[1] == "exit":
        sys.exit(0)          # no close(): the interpreter just ends
    time.sleep(300)          # wait to be killed
""")


def _owner(how: str) -> tuple[subprocess.Popen, dict]:
    code = OWNER.format(repo=REPO, tests=os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.Popen([sys.executable, "-c", code, how], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    seen = json.loads(line)
    return proc, {"pids": set(seen["pids"]), "mnt": seen["mnt"], "net": set(seen["net"])}


def test_owner_exiting_without_close_leaves_nothing():
    proc, seen = _owner("exit")
    assert proc.wait(30) == 0
    assert footprint.wait_gone(seen) == []


def test_sigkill_of_the_owner_leaves_nothing():
    proc, seen = _owner("wait")
    assert footprint.holders(seen)
    os.kill(proc.pid, signal.SIGKILL)  # what a crashed or killed Jupyter kernel does
    proc.wait(10)
    assert footprint.wait_gone(seen) == []


def test_two_labs_at_once_never_collide():
    with Lab() as one, Lab() as two:
        for lab in (one, two):  # the same names and addresses in both
            a, b = lab.add_node("a"), lab.add_node("b")
            lab.add_veth("a:eth0", "b:eth0")
            a.add_address("eth0", "10.0.0.1/24")
            b.add_address("eth0", "10.0.0.2/24")
        one["a"].add_bridge("only-in-one")
        assert pings(one["a"], "10.0.0.2") and pings(two["a"], "10.0.0.2")
        names = {link["name"] for link in two["a"].snapshot()["links"]}
        assert "only-in-one" not in names
        assert footprint.of_lab(one)["net"].isdisjoint(footprint.of_lab(two)["net"])


def _machine_state() -> dict:
    """The machine's own network configuration, as far as this user may read it."""
    def out(*argv):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        except FileNotFoundError:
            return "(absent)"
        return r.stdout if r.returncode == 0 else f"(unreadable: rc {r.returncode})"

    ip = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "ip"
    state = {
        "links": out(ip, "-d", "link", "show"), "addrs": out(ip, "addr", "show"),
        "routes": out(ip, "route", "show", "table", "all"), "rules": out(ip, "rule", "show"),
        "netns": out(ip, "netns", "list"), "neigh-permanent": out(ip, "neigh", "show", "nud", "permanent"),
        "etc-netns": sorted(os.listdir("/etc/netns")) if os.path.isdir("/etc/netns") else None,
        "run-netns": sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else None,
    }
    for key in ("net/ipv4/ip_forward", "net/ipv4/conf/all/forwarding", "net/ipv6/conf/all/forwarding",
                "net/bridge/bridge-nf-call-iptables", "net/ipv4/conf/all/rp_filter"):
        try:
            with open(f"/proc/sys/{key}") as f:
                state[key] = f.read()
        except OSError:
            state[key] = None
    if ROOT:
        state["iptables"] = out("iptables-save")
        state["ip6tables"] = out("ip6tables-save")
        state["nft"] = out("nft", "list", "ruleset")
    return state


def test_the_machines_own_network_is_never_touched():
    before = _machine_state()
    with Lab() as lab:
        host = lab.add_node("host", kind="host")
        c1 = lab.add_node("c1", kind="container", parent="host")
        out = lab.add_node("out")
        host.add_bridge("docker0", address="172.17.0.1/16")
        lab.add_veth("host:vethc1", "c1:eth0", master="docker0")
        c1.add_address("eth0", "172.17.0.2/16")
        c1.add_route("default", via="172.17.0.1")
        lab.add_veth("host:eth0", "out:eth0")
        host.add_address("eth0", "203.0.113.1/24")
        out.add_address("eth0", "203.0.113.2/24")
        host.add_vxlan("vxlan0", 4096, dev="eth0", local="203.0.113.1", remote="203.0.113.2")
        host.add_macvlan("mv0", "eth0", into="c1")
        host.sysctl("net.ipv4.ip_forward", 1)
        c1.write_etc("resolv.conf", "nameserver 127.0.0.11\n")
        nat = host.run("iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE"
                       " && nft list ruleset", timeout=20)
        assert nat.rc == 0, nat.output
        assert pings(c1, "203.0.113.2")
        assert host.run("iptables -P FORWARD DROP").rc == 0
        lab.run_in_sandbox("ip netns add extra && ip link add extra0 type bridge")
        assert lab.run_in_sandbox("sysctl -w net.ipv4.ip_forward=1").rc == 0
    after = _machine_state()
    assert after == before


def test_no_user_namespaces_means_a_clear_error():
    """A kernel that refuses the sandbox's namespaces (here: a seccomp filter) gets LabUnavailable
    from the namespaces backend (Lab() without a backend then uses the VM: tests/vm/test_vm.py)."""
    code = textwrap.dedent(f"""
        import ctypes, platform, struct, sys
        sys.path.insert(0, {REPO!r})
        nr = {{"x86_64": 272, "aarch64": 97}}[platform.machine()]      # unshare(2)
        arch = {{"x86_64": 0xC000003E, "aarch64": 0xC00000B7}}[platform.machine()]
        prog = [(0x20, 0, 0, 4), (0x15, 0, 3, arch), (0x20, 0, 0, 0), (0x15, 0, 1, nr),
                (0x06, 0, 0, 0x00050000 | 1), (0x06, 0, 0, 0x7FFF0000)]          # EPERM / allow
        libc = ctypes.CDLL(None, use_errno=True)
        buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
        fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxP", len(prog), ctypes.addressof(buf)))
        assert libc.prctl(38, 1, 0, 0, 0) == 0                    # PR_SET_NO_NEW_PRIVS
        assert libc.prctl(22, 2, fprog, 0, 0) == 0, ctypes.get_errno()  # seccomp filter
        from nethelpers import Lab, LabUnavailable
        try:
            Lab(backend="namespaces")
        except LabUnavailable as exc:
            print(exc)
        else:
            print("NO ERROR")
    """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "NO ERROR" not in result.stdout
    assert "devcontainer" in result.stdout and "backend='vm'" in result.stdout
    if not ROOT:
        assert "user namespace" in result.stdout and "stored outputs" in result.stdout


def test_a_lab_outlives_the_thread_that_made_it_and_serves_several():
    """Jupyter may run a cell (or a widget callback) in another thread: the lab must not care."""
    import threading

    made = []
    maker = threading.Thread(target=lambda: made.append(Lab()))
    maker.start()
    maker.join()
    lab = made[0]
    try:
        lab.add_nodes(["a", "b"])
        lab.add_veth("a:eth0", "b:eth0")
        lab["a"].add_address("eth0", "10.0.0.1/24")
        lab["b"].add_address("eth0", "10.0.0.2/24")
        results = []
        workers = [threading.Thread(target=lambda: results.append(pings(lab["a"], "10.0.0.2")))
                   for _ in range(4)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        assert results == [True] * 4
    finally:
        lab.close()


def test_closing_a_second_lab_hands_the_magics_back_to_the_first():
    from nethelpers.lab import current_lab

    with Lab() as first:
        second = Lab()
        assert current_lab() is second
        second.close()
        assert current_lab() is first
    assert current_lab() is not first
