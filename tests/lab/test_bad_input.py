"""Bad input: a specific exception naming the cause and the fix, and the lab left as it was."""

from __future__ import annotations

import pathlib

import pytest

from nethelpers import (AlreadyExists, InvalidAddress, InvalidName, InvalidValue, KernelError,
                        MissingFeature, NotFound)


def _unchanged(lab, call, error, *fragments):
    before = lab.snapshot()
    with pytest.raises(error) as caught:
        call()
    for fragment in fragments:
        assert fragment in str(caught.value), str(caught.value)
    assert lab.snapshot() == before
    return str(caught.value)


def test_interface_name_longer_than_15(lab, pair):
    _unchanged(lab, lambda: lab.add_veth("a:a-very-long-name0", "b:x"), InvalidName,
               "'a-very-long-name0' has 17 characters", "at most 15", "Shorten it")
    _unchanged(lab, lambda: pair[0].add_bridge("br/x"), InvalidName, "may not contain")



@pytest.mark.parametrize("name", ["br:0", "br/0", "br 0", "br\t0", "br\n0", "br\v0", "br\f0", "br\r0", ".", ".."])
def test_interface_names_the_kernel_refuses_are_refused_first(lab, name):
    """Linux net/core/dev.c ``dev_valid_name``: not empty, under IFNAMSIZ, not "." or "..", and no
    '/', ':' or ``isspace()`` character (lib/ctype.c: space, \\t, \\n, \\v, \\f, \\r) — the kernel
    answers EINVAL; the lab says why before asking it."""
    lab.add_node("n")
    _unchanged(lab, lambda: lab["n"].add_bridge(name), InvalidName, "may not contain")

@pytest.mark.parametrize("cidr, words", [
    ("10.0.0.300/24", ["not a valid CIDR", "'10.0.0.2/24'"]),
    ("10.0.0.5", ["needs a prefix length"]),
    ("10.0.0.0/24", ["network address of 10.0.0.0/24", "10.0.0.1/24"]),
    ("10.0.0.255/24", ["broadcast address"]),
])
def test_invalid_cidrs(lab, pair, cidr, words):
    _unchanged(lab, lambda: pair[0].add_address("eth0", cidr), InvalidAddress, *words)


def test_overlapping_subnet_on_another_interface(lab, pair):
    a, _ = pair
    a.add_bridge("br0")
    _unchanged(lab, lambda: a.add_address("br0", "10.0.0.7/24"), InvalidAddress,
               "overlaps 10.0.0.1/24 on a:eth0", "allow_overlap=True")
    a.add_address("br0", "10.0.0.7/24", allow_overlap=True)  # on purpose: the routing-clash lesson
    assert a.run("ip route show 10.0.0.0/24").stdout.count("10.0.0.0/24") == 2


def test_same_address_twice(lab, pair):
    _unchanged(lab, lambda: pair[0].add_address("eth0", "10.0.0.1/24"), AlreadyExists,
               "10.0.0.1 is already assigned")


def test_gateway_outside_every_subnet(lab, pair):
    _unchanged(lab, lambda: pair[0].add_route("default", via="10.9.9.1"), InvalidAddress,
               "gateway 10.9.9.1 is outside every subnet", "10.0.0.1/24 on eth0")


def test_route_destination_with_host_bits(lab, pair):
    _unchanged(lab, lambda: pair[0].add_route("10.1.0.1/16", via="10.0.0.2"), InvalidAddress,
               "host bits set", "10.1.0.0/16")


def test_duplicate_node_and_duplicate_interface(lab, pair):
    _unchanged(lab, lambda: lab.add_node("a"), AlreadyExists, "a node named 'a' exists already",
               "remove_node('a')")
    _unchanged(lab, lambda: lab.add_veth("a:eth0", "b:eth1"), AlreadyExists,
               "a:eth0 <-> b:eth1", "exists already")


def test_a_kernel_refusal_keeps_its_object_cause_and_fix(lab):
    """The kernel's EEXIST for a link made by hand (``ip link``, which the lab does not track): its
    strerror(3) text "File exists" (glibc, errno 17), the object, and the way out — the lab's
    contract for every exception (nethelpers/errors.py: "each names the object, the cause and the
    fix"; README "Bad input"), which a message cut after the cause would break."""
    n = lab.add_node("n")
    n.run("ip link add br0 type bridge", check=True)
    message = _unchanged(lab, lambda: n.add_bridge("br0"), AlreadyExists,
                         "bridge 'br0' in node 'n'", "File exists")
    assert message.split("File exists", 1)[1].strip(" —;."), "no fix after the cause"
    assert "remove it" in message

