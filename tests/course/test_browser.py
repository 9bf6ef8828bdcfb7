"""The learner's view: notebook 01 run in JupyterLab, in a real browser (headless Chromium).

JupyterLab starts on a free port of 127.0.0.1 with a random token, on a copy of notebooks/ (JupyterLab
autosaves: the committed notebooks stay as they are), with its config, data and runtime directories in a
temporary directory, so the learner's own Jupyter settings are neither used nor changed. Playwright drives
Debian's chromium (no browser download) as a learner would: open 01-bridge.ipynb, Run ▸ Run All Cells. Then
every code cell has run, in order; no cell has an error; no cell shows stderr that the committed notebook
does not; every topology picture has rendered; the page asked for nothing off this machine. Screenshots
(the window, and the whole notebook) go to test-artifacts/, also when the test fails.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "01-bridge.ipynb"
ARTIFACTS = ROOT / "test-artifacts"
SCREENSHOT = "browser-01-bridge.png"
# Debian's package (`./course test` installs it as root); another Chromium or Chrome can be named instead.
CHROMIUM = os.environ.get("NETHELPERS_CHROMIUM", "/usr/bin/chromium")
SERVER_START = 45   # s: JupyterLab answering on its port (~3 s here)
PAGE_READY = 45     # s: the notebook open and its kernel idle (~5 s)
RUN_ALL = 90        # s: every cell run (13 - 18 s here, on an idle machine)
VIEWPORT = {"width": 1400, "height": 1000}

# JupyterLab 4 renders an error (a traceback) and a stderr stream alike, as one of these;
# which is which the notebook's model tells (output_type "error" or "stream").
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: .venv/bin/pip install -e '.[test]'")

pytestmark = [
    pytest.mark.timeout(170),  # the whole test, screenshots and teardown included: ~30 - 35 s here
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason=f"no Chromium at {CHROMIUM}: install Debian's (sudo apt-get install chromium; `./course test` "
               "does it as root), or set NETHELPERS_CHROMIUM to a Chromium or Chrome binary (on Ubuntu, "
               "where chromium is a snap, Google Chrome's .deb)"),
    pytest.mark.skipif(
        ctypes.util.find_library("atomic") is None,
        reason="Playwright's driver (a node binary) needs libatomic.so.1: sudo apt-get install libatomic1 "
               "(`./course test` does it as root)"),
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _descendants(pid: int) -> list[int]:
    """Every process below pid, from /proc (the kernels JupyterLab starts in sessions of their own)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:  # already gone
            pass


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server of the .venv, on a copy of notebooks/; yields (url, token, that copy, log path)."""
    root = tmp_path / "notebooks"
    shutil.copytree(ROOT / "notebooks", root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    jupyter = tmp_path / "jupyter"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.update(JUPYTER_CONFIG_DIR=str(jupyter / "config"), JUPYTER_DATA_DIR=str(jupyter / "data"),
               JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"), IPYTHONDIR=str(jupyter / "ipython"))
    # no "Would you like to get notified about official Jupyter news?" over the notebook
    settings = jupyter / "config" / "lab" / "user-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    port, token = _free_port(), secrets.token_hex(24)
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: the notebook's model, for the checks
        # nothing from the internet: no news feed, no update check
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        # no search for language servers (it runs `npm prefix -g`, which logs into ~/.npm)
        "--LanguageServerManager.autodetect=False",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log_path = tmp_path / "jupyterlab.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(command, cwd=root, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + SERVER_START
        while True:
            assert server.poll() is None, \
                f"JupyterLab exited ({server.returncode}):\n{log_path.read_text(errors='replace')[-3000:]}"
            try:
                request = urllib.request.Request(f"{url}/api/status",
                                                 headers={"Authorization": f"token {token}"})
                with urllib.request.urlopen(request, timeout=5):
                    break
            except (urllib.error.URLError, OSError, http.client.HTTPException):
                pass  # not listening yet, or closing the connection while it starts up
            assert time.monotonic() < deadline, \
                f"JupyterLab not answering after {SERVER_START} s:\n{log_path.read_text(errors='replace')[-3000:]}"
            time.sleep(0.25)
        yield url, token, root, log_path
    finally:
        # The kernels run in sessions of their own: note them (and their labs) while the server is their
        # parent, stop the server (which shuts its kernels down), then kill whatever is left.
        below = _descendants(server.pid)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=10)
        _kill(below)


# The notebook open, its kernel started and idle.
READY_JS = """(name) => {
    const app = window.jupyterapp, panel = app && app.shell.currentWidget;
    if (!panel || !panel.context || panel.context.path !== name || !panel.context.isReady) return false;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return kernel !== null && kernel.status === 'idle';
}"""

# Run All queues every code cell at once, clearing its outputs and count (the stored ones too).
STARTED_JS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type === 'code' && cell.executionCount === null && cell.sharedModel.getSource().trim() !== '') {
            return true;
        }
    }
    return false;
}"""

