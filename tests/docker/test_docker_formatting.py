"""docker ps / port / network ls as docker/cli prints them, at v27.5.1 and v29.7.2.

Expectations come from docker/cli's source and its own tests at each tag:
cli/command/formatter/container.go (DisplayablePorts, ContainerContext), container_test.go
(TestDisplayablePorts), formatter.go (tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)),
displayutils.go (Ellipsis), cli/command/container/port.go (runPort), cli/command/network/list.go
(runList: sortorder.NaturalLess by name), and moby's View.transform (daemon/container/view.go
at docker-v29.7.2, container/view.go at v27.5.1) for the summary's Command.
"""

from __future__ import annotations

import pytest

from nethelpers.docker import output
from nethelpers.docker.cli import Parsed
from nethelpers.docker.commands import execute


def P(private, public=0, ip="", kind="tcp"):
    return {"IP": ip, "PrivatePort": private, "PublicPort": public, "Type": kind}


# docker/cli v27.5.1 and v29.7.2 cli/command/formatter/container_test.go TestDisplayablePorts
BOTH = [
    ([P(9988)], "9988/tcp"),
    ([P(9988, kind="udp")], "9988/udp"),
    ([P(9988, ip="0.0.0.0")], "0.0.0.0:0->9988/tcp"),
    ([P(9988, ip="::")], "[::]:0->9988/tcp"),
    ([P(9988, 8899)], "9988/tcp"),
    ([P(9988, 8899, "4.3.2.1")], "4.3.2.1:8899->9988/tcp"),
    ([P(9988, 9988, "4.3.2.1")], "4.3.2.1:9988->9988/tcp"),
    ([P(9988, kind="udp"), P(9988, kind="udp")], "9988/udp, 9988/udp"),
    ([P(9998, 9998, "1.2.3.4", "udp"), P(9999, 9999, "1.2.3.4", "udp")], "1.2.3.4:9998-9999->9998-9999/udp"),
    ([P(9998, 8887, "1.2.3.4", "udp"), P(9999, 8888, "1.2.3.4", "udp")],
     "1.2.3.4:8887->9998/udp, 1.2.3.4:8888->9999/udp"),
    ([P(9998, kind="udp"), P(9999, kind="udp")], "9998-9999/udp"),
    ([P(6677, 7766, "1.2.3.4"), P(9988, 8899, kind="udp")], "9988/udp, 1.2.3.4:7766->6677/tcp"),
    ([P(9988, 8899, "1.2.3.4", "udp"), P(9988, 8899, "1.2.3.4"), P(2233, 3322, "4.3.2.1")],
     "4.3.2.1:3322->2233/tcp, 1.2.3.4:8899->9988/tcp, 1.2.3.4:8899->9988/udp"),
    ([P(80), P(1024), P(80, kind="udp"), P(1024, kind="udp"),
      P(1024, 80, "1.1.1.1"), P(1024, 80, "1.1.1.1", "udp"), P(80, 1024, "1.1.1.1"), P(80, 1024, "1.1.1.1", "udp"),
      P(1024, 80, "2.1.1.1"), P(1024, 80, "2.1.1.1", "udp"), P(80, 1024, "2.1.1.1"), P(80, 1024, "2.1.1.1", "udp"),
      P(12345, kind="sctp")],
     "80/tcp, 80/udp, 1024/tcp, 1024/udp, 12345/sctp, 1.1.1.1:1024->80/tcp, 1.1.1.1:1024->80/udp, "
     "2.1.1.1:1024->80/tcp, 2.1.1.1:1024->80/udp, 1.1.1.1:80->1024/tcp, 1.1.1.1:80->1024/udp, "
     "2.1.1.1:80->1024/tcp, 2.1.1.1:80->1024/udp"),
]


@pytest.mark.parametrize("major", [27, 29])
@pytest.mark.parametrize("ports,expected", BOTH)
def test_displayable_ports_as_the_clis_own_tests(major, ports, expected):
    assert output.displayable_ports(ports, major) == expected


def test_an_ipv6_range_group_is_written_with_brackets_from_29_on():
    """formGroup: v27.5.1 fmt.Sprintf("%s:%s->%s", ip, group, group); docker-v29.7.2
    net.JoinHostPort(ip, group) (container_test.go at v29.7.2: "[::1]:9998-9999->9998-9999/udp")."""
    ports = [P(9998, 9998, "::1", "udp"), P(9999, 9999, "::1", "udp")]
    assert output.displayable_ports(ports, 29) == "[::1]:9998-9999->9998-9999/udp"
    assert output.displayable_ports(ports, 27) == "::1:9998-9999->9998-9999/udp"


def test_tabwriter_pads_to_ten_and_three_and_never_the_last_cell():
    """formatter.go postFormat: tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)."""
    assert output.table(["A", "BB", "C"], [["x", "", "last"]]) == "A         BB        C\nx                   last\n"
    assert output.table(["NAME", "X"], [["abcdefghijkl", "1"]]) == "NAME           X\nabcdefghijkl   1\n"


def test_command_is_ellipsized_to_20_and_quoted():
    """ContainerContext.Command: strconv.Quote(Ellipsis(command, 20)); Ellipsis keeps 19 columns
    and an "…". View.transform quotes an argument with a space in single quotes."""
    assert output.ellipsis("/docker-entrypoint.sh nginx -g 'daemon off;'", 20) == "/docker-entrypoint.…"
    assert output.ellipsis("sh -c 'exit 3'", 20) == "sh -c 'exit 3'"
    assert output.go_quote('say "hi"\n') == '"say \\"hi\\"\\n"'


