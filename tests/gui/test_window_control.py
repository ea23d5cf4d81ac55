"""The control commands against the real window: what they change is shown at once.

The real MainWindow over a real session (offscreen); `tornado-launcher stop/restart/status`
run as subprocesses (the window's qasync loop keeps turning while they do), and the apps table
must show the state they settled in by the time the command has exited: the command's reply is
sent after the session published that state, and the window renders it synchronously.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest
from PySide6.QtCore import Qt

from tests.gui.test_window_real import get, serves, wait
from tests.helpers import PLAIN_APP, restart_port, write_project
from tornado_launcher.gui.apps import AppsModel
from tornado_launcher.gui.window import MainWindow

pytestmark = pytest.mark.timeout(180)

HCL = '''
kernel "k" {{}}

app "web" {{
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "k"
  start  = "web.start()"
  options {{
    app_class = "proj.web.App"
    argv      = ["--port={port}"]
  }}
}}
'''


@pytest.fixture
def runtime(monkeypatch):
    """A private runtime directory (short: a socket path has ~100 bytes) for the window and the commands."""
    path = tempfile.mkdtemp(prefix="tlrun-")
    monkeypatch.setenv("XDG_RUNTIME_DIR", path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def ctl(qtbot, args, cwd, timeout=60_000):
    """Run a control command in a subprocess while Qt (and the window's loop) keeps running;
    returns (exit code, stdout, stderr)."""
    proc = subprocess.Popen([sys.executable, "-m", "tornado_launcher"] + args, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=dict(os.environ, NO_COLOR="1"))
    try:
        qtbot.waitUntil(lambda: proc.poll() is not None, timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
    out, err = proc.communicate()
    return proc.returncode, out, err


def test_window_shows_what_control_commands_did_at_once(qtbot, qloop, run, settings, runtime, tmp_path):
    port = restart_port()  # stopped and started again
    url = f"http://127.0.0.1:{port}/"
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": HCL.format(port=port)})
    w = MainWindow(settings)
    w.show()
    try:
        assert run(w.open_config(str(tmp_path / "jaffle.hcl")), 90_000)
        row = lambda: w.apps_model.get("web")  # noqa: E731
        wait(qtbot, w, lambda: row() is not None and row().state == "running", 60_000)
        wait(qtbot, w, serves(url, "v1"), 30_000)
        m = w.apps_model
        status_cell = lambda: m.data(m.index(m.row_of("web"), AppsModel.STATUS), Qt.ItemDataRole.UserRole)  # noqa: E731
        shown = []
        m.dataChanged.connect(lambda *a: shown.append(row().state))

        code, out, err = ctl(qtbot, ["status", "--json"], tmp_path)
        assert code == 0, err
        st = json.loads(out)
        assert [(a["name"], a["kind"], a["state"], a["urls"], a["kernel"]) for a in st["apps"]] == \
            [("web", "tornado", "running", [url], "k")]
        assert st["pid"] == os.getpid() and [k["name"] for k in st["kernels"]] == ["k"]

        code, out, err = ctl(qtbot, ["stop", "web"], tmp_path)
        assert code == 0, err
        assert "web: stopped" in out
        # no wait: by the time the command exited, the table says so
        assert row().state == "stopped" and status_cell() == "stopped" and "stopped" in shown
        assert w.session.apps["web"].state == "stopped"
        assert get(url)[0] == 599

        code, out, err = ctl(qtbot, ["restart", "web"], tmp_path)  # a stopped app: started
        assert code == 0, err
        assert f"web: running at {url}" in out
        assert row().state == "running" and row().urls == (url,) and status_cell() == "running"
        assert get(url) == (200, "v1")

        code, out, err = ctl(qtbot, ["stop", "web", "nope"], tmp_path)
        assert code == 1 and "no app named 'nope'" in err
        assert row().state == "running"  # nothing was touched
    finally:
        w.close()
        qtbot.waitUntil(lambda: w.closed, timeout=60_000)
        w.deleteLater()
    # the window's socket went with its session
    code, _, err = ctl(qtbot, ["status"], tmp_path)
    assert code == 3, err
