"""Exercises of notebook 02 (none): wiring ``--network none`` containers by hand."""

from __future__ import annotations

import ipaddress

from ..docker import netinfo
from ..i18n import N_, _
from . import Exercise, addresses, default_gateway, docker_host, link, node_names

INTERNET = "203.0.113.10"



def _none_container(lab, name: str, start: str) -> str | None:
    """None if ``name`` is a running --network none container that Docker itself left unwired
    (``start``: the cell that makes a fresh one, named in the hints)."""
    host = docker_host(lab)
    ctr = host.containers.get(name)
    again = _("run the exercise's first cell again ({start}): it starts a fresh {name}").format(
        start=start, name=name)
    Again = again[0].upper() + again[1:]  # the same, as a sentence of its own
    if ctr is None or name not in node_names(lab):
        return _("there is no container {name}: {again}").format(name=name, again=again)
    if not ctr.running:
        return _("{name} is not running any more: {again}").format(name=name, again=again)
    if ctr.network_mode != "none":
        return _("{name} runs with --network {mode}, not none: this exercise is about wiring a "
                 "none container yourself. {Again}").format(name=name, mode=ctr.network_mode, Again=Again)
    if ctr.wired:
        return _("Docker wired {name} to {networks}: here you do the wiring, not Docker. {Again}").format(
            name=name, networks=", ".join(ctr.wired), Again=Again)
    return None


def _fresh(lab, name: str, run: str) -> None:
    """Remove the container ``name`` (or a node of that name), then ``docker run`` it again."""
    if name in docker_host(lab).containers:
        lab.docker(f"rm -f {name}")  # its namespace goes, and every cable into it
    elif name in node_names(lab):
        lab.remove_node(name)
    lab.docker(run)


def _extra_links(lab, node: str, allowed: set[str]) -> list[str]:
    return [l["name"] for l in lab.snapshot([node])[node]["links"] if l["name"] not in allowed | {"lo"}]


# --- 1 · wire a none container into a user-defined network -------------------------------------
def _backend(lab):
    net = docker_host(lab).networks.get("backend")
    if net is None:
        raise LookupError
    return net


def _worker_setup(lab):
    """The network backend, and a fresh worker on --network none with nothing in it."""
    if "backend" not in docker_host(lab).networks:
        lab.docker("network create backend")
    _fresh(lab, "worker", "run -dit --name worker --network none busybox")
    if link(lab, "docker-host", "vethworker") is not None:  # a leftover host end, not in worker
        lab["docker-host"].remove_link("vethworker")


def _worker_solution(lab):
    bridge = "br-" + lab.docker("network inspect -f '{{.Id}}' backend")[:12]
    lab.add_veth("docker-host:vethworker", "worker:eth0", master=bridge)
    lab["worker"].add_address("eth0", "172.18.255.254/16")
    lab["worker"].add_route("default", via="172.18.0.1")


def _worker_exists(lab):
    if "backend" not in docker_host(lab).networks:
        return _("there is no network backend: run the exercise's first cell again "
                 "(exercises.WIRE_WORKER.start(lab)): it creates it")
    return _none_container(lab, "worker", "exercises.WIRE_WORKER.start(lab)")


def _worker_cable(lab):
    eth0 = link(lab, "worker", "eth0")
    bridge = netinfo.bridge(_backend(lab))
    if eth0 is None:
        return _("worker has no eth0 yet: make a veth pair with one end on docker-host and the other as "
                 "worker's eth0, e.g. lab.add_veth(\"docker-host:vethworker\", \"worker:eth0\", "
                 "master=\"{bridge}\")").format(bridge=bridge)
    if eth0["kind"] != "veth" or eth0.get("peer_node") != "docker-host":
        where = eth0.get("peer_node") or _("nowhere")
        return _("worker's eth0 is a {kind} whose other end is in {where}: it should be a veth whose "
                 "other end is on docker-host (remove it with lab['worker'].remove_link('eth0') and start "
                 "again)").format(kind=eth0["kind"], where=where)


