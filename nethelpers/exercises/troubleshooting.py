"""Exercises of notebook 10 (troubleshooting): five broken labs, each with its checker.

    NAMES_ON_THE_DEFAULT_BRIDGE  web cannot resolve api (the default bridge has no embedded DNS)
    COMPOSE_API                  a Compose project whose web cannot reach its api
    PORT_PAST_THE_FIREWALL       an INPUT rule ("ufw deny 8080") that does not stop a published port
    OFFICE_VPN                   docker0 on 172.17.0.0/16 hides the office's 172.17.4.20 behind the VPN
    OVERLAY_MTU                  an overlay over a path that carries only 1400 bytes

Each ``setup`` builds its broken state from whatever the lab holds (it is also the reset), and
each checker tests the network for real (a page fetched, a ping, a name resolved) after reading
the Docker host's bookkeeping for the hints.
"""

from __future__ import annotations

import ipaddress

from .. import world
from ..i18n import _, N_
from . import Exercise, docker_host, is_ipv4, link, node_names, pings, running_container

DOCKER_HOST = "docker-host"
OFFICE = ipaddress.ip_network("172.16.0.0/12")     # what the VPN routes: the company's aggregate
INTRANET_IP = "172.17.4.20"                         # the office server the learner must reach
VPN_LOCAL, VPN_GATEWAY = "10.8.0.2", "10.8.0.1"     # the tunnel's two ends
SWARM_HOSTS = ("host1", "host2")
PATH_MTU = 1400                                     # what the path between host1 and host2 carries


def _container(lab, name: str, host: str | None = None):
    return docker_host(lab, host).containers.get(name)


def _docker(lab, command: str, host: str | None = None):
    """A docker command for a checker or a setup, its failure kept as an exit status."""
    from ..docker import DockerError

    try:
        return lab.docker(command, host=host)
    except DockerError as exc:
        from ..docker.cli import Output
        return Output.of(str(exc), exc.exit_code or 1)


def _fetch(lab, node: str, url: str) -> bool:
    """curl from ``node``: True when a page came back."""
    reply = lab.node(node).run(["curl", "-s", "--max-time", "3", "-o", "/dev/null", "-w", "%{http_code}", url],
                               timeout=10)
    return reply.rc == 0 and reply.stdout.strip() == "200"


# --- 1 · names on the default bridge ---------------------------------------------------------------
def _names_setup(lab):
    """api (nginx) and web (netshoot) on the default bridge only (the reference's appnet gone)."""
    for name in ("web", "api"):
        _docker(lab, f"rm -f {name}")
    _docker(lab, "network rm appnet")  # refused (and kept) while another container still uses it
    lab.docker("run -d --name api nginx")
    lab.docker("run -d --name web nicolaka/netshoot sleep infinity")


def _names_solution(lab):
    lab.docker("network create appnet")
    lab.docker("network connect appnet api")
    lab.docker("network connect appnet web")


def _both_running(lab):
    missing = [n for n in ("web", "api") if not running_container(lab, n)]
    if len(missing) == 1:
        return _("{name} is not running: run NAMES_ON_THE_DEFAULT_BRIDGE.start(lab) again to start afresh").format(
            name=missing[0])
    if missing:
        return _("{first} and {second} are not running: run NAMES_ON_THE_DEFAULT_BRIDGE.start(lab) again to start "
                 "afresh").format(first=missing[0], second=missing[1])


def _share_user_network(lab):
    from ..docker import netinfo

    web, api = _container(lab, "web"), _container(lab, "api")
    shared = [ep.network.name for name, ep in web.endpoints.items()
              if name in api.endpoints and netinfo.user_defined(ep.network)]
    if not shared:
        return _("web and api share no user-defined network; the default bridge gives them no names "
                 "(docker network create NET, then docker network connect NET for each)")


def _web_gets_api(lab):
    reply = _docker(lab, "exec web curl -s --max-time 3 -o /dev/null -w %{http_code} http://api/")
    if reply.exit_code == 6:
        return _("web cannot resolve api: is 127.0.0.11 in web's /etc/resolv.conf (docker exec web cat "
                 "/etc/resolv.conf)?")
    if reply.exit_code != 0 or reply.strip() != "200":
        return _("web resolves api but gets no page from it (curl exit status {status})").format(
            status=reply.exit_code)


