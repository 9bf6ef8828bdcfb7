"""``docker compose up -d`` / ``down``, the networking subset the lab implements, against the
real sources (bare mirror of docker/compose, tag v5.5.0):

- ``pkg/api/labels.go``: the label names (``com.docker.compose.project``, ``.service``,
  ``.network``, ``.container-number``, ``.oneoff``); ``pkg/compose/create.go`` prepareNetworks
  (a project network carries ``network`` = its key and ``project``);
- ``pkg/compose/convergence.go`` getContainerName / getDefaultContainerName:
  ``<project>-<service>-<n>`` joined with ``api.Separator`` ("-"), ``container_name`` instead
  when set; resolveSharedNamespaces: ``network_mode: service:X`` is sent as
  ``container:<X's container ID>``;
- ``pkg/compose/create.go`` getAliases (``[container name, service name, aliases...]``),
  createEndpointSettings, defaultNetworkSettings (``network_mode`` as given, else the first
  network by priority); ``createNetwork`` (the ipam config and ``internal`` sent as given);
  ``resolveExternalNetwork`` ("network %s declared as external, but could not be found", also
  in ``pkg/e2e/compose_test.go`` TestUnnecessaryResources);
- ``pkg/compose/loader.go`` postProcessProject: ``WithoutUnnecessaryResources``, so a network no
  service uses (``<project>_default`` included) is not created; ``cmd/compose/compose.go``
  toProjectName: ``-p`` first, before the file's ``name:``;
- moby docker-v29.7.2 ``daemon/libnetwork/drivers/bridge/bridge_linux.go`` Join: no gateway on an
  internal network (so no default route in the container);
- ``cmd/display/plain.go``: ``fmt.Fprintln(out, prefix, e.ID, e.Text, e.Details)`` with an empty
  prefix and empty Details, so every line is `` <ID> <Text> `` — a leading and a trailing space;
  ``cmd/compose/compose.go`` selectEventProcessor: the plain writer when stderr is no terminal;
- ``pkg/compose/progress.go`` and ``executor_events.go``: Creating/Created, Starting/Started,
  Stopping/Stopped, Removing/Removed, and Recreate/Recreated for a recreate group;
- ``pkg/compose/up.go``: ``create`` (the whole plan), then ``start``; ``create.go``: the orphan
  warning ("Found orphan containers (%s) for this project. If you removed or renamed this
  service in your compose file, you can run this command with the --remove-orphans flag to
  clean it up.", ``observed_state.go`` orphanNames), then emitRunningEvents (``observed_state.go``:
  "Running" for each running container the plan leaves alone, before the plan runs); ``reconcile.go``:
  a container depends on its dependencies' last node (so ``depends_on`` orders the creations),
  a changed config hash makes a recreate group, a dependent with ``restart: false`` is left
  alone; ``start.go``/``convergence.go`` startServiceContainer: Starting/Started in dependency
  order, nothing for a running container;
- ``pkg/compose/down.go``: containers in reverse dependency order (stopAndRemoveContainer
  always asks the stop: Stopping/Stopped even for a stopped one), orphans only with
  ``--remove-orphans``, then each network: "Removing", then "Removed" or "Resource is still in
  use"; "Warning: No resource found to remove for project %q." when there is nothing at all;
  without a file the project comes from the labels (``compose.go`` projectFromName: each
  service's ``com.docker.compose.depends_on``).

compose-go (project-name and cycle messages) is not mirrored: for those only the essential
words are checked. Where compose runs independent services concurrently (executor.go,
InDependencyOrder, emitRunningEvents over a Go map), the tests use ``depends_on`` or compare
without order. The lab's own refusals (keys it does not build, ``up`` without ``-d``) are
checked for being a DockerError that names the cause and changes nothing.
"""

from __future__ import annotations

import json

import pytest

from nethelpers.docker import DockerError

SLEEP = "command: sleep 3600"
TWO = f"""
services:
  db:
    image: alpine
    {SLEEP}
  web:
    image: alpine
    {SLEEP}
    depends_on: [db]
"""


def up(lab, yaml: str, project: str | None = "p", extra: str = "") -> list[str]:
    flag = f"-p {project} " if project else ""
    return lab.docker(f"compose {flag}-f - up -d {extra}".strip(), input=yaml).split("\n")[:-1]