def _worker_on_bridge(lab):
    bridge = netinfo.bridge(_backend(lab))
    peer = link(lab, "worker", "eth0")["peer"]
    master = (link(lab, "docker-host", peer) or {}).get("master")
    if master == bridge:
        return None
    if master == "docker0":
        return _("docker-host's end of the cable ({peer}) is on docker0, the default bridge; backend's bridge is "
                 "{bridge}: lab['docker-host'].set_link({peer!r}, master={bridge!r})").format(
            peer=peer, bridge=bridge)
    return _("docker-host's end of the cable ({peer}) is not plugged into backend's bridge {bridge} "
             "(\"br-\" and the first 12 characters of the network's ID): "
             "lab['docker-host'].set_link({peer!r}, master={bridge!r})").format(peer=peer, bridge=bridge)


def _worker_address(lab):
    net = _backend(lab)
    subnet, gateway = ipaddress.ip_network(net.subnet), ipaddress.ip_address(net.gateway_ip)
    mine = [a for a in addresses(lab, "worker", "eth0") if ipaddress.ip_interface(a).ip in subnet]
    if not mine:
        return _("worker's eth0 has no address in backend's subnet {subnet}: pick one Docker has not handed "
                 "out, e.g. lab['worker'].add_address(\"eth0\", \"{free}/{prefixlen}\")").format(
            subnet=subnet, free=subnet[-2], prefixlen=subnet.prefixlen)
    address = ipaddress.ip_interface(mine[0])
    if address.ip == gateway:
        return _("{ip} is backend's gateway (the bridge's own address): give worker another one").format(
            ip=address.ip)
    taken = {str(ep.ip): ep.name for ep in net.endpoints.values()}  # (an endpoint is named after its container)
    if str(address.ip) in taken:
        return _("{ip} already belongs to the container {owner} (Docker handed it out): "
                 "two machines with one address on a bridge break both. Pick a free one, e.g. {free}").format(
            ip=address.ip, owner=taken[str(address.ip)], free=subnet[-2])
    if address.network != subnet:
        return _("worker's address {address} has the wrong prefix length: use /{prefixlen}, the "
                 "network's own, so that worker sees the whole subnet as directly connected").format(
            address=address, prefixlen=subnet.prefixlen)


def _worker_route(lab):
    gateway = _backend(lab).gateway_ip
    via = default_gateway(lab, "worker")
    if via is None:
        return _("worker has no default route: lab['worker'].add_route(\"default\", via=\"{gateway}\")").format(
            gateway=gateway)
    if via != gateway:
        return _("worker's default route goes via {via}; it should go via backend's gateway, {gateway}").format(
            via=via, gateway=gateway)


def _worker_out(lab):
    reply = lab.node("worker").run(f"curl -s --max-time 3 http://{INTERNET}/", timeout=10)
    if "hello from internet" not in reply.stdout:
        return _("worker still gets no answer from http://{server}/ (curl exit status {rc}) although "
                 "its cable, address and route look right: is the host end of the cable up "
                 "(lab['docker-host'].set_link(NAME, up=True))?").format(server=INTERNET, rc=reply.rc)


WIRE_WORKER = Exercise(N_("a none container wired into backend by hand"), [
    (N_("worker runs with --network none, and Docker gave it no interface"), _worker_exists),
    (N_("worker has an eth0: a veth whose other end is on docker-host"), _worker_cable),
    (N_("that other end is plugged into backend's bridge"), _worker_on_bridge),
    (N_("worker has a free address in backend's subnet, with the network's prefix length"), _worker_address),
    (N_("worker's default route goes via backend's gateway"), _worker_route),
    (N_("worker gets the internet server's page, http://203.0.113.10/"), _worker_out),  # (INTERNET)
], setup=_worker_setup, solution=_worker_solution)


# --- 2 · a private cable between two none containers -------------------------------------------
def _pair_setup(lab):
    """A fresh batch (busybox) and cache (nginx), both on --network none with nothing in them."""
    _fresh(lab, "batch", "run -dit --name batch --network none busybox")
    _fresh(lab, "cache", "run -d --name cache --network none nginx")


