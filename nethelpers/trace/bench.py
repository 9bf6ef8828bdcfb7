"""``python -m nethelpers bench-trace -n N``: how long one ``lab.trace()`` takes.

Two labs, as the notebooks trace them: chapter 01's Docker host (six nodes; outbound NAT, a published
port, an isolation drop) and chapter 07's overlay (two hosts, nine nodes; c1 to c2 through VXLAN).
Prints one JSON line: per case the fastest, median and slowest of N traces, in ms.
"""

from __future__ import annotations

import json
import statistics
import time

from ..bench import Progress
from ..lab import Lab


def _time(progress: Progress, label: str, runs: int, trace) -> dict:
    times = []
    for i in range(runs):
        started = time.perf_counter()
        result = trace()
        times.append((time.perf_counter() - started) * 1000)
        progress.count(i + 1, runs, label)
    return {"min_ms": round(min(times)), "median_ms": round(statistics.median(times)),
            "max_ms": round(max(times)), "hops": len(result.hops), "outcome": result.outcome}


def bench(runs: int, *, quiet: bool = False) -> dict:
    progress = Progress(quiet=quiet)
    report = {"runs": runs}
    with Lab() as lab:
        progress("building chapter 01's Docker host")
        for command in ("run -dit --name c1 busybox", "run -d --name web -p 8080:80 nginx",
                        "network create bridge1", "run -dit --name c3 --network bridge1 busybox"):
            lab.docker(command)
        report["nodes_bridge"] = len(lab.nodes())
        report["outbound_nat"] = _time(progress, "c1 -> internet", runs, lambda: lab.trace("c1", "203.0.113.10"))
        report["published_port"] = _time(progress, "lan-client -> :8080", runs,
                                         lambda: lab.trace("lan-client", "198.51.100.10", tcp=8080))
        report["isolation_drop"] = _time(progress, "c1 -> c3 (dropped)", runs, lambda: lab.trace("c1", "c3"))
    with Lab() as lab:
        progress("building a two-host overlay")
        lab.docker("swarm init --advertise-addr 198.51.100.10")
        token = lab.docker("swarm join-token -q worker").strip()
        lab.docker(f"swarm join --token {token} 198.51.100.10:2377", host="host2")
        lab.docker("network create -d overlay --attachable ov1")
        lab.docker("run -dit --name c1 --network ov1 busybox")
        lab.docker("run -dit --name c2 --network ov1 busybox", host="host2")
        report["nodes_overlay"] = len(lab.nodes())
        report["overlay_vxlan"] = _time(progress, "c1 -> c2 over VXLAN", runs, lambda: lab.trace("c1", "c2"))
    return report


def main(runs: int, *, quiet: bool = False) -> int:
    print(json.dumps(bench(runs, quiet=quiet)))
    return 0