def test_unknown_node_and_interface(lab, pair):
    _unchanged(lab, lambda: lab.add_veth("a:x0", "zz:eth0"), NotFound, "no node 'zz'", "nodes: a, b")
    _unchanged(lab, lambda: pair[0].add_address("eth9", "10.3.0.1/24"), NotFound,
               "node 'a' has no interface 'eth9'")
    _unchanged(lab, lambda: pair[0].remove_link("eth9"), NotFound, "node 'a' has no interface 'eth9'")
    _unchanged(lab, lambda: lab.remove_nodes(["a", "zz"]), NotFound, "no node 'zz'")
    _unchanged(lab, lambda: pair[0].remove_link("lo"), InvalidValue, "loopback")
    with pytest.raises(NotFound, match="no node 'zz'"):
        lab["zz"]


def test_bad_names_and_values(lab):
    _unchanged(lab, lambda: lab.add_node("has space"), InvalidName, "not usable")
    _unchanged(lab, lambda: lab.add_node("n", kind="vm"), InvalidValue, "kind 'vm'")
    lab.add_node("n")
    _unchanged(lab, lambda: lab["n"].add_vxlan("vx0", 2 ** 24), InvalidValue, "VNI", "0 to 16777215")
    _unchanged(lab, lambda: lab["n"].set_link("lo", mtu=10), InvalidValue, "MTU 10")
    _unchanged(lab, lambda: lab["n"].add_route("default"), InvalidValue, "via=")
    _unchanged(lab, lambda: lab["n"].add_neighbour("10.0.0.1", "zz:zz", "lo"), InvalidAddress, "MAC")


def test_a_link_type_the_kernel_lacks(lab):
    lab.add_node("n")
    _unchanged(lab, lambda: lab["n"].add_link("x0", "nosuchkind"), MissingFeature,
               "no 'nosuchkind' link type", "doctor")


def test_a_failed_step_in_the_middle_is_undone(lab, pair):
    a, b = pair
    with pytest.raises(InvalidAddress):
        with lab.batch():
            a.add_bridge("br1", address="10.20.0.1/24")
            lab.add_veth("a:v1", "b:v1", master="br1")
            b.add_address("v1", "10.20.0.2/24")
            b.add_route("default", via="10.99.0.1")  # fails: outside every subnet
    names = {l["name"] for l in a.snapshot()["links"]} | {l["name"] for l in b.snapshot()["links"]}
    assert names == {"lo", "eth0"}


def test_a_failed_batch_takes_back_sysctls_neighbours_and_fdb_entries_too(lab, pair):
    """``Lab.batch``: "All or nothing: if one fails, those before it are undone" — also what a
    snapshot of links does not show, read back from the kernel with sysctl(8), ip-neighbour(8)
    and bridge(8)."""
    a, _ = pair
    a.add_bridge("br0")
    kernel = "sysctl -n net.ipv4.ip_forward; ip neigh show dev eth0 nud permanent; bridge fdb show dev br0"
    before = a.run(kernel, check=True).stdout
    with pytest.raises(InvalidAddress):
        with lab.batch():
            a.sysctl("net.ipv4.ip_forward", 1)
            a.add_neighbour("10.0.0.9", "02:00:00:00:00:09", "eth0")
            a.add_fdb("02:00:00:00:00:0a", "br0", master=False)
            a.add_route("default", via="10.99.0.1")  # fails: outside every subnet
    assert a.run(kernel, check=True).stdout == before
    assert a.sysctl("net.ipv4.ip_forward") == "0"

def test_removing_a_host_that_still_holds_containers(lab, bridged):
    _unchanged(lab, lambda: lab.remove_node("host"), InvalidValue, "still holds c1, c2",
               "remove_nodes(['c1', 'c2', 'host'])")
    lab.remove_nodes(["host", "c1", "c2"])
    assert lab.nodes() == []


def test_removing_a_missing_fdb_or_neighbour_entry_says_where_to_look(lab):
    from nethelpers import NotFound

    a, _ = lab.add_nodes(["a", "b"])
    lab.add_veth("a:eth0", "b:eth0")
    a.add_vxlan("vx0", 42, dev="eth0")
    before = lab.snapshot()
    with pytest.raises(NotFound, match="bridge fdb show dev vx0"):
        a.remove_fdb("02:42:0a:00:00:05", "vx0", dst="10.0.0.2")
    with pytest.raises(NotFound, match="ip neigh show dev vx0"):
        a.remove_neighbour("10.9.0.5", "02:42:0a:00:00:05", "vx0")
    assert lab.snapshot() == before


# --- commands: checked before anything is sent, so a refused one starts nothing ---------------
def _sandbox_processes(lab) -> list[str]:
    lines = lab.run_in_sandbox(["ps", "-eo", "args"], check=True).stdout.splitlines()
    return sorted(line for line in lines if line != "ps -eo args")


def _starts_nothing(lab, call, error, *fragments):
    before = (lab.snapshot(), lab.processes(), _sandbox_processes(lab))
    message = _unchanged(lab, call, error, *fragments)
    assert (lab.snapshot(), lab.processes(), _sandbox_processes(lab)) == before
    assert lab.run_in_sandbox("echo still here").stdout == "still here\n"  # the lab goes on
    return message


