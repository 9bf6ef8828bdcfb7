"""``python -m nethelpers bench-docker``: how long the lab's docker commands take.

In a fresh lab: the first command (world + Docker host + daemon start), then N
``docker run -dit`` on the default bridge, N on a user-defined network (embedded
DNS attached), N with a published port (a docker-proxy each), and ``rm -f`` of
all of them. Prints one JSON line of milliseconds per command; progress goes to stderr.
"""

from __future__ import annotations

import json
import time

from ..bench import Progress
from ..lab import Lab


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def bench(n: int, progress: Progress | None = None, version: str | None = None) -> dict:
    """``version``: the Docker Engine the host emulates (default: the lab's default, 29)."""
    progress = progress or Progress()
    with Lab() as lab:
        progress("first command: the LAN, router, client, internet server, docker-host and its daemon ...")

        def first() -> None:
            lab.docker_host(version=version)
            lab.docker("network create bench")

        first_ms = round(_timed(first), 1)
        result = {"engine": lab.docker_host().engine.version, "containers_per_kind": n, "first_command_ms": first_ms}
        kinds = {"run_default_bridge_ms": "run -dit --name d{i} busybox",
                 "run_user_network_ms": "run -dit --name u{i} --network bench busybox",
                 "run_published_port_ms": "run -dit --name p{i} -p {port}:80 busybox"}
        names = []
        for key, template in kinds.items():
            total = 0.0
            shown = template.format(i="N", port="PORT")
            for i in range(n):
                command = template.format(i=i, port=20000 + i)
                total += _timed(lambda: lab.docker(command))
                names.append(command.split("--name ")[1].split()[0])
                progress.count(i + 1, n, f"docker {shown}")
            result[key] = round(total / n, 1)
        removals = 0.0
        for i, name in enumerate(names, 1):
            removals += _timed(lambda: lab.docker(f"rm -f {name}"))
            progress.count(i, len(names), "docker rm -f")
        result["rm_f_ms"] = round(removals / len(names), 1)
        result["nodes_left"] = len(lab.nodes())
    return result


def main(n: int, quiet: bool = False, engine: str | None = None) -> int:
    result = bench(n, Progress(quiet=quiet), version=engine)
    for key, value in result.items():
        print(f"{key:24} {value}")
    print(json.dumps(result))
    return 0


def bench_overlay(n: int, plane: str = "swarm", progress: Progress | None = None) -> dict:
    """Three hosts in a cluster (``plane``: "swarm", or "kv" for the Docker 1.11 store),
    one attachable overlay, N containers spread over the hosts; how long each step takes,
    and how long a failed host's entries take to go (missed heartbeats / an expired TTL)."""
    from .kv import start_cluster_store

    progress = progress or Progress()
    hosts = ("host1", "host2", "host3")
    with Lab() as lab:
        result = {"plane": plane, "containers": n}
        progress(f"[{plane}] three hosts into one cluster "
                 f"({'swarm init, 2 x swarm join' if plane == 'swarm' else 'a store, 3 daemons registered'}) ...")
        started = time.perf_counter()
        store = start_cluster_store(lab) if plane == "kv" else None
        for host in hosts:
            lab.docker_host(host, cluster_store=store)
        if plane == "swarm":
            lab.docker("swarm init", host="host1")
            token = lab.docker("swarm join-token -q worker", host="host1").strip()
            for host in hosts[1:]:
                lab.docker(f"swarm join --token {token} 198.51.100.10:2377", host=host)
        result["cluster_ms"] = round((time.perf_counter() - started) * 1000, 1)
        result["network_create_ms"] = round(_timed(lambda: lab.docker(
            "network create -d overlay" + (" --attachable" if plane == "swarm" else "") + " ov1", host="host1")), 1)
        runs = []
        for i in range(n):
            command = f"run -dit --name o{i} --network ov1 busybox"
            runs.append(_timed(lambda: lab.docker(command, host=hosts[i % 3])))
            progress.count(i + 1, n, f"[{plane}] docker run -dit --network ov1")
        result["run_ms_first_on_a_host"] = round(sum(runs[:3]) / len(runs[:3]), 1)
        result["run_ms"] = round(sum(runs[3:]) / max(1, len(runs[3:])), 1) if n > 3 else None
        last = n - 1 if (n - 1) % 3 == 2 else None  # a container on host3, to watch it go
        host1 = lab.docker_host("host1")
        if last is not None:
            progress(f"[{plane}] host3's cable out: waiting for host1 to drop its entries (a few s) ...")
            lab.node("host3").set_link("eth0", up=False)
            ip = json.loads(lab.docker(f"inspect o{last}", host="host3"))[0]["NetworkSettings"]["Networks"]["ov1"][
                "IPAddress"]
            result["failure_detected_s"] = round(host1.wait_for_entry("ov1", ip, present=False, timeout=30), 2)
            progress(f"[{plane}] cable back in: waiting for the entries to return ...")
            lab.node("host3").set_link("eth0", up=True)
            result["recovered_s"] = round(host1.wait_for_entry("ov1", ip, timeout=30), 2)
        removals = 0.0
        for i in range(n):
            removals += _timed(lambda: lab.docker(f"rm -f o{i}", host=hosts[i % 3]))
            progress.count(i + 1, n, f"[{plane}] docker rm -f")
        result["rm_f_ms"] = round(removals / n, 1)
    return result


def main_overlay(n: int, quiet: bool = False) -> int:
    for plane in ("swarm", "kv"):
        result = bench_overlay(n, plane, Progress(quiet=quiet))
        for key, value in result.items():
            print(f"{key:24} {value}")
        print(json.dumps(result))
    return 0
