#!/usr/bin/env python3
"""CI may not be green with a surprise skip: compare the skips in pytest's logs with .ci/allowed-skips.

usage: check_skips.py ALLOWED RUN=LOG [RUN=LOG ...]
Reads the "SKIPPED [N] FILE:LINE: REASON" lines that pytest's -ra summary writes, prints how many
tests each run skipped, and exits 1 if any skip is not on the allow-list (or a run has no summary).
"""

from __future__ import annotations

import re
import sys

SKIPPED = re.compile(r"^SKIPPED \[(\d+)\] ([^:]+):\d+: (.*)$")


def allowed(path: str) -> list[tuple[str, str, str]]:
    rules = []
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line and not line.startswith("#"):
            run, file, reason, _why = (part.strip() for part in line.split("|", 3))
            rules.append((run, file, reason))
    return rules


def main(argv: list[str]) -> int:
    rules = allowed(argv[0])
    surprises = []
    for pair in argv[1:]:
        run, log = pair.split("=", 1)
        count = 0
        with open(log, encoding="utf-8", errors="replace") as lines:
            for line in lines:
                match = SKIPPED.match(line.rstrip("\n"))
                if not match:
                    continue
                n, file, reason = int(match[1]), match[2], match[3]
                count += n
                if not any(r in ("*", run) and f == file and reason.startswith(why) for r, f, why in rules):
                    surprises.append(f"{run}: {line.strip()}")
        print(f"skipped in {run}: {count}")
    for surprise in surprises:
        print(f"not on .ci/allowed-skips: {surprise}")
    return 1 if surprises else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
