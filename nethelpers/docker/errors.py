"""What the Docker-syntax engine raises: the text the docker CLI would print."""

from __future__ import annotations

from ..errors import InvalidInput, LabError


class DockerError(LabError):
    """A docker command failed; ``str(err)`` is what the docker CLI prints on stderr, and
    ``exit_code`` its exit status where the lab knows it (else None)."""

    exit_code: int | None = None


class DaemonError(DockerError):
    """Refused by the daemon: printed as ``Error response from daemon: ...``."""

    def __str__(self) -> str:
        return "Error response from daemon: " + super().__str__()


class UsageError(DockerError, InvalidInput):
    """Refused by the CLI before reaching the daemon (unknown flag, missing argument)."""
