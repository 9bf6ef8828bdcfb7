"""Exercises of notebook 05 (macvlan)."""

from __future__ import annotations

import ipaddress

from ..i18n import N_, _
from . import Exercise, addresses, docker_host, link, node_names, pings, word_after

HOST = "docker-host"
MAC1_IP = "198.51.100.50"
WWW_IP = "198.51.100.200"
VEPA_NODES = {"v1": "198.51.100.51/24", "v2": "198.51.100.52/24"}


def _macvlans_on_eth0(lab, node: str) -> list[dict]:
    """The macvlans that ``node`` itself has on its eth0 (not those moved into containers)."""
    return [l for l in lab.snapshot([node])[node]["links"] if l["kind"] == "macvlan" and l.get("link") == "eth0"]


def _route_dev(lab, node: str, address: str) -> str | None:
    """The interface ``ip route get ADDRESS`` picks in ``node``."""
    return word_after(lab.node(node).run(f"ip route get {address}", timeout=5).stdout.split(), "dev")


def _hairpin_off(lab) -> None:
    """The LAN switch as standard switches are: no frame goes back out of the port it came in on."""
    lab.node("router").run("bridge link set dev docker-host hairpin off", check=True)


def _macvlan_node(lab, name: str, address: str, mode: str) -> None:
    """A fresh container-like node whose eth0 is a macvlan of docker-host's eth0 (as Parts 1 and 4 made them)."""
    if name in node_names(lab):
        lab.remove_node(name)
    lab.add_node(name, kind="container", parent=HOST)
    lab.node(HOST).add_macvlan("eth0", "eth0", mode=mode, into=name)
    lab.node(name).add_address("eth0", address)


# --- 1 · the host reaches mac1 ------------------------------------------------------------
def _mac1_setup(lab):
    """mac1 as Part 1 made it, the host's only own macvlan the shim of Part 3, hairpin off."""
    host = lab.node(HOST)
    _hairpin_off(lab)
    _macvlan_node(lab, "mac1", f"{MAC1_IP}/24", "bridge")
    lab.node("mac1").add_route("default", via="198.51.100.1")
    for leg in _macvlans_on_eth0(lab, HOST):       # the shim, and any other the learner made
        host.remove_link(leg["name"])               # (its addresses and routes go with it)
    for route in lab.snapshot([HOST])[HOST]["routes"]:   # a route to mac1 some other way
        if route["dst"] not in ("default", "198.51.100.0/24") and \
                ipaddress.ip_address(MAC1_IP) in ipaddress.ip_network(route["dst"], strict=False):
            host.run(f"ip route del {route['dst']}", check=True)
    host.add_macvlan("shim", "eth0", mode="bridge")
    host.add_address("shim", "198.51.100.100/32", allow_overlap=True)
    host.add_route("198.51.100.128/25", dev="shim")


def _mac1_solution(lab):
    lab["docker-host"].add_route("198.51.100.50/32", dev="shim")


def _shim_exists(lab):
    legs = _macvlans_on_eth0(lab, HOST)
    if not legs:
        return _("docker-host has no macvlan of its own on eth0, so it has no way onto the macvlan switch: "
                 "add one: on docker-host, ip link add shim link eth0 type macvlan mode bridge && "
                 "ip link set shim up")
    if not any(l.get("mode") == "bridge" for l in legs):
        leg = legs[0]
        return _("docker-host's macvlan {name} on eth0 is in {mode} mode: only bridge-mode "
                 "macvlans hand frames to their bridge-mode siblings; change it in place, "
                 "%lab docker-host ip link set {name} type macvlan mode bridge").format(
                     name=leg["name"], mode=leg.get("mode"))


def _shim_address(lab):
    legs = [l["name"] for l in _macvlans_on_eth0(lab, HOST) if l.get("mode") == "bridge"]
    if not any(addresses(lab, HOST, name) for name in legs):
        return _("{shim} has no address, so the host has no source address to use on it: "
                 "give it one nobody else on the LAN has: on docker-host, "
                 "ip addr add 198.51.100.100/32 dev {shim}").format(shim=legs[0])


def _shim_route(lab):
    legs = {l["name"] for l in _macvlans_on_eth0(lab, HOST) if l.get("mode") == "bridge"}
    dev = _route_dev(lab, HOST, MAC1_IP)
    if dev not in legs:
        shim = sorted(legs)[0]
        return _("docker-host still sends packets for {address} out of {dev}, past the macvlan switch: "
                 "add a route for it through the shim: on docker-host, ip route add {address}/32 dev {shim}"
                 ).format(address=MAC1_IP, dev=dev, shim=shim)


def _host_pings_mac1(lab):
    if "mac1" not in node_names(lab):
        return _("there is no node mac1: run the exercise's first cell (HOST_REACHES_MAC1.start(lab)) to make it")
    if not pings(lab, HOST, MAC1_IP):
        return _("the route is there, but docker-host gets no answer from {address}: is mac1's eth0 still a "
                 "bridge-mode macvlan of docker-host's eth0 with that address (%lab mac1 ip -d addr)?"
                 ).format(address=MAC1_IP)


HOST_REACHES_MAC1 = Exercise(N_("the Docker host reaches mac1"), [
    (N_("docker-host has a bridge-mode macvlan (a shim) on eth0"), _shim_exists),
    (N_("the shim has an address"), _shim_address),
    (N_("docker-host routes 198.51.100.50 through the shim"), _shim_route),     # MAC1_IP
    (N_("docker-host pings mac1 (198.51.100.50)"), _host_pings_mac1),
], setup=_mac1_setup, solution=_mac1_solution)


