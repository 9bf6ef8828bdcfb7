"""Chapter 08's pictures, drawn from live objects, checked from the figure before it is rendered;
and what its helpers hide from printed output, and what they keep."""

from __future__ import annotations

import pytest

from nethelpers import diagrams, world
from nethelpers.diagrams import mask

from figures import _rect, _within, assert_fits


def test_mask_hides_random_macs_and_veth_names_but_keeps_docker_macs():
    text = "02:42:ac:11:00:02 02:42:0a:00:01:05 02:42:c0:a8:01:02 aa:bb:cc:dd:ee:ff veth1a2b3c4d"
    assert mask(text) == ("02:42:ac:11:00:02 02:42:0a:00:01:05 02:42:c0:a8:01:02 xx:xx:xx:xx:xx:xx veth…")


def test_a_random_mac_that_starts_like_dockers_is_still_masked():
    # The kernel's random MACs start with 02:42 once in 16384; CI once printed one (02:42:e1:3e:1f:97).
    assert mask({"mac": "02:42:e1:3e:1f:97"}) == {"mac": "xx:xx:xx:xx:xx:xx"}
    assert mask("02:42:ac:30:00:01") == "xx:xx:xx:xx:xx:xx"  # 172.48.0.1 is not a private address


def test_veth_names_can_be_kept():
    assert mask("veth1a2b3c4d aa:bb:cc:dd:ee:ff", veths=False) == "veth1a2b3c4d xx:xx:xx:xx:xx:xx"


# --- the pictures: every artist has a gid naming what it shows (see diagrams.py) ---------------
def _artists(fig) -> dict:
    ax = fig.axes[0]
    return {a.get_gid(): a for a in (*ax.patches, *ax.lines, *ax.texts) if a.get_gid()}


def _inside(fig, inner, outer) -> bool:
    renderer = fig.canvas.get_renderer()
    return _within(inner.get_window_extent(renderer), outer.get_window_extent(renderer))


@pytest.fixture
def cnm_lab(lab):
    """Chapter 08's CNM: on node1, c1 and c2 on "front" (the bridge driver) and on "back" (a remote
    plugin, labnet, with its own IPAM), and an endpoint created but joined to no sandbox."""
    from nethelpers.cnm import Controller, start_plugin

    world.add_host(lab, "node1")
    ctl = Controller(lab, host="node1")
    front = ctl.new_network("bridge", "front")
    for name in ("c1", "c2"):
        front.create_endpoint(name).join(ctl.new_sandbox(name))
    plugin = start_plugin(lab["node1"], "labnet")
    ctl.register_plugin("labnet")
    back = ctl.new_network("labnet", "back", ipam="labnet")
    for name in ("c1", "c2"):
        back.create_endpoint(name).join(ctl.sandboxes[name])
    front.create_endpoint("spare")
    yield ctl
    plugin.stop()


def test_cnm_picture_has_each_sandbox_endpoint_and_network_wired_as_the_controller_has_them(cnm_lab):
    ctl = cnm_lab
    fig = diagrams.cnm(ctl, title="CNM on node1")
    art = _artists(fig)
    networks = {net.name: net for net in ctl.networks.values()}
    assert sorted(g for g in art if g.startswith("network:")) == sorted(f"network:{n}" for n in networks)
    for name, net in networks.items():
        label = art[f"label:network:{name}"]
        assert label.get_text() == (f"Network {name}  ·  driver {net.type}  ·  "
                                    f"{f'IPAM {net.ipam_name}' if net.ipam_name else 'no IPAM'}"
                                    + (f"  ·  {net.subnet}" if net.subnet else ""))
        assert _inside(fig, label, art[f"network:{name}"])
    groups = {sb.container_id: list(sb.endpoints) for sb in ctl.sandboxes.values()}
    groups["(not joined)"] = [ep for net in networks.values() for ep in net.endpoints.values() if ep.sandbox is None]
    assert [ep.name for ep in groups["(not joined)"]] == ["spare"] and set(groups) == {"c1", "c2", "(not joined)"}
    assert sorted(g for g in art if g.startswith("sandbox:")) == sorted(f"sandbox:{s}" for s in groups)
    for sandbox, endpoints in groups.items():
        box, label = art[f"sandbox:{sandbox}"], art[f"label:sandbox:{sandbox}"]
        assert label.get_text() == (sandbox if sandbox == "(not joined)" else f"Sandbox {sandbox}")
        assert _inside(fig, label, box)
        for ep in endpoints:
            key = f"{ep.network.name}:{ep.name}"  # an endpoint's name is unique in its network
            ep_box, ep_label = art[f"endpoint:{key}"], art[f"label:endpoint:{key}"]
            assert _inside(fig, ep_box, box) and _inside(fig, ep_label, ep_box)
            assert ep_label.get_text() == (f"Endpoint {ep.name}\n{ep.ifname or '-'}  {ep.address or 'no address'}"
                                           f"\nnetwork {ep.network.name}")
            # its wire: straight down from the endpoint's box to the top of its own network's bar
            (x, y0), (x1, y1) = art[f"wire:{key}"].get_xydata()
            ex0, ey0, ex1, _ = _rect(ep_box)
            nx0, _, nx1, ny1 = _rect(art[f"network:{ep.network.name}"])
            assert x == x1 and ex0 < x < ex1 and nx0 < x < nx1
            assert (y0, y1) == pytest.approx((ey0, ny1))
    wires = [g for g in art if g.startswith("wire:")]
    assert len(wires) == sum(map(len, groups.values()))
    # the joined endpoints' addresses as the kernel has them in the containers
    for name in ("c1", "c2"):
        shown = {ep.address for ep in groups[name]}
        kernel = {a["address"] for a in ctl.lab.snapshot([name])[name]["addresses"] if a["dev"] != "lo"}
        assert shown <= kernel and len(shown) == 2
    assert_fits(fig)


