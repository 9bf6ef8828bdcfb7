"""``python -m nethelpers bench``: how fast the lab builds and removes containers.

Builds N "containers" on one bridge in a fresh lab (each a node with eth0, an
address and a default route), checks that the first can ping the last, removes
everything and counts what is left. Then, in another fresh lab, a plain shell
script of ``ip`` commands builds and removes the same thing: the baseline.

Progress goes to stderr as it runs (:class:`Progress`, shared with ``bench-docker`` and
``bench-overlay``); stdout carries only the results. ``bench --backend vm`` runs the same
build and teardown (:func:`run_lab`) in the VM backend: :mod:`nethelpers.vm.bench`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
import time

from .lab import Lab

SUBNET = ipaddress.ip_network("10.88.0.0/16")


class Progress:
    """Progress of a long command, on stderr, so that stdout carries only its results.

    ``progress("text")`` prints a line; ``progress.count(done, total, "text")`` prints
    "text done/total": rewritten in place on a terminal, at most ten lines in a log.
    ``Progress(quiet=True)`` prints nothing.
    """

    def __init__(self, stream=None, *, quiet: bool = False) -> None:
        self.stream, self.quiet = stream or sys.stderr, quiet
        self.tty = not quiet and self.stream.isatty()
        self._open = False  # a counted line is being rewritten on the terminal

    def __call__(self, text: str) -> None:
        if not self.quiet:
            self._end_line()
            print(text, file=self.stream, flush=True)

    def count(self, done: int, total: int, text: str) -> None:
        if self.quiet:
            return
        line = f"{text} {done}/{total}"
        if self.tty:
            self.stream.write(f"\r\033[K{line}")
            self.stream.flush()
            self._open = True
            if done >= total:
                self._end_line()
        elif done >= total or done * 10 // total != (done - 1) * 10 // total:
            print(line, file=self.stream, flush=True)

    def _end_line(self) -> None:
        if self._open:
            self.stream.write("\n")
            self._open = False


def _addresses(n: int) -> list[str]:
    hosts = SUBNET.hosts()
    next(hosts)  # .1 is the bridge
    return [str(next(hosts)) for _ in range(n)]


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    return sum(values), values[3] + values[4]  # all, idle + iowait


def quiesce(limit: float = 10, window: float = 0.2, busy: float = 0.05) -> None:
    """Wait until the machine is idle: the kernel frees namespaces in the background
    (after the previous run's teardown), and that work would be timed otherwise."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        total0, idle0 = _cpu_times()
        time.sleep(window)
        total1, idle1 = _cpu_times()
        if total1 > total0 and 1 - (idle1 - idle0) / (total1 - total0) < busy:
            return


def _tree_rss_kb(pid: int) -> tuple[int, int]:
    """Resident memory (kB) and process count of ``pid`` and all its descendants."""
    total, count, todo = 0, 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
            count += 1
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, StopIteration):
            pass
    return total, count


def sandbox_footprint(lab: Lab) -> dict:
    """The namespaces sandbox's resident memory (MB) and process count, all its processes."""
    rss_kb, procs = _tree_rss_kb(lab._sandbox.pid)
    return {"rss_mb": rss_kb / 1024, "processes": procs}


def run_lab(n: int, progress: Progress | None = None, *, backend: str = "namespaces",
            footprint=sandbox_footprint) -> dict:
    """Build and tear down n containers with the lab's own API; times in seconds.

    Args:
        backend: the lab's backend (``Lab(backend=...)``).
        footprint: called with the lab once the n containers are built (and pinged); what it
            returns (memory, processes) is added to the result.
    """
    progress = progress or Progress(quiet=True)
    gateway, ips = str(SUBNET.network_address + 1), _addresses(n)
    with Lab(backend=backend) as lab:
        host = lab.add_node("host", kind="host")
        host.add_bridge("br0", address=f"{gateway}/{SUBNET.prefixlen}")
        names = [f"c{i}" for i in range(n)]
        progress("  waiting for the machine to be idle (at most 10 s) ...")
        quiesce()
        progress(f"  building {n} containers in one batch ...")
        start = time.perf_counter()
        with lab.batch():
            for i, name in enumerate(names):
                c = lab.add_node(name, kind="container", parent="host")
                lab.add_veth(f"host:veth{i:07x}", f"{name}:eth0", master="br0")
                c.add_address("eth0", f"{ips[i]}/{SUBNET.prefixlen}")
                c.add_route("default", via=gateway)
        built = time.perf_counter()
        progress(f"  built in {built - start:.2f} s; ping c0 -> c{n - 1}, then remove them all ...")
        ping = lab[names[0]].run(f"ping -c1 -W2 {ips[-1]}")
        measured = footprint(lab)
        teardown_start = time.perf_counter()
        with lab.batch():  # one kernel deletion for all veths and the bridge
            lab.remove_nodes(names)
            host.remove_link("br0")
        done = time.perf_counter()
        left_nodes = [x.name for x in lab.nodes() if x.name != "host"]
        left_links = [link["name"] for link in host.snapshot()["links"] if link["name"] != "lo"]
    progress(f"  removed in {done - teardown_start:.2f} s")
    return {"build": built - start, "teardown": done - teardown_start, "ping_ok": ping.rc == 0,
            "leftovers": len(left_nodes) + len(left_links), **measured}


