"""Notebooks 00 and 01 as a learner on Binder runs them: in a pod's restrictions the lab can only be
a VM, and every stored output must still come out (strict nbval).

It needs a course copy whose owner is an ordinary user with a ``.venv`` built from a Python that user
can run (Binder's is conda's; here Debian's), and that user's guest kernel: what ``.ci/run``'s
learner run leaves in its home. ``.ci/run`` runs this file afterwards, as root (to set the pod up),
with ``NETHELPERS_POD_COURSE`` naming that copy; elsewhere it is skipped.
"""

from __future__ import annotations

import os
import pwd

import pytest

from binder_pod import pod_env, run_in_binder_pod, unsupported, user_of

COURSE = os.environ.get("NETHELPERS_POD_COURSE", "")
why_not = (unsupported() or ("" if COURSE else "NETHELPERS_POD_COURSE names no course copy (.ci/run sets it)")
           or ("" if os.path.exists(os.path.join(COURSE, ".venv", "bin", "python"))
               else f"{COURSE} has no .venv (run ./course test there as its owner first)"))
pytestmark = pytest.mark.skipif(bool(why_not), reason=why_not or "")


def learner():
    return user_of(os.stat(COURSE).st_uid)


def in_pod(argv: list[str], timeout: float):
    user = learner()
    env = dict(pod_env(user), NETHELPERS_SOLUTIONS="1", CI="true")
    return run_in_binder_pod(argv, uid=user.uid, env=env, cwd=COURSE, timeout=timeout)


def test_in_the_pod_lab_takes_the_vm_and_says_why():
    done = in_pod([f"{COURSE}/.venv/bin/python", "-c", "from nethelpers import Lab\nlab = Lab()\n"
                   "print(lab.backend, lab.add_node('a').run('uname -r').stdout.strip())"], timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[0] == "vm", done.stdout
    assert "Lab: in a Linux VM, network namespaces are refused here" in done.stderr, done.stderr[-2000:]
    assert pwd.getpwuid(os.stat(COURSE).st_uid).pw_uid != 0


@pytest.mark.timeout(2400)
def test_notebooks_00_and_01_pass_strict_nbval_through_the_vm():
    done = in_pod([f"{COURSE}/.venv/bin/python", "-m", "pytest", "-p", "no:cacheprovider", "-n0", "-q",
                   "notebooks/00-start-here.ipynb", "notebooks/01-bridge.ipynb"], timeout=2300)
    tail = "\n".join(line for line in done.stdout.splitlines() if "unhandled iopub" not in line)[-6000:]
    assert done.returncode == 0, tail + done.stderr[-2000:]
    assert " passed" in tail and "failed" not in tail and "skipped" not in tail, tail
