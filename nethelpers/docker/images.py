"""The images the lab knows: no real images, only what each would run by default.

A container is a network namespace; its command runs with this machine's
binaries. An image name only decides the default command (a shell, or a web
server on port 80 for nginx/httpd).
"""

from __future__ import annotations

import sys

from .errors import DockerError

SHELL_IMAGES = ("busybox", "alpine", "ubuntu", "debian")
WEB_IMAGES = ("nginx", "httpd")


def parse(reference: str) -> tuple[str, str]:
    """``nginx:1.27`` -> ("nginx", "1.27"); ``library/alpine`` -> ("alpine", "latest")."""
    name, _, tag = reference.partition(":")
    if name.startswith("docker.io/"):
        name = name[len("docker.io/"):]
    if name.startswith("library/"):
        name = name[len("library/"):]
    if name not in SHELL_IMAGES + WEB_IMAGES:
        known = ", ".join(SHELL_IMAGES + WEB_IMAGES)
        raise DockerError(
            f"Unable to find image '{reference if tag else reference + ':latest'}' locally\n"
            f"docker: Error response from daemon: pull access denied for {name}, repository does not "
            f"exist or may require 'docker login'.\n"
            f"(The lab has no registry and no real images; it knows: {known}.)")
    return name, tag or "latest"


def default_command(image: str, container_name: str, keep_open: bool) -> tuple[list[str], list[str]]:
    """(what `docker ps` shows, what really runs) for an image run without a command.

    A shell image's ``sh`` exits at once without a terminal; with ``-i``/``-t`` it
    waits for input forever, which the lab stands in for with ``sleep infinity``.
    """
    if image in WEB_IMAGES:
        shown = ["nginx", "-g", "daemon off;"] if image == "nginx" else ["httpd-foreground"]
        return shown, [sys.executable, "-m", "nethelpers.programs.web", "--port", "80",
                       "--name", container_name]
    if keep_open:
        return ["sh"], ["sleep", "infinity"]
    return ["sh"], ["true"]