def _pair_solution(lab):
    lab.add_veth("batch:eth0", "cache:eth0")
    lab["batch"].add_address("eth0", "10.99.0.1/30")
    lab["cache"].add_address("eth0", "10.99.0.2/30")


def _pair_exist(lab):
    start = "exercises.PRIVATE_CABLE.start(lab)"
    return _none_container(lab, "batch", start) or _none_container(lab, "cache", start)


def _cable(lab) -> dict | None:
    """batch's end of a veth whose other end is in cache."""
    return next((l for l in lab.snapshot(["batch"])["batch"]["links"]
                 if l["kind"] == "veth" and l.get("peer_node") == "cache"), None)


def _pair_cable(lab):
    if _cable(lab) is None:
        return _("there is no veth pair between batch and cache: one cable, one end in each, no bridge in "
                 "between: lab.add_veth(\"batch:eth0\", \"cache:eth0\")")


def _pair_addresses(lab):
    end = _cable(lab)
    mine, theirs = addresses(lab, "batch", end["name"]), addresses(lab, "cache", end["peer"])
    if not mine and not theirs:
        return _("batch and cache have no IPv4 address on the cable yet "
                 "(batch: {batch_end}, cache: {cache_end}): give each one, on one subnet, e.g. "
                 "10.99.0.1/30 and 10.99.0.2/30 (add_address)").format(
            batch_end=end["name"], cache_end=end["peer"])
    if not mine or not theirs:
        return _("{name} has no IPv4 address on the cable yet "
                 "(batch: {batch_end}, cache: {cache_end}): give each one, on one subnet, e.g. "
                 "10.99.0.1/30 and 10.99.0.2/30 (add_address)").format(
            name="batch" if not mine else "cache", batch_end=end["name"], cache_end=end["peer"])
    for a in mine:
        for b in theirs:
            if ipaddress.ip_interface(a).network == ipaddress.ip_interface(b).network and a != b:
                return None
    return _("batch has {mine} and cache has {theirs}: not one subnet (and the same "
             "prefix length), so neither sees the other as directly connected").format(
        mine=", ".join(mine), theirs=", ".join(theirs))


def _cache_address(lab) -> str:
    end = _cable(lab)
    mine = {ipaddress.ip_interface(a).network for a in addresses(lab, "batch", end["name"])}
    return next(str(ipaddress.ip_interface(b).ip) for b in addresses(lab, "cache", end["peer"])
                if ipaddress.ip_interface(b).network in mine)


def _pair_talks(lab):
    target = _cache_address(lab)
    reply = lab.node("batch").run(f"curl -s --max-time 3 http://{target}/", timeout=10)
    if "hello from cache" not in reply.stdout:
        return _("batch gets no page from cache's web server at http://{target}/ (curl exit status {rc}): "
                 "are both ends of the cable up? (the lab's add_veth brings them up; ip link set ... up does "
                 "it by hand)").format(target=target, rc=reply.rc)


def _pair_private(lab):
    end = _cable(lab)
    for node, keep in (("batch", {end["name"]}), ("cache", {end["peer"]})):
        extra = _extra_links(lab, node, keep)
        if extra:
            return _("{node} has more than lo and the private cable: {extra}. The point is a link "
                     "only these two share: remove the others (lab[{node!r}].remove_link(NAME))").format(
                node=node, extra=", ".join(extra))
    if lab.node("batch").run(f"ping -c 1 -W 1 {INTERNET}", timeout=5).rc == 0:
        return _("batch reaches {server}: it should reach cache and nothing else").format(server=INTERNET)


PRIVATE_CABLE = Exercise(N_("two none containers on a private cable"), [
    (N_("batch and cache run with --network none, and Docker gave them no interface"), _pair_exist),
    (N_("one veth pair joins batch and cache directly"), _pair_cable),
    (N_("both ends have an address on one subnet"), _pair_addresses),
    (N_("batch gets cache's web page over the cable"), _pair_talks),
    (N_("the cable is all they have: no other interface, no way to the internet"), _pair_private),
], setup=_pair_setup, solution=_pair_solution)
