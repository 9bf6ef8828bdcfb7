"""The network-mode explorer (notebook 00): every mode built for real, its ping matrix, the widget glue."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from nethelpers import explorer
from nethelpers.docker import DockerError
from nethelpers.errors import InvalidValue
from nethelpers.lab import _open_labs

# per mode: the address each container answers on, and the pings that make the mode's point
EXPECTED = {
    "bridge": ({"c1": "172.17.0.2", "c2": "172.17.0.3"},
               {("c1", "c2"): True, ("c1", "internet"): True, ("docker-host", "c1"): True,
                ("lan-client", "c1"): False, ("internet", "c2"): False}),
    "none": ({"n1": None, "n2": None},
             {("n1", "docker-host"): False, ("n1", "internet"): False, ("docker-host", "n1"): None,
              ("lan-client", "docker-host"): True}),
    "host": ({"h1": "198.51.100.10", "h2": "198.51.100.10"},
             {("lan-client", "h1"): True, ("h1", "internet"): True, ("internet", "h2"): True}),
    "container": ({"pod": "172.17.0.2", "side": "172.17.0.2"},
                  {("side", "pod"): True, ("side", "internet"): True, ("lan-client", "side"): False}),
    "macvlan": ({"m1": "198.51.100.128", "m2": "198.51.100.129"},
                {("m1", "m2"): True, ("lan-client", "m1"): True, ("m1", "internet"): True,
                 ("docker-host", "m1"): False, ("m2", "docker-host"): False}),
    "overlay": ({"o1": "10.0.1.2", "o2": "10.0.1.3"},
                {("o1", "o2"): True, ("o2", "internet"): True, ("docker-host", "o1"): False,
                 ("host2", "o2"): False, ("lan-client", "o1"): False}),
}


def open_labs() -> set:
    return {lab for lab in _open_labs if not lab.closed}


@pytest.mark.parametrize("mode", list(explorer.MODES))
def test_each_mode_is_built_and_its_pings_show_the_point(mode):
    addresses, pings = EXPECTED[mode]
    with explorer.build(mode) as lab:
        points = explorer.endpoints(lab, mode)
        result = explorer.reachability(lab, points)
    assert {p.label: p.address for p in points if p.container} == addresses
    assert len(result) == len(points) * (len(points) - 1)  # every pair, both ways
    assert {pair: result[pair] for pair in pings} == pings
    text = explorer.matrix_text(points, result)
    assert text.splitlines()[1].split()[3:] == [p.label for p in points]


def test_the_matrix_reads_from_the_row_to_the_column():
    """Bridge mode is one-way: a container reaches the LAN (moby v27.5.1's
    ``-A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE``) but the LAN client has no route
    to 172.17.0.0/16 and nothing is published, so it gets no reply. Each printed cell is the ping
    from its row's endpoint to its column's; a transposed table would show the reverse."""
    with explorer.build("bridge") as lab:
        points = explorer.endpoints(lab, "bridge")
        result = explorer.reachability(lab, points)
    assert (result[("c1", "lan-client")], result[("lan-client", "c1")]) == (True, False)
    lines = explorer.matrix_text(points, result).splitlines()
    columns = lines[1].split()[3:]
    rows = {line.split()[0]: dict(zip(columns, line.split()[1:])) for line in lines[2:2 + len(points)]}
    assert (rows["c1"]["lan-client"], rows["lan-client"]["c1"]) == ("✓", "✗")
    assert all(rows[a][b] == explorer.MARKS[result[(a, b)]] for (a, b) in result)

def test_a_container_sharing_a_namespace_is_pinged_from_there():
    with explorer.build("container") as lab:
        assert {p.label: p.node for p in explorer.endpoints(lab, "container") if p.container} == \
            {"pod": "pod", "side": "pod"}


def test_show_prints_the_commands_facts_and_matrix_and_leaves_no_lab(capsys):
    before = open_labs()
    explorer.show("none")
    out = capsys.readouterr().out
    assert "$ docker run -dit --name n1 --network none busybox" in out
    assert "ENETUNREACH" in out and "from \\ to" in out
    assert "n1 (none)" in out  # no address to ping
    assert open_labs() == before


def test_build_reports_each_docker_command_as_progress():
    steps = []
    with explorer.build("overlay", progress=lambda done, total, text: steps.append((done, total, text))):
        pass
    assert steps[0] == (0, 7, "starting a lab") and steps[-1] == (7, 7, "overlay built")
    assert (2, 7, "TOKEN=$(docker swarm join-token -q worker)") in steps
    assert [done for done, _, _ in steps] == list(range(8))


def test_a_failed_build_closes_its_lab(monkeypatch):
    broken = explorer.Mode("broken", "a network that does not exist",
                           ("run -dit --name x --network nosuch busybox",), (("x", "docker-host"),), ())
    monkeypatch.setitem(explorer.MODES, "broken", broken)
    before = open_labs()
    with pytest.raises(DockerError, match="network nosuch not found"):
        explorer.build("broken")
    assert open_labs() == before


def test_an_unknown_mode_names_the_modes_and_the_likely_one():
    with pytest.raises(InvalidValue, match=r"'macvlam' is not one of bridge, none, .*did you mean 'macvlan'"):
        explorer.build("macvlam")


def test_the_widget_builds_on_choice_pings_on_click_and_closes_the_previous_lab():
    ex = explorer.widget()
    assert ex.lab is None and ex.ping.disabled  # nothing is built before a choice
    ex.mode.value = "container"
    first = ex.lab
    assert not first.closed and not ex.ping.disabled and "container is built" in ex.status.value
    kinds = [output["output_type"] for output in ex.out.outputs]
    assert kinds == ["stream", "display_data"]  # the facts, then the drawing
    assert "--network container:pod" in ex.out.outputs[0]["text"]
    ex.ping.click()
    assert "side" in ex.out.outputs[-1]["text"] and "✗" in ex.out.outputs[-1]["text"]
    ex.mode.value = "none"
    assert first.closed and not ex.lab.closed
    second, again = ex.lab, explorer.widget()  # running the cell again closes the old explorer's lab
    assert second.closed and ex.lab is None and again.lab is None
    bundle = again._repr_mimebundle_()
    assert bundle["text/plain"] == explorer.STAND_IN
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_the_saved_notebook_keeps_neither_widget_state_nor_widget_views():
    """Model ids are new on every run: saved, they would change the file each time."""
    path = Path(__file__).resolve().parents[2] / "notebooks" / "00-start-here.ipynb"
    notebook = nbformat.read(path, as_version=4)
    assert "widgets" not in notebook.metadata
    data = [output.get("data", {}) for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs]
    assert not any("application/vnd.jupyter.widget-view+json" in d for d in data)
    assert {"text/plain": explorer.STAND_IN} in data
