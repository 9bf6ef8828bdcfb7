"""Exercises of notebook 08 (CNM vs CNI): publish a pod's port with a conflist; repair a plugin's broken result.

    PORT_MAPPING.check(lab)     # reads what the runtime ran for pod2, then tries the port
    BROKEN_RESULT.check(lab)    # looks for the qdisc the real bandwidth plugin puts on pod3's host veth

The CNI "node" is ``node2`` (a host on the lab's LAN, 198.51.100.11); ``lan-client`` is
the machine that knocks on its port.
"""

from __future__ import annotations

import copy
import json
import sys

from ..cni import PLUGIN_DIRS, CNIError, Runtime, cache, plugin_dir
from ..errors import NotFound
from ..i18n import N_, _
from . import Exercise, link, node_names, word_after

NODE, POD, POD3 = "node2", "pod2", "pod3"
NODE_IP, CLIENT = "198.51.100.11", "lan-client"
MAPPING = {"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}
BANDWIDTH = {"cniVersion": "1.0.0", "name": "slow", "type": "bandwidth",
             "ingressRate": 1_000_000, "ingressBurst": 100_000}
LAB_VETH = {"cniVersion": "1.0.0", "name": "slow", "plugins": [
    {"type": "lab-veth", "address": "10.23.0.2/24", "gateway": "10.23.0.1"}]}


def _record(lab, network=None):
    """The runtime's cached ADD for pod2 on node2 (any network), or None."""
    if NODE not in node_names(lab):
        return None
    return next((r for r in Runtime(lab, NODE).attachments(network) if r["containerId"] == POD), None)


# --- PORT_MAPPING ---------------------------------------------------------------------------
def _port_setup(lab):
    """pod2 on node2, attached to no network, its web server running on port 80."""
    runtime = Runtime(lab, NODE)
    for record in runtime.attachments():
        if record["containerId"] == POD:
            try:   # DEL runs the learner's own list backwards: portmap takes its rules away
                runtime.delete(cache.config_of(record), POD, ifname=record["ifName"])
            except CNIError:  # a DEL that fails: start from a fresh pod2 (its veth goes with it)
                cache.remove(lab.node(NODE), record["networkName"], POD, record["ifName"])
                if POD in node_names(lab):
                    lab.remove_node(POD)
    if POD not in node_names(lab):
        lab.add_node(POD, kind="container", parent=NODE)
    if lab.node(POD).run("ss -Htln sport = :80").stdout.strip() == "":
        web = lab.node(POD).start([sys.executable, "-m", "nethelpers.programs.web", "--name", POD])
        web.wait_for("serving")


def _port_solution(lab):
    conflist = {
        "cniVersion": "1.0.0", "name": "pods",
        "plugins": [
            {"type": "bridge", "bridge": "cni0", "isGateway": True,
             "ipam": {"type": "host-local", "subnet": "10.22.0.0/24", "routes": [{"dst": "0.0.0.0/0"}]}},
            {"type": "portmap", "capabilities": {"portMappings": True}},   # after bridge: it needs prevResult
        ],
    }
    runtime = Runtime(lab, "node2")
    runtime.add(conflist, "pod2", capability_args={
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp"}]})


def _attached(lab):
    missing = {NODE, POD, CLIENT} - node_names(lab)
    if missing:
        return _("the lab has no {missing}: run the exercise's first cell "
                 "(PORT_MAPPING.start(lab)); it makes pod2 and starts its web server").format(
                     missing=", ".join(sorted(missing)))
    if _record(lab) is None:
        return _("pod2 is not attached through CNI yet: write your `conflist` and run "
                 "`runtime.add(conflist, \"pod2\", capability_args={{\"portMappings\": [{{\"hostPort\": 8080, "
                 "\"containerPort\": 80, \"protocol\": \"tcp\"}}]}})`").format()
    return None


def _portmap_in_place(lab):
    plugins = cache.config_of(_record(lab)).get("plugins") or []
    types = [p.get("type") for p in plugins]
    if "portmap" not in types:
        return _("your conflist runs {types}: add {{\"type\": \"portmap\", \"capabilities\": "
                 "{{\"portMappings\": true}}}} at the end of \"plugins\" (then DEL pod2 and ADD it again)").format(
                     types=types)
    where = types.index("portmap")
    if "bridge" not in types[:where]:
        return _("portmap comes before the plugin that makes the interface: it needs the pod's address from "
                 "prevResult, so put it after \"bridge\" in \"plugins\" (then DEL pod2 and ADD it again)")
    if not (plugins[where].get("capabilities") or {}).get("portMappings"):
        return _("portmap has no \"capabilities\": {{\"portMappings\": true}}, so the runtime does not pass it "
                 "your port mappings (runtimeConfig) and it maps nothing: add it, DEL pod2, ADD it again").format()
    return None


def _mapping_asked(lab):
    asked = (_record(lab).get("capabilityArgs") or {}).get("portMappings") or []
    if not any(m.get("hostPort") == 8080 and m.get("containerPort") == 80
               and str(m.get("protocol", "tcp")).lower() == "tcp" for m in asked):
        if not asked:
            return _("the ADD of pod2 was given portMappings none: pass capability_args="
                     "{{\"portMappings\": [{{\"hostPort\": 8080, \"containerPort\": 80, \"protocol\": \"tcp\"}}]}} "
                     "(DEL pod2 first)").format()
        return _("the ADD of pod2 was given portMappings {asked}: pass capability_args="
                 "{{\"portMappings\": [{{\"hostPort\": 8080, \"containerPort\": 80, \"protocol\": \"tcp\"}}]}} "
                 "(DEL pod2 first)").format(asked=asked)
    return None


def _dnat_rule(lab):
    ips = _record(lab)["result"].get("ips") or []
    address = ips[0]["address"].split("/")[0] if ips else "?"
    rules = [rule.split() for rule in lab.node(NODE).run("iptables -t nat -S", check=True).stdout.splitlines()]
    # the rule itself, word by word: "-p tcp ... --dport 8080 -j DNAT --to-destination ADDRESS:80" (a
    # text search took ADDRESS:8080, or another port's rule, for it)
    if not any(word_after(rule, "-j") == "DNAT" and word_after(rule, "--to-destination") == f"{address}:80"
               and word_after(rule, "-p") == "tcp" and word_after(rule, "--dport") == "8080" for rule in rules):
        return _("node2's nat table has no DNAT of tcp port 8080 to {address}:80; see `%lab node2 iptables -t "
                 "nat -S` — portmap writes it into CNI-HOSTPORT-DNAT when it gets runtimeConfig.portMappings").format(
                     address=address)
    return None


def _reachable(lab):
    reply = lab.node(CLIENT).run(f"curl -s --max-time 3 http://{NODE_IP}:8080/", timeout=10)
    if "hello from pod2" not in reply.stdout:
        got = reply.stdout.strip()[:80]
        if not got:
            return _("curl http://{address}:8080/ from lan-client got 'no answer'; "
                     "is pod2's web server still running? (the exercise's first cell starts it again)").format(
                         address=NODE_IP)
        return _("curl http://{address}:8080/ from lan-client got {answer}; "
                 "is pod2's web server still running? (the exercise's first cell starts it again)").format(
                     address=NODE_IP, answer=repr(got))
    return None


PORT_MAPPING = Exercise(N_("publish pod2's port 80 as node2:8080 with portmap"), [
    (N_("pod2 is attached by the runtime on node2"), _attached),
    (N_("your conflist chains portmap after bridge, with capabilities.portMappings"), _portmap_in_place),
    (N_("the ADD was given hostPort 8080 -> containerPort 80"), _mapping_asked),
    (N_("node2 has the DNAT rule portmap writes"), _dnat_rule),
    (N_("lan-client reaches pod2's web server at 198.51.100.11:8080"), _reachable),   # NODE_IP
], setup=_port_setup, solution=_port_solution)


# --- BROKEN_RESULT --------------------------------------------------------------------------
def broken_result(lab) -> dict:
    """pod3's result as a buggy plugin prints it: without the host end of the veth pair
    (a copy of what lab-veth really returned, minus that interface)."""
    broken = copy.deepcopy(Runtime(lab, NODE).cached(LAB_VETH, POD3)) if POD3 in node_names(lab) else None
    if broken is None:
        raise NotFound(_("pod3 is not plugged into node2: run the exercise's first cell, "
                         "exercises.BROKEN_RESULT.start(lab)"))
    keep = [i for i, iface in enumerate(broken["interfaces"]) if iface.get("sandbox")]
    broken["interfaces"] = [broken["interfaces"][i] for i in keep]
    for ip in broken.get("ips", []):
        if ip.get("interface") in keep:
            ip["interface"] = keep.index(ip["interface"])
    return broken


def run_plugin(lab, plugin: str, command: str, config: dict, container: str = POD3) -> tuple[int, dict | None]:
    """Execute a real plugin in node2 by hand, as a runtime does: (exit status, its JSON)."""
    directory = plugin_dir(plugin) or PLUGIN_DIRS[0]   # /usr/lib/cni on Debian, /usr/libexec/cni on Fedora
    env = [f"CNI_COMMAND={command}", f"CNI_CONTAINERID={container}", f"CNI_NETNS=/run/netns/{container}",
           "CNI_IFNAME=eth0", f"CNI_PATH={directory}"]
    reply = lab.node(NODE).run(["env", *env, f"{directory}/{plugin}"], input=json.dumps(config), timeout=20)
    text = reply.stdout.strip()
    return reply.rc, (json.loads(text) if text.startswith("{") else None)


def _result_setup(lab):
    """pod3 freshly plugged into node2 by lab-veth: no qdisc on its host veth, no ifb of bandwidth's."""
    runtime = Runtime(lab, NODE)
    runtime.delete(LAB_VETH, POD3)        # lab-veth deletes the veth pair, and any qdisc on it with it
    run_plugin(lab, "bandwidth", "DEL", BANDWIDTH)   # the ifb an egress limit would have made
    if POD3 in node_names(lab):
        lab.remove_node(POD3)
    lab.add_node(POD3, kind="container", parent=NODE)
    runtime.add(LAB_VETH, POD3)


def _result_solution(lab):
    fixed = exercises.broken_result(lab)
    peer = exercises.link(lab, "pod3", "eth0")["peer"]     # eth0's other end, in node2
    fixed["interfaces"].append({"name": peer})             # appended: the ips' "interface": 0 still means eth0
    exercises.run_plugin(lab, "bandwidth", "ADD", dict(exercises.BANDWIDTH, prevResult=fixed))


exercises = sys.modules[__name__]  # the solutions are written as in the notebook, which imports this module so


def _pod3_plugged(lab):
    eth0 = link(lab, POD3, "eth0") if POD3 in node_names(lab) else None
    if eth0 is None or eth0.get("peer_node") != NODE:
        return _("pod3 is not plugged into node2 with a veth pair: run the exercise's first cell "
                 "(BROKEN_RESULT.start(lab)); it plugs pod3 in with lab-veth")
    return None


def _shaped(lab):
    peer = link(lab, POD3, "eth0")["peer"]
    qdiscs = lab.node(NODE).run(f"tc qdisc show dev {peer}", check=True).stdout
    if "qdisc tbf" not in qdiscs:
        return _("{peer}, the host end of pod3's veth pair, has no tbf qdisc: bandwidth has not accepted a "
                 "result for pod3 yet. Read the message run_plugin returns: bandwidth looks for that host end "
                 "among the result's \"interfaces\" (an interface on the host has no \"sandbox\"; "
                 "`%lab node2 ip -br link` lists node2's). Repair `fixed`, then run bandwidth's ADD again").format(
                     peer=peer)
    return None


BROKEN_RESULT = Exercise(N_("repair a result so that bandwidth can shape pod3's traffic"), [
    (N_("pod3 is plugged into node2 by lab-veth"), _pod3_plugged),
    (N_("bandwidth shaped pod3's host veth (a tbf qdisc on it)"), _shaped),
], setup=_result_setup, solution=_result_solution)

__all__ = ["PORT_MAPPING", "BROKEN_RESULT", "broken_result", "run_plugin", "MAPPING", "BANDWIDTH"]
