"""``docker version`` and ``docker info`` on the lab's Docker hosts (29.7.2 iptables/nftables, 27.5.1).

Expected outputs are written from the oracles, not from the lab:

* docker/cli at v29.7.2 and v27.5.1: ``cli/command/system/version.go`` (defaultVersionTemplate,
  a tabwriter with minwidth 20, padding 1; reformatDate: time.ANSIC), ``info.go``
  (prettyPrintInfo, prettyPrintClientInfo, prettyPrintServerInfo, printSwarmInfo, formatInfo),
  ``cli/cobra.go`` FlagErrorFunc, ``cli/required.go`` NoArgs;
* moby at docker-v29.7.2 and v27.5.1: ``daemon/config/config.go`` MaxAPIVersion "1.55" and
  defaultMinAPIVersion "1.40" (29), ``api/common.go`` DefaultVersion "1.47" and
  MinSupportedAPIVersion "1.24" (27); ``Dockerfile`` GO_VERSION 1.26.5 (29) and 1.22.11 (27);
  ``daemon/libnetwork/controller_linux.go`` FirewallBackend (29 only: 27's system.Info has no
  such field); ``daemon/logdrivers_linux.go``; ``daemon/pkg/registry/config.go`` (29: ::1/128 and
  127.0.0.0/8) and ``registry/config.go`` (27: 127.0.0.0/8);
* the git commits: ``git rev-parse --short=7 TAG^{commit}`` — docker/cli v29.7.2 a7dcaa6
  (2026-08-05T19:34:15+02:00), v27.5.1 9f9e405 (2025-01-22T00:46:20+01:00); moby docker-v29.7.2
  6a43e3d (2026-08-05T20:24:27+02:00), v27.5.1 4c9b3b0 (2025-01-22T00:46:50+01:00); built at
  the commit date, printed in UTC as ANSIC ("Mon Jan _2 15:04:05 2006").

The machine's values (kernel, CPUs, memory, OS) are read here in the Docker host's node.
"""

from __future__ import annotations

import json

import pytest

from nethelpers.docker import UsageError


def node_facts(lab) -> dict:
    node = lab["docker-host"]
    run = lambda c: node.run(["sh", "-c", c], timeout=10).stdout.strip()  # noqa: E731
    return {"kernel": run("uname -r"), "machine": run("uname -m"), "cpus": run("nproc"),
            "mem_kb": int(run("awk '/^MemTotal:/ {print $2}' /proc/meminfo")),
            "os": run('. /etc/os-release; echo "$PRETTY_NAME"')}