NAMES_ON_THE_DEFAULT_BRIDGE = Exercise(N_("web reaches api by name"), [
    (N_("web and api run"), _both_running),
    (N_("web and api share a user-defined network"), _share_user_network),
    (N_("web gets api's page from http://api/"), _web_gets_api),
], setup=_names_setup, solution=_names_solution)


# --- 2 · a Compose project ------------------------------------------------------------------------
SHOP_BROKEN = """\
name: shop
services:
  web:
    image: nginx
    ports: ["8000:80"]
    networks: [front]
    depends_on: [api]
  api:
    image: nginx
    networks: [back]
    depends_on: [db]
  db:
    image: nicolaka/netshoot   # stands in for a database
    command: sleep infinity
    networks: [back]
networks:
  front: {}
  back:
    internal: true
"""
SHOP_FIXED = SHOP_BROKEN.replace("""    networks: [back]
    depends_on: [db]""", """    networks: [front, back]
    depends_on: [db]""")
SHOP_SERVICES = ("web", "api", "db")


def _shop_setup(lab):
    _docker(lab, "compose -p shop down --remove-orphans")
    lab.docker("compose -f - up -d", input=SHOP_BROKEN)


def _shop_solution(lab):
    lab.docker("compose -f - up -d", input=SHOP_FIXED)


def _shop_runs(lab):
    from ..docker import compose

    project = docker_host(lab).compose_projects.get("shop")
    if project is None:
        return _("the Compose project shop is not up: docker compose -f - up -d, with the file as the cell's body")
    for service in SHOP_SERVICES:
        ctr = _container(lab, f"shop-{service}-1")
        if ctr is None or not ctr.running or ctr.labels.get(compose.PROJECT) != "shop":
            return _("shop-{service}-1 is not running: keep the three services and run `docker compose up -d` "
                     "again").format(service=service)


def _shop_as_composed(lab):
    """Every container is on the networks its service names, no more (no fix by hand)."""
    host = docker_host(lab)
    project = host.compose_projects["shop"]
    for service in SHOP_SERVICES:
        svc = project.services[service]
        wanted = {project.networks[k].name for k in svc.networks}
        have = set(host.containers[f"shop-{service}-1"].endpoints)
        if have != wanted:
            return _("shop-{service}-1 is on {have}, but the compose file gives "
                     "it {wanted}: fix the file and run `docker compose up -d`, not "
                     "docker network connect/disconnect (the next `up` or a teammate's would undo it)").format(
                service=service, have=", ".join(sorted(have)) or _("no network"), wanted=", ".join(sorted(wanted)))


def _web_reaches_api(lab):
    reply = _docker(lab, "exec shop-web-1 curl -s --max-time 3 -o /dev/null -w %{http_code} http://api/")
    if reply.exit_code == 6:
        return _("shop-web-1 cannot resolve api: a service name resolves only on networks both services are on "
                 "(which network could api join?)")
    if reply.strip() != "200":
        return _("shop-web-1 resolves api but gets no page (curl exit status {status})").format(status=reply.exit_code)


def _db_stays_private(lab):
    reply = _docker(lab, "exec shop-web-1 getent hosts db")
    if reply.exit_code == 0:
        return _("shop-web-1 resolves db: the front-end must not reach the database. Keep web on front only "
                 "and join api to front (api talks to both)")


COMPOSE_API = Exercise(N_("shop's web reaches its api, and only its api"), [
    (N_("the Compose project shop runs web, api and db"), _shop_runs),
    (N_("each container is on the networks its service names"), _shop_as_composed),
    (N_("shop-web-1 gets a page from http://api/"), _web_reaches_api),
    (N_("shop-web-1 cannot resolve db"), _db_stays_private),
], setup=_shop_setup, solution=_shop_solution)


# --- 3 · a published port past the firewall -----------------------------------------------------------
UFW_DENY = "INPUT -i eth0 -p tcp --dport 8080 -j DROP"   # what `ufw deny 8080/tcp` boils down to