# --- 2 · a web server at a fixed LAN address ---------------------------------------------------
def _www_setup(lab):
    """No container www, and none holding www's address on the macvlan network."""
    for name, ctr in list(docker_host(lab).containers.items()):
        if name == "www" or any(str(ep.ip) == WWW_IP for ep in ctr.endpoints.values()):
            lab.docker(f"rm -f {name}")


def _www_solution(lab):
    lab.docker("run -d --name www --network lan --ip 198.51.100.200 nginx")


def _www_exists(lab):
    ctr = docker_host(lab).containers.get("www")
    if ctr is None:
        return _("there is no container www: run an nginx container called www on the macvlan network lan, "
                 "docker run -d --name www --network lan ... nginx")
    if not any(ep.network.type == "macvlan" for ep in ctr.endpoints.values()):
        nets = ", ".join(ctr.endpoints) or "none"
        return _("www is not on a macvlan network (its networks: {networks}): remove it (docker rm -f www) and run "
                 "it again with --network lan").format(networks=nets)


def _www_address(lab):
    ctr = docker_host(lab).containers["www"]
    ips = [str(ep.ip) for ep in ctr.endpoints.values() if ep.network.type == "macvlan"]
    if WWW_IP not in ips:
        return _("www got {got} from Docker's --ip-range, not {address}: an address cannot be changed "
                 "on a running container; docker rm -f www, then run it again with --ip {address}"
                 ).format(got=", ".join(ips), address=WWW_IP)


def _www_serves(lab):
    ctr = docker_host(lab).containers["www"]
    # what listens, not the image's name: nginx given a command after it (nginx sleep infinity) serves nothing
    serving = ctr.running and lab.node(ctr.node).run("ss -Htln sport = :80", timeout=5).stdout.strip()
    if not serving:
        what = (_("has stopped") if not ctr.running
                else _("runs {image}").format(image=ctr.image) if ctr.image not in ("nginx", "httpd")
                else _("runs {command}").format(command=" ".join(ctr.shown_command)))
        return _("www {what}, not a web server: docker rm -f www, then run it again with the nginx image "
                 "(no command after it) and -d, so that it keeps serving").format(what=what)


def _lan_client_gets_www(lab):
    reply = lab.node("lan-client").run(f"curl -s --max-time 3 http://{WWW_IP}/", timeout=10)
    if "hello from www" not in reply.stdout:
        return _("lan-client gets no page from http://{address}/ (curl exit status {rc}): is the address "
                 "used twice on the LAN? (%lab lan-client ip neigh)").format(address=WWW_IP, rc=reply.rc)


WWW_ON_THE_LAN = Exercise(N_("a web server at a fixed LAN address"), [
    (N_("a container www runs on the macvlan network"), _www_exists),
    (N_("www has the address 198.51.100.200"), _www_address),                          # WWW_IP
    (N_("www runs a web server (nginx)"), _www_serves),
    (N_("lan-client gets www's page from http://198.51.100.200/"), _lan_client_gets_www),
], setup=_www_setup, solution=_www_solution)


# --- 3 · v1 and v2 talk without the switch's help ---------------------------------------------------
def _v_setup(lab):
    """v1 and v2 as Part 4 made them (VEPA macvlans of docker-host's eth0), hairpin off."""
    _hairpin_off(lab)
    for name, address in VEPA_NODES.items():
        _macvlan_node(lab, name, address, "vepa")


def _v_solution(lab):
    for name in ("v1", "v2"):
        lab[name].run("ip link set eth0 type macvlan mode bridge", check=True)


def _v_nodes(lab):
    missing = [n for n in ("v1", "v2") if n not in node_names(lab)]
    if missing:
        return _("there is no node {missing}: run the exercise's first cell "
                 "(V1_TALKS_TO_V2.start(lab)) to make v1 and v2 again").format(missing=_(" or ").join(missing))


def _no_hairpin(lab):
    port = lab.node("router").run("bridge -d link show dev docker-host", timeout=5).stdout
    if "hairpin on" in port:
        return _("the router's port to docker-host is in hairpin mode: this time the network team says no; "
                 "set it back with %lab router bridge link set dev docker-host hairpin off, and solve it on "
                 "the Docker host")


def _v_modes(lab):
    for name in ("v1", "v2"):
        eth0 = link(lab, name, "eth0")
        if eth0 is None or eth0["kind"] != "macvlan":
            return _("{name}'s eth0 is not a macvlan any more: make it again on docker-host, "
                     "ip link add mv-{name} link eth0 type macvlan mode bridge && "
                     "ip link set mv-{name} netns {name} name eth0, then its address").format(name=name)
        if eth0.get("mode") != "bridge":
            return _("{name}'s eth0 is a macvlan in {mode} mode: without hairpin on the switch, only "
                     "bridge mode hands frames between siblings; change it in place, "
                     "%lab {name} ip link set eth0 type macvlan mode bridge").format(name=name, mode=eth0.get("mode"))


def _v_talk(lab):
    target = next((ipaddress.ip_interface(a).ip for a in addresses(lab, "v2", "eth0")), None)
    if target is None:
        return _("v2's eth0 has no address: give it 198.51.100.52/24 again")
    if not pings(lab, "v1", str(target)):
        return _("v1 and v2 are both in bridge mode but v1 gets no answer from {target}: are both up, with addresses?"
                 ).format(target=target)


V1_TALKS_TO_V2 = Exercise(N_("v1 and v2 talk without the switch's help"), [
    (N_("nodes v1 and v2 exist"), _v_nodes),
    (N_("the router's port to docker-host has hairpin off"), _no_hairpin),
    (N_("v1's and v2's eth0 are macvlans in bridge mode"), _v_modes),
    (N_("v1 pings v2"), _v_talk),
], setup=_v_setup, solution=_v_solution)
