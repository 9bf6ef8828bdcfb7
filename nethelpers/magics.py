"""IPython magics: a shell inside a node, straight from a notebook cell.

    %lab c1 ip -br addr            # one command in node c1
    %%lab host                     # the whole cell as a shell script in node host
    iptables -t nat -S
    ip route

``-`` instead of a node name runs in the sandbox itself (``%lab - ip netns``).

    %docker run -d --name c1 nginx      # a docker command on the lab's Docker host
    %docker -H host2 ps                 # ... on another Docker host of the lab
    %kubectl get pods -o wide           # kubectl on the lab's cluster (lab.kubernetes(...))

An IPython extension: ``Lab()`` loads it in a notebook through IPython's extension manager,
and ``%load_ext nethelpers`` (or ``%load_ext nethelpers.magics``) loads it by hand. This
module imports the lab's modules only when a magic runs, and :mod:`nethelpers.lab` never
imports this one, so neither needs the other to be imported first.
"""

from __future__ import annotations

from IPython.core.magic import no_var_expand

_registered: set[int] = set()


def _run(node: str, command: str) -> None:
    from .errors import Interrupted, LabError
    from .lab import current_lab
    from .node import Node

    lab = current_lab()
    if lab is None:
        print("No lab is open: create one first with `lab = Lab()`.")
        return
    try:
        if node == "-":
            result = lab.run_in_sandbox(command)
        else:
            result = Node(lab, node).run(command)  # an unknown node: the sandbox says so
    except LabError as exc:
        print(f"{type(exc).__name__}: {exc}")
        return
    except Interrupted as stop:  # show what it printed before Ctrl-C, as a terminal would
        if stop.result is not None:
            print(stop.result.output.rstrip("\n"))
        print("[interrupted]")
        return
    text = result.output.rstrip("\n")
    if text:
        print(text)
    if result.rc:
        print(f"[exit status {result.rc}]")


@no_var_expand  # the command goes to the node's shell verbatim: $VAR and {x} are the shell's
def lab_magic(line: str, cell: str | None = None) -> None:
    node, _, command = line.strip().partition(" ")
    if not node:
        print("usage: %lab NODE COMMAND   or   %%lab NODE (then the script in the cell)")
        return
    _run(node, cell if cell is not None else command)


def _cli(line: str, cell: str | None, call: str) -> None:
    """Print what a CLI (``lab.docker`` or ``lab.kubectl``) prints; its errors go to stderr."""
    import sys

    from .errors import LabError
    from .lab import current_lab

    lab = current_lab()
    if lab is None:
        print("No lab is open: create one first with `lab = Lab()`.")
        return
    try:
        output = getattr(lab, call)(line, input=cell)
    except LabError as exc:
        print(str(exc), file=sys.stderr)
        return
    text = str(output).rstrip("\n")
    if text:
        print(text)


@no_var_expand  # docker's --format templates are full of {{ }}
def docker_magic(line: str, cell: str | None = None) -> None:
    """Print what the docker CLI would print; errors go to stderr, as the CLI's do. In a
    ``%%docker`` cell the body is the command's standard input (``docker compose -f - up -d``)."""
    _cli(line, cell, "docker")


@no_var_expand
def kubectl_magic(line: str, cell: str | None = None) -> None:
    """``%kubectl get pods -o wide``; in a ``%%kubectl apply -f -`` cell the body is the YAML."""
    _cli(line, cell, "kubectl")


def load_ipython_extension(ipython) -> None:
    """Called by IPython's ``%load_ext nethelpers.magics`` and by ``Lab()`` in a notebook:
    the magics and PNG figures (see :func:`register`). Loading it again changes nothing."""
    register(ipython)


def register(shell) -> None:
    """Add %lab/%%lab, %docker and %kubectl, and show matplotlib figures as PNG even when pyplot was never
    imported (the lab's pictures are plain Figures, so they are not drawn twice). Once per shell:
    a second call (another ``Lab()``, or ``%load_ext nethelpers`` after it) does nothing."""
    if id(shell) in _registered:
        return
    shell.register_magic_function(lab_magic, magic_kind="line_cell", magic_name="lab")
    shell.register_magic_function(docker_magic, magic_kind="line_cell", magic_name="docker")
    shell.register_magic_function(kubectl_magic, magic_kind="line_cell", magic_name="kubectl")
    from matplotlib.figure import Figure

    from .plot.legibility import png

    shell.display_formatter.formatters["image/png"].for_type(Figure, png)
    _registered.add(id(shell))
