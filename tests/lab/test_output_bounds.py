"""A command's output is bounded: the lab keeps its first and last MiB and counts what it left out,
so a runaway command cannot fill the sandbox's memory (its /run is a tmpfs) nor the owner's."""

from __future__ import annotations

import os
import sys
import threading
import time

import pytest

from nethelpers import CommandTimeout

MIB = 1 << 20


def sandbox_pid(lab) -> int:
    """The lab's PID 1 as this machine numbers it: the launcher's only child."""
    launcher = lab._sandbox.pid
    with open(f"/proc/{launcher}/task/{launcher}/children") as f:
        return int(f.read().split()[0])


class Footprint:
    """While the block runs: the sandbox's peak resident memory and what its /run tmpfs holds,
    each as growth over the start, in MB."""

    def __init__(self, lab) -> None:
        self.pid = sandbox_pid(lab)
        # the sandbox's mounts are read through a process of its own that this user may look into
        # (PID 1 itself cannot be traced, so a non-root owner may not open its /proc/PID/root)
        lab._call("start", None, ["sleep", "600"])
        with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
            self.window = max(int(pid) for pid in f.read().split())

    def _status(self, key: str) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))

    def _run_kb(self) -> int:
        st = os.statvfs(f"/proc/{self.window}/root/run")  # the sandbox's own mounts, seen from here
        return (st.f_blocks - st.f_bfree) * st.f_frsize // 1024

    def __enter__(self) -> Footprint:
        try:  # start the peak (VmHWM) afresh; if refused, the older peak only makes the bound stricter
            with open(f"/proc/{self.pid}/clear_refs", "w") as f:
                f.write("5")
        except OSError:
            pass
        self.rss0, self.run0 = self._status("VmRSS"), self._run_kb()
        self.run_peak, self._done = self.run0, threading.Event()
        self._watch = threading.Thread(target=self._sample, daemon=True)
        self._watch.start()
        return self

    def _sample(self) -> None:
        while not self._done.wait(0.02):
            self.run_peak = max(self.run_peak, self._run_kb())

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._watch.join()
        self.memory_mb = (self._status("VmHWM") - self.rss0) / 1024
        self.tmpfs_mb = (self.run_peak - self.run0) / 1024


def numbers(first: int, last: int) -> str:
    """What ``seq first last`` prints."""
    return "".join(f"{i}\n" for i in range(first, last + 1))


def marker(dropped: int) -> str:
    return f"[... {dropped} bytes left out: the lab keeps the first and last 1 MiB of a command's output ...]\n"


def test_a_flood_times_out_on_time_and_costs_the_sandbox_little(lab):
    n = lab.add_node("n")
    with Footprint(lab) as footprint:
        started = time.monotonic()
        with pytest.raises(CommandTimeout, match="longer than 2 s") as caught:
            n.run("yes", timeout=2)
        took = time.monotonic() - started
    assert took < 2 + 5 * lab.patience   # its 2 s, then killed (generous: 2.0 s measured)
    assert footprint.memory_mb < 64 and footprint.tmpfs_mb < 64
    assert "Output so far: 'y\\ny\\ny\\n" in str(caught.value)
    assert n.run("echo next").stdout == "next\n"


def test_a_big_output_keeps_its_head_and_tail_and_counts_the_rest(lab):
    n = lab.add_node("n")
    expected = numbers(1000000, 2111110)  # 8 888 888 bytes
    dropped = len(expected) - 2 * MIB
    r = n.run("seq 1000000 2111110; seq 1000000 2111110 >&2")
    for text in (r.stdout, r.stderr):
        assert text == expected[:MIB] + marker(dropped) + expected[-MIB:]  # the head ends a line
    assert r.dropped == 2 * dropped
    assert r.rc == 0


def test_output_within_the_budget_is_unchanged(lab):
    n = lab.add_node("n")
    r = n.run("printf 'a\\tb\\0c\\n\\303\\251t\\303\\251'; printf 'err\\n' >&2")
    assert (r.stdout, r.stderr, r.dropped) == ("a\tb\0c\nété", "err\n", 0)
    whole = n.run(f"head -c {2 * MIB} /dev/zero | tr '\\0' a")
    assert (whole.stdout, whole.dropped) == ("a" * 2 * MIB, 0)
    over = n.run(f"head -c {2 * MIB + 1} /dev/zero | tr '\\0' a")
    assert over.stdout == "a" * MIB + "\n" + marker(1) + "a" * MIB and over.dropped == 1


