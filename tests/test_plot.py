"""lab.plot() / nethelpers.plot.draw: the topology picture, drawn from real labs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.image
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import nethelpers
from nethelpers import Lab
from nethelpers.plot import HIGHLIGHT, draw


@pytest.fixture(scope="module")
def snapshot():
    """A docker-like host (docker0, c1, c2) wired to "internet", with a vxlan and a macvlan."""
    with Lab() as lab:
        host = lab.add_node("host", kind="host")
        c1 = lab.add_node("c1", kind="container", parent="host")
        c2 = lab.add_node("c2", kind="container", parent="host")
        net = lab.add_node("internet", kind="server")
        host.add_bridge("docker0", address="172.17.0.1/16")
        lab.add_veth("host:veth1", "c1:eth0", master="docker0")
        lab.add_veth("host:veth2", "c2:eth0", master="docker0")
        c1.add_address("eth0", "172.17.0.2/16")
        c2.add_address("eth0", "172.17.0.3/16")
        lab.add_veth("host:eth0", "internet:eth0")
        host.add_address("eth0", "203.0.113.1/24")
        net.add_address("eth0", "203.0.113.2/24")
        host.add_vxlan("vxlan0", 4096, dev="eth0", local="203.0.113.1", remote="203.0.113.2")
        host.add_macvlan("mv0", "eth0", into="c1")
        yield lab.snapshot()


def _png(fig) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=80, metadata={"Software": None})
    return out.getvalue()


def _texts(fig) -> str:
    return "\n".join(t.get_text() for ax in fig.axes for t in ax.texts)


def _box(fig, gid):
    patch = next(p for p in fig.axes[0].patches if p.get_gid() == gid)
    return patch.get_x(), patch.get_y(), patch.get_x() + patch.get_width(), patch.get_y() + patch.get_height()


def _synthetic(routers: int, containers: int) -> dict:
    """A snapshot built by hand (drawing only): a ring of routers, each with a host of containers."""
    snap = {}

    def node(name, kind, parent=None):
        snap[name] = {"name": name, "kind": kind, "parent": parent, "addresses": [], "routes": [],
                      "neighbours": [], "fdb": [], "links": [{"index": 1, "kind": "loopback", "name": "lo"}]}

    def veth(a, a_if, b, b_if, master=None):
        for n, i, pn, pi, m in ((a, a_if, b, b_if, master), (b, b_if, a, a_if, None)):
            snap[n]["links"].append({"index": len(snap[n]["links"]) + 1, "kind": "veth", "name": i,
                                     "master": m, "peer_node": pn, "peer": pi})
            snap[n]["addresses"].append({"dev": i, "family": "inet", "address": f"10.{len(snap)}.0.1/24"})

    for r in range(routers):
        node(f"r{r}", "router")
    for r in range(routers):
        veth(f"r{r}", "right", f"r{(r + 1) % routers}", "left")
        node(f"h{r}", "host")
        snap[f"h{r}"]["links"].append({"index": 9, "kind": "bridge", "name": "br0"})
        veth(f"r{r}", "down", f"h{r}", "eth0")
        for c in range(containers):
            node(f"h{r}c{c}", "container", parent=f"h{r}")
            veth(f"h{r}", f"veth{c}", f"h{r}c{c}", "eth0", master="br0")
    return snap


def test_draw_returns_a_figure_on_the_agg_canvas(snapshot):
    fig = draw(snapshot, title="docker")
    assert isinstance(fig, Figure) and isinstance(fig.canvas, FigureCanvasAgg)
    assert fig.axes[0].get_title() == "docker"


def test_lab_plot_draws_the_live_lab():
    with Lab() as lab:
        lab.add_node("a", kind="router")
        fig = lab.plot(title="one node")
    assert isinstance(fig, Figure) and "a" in _texts(fig).split("\n")


def test_png_is_a_real_picture(snapshot):
    png = _png(draw(snapshot))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    pixels = matplotlib.image.imread(io.BytesIO(png))
    assert pixels.shape[0] > 200 and pixels.shape[1] > 400
    assert pixels[..., :3].std() > 0.05  # not a blank page


def test_same_snapshot_same_picture(snapshot):
    assert _png(draw(snapshot)) == _png(draw(snapshot))


def test_same_picture_whatever_the_hash_seed(snapshot):
    """No dependence on set or dict order: another process with another hash seed agrees."""
    script = ("import io, json, sys; from nethelpers.plot import draw; out = io.BytesIO(); "
              "draw(json.load(sys.stdin)).savefig(out, format='png', dpi=80, metadata={'Software': None}); "
              "sys.stdout.buffer.write(out.getvalue())")
    here = str(Path(nethelpers.__file__).parent.parent)
    pictures = {subprocess.run([sys.executable, "-c", script], input=json.dumps(snapshot).encode(),
                               capture_output=True, check=True, timeout=120,
                               env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": here}).stdout
                for seed in ("1", "2")}
    assert pictures == {_png(draw(snapshot))}


def test_containers_and_bridges_are_inside_their_host(snapshot):
    fig = draw(snapshot)
    hx0, hy0, hx1, hy1 = _box(fig, "node:host")
    for gid in ("node:c1", "node:c2", "bridge:host:docker0", "link:host:vxlan0"):
        x0, y0, x1, y1 = _box(fig, gid)
        assert hx0 < x0 < x1 < hx1 and hy0 < y0 < y1 < hy1, gid
    ix0, _, ix1, _ = _box(fig, "node:internet")
    assert ix1 < hx0 or ix0 > hx1  # beside the host, not in it


def test_every_veth_end_is_labelled_with_its_name_and_addresses(snapshot):
    texts = _texts(draw(snapshot))
    for node in snapshot.values():
        for link in node["links"]:
            if link["kind"] == "veth":
                assert link["name"] in texts
                for a in node["addresses"]:
                    if a["dev"] == link["name"]:
                        assert a["address"] in texts


def test_vxlan_and_macvlan_are_dashed_and_say_what_they_are(snapshot):
    fig = draw(snapshot)
    texts = _texts(fig)
    assert "vxlan0 VNI 4096" in texts and "remote 203.0.113.2" in texts
    assert "mv0 macvlan bridge" in texts
    assert sum(line.get_linestyle() == "--" for line in fig.axes[0].lines) == 2
    assert "lo" not in texts.split("\n")


def test_highlight_colours_boxes_and_wires(snapshot):
    fig = draw(snapshot, highlight=["c1", ("c1", "eth0")])
    patch = next(p for p in fig.axes[0].patches if p.get_gid() == "node:c1")
    assert to_hex(patch.get_edgecolor()) == HIGHLIGHT
    assert sum(to_hex(line.get_color()) == HIGHLIGHT for line in fig.axes[0].lines) == 1
    assert not any(to_hex(line.get_color()) == HIGHLIGHT for line in draw(snapshot).axes[0].lines)


def test_an_empty_lab_says_so():
    with Lab() as lab:
        fig = lab.plot()
    assert "empty lab" in [t.get_text() for t in fig.texts]
    assert _png(fig).startswith(b"\x89PNG")


def test_a_hundred_nodes_draw_quickly_without_interface_labels():
    snap = _synthetic(10, 8)
    assert len(snap) == 100
    start = time.monotonic()
    fig = draw(snap)
    png = _png(fig)
    assert time.monotonic() - start < 10
    assert len(png) > 10_000
    assert "eth0" not in _texts(fig)  # names of machines only
    assert sum(p.get_gid().startswith("node:") for p in fig.axes[0].patches) == 100


def test_exact_highlight_lights_only_wires_with_both_ends_listed_and_badges_number_nodes(snapshot):
    def lit(fig):
        return sum(to_hex(line.get_color()) == HIGHLIGHT for line in fig.axes[0].lines)

    one_end = ["c1", "host", ("c1", "eth0")]
    assert lit(draw(snapshot, highlight=one_end)) == 1               # one end listed lights the wire
    assert lit(draw(snapshot, highlight=one_end, exact=True)) == 0   # exact: both ends must be
    both = one_end + [("host", "veth1")]
    fig = draw(snapshot, highlight=both, exact=True, badges={"c1": "1", "host": "2"})
    assert lit(fig) == 1
    assert {t.get_text() for t in fig.axes[0].texts} >= {"1", "2"}


def test_every_stored_picture_fits_jupyterlabs_width():
    """JupyterLab shows a picture at its pixel size up to the notebook's width (about 1000 px at the
    default zoom) and shrinks a wider one, labels and all: no committed picture is wider."""
    import base64
    import struct

    wide = []
    for notebook in sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb")):
        for number, cell in enumerate(json.loads(notebook.read_text())["cells"]):
            for output in cell.get("outputs", []):
                png = output.get("data", {}).get("image/png")
                if png:
                    width = struct.unpack(">I", base64.b64decode(png)[16:20])[0]  # the PNG's IHDR
                    if width > 1000:
                        wide.append(f"{notebook.name} cell {number}: {width} px")
    assert wide == []


def test_a_wide_lab_is_drawn_within_that_width(lab):
    from IPython.core.pylabtools import print_figure

    lab.add_nodes([f"h{i}" for i in range(8)], kind="host")
    for i in range(8):
        lab.add_veth(f"h{i}:eth0", f"h{(i + 1) % 8}:eth1")
    fig = lab.plot(figsize=(16, 5))  # as wide as a natural size may be
    png = print_figure(fig, "png", bbox_inches="tight")  # as IPython's inline backend shows it
    assert fig.get_figwidth() == 16 and int.from_bytes(png[16:20], "big") <= 1000
