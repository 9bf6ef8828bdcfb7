"""Commands in nodes: results, timeouts, background processes, magics."""

from __future__ import annotations

import time

import pytest

from nethelpers import CommandFailed, CommandTimeout, MissingFeature, NotFound


def test_run_gives_rc_stdout_stderr(lab):
    n = lab.add_node("n")
    r = n.run("echo out; echo err >&2; exit 3")
    assert (r.rc, r.stdout, r.stderr) == (3, "out\n", "err\n")
    assert n.run(["printf", "%s", "a b"]).stdout == "a b"
    assert n.run("cat", input="piped").stdout == "piped"
    with pytest.raises(CommandFailed, match="status 3"):
        n.run("exit 3", check=True)


def test_commands_run_as_root_of_the_sandbox_with_sbin_on_path(lab):
    r = lab.add_node("n").run("id -u; command -v ip")
    assert r.stdout.split() [0] == "0" and r.stdout.split()[1].endswith("/ip")


def test_timeout_kills_the_command_and_says_so(lab):
    n = lab.add_node("n")
    started = time.monotonic()
    with pytest.raises(CommandTimeout, match="longer than 0.5 s"):
        n.run("sleep 30", timeout=0.5)
    assert time.monotonic() - started < 25  # killed, not waited for: sleep's own 30 s would be longer
    assert "sleep 30" not in n.run("ps -eo args").stdout


def test_a_missing_tool_is_named_with_its_package(lab):
    n = lab.add_node("n")
    with pytest.raises(MissingFeature, match="'no-such-tool-xyz' is not installed"):
        n.run("no-such-tool-xyz --help")
    with pytest.raises(MissingFeature):
        n.run(["no-such-tool-xyz"])
    assert n.run("# a comment first\necho fine").stdout == "fine\n"
    assert n.run("echo 'unbalanced").rc == 2  # the shell's own error
    # the first command as /bin/sh reads it (POSIX shell grammar: ";" ends a command, "name()" defines
    # a function), not the first blank-separated word
    assert n.run("true; echo after").stdout == "after\n"
    assert n.run("now() { echo fn; }; now").stdout == "fn\n"
    with pytest.raises(MissingFeature, match="'no-such-tool-xyz' is not installed"):
        n.run("no-such-tool-xyz; echo never")


def test_background_server_reachable_then_stopped(pair, lab):
    a, b = pair
    server = b.start("python3 -m http.server 8000 --bind 10.0.0.2")
    server.wait_for("Serving HTTP")
    assert server.running
    fetch = "python3 -c \"import urllib.request as u; print(u.urlopen('http://10.0.0.2:8000/', timeout=3).status)\""
    assert a.run(fetch).stdout.strip() == "200"
    assert [p["node"] for p in lab.processes()] == ["b"]
    log = server.stop()
    assert '"GET / HTTP/1.1" 200' in log and not lab.processes()
    assert a.run(fetch).rc != 0


def test_wait_for_reports_an_early_exit(lab):
    p = lab.add_node("n").start("echo bye")
    with pytest.raises(CommandTimeout, match="exited without printing"):
        p.wait_for("never", timeout=3)


def test_stopping_an_unknown_process(lab):
    with pytest.raises(NotFound, match="no background process #99"):
        lab._call("stop", 99)


def test_run_in_sandbox_sees_nodes_as_named_namespaces(lab):
    lab.add_nodes(["x", "y"])
    assert sorted(lab.run_in_sandbox("ip netns list").stdout.split()) == ["x", "y"]


def test_lab_magic_runs_in_a_node(lab, capsys):
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    from nethelpers.magics import register

    shell = InteractiveShell.instance()
    register(shell)
    lab.add_node("m")
    shell.run_line_magic("lab", "m ip -br link show lo")
    shell.run_cell_magic("lab", "m", "echo one\nfalse")
    shell.run_line_magic("lab", "nowhere true")
    import os
    import signal
    import threading

    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a Jupyter kernel (a shell's
    # background job starts with SIGINT ignored, and Python keeps that)
    threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    shell.run_line_magic("lab", "m ping -i 0.2 127.0.0.1")  # interrupted like in a terminal
    out = capsys.readouterr().out
    assert "packets transmitted" in out and "[interrupted]" in out
    assert "lo" in out and "UNKNOWN" in out
    assert "one\n[exit status 1]" in out
    assert "NotFound: there is no node 'nowhere'" in out


def test_ctrl_c_stops_the_command_like_a_terminal_and_the_lab_goes_on(pair):
    """Jupyter's "interrupt kernel" is a SIGINT to the kernel: the command in the node gets it too."""
    import os
    import signal
    import threading

    from nethelpers import Interrupted

    a, _ = pair
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a Jupyter kernel (a shell's
    # background job starts with SIGINT ignored, and Python keeps that)
    threading.Timer(1.5, os.kill, (os.getpid(), signal.SIGINT)).start()
    started = time.monotonic()
    with pytest.raises(Interrupted) as caught:
        a.run("ping -i 0.2 10.0.0.2", timeout=20)  # would run until the timeout
    assert time.monotonic() - started < 15  # interrupted, not run to its 20 s timeout
    assert "packets transmitted" in caught.value.result.stdout  # ping's own Ctrl-C summary
    assert a.run("echo next").stdout == "next\n"  # the next answer is its own, not a stale one


def test_a_docker_cell_gives_its_body_as_standard_input(lab, capsys):
    """``%%docker compose -f - up -d``: the cell's body is what ``-f -`` reads (docker compose's stdin)."""
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell

    from nethelpers.magics import register

    shell = InteractiveShell.instance()
    register(shell)
    shell.run_cell_magic("docker", "compose -f - up -d", "name: cellproj\nservices:\n  one:\n    image: busybox\n"
                                                          "    command: sleep 600\n")
    shell.run_cell_magic("docker", "compose -f - up -d", "name: cellproj\nservices:\n  one:\n    volumes: [x]\n")
    captured = capsys.readouterr()
    assert " Container cellproj-one-1 Started " in captured.out
    assert "volumes" in captured.err  # refused by name, on stderr as the CLI prints errors
    assert lab.docker_host().containers["cellproj-one-1"].running
