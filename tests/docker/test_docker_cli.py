"""The docker command line read without a lab: cobra's and docker/cli's usage errors come before
any daemon is asked (docker/cli v27.5.1 cli/required.go: RequiresMinArgs, ExactArgs,
RequiresRangeArgs, NoArgs; spf13/pflag's "unknown flag", "unknown shorthand flag", "flag needs an
argument"), so these tests build no lab at all; the last one checks, in a lab, that such a command
starts no Docker host either."""

from __future__ import annotations

import pytest

from nethelpers.docker import UsageError, cli


def refused(command: str) -> str:
    flag_host, words = cli.parse_globals(cli.split(command))
    with pytest.raises(UsageError) as info:
        cli.parse(words)
    return str(info.value)


def test_unknown_flag():
    assert refused("run --bogus busybox") == "unknown flag: --bogus\nSee 'docker run --help'."


def test_unknown_shorthand_flag():
    assert refused("run -dZ busybox") == "unknown shorthand flag: 'Z' in -dZ\nSee 'docker run --help'."


def test_flag_missing_its_argument():
    assert refused("run --name") == "flag needs an argument: --name\nSee 'docker run --help'."


def test_run_without_an_image():
    message = refused("run -d")
    assert message.startswith('"docker run" requires at least 1 argument.\nSee \'docker run --help\'.')
    assert "Usage:  docker run [OPTIONS] IMAGE [COMMAND] [ARG...]" in message


ARGUMENT_COUNTS = [
    ("network create", '"docker network create" requires exactly 1 argument.'),
    ("network create x1 x2", '"docker network create" requires exactly 1 argument.'),
    ("network connect n1", '"docker network connect" requires exactly 2 arguments.'),
    ("network connect n1 c1 extra", '"docker network connect" requires exactly 2 arguments.'),
    ("network disconnect n1 c1 extra", '"docker network disconnect" requires exactly 2 arguments.'),
    ("port", '"docker port" requires at least 1 and at most 2 arguments.'),
    ("port c1 80 81", '"docker port" requires at least 1 and at most 2 arguments.'),
    ("rm", '"docker rm" requires at least 1 argument.'),
]


@pytest.mark.parametrize("command, needs", ARGUMENT_COUNTS, ids=[c for c, _ in ARGUMENT_COUNTS])
def test_argument_count_is_checked(command, needs):
    assert refused(command).startswith(needs + "\nSee 'docker ")


@pytest.mark.parametrize("command", ["ps c1", "network ls n1"])
def test_listing_commands_take_no_arguments(command):
    """cobra's NoArgs: `docker ps NAME` is refused, not taken as `docker ps`."""
    assert '"docker ' + command.rsplit(" ", 1)[0] + '" accepts no argument' in refused(command)


def test_unknown_command():
    assert refused("frobnicate").startswith("docker: 'frobnicate' is not a docker command.\nSee 'docker --help'")


def test_real_but_unimplemented_flag_is_refused_clearly():
    message = refused("run -v /data:/data busybox")
    assert "-v" in message and "not implement" in message


@pytest.mark.parametrize("spec", ["abc", "70000:80", "8080:80/xyz", "8080:abc"])
def test_invalid_publish_spec_is_refused(spec):
    refused(f"run -d -p {spec} nginx")


def test_a_parsed_command_keeps_its_flags_and_arguments():
    parsed = cli.parse(cli.split("run -dit --name c1 -p 127.0.0.1:8080:80/udp --network n1 busybox sh -c 'echo hi'"))
    assert (parsed.command, parsed.args) == ("run", ["busybox", "sh", "-c", "echo hi"])
    assert parsed.options["name"] == "c1" and parsed.options["network"] == "n1" and parsed.options["detach"]
    (spec,) = parsed.options["publish"]
    assert (spec.host_ip, spec.host_port, spec.container_port, spec.proto) == ("127.0.0.1", 8080, 80, "udp")


def test_a_usage_error_starts_no_docker_host(lab):
    with pytest.raises(UsageError):
        lab.docker("run --bogus busybox")
    assert [n.name for n in lab.nodes()] == []


def test_a_comment_ends_the_line_as_in_a_shell(docker_lab):
    """`docker run ... busybox   # why` in a terminal: the shell drops the comment before docker sees it;
    a quoted # is a word like any other."""
    docker_lab.docker("run -dit --name c1 busybox   # a shell keeps it running")
    assert docker_lab.docker("exec c1 echo '#1' # not an argument").strip() == "#1"
