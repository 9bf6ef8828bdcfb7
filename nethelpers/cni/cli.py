"""``python -m nethelpers cni COMMANDS CONFIG CONTAINER``: cnitool in a throwaway lab.

cnitool runs one command against a namespace on the machine; this one builds a lab with a
node ``host`` (where the plugins run) and the node CONTAINER, runs the commands given in
order (``add,check,del,del,gc``), prints what cnitool prints (the ADD result as indented
JSON; nothing for CHECK, DEL, GC, STATUS; errors on stderr), and closes the lab.

Like cnitool it reads ``CNI_IFNAME`` (default eth0), ``CNI_ARGS`` and ``CAP_ARGS`` (JSON
capability arguments) from the environment; the options override them. cnitool's container
ID is ``cnitool-`` and 20 hex digits of the SHA-512 of the netns path: so is this one's.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys

COMMANDS = ("add", "check", "del", "gc", "status", "version")


def container_id(netns: str) -> str:
    """cnitool's container ID for a namespace path."""
    return "cnitool-" + hashlib.sha512(netns.encode()).hexdigest()[:20]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m nethelpers cni",
                                description="Run CNI plugins as cnitool does, in a throwaway lab.")
    p.add_argument("commands", metavar="COMMANDS",
                   help="one or more of add, check, del, gc, status, version, comma-separated (add,check,del)")
    p.add_argument("config", metavar="CONFIG", help="a .conflist or .conf file (or its JSON text)")
    p.add_argument("container", metavar="CONTAINER", help="the container node to create (CNI_NETNS=/run/netns/NAME)")
    p.add_argument("--ifname", default=os.environ.get("CNI_IFNAME", "eth0"), help="CNI_IFNAME (default eth0)")
    p.add_argument("--args", default=os.environ.get("CNI_ARGS", ""), help="CNI_ARGS, K=V;K2=V2")
    p.add_argument("--cap-args", default=os.environ.get("CAP_ARGS", ""), metavar="JSON",
                   help='capability arguments, e.g. \'{"portMappings": [{"hostPort": 8080, ...}]}\'')
    p.add_argument("--setup", action="append", default=[], metavar="SHELL",
                   help="a command run in the host node first (e.g. make a macvlan master); repeatable")
    p.add_argument("--exec", dest="exec_", metavar="SHELL", help="a command run in the container after each add")
    p.add_argument("--trace", action="store_true", help="print every plugin call (env, stdin, stdout) on stderr")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    commands = [c.strip().lower() for c in args.commands.split(",") if c.strip()]
    unknown = [c for c in commands if c not in COMMANDS]
    if unknown or not commands:
        print(f"unknown command {', '.join(unknown) or '(none)'}: use {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    try:
        capability_args = json.loads(args.cap_args) if args.cap_args else {}
    except json.JSONDecodeError as exc:
        print(f"CAP_ARGS is not JSON: {exc}", file=sys.stderr)
        return 2
    from ..errors import LabError
    from ..lab import Lab
    from .config import load
    from .runtime import Runtime

    try:
        conf = load(args.config)
        if args.container == "host":
            print("the container cannot be called 'host': that is the node the plugins run in", file=sys.stderr)
            return 2
        with Lab() as lab:
            host = lab.add_node("host", kind="host")
            lab.add_node(args.container, kind="container", parent="host")
            for command in args.setup:
                host.run(command, check=True)
            runtime = Runtime(lab, host)
            attachment = dict(ifname=args.ifname, container_id=container_id(f"/run/netns/{args.container}"))
            for command in commands:
                _one(runtime, command, conf, args, attachment, capability_args, lab)
    except LabError as error:
        for exchange in getattr(error, "exchanges", []) if args.trace else []:
            print(exchange.as_text(), file=sys.stderr)
        print(error, file=sys.stderr)
        return 1
    return 0


def _one(runtime, command: str, conf, args, attachment: dict, capability_args: dict, lab) -> None:
    if command == "version":
        for kind in dict.fromkeys(conf.types):
            print(json.dumps({kind: runtime.version(kind)}, indent=4))
        return
    if command == "add":
        outcome = runtime.add(conf, args.container, args=args.args or None, capability_args=capability_args,
                              **attachment)
    elif command == "check":
        outcome = runtime.check(conf, args.container, **attachment)
    elif command == "del":
        outcome = runtime.delete(conf, args.container, **attachment)
    elif command == "gc":
        outcome = runtime.gc(conf)
    else:
        outcome = runtime.status(conf)
    if args.trace:
        for exchange in outcome.exchanges:
            print(exchange.as_text(), file=sys.stderr)
        for note in outcome.notes:
            print(f"({note})", file=sys.stderr)
    if outcome.result is not None:
        print(json.dumps(outcome.result, indent=4))
    if command == "add" and args.exec_:
        print(lab.node(args.container).run(args.exec_).output, end="")


if __name__ == "__main__":
    sys.exit(main())
