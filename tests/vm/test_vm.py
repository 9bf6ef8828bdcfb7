"""The VM backend: the same lab inside a Linux VM that QEMU runs as this user (nethelpers.vm).

Real QEMU, a real Debian kernel, real namespaces inside it; as root and as a non-root user
alike (QEMU needs no privilege). CI fails if these are skipped (.ci/run).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap

import pytest

from nethelpers import InvalidValue, Lab, LabUnavailable
from nethelpers.vm import guestview, kernel, machine, qemu
from waiting import wait_until  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/<layer>/ → the repo
MISSING = [what for what, found in (("qemu-system-x86_64", qemu.find_binary()),
                                    ("a static busybox", kernel.find_busybox()),
                                    ("the guest kernel (python -m nethelpers vm fetch)", kernel.find()))
           if not found]
pytestmark = pytest.mark.skipif(bool(MISSING), reason="the VM backend needs " + ", ".join(MISSING))

# A seccomp filter that refuses unshare(2) with EPERM, as a container's default profile does.
REFUSE_UNSHARE = textwrap.dedent("""
    import ctypes, platform, struct, sys
    sys.path.insert(0, {repo!r})
    nr = {{"x86_64": 272}}[platform.machine()]
    prog = [(0x20, 0, 0, 4), (0x15, 0, 3, 0xC000003E), (0x20, 0, 0, 0), (0x15, 0, 1, nr),
            (0x06, 0, 0, 0x00050000 | 1), (0x06, 0, 0, 0x7FFF0000)]
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in prog))
    fprog = ctypes.create_string_buffer(struct.pack("HxxxxxxP", len(prog), ctypes.addressof(buf)))
    assert libc.prctl(38, 1, 0, 0, 0) == 0 and libc.prctl(22, 2, fprog, 0, 0) == 0
""")


@pytest.fixture
def vm_lab():
    with Lab(backend="vm") as lab:
        yield lab



def test_a_vm_lab_is_real_namespaces_on_debians_kernel(vm_lab):
    assert vm_lab.backend == "vm" and vm_lab.info["kernel"] == kernel.find().release
    a, b = vm_lab.add_nodes(["a", "b"])
    vm_lab.add_veth("a:v0", "b:v0")
    a.add_address("v0", "10.0.0.1/24")
    b.add_address("v0", "10.0.0.2/24")
    assert a.run("ping -c1 -W5 10.0.0.2", timeout=20).ok
    # the release the Debian package's vmlinuz file is named after (kernel.fetch read it from the .deb)
    assert a.run("uname -r").stdout.strip() == kernel.find().release != os.uname().release
    assert "veth" in a.run("ip -d -br link show v0; ip -d link show v0").stdout
    names = vm_lab.run_in_sandbox("ip netns list").stdout
    assert re.search(r"^a\b", names, re.M) and re.search(r"^b\b", names, re.M)


def test_the_guest_kernel_has_the_link_types_and_qdiscs_it_was_built_with(vm_lab):
    """Debian's 6.1 config has dummy, 802.1Q, vrf and netem as modules (CONFIG_DUMMY=m ...), which
    the guest loads on demand; this machine's own kernel may lack them."""
    n = vm_lab.add_node("n")
    done = n.run("ip link add d0 type dummy && ip link add link d0 name d0.5 type vlan id 5 && "
                 "ip link add vrf0 type vrf table 10 && ip link set d0 up && "
                 "tc qdisc add dev d0 root netem delay 1ms && tc qdisc show dev d0", timeout=60)
    assert done.ok, done.stderr
    assert "netem" in done.stdout and "delay 1ms" in done.stdout


def test_labs_share_one_vm_and_closing_one_unplugs_its_serial_port(vm_lab):
    other = Lab(backend="vm")
    try:
        assert other._sandbox.machine is vm_lab._sandbox.machine  # one VM for this process
        ports = vm_lab.run_in_sandbox("cat /sys/class/virtio-ports/*/name").stdout.split()
        mine, theirs = f"lab.{vm_lab._sandbox.number}", f"lab.{other._sandbox.number}"
        assert {"nethelpers.ctl", mine, theirs} <= set(ports)
    finally:
        other.close()
    wait_until(lambda: theirs not in vm_lab.run_in_sandbox(
        "cat /sys/class/virtio-ports/*/name").stdout.split(), 5)
    assert other.closed and vm_lab.add_node("still") is not None


