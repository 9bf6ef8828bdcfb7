"""The lab core's newer handles: kernel features a lab needs (Lab(needs=...)), which background
processes have ended (Lab.exited, one request), and typed interface handles (Node.interface)."""

from __future__ import annotations

import psutil
import pytest

from nethelpers import Interface, Lab
from nethelpers.errors import InvalidName, InvalidValue, LabUnavailable, MissingFeature
from nethelpers import features


def sandboxes() -> set[int]:
    """The pids of this process's sandbox children (each lab has one)."""
    return {p.pid for p in psutil.Process().children(recursive=True)
            if "nethelpers.sandbox" in " ".join(p.cmdline())}


@pytest.fixture(scope="module")
def kernel_has_ipvlan() -> bool:
    """Whether this machine's kernel makes an ipvlan: tried, as the lab tries it."""
    with Lab(backend="namespaces") as plain:
        return not features.missing(plain, ("ipvlan",))


# --- Lab(needs=[...]) ---------------------------------------------------------------------------
def test_an_unknown_feature_is_refused_before_anything_starts():
    before = sandboxes()
    with pytest.raises(InvalidValue, match=r"'ipvlan2' is not a kernel feature.*it knows ipvlan"):
        Lab(needs=["ipvlan2"])
    with pytest.raises(InvalidValue, match="must be a list of kernel features"):
        Lab(needs=42)
    assert sandboxes() == before


def test_a_feature_this_kernel_has_keeps_the_lab_here():
    # macvlan is one of the link types the course requires (doctor: REQUIRED)
    with Lab(backend="namespaces", needs="macvlan") as lab:
        assert lab.backend == "namespaces"
        assert [n.name for n in lab.nodes()] == []  # the probe node is gone


def test_ipvlan_is_there_whichever_kernel_gives_it(kernel_has_ipvlan):
    try:
        lab = Lab(needs=["ipvlan"])
    except (LabUnavailable, MissingFeature) as exc:  # no QEMU here: the message says what to do
        assert "VM" in str(exc)
        pytest.skip(f"no backend with ipvlan here: {exc}")
    with lab:
        assert lab.backend == ("namespaces" if kernel_has_ipvlan else "vm")
        node = lab.add_node("n")
        node.add_bridge("p0")
        node.add_ipvlan("iv0", "p0", mode="l3")
        assert "ipvlan  mode l3" in node.run("ip -d link show iv0", check=True).stdout
        assert "features-probe" not in {n.name for n in lab.nodes()}


def test_asking_for_this_kernel_and_a_feature_it_lacks_says_how_to_get_it(kernel_has_ipvlan):
    if kernel_has_ipvlan:
        pytest.skip("this kernel has ipvlan: nothing is missing")
    before = sandboxes()
    with pytest.raises(MissingFeature, match=r"needs the ipvlan link type, and this machine's kernel has none; "
                                             r"leave backend unset \(or use backend='vm'\)"):
        Lab(backend="namespaces", needs=["ipvlan"])
    assert sandboxes() == before  # the lab it tried in is gone


# --- Lab.exited -------------------------------------------------------------------------------
def test_exited_names_the_ended_processes_with_their_status(lab):
    node = lab.add_node("n")
    quick, slow, failing = node.start("true"), node.start("sleep 30"), node.start("sh -c 'exit 3'")
    quick.wait(), failing.wait()  # (wait() stops them: their status is then known without asking)
    fresh = node.start("sh -c 'exit 5'")
    for _ in range(200):
        ended = lab.exited([quick, slow, failing, fresh])
        if fresh.id in ended:
            break
    assert ended == {quick.id: 0, failing.id: 3, fresh.id: 5}
    slow.stop()
    assert lab.exited([slow])[slow.id] is not None  # SIGTERM: a negative status
    assert lab.exited([]) == {}


def test_exited_takes_only_this_labs_processes(lab):
    with pytest.raises(InvalidValue, match="background processes of this lab"):
        lab.exited([1, 2])
    with Lab() as other:
        stranger = other.add_node("n").start("sleep 5")
        with pytest.raises(InvalidValue, match="background processes of this lab"):
            lab.exited([stranger])


# --- Interface handles --------------------------------------------------------------------------
def test_a_link_is_made_between_interface_handles(lab):
    a, b = lab.add_node("a"), lab.add_node("b")
    end = a.interface("v0")
    assert end == Interface("a", "v0") and str(end) == "a:v0"
    lab.add_veth(end, b.interface("v0"))
    lab.add_veth("a:v1", Interface("b", "v1"))  # a string and a handle mix
    assert "v0@" in a.run("ip -br link show v0", check=True).stdout
    assert "v1@" in b.run("ip -br link show v1", check=True).stdout


def test_a_bad_interface_handle_is_refused(lab):
    lab.add_node("a")
    with pytest.raises(InvalidName, match="interface name"):
        lab["a"].interface("a-name-longer-than-fifteen")
    with pytest.raises(InvalidName, match="must be written 'node:interface'"):
        lab.add_veth(("a", "v0", "extra"), "a:v1")
    with pytest.raises(InvalidName, match="node name"):
        lab.add_veth(Interface("no such/node", "v0"), "a:v1")
    assert "v1" not in lab["a"].run("ip -br link", check=True).stdout