# The notebook's cells as the page's JupyterLab holds them.
CELLS_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = [];
    for (let i = 0; i < panel.content.model.cells.length; i++) {
        const cell = panel.content.model.cells.get(i);
        const outputs = [];
        if (cell.type === 'code') {
            for (let j = 0; j < cell.outputs.length; j++) {
                const o = cell.outputs.get(j).toJSON();
                outputs.push({type: o.output_type, name: o.name, ename: o.ename, evalue: o.evalue});
            }
        }
        const blank = cell.sharedModel.getSource().trim() === '';  // JupyterLab does not run these
        cells.push({type: cell.type, count: cell.type === 'code' ? cell.executionCount : null, blank, outputs});
    }
    return cells;
}"""

# Done when every code cell has an execution count and the kernel is idle, or as soon as one
# cell has an error (Run All stops there, and the cells after it never get a count).
DONE_JS = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const cells = panel.content.model.cells;
    let all = true;
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        if (cell.type !== 'code') continue;
        for (let j = 0; j < cell.outputs.length; j++) {
            if (cell.outputs.get(j).type === 'error') return true;
        }
        if (cell.executionCount === null && cell.sharedModel.getSource().trim() !== '') all = false;
    }
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    return all && kernel !== null && kernel.status === 'idle';
}"""

FIRST_ERROR_JS = """() => {
    const app = window.jupyterapp, panel = app && app.shell.currentWidget;
    const cells = panel && panel.content && panel.content.model ? panel.content.model.cells : [];
    for (let i = 0; i < cells.length; i++) {
        const cell = cells.get(i);
        for (let j = 0; cell.type === 'code' && j < cell.outputs.length; j++) {
            if (cell.outputs.get(j).type === 'error') return i;
        }
    }
    return -1;
}"""

# What the page shows, cell by cell: stderr-rendered outputs and images.
DOM_JS = """async (selector) => {
    const cells = Array.from(document.querySelectorAll('.jp-NotebookPanel .jp-Notebook .jp-Cell'));
    return Promise.all(cells.map(async (cell) => {
        const stderr = Array.from(cell.querySelectorAll(selector)).map((e) => e.textContent);
        const images = await Promise.all(Array.from(cell.querySelectorAll('.jp-OutputArea-output img'))
            .map((img) => img.decode().then(() => img.naturalWidth, () => 0)));
        return {stderr, images};
    }));
}"""


def _first_line(cell) -> str:
    return (cell.source.splitlines() or [""])[0]


def _menu(page, menu: str, item: str) -> None:
    page.get_by_role("menuitem", name=menu, exact=True).click()
    page.get_by_role("menuitem", name=item, exact=True).click()


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


# The window height that shows the notebook down to its last cell (not its scroll-past-end space).
WHOLE_HEIGHT_JS = """() => {
    const outer = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
    const cells = document.querySelectorAll('.jp-NotebookPanel .jp-Cell');
    if (!outer || !cells.length) return 0;
    const bottom = cells[cells.length - 1].getBoundingClientRect().bottom - outer.getBoundingClientRect().top;
    return Math.ceil(bottom + outer.scrollTop + window.innerHeight - outer.clientHeight + 40);
}"""


