"""``python -m nethelpers vm fetch|status``: the VM backend's guest kernel, ahead of time."""

from __future__ import annotations

import argparse
import sys

from ..errors import LabError
from . import diagnose, kernel


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m nethelpers vm",
                                     description="The VM backend (a Linux VM for the lab, run with QEMU).")
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download and unpack the guest kernel (Debian 12's), once")
    fetch.add_argument("--deb", metavar="FILE", help="a linux-image-*-amd64 .deb already here")
    fetch.add_argument("--force", action="store_true", help="fetch again even if one is unpacked")
    fetch.add_argument("--into", metavar="DIR", help=f"where to unpack it (default {kernel.cache_root()}; "
                       f"{kernel.SYSTEM_ROOTS[0]} serves every user)")
    fetch.add_argument("--quiet", "-q", action="store_true", help="print only errors")
    commands.add_parser("status", help="what the VM backend has here and what it lacks")
    args = parser.parse_args(argv)
    if args.command == "status":
        for check in diagnose.checks(boot=False):
            mark = ("✓" if check["ok"] else "?" if check["skipped"] else "–" if check["optional"]
                    else "✗")
            print(f"{mark} {check['name']:<16} {check['detail']}")
            if not check["ok"] and check["fix"]:
                print(f"  {'':<16} fix: {check['fix']}")
        return 0
    shown = {"last": None}

    def progress(what: str, done: float) -> None:
        if not args.quiet and what != shown["last"] and (not what.startswith("downloading")
                                                            or int(done * 100) % 10 == 0):
            print(f"{what}", file=sys.stderr, flush=True)
            shown["last"] = what

    try:
        found = kernel.fetch(progress, deb=args.deb, force=args.force, root=args.into)
    except LabError as exc:
        print(f"python -m nethelpers vm fetch: {exc}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"guest kernel {found.release} ({found.version}) in {found.directory}")
    return 0
