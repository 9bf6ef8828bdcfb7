"""``python -m nethelpers bench-docker``: how long the lab's docker commands take.

In a fresh lab: the first command (world + Docker host + daemon start), then N
``docker run -dit`` on the default bridge, N on a user-defined network (embedded
DNS attached), N with a published port (a docker-proxy each), and ``rm -f`` of
all of them. Prints one JSON line of milliseconds per command.
"""

from __future__ import annotations

import json
import time

from ..lab import Lab


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def bench(n: int) -> dict:
    with Lab() as lab:
        result = {"containers_per_kind": n,
                  "first_command_ms": round(_timed(lambda: lab.docker("network create bench")), 1)}
        kinds = {"run_default_bridge_ms": "run -dit --name d{i} busybox",
                 "run_user_network_ms": "run -dit --name u{i} --network bench busybox",
                 "run_published_port_ms": "run -dit --name p{i} -p {port}:80 busybox"}
        names = []
        for key, template in kinds.items():
            total = 0.0
            for i in range(n):
                command = template.format(i=i, port=20000 + i)
                total += _timed(lambda: lab.docker(command))
                names.append(command.split("--name ")[1].split()[0])
            result[key] = round(total / n, 1)
        result["rm_f_ms"] = round(sum(_timed(lambda: lab.docker(f"rm -f {name}")) for name in names)
                                  / len(names), 1)
        result["nodes_left"] = len(lab.nodes())
    return result


def main(n: int) -> int:
    result = bench(n)
    for key, value in result.items():
        print(f"{key:24} {value}")
    print(json.dumps(result))
    return 0