def _screenshots(page, default_cell: int) -> None:
    """The window, scrolled to the first error (or to default_cell), then the whole notebook. Also on
    the way out of a failure: a browser error here is printed, never raised over the test's own."""
    try:
        first_error = page.evaluate(FIRST_ERROR_JS)
        cell = page.locator(".jp-NotebookPanel .jp-Cell").nth(first_error if first_error >= 0 else default_cell)
        cell.scroll_into_view_if_needed(timeout=5_000)
    except sync_api.Error as error:
        print(f"could not scroll to the cell: {error}")
    try:
        _screenshot(page, SCREENSHOT)
        _screenshot_whole_notebook(page, SCREENSHOT.replace(".png", "-full.png"))
    except sync_api.Error as error:
        print(f"no screenshot: {error}")


def _screenshot_whole_notebook(page, name: str) -> None:
    """The notebook scrolls inside the page: make the window as tall as the notebook. Cells out of view
    have only an estimated height until drawn, so grow the window until the height holds."""
    for _ in range(6):
        height = page.evaluate(WHOLE_HEIGHT_JS)
        height = min(max(height, VIEWPORT["height"]), 30_000)
        if abs(height - page.viewport_size["height"]) < 4:
            break
        page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
        page.wait_for_timeout(500)
    _screenshot(page, name)


@contextlib.contextmanager
def _browser(url: str, tmp_path):
    """Headless Chromium with one page, allowed to ask the local server only; yields (page, offsite),
    offsite being every other URL it tried."""
    offsite: list[str] = []

    def local_only(route):
        if route.request.url.startswith(f"{url}/"):
            route.continue_()
        else:
            offsite.append(route.request.url)
            route.abort()

    with sync_api.sync_playwright() as playwright:
        # Playwright runs Chromium without its sandbox (chromium_sandbox=False): as root in a container
        # the sandbox cannot start. A small /dev/shm (64 MB in Docker) would crash it: use /tmp.
        # Its profile, crash reports and caches go to a temporary home, not the learner's.
        home = tmp_path / "browser-home"
        home.mkdir(exist_ok=True)
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--disable-dev-shm-usage"], timeout=30_000,
            env={**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                 "XDG_CACHE_HOME": str(home / ".cache")})
        try:
            context = browser.new_context(viewport=VIEWPORT)
            context.route("**/*", local_only)
            page = context.new_page()
            page.set_default_timeout(PAGE_READY * 1000)
            yield page, offsite
        finally:
            browser.close()


def _open_and_run_all(page, url: str, token: str, notebook: str) -> float:
    """Open the notebook, wait for its kernel, Run ▸ Run All Cells, wait until done; the seconds it took."""
    page.goto(f"{url}/lab/tree/{notebook}?token={token}")
    page.wait_for_function(READY_JS, arg=notebook, polling=250)
    before = [c["count"] for c in page.evaluate(CELLS_JS) if c["type"] == "code" and not c["blank"]]
    assert None not in before, (f"{notebook} is not stored executed (counts {before}): "
                                f".venv/bin/python scripts/run_notebooks.py notebooks/{notebook}")
    started = time.monotonic()
    _menu(page, "Run", "Run All Cells")
    page.wait_for_function(STARTED_JS, polling=100, timeout=10_000)
    page.wait_for_function(DONE_JS, polling=500, timeout=RUN_ALL * 1000)
    return time.monotonic() - started