def _port_setup(lab):
    """admin (nginx) published on 8080, the INPUT rule once, DOCKER-USER empty."""
    for ctr in list(docker_host(lab).containers.values()):  # admin, and whatever else holds port 8080
        if ctr.name == "admin" or any(p.host_port == 8080 for p in ctr.publish):
            _docker(lab, f"rm -f {ctr.name}")
    node = lab.node(DOCKER_HOST)
    node.run("iptables -F DOCKER-USER", check=True)
    while node.run(f"iptables -C {UFW_DENY}").rc == 0:
        node.run(f"iptables -D {UFW_DENY}", check=True)
    node.run(f"iptables -A {UFW_DENY}", check=True)
    lab.docker("run -d --name admin -p 8080:80 nginx")


def _port_solution(lab):
    lab["docker-host"].run("iptables -I DOCKER-USER -i eth0 -p tcp -m conntrack --ctorigdstport 8080 -j DROP",
                           check=True)


def _admin_published(lab):
    ctr = _container(lab, "admin")
    if ctr is None or not ctr.running:
        return _("admin is not running: run PORT_PAST_THE_FIREWALL.start(lab) again")
    if not any(p.host_port == 8080 and p.container_port == 80 for p in ctr.publish):
        return _("admin no longer publishes port 8080 (-p 8080:80): the admins still use it from the host itself")


def _host_still_gets_it(lab):
    if not _fetch(lab, DOCKER_HOST, "http://127.0.0.1:8080/"):
        return _("the Docker host itself gets no page from http://127.0.0.1:8080/ any more: block the LAN only "
                 "(-i eth0), not the host's own connections")


def _lan_blocked(lab):
    address = world.address_of(lab, DOCKER_HOST)
    if _fetch(lab, world.LAN_CLIENT, f"http://{address}:8080/"):
        return _("lan-client still gets admin's page from {address}:8080: a published port is DNATed in "
                 "PREROUTING and crosses FORWARD, never INPUT (iptables -L DOCKER-USER -nv)").format(address=address)


def _containers_still_go_out(lab):
    reply = _docker(lab, f"exec admin curl -s --max-time 3 -o /dev/null -w %{{http_code}} http://{world.INTERNET_IP}/")
    if reply.strip() != "200":
        return _("admin cannot reach the internet server {address} any more: a rule that drops "
                 "everything coming in on eth0 drops the replies to the containers' own connections too "
                 "(match the new connections to port 8080 only: -m conntrack --ctorigdstport 8080)").format(
            address=world.INTERNET_IP)


PORT_PAST_THE_FIREWALL = Exercise(N_("port 8080 closed to the LAN, for real"), [
    (N_("admin runs and publishes port 8080"), _admin_published),
    (N_("the host itself still gets the page from 127.0.0.1:8080"), _host_still_gets_it),
    (N_("lan-client gets nothing from port 8080"), _lan_blocked),
    (N_("the containers still reach the internet"), _containers_still_go_out),
], setup=_port_setup, solution=_port_solution)


# --- 4 · the office VPN ---------------------------------------------------------------------------
def connect_office(lab) -> None:
    """The office behind a VPN, as a VPN client leaves the Docker host: ``tun0`` (10.8.0.2) to the
    company's VPN gateway ``vpn`` (10.8.0.1), behind it the office LAN 172.17.4.0/24 with the
    ``intranet`` server 172.17.4.20, and on the Docker host the route the VPN pushes for the
    company's whole 172.16.0.0/12 (a route through a gateway, not on-link). Made once."""
    docker_host(lab)  # the Docker host first (it gets the LAN's first address)
    host = lab.node(DOCKER_HOST)
    if "intranet" in node_names(lab):
        if not host.run(["ip", "route", "show", str(OFFICE)]).stdout.strip():
            host.add_route(str(OFFICE), via=VPN_GATEWAY)  # the VPN pushes it again when it reconnects
        return
    with lab.batch():
        vpn = lab.add_node("vpn", kind="router")
        intranet = lab.add_node("intranet", kind="server")
        lab.add_veth(f"{DOCKER_HOST}:tun0", "vpn:eth0")
        lab.add_veth("vpn:eth1", "intranet:eth0")
        lab.node(DOCKER_HOST).add_address("tun0", f"{VPN_LOCAL}/24")
        vpn.add_address("eth0", f"{VPN_GATEWAY}/24")
        vpn.add_address("eth1", "172.17.4.1/24")
        intranet.add_address("eth0", f"{INTRANET_IP}/24")
        intranet.add_route("default", via="172.17.4.1")
    vpn.sysctl("net.ipv4.ip_forward", 1)
    host.add_route(str(OFFICE), via=VPN_GATEWAY)


