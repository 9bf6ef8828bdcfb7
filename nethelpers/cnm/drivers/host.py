"""``host`` (``--network host``): no interface at all; the sandbox is the host's own namespace."""

from __future__ import annotations

from .null import OnlyOne


class HostDriver(OnlyOne):
    """``host``: the container shares the daemon's namespace."""

    name = "host"