def test_the_guest_sees_only_what_is_shared_and_its_writes_stay_inside(vm_lab):
    home = os.path.expanduser("~")
    with tempfile.TemporaryDirectory(dir=home if os.access(home, os.W_OK) else None) as private:
        secret = os.path.join(private, "secret")
        with open(secret, "w") as f:
            f.write("not for the lab\n")
        assert vm_lab.run_in_sandbox(["cat", secret]).rc != 0
        assert vm_lab.run_in_sandbox(["ls", private]).rc != 0
    for machine_only in ("/proc/1/environ", "/run/netns"):
        assert vm_lab.run_in_sandbox(["test", "-e", "/host" + machine_only]).rc != 0
    # a directory anyone may write (root of a lab is nobody, in the guest too: sandbox/setup.py)
    shared = tempfile.mkdtemp(dir=REPO, prefix="vm-writes-")
    try:
        os.chmod(shared, 0o1777)
        written = os.path.join(shared, "written-in-the-vm")
        assert vm_lab.run_in_sandbox(["touch", written]).ok      # an overlay in the guest's memory
        assert vm_lab.run_in_sandbox(["test", "-e", written]).ok
        assert not os.path.exists(written)                        # nothing reached this machine
    finally:
        os.rmdir(shared)


def test_ctrl_c_stops_a_command_in_the_vm_and_the_lab_goes_on(vm_lab):
    import threading

    from nethelpers import Interrupted

    a = vm_lab.add_node("a")
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a Jupyter kernel (a shell's
    # background job starts with SIGINT ignored, and Python keeps that)
    threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT)).start()
    with pytest.raises(Interrupted) as caught:
        a.run("ping -i 0.2 127.0.0.1", timeout=60)
    assert "packets transmitted" in caught.value.result.stdout
    assert a.run("echo next").stdout == "next\n"


OWNER = textwrap.dedent("""
    import json, os, sys, time
    sys.path.insert(0, {repo!r})
    from nethelpers import Lab
    lab = Lab(backend="vm")
    lab.add_node("a").run("true")
    supervisor = lab._sandbox.machine.process.pid
    with open(f"/proc/{{supervisor}}/task/{{supervisor}}/children") as f:
        qemu = int(f.read().split()[0])
    child = None
    if sys.argv[1] == "fork":  # a child (multiprocessing's way) that outlives its parent
        child = os.fork()
        if child == 0:
            time.sleep(60)
            os._exit(0)
    print(json.dumps({{"supervisor": supervisor, "qemu": qemu, "child": child}}), flush=True)
    sys.stdin.readline()  # the test has seen both alive
    if sys.argv[1] == "close":
        lab.close()
        sys.exit(0)
    if sys.argv[1] == "exit":
        sys.exit(0)
    time.sleep(600)
""")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def files_in(*tops: str) -> set[str]:
    """Every file under these directories (the VM cache's KVM verdict aside)."""
    found = set()
    for top in tops:
        for root, dirs, files in os.walk(top):
            found |= {os.path.join(root, name) for name in files if name != "accel.json"}
    return found


@pytest.mark.parametrize("how", ["close", "exit", "sigkill", "fork"])
def test_the_vm_ends_with_its_owner_and_leaves_no_file(how, tmp_path):
    """The owner's temporary directory (TMPDIR: where it or QEMU would write) and the VM cache
    hold nothing new afterwards."""
    before = files_in(kernel.cache_root())
    owner = subprocess.Popen([sys.executable, "-c", OWNER.format(repo=REPO), how], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, env=dict(os.environ, TMPDIR=str(tmp_path)))
    seen = json.loads(owner.stdout.readline())
    assert alive(seen["supervisor"]) and alive(seen["qemu"])
    owner.stdin.write("go\n")
    owner.stdin.close()
    if how in ("sigkill", "fork"):
        os.kill(owner.pid, signal.SIGKILL)   # a crashed or killed Jupyter kernel
    owner.wait(60)
    try:
        wait_until(lambda: not alive(seen["qemu"]) and not alive(seen["supervisor"]), 10)
        if how == "fork":
            assert alive(seen["child"])  # the forked child lives on, and holds the VM no longer
    finally:
        if seen["child"]:
            os.kill(seen["child"], signal.SIGKILL)
    assert sorted(files_in(kernel.cache_root()) - before) == [] and sorted(files_in(str(tmp_path))) == []


def test_lab_takes_the_vm_where_namespaces_are_refused():
    """Lab() with no backend named: namespaces are refused (seccomp), so the VM runs it, and says so."""
    code = REFUSE_UNSHARE.format(repo=REPO) + textwrap.dedent("""
        from nethelpers import Lab
        with Lab() as lab:
            print(lab.backend, lab.add_node("a").run("echo inside").stdout.strip())
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, NETHELPERS_BACKEND=""))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["vm", "inside"]
    assert re.search(r"^Lab: in a Linux VM, network namespaces are refused here \(.*seccomp.*\): QEMU",
                     done.stderr, re.M), done.stderr


def test_a_backend_that_does_not_exist_names_the_two_that_do(monkeypatch):
    with pytest.raises(InvalidValue, match="backend='docker' is not a lab backend: use 'namespaces' or 'vm'"):
        Lab(backend="docker")
    monkeypatch.setenv("NETHELPERS_BACKEND", "kvm")
    with pytest.raises(InvalidValue, match="NETHELPERS_BACKEND='kvm' is not a lab backend"):
        Lab()


def test_no_qemu_is_a_clear_error():
    code = f"import sys; sys.path.insert(0, {REPO!r})\n" + textwrap.dedent("""
        from nethelpers import Lab, LabUnavailable
        try:
            Lab(backend="vm")
        except LabUnavailable as exc:
            print(exc)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, NETHELPERS_QEMU="/nonexistent/qemu"))
    assert "the VM backend needs QEMU: sudo apt-get install qemu-system-x86" in done.stdout, done.stderr


