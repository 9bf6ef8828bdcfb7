"""The commands a learner types on a real machine work in the lab, word for word (issue 17).

``ip netns add`` run in a node names a namespace for the whole lab, as on a machine, and the
lab takes it in as a node inside that one; ``ip link add ... netns``, ``ip netns exec`` and
``nsenter --net`` reach it; ``ip netns delete`` removes it. And every lab operation can say
which commands it stands for (``lab.explain()``): replayed in a fresh lab, they build the same
thing. Expected outputs come from iproute2 (ip/ipnetns.c: ``netns add`` leaves ``lo`` down) and
the kernel, not from the lab.
"""

from __future__ import annotations

import pytest

from nethelpers import Lab, world
from nethelpers.equivalents import split
from nethelpers.errors import NotFound


@pytest.fixture
def myhost(lab):
    return lab.add_node("myhost", kind="host")


def test_ip_netns_add_in_a_node_makes_a_node_inside_it(lab, myhost):
    myhost.run("ip netns add app1", check=True)
    assert myhost.run("ip netns list", check=True).stdout.split() == ["app1", "myhost"]
    snap = lab.snapshot(["app1"])["app1"]
    assert (snap["kind"], snap["parent"]) == ("container", "myhost")
    # iproute2's netns_add unshares a new namespace and binds it: its lo is down, as the kernel made it
    assert lab["app1"].run("ip -br link show lo", check=True).stdout.split()[:2] == ["lo", "DOWN"]


def test_a_veth_into_the_named_namespace_is_reached_by_netns_exec_and_nsenter(lab, myhost):
    script = """
        ip netns add app1
        ip link add veth1 type veth peer name eth0 netns app1
        ip addr add 10.0.0.1/24 dev veth1
        ip link set veth1 up
        ip netns exec app1 ip addr add 10.0.0.2/24 dev eth0
        ip netns exec app1 ip link set eth0 up
        ip netns exec app1 ip link set lo up
    """
    for line in script.strip().splitlines():
        myhost.run(line.strip(), check=True)
    assert "10.0.0.2/24" in myhost.run("nsenter --net=/run/netns/app1 ip -br addr show eth0", check=True).stdout
    assert myhost.run("ping -c 1 -W 2 10.0.0.2").ok
    peer = lab.snapshot(["myhost"])["myhost"]["links"]
    assert [(x["name"], x["peer_node"], x["peer"]) for x in peer if x["name"] == "veth1"] == \
        [("veth1", "app1", "eth0")]


def test_ip_netns_delete_removes_the_node(lab, myhost):
    myhost.run("ip netns add app1", check=True)
    lab["app1"]
    myhost.run("ip netns delete app1", check=True)
    with pytest.raises(NotFound, match="no node 'app1'"):
        lab["app1"]
    myhost.run("ip netns add app1", check=True)  # the name is free again
    assert [n.name for n in lab.nodes()] == ["myhost", "app1"]


def test_what_is_no_network_namespace_is_no_node(lab, myhost):
    """A stray file, a second name for a namespace the lab has, or the sandbox's own, is left alone."""
    myhost.run("touch /run/netns/stray", check=True)
    myhost.run("touch /run/netns/again && mount --bind /run/netns/myhost /run/netns/again", check=True)
    # nor is the sandbox's own namespace (PID 1 of the lab is the sandbox) a node to be given commands
    # (the kernel refuses the bind here already: the sandbox is not dumpable, its /proc/1/ns is not ours)
    myhost.run("touch /run/netns/sandbox; mount --bind /proc/1/ns/net /run/netns/sandbox")
    assert [n.name for n in lab.nodes()] == ["myhost"]
    assert myhost.run("ip -br link show lo", check=True).ok


def test_a_mount_in_one_node_stays_in_that_command(lab, myhost):
    """Only /run/netns is shared between the nodes' commands: any other mount stays private."""
    other = lab.add_node("other")
    myhost.run("mount -t tmpfs lab-marker /tmp", check=True)  # (/tmp: a directory every machine and the VM has)
    assert "lab-marker" not in other.run("cat /proc/self/mountinfo", check=True).stdout
    assert "lab-marker" not in myhost.run("cat /proc/self/mountinfo", check=True).stdout


