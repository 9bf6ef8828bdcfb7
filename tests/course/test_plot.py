"""lab.plot() / nethelpers.plot.draw: the topology picture, drawn from real labs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex
from matplotlib.figure import Figure

import nethelpers
from nethelpers import Lab, world
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


@pytest.mark.timeout(120)  # a generous bound (about 2 s here): the speed itself is not asserted
def test_a_hundred_nodes_draw_without_interface_labels():
    snap = _synthetic(10, 8)
    assert len(snap) == 100
    fig = draw(snap)
    png = _png(fig)
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
    for notebook in sorted((Path(__file__).resolve().parents[2] / "notebooks").glob("*.ipynb")):
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


# --- a picture's structure, checked from the Figure before it is rendered -----------------------
# plot.draw gives every artist a gid naming what it shows: "node:N" (a machine's box), "bridge:N:BR"
# (a bridge's bar), "link:N:IF" (a pill), "wire:N:IF|M:IF2" (a cable, drawn from its first end),
# "tunnel:…", and "label:node:N", "label:end:N:IF", "label:bridge:N:BR", "label:link:N:IF",
# "badge:N" for the texts. A broken drawing (a node or a label missing, a cable to the wrong box,
# labels on top of each other, a picture too wide or spilling over) fails one of these.

from figures import SHOWN_WIDTH_PX, _rect, _within, assert_fits, labels  # noqa: F401 (shared)


def _artists(fig) -> dict:
    ax = fig.axes[0]
    return {a.get_gid(): a for a in (*ax.patches, *ax.lines, *ax.texts) if a.get_gid()}


def _on_border(point, rect, tol=0.02) -> bool:
    (x, y), (x0, y0, x1, y1) = point, rect
    return (x0 - tol <= x <= x1 + tol and y0 - tol <= y <= y1 + tol
            and min(abs(x - x0), abs(x - x1), abs(y - y0), abs(y - y1)) <= tol)


def _distance_to_segment(p, a, b) -> float:
    p, a, b = (np.asarray(v, dtype=float) for v in (p, a, b))
    t = np.clip((p - a) @ (b - a) / max((b - a) @ (b - a), 1e-12), 0, 1)
    return float(np.linalg.norm(p - (a + t * (b - a))))


def _link(snapshot, node, ifname) -> dict:
    return next(link for link in snapshot[node]["links"] if link["name"] == ifname)


def _addresses(snapshot, node, ifname) -> set:
    return {a["address"] for a in snapshot[node]["addresses"]
            if a["dev"] == ifname and not a["address"].startswith("fe80")}


def _element(art, snapshot, end):
    """What an interface is drawn on: its own pill, else (a veth) its bridge's bar, else its node's
    box (a vxlan on a bridge too: its dashed line and tunnel leave the box)."""
    node, ifname = end
    link = _link(snapshot, node, ifname)
    bar = link["kind"] == "veth" and link.get("master") and art.get(f"bridge:{node}:{link['master']}")
    return art.get(f"link:{node}:{ifname}") or bar or art[f"node:{node}"]


def assert_topology(fig, snapshot: dict, nodes: set) -> None:
    """``nodes`` of the lab's ``snapshot`` (a lab.snapshot()), as drawn in ``fig``: each a box
    with its name in it; each veth pair between two of them one cable, whose ends touch what its
    two interfaces are drawn on (their node's box, their bridge's bar or their pill); each end of a
    cable labelled with its name and addresses, at its end of the cable; each bridge's bar with
    its name and addresses."""
    art, renderer = _artists(fig), fig.canvas.get_renderer()
    assert {gid.split(":", 1)[1] for gid in art if gid.startswith("node:")} == nodes
    for node in nodes:
        label = art.get(f"label:node:{node}")
        assert label is not None and label.get_text() == node, f"no name in {node}'s box"
        assert _within(label.get_window_extent(renderer), art[f"node:{node}"].get_window_extent(renderer)), node
        for link in snapshot[node]["links"]:
            bar = art.get(f"bridge:{node}:{link['name']}")
            if link["kind"] == "bridge" and bar:
                words = art[f"label:bridge:{node}:{link['name']}"].get_text().split("  ")
                # the name, with a Docker network's name beside its bridge's: "docker0 (bridge)"
                assert words[0].split(" (")[0] == link["name"] and set(words[1:]) == _addresses(snapshot, node,
                                                                                                link["name"])
    cables = {frozenset({(node, link["name"]), (link["peer_node"], link["peer"])})
              for node in nodes for link in snapshot[node]["links"]
              if link["kind"] == "veth" and link.get("peer_node") in nodes and link.get("peer")}
    wires = {}
    for gid, line in art.items():
        if gid.startswith("wire:"):
            a, b = (tuple(end.split(":", 1)) for end in gid.removeprefix("wire:").split("|"))
            if all(_link(snapshot, *end)["kind"] == "veth" for end in (a, b)):
                assert frozenset({a, b}) not in wires, f"two cables for {gid}"
                wires[frozenset({a, b})] = (a, b, line)
    assert set(wires) == cables
    for a, b, line in wires.values():
        for end, point in zip((a, b), line.get_xydata()):
            element = _element(art, snapshot, end)
            assert _on_border(point, _rect(element)), f"the cable {a}-{b} does not end on {element.get_gid()}"
            label = art.get(f"label:end:{end[0]}:{end[1]}") or art.get(f"label:link:{end[0]}:{end[1]}")
            assert label is not None, f"{end} has no label"
            name, *addresses = label.get_text().split("\n")
            assert name == end[1] and set(addresses) == _addresses(snapshot, *end), label.get_text()
            if label.get_gid().startswith("label:end:"):  # beside its end of the cable, or on it
                near = _distance_to_segment(label.get_position(), *line.get_xydata())
                assert near <= 0.12, f"{end}'s label is {near:.2f} in from its cable"


def _kept(lab, nodes: list[str]) -> set:
    """What lab.plot(nodes) draws: those nodes and everything inside them."""
    parent = {name: snap.get("parent") for name, snap in lab.snapshot().items()}
    kept = set(nodes)
    for name in parent:
        ancestor = parent[name]
        while ancestor is not None:
            if ancestor in nodes:
                kept.add(name)
            ancestor = parent.get(ancestor)
    return kept


def test_a_docker_like_host_has_every_node_cable_and_label_in_place(snapshot):
    fig = draw(snapshot, title="docker")
    assert_topology(fig, snapshot, set(snapshot))
    assert_fits(fig)
    art = _artists(fig)
    # the dashed lines: the macvlan from c1 to its parent, the vxlan to its underlay device
    for gid in ("wire:c1:mv0|host:eth0", "wire:host:vxlan0|host:eth0"):
        assert art[gid].get_linestyle() == "--", gid


@pytest.fixture(scope="module")
def docker_host():
    """Chapter 01's Docker host: c1 and web (-p 8080:80) on docker0, c3 on bridge1."""
    with Lab() as lab:
        lab.docker("run -dit --name c1 busybox")
        lab.docker("run -d --name web -p 8080:80 nginx")
        lab.docker("network create bridge1")
        lab.docker("run -dit --name c3 --network bridge1 busybox")
        yield lab


