"""The real-app corpus: open-source Tornado servers from PyPI (pinned in requirements.txt), each
run unmodified with the command line a user types, and what shows that it serves, that it
started a child process and that its own teardown ran.

Each app is run by ``harness.py`` in three ways: as a plain process (``plain``: what the checks
mean, they must all pass there) and through ``tornado-launcher start`` in both modes.
"""

from __future__ import annotations

import glob
import json
import re
import socket
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional


@dataclass
class Ctx:
    """One run's places: its ports, its temporary directory (HOME, TMPDIR, JUPYTER_* are in it)."""
    tmp: Path
    web: int
    extra: int
    short: Path  # a short directory for XDG_RUNTIME_DIR (AF_UNIX paths are limited to 107 bytes)

    @property
    def root(self) -> Path:
        return self.tmp / "root"

    @property
    def runtime(self) -> Path:
        return self.tmp / "jupyter-runtime"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.web}{path}"


def http(url: str, method: str = "GET", body: Optional[bytes] = None, timeout: float = 30.0):
    """(status, text) of one real HTTP request on loopback; an HTTP error status is returned too."""
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never the machine's proxy
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


@dataclass
class Teardown:
    """What the app's own teardown leaves to see. ``present`` is checked while the app serves
    (the thing the teardown removes, or nothing), ``done`` after it stopped; ``log`` a regex its
    log must show at stop. ``what`` says it in a sentence for the report."""
    what: str
    present: Optional[Callable[[Ctx], bool]] = None
    done: Optional[Callable[[Ctx], bool]] = None
    log: Optional[str] = None


@dataclass
class RealApp:
    name: str
    package: str            # the PyPI distribution whose version the table shows
    style: str              # "main", "script" or "app_class"
    target: str             # the dotted main / the script's path relative to the venv / the class
    argv: Callable[[Ctx], List[str]]
    path: str               # a page that answers 200 once it serves
    expect: str             # text that page holds
    teardown: Teardown
    setup: Optional[Callable[[Ctx], None]] = None
    spawn: Optional[Callable[[Ctx], None]] = None   # makes the app start a child process
    extra_check: Optional[Callable[[Ctx], Optional[str]]] = None  # its other listener answers
    root_logger: bool = False  # adds handlers to the root logger
    log_level: str = "info"    # the app block's `logger { level }`: its teardown may log at debug
    notes: str = ""
    env: Dict[str, str] = field(default_factory=dict)

    def ports(self, ctx: Ctx) -> List[int]:
        return [ctx.web] + ([ctx.extra] if self.extra_check else [])


def _files(pattern: str) -> Callable[[Ctx], bool]:
    return lambda ctx: bool(glob.glob(str(ctx.tmp / pattern)))


def _no_files(pattern: str) -> Callable[[Ctx], bool]:
    return lambda ctx: not glob.glob(str(ctx.tmp / pattern))


def _new_kernel(prefix: str = "") -> Callable[[Ctx], None]:
    def spawn(ctx: Ctx) -> None:
        status, text = http(ctx.url(f"{prefix}/api/kernels"), "POST", json.dumps({"name": "python3"}).encode())
        assert status in (200, 201), (status, text[:300])
    return spawn


def _jupyter_argv(ctx: Ctx) -> List[str]:
    return ["--no-browser", f"--port={ctx.web}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
            f"--ServerApp.root_dir={ctx.root}", "--allow-root"]


def _jupyter_spawn(ctx: Ctx) -> None:
    _new_kernel()(ctx)  # a kernel (a python child) and a terminal (bash on a pty, terminado)
    status, text = http(ctx.url("/api/terminals"), "POST", b"{}")
    assert status in (200, 201), (status, text[:300])


def _bokeh_app(ctx: Ctx) -> None:
    app = ctx.root / "hello"
    app.mkdir(parents=True, exist_ok=True)
    (app / "main.py").write_text("from bokeh.io import curdoc\nfrom bokeh.models import Div\n"
                                 "curdoc().add_root(Div(text='hello from the corpus'))\n")
    # bokeh's documented teardown hook: runs when the server stops
    (app / "app_hooks.py").write_text(
        "import os\n\ndef on_server_unloaded(server_context):\n"
        "    open(os.path.join(os.environ['HOME'], 'bokeh-unloaded'), 'w').write('done')\n")


