"""What the runtime keeps of each plugin call, for a notebook to show: the JSON in and out."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field


@dataclass
class Exchange:
    """One execution of a plugin: what the runtime sent and what came back."""

    plugin: str
    command: str
    env: dict                  # the CNI_* variables
    request: dict | None       # the JSON on stdin
    rc: int
    response: dict | None      # the JSON on stdout (result, error or version), None when empty
    stderr: str = ""
    seconds: float = 0.0
    path: str = ""

    def as_text(self) -> str:
        """Like a shell session: the variables, the plugin, stdin, then the exit status and stdout."""
        # the package's own plugin directory is shown by name, so the text is the same wherever it is installed
        own = os.path.join(os.path.dirname(os.path.abspath(__file__)), "plugins")
        env = " ".join(f"{k}={v.replace(own, '<nethelpers>/cni/plugins')}" for k, v in self.env.items() if v)
        path = (self.path or self.plugin).replace(own, "<nethelpers>/cni/plugins")
        lines = [f"$ {env} {path} <<EOF",
                 json.dumps(self.request, indent=2) if self.request is not None else "", "EOF",
                 f"[exit {self.rc}]"]
        if self.response is not None:
            lines.append(json.dumps(self.response, indent=2))
        if self.stderr.strip():
            lines.append("stderr: " + self.stderr.strip())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Exchange {self.command} {self.plugin} exit {self.rc}>"


@dataclass
class Outcome:
    """What one runtime operation did: its result (ADD), its exchanges, and notes on what it skipped."""

    command: str
    network: str
    cni_version: str
    container_id: str | None = None
    ifname: str | None = None
    result: dict | None = None
    exchanges: list[Exchange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def plugins(self) -> list[str]:
        """The plugins executed, in order (e.g. DEL: the list reversed)."""
        return [f"{e.command} {e.plugin}" for e in self.exchanges]

    def _repr_pretty_(self, printer, cycle) -> None:
        if self.result is not None:
            printer.text(json.dumps(self.result, indent=4))
        else:
            printer.text(f"{self.command} {self.network}: " + (", ".join(self.plugins) or "no plugin called")
                         + "".join(f"\n({note})" for note in self.notes))