def _network_state(lab: Lab) -> dict:
    """What a build made, MACs left out (the lab's are stable, the kernel's random)."""
    snap = lab.snapshot()
    state = {}
    for name, node in snap.items():
        links = sorted((x["name"], x["kind"], x["up"], x["master"], x["peer_node"], x["peer"], x["mtu"])
                       for x in node["links"])
        state[name] = {"parent": node["parent"], "links": links,
                       "addresses": sorted(str(a) for a in node["addresses"]),
                       "routes": sorted(str(r) for r in node["routes"])}
    return state


def test_the_explained_commands_rebuild_the_same_lab(capsys):
    def build(lab):
        host = world.add_host(lab, "myhost")
        app1 = lab.add_node("app1", kind="container", parent="myhost")
        with lab.batch():
            host.add_bridge("br0", address="10.0.0.1/24")
            lab.add_veth("myhost:veth1", "app1:eth0", master="br0", mtu=1450)
        app1.add_address("eth0", "10.0.0.2/24")
        app1.add_route("default", via="10.0.0.1")
        host.sysctl("net.ipv4.ip_forward", 1)

    explained, expected = _explained(build, capsys)
    assert "myhost# ip link add veth1 mtu 1450 type veth peer name eth0 mtu 1450 netns app1" in explained
    assert "myhost# ip netns exec app1 ip route add default via 10.0.0.1" in explained
    with Lab() as replayed:
        _replay(replayed, explained)
        assert _network_state(replayed) == expected
        assert replayed["myhost"].run("sysctl -n net.ipv4.ip_forward", check=True).stdout == "1\n"


def test_a_macvlan_handed_to_a_container_replays_under_its_own_name(capsys):
    """eth0 of the container, a macvlan of the host's eth0: made on the host under another name and moved
    and renamed (``ip link add eth0 link eth0 ...`` would clash with the parent's name on the host)."""
    def build(lab):
        lab.add_node("switch")
        lab.add_node("host")
        lab.add_veth("switch:port1", "host:eth0")
        lab.add_node("c", parent="host")
        lab["host"].add_macvlan("eth0", "eth0", mode="bridge", into="c")
        lab["c"].add_address("eth0", "198.51.100.50/24")

    explained, expected = _explained(build, capsys)
    assert "host# ip link add mv-c link eth0 type macvlan mode bridge" in explained
    assert "host# ip link set mv-c netns c name eth0" in explained
    with Lab() as replayed:
        _replay(replayed, explained)
        assert _network_state(replayed) == expected


def _explained(build, capsys) -> tuple[str, dict]:
    """What ``build(lab)`` prints inside ``lab.explain()``, and the network it made."""
    with Lab() as built:
        with built.explain():
            build(built)
        return capsys.readouterr().out, _network_state(built)


def _replay(lab: Lab, explained: str) -> None:
    """Type each explained command where its prompt says, in a fresh lab."""
    for line in _lines(explained):
        node, command = split(line)
        result = lab.run_in_sandbox(command) if node is None else lab[node].run(command)
        assert result.ok, (line, result.output)


def _lines(text: str) -> list[str]:
    """The rendered commands, a here-document kept with its command."""
    lines, open_doc = [], False
    for line in text.splitlines():
        if open_doc:
            lines[-1] += "\n" + line
            open_doc = line != "EOF"
        else:
            lines.append(line)
            open_doc = "<<'EOF'" in line
    return lines


def test_removing_a_node_takes_a_hand_made_cable_with_it_at_once(lab, myhost):
    """The veth end left on myhost goes with app3 synchronously: the name is free for the next try."""
    lab.add_node("app3", parent="myhost")
    for _ in range(3):
        myhost.run("ip link add veth3 type veth peer name eth0 netns app3", check=True)
        lab.remove_node("app3")
        assert "veth3" not in myhost.run("ip -br link", check=True).stdout
        lab.add_node("app3", parent="myhost")


def test_ip_netns_delete_frees_the_veth_at_once_unless_a_process_holds_the_namespace(lab, myhost):
    """The kernel frees a namespace when nothing holds it — neither a name nor a process —
    and its veths with it (the lab does it at once); a process still in it keeps it, cable and all."""
    myhost.run("ip netns add app1 && ip link add veth1 type veth peer name eth0 netns app1", check=True)
    myhost.run("ip netns delete app1", check=True)
    assert "veth1" not in myhost.run("ip -br link", check=True).stdout
    myhost.run("ip netns add app2 && ip link add veth2 type veth peer name eth0 netns app2", check=True)
    sleeper = lab["app2"].start("sleep 30")
    myhost.run("ip netns delete app2", check=True)
    assert "veth2" in myhost.run("ip -br link", check=True).stdout
    sleeper.stop()
