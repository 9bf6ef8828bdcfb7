"""CNI errors as a Python exception: the spec's ``{code, msg, details}`` plus what the lab knows."""

from __future__ import annotations

from ..errors import LabError

#: The codes SPEC 1.1.0 reserves (section 5, "Error", and STATUS), and libcni's 999.
CODES = {
    1: "Incompatible CNI version",
    2: "Unsupported field in network configuration",
    3: "Container unknown or does not exist",
    4: "Invalid necessary environment variables",
    5: "I/O failure",
    6: "Failed to decode content",
    7: "Invalid network config",
    11: "Try again later",
    50: "The plugin is not available",
    51: "The plugin is not available, and existing containers may have limited connectivity",
    999: "Internal error",   # not in the spec: libcni's types.ErrInternal, what Go plugins use for the rest
}


class CNIError(LabError):
    """A CNI error: from a plugin's stdout, or raised by the runtime in the same shape.

    Attributes: ``code``, ``msg``, ``details`` (as in the spec's error result),
    ``plugin`` and ``command`` (which call failed, None when the runtime refused
    before calling), ``exchanges`` (the JSON sent and received until then) and
    ``errors`` (GC: every error, as GC continues after one).
    """

    def __init__(self, code: int | None, msg: str, details: str = "", *, plugin: str | None = None,
                 command: str | None = None, fix: str = "", exchanges: list | None = None,
                 errors: list | None = None) -> None:
        self.code, self.msg, self.details = code, msg, details
        self.plugin, self.command, self.fix = plugin, command, fix
        self.exchanges = list(exchanges or [])
        self.errors = list(errors or [])
        super().__init__(self._text())

    def _text(self) -> str:
        where = f'plugin "{self.plugin}" failed ({self.command}): ' if self.plugin else ""
        meaning = CODES.get(self.code)
        code = f"CNI error {self.code}" + (f" ({meaning})" if meaning else "") if self.code is not None \
            else "CNI error without a code"
        text = f"{where}{code}: {self.msg}"
        if self.details:
            text += f"; {self.details}"
        if self.fix:
            text += f". {self.fix}"
        return text

    def as_json(self) -> dict:
        """The spec's error object (what a plugin prints on stdout)."""
        return {"code": self.code, "msg": self.msg, "details": self.details}

    def __reduce__(self):
        return (_rebuild, (self.code, self.msg, self.details, self.plugin, self.command, self.fix,
                           self.exchanges, self.errors))


def _rebuild(code, msg, details, plugin, command, fix, exchanges, errors) -> CNIError:
    return CNIError(code, msg, details, plugin=plugin, command=command, fix=fix,
                    exchanges=exchanges, errors=errors)