def test_human_duration_is_go_units():
    """go-units HumanDuration (vendored at both tags): hours rounded, "About an hour" below 1.5 h."""
    assert [output.human_duration(s) for s in (0.5, 1, 59, 60, 119, 120, 3599, 5399, 5400, 47 * 3600)] == [
        "Less than a second", "1 second", "59 seconds", "About a minute", "About a minute", "2 minutes",
        "59 minutes", "About an hour", "2 hours", "47 hours"]


def test_natural_order():
    """sortorder.NaturalLess (vendored by docker/cli): digit runs compare as numbers."""
    names = ["net10", "bridge", "net2", "host", "none", "Net1"]
    assert sorted(names, key=output.natural_key) == ["Net1", "bridge", "host", "net2", "net10", "none"]


@pytest.mark.parametrize("version", ["27", "29"])
def test_ps_network_ls_and_port(lab, version):
    lab.docker_host(version=version)
    lab.docker("network create net10")
    lab.docker("network create net2")
    lab.docker("run -d --name web -p 8080:80 -p 127.0.0.1:8443:443 nginx")
    lab.docker("run -d --name plain nginx")
    lab.docker(["run", "--name", "fg", "busybox", "sh", "-c", "exit 3"])

    lines = lab.docker("ps -a").splitlines()
    header = lines[0]
    assert header.split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert header.startswith("CONTAINER ID   IMAGE     COMMAND  ")  # 10 wide at least, 3 of padding
    rows = {line.split()[-1]: line for line in lines[1:]}
    assert list(rows) == ["fg", "plain", "web"]  # newest first
    assert '"/docker-entrypoint.…"' in rows["web"]
    assert "0.0.0.0:8080->80/tcp, 127.0.0.1:8443->443/tcp" in rows["web"]
    assert "80/tcp " in rows["plain"]  # the image's EXPOSE 80, unpublished
    assert '"sh -c \'exit 3\'"' in rows["fg"] and "Exited (3) " in rows["fg"]
    col = header.index("PORTS")
    assert all(line[col - 3:col] == "   " for line in lines)

    assert lab.docker("port web") == "80/tcp -> 0.0.0.0:8080\n443/tcp -> 127.0.0.1:8443\n"
    assert lab.docker("port web 80") == "0.0.0.0:8080\n"  # port.go: the frontends only
    assert lab.docker("port web 443/tcp") == "127.0.0.1:8443\n"
    with pytest.raises(Exception) as err:
        lab.docker("port plain 80")  # exposed, not published
    assert str(err.value).strip() == ("Error: No public port '80' published for plain" if version == "27"
                                      else "no public port '80' published for plain")

    names = [line.split()[1] for line in lab.docker("network ls").splitlines()[1:]]
    assert names == ["bridge", "host", "net2", "net10", "none"]


@pytest.mark.parametrize("version", ["27", "29"])
def test_format_no_trunc_and_quiet(lab, version):
    """--format "table ..." gets the header names of NewContainerContext / network formatter.go,
    a plain template none; --no-trunc keeps full IDs (what the parser hands the handler)."""
    host = lab.docker_host(version=version)
    lab.docker("run -dit --name c1 busybox")
    ps = {"all": False, "quiet": False, "format": "table {{.Names}}\\t{{.Status}}", "no_trunc": False}
    got = execute(host, Parsed("ps", ps, []))
    assert got.startswith("NAMES     STATUS\nc1        Up ")
    ps.update(format="{{.ID}} {{.Command}}", no_trunc=True)
    cid = host.container("c1").id
    assert execute(host, Parsed("ps", ps, [])) == f'{cid} "sh"\n'
    ls = {"quiet": True, "format": None, "no_trunc": True}
    ids = execute(host, Parsed("network ls", ls, [])).split()
    assert all(len(i) == 64 for i in ids) and len(ids) == 3


@pytest.mark.parametrize("version", ["27", "29"])
def test_ps_and_network_ls_flags_on_the_command_line(lab, version):
    """docker/cli v27.5.1 and v29.7.2 cli/command/container/list.go: --format, --no-trunc,
    -n/--last and -l/--latest (the last created, in any state: ContainerListOptions.Limit),
    -q over a custom format (NewContainerFormat), a template that does not parse refused before
    the list is asked for ("failed to parse template"); pflag's int parsing for -n;
    cli/command/network/list.go: --format and --no-trunc."""
    from nethelpers.docker import DockerError

    lab.docker_host(version=version)
    lab.docker("run -dit --name c1 busybox")
    lab.docker(["run", "--name", "c2", "busybox", "true"])
    lab.docker("run -dit --name c3 busybox")
    assert lab.docker("ps --format '{{.Names}}'") == "c3\nc1\n"
    assert lab.docker("ps -n 2 --format '{{.Names}} {{.State}}'") == "c3 running\nc2 exited\n"
    assert lab.docker("ps --latest --format '{{.Names}}'") == "c3\n"
    assert lab.docker("ps -q --format '{{.Names}}'").split() == [lab.docker_host().container(n).id[:12]
                                                                 for n in ("c3", "c1")]
    assert lab.docker("ps --no-trunc -l --format '{{.ID}}'").strip() == lab.docker_host().container("c3").id
    with pytest.raises(DockerError) as err:
        lab.docker("ps --format '{{.Names'")
    assert str(err.value).startswith("failed to parse template: template: :1: unclosed action")
    with pytest.raises(DockerError) as err:
        lab.docker("ps -n two")
    assert str(err.value) == ('invalid argument "two" for "-n, --last" flag: strconv.ParseInt: parsing "two": '
                              "invalid syntax\nSee 'docker ps --help'.")
    assert lab.docker("network ls --format '{{.Name}} {{.Driver}}'") == "bridge bridge\nhost host\nnone null\n"
    long_ids = lab.docker("network ls --no-trunc -q").split()
    assert len(long_ids) == 3 and all(len(i) == 64 for i in long_ids)