def test_notebook_01_runs_in_jupyterlab_in_a_real_browser(jupyterlab, tmp_path):
    url, token, root, log_path = jupyterlab
    stored = nbformat.read(root / NOTEBOOK, as_version=4)
    # cells whose committed output has a stderr stream on purpose (a docker CLI error the lesson shows)
    stderr_cells = {i for i, cell in enumerate(stored.cells) if cell.cell_type == "code"
                    and any(o.output_type == "stream" and o.name == "stderr" for o in cell.outputs)}
    plot_cells = [i for i, cell in enumerate(stored.cells)
                  if cell.cell_type == "code" and ".plot(" in cell.source]
    assert plot_cells, f"{NOTEBOOK} draws no topology (no .plot( call): update this test"

    with _browser(url, tmp_path) as (page, offsite):
        try:
            seconds = _open_and_run_all(page, url, token, NOTEBOOK)
            cells = page.evaluate(CELLS_JS)
            shown = page.evaluate(DOM_JS, STDERR_OUTPUT)
        finally:
            _screenshots(page, plot_cells[0])

    where = f"(screenshots in {ARTIFACTS}; JupyterLab's log {log_path})"
    assert len(cells) == len(stored.cells) == len(shown), \
        f"the page has {len(cells)} cells in its model and {len(shown)} on screen, the file {len(stored.cells)}"
    errors = [f"cell {i} ({_first_line(stored.cells[i])!r}): {o['ename']}: {o['evalue']}"
              for i, cell in enumerate(cells) for o in cell["outputs"] if o["type"] == "error"]
    assert not errors, f"error outputs {where}:\n" + "\n".join(errors)
    counts = [cell["count"] for cell in cells if cell["type"] == "code" and not cell["blank"]]
    assert None not in counts and all(a < b for a, b in zip(counts, counts[1:])), \
        f"not every code cell ran, in order: {counts}"
    unexpected = [f"cell {i}: {text[:300]}" for i, cell in enumerate(shown) if i not in stderr_cells
                  for text in cell["stderr"]]
    assert not unexpected, f"stderr shown where the committed notebook has none {where}:\n" + "\n".join(unexpected)
    for i in plot_cells:
        assert any(width > 0 for width in shown[i]["images"]), \
            f"cell {i} ({_first_line(stored.cells[i])!r}): no topology picture rendered {where}"
    assert not offsite, f"the page asked for something off this machine: {offsite}"
    print(f"Run All: {seconds:.1f} s for {len(counts)} code cells")


EXPLORER = "00-start-here.ipynb"
# The explorer's output area, once a mode is built: its picture, then (after the button) the matrix.
EXPLORER_OUTPUT = ".jp-Cell .widget-output"


def test_the_mode_explorer_widget_builds_a_mode_and_pings_in_a_real_browser(jupyterlab, tmp_path):
    url, token, root, log_path = jupyterlab
    with _browser(url, tmp_path) as (page, offsite):
        try:
            _open_and_run_all(page, url, token, EXPLORER)
            errors = [o for c in page.evaluate(CELLS_JS) for o in c["outputs"] if o["type"] == "error"]
            assert not errors, f"{EXPLORER}: error outputs {errors}"
            menu = page.locator(".jp-Cell .widget-dropdown select")
            menu.scroll_into_view_if_needed()
            menu.select_option("bridge")              # a lab is built for real, described and drawn
            output = page.locator(EXPLORER_OUTPUT)
            picture = output.locator("img")
            picture.wait_for(timeout=60_000)
            assert picture.evaluate("(img) => img.decode().then(() => img.naturalWidth, () => 0)") > 0
            assert "172.17.0.0/16" in output.inner_text()  # the mode's facts
            button = page.get_by_role("button", name="Ping every pair")
            page.wait_for_function("(b) => !b.disabled", arg=button.element_handle(), timeout=30_000)
            button.click()
            page.wait_for_function("(o) => o.innerText.includes('from \\\\ to')", arg=output.element_handle(),
                                   timeout=30_000)
            text = output.inner_text()
        finally:
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser-00-explorer.png"))
    assert "failed" not in text, text
    matrix = text[text.index("from \\ to"):].splitlines()
    assert matrix[1].split()[:3] == ["c1", "·", "✓"], matrix   # c1 pings c2 over docker0
    assert not offsite, f"the page asked for something off this machine: {offsite}"