def inspect(lab, ref: str, path: str = ".", kind: str = ""):
    return json.loads(lab.docker(f"{kind} inspect -f '{{{{json {path}}}}}' {ref}".strip()))


def names(lab) -> list[str]:
    return sorted(lab.docker("ps -a --format '{{.Names}}'").split())


def networks(lab) -> list[str]:
    return sorted(lab.docker("network ls --format '{{.Name}}'").split())


def ip(lab, ctr: str) -> str:
    return lab.docker(f"exec {ctr} ip -4 -br addr show eth0").split()[2].split("/")[0]


def lines_for(kind: str, name: str, *texts: str) -> list[str]:
    """The plain writer's lines: `` Container p-db-1 Creating `` (Fprintln with empty prefix and details)."""
    return [f" {kind} {name} {text} " for text in texts]


# --- names, labels, networks ---------------------------------------------------------------
def test_container_and_network_names_and_labels(lab):
    yaml = f"""
services:
  db:
    image: alpine
    {SLEEP}
  web:
    image: alpine
    {SLEEP}
    container_name: shopfront
    networks: [default, front]
networks:
  front:
    name: shared-front
"""
    up(lab, yaml, "shop")
    assert names(lab) == ["shop-db-1", "shopfront"]
    assert networks(lab) == ["bridge", "host", "none", "shared-front", "shop_default"]
    labels = inspect(lab, "shop-db-1", ".Config.Labels")
    assert labels["com.docker.compose.project"] == "shop"
    assert labels["com.docker.compose.service"] == "db"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert inspect(lab, "shopfront", ".Config.Labels")["com.docker.compose.service"] == "web"
    for net, key in (("shop_default", "default"), ("shared-front", "front")):
        net_labels = inspect(lab, net, ".Labels", kind="network")
        assert net_labels["com.docker.compose.network"] == key
        assert net_labels["com.docker.compose.project"] == "shop"
    # getAliases: the container name (container_name when set), then the service name
    assert inspect(lab, "shopfront", ".NetworkSettings.Networks.shop_default.Aliases") == ["shopfront", "web"]
    assert inspect(lab, "shop-db-1", ".NetworkSettings.Networks.shop_default.Aliases") == ["shop-db-1", "db"]


def test_default_network_only_when_a_service_uses_it(lab):
    yaml = f"""
services:
  web:
    image: alpine
    {SLEEP}
    networks: [front]
networks:
  front: {{}}
  spare: {{}}
"""
    up(lab, yaml)
    assert networks(lab) == ["bridge", "host", "none", "p_front"]  # no p_default, no unused p_spare


def test_service_name_and_aliases_resolve_on_the_network(lab):
    yaml = f"""
services:
  db:
    image: alpine
    {SLEEP}
    networks:
      back:
        aliases: [database]
  web:
    image: alpine
    {SLEEP}
    networks: [back]
networks:
  back: {{}}
"""
    up(lab, yaml)
    assert inspect(lab, "p-db-1", ".NetworkSettings.Networks.p_back.Aliases") == ["p-db-1", "db", "database"]
    db_ip = ip(lab, "p-db-1")
    for name in ("db", "database", "p-db-1"):
        assert lab.docker(f"exec p-web-1 getent hosts {name}").split()[0] == db_ip


def test_network_modes_service_host_none(docker_lab):
    lab = docker_lab
    yaml = f"""
services:
  web:
    image: alpine
    {SLEEP}
  side:
    image: alpine
    {SLEEP}
    network_mode: "service:web"
  hosty:
    image: alpine
    {SLEEP}
    network_mode: host
  lonely:
    image: alpine
    {SLEEP}
    network_mode: none
"""
    up(lab, yaml)
    assert ip(lab, "p-side-1") == ip(lab, "p-web-1")
    assert inspect(lab, "p-side-1", ".HostConfig.NetworkMode") == "container:" + inspect(lab, "p-web-1", ".Id")
    host_addr = lab["docker-host"].run("ip -4 -br addr show eth0", check=True).stdout.split()[2]
    assert host_addr in lab.docker("exec p-hosty-1 ip -4 -br addr")
    assert [line.split()[0] for line in lab.docker("exec p-lonely-1 ip -br link").splitlines()] == ["lo"]
    assert networks(lab) == ["bridge", "host", "none", "p_default"]  # only web uses a network