def _panel_app(ctx: Ctx) -> None:
    app = ctx.root / "hello"
    app.mkdir(parents=True, exist_ok=True)
    (app / "main.py").write_text("import panel as pn\npn.panel('hello from the corpus').servable()\n")
    (app / "app_hooks.py").write_text(  # bokeh's teardown hook, which panel serve runs too
        "import os\n\ndef on_server_unloaded(server_context):\n"
        "    open(os.path.join(os.environ['HOME'], 'panel-unloaded'), 'w').write('done')\n")


def _voila_notebook(ctx: Ctx) -> None:
    ctx.root.mkdir(parents=True, exist_ok=True)
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                     "source": ["print('hello from the corpus')"]}],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (ctx.root / "hello.ipynb").write_text(json.dumps(nb))


def _mitm_addon(ctx: Ctx) -> None:
    ctx.root.mkdir(parents=True, exist_ok=True)
    # mitmproxy's documented addon teardown: `done` runs when the master shuts down
    (ctx.root / "addon.py").write_text(
        "import os\n\nclass Done:\n    def done(self):\n"
        "        open(os.path.join(os.environ['HOME'], 'mitm-done'), 'w').write('done')\n\naddons = [Done()]\n")


def _through_proxy(ctx: Ctx) -> Optional[str]:
    """A request to the web UI sent through mitmproxy's proxy port (an asyncio server)."""
    with socket.create_connection(("127.0.0.1", ctx.extra), timeout=20) as s:
        s.sendall(f"GET http://127.0.0.1:{ctx.web}/ HTTP/1.1\r\nHost: 127.0.0.1:{ctx.web}\r\n"
                  f"Connection: close\r\n\r\n".encode())
        data = b""
        while len(data) < 12:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    return None if data.startswith(b"HTTP/1.1 200") else f"the proxy port answered {data[:80]!r}"


def _tcp_open(ctx: Ctx) -> Optional[str]:
    """dask's scheduler port (Tornado's TCPServer, distributed's comm): a connection is accepted."""
    try:
        with socket.create_connection(("127.0.0.1", ctx.extra), timeout=10):
            return None
    except OSError as e:
        return f"the scheduler port {ctx.extra} refused: {e}"