def test_a_notebook_where_nothing_runs_shows_one_banner_then_one_line_per_cell(tmp_path):
    """No namespaces (seccomp) and no QEMU: the first lab cell explains, later ones say one line,
    and a cell using the lab that was never made is no NameError traceback."""
    import nbformat

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in (
        "from nethelpers import Lab\nlab = Lab()", "lab.add_node('a')", "other = Lab()", "print(1 + 1)")])
    path = tmp_path / "nothing.ipynb"
    nbformat.write(notebook, path)
    code = REFUSE_UNSHARE.format(repo=REPO) + textwrap.dedent(f"""
        import nbformat
        from nbclient import NotebookClient
        nb = nbformat.read({str(path)!r}, as_version=4)
        NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120).execute()
        nbformat.write(nb, {str(path)!r})
    """)
    env = dict(os.environ, NETHELPERS_QEMU="/nonexistent/qemu", NETHELPERS_BACKEND="",
               PYTHONPATH=os.pathsep.join([REPO, os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    cells = nbformat.read(path, as_version=4).cells
    text = ["".join(o.get("text", "") for o in cell.outputs) for cell in cells]
    kinds = [{o.output_type for o in cell.outputs} for cell in cells]
    assert text[0].startswith("No lab can run on this machine") and "network namespaces:" in text[0]
    assert "the VM backend:     the VM backend needs QEMU" in text[0]
    for later in (1, 2):
        assert text[later].strip() == "LabUnavailable: no lab can run on this machine (see the first lab " \
                                      "cell's message); the stored outputs show what this cell prints."
    assert all("error" not in k for k in kinds) and "Traceback" not in "".join(text) and "NameError" not in "".join(text)
    assert text[3] == "2\n"


def test_a_lab_beyond_the_vms_serial_ports_is_a_clear_error_and_a_closed_one_frees_its_port(vm_lab):
    """Each lab holds a serial port of the guest's bus (qemu.MAX_PORTS, less the bus's console and the
    control channel): one more is refused by name, with the fix, and closing a lab makes room."""
    labs = []
    try:
        while len(vm_lab._sandbox.machine.sandboxes) < qemu.MAX_PORTS - 2:
            labs.append(Lab(backend="vm"))
        with pytest.raises(LabUnavailable, match=r"labs are open in this process's VM.*lab\.close\(\)"):
            Lab(backend="vm")
        labs.pop().close()
        with Lab(backend="vm") as again:
            assert again.add_node("fits") is not None
    finally:
        for lab in labs:
            lab.close()


def test_the_guests_oom_killer_takes_a_runaway_command_never_the_lab(vm_lab):
    """The agent shields itself and every lab's sandbox (PID 1 of the lab: oom_score_adj -1000); what
    runs in a node is ordinary (0), so that a learner's program that fills the guest is what goes."""
    assert vm_lab.run_in_sandbox("cat /proc/1/oom_score_adj").stdout.strip() == "-1000"
    assert vm_lab.add_node("n").run("cat /proc/self/oom_score_adj").stdout.strip() == "0"


def test_the_guest_runs_within_its_memory(vm_lab):
    """The guest's RAM is fixed by QEMU's -m (NETHELPERS_VM_MEMORY, MB): a lab stays within it."""
    memory = vm_lab._sandbox.machine.memory()
    assert memory["MemTotal"] <= machine.memory_mb() * 1024
    assert memory["MemAvailable"] > 0.3 * memory["MemTotal"]


def test_the_current_directory_is_shared_but_not_when_it_is_the_home_directory(monkeypatch, tmp_path):
    """(The course and its Python are shared wherever they are: on Binder the course is the home.)"""
    home = os.path.realpath(os.path.expanduser("~"))
    monkeypatch.chdir(home)
    shared, _ = guestview.exports(kernel.find().directory)
    covers_home = [p for p in shared if home == p or home.startswith(p.rstrip("/") + "/")]
    assert covers_home == [p for p in covers_home if p in (guestview.package_root(), sys.prefix)], shared
    assert "/usr" in shared and os.path.realpath(kernel.find().directory) in shared
    monkeypatch.chdir(tmp_path)
    assert str(tmp_path.resolve()) in guestview.exports(kernel.find().directory)[0]
