"""Chapter 07 (CNM vs CNI): publish a pod's port with a conflist; repair a plugin's broken result.

    PORT_MAPPING.check(lab)            # reads what the runtime ran for pod2, then tries the port
    BROKEN_RESULT.check(lab, fixed)    # runs the real bandwidth plugin on your result (then DEL)

The CNI "node" is ``node2`` (a host on the lab's LAN, 198.51.100.11); ``lan-client`` is
the machine that knocks on its port.
"""

from __future__ import annotations

import copy
import json

from ..cni import Runtime
from ..cni import result as result_schema
from . import Exercise, link, node_names

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
def _attached(lab):
    missing = {NODE, POD, CLIENT} - node_names(lab)
    if missing:
        return (f"the lab has no {', '.join(sorted(missing))}: run the cell that sets up this exercise "
                "(it starts pod2's web server on node2)")
    if _record(lab) is None:
        return ("pod2 is not attached through CNI yet: write your `conflist` and run "
                "`runtime.add(conflist, \"pod2\", capability_args={\"portMappings\": [{\"hostPort\": 8080, "
                "\"containerPort\": 80, \"protocol\": \"tcp\"}]})`")
    return None


def _portmap_in_place(lab):
    plugins = _record(lab)["config"].get("plugins") or []
    types = [p.get("type") for p in plugins]
    if "portmap" not in types:
        return (f"your conflist runs {types}: add {{\"type\": \"portmap\", \"capabilities\": "
                "{\"portMappings\": true}} at the end of \"plugins\" (then DEL pod2 and ADD it again)")
    where = types.index("portmap")
    if "bridge" not in types[:where]:
        return ("portmap comes before the plugin that makes the interface: it needs the pod's address from "
                "prevResult, so put it after \"bridge\" in \"plugins\" (then DEL pod2 and ADD it again)")
    if not (plugins[where].get("capabilities") or {}).get("portMappings"):
        return ("portmap has no \"capabilities\": {\"portMappings\": true}, so the runtime does not pass it "
                "your port mappings (runtimeConfig) and it maps nothing: add it, DEL pod2, ADD it again")
    return None


def _mapping_asked(lab):
    asked = (_record(lab).get("capabilityArgs") or {}).get("portMappings") or []
    if not any(m.get("hostPort") == 8080 and m.get("containerPort") == 80 for m in asked):
        return (f"the ADD of pod2 was given portMappings {asked or 'none'}: pass capability_args="
                "{\"portMappings\": [{\"hostPort\": 8080, \"containerPort\": 80, \"protocol\": \"tcp\"}]} "
                "(DEL pod2 first)")
    return None


def _dnat_rule(lab):
    ips = _record(lab)["result"].get("ips") or []
    address = ips[0]["address"].split("/")[0] if ips else "?"
    rules = lab.node(NODE).run("iptables -t nat -S", check=True).stdout
    if f"--to-destination {address}:80" not in rules:
        return (f"node2's nat table has no DNAT to {address}:80; see `%lab node2 iptables -t nat -S` — "
                "portmap writes it into CNI-HOSTPORT-DNAT when it gets runtimeConfig.portMappings")
    return None


def _reachable(lab):
    reply = lab.node(CLIENT).run(f"curl -s --max-time 3 http://{NODE_IP}:8080/", timeout=10)
    if "hello from pod2" not in reply.stdout:
        return (f"curl http://{NODE_IP}:8080/ from lan-client got {reply.stdout.strip()[:80] or 'no answer'!r}; "
                "is pod2's web server still running (the setup cell starts it)?")
    return None


PORT_MAPPING = Exercise("publish pod2's port 80 as node2:8080 with portmap", [
    ("pod2 is attached by the runtime on node2", _attached),
    ("your conflist chains portmap after bridge, with capabilities.portMappings", _portmap_in_place),
    ("the ADD was given hostPort 8080 -> containerPort 80", _mapping_asked),
    ("node2 has the DNAT rule portmap writes", _dnat_rule),
    (f"lan-client reaches pod2's web server at {NODE_IP}:8080", _reachable),
])


