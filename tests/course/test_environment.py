"""The set-up files agree with each other: pyproject, conda/Binder, apt, CI, devcontainer.

No kernel and no network here: these tests only read the repository's files.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:==\s*([^\s;,]+))?\s*$")
# what `./course lab` and `./course test` must be able to use (the list)
COURSE_APT_PACKAGES = {"iproute2", "iptables", "nftables", "containernetworking-plugins",
                       "iputils-ping", "tcpdump", "iperf3", "conntrack",
                       "fonts-wqy-microhei"}  # the Chinese edition's pictures (nethelpers/plot/fonts.py)
# what the VM backend needs from apt (Binder refuses namespaces, so Lab() uses the VM there)
VM_APT_PACKAGES = {"qemu-system-x86", "busybox-static"}
# pip pins only Binder's environment has: repo2docker's base environment already holds notebook
# (7.4.7 in its Python 3.11 lock), which must be moved to a release that accepts our jupyterlab
BINDER_ONLY_PINS = {"notebook"}
# notebook's requirement on jupyterlab, per release, copied from each wheel's METADATA
# (`pip download --no-deps notebook==X`, then `unzip -p notebook-X-*.whl '*/METADATA'`)
NOTEBOOK_REQUIRES_JUPYTERLAB = {
    "7.4.7": "<4.5,>=4.4.9",   # repo2docker's base environment
    "7.5.8": "<4.6,>=4.5.11",
    "7.6.5": "<4.7,>=4.6.6",
}


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(requirements) -> dict[str, str | None]:
    """{"normalized-name": "version" or None for an unpinned one}; anything else fails."""
    pins = {}
    for requirement in requirements:
        match = REQUIREMENT.match(requirement)
        assert match, f"{requirement!r}: pin it exactly (name==version) or leave it bare"
        name = _name(match.group(1))
        assert name not in pins, f"{name} is listed twice"
        pins[name] = match.group(2)
    return pins


def _pyproject() -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10: pytest brings tomli there; skip if it is gone
        tomllib = pytest.importorskip("tomli", reason="reading pyproject.toml needs Python 3.11+ or tomli")
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _environment_yml(path: Path) -> dict:
    """The few keys of a simple conda environment file: name, channels,
    dependencies (strings) and the pip list. A line parser: no YAML dependency."""
    result: dict = {"name": None, "channels": [], "dependencies": [], "pip": []}
    section = None
    for raw in path.read_text().splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        if indent == 0:
            key, _, value = text.partition(":")
            assert key in result, f"{path.name}: unexpected top-level key {key!r}"
            if key == "name":
                result["name"] = value.strip()
            section = key
            continue
        assert text.startswith("- "), f"{path.name}: cannot read line {raw!r}"
        item = text[2:].strip()
        if section == "dependencies" and item == "pip:":
            section = "pip"
        elif section in ("channels", "dependencies", "pip"):
            result[section].append(item)
        else:
            raise AssertionError(f"{path.name}: list item outside a known section: {raw!r}")
    return result


def _install_sh_array(name: str) -> list[str]:
    """The words of a bash array NAME=( ... ) in scripts/install.sh."""
    text = (ROOT / "scripts" / "install.sh").read_text()
    match = re.search(rf"^{name}=\((.*?)\)", text, re.S | re.M)
    assert match, f"scripts/install.sh: no {name}=( ... ) list"
    return match.group(1).split()


def _installed_apt_packages() -> set[str]:
    """The packages ./course installs with apt-get (scripts/install.sh's APT_PACKAGES)."""
    return set(_install_sh_array("APT_PACKAGES"))


def _binder_apt() -> list[str]:
    """binder/apt.txt's packages, read as repo2docker reads it (BaseImage.get_preassemble_scripts:
    each line up to a '#', stripped; empty ones skipped)."""
    packages = []
    for line in (ROOT / "binder" / "apt.txt").read_text().splitlines():
        package = line.partition("#")[0].strip()
        if package:
            assert re.fullmatch(r"[a-z0-9.+-]+", package), f"binder/apt.txt: {line!r} is not a package name"
            packages.append(package)
    return packages


def _shell_lines(path: Path) -> list[str]:
    """The lines of a shell script that are not comments (a heredoc's body included)."""
    return [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]


def test_binder_environment_is_a_copy_of_the_top_level_one():
    assert (ROOT / "binder" / "environment.yml").read_bytes() == \
        (ROOT / "environment.yml").read_bytes(), \
        "binder/environment.yml must be byte-identical to environment.yml (cp environment.yml binder/)"


def test_environment_yml_shape():
    env = _environment_yml(ROOT / "environment.yml")
    assert env["name"] == "nethelpers-course"
    assert env["channels"] == ["conda-forge"]
    assert "pip" in env["dependencies"]
    pythons = [d for d in env["dependencies"] if re.match(r"python\b", d)]
    assert pythons == ["python=3.11"], pythons


def test_pyproject_pins_equal_environment_yml_pins():
    project = _pyproject()["project"]
    requirements = list(project["dependencies"])
    extras = project.get("optional-dependencies", {})
    assert {"test", "course"} <= set(extras), "pyproject needs the test and course extras"
    for extra in ("test", "course"):
        requirements += extras[extra]
    ours = _pins(requirements)
    theirs = _pins(_environment_yml(ROOT / "environment.yml")["pip"])
    assert BINDER_ONLY_PINS <= set(theirs) and not BINDER_ONLY_PINS & set(ours), \
        f"{sorted(BINDER_ONLY_PINS)}: pinned in environment.yml only (Binder's base environment has it)"
    theirs = {name: version for name, version in theirs.items() if name not in BINDER_ONLY_PINS}
    assert ours == theirs, (
        f"only in pyproject: {sorted(set(ours.items()) - set(theirs.items()))}; "
        f"only in environment.yml: {sorted(set(theirs.items()) - set(ours.items()))}")
    bare = sorted(name for name, version in ours.items() if version is None)
    assert bare == ["ipython"], f"everything but ipython is pinned exactly; bare: {bare}"


def test_pytest_configuration_checks_the_notebooks():
    options = _pyproject()["tool"]["pytest"]["ini_options"]
    assert set(options["testpaths"]) == {"tests", "notebooks"}
    addopts = options["addopts"]
    addopts = shlex.split(addopts) if isinstance(addopts, str) else list(addopts)
    assert "--nbval" in addopts and "--nbval-lax" not in addopts
    assert addopts[addopts.index("--nbval-sanitize-with") + 1] == "notebooks/nbval_sanitize.cfg"
    assert int(options["timeout"]) > 0


def test_binder_apt_lists_what_course_installs():
    apt = set(_binder_apt())
    make = _installed_apt_packages()
    assert COURSE_APT_PACKAGES <= make, f"./course does not install {sorted(COURSE_APT_PACKAGES - make)}"
    # Binder's image brings its own Python, pip and make; the system tools must match.
    tools = make - {"python3-venv", "python3-pip", "make"}
    assert tools <= apt, f"binder/apt.txt lacks {sorted(tools - apt)}"
    assert apt <= make, f"binder/apt.txt has {sorted(apt - make)}, which ./course does not install"


def test_install_sh_names_the_vm_backends_packages_and_fedoras():
    apt, dnf = _installed_apt_packages(), set(_install_sh_array("DNF_PACKAGES"))
    assert {"qemu-system-x86", "busybox-static"} <= apt, "the VM backend's packages are not in APT_PACKAGES"
    # Fedora's names (packages.fedoraproject.org): busybox is the static one there
    assert {"qemu-system-x86-core", "busybox", "iproute", "iptables-nft", "containernetworking-plugins",
            "conntrack-tools", "bind-utils", "procps-ng"} <= dnf, sorted(dnf)
    text = (ROOT / "scripts" / "install.sh").read_text()
    assert "sudo dnf install -y" in text and "install the equivalent packages by hand" not in text


def test_install_sh_looks_for_cni_plugins_where_the_package_does():
    from nethelpers.cni.plugindirs import PLUGIN_DIRS

    assert tuple(_install_sh_array("CNI_DIRS")) == PLUGIN_DIRS
    assert PLUGIN_DIRS[0] == "/usr/lib/cni" and "/usr/libexec/cni" in PLUGIN_DIRS   # Debian first, Fedora


def test_binder_post_build_installs_the_package():
    post_build = ROOT / "binder" / "postBuild"
    text = post_build.read_text()
    assert post_build.stat().st_mode & 0o111, "binder/postBuild must be executable"
    assert text.startswith("#!") and "bash" in text.splitlines()[0]
    assert "set -euo pipefail" in text
    assert re.search(r"pip install --no-deps -e \.", text)


def test_binder_notebook_pin_accepts_the_jupyterlab_pin():
    """repo2docker's base environment has notebook 7.4.7 (jupyterlab<4.5); the pip section must
    move it to a release whose own requirement accepts the pinned jupyterlab."""
    from packaging.specifiers import SpecifierSet

    pins = _pins(_environment_yml(ROOT / "environment.yml")["pip"])
    notebook, jupyterlab = pins.get("notebook"), pins.get("jupyterlab")
    assert notebook and jupyterlab, "notebook and jupyterlab must both be pinned exactly"
    assert notebook in NOTEBOOK_REQUIRES_JUPYTERLAB, (
        f"notebook=={notebook}: add its Requires-Dist on jupyterlab (from the wheel's METADATA) "
        "to NOTEBOOK_REQUIRES_JUPYTERLAB")
    accepted = SpecifierSet(NOTEBOOK_REQUIRES_JUPYTERLAB[notebook])
    assert jupyterlab in accepted, f"notebook {notebook} requires jupyterlab{accepted}, not {jupyterlab}"
    assert jupyterlab not in SpecifierSet(NOTEBOOK_REQUIRES_JUPYTERLAB["7.4.7"])  # why the pin exists


def test_notebook_requirements_table_matches_an_installed_notebook():
    """Where notebook is installed (Binder's image), the table above is its real metadata."""
    from importlib import metadata

    try:
        version = metadata.version("notebook")
    except metadata.PackageNotFoundError:
        pytest.skip("notebook is not installed here (it is Binder's only)")
    if version not in NOTEBOOK_REQUIRES_JUPYTERLAB:
        pytest.skip(f"notebook {version} is not one of the table's releases")
    from packaging.requirements import Requirement

    requirements = [Requirement(r) for r in metadata.requires("notebook") or []]
    jupyterlab = [r for r in requirements if _name(r.name) == "jupyterlab" and not r.marker]
    assert [str(r.specifier) for r in jupyterlab] == [
        str(Requirement("jupyterlab" + NOTEBOOK_REQUIRES_JUPYTERLAB[version]).specifier)]


def test_binder_apt_has_the_vm_backends_packages():
    apt = _binder_apt()
    assert VM_APT_PACKAGES <= set(apt), f"binder/apt.txt lacks {sorted(VM_APT_PACKAGES - set(apt))}"
    assert len(apt) == len(set(apt)), "binder/apt.txt lists a package twice"
    # busybox-static conflicts with (and replaces) the dynamic busybox
    assert "busybox" not in apt


def test_binder_post_build_fetches_the_guest_kernel_where_lab_looks():
    """At build time, as jovyan, into ~/.cache/nethelpers/vm: kernel.cache_root() at run time
    (no --into, no NETHELPERS_VM_DIR/XDG_CACHE_HOME of its own); a failure fails the build."""
    post_build = ROOT / "binder" / "postBuild"
    lines = _shell_lines(post_build)
    fetches = [line for line in lines if "nethelpers vm fetch" in line]
    assert len(fetches) == 1, "binder/postBuild must run `python -m nethelpers vm fetch` once"
    fetch = fetches[0]
    assert re.fullmatch(r"\s*python -m nethelpers vm fetch", fetch), (
        f"{fetch.strip()!r}: fetch into the default cache, unguarded (no --into, no `|| true`): "
        "set -e then fails the build when the download does")
    code = "\n".join(lines)
    assert "set -euo pipefail" in code.split(fetch)[0]
    assert code.index("pip install --no-deps -e .") < code.index(fetch), "install the package first"
    for variable in ("NETHELPERS_VM_DIR", "XDG_CACHE_HOME", "HOME="):
        assert variable not in code, f"postBuild must not move the cache ({variable}): Lab() would not find it"
    # the check after it: its Python compiles, and it asks the run-time lookup
    text = post_build.read_text()
    match = re.search(r"python - <<'EOF'\n(.*?)\nEOF\n", text, re.S)
    assert match, "binder/postBuild must check the fetched kernel with a `python - <<'EOF'` block"
    check = match.group(1)
    compile(check, "binder/postBuild (check)", "exec")
    assert "kernel.find()" in check and "kernel.cache_root()" in check and "sys.exit(" in check
    assert "qemu.find_binary()" in check and "kernel.find_busybox()" in check


def test_binder_image_does_not_force_a_backend():
    """Lab() chooses by itself (namespaces refused on Binder, so the VM): nothing in binder/ may
    set NETHELPERS_BACKEND, and there is no binder/Dockerfile (repo2docker would then build only
    from it, ignoring apt.txt, environment.yml and postBuild) nor a start script."""
    names = {path.name for path in (ROOT / "binder").iterdir()}
    assert names == {"apt.txt", "environment.yml", "postBuild"}, sorted(names)
    for name in names:
        assert "NETHELPERS_BACKEND" not in (ROOT / "binder" / name).read_text(), f"binder/{name}"
    assert "NETHELPERS_BACKEND" not in (ROOT / "environment.yml").read_text()


def test_ci_runs_the_readme_test_command_as_root_and_as_a_user():
    ci = ROOT / ".ci" / "run"
    text = ci.read_text()
    assert ci.stat().st_mode & 0o111, ".ci/run must be executable"
    assert "set -euo pipefail" in text
    assert re.search(r"^[^#\n]*\./course test\b", text, re.M), ".ci/run must run `./course test`"
    assert re.search(r"runuser -u .*?course\" test", text, re.S), \
        ".ci/run must also run `course test` as a non-root user"


def test_course_commands_and_makefile():
    course = ROOT / "course"
    text = course.read_text()
    assert course.stat().st_mode & 0o111, "./course must be executable"
    commands = set(re.findall(r"^    ([a-z|-]+)\)", text, re.M))
    assert {"install", "test", "lab", "bench", "doctor", "clean"} <= {
        c for group in commands for c in group.split("|")}, commands
    assert "notebooks/00-start-here.ipynb" in text and "PYTHON=${PYTHON:-python3}" in text
    readme = (ROOT / "README.md").read_text()
    assert "./course lab" in readme and "./course test" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert "./course $@" in makefile


def test_devcontainer():
    config = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
    assert "3.11" in config["image"] and "bookworm" in config["image"]
    assert config["remoteUser"] == "root"
    run_args = set(config["runArgs"])
    assert {"--cap-add=NET_ADMIN", "--cap-add=SYS_ADMIN", "--cap-add=NET_RAW",
            "--security-opt=seccomp=unconfined", "--security-opt=apparmor=unconfined"} <= run_args
    assert config["postCreateCommand"] == "./course install"
    assert config["postStartCommand"] == config["postAttachCommand"] == ".devcontainer/start-jupyterlab.sh"
    assert 8888 in config["forwardPorts"]
    extensions = config["customizations"]["vscode"]["extensions"]
    assert {"ms-python.python", "ms-toolsai.jupyter"} <= set(extensions)


def test_devcontainer_jupyterlab_is_reachable_through_the_forwarded_port():
    """Not the 403 "Blocking request with non-local 'Host'" of a server that only knows 127.0.0.1."""
    config = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
    assert config["containerEnv"]["NETHELPERS_DEVCONTAINER"] == "1"
    assert config["portsAttributes"]["8888"]["requireLocalPort"] is True   # the printed URL's port
    start = ROOT / ".devcontainer" / "start-jupyterlab.sh"
    text = start.read_text()
    assert start.stat().st_mode & 0o111, "start-jupyterlab.sh must be executable"
    assert "set -euo pipefail" in text and "nohup" not in text
    assert re.search(r"^setsid \./course lab\b", text, re.M), "it must start ./course lab in its own session"
    assert "if answers; then" in text and "flock" in text, "running it again must not start a second server"
    course = (ROOT / "course").read_text()
    lab = course[course.index("    lab)"):course.index("    bench)")]
    devcontainer, normal = lab.split("        else\n")
    assert "--ServerApp.allow_remote_access=True" in devcontainer and "--ip=0.0.0.0" in devcontainer
    assert "--IdentityProvider.token=" in devcontainer and 'CODESPACES:-}" = true' in devcontainer
    assert "--ip=127.0.0.1" in normal and "allow_remote_access" not in normal and "token" not in normal
    assert "NETHELPERS_DEVCONTAINER" in course[course.index("in_devcontainer()"):]
