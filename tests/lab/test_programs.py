"""The lab's own Python programs (``python -m nethelpers.…``) are forked from the sandbox, not
executed (nethelpers/sandbox/programs.py): they must still look and behave as executed ones —
the node's namespace, only the standard streams open, their exit status, and what ps shows."""

from __future__ import annotations

import os
import sys

WEB = [sys.executable, "-m", "nethelpers.programs.web"]


def test_a_lab_program_runs_in_its_node_and_looks_executed(lab):
    n = lab.add_node("n")
    web = n.start(WEB + ["--port", "8080", "--name", "forked"])
    web.wait_for("serving")
    pid = n.run(["pgrep", "-f", "^[^ ]*python[^ ]* -m nethelpers.programs.web .*--name forked"]).stdout.split()
    assert len(pid) == 1, pid
    pid = pid[0]
    # what `ps` and `ss -p` show: the command line as given, the name exec would have given
    # (as an executed one's, with one NUL at the end: no padding where a longer command line was)
    assert n.run(f"tr '\\0' ' ' < /proc/{pid}/cmdline").stdout == " ".join(
        WEB + ["--port", "8080", "--name", "forked"]) + " "
    assert n.run(f"cat /proc/{pid}/comm").stdout.strip() == os.path.basename(sys.executable)[:15]
    assert n.run(f"ip netns identify {pid}").stdout.strip() == "n"
    # nothing of the sandbox stays open in it (its control connection, the nodes' netlink sockets
    # and namespace files): the same descriptors as the same program executed through a shell
    executed = n.start(f"exec {sys.executable} -m nethelpers.programs.web --port 8081 --name executed")
    executed.wait_for("serving")
    executed_pid = n.run(["pgrep", "-f", "[-]-name executed"]).stdout.split()[0]

    def descriptors(process_id):  # "fd what", the background process's log file as "log"
        listing = n.run(f"cd /proc/{process_id}/fd && for fd in *; do echo $fd $(readlink $fd | cut -d: -f1); "
                        "done").stdout
        return [" ".join(["log" if "/logs/" in word else word for word in line.split()])
                for line in listing.splitlines()]

    assert descriptors(pid) == descriptors(executed_pid) == ["0 /dev/null", "1 log", "2 log", "3 socket"]
    executed.stop()
    assert n.run(f"cat /proc/{pid}/oom_score_adj").stdout.strip() == "0"
    assert "hello from forked" in n.run("curl -s http://127.0.0.1:8080/").stdout
    assert web.running
    web.stop()
    assert n.run(["pgrep", "-f", "[-]-name forked"]).rc == 1


def test_a_lab_program_gives_its_exit_status_and_errors(lab):
    n = lab.add_node("n")
    usage = n.run(WEB + ["--no-such-option"])
    assert usage.rc == 2 and "unrecognized arguments: --no-such-option" in usage.stderr  # argparse's
    missing = n.run([sys.executable, "-m", "nethelpers.no_such_module"])
    assert missing.rc == 1 and "No module named nethelpers.no_such_module" in missing.stderr.replace("'", "")