# --- BROKEN_RESULT --------------------------------------------------------------------------
def broken_result(lab) -> dict:
    """Plug pod3 into node2 with lab-veth (if not done yet) and return its result as a buggy
    plugin would print it: without the host end of the veth pair."""
    if POD3 not in node_names(lab):
        lab.add_node(POD3, kind="container", parent=NODE)
    runtime = Runtime(lab, NODE)
    good = runtime.cached(LAB_VETH, POD3) or runtime.add(LAB_VETH, POD3).result
    broken = copy.deepcopy(good)
    keep = [i for i, iface in enumerate(broken["interfaces"]) if iface.get("sandbox")]
    broken["interfaces"] = [broken["interfaces"][i] for i in keep]
    for ip in broken.get("ips", []):
        if ip.get("interface") in keep:
            ip["interface"] = keep.index(ip["interface"])
    return broken


def run_plugin(lab, plugin: str, command: str, config: dict, container: str = POD3) -> tuple[int, dict | None]:
    """Execute a real plugin in node2 by hand, as a runtime does: (exit status, its JSON)."""
    env = [f"CNI_COMMAND={command}", f"CNI_CONTAINERID={container}", f"CNI_NETNS=/run/netns/{container}",
           "CNI_IFNAME=eth0", "CNI_PATH=/usr/lib/cni"]
    reply = lab.node(NODE).run(["env", *env, f"/usr/lib/cni/{plugin}"], input=json.dumps(config), timeout=20)
    text = reply.stdout.strip()
    return reply.rc, (json.loads(text) if text.startswith("{") else None)


class _WithAnswer(Exercise):
    """An exercise whose checker also looks at a value the learner made (``check(lab, value)``)."""

    answer = None

    def passed(self, lab, answer=None) -> bool:
        self.answer = answer
        return super().passed(lab)

    def check(self, lab, answer=None) -> None:
        self.answer = answer
        super().check(lab)


def _valid(lab):
    fixed = BROKEN_RESULT.answer
    if not isinstance(fixed, dict):
        return "give your repaired result to the checker: `exercises.BROKEN_RESULT.check(lab, fixed)`"
    found = result_schema.problems(fixed, "1.0.0")
    if found:
        return "it is not a valid CNI 1.0.0 result: " + "; ".join(found)
    return None


def _container_side(lab):
    ifaces = BROKEN_RESULT.answer.get("interfaces") or []
    if not any(i.get("name") == "eth0" and i.get("sandbox") == f"/run/netns/{POD3}" for i in ifaces):
        return ("keep the container's interface: {\"name\": \"eth0\", \"mac\": ..., \"sandbox\": "
                "\"/run/netns/pod3\"} — bandwidth enters that namespace to find eth0's peer")
    return None


def _host_side(lab):
    eth0 = link(lab, POD3, "eth0") or {}
    peer = eth0.get("peer")
    names = [i.get("name") for i in BROKEN_RESULT.answer.get("interfaces") or [] if not i.get("sandbox")]
    if peer not in names:
        return (f"the result lists no host-side interface named {peer!r} (pod3's eth0 is one end of a veth "
                f"pair; {peer} in node2 is the other — see `%lab node2 ip -br link`): add "
                f"{{\"name\": \"{peer}\"}} to \"interfaces\" (no \"sandbox\": it lives on the host)")
    return None


def _bandwidth_accepts(lab):
    config = dict(BANDWIDTH, prevResult=BROKEN_RESULT.answer)
    rc, reply = run_plugin(lab, "bandwidth", "ADD", config)
    run_plugin(lab, "bandwidth", "DEL", config)
    peer = (link(lab, POD3, "eth0") or {}).get("peer")
    if peer:  # bandwidth's DEL leaves the tbf on the host veth (it goes with the veth): remove it too
        lab.node(NODE).run(f"tc qdisc del dev {peer} root 2>/dev/null; true")
    if rc != 0:
        msg = (reply or {}).get("msg", "no error result")
        return f"the real bandwidth plugin still refuses it: {msg!r}"
    return None


BROKEN_RESULT = _WithAnswer("repair a result so that bandwidth can shape pod3's traffic", [
    ("your result is a valid CNI result", _valid),
    ("it lists pod3's eth0 with its sandbox", _container_side),
    ("it lists the host end of pod3's veth pair", _host_side),
    ("the real bandwidth plugin accepts it as prevResult (ADD, then DEL)", _bandwidth_accepts),
])

__all__ = ["PORT_MAPPING", "BROKEN_RESULT", "broken_result", "run_plugin", "MAPPING", "BANDWIDTH"]
