"""Command line: ``python -m nethelpers doctor``, ``bench``, ``bench-docker``, ``bench-overlay``,
``bench-trace``, ``bench-soak``, ``cni`` and ``vm``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "cni":  # its own flags, as cnitool's
        from .cni.cli import main as cni_main

        return cni_main(argv[1:])
    if argv and argv[0] == "vm":
        from .vm.cli import main as vm_main

        return vm_main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m nethelpers",
                                     description="The course's network lab, from the command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("doctor", help="can a lab run here, and which kernel features and tools exist")
    commands.add_parser("cni", help="run a CNI config's plugins against a container (like cnitool): "
                                    "python -m nethelpers cni --help")
    commands.add_parser("vm", help="the VM backend's guest kernel: python -m nethelpers vm fetch|status")
    bench = commands.add_parser("bench", help="build and remove N containers; compare with an ip script "
                                              "(--backend vm: the VM backend's costs)")
    bench.add_argument("--containers", "-n", type=int, default=None, metavar="N",
                       help="default 100 (namespaces), 50 (vm)")
    bench.add_argument("--backend", choices=("namespaces", "vm"), default="namespaces",
                       help="the lab backend to measure (default namespaces)")
    bench.add_argument("--no-baseline", action="store_true", help="skip the ip-script baseline (namespaces)")
    bench.add_argument("--boots", type=int, default=None, metavar="K",
                       help="vm: fresh processes whose first Lab() is timed, VM boot included (default 3)")
    bench.add_argument("--notebook", action="store_true",
                       help="vm: also time notebook 01 under nbval with each backend (minutes)")
    bench.add_argument("--profile", action="store_true",
                       help="vm: one more first Lab() with NETHELPERS_VM_DEBUG=1, split into its steps")
    docker = commands.add_parser("bench-docker", help="time the lab's docker run / rm -f")
    docker.add_argument("--containers", "-n", type=int, default=20, metavar="N")
    docker.add_argument("--engine", choices=["27", "29"], default=None,
                        help="the Docker Engine the host emulates (default: 29)")
    overlay = commands.add_parser("bench-overlay", help="time swarm / cluster-store overlays across 3 hosts")
    overlay.add_argument("--containers", "-n", type=int, default=12, metavar="N")
    trace = commands.add_parser("bench-trace", help="time lab.trace() in chapter 01's and 06's labs")
    trace.add_argument("--runs", "-n", dest="containers", type=int, default=10, metavar="N")
    soak = commands.add_parser("bench-soak", help="open and close N labs: the owner's fds and memory stay "
                               "flat, nothing is left (exit status 1 if not)")
    soak.add_argument("--labs", "-n", dest="containers", type=int, default=1000, metavar="N")
    for command in (bench, docker, overlay, trace, soak):
        command.add_argument("--quiet", "-q", action="store_true",
                             help="no progress on stderr (the results on stdout are the same)")
    args = parser.parse_args(argv)
    if args.command == "doctor":
        from .doctor import main as doctor_main

        return doctor_main()
    if args.command == "bench":
        if args.backend == "namespaces" and (args.boots is not None or args.notebook or args.profile):
            parser.error("--boots, --notebook and --profile measure the VM backend: add --backend vm")
        if args.containers is None:
            args.containers = 50 if args.backend == "vm" else 100
        if args.boots is not None and args.boots < 1:
            parser.error("--boots must be at least 1")
    if args.containers < 1:
        parser.error("--containers must be at least 1")
    if args.command == "bench-soak":
        from .soak import main as soak_main

        return soak_main(args.containers, quiet=args.quiet)
    if args.command == "bench-trace":
        from .trace.bench import main as trace_bench_main

        return trace_bench_main(args.containers, quiet=args.quiet)
    if args.command == "bench-overlay":
        from .docker.bench import main_overlay

        return main_overlay(args.containers, quiet=args.quiet)
    if args.command == "bench-docker":
        from .docker.bench import main as docker_bench_main

        return docker_bench_main(args.containers, quiet=args.quiet, engine=args.engine)
    if args.backend == "vm":
        from .vm.bench import main as vm_bench_main

        return vm_bench_main(args.containers, boots=args.boots or 3, notebook=args.notebook,
                             profile=args.profile, quiet=args.quiet)
    from .bench import main as bench_main

    return bench_main(args.containers, baseline=not args.no_baseline, quiet=args.quiet)


if __name__ == "__main__":
    sys.exit(main())