def test_cni_picture_has_a_lifeline_per_plugin_and_an_arrow_pair_per_call(lab):
    from nethelpers.cni import Runtime

    world.add_host(lab, "node2")
    lab.add_node("p3", kind="container", parent="node2")
    chained = {"cniVersion": "1.0.0", "name": "chain",
               "plugins": [{"type": "lab-veth", "address": "10.24.0.2/24", "gateway": "10.24.0.1"},
                           {"type": "portmap", "capabilities": {"portMappings": True}},
                           {"type": "bandwidth", "capabilities": {"bandwidth": True}}]}
    asked = {"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "tcp"}],
             "bandwidth": {"ingressRate": 1000000, "ingressBurst": 100000,
                           "egressRate": 1000000, "egressBurst": 100000}}
    chain = Runtime(lab, "node2").add(chained, "p3", capability_args=asked)
    fig = diagrams.cni(chain, title="CNI: ADD of the chain")
    art = _artists(fig)
    calls = [e for e in chain.exchanges if e.command != "VERSION"]
    assert [e.plugin for e in calls] == ["lab-veth", "portmap", "bandwidth"]  # ADD runs them in order
    lifelines = ["runtime", "lab-veth", "portmap", "bandwidth"]
    assert sorted(g for g in art if g.startswith("lifeline:")) == sorted(f"lifeline:{n}" for n in lifelines)
    x = {}
    for name in lifelines:
        box, label = art[f"lifeline:{name}"], art[f"label:lifeline:{name}"]
        assert label.get_text() == name and _inside(fig, label, box)
        x0, y0, x1, _ = _rect(box)
        (tx, ty0), (tx1, ty1) = art[f"time:{name}"].get_xydata()  # time goes down from the box
        assert tx == tx1 == pytest.approx((x0 + x1) / 2) and ty0 == pytest.approx(y0) and ty1 < ty0
        x[name] = tx
    assert [x[n] for n in lifelines] == sorted(x.values())  # left to right in the order they run
    rows = []
    for i, e in enumerate(calls):
        call, answer = art[f"call:{i}:{e.plugin}"], art[f"answer:{i}:{e.plugin}"]
        # the call goes from the runtime to this plugin's lifeline, the answer comes back below it
        assert call.xyann[0] == pytest.approx(x["runtime"]) and call.xy[0] == pytest.approx(x[e.plugin] - 0.05)
        assert answer.xy[0] == pytest.approx(x["runtime"]) and answer.xyann[0] == pytest.approx(x[e.plugin] - 0.05)
        assert answer.xy[1] < call.xy[1]
        rows.append(call.xy[1])
        assert art[f"label:call:{i}:{e.plugin}"].get_text().startswith("ADD  config: " + e.plugin)
        assert art[f"label:answer:{i}:{e.plugin}"].get_text().startswith("result: ")
    assert rows == sorted(rows, reverse=True)  # one below the other, in the order they ran
    versions = [e.plugin for e in chain.exchanges if e.command == "VERSION"]
    assert art["label:versions"].get_text() == (f"before: VERSION asked of {', '.join(versions)} → "
                                                f"they agree on {chain.cni_version}")
    assert_fits(fig)
