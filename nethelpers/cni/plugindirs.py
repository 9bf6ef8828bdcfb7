"""Where the CNI reference plugins are installed: one list for the runtime, the doctor and the exercises.

Distributions put ``containernetworking-plugins`` in different places: Debian and Ubuntu in
``/usr/lib/cni``, Fedora (and RHEL) in ``/usr/libexec/cni``, the upstream release tarball and
Kubernetes' default ``CNI_PATH`` in ``/opt/cni/bin``. ``scripts/install.sh`` looks in the same
three (``tests/course/test_environment.py`` keeps the two lists in step).

    >>> PLUGIN_DIRS[0]
    '/usr/lib/cni'
"""

from __future__ import annotations

import os

# in the order they are searched: Debian/Ubuntu, Fedora/RHEL, upstream and Kubernetes
PLUGIN_DIRS = ("/usr/lib/cni", "/usr/libexec/cni", "/opt/cni/bin")


def plugin_dirs(plugin: str = "bridge", dirs: tuple[str, ...] = PLUGIN_DIRS) -> list[str]:
    """The directories of ``dirs`` that hold an executable ``plugin``, in search order."""
    return [d for d in dirs if os.access(os.path.join(d, plugin), os.X_OK)]


def plugin_dir(plugin: str = "bridge", dirs: tuple[str, ...] = PLUGIN_DIRS) -> str | None:
    """The first directory of ``dirs`` with an executable ``plugin``; None when none has it.

    On Debian and Ubuntu ``/usr/lib/cni``, on Fedora ``/usr/libexec/cni``.
    """
    found = plugin_dirs(plugin, dirs)
    return found[0] if found else None