# Two labels of a short cable (docker-host's eth0 and the router's port "docker-host" on the LAN; a
# container's eth0 and its overlay sandbox's veth0) and a hop's badge next to a port label used to
# collide: the plot slides an interface label along its cable until it is clear (plot._separate_labels).

def test_chapter_01_pictures_have_every_node_cable_and_label_in_place(docker_host):
    lab, snap = docker_host, docker_host.snapshot()
    for nodes, title in ((None, "the world"), (["docker-host"], "docker-host after three docker run")):
        fig = lab.plot(nodes, title=title)
        assert_topology(fig, snap, _kept(lab, nodes) if nodes else set(snap))
        assert_fits(fig)
        assert fig.axes[0].get_title() == title


def test_a_traced_path_is_numbered_hop_by_hop_on_its_nodes(docker_host):
    lab = docker_host
    t = lab.trace("lan-client", "198.51.100.10", tcp=8080)
    fig = t.plot()
    assert_topology(fig, lab.snapshot(), set(lab.snapshot()))
    assert_fits(fig)
    art = _artists(fig)
    hops = {hop.node: str(i) for i, hop in enumerate(t.hops, 1)}
    assert {gid.removeprefix("badge:"): a.get_text() for gid, a in art.items() if gid.startswith("badge:")} == hops
    for node in hops:  # on its node's box, at the top right corner
        x0, y0, x1, y1 = _rect(art[f"node:{node}"])
        assert art[f"badge:{node}"].get_position() == pytest.approx((x1 - 0.02, y1 - 0.02))


