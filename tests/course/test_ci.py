"""CI cannot be green with a surprise skip (.ci/check_skips.py and .ci/allowed-skips)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHECK, ALLOWED = REPO / ".ci" / "check_skips.py", REPO / ".ci" / "allowed-skips"


def check(tmp_path, **logs: str) -> subprocess.CompletedProcess:
    pairs = []
    for run, text in logs.items():
        (tmp_path / f"{run}.log").write_text(text)
        pairs.append(f"{run}={tmp_path / f'{run}.log'}")
    return subprocess.run([sys.executable, str(CHECK), str(ALLOWED), *pairs], capture_output=True, text=True,
                          timeout=30)


def test_a_skip_on_the_list_passes_and_is_counted(tmp_path):
    done = check(tmp_path, learner="SKIPPED [2] tests/vm/test_binder_pod.py:27: the Binder-pod harness needs root to "
                                   "set up the pod's mounts and then drop to its user\n", root="== 5 passed ==\n")
    assert done.returncode == 0, done.stdout
    assert "skipped in learner: 2" in done.stdout and "skipped in root: 0" in done.stdout


def test_a_surprise_skip_fails_ci(tmp_path):
    etcd = "SKIPPED [17] tests/docker/test_kvstore.py:25: etcd is not installed (apt-get install etcd-server)\n"
    done = check(tmp_path, root=etcd)
    assert done.returncode == 1
    assert "not on .ci/allowed-skips: root: SKIPPED [17] tests/docker/test_kvstore.py" in done.stdout
    # allowed for one run is not allowed for another
    done = check(tmp_path, root="SKIPPED [1] tests/vm/test_binder_pod.py:27: the Binder-pod harness needs root\n")
    assert done.returncode == 1
    browser = "SKIPPED [1] tests/course/test_browser.py:53: chromium is not installed\n"
    assert check(tmp_path, learner=browser).returncode == 1


def test_every_allowed_skip_is_one_a_test_can_still_make():
    """No stale entry: each names a test file that exists and a reason a test (or its helper) skips with."""
    sources = "".join(path.read_text() for path in (REPO / "tests").rglob("*.py"))
    for line in ALLOWED.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        run, file, reason, why = (part.strip() for part in line.split("|", 3))
        assert run in {"*", "root", "learner", "pod", "vm", "vm-notebooks", "vm-notebooks-overlay"}, line
        assert why, f"say why this skip is fine: {line}"
        assert (REPO / file).is_file(), line
        assert reason in sources, f"no test skips with {reason!r}"