BAD_COMMANDS = [
    (lambda n: n.run(None), ["command None is None", "give a str such as 'ip -br addr'"]),
    (lambda n: n.run(b"ip addr"), ["is bytes", ".decode()"]),
    (lambda n: n.run([]), ["command [] is empty", "['ip', '-br', 'addr']"]),
    (lambda n: n.run("  "), ["is empty", "give the command to run"]),
    (lambda n: n.run(["", "x"]), ["empty program name"]),
    (lambda n: n.run(["sleep", None]), ["argument 1 of the command, None, is None", "must be a str"]),
    (lambda n: n.run(["echo", "a\0b"]), ["argument 1", "NUL", "remove it"]),
    (lambda n: n.start(None), ["command None is None"]),
    (lambda n: n.start(["echo", "a\0b"]), ["NUL"]),
    (lambda n: n.lab.run_in_sandbox(None), ["command None is None"]),
    # MAX_ARG_STRLEN (131072 bytes with the NUL) for one argument: the kernel says E2BIG
    (lambda n: n.run("echo " + "x" * 131072), ["131077 bytes long", "at most 131071 bytes", "E2BIG",
                                               "input="]),
    (lambda n: n.run(["echo", "x" * 131072]), ["argument 1 of the command", "at most 131071 bytes"]),
    (lambda n: n.run(["echo", *["x" * 100_000] * 11]), ["at most 1048576 bytes", "input="]),
    (lambda n: n.run("true", timeout="abc"), ["timeout='abc' is a str, not a number of seconds",
                                               "timeout=30"]),
    (lambda n: n.run("true", timeout=-1), ["timeout=-1 is out of range", "more than 0"]),
    (lambda n: n.run("true", timeout=0), ["out of range"]),
    (lambda n: n.run("true", timeout=float("nan")), ["out of range"]),
    (lambda n: n.run("true", timeout=True), ["not a number of seconds"]),
    (lambda n: n.run("cat", input=b"\xff\xfe"), ["not UTF-8", "base64"]),
    (lambda n: n.run("cat", input=5), ["input=5 is a int", "as a str"]),
    (lambda n: n.run("cat", input="\ud800"), ["lone surrogate", "remove it"]),
]


@pytest.mark.parametrize("call, words", BAD_COMMANDS)
def test_a_refused_command_starts_nothing(lab, call, words):
    node = lab.add_node("n")
    _starts_nothing(lab, lambda: call(node), InvalidValue, *words)
    assert node.run("echo ok").stdout == "ok\n"


def test_input_bytes_are_taken_as_their_text_and_leave_nothing_running(lab):
    node = lab.add_node("n")
    before = _sandbox_processes(lab)
    assert node.run("cat", input=b"x").stdout == "x"        # (was: KernelError, and `sh -c cat` left running)
    assert node.run("cat", input="é".encode()).stdout == "é"
    assert _sandbox_processes(lab) == before and lab.processes() == []
    assert node.run(["echo", 3, pathlib.PurePosixPath("/tmp")]).stdout == "3 /tmp\n"  # ints and paths: their text
    assert node.run("echo " + "x" * 131066).stdout == "x" * 131066 + "\n"  # the longest argument Linux takes
    assert node.run("sleep 0.1", timeout=None).ok


def test_an_interface_name_long_in_bytes_gets_a_shorter_suggestion(lab):
    node = lab.add_node("n")
    message = _unchanged(lab, lambda: node.add_bridge("ëëëëëëëë"), InvalidName,
                         "8 characters, 16 bytes in UTF-8", "at most 15 bytes")
    suggested = message.split("e.g. ")[1].strip("'")
    assert suggested == "ëëëëëëë" and len(suggested.encode()) <= 15
    node.add_bridge(suggested)                               # the suggestion works
    assert suggested in {link["name"] for link in node.snapshot()["links"]}


def test_sysctl_sets_net_settings_only_and_says_what_a_bad_value_should_be(lab):
    node = lab.add_node("n")
    for key in ("kernel.printk_ratelimit", "kernel.hostname", "vm.swappiness"):
        was = node.sysctl(key)                                # reading any key is fine
        _starts_nothing(lab, lambda: node.sysctl(key, "1"), InvalidValue, f"sysctl {key!r} cannot be set",
                        "only net.* settings", "machine-wide", "never changes the machine")
        assert node.sysctl(key) == was
    _unchanged(lab, lambda: node.sysctl("net.ipv4.ip_forward", "abc"), KernelError,
               "net.ipv4.ip_forward", "refused the value 'abc'", "Invalid argument", "takes a number (now '0')")
    _unchanged(lab, lambda: node.sysctl("net.ipv4.ip_local_port_range", "abc"), KernelError,
               "takes 2 numbers separated by spaces")
    assert node.sysctl("net.ipv4.ip_forward") == "0"
    assert node.sysctl("net.ipv4.ip_forward", 1) == "1"      # a good value still goes through