def test_an_overlay_picture_draws_the_tunnel_between_the_two_vxlan_ends(overlay_pair):
    lab = overlay_pair
    sandboxes = sorted(n.name for n in lab.nodes() if ".1-" in n.name)
    nodes = ["router", "docker-host", "host2", "c1", "c2", *sandboxes]
    fig = lab.plot(nodes, title="ov1")
    snap = lab.snapshot()
    assert_topology(fig, snap, _kept(lab, nodes))
    assert_fits(fig)
    art = _artists(fig)
    tunnels = [gid for gid in art if gid.startswith("tunnel:")]
    assert tunnels == [f"tunnel:{sandboxes[0]}:vxlan0|{sandboxes[1]}:vxlan0"]
    assert art["label:" + tunnels[0]].get_text() == "tunnel VNI 4097"  # Swarm's first VNI is 4096 + 1
    ends = art[tunnels[0]].get_xydata()
    for point, sandbox in zip(ends, sandboxes):
        assert _on_border(point, _rect(_element(art, snap, (sandbox, "vxlan0"))))


def test_the_outbound_path_of_chapter_01(lab):
    world.add_host(lab, "myhost")  # as in notebook 01 (cell 69): docker-host is the LAN's second host
    lab.docker("run -dit --name c1 busybox")
    fig = lab.trace("c1", "203.0.113.10").plot(["docker-host", "router", "internet"])
    assert_topology(fig, lab.snapshot(), _kept(lab, ["docker-host", "router", "internet"]))
    assert_fits(fig)


def test_a_docker_bridge_is_drawn_with_its_networks_name(docker_lab):
    """Docker names the default network "bridge" and its Linux bridge docker0; a user network's bridge is
    br- and the first 12 characters of its ID (moby daemon/libnetwork/drivers/bridge: bridgePrefix "br-")."""
    docker_lab.docker("network create bridge1")
    ident = docker_lab.docker("network inspect -f '{{.Id}}' bridge1").strip()[:12]
    fig = docker_lab.plot(["docker-host"])
    texts = {t.get_gid(): t.get_text() for t in fig.axes[0].texts}
    assert texts["label:bridge:docker-host:docker0"] == "docker0 (bridge)  172.17.0.1/16"
    assert texts[f"label:bridge:docker-host:br-{ident}"] == f"br-{ident} (bridge1)  172.18.0.1/16"


def test_a_highlight_is_in_the_legend_and_a_long_title_is_wrapped(lab):
    from nethelpers.plot.legibility import problems

    lab.add_node("a")
    lab.add_node("b")
    lab.add_veth("a:eth0", "b:eth0")
    title = "a very long title " * 12
    fig = lab.plot(title=title, highlight=["a"], highlight_label="the path")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[-1] == "the path"
    assert "\n" in fig.axes[0].get_title() and problems(fig) == []
    plain = lab.plot()
    assert "highlighted" not in [t.get_text() for t in plain.axes[0].get_legend().get_texts()]