BASELINE = r"""
set -e
now() {{ date +%s%N; }}
ip netns add host
{IN_HOST} link set lo up
{IN_HOST} link add br0 type bridge
{IN_HOST} addr add {gateway}/{prefix} dev br0
{IN_HOST} link set br0 up
t0=$(now)
i=0
for ip in {ips}; do
  ip netns add c$i
  {IN_C} link set lo up
  {IN_HOST} link add veth$i type veth peer name eth0 netns c$i
  {IN_HOST} link set veth$i master br0 up
  {IN_C} link set eth0 up
  {IN_C} addr add $ip/{prefix} dev eth0
  {IN_C} route add default via {gateway}
  i=$((i+1))
done
t1=$(now)
ip netns exec c0 ping -c1 -W2 {last} >/dev/null
t2=$(now)
i=0
for ip in {ips}; do ip netns del c$i; i=$((i+1)); done
{IN_HOST} link del br0
t3=$(now)
left=$(( $(ip netns list | grep -vc '^host') + $({IN_HOST} -o link show master br0 2>/dev/null | wc -l) ))
echo "$t0 $t1 $t2 $t3 $left"
"""

# How the script reaches into a namespace: iproute2's -n option (one process per
# command), or `ip netns exec NS ip ...` as most tutorials write it (two).
STYLES = {"ip -n": ("ip -n host", "ip -n c$i"),
          "ip netns exec": ("ip netns exec host ip", "ip netns exec c$i ip")}


def run_baseline(n: int, style: str = "ip -n", progress: Progress | None = None) -> dict:
    """The same build and teardown as a shell script of ``ip`` commands."""
    progress = progress or Progress(quiet=True)
    gateway, ips = str(SUBNET.network_address + 1), _addresses(n)
    in_host, in_c = STYLES[style]
    script = BASELINE.format(gateway=gateway, prefix=SUBNET.prefixlen, ips=" ".join(ips),
                             last=ips[-1], IN_HOST=in_host, IN_C=in_c)
    with Lab(backend="namespaces") as lab:
        progress("  waiting for the machine to be idle (at most 10 s) ...")
        quiesce()
        progress(f"  the script builds and removes {n} containers (roughly {n * 30 // 1000 + 1} s) ...")
        result = lab.run_in_sandbox(["sh", "-c", script], timeout=900, check=True)
    t0, t1, t2, t3, left = (int(x) for x in result.stdout.split())
    progress(f"  built in {(t1 - t0) / 1e9:.2f} s, removed in {(t3 - t2) / 1e9:.2f} s")
    return {"build": (t1 - t0) / 1e9, "teardown": (t3 - t2) / 1e9, "leftovers": left}


def bench(n: int, baseline: bool = True, progress: Progress | None = None) -> dict:
    """The lab's build and teardown of n containers, and (``baseline``) both ip scripts'."""
    progress = progress or Progress()
    steps = 3 if baseline else 1
    progress(f"[1/{steps}] lab: building and removing {n} containers ...")
    ours = run_lab(n, progress)
    report = {
        **per_container(ours, n),
        "sandbox_rss_mb": round(ours["rss_mb"], 1),
        "sandbox_processes": ours["processes"],
        "cpus": os.cpu_count(),
    }
    if baseline:
        ours_total = ours["build"] + ours["teardown"]
        for step, (style, key) in enumerate((("ip -n", "baseline"), ("ip netns exec", "baseline_netns_exec")), 2):
            progress(f"[{step}/{steps}] baseline: the same as a shell script of `{style}` commands ...")
            base = run_baseline(n, style, progress)
            base_total = base["build"] + base["teardown"]
            report[f"{key}_ms_per_container"] = round(base_total * 1000 / n, 3)
            report[f"{key}_leftovers"] = base["leftovers"]
            report["speedup" if key == "baseline" else "speedup_vs_netns_exec"] = \
                round(base_total / ours_total, 1)
    return report


def per_container(ours: dict, n: int) -> dict:
    """run_lab's timings as the report shows them: per container, in ms."""
    per = 1000 / n
    return {"containers": n,
            "build_ms_per_container": round(ours["build"] * per, 3),
            "teardown_ms_per_container": round(ours["teardown"] * per, 3),
            "total_ms_per_container": round((ours["build"] + ours["teardown"]) * per, 3),
            "build_s": round(ours["build"], 3),
            "first_to_last_ping": ours["ping_ok"],
            "leftovers": ours["leftovers"]}


def main(n: int, baseline: bool = True, quiet: bool = False) -> int:
    """Progress goes to stderr (none if ``quiet``); the last line of stdout is the JSON report."""
    report = bench(n, baseline, Progress(quiet=quiet))
    print(json.dumps(report))
    return 0 if report["leftovers"] == 0 and report["first_to_last_ping"] else 1