def _office_setup(lab):
    """The office connected; dockerd restarted with no daemon.json (docker0 back on 172.17.0.0/16);
    reporter on the default bridge, running."""
    connect_office(lab)
    host = docker_host(lab)
    if host.config["bip"] or host.config["pools"] or host.networks["bridge"].subnet != "172.17.0.0/16":
        # without a bip dockerd keeps docker0's address over a restart: put it back on 172.17.0.1/16 first
        host.restart_daemon({"bip": "172.17.0.1/16"})
    host.restart_daemon({})
    _docker(lab, "rm -f reporter")
    lab.docker("run -d --name reporter nicolaka/netshoot sleep infinity")


def _office_solution(lab):
    lab.docker_host().restart_daemon({"bip": "10.99.0.1/24",
                                      "default-address-pools": [{"base": "10.100.0.0/16", "size": 24}]})
    lab.docker("start reporter")


def _docker0_clear(lab):
    subnet = docker_host(lab).networks["bridge"].subnet
    if ipaddress.ip_network(subnet).overlaps(OFFICE):
        return _("docker0 is {subnet}, inside the office's {office}: give dockerd another bip in daemon.json, then "
                 "restart it (docker_host.restart_daemon({{...}}))").format(subnet=subnet, office=OFFICE)


def _pools_clear(lab):
    pools = docker_host(lab).config["pools"]
    if not pools:
        return _("daemon.json has no default-address-pools: the next docker network create takes 172.18.0.0/16, "
                 "inside the office again")
    clashing = [str(p) for p in pools if p.overlaps(OFFICE)]
    if clashing:
        return _("default-address-pools still hands out {pool}, inside the office's {office}").format(
            pool=clashing[0], office=OFFICE)


def _host_reaches_intranet(lab):
    if not pings(lab, DOCKER_HOST, INTRANET_IP):
        return _("the Docker host cannot ping {address}: what does `ip route get {address}` say?").format(
            address=INTRANET_IP)


def _reporter_reaches_intranet(lab):
    if not running_container(lab, "reporter"):
        return _("reporter is not running: a restart of dockerd stops the containers (docker start reporter)")
    if not pings(lab, "reporter", INTRANET_IP):
        return _("reporter cannot ping {address} (its address is NATed to tun0's on the way out)").format(
            address=INTRANET_IP)


# the steps' texts name OFFICE, INTRANET_IP and PATH_MTU as they are (a catalogue's message is a literal)
OFFICE_VPN = Exercise(N_("the office's intranet is back"), [
    (N_("docker0 is outside the office's 172.16.0.0/12"), _docker0_clear),
    (N_("new networks will come from outside 172.16.0.0/12"), _pools_clear),
    (N_("the Docker host reaches the intranet, 172.17.4.20"), _host_reaches_intranet),
    (N_("reporter runs and reaches the intranet"), _reporter_reaches_intranet),
], setup=_office_setup, solution=_office_solution)


# --- 5 · the overlay over a narrow path -----------------------------------------------------------
def narrow_path(lab) -> None:
    """host1 and host2 in a swarm, and the LAN's ports towards them carrying only 1400 bytes (a VPN
    or a cloud network between them: their own eth0 still says 1500)."""
    for name in SWARM_HOSTS:
        docker_host(lab, name)
    if not docker_host(lab, "host1").in_swarm:
        lab.docker("swarm init", host="host1")
    token = lab.docker("swarm join-token -q worker", host="host1").strip()
    if not docker_host(lab, "host2").in_swarm:
        lab.docker(f"swarm join --token {token} {world.address_of(lab, 'host1')}:2377", host="host2")
    for name in SWARM_HOSTS:
        lab.node(world.ROUTER).run(["ip", "link", "set", name, "mtu", str(PATH_MTU)], check=True)