CORPUS: List[RealApp] = [
    RealApp(
        "jupyter_server", "jupyter_server", "main", "jupyter_server.serverapp:main", _jupyter_argv,
        "/api/status", '"started"',
        Teardown("removes its jpserver-<pid>.json and shuts its kernels down (their connection files go)",
                 present=_files("jupyter-runtime/jpserver-*.json"),
                 done=lambda c: _no_files("jupyter-runtime/jpserver-*.json")(c)
                 and _no_files("jupyter-runtime/kernel-*.json")(c)),
        spawn=_jupyter_spawn, notes="launch_instance; a kernel and a terminal (pty) as children"),
    RealApp(
        "kernel_gateway", "jupyter_kernel_gateway", "app_class", "kernel_gateway.gatewayapp.KernelGatewayApp",
        lambda c: [f"--KernelGatewayApp.port={c.web}", "--KernelGatewayApp.port_retries=0",
                   "--KernelGatewayApp.ip=127.0.0.1", "--KernelGatewayApp.prespawn_count=1"],
        "/api", '"version"',
        Teardown("shuts its kernels down: their connection files go",
                 present=_files("jupyter-runtime/kernel-*.json"), done=_no_files("jupyter-runtime/kernel-*.json")),
        spawn=_new_kernel(),
        notes="traitlets Application as app_class; a kernel prespawned at start, one more by the API"),
    RealApp(
        "voila", "voila", "main", "voila.app:main",
        lambda c: [str(c.root / "hello.ipynb"), "--no-browser", f"--port={c.web}", "--Voila.ip=127.0.0.1",
                   "--Voila.port_retries=0"],
        "/", "hello from the corpus",
        Teardown("removes its connection-file directory (TMPDIR/voila_*)",
                 present=_files("tmp/voila_*"), done=_no_files("tmp/voila_*")),
        setup=_voila_notebook, notes="launch_instance; each page view runs the notebook in a kernel"),
    RealApp(
        "nbclassic", "nbclassic", "main", "nbclassic.notebookapp:main", _jupyter_argv,
        "/tree", "Notebook",
        Teardown("removes its jpserver-<pid>.json",
                 present=_files("jupyter-runtime/jpserver-*.json"), done=_no_files("jupyter-runtime/jpserver-*.json")),
        spawn=_new_kernel(), notes="launch_instance of an ExtensionApp (a ServerApp made inside)"),
    RealApp(
        "bokeh", "bokeh", "script", "bin/bokeh",
        lambda c: ["serve", str(c.root / "hello"), f"--port={c.web}", "--address=127.0.0.1",
                   f"--allow-websocket-origin=127.0.0.1:{c.web}"],
        "/hello", "bokeh",
        Teardown("runs the app's on_server_unloaded hook", done=_files("home/bokeh-unloaded")),
        setup=_bokeh_app, notes="its console script; SIGTERM through loop.add_signal_handler; atexit"),
    RealApp(
        "panel", "panel", "main", "panel.command:main",
        lambda c: ["serve", str(c.root / "hello"), f"--port={c.web}", "--address=127.0.0.1",
                   f"--allow-websocket-origin=127.0.0.1:{c.web}"],
        "/hello", "<title>Panel Application</title>",
        Teardown("runs the app's on_server_unloaded hook", done=_files("home/panel-unloaded")),
        setup=_panel_app, notes="bokeh's server under panel's CLI; SIGTERM through loop.add_signal_handler; atexit"),
    RealApp(
        "mitmweb", "mitmproxy", "main", "mitmproxy.tools.main:mitmweb",
        lambda c: ["--web-host", "127.0.0.1", "--web-port", str(c.web), "--listen-host", "127.0.0.1",
                   "--listen-port", str(c.extra), "--no-web-open-browser", "--set", f"confdir={c.tmp / 'mitm'}",
                   "-s", str(c.root / "addon.py")],
        "/", "<title>mitmproxy</title>",
        Teardown("runs its addons' `done` hook", done=_files("home/mitm-done")),
        setup=_mitm_addon, extra_check=_through_proxy, root_logger=True,
        notes="proxy port is an asyncio server; adds handlers to the root logger; asyncio.run; signal.signal"),
    RealApp(
        "flower", "flower", "main", "celery.__main__:main",
        lambda c: ["--broker=memory://", "flower", f"--port={c.web}", "--address=127.0.0.1",
                   "--persistent=True", f"--db={c.tmp / 'flower.db'}", "--state_save_interval=0", "--logging=debug"],
        "/", "Flower",
        Teardown("saves its state (--persistent) from its atexit", log=r"Saving state to"),
        log_level="debug", notes="celery's click CLI; SIGTERM handler raises SystemExit; atexit"),
    RealApp(
        "dask_scheduler", "distributed", "main", "distributed.cli.dask_scheduler:main",
        lambda c: ["--host", "127.0.0.1", "--port", str(c.extra), "--dashboard-address", f"127.0.0.1:{c.web}",
                   "--pid-file", str(c.tmp / "scheduler.pid"), "--no-show"],
        "/status", "Dask",
        Teardown("closes the scheduler and removes its --pid-file (atexit)",
                 present=_files("scheduler.pid"), done=_no_files("scheduler.pid"), log=r"End scheduler"),
        extra_check=_tcp_open, notes="click (sys.exit at the end); asyncio.run; signal handlers; atexit"),
    RealApp(
        "thumbor", "thumbor", "script", "bin/thumbor",
        lambda c: ["-p", str(c.web), "-i", "127.0.0.1", "-l", "debug"],
        "/healthcheck", "WORKING",
        Teardown("stops its server and its loop from its SIGTERM handler", log=r"Shutdown finally"),
        root_logger=True, log_level="debug",
        notes="logging.basicConfig (root handler); signal.signal; IOLoop.instance(); `with` around its loop"),
]

BY_NAME = {a.name: a for a in CORPUS}


def version_of(python: str, package: str) -> str:
    import subprocess

    out = subprocess.run([python, "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
                         capture_output=True, text=True)
    return out.stdout.strip() or "?"


def log_matches(pattern: Optional[str], text: str) -> bool:
    return pattern is None or re.search(pattern, text) is not None