def test_internal_network_with_an_ipam_subnet(lab):
    yaml = f"""
services:
  web:
    image: alpine
    {SLEEP}
    networks: [back]
networks:
  back:
    internal: true
    ipam:
      config:
        - subnet: 10.123.0.0/24
"""
    up(lab, yaml)
    assert inspect(lab, "p_back", ".Internal", kind="network") is True
    assert inspect(lab, "p_back", ".IPAM.Config", kind="network")[0]["Subnet"] == "10.123.0.0/24"
    assert ip(lab, "p-web-1") == "10.123.0.2"
    assert "default" not in lab.docker("exec p-web-1 ip route")
    assert lab.docker("exec p-web-1 ping -c1 -W1 198.51.100.1").exit_code != 0


def test_dash_p_wins_over_the_files_name(lab):
    yaml = f"""
name: fromfile
services:
  web:
    image: alpine
    {SLEEP}
"""
    up(lab, yaml, project=None)
    up(lab, yaml, project="other")
    assert names(lab) == ["fromfile-web-1", "other-web-1"]
    assert networks(lab) == ["bridge", "fromfile_default", "host", "none", "other_default"]
    assert inspect(lab, "other-web-1", ".Config.Labels")["com.docker.compose.project"] == "other"


# --- progress ---------------------------------------------------------------------------
def test_up_prints_the_plain_progress_lines(lab):
    out = up(lab, TWO)
    assert all(line.startswith(" ") and line.endswith(" ") for line in out)
    net = [line for line in out if line.startswith(" Network ")]
    containers = [line for line in out if line.startswith(" Container ")]
    assert len(net) + len(containers) == len(out)
    # the network first (the containers' creations depend on it); in compose 5.5.0 both the
    # executor (executor_events.go emitStartEvent/emitDoneEvent) and createNetwork (create.go)
    # send Creating and Created for it, so only the texts and their order are checked
    assert set(net) == set(lines_for("Network", "p_default", "Creating", "Created"))
    assert net[0].endswith(" Creating ") and net[-1].endswith(" Created ")
    assert out.index(net[-1]) < out.index(containers[0])
    # create everything (db before web: depends_on), then start in dependency order
    assert containers == (lines_for("Container", "p-db-1", "Creating", "Created")
                          + lines_for("Container", "p-web-1", "Creating", "Created")
                          + lines_for("Container", "p-db-1", "Starting", "Started")
                          + lines_for("Container", "p-web-1", "Starting", "Started"))


def test_up_again_reports_running(lab):
    up(lab, TWO)
    ids = {n: inspect(lab, n, ".Id") for n in ("p-db-1", "p-web-1")}
    again = up(lab, TWO)
    assert sorted(again) == lines_for("Container", "p-db-1", "Running") + lines_for("Container", "p-web-1", "Running")
    assert {n: inspect(lab, n, ".Id") for n in ids} == ids


def test_a_changed_service_is_recreated_and_the_others_run_on(lab):
    up(lab, TWO)
    web_id = inspect(lab, "p-web-1", ".Id")
    old_db = inspect(lab, "p-db-1", ".Id")
    changed = TWO.replace("sleep 3600\n  web", "sleep 3601\n  web")
    assert changed != TWO
    out = up(lab, changed)
    # Running (emitRunningEvents) comes before the plan; web depends on db without restart: true
    assert out == (lines_for("Container", "p-web-1", "Running")
                   + lines_for("Container", "p-db-1", "Recreate", "Recreated", "Starting", "Started"))
    assert inspect(lab, "p-db-1", ".Id") != old_db
    assert inspect(lab, "p-db-1", ".Config.Cmd") == ["sleep", "3601"]
    assert inspect(lab, "p-web-1", ".Id") == web_id
    assert inspect(lab, "p-web-1", ".State.Running") is True


# --- down --------------------------------------------------------------------------------
def test_down_removes_dependents_first_then_the_networks(lab):
    up(lab, TWO)
    out = lab.docker("compose -p p -f - down", input=TWO).split("\n")[:-1]
    assert out == (lines_for("Container", "p-web-1", "Stopping", "Stopped", "Removing", "Removed")
                   + lines_for("Container", "p-db-1", "Stopping", "Stopped", "Removing", "Removed")
                   + lines_for("Network", "p_default", "Removing", "Removed"))
    assert names(lab) == []
    assert networks(lab) == ["bridge", "host", "none"]