def _mtu_setup(lab):
    """c1 on host1 and c2 on host2 on the overlay ov1 (MTU 1450), over the narrow path."""
    narrow_path(lab)
    _docker(lab, "rm -f c1", "host1")
    _docker(lab, "rm -f c2", "host2")
    for name in [n.name for n in docker_host(lab, "host1").listed_networks() if n.type == "overlay"]:
        if name not in ("ingress", "ov1"):
            _docker(lab, f"network rm {name}", "host1")
    if "ov1" not in docker_host(lab, "host1").networks:
        lab.docker("network create -d overlay --attachable ov1", host="host1")
    lab.docker("run -d --name c1 --network ov1 nicolaka/netshoot sleep infinity", host="host1")
    lab.docker("run -d --name c2 --network ov1 nicolaka/netshoot sleep infinity", host="host2")


def _mtu_solution(lab):
    lab.docker("network create -d overlay --attachable -o com.docker.network.driver.mtu=1400 ov2", host="host1")
    lab.docker("network disconnect ov1 c1", host="host1")
    lab.docker("network connect ov2 c1", host="host1")
    lab.docker("network disconnect ov1 c2", host="host2")
    lab.docker("network connect ov2 c2", host="host2")


def _path_unchanged(lab):
    for name in SWARM_HOSTS:
        port = link(lab, world.ROUTER, name)
        if port is None or port.get("mtu") != PATH_MTU:
            return _("the LAN's port towards {name} is no longer MTU {mtu}: the path between the hosts is "
                     "not yours to change; fix the overlay, over the path as it is (run OVERLAY_MTU.start(lab))").format(
                name=name, mtu=PATH_MTU)


def _c1_c2_run(lab):
    for name, host in (("c1", "host1"), ("c2", "host2")):
        if not running_container(lab, name, host):
            return _("{name} is not running on {host}: run OVERLAY_MTU.start(lab) again").format(name=name, host=host)


def _full_size(lab, source: str, source_host: str, target: str) -> str | None:
    """None when ``source``'s largest packet with DF set (its route's MTU) reaches ``target`` and
    comes back; else what went wrong."""
    resolved = _docker(lab, f"exec {source} dig +short +time=1 +tries=1 {target}", source_host).split()
    address = next((w for w in resolved if is_ipv4(w)), None)
    route = _docker(lab, f"exec {source} ip -o route get {address}", source_host).split() if address else []
    dev = route[route.index("dev") + 1] if "dev" in route[:-1] else None
    ctr = _container(lab, source, source_host)
    mtu = next((ln.get("mtu") for ln in lab.snapshot([ctr.node])[ctr.node]["links"] if ln["name"] == dev), None)
    if mtu is None:
        return _("{source} cannot resolve {target}, or has no route to it: are both on the same overlay "
                 "network?").format(source=source, target=target)
    reply = _docker(lab, f"exec {source} ping -c 1 -W 1 -M do -s {mtu - 28} {address}", source_host)
    if reply.exit_code != 0:
        return _("a full-size packet from {source} to {target} ({mtu} bytes, the MTU of {source}'s {dev}, DF set) "
                 "is lost on the way: with VXLAN's 50 bytes it must fit the path's {path_mtu}").format(
            source=source, target=target, mtu=mtu, dev=dev, path_mtu=PATH_MTU)


def _c1_full_size(lab):
    return _full_size(lab, "c1", "host1", "c2")


def _c2_full_size(lab):
    return _full_size(lab, "c2", "host2", "c1")


OVERLAY_MTU = Exercise(N_("c1 and c2 talk in full-size packets"), [
    (N_("the path between the hosts still carries 1400 bytes"), _path_unchanged),
    (N_("c1 runs on host1, c2 on host2"), _c1_c2_run),
    (N_("c1's full-size packets (its MTU, DF set) reach c2"), _c1_full_size),
    (N_("c2's full-size packets reach c1"), _c2_full_size),
], setup=_mtu_setup, solution=_mtu_solution)
