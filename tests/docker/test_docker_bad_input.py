"""A refused docker command leaves the lab exactly as it was: nodes, links, rules, bookkeeping."""

from __future__ import annotations

import re

import pytest

from nethelpers import InvalidInput, InvalidValue
from nethelpers.docker import DockerError, UsageError


AGE = re.compile(r"\b(Less than a second|[0-9]+ seconds?|About a minute|[0-9]+ minutes?)\b")


def state(lab) -> tuple:
    host = lab["docker-host"]
    snapshot = lab.snapshot()
    for node in snapshot.values():
        for link in node["links"]:
            link.pop("index", None), link.pop("link_index", None)  # (interface numbers only grow)
    rules = host.run("iptables -S; iptables -t nat -S", check=True).stdout
    # docker ps with its ages ("Less than a second ago", "Up 1 second") masked: they move on by themselves
    containers = " ".join(AGE.sub("AGE", lab.docker("ps -a")).split())
    return (snapshot, rules, containers, lab.docker("network ls"), sorted(p["command"] for p in lab.processes()))


@pytest.fixture
def busy(lab):
    """A Docker host with a user network, a published port and containers on both networks."""
    lab.docker("network create --subnet 192.0.2.0/24 bridge1")
    lab.docker("run -dit --name c1 --network bridge1 -p 8080:80 busybox")
    lab.docker("run -dit --name c2 busybox")
    return lab


BAD = [
    "run -dit --name c3 -p 8080:80 busybox",                 # port already allocated (after the node exists)
    "run -dit --name c3 --network bridge1 -p 8080:80 busybox",
    "run -dit --name c1 busybox",                            # name taken
    "run -dit --name c3 --network nosuch busybox",           # unknown network
    "run -dit --name c3 --network bridge1 --ip 192.0.2.2 busybox",  # address in use
    "run -dit --name c3 --network bridge1 --ip 10.9.9.9 busybox",   # outside the subnet
    "run -dit --name c3 nosuchimage",
    "run -dit --name c3 -p 99999:80 busybox",
    "run -dit --name c3 --frobnicate busybox",
    "network create --subnet 192.0.2.128/25 clash",          # overlaps bridge1
    "network create bridge1",                                # name taken
    "network create -o com.docker.network.bridge.name=docker0 dup",
    "network create -o com.docker.network.bridge.name=a-name-much-too-long br",
    "network create -o com.docker.network.bridge.enable_icc=maybe icc",
    "network rm bridge1",                                    # has endpoints
    "network rm bridge",
    "network connect bridge1 c1",                            # already connected
    "network connect --ip 192.0.2.2 bridge1 c2",             # address in use
    "network disconnect bridge1 c2",                         # not connected
    "rm c1",                                                 # running
    "exec nosuch true",
]


@pytest.mark.parametrize("command", BAD)
def test_refused_command_changes_nothing(busy, command):
    before = state(busy)
    with pytest.raises(DockerError):
        busy.docker(command)
    assert state(busy) == before


@pytest.mark.parametrize("command, error, words", [
    (None, InvalidValue, ["docker command None is None", "give a str such as 'ps -a'"]),
    (b"ps", InvalidValue, ["is bytes", ".decode()"]),
    (["ps", 1], InvalidValue, ["a list of str"]),
    (["exec", "c1", "echo", "a\0b"], InvalidValue, ["NUL"]),
    pytest.param("run -dit --name c3 busybox echo " + "x" * 131072, InvalidValue, ["at most 131071 bytes"],
                 id="an argument of 128 KiB"),  # (an id: pytest puts it in the environment of what it starts)
    # bash -c 'docker run "x' runs nothing: "unexpected EOF while looking for matching `"'"
    ('run -dit --name c3 "busybox', UsageError, ['" quote that is never closed', "not even start docker",
                                                 "close it, e.g. 'run -dit --name c3 \"busybox\"'"]),
    ("run -dit --name 'c3 busybox", UsageError, ["' quote that is never closed"]),
    ("ps \\", UsageError, ["lone backslash", "remove it"]),
])
def test_a_docker_line_no_shell_would_run_changes_nothing(busy, command, error, words):
    before = state(busy)
    with pytest.raises(error) as caught:
        busy.docker(command)
    assert isinstance(caught.value, InvalidInput)
    for word in words:
        assert word in str(caught.value), str(caught.value)
    assert state(busy) == before
    assert "sh -c" not in " ".join(p["command"] for p in busy.processes())


def test_a_bad_docker_line_does_not_even_start_the_docker_host(lab):
    for command in (None, b"ps", 'ps "'):
        with pytest.raises(InvalidInput):
            lab.docker(command)
    assert lab.nodes() == [] and lab.processes() == []
    assert lab.docker("ps").startswith("CONTAINER ID")      # then it works


# cli/command/inspect/inspector.go (docker/cli v27.5.1): NewTemplateInspectorFromString wraps the error
# of templates.Parse (template.New("").Parse) as "template parsing error: %s", and Inspect returns it as
# cli.StatusError{StatusCode: 64} before looking anything up; Go's text/template/parse words the error
# "template: NAME:LINE: MSG" (parse.go, Tree.errorf), "unclosed action" coming from lex.go.
@pytest.mark.parametrize("template, said", [
    ("{{.Foo", "template: :1: unclosed action"),
    ("{{.Name}} {{.Id", "template: :1: unclosed action"),
    ("{{.Name}}\n{{.Id", "template: :2: unclosed action"),
    ("{{}}", "template: :1: missing value for command"),
    ("{{.Name}}{{end}}", "template: :1: unexpected {{end}}"),
    ("{{range .NetworkSettings.Networks}}{{.IPAddress}}", "template: :1: unexpected EOF"),
])
def test_inspect_with_a_template_that_does_not_parse(busy, template, said):
    before = state(busy)
    for command in (["inspect", "-f", template, "c1"], ["inspect", "-f", template, "nosuch"],
                    ["network", "inspect", "-f", template, "bridge1"]):
        with pytest.raises(UsageError) as caught:
            busy.docker(command)
        assert str(caught.value) == f"template parsing error: {said}"
        assert caught.value.exit_code == 64
    assert state(busy) == before


def test_inspect_with_an_empty_template_prints_json_as_docker_does(busy):
    assert busy.docker(["inspect", "-f", "", "c1"]) == busy.docker("inspect c1")
    assert busy.docker(["inspect", "-f", "{{/* a comment */}}{{.Name}}", "c1"]) == "/c1\n"