def test_down_by_name_only_reads_the_order_from_the_labels(lab):
    yaml = f"""
services:
  zdb:
    image: alpine
    {SLEEP}
  app:
    image: alpine
    {SLEEP}
    depends_on: [zdb]
"""
    up(lab, yaml)
    lab.docker("stop p-app-1")  # a stopped container is still asked to stop (down.go)
    out = lab.docker("compose -p p down").split("\n")[:-1]
    assert out == (lines_for("Container", "p-app-1", "Stopping", "Stopped", "Removing", "Removed")
                   + lines_for("Container", "p-zdb-1", "Stopping", "Stopped", "Removing", "Removed")
                   + lines_for("Network", "p_default", "Removing", "Removed"))
    assert names(lab) == [] and "p_default" not in networks(lab)
    again = lab.docker("compose -p p down").split("\n")[:-1]  # a logrus warning (its prefix is not checked)
    assert len(again) == 1 and again[0].endswith('Warning: No resource found to remove for project "p".')


def test_down_leaves_a_network_still_in_use(lab):
    up(lab, TWO)
    lab.docker("run -dit --name intruder --network p_default alpine")
    out = lab.docker("compose -p p down").split("\n")[:-1]
    assert out[-2:] == lines_for("Network", "p_default", "Removing", "Resource is still in use")
    assert "p_default" in networks(lab)
    assert names(lab) == ["intruder"]


def test_orphans_are_warned_about_then_removed_on_request(lab):
    both = f"""
services:
  db:
    image: alpine
    {SLEEP}
  web:
    image: alpine
    {SLEEP}
"""
    only_web = f"""
services:
  web:
    image: alpine
    {SLEEP}
"""
    up(lab, both)
    out = up(lab, only_web)
    assert len(out) == 2 and ("Found orphan containers (p-db-1) for this project. If you removed or renamed this "
                              "service in your compose file, you can run this command with the --remove-orphans "
                              "flag to clean it up.") in out[0]
    assert out[1:] == lines_for("Container", "p-web-1", "Running")
    assert names(lab) == ["p-db-1", "p-web-1"]
    out = up(lab, only_web, extra="--remove-orphans")
    assert out == (lines_for("Container", "p-web-1", "Running")
                   + lines_for("Container", "p-db-1", "Stopping", "Stopped", "Removing", "Removed"))
    assert names(lab) == ["p-web-1"]


# --- refusals ----------------------------------------------------------------------------
BAD = {
    "unknown service key": (f"""
services:
  web:
    image: alpine
    {SLEEP}
    volumes: ["data:/data"]
""", "", ["volumes"]),
    "unknown top-level key": (f"""
services:
  web:
    image: alpine
    {SLEEP}
volumes:
  data: {{}}
""", "", ["volumes"]),
    "undefined network": (f"""
services:
  db:
    image: alpine
    {SLEEP}
  web:
    image: alpine
    {SLEEP}
    networks: [back]
""", "", ['service "web" refers to undefined network back']),
    "depends_on cycle": (f"""
services:
  a:
    image: alpine
    {SLEEP}
    depends_on: [b]
  b:
    image: alpine
    {SLEEP}
    depends_on: [a]
""", "", ["cycle", "a", "b"]),
    "up without -d": (TWO, "no-detach", ["-d"]),
    "uppercase project name": (TWO, "-p MyProj", ['invalid project name "MyProj"',
                                                  "must consist only of lowercase alphanumeric characters"]),
    "external network missing": (f"""
services:
  db:
    image: alpine
    {SLEEP}
  web:
    image: alpine
    {SLEEP}
    networks: [ext]
networks:
  ext:
    external: true
    name: outside
""", "", ["network outside declared as external, but could not be found"]),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_is_refused_and_changes_nothing(docker_lab, case):
    lab = docker_lab
    yaml, how, words = BAD[case]
    lab.docker("run -dit --name bystander alpine")
    before = (names(lab), networks(lab))
    command = {"": "compose -p p -f - up -d", "no-detach": "compose -p p -f - up",
               "-p MyProj": "compose -p MyProj -f - up -d"}[how]
    with pytest.raises(DockerError) as err:
        lab.docker(command, input=yaml)
    for word in words:
        assert word in str(err.value)
    assert (names(lab), networks(lab)) == before