def go_bytes_size(size: float) -> str:
    """go-units BytesSize: "%.4g%s" over 1024-based units (size.go)."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    i = 0
    while size >= 1024:
        size, i = size / 1024, i + 1
    return "%.4g%s" % (size, units[i])


def refused(lab, command) -> UsageError:
    with pytest.raises(UsageError) as caught:
        lab.docker(command)
    return caught.value


# --- docker version -----------------------------------------------------------------------------
def version_text(version, cli_commit, engine_commit, go, cli_built, engine_built, api, min_api, arch="amd64"):
    """defaultVersionTemplate with no platform name; every cell padded to 20 (the tabwriter's
    minwidth: all labels are shorter); one newline after the template (prettyPrintVersion)."""
    def row(label, value):
        return label.ljust(20) + value + "\n"
    return ("Client:\n" + row(" Version:", version) + row(" API version:", api) + row(" Go version:", go)
            + row(" Git commit:", cli_commit) + row(" Built:", cli_built) + row(" OS/Arch:", f"linux/{arch}")
            + row(" Context:", "default") + "\nServer:\n Engine:\n" + row("  Version:", version)
            + row("  API version:", f"{api} (minimum version {min_api})") + row("  Go version:", go)
            + row("  Git commit:", engine_commit) + row("  Built:", engine_built)
            + row("  OS/Arch:", f"linux/{arch}") + row("  Experimental:", "false"))


def test_version_29(lab):
    lab.docker_host(version="29")
    assert lab.docker("version") == version_text(
        "29.7.2", "a7dcaa6", "6a43e3d", "go1.26.5", "Wed Aug  5 17:34:15 2026", "Wed Aug  5 18:24:27 2026",
        "1.55", "1.40")
    # --format: Go field names (.APIVersion), one newline after (prettyPrintVersion writes "\n")
    assert lab.docker(["version", "--format", "{{.Server.Version}}"]) == "29.7.2\n"
    assert lab.docker(["version", "-f", "{{.Client.APIVersion}} {{.Server.MinAPIVersion}}"]) == "1.55 1.40\n"
    data = json.loads(lab.docker(["version", "--format", "json"]))  # formatter.JSONFormatKey
    # 29's serverVersion: Platform, Version, ApiVersion, MinAPIVersion, Os, Arch, Components, then the
    # deprecated fields; the top-level BuildTime is the daemon's (hack/make.sh --rfc-3339 ns), the
    # Engine component's reformatted by newServerVersion
    assert list(data["Server"]) == ["Platform", "Version", "ApiVersion", "MinAPIVersion", "Os", "Arch",
                                    "Components", "GitCommit", "GoVersion", "KernelVersion", "BuildTime"]
    assert data["Server"]["BuildTime"] == "2026-08-05T18:24:27.000000000+00:00"
    engine = data["Server"]["Components"][0]
    assert engine["Name"] == "Engine" and engine["Details"]["BuildTime"] == "Wed Aug  5 18:24:27 2026"
    assert engine["Details"]["KernelVersion"] == node_facts(lab)["kernel"]
    assert data["Client"] == {"Version": "29.7.2", "ApiVersion": "1.55", "DefaultAPIVersion": "1.55",
                              "GitCommit": "a7dcaa6", "GoVersion": "go1.26.5", "Os": "linux", "Arch": "amd64",
                              "BuildTime": "Wed Aug  5 17:34:15 2026", "Context": "default"}


def test_version_27(lab):
    lab.docker_host(version="27")
    assert lab.docker("version") == version_text(
        "27.5.1", "9f9e405", "4c9b3b0", "go1.22.11", "Tue Jan 21 23:46:20 2025", "Tue Jan 21 23:46:50 2025",
        "1.47", "1.24")
    assert lab.docker("version --format {{.Server.APIVersion}}") == "1.47\n"
    data = json.loads(lab.docker(["version", "--format", "{{json .}}"]))
    # 27's types.Version: Platform, Components first, then the deprecated fields
    assert list(data["Server"])[:3] == ["Platform", "Components", "Version"]
    assert data["Server"]["BuildTime"] == "2025-01-21T23:46:50.000000000+00:00"


# --- docker info --------------------------------------------------------------------------------
def info_text(lab, version, *, running, stopped, storage, cdi, insecure, firewall):
    """prettyPrintInfo / prettyPrintServerInfo, line by line, for a daemon with no swarm, no
    security options, no proxy, no labels, no registry mirrors."""
    f = node_facts(lab)
    lines = ["Client:", f" Version:    {version}", " Context:    default", " Debug Mode: false", "", "Server:",
             f" Containers: {running + stopped}", f"  Running: {running}", "  Paused: 0", f"  Stopped: {stopped}",
             " Images: 0", f" Server Version: {version}", *storage,
             " Logging Driver: json-file", " Cgroup Driver: systemd", " Cgroup Version: 2", " Plugins:",
             "  Volume: local", "  Network: bridge host ipvlan macvlan null overlay",
             "  Log: awslogs fluentd gcplogs gelf journald json-file local splunk syslog", *cdi,
             " Swarm: inactive", " Runtimes: io.containerd.runc.v2 runc", " Default Runtime: runc",
             " Init Binary: docker-init", " containerd version: N/A", " runc version: N/A", " init version: N/A",
             f" Kernel Version: {f['kernel']}", f" Operating System: {f['os']}", " OSType: linux",
             f" Architecture: {f['machine']}", f" CPUs: {f['cpus']}",
             f" Total Memory: {go_bytes_size(f['mem_kb'] * 1024)}", " Name: docker-host"]
    tail = [" Docker Root Dir: /var/lib/docker", " Debug Mode: false", " Experimental: false",
            " Insecure Registries:", *insecure, " Live Restore Enabled: false", *firewall, ""]
    return lines, tail


def check_info(text: str, lines: list[str], tail: list[str]) -> None:
    got = text.split("\n")
    assert got[:len(lines)] == lines
    assert got[len(lines)].startswith(" ID: ") and len(got[len(lines)]) == len(" ID: ") + 36  # a UUID
    assert got[len(lines) + 1:] == tail + [""]


def test_info_29_iptables(lab):
    lab.docker_host(version="29", firewall_backend="iptables")
    lab.docker("run -dit --name c1 busybox")
    lab.docker("run --name c2 busybox")
    lines, tail = info_text(
        lab, "29.7.2", running=1, stopped=1,
        storage=[" Storage Driver: overlayfs", "  driver-type: io.containerd.snapshotter.v1"],  # containerd store
        cdi=[" CDI spec directories:", "  /etc/cdi", "  /var/run/cdi"],
        insecure=["  ::1/128", "  127.0.0.0/8"],
        firewall=[" Firewall Backend: iptables", "  EnableUserlandProxy: true",
                  "  UserlandProxyPath: /usr/bin/docker-proxy"])
    check_info(lab.docker("info"), lines, tail)
    assert lab.docker("system info") == lab.docker("info")
    # formatInfo: the template, then a newline; dockerInfo embeds system.Info (.ServerVersion)
    assert lab.docker(["info", "--format", "{{.ServerVersion}}"]) == "29.7.2\n"
    assert lab.docker(["info", "-f", "{{.FirewallBackend.Driver}} {{.ContainersRunning}}"]) == "iptables 1\n"
    assert lab.docker(["info", "-f", "{{.ClientInfo.Version}} {{.Swarm.LocalNodeState}}"]) == "29.7.2 inactive\n"
    assert lab.docker(["info", "-f", "{{json .Plugins.Network}}"]) == \
        '["bridge","host","ipvlan","macvlan","null","overlay"]\n'
    data = json.loads(lab.docker(["info", "--format", "{{json .}}"]))
    assert data["FirewallBackend"]["Driver"] == "iptables" and data["NCPU"] == int(node_facts(lab)["cpus"])
    assert data["ClientInfo"]["Plugins"] == []  # formatInfo: never null


def test_info_29_nftables_without_userland_proxy(lab):
    lab.docker_host(version="29", firewall_backend="nftables", userland_proxy=False)
    text = lab.docker("info")
    # FirewallBackend(): Driver "nftables" when nftables.Enabled(); EnableUserlandProxy only when on
    assert text.endswith(" Live Restore Enabled: false\n Firewall Backend: nftables\n\n")
    assert lab.docker(["info", "-f", "{{.FirewallBackend.Driver}}"]) == "nftables\n"


def test_info_27(lab):
    lab.docker_host(version="27")
    lines, tail = info_text(
        lab, "27.5.1", running=0, stopped=0,
        storage=[" Storage Driver: overlay2", "  Backing Filesystem: extfs", "  Supports d_type: true",
                 "  Using metacopy: false", "  Native Overlay Diff: true", "  userxattr: false"],
        cdi=[],                                # 27: CDI only with the "cdi" feature
        insecure=["  127.0.0.0/8"],
        firewall=[])                           # 27's system.Info has no FirewallBackend
    check_info(lab.docker("info"), lines, tail)
    data = json.loads(lab.docker(["info", "--format", "json"]))
    assert "FirewallBackend" not in data and data["ServerVersion"] == "27.5.1"
    assert data["ContainerdCommit"] == {"ID": "N/A", "Expected": "N/A"}  # 27's Commit has Expected


def test_info_swarm_manager(lab):
    """printSwarmInfo for a manager, swarmkit's defaults (the Default Address Pool line ends in two
    spaces: each pool is written with "  " after it)."""
    lab.docker_host(version="29")
    lab.docker("swarm init --advertise-addr 198.51.100.10")
    text = lab.docker("info")
    assert " Swarm: active\n  NodeID: " in text
    assert ("  Is Manager: true\n  ClusterID: " in text
            and "  Managers: 1\n  Nodes: 1\n  Default Address Pool: 10.0.0.0/8  \n  SubnetSize: 24\n"
                "  Data Path Port: 4789\n  Orchestration:\n   Task History Retention Limit: 5\n  Raft:\n"
                "   Snapshot Interval: 10000\n   Number of Old Snapshots to Retain: 0\n   Heartbeat Tick: 1\n"
                "   Election Tick: 10\n  Dispatcher:\n   Heartbeat Period: 5 seconds\n  CA Configuration:\n"
                "   Expiry Duration: 3 months\n   Force Rotate: 0\n  Autolock Managers: false\n"
                "  Root Rotation In Progress: false\n  Node Address: 198.51.100.10\n  Manager Addresses:\n"
                "   198.51.100.10:2377\n Runtimes: " in text)


# --- the CLI's refusals -------------------------------------------------------------------------
def test_bad_flags_29(lab):
    """29.7.2 cli/cobra.go FlagErrorFunc (status 125) and cli/required.go NoArgs."""
    lab.docker_host(version="29")
    e = refused(lab, "version --bogus")
    assert str(e) == ("unknown flag: --bogus\n\nUsage:  docker version [OPTIONS]\n\n"
                      "Run 'docker version --help' for more information") and e.exit_code == 125
    e = refused(lab, "info -x")
    assert str(e) == ("unknown shorthand flag: 'x' in -x\n\nUsage:  docker info [OPTIONS]\n\n"
                      "Run 'docker info --help' for more information")
    e = refused(lab, "version foo")
    assert str(e) == ("docker: 'docker version' accepts no arguments\n\nUsage:  docker version [OPTIONS]\n\n"
                      "Run 'docker version --help' for more information")
    # newVersionTemplate: templates.New("version"), "template parsing error: %w", status 64
    e = refused(lab, ["version", "--format", "{{.Server.Version"])
    assert str(e) == "template parsing error: template: version:1: unclosed action" and e.exit_code == 64


def test_bad_flags_27(lab):
    """27.5.1 FlagErrorFunc: "%s\\nSee '%s --help'."; NoArgs with the command's Short."""
    lab.docker_host(version="27")
    e = refused(lab, "info --bogus")
    assert str(e) == "unknown flag: --bogus\nSee 'docker info --help'." and e.exit_code == 125
    e = refused(lab, "version foo")
    assert str(e) == ('"docker version" accepts no arguments.\nSee \'docker version --help\'.\n\n'
                      "Usage:  docker version [OPTIONS]\n\nShow the Docker version information")