def test_a_cut_never_splits_a_character(lab):
    n = lab.add_node("n")
    count = MIB  # "x", then 2-byte characters: the head's last one and the tail's first are cut in two
    r = n.run([sys.executable, "-c", f"import sys; sys.stdout.write('x' + 'é' * {count} + 'x')"])
    assert "\ufffd" not in r.stdout
    head, tail = MIB - 1, MIB - 1  # the half characters at both cuts go too
    assert r.dropped == 2 + 2 * count - head - tail
    assert r.stdout == "x" + "é" * (head // 2) + "\n" + marker(r.dropped) + "é" * (tail // 2) + "x"


def test_input_is_fed_while_output_is_read(lab):
    n = lab.add_node("n")
    text = "line of input\n" * 40000  # 560 kB: more than a pipe holds, both ways
    assert n.run("cat", input=text).stdout == text
    assert n.run("true", input=text).rc == 0  # it never reads: no hang, no error


def test_what_a_command_leaves_running_does_not_hold_it_up(lab):
    n = lab.add_node("n")
    started = time.monotonic()
    assert n.run("sleep 3 >/dev/null & echo started").stdout == "started\n"
    assert n.run("sleep 3 & echo started").stdout == "started\n"  # the sleep holds stdout
    assert n.run("(sleep 1; echo late) &").stdout == ""
    assert time.monotonic() - started < 5   # generous, yet not the 3 s of any of those sleeps


def test_what_a_command_leaves_running_can_still_write(lab):
    """Later it writes to the pipe its command had: more than a pipe holds, then a marker file;
    no SIGPIPE (nobody reads) and no stall (nobody drains) may stop it."""
    n = lab.add_node("n")
    n.run("rm -f /run/nethelpers/marker")
    n.run("(sleep 0.3; head -c 300000 /dev/zero; echo x >&2; echo y > /run/nethelpers/marker) &")
    deadline = time.monotonic() + 3 * lab.patience
    while time.monotonic() < deadline:
        time.sleep(0.2)
        found = lab.run_in_sandbox("cat /run/nethelpers/marker 2>/dev/null").stdout
        if found:
            break
    assert found == "y\n"


def test_a_flood_in_the_background_stops_quickly_and_costs_little(lab):
    n = lab.add_node("n")
    with Footprint(lab) as footprint:
        p = n.start("yes")
        time.sleep(1)
        assert n.run("echo meanwhile").stdout == "meanwhile\n"
        started = time.monotonic()
        output = p.stop()
        took = time.monotonic() - started
    assert took < 5 * lab.patience   # generous: stopped, not drained
    assert footprint.memory_mb < 64 and footprint.tmpfs_mb < 64
    head, cut, tail = output.partition("[... ")
    assert head == "y\n" * (MIB // 2)
    assert "bytes left out" in cut + tail and len(tail) < MIB + 200
    assert tail.endswith("y\n") or tail.endswith("y")


def test_background_output_is_all_there_when_small(lab):
    n = lab.add_node("n")
    p = n.start("seq 1 100000; echo done >&2")
    p.wait_for("done")
    assert p.wait() == numbers(1, 100000) + "done\n"


def test_a_server_left_running_logs_every_request_and_keeps_serving(lab):
    """``python3 -m http.server &`` logs each request to the pipe its run() had: 2000 requests log
    more than a pipe holds, so someone must read it while the next command runs."""
    n = lab.add_node("n")
    n.run(f"{sys.executable} -m http.server 8000 --bind 127.0.0.1 &")
    fetch = (f"{sys.executable} -c \"import time, urllib.request as u\n"
             "for _ in range(100):\n"
             "    try: u.urlopen('http://127.0.0.1:8000/'); break\n"
             "    except OSError: time.sleep(0.05)\n"
             "for _ in range(2000): u.urlopen('http://127.0.0.1:8000/').read()\n"
             "print('fetched')\"")
    assert n.run(fetch, timeout=30).stdout == "fetched\n"
    assert n.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/").stdout == "200"
