"""The window over the real Session: real kernels, real HTTP, real files.

Each test writes a small project with free ports in tmp_path, opens it the
way a user does, and checks what the user would: the page is served, the
port is freed, the status shows it.  HTTP is fetched from the test thread
(the app serves from the kernel process, not from the window's loop).
"""

from __future__ import annotations

import os
import signal
import time
import urllib.error
import urllib.request

import pytest
from helpers import HANG_APP, PLAIN_APP, free_port, kernel_processes, line_of, port_is_free, write_project
from PySide6.QtCore import Qt

from tornado_launcher.engine.events import KernelState
from tornado_launcher.gui.apps import AppsModel
from tornado_launcher.gui.window import MainWindow

pytestmark = pytest.mark.timeout(180)


def hcl(port: int, *, threaded: bool = False, watchdog: bool = True) -> str:
    wd = '''
    app "watchdog" {
      class  = "jaffle.app.watchdog.WatchdogApp"
      kernel = "py_kernel"
      options {
        handlers = [{
          patterns           = ["*.py"]
          ignore_directories = true
          code_blocks        = ["web.handle_watchdog_event({event})"]
        }]
      }
    }
    ''' if watchdog else ""
    return f'''
    kernel "py_kernel" {{}}
    {wd}
    app "web" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "py_kernel"
      start  = "web.start()"
      options {{
        app_class   = "proj.web.App"
        argv        = ["--port={port}"]
        threaded    = {"true" if threaded else "false"}
        clear_cache = ["proj"]
      }}
    }}
    '''


def get(url: str) -> tuple:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError as e:
        return 599, str(e)


def serves(url: str, text: str):
    return lambda: get(url) == (200, text)


@pytest.fixture
def project(tmp_path):
    def make(port, **kw):
        write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": hcl(port, **kw)})
        return tmp_path / "jaffle.hcl"
    return make


def row(w, name="web"):
    return w.apps_model.get(name)


def wait(qtbot, w, pred, timeout=30_000):
    """qtbot.waitUntil that, on timeout, says what the window showed."""
    from pytestqt.exceptions import TimeoutError as QtTimeout

    try:
        qtbot.waitUntil(pred, timeout=timeout)
    except QtTimeout:
        rows = [(r.name, r.state, r.reason, r.threaded, r.urls) for r in w.apps_model.rows]
        apps = {n: (a.state, a.reason, a.threaded) for n, a in (w.session.apps.items() if w.session else [])}
        w.merged.flush(force=True)
        tail = "\n".join(w.merged.plain_text().splitlines()[-40:])
        raise AssertionError(
            f"condition not met in {timeout} ms\nrows: {rows}\nsession: {apps}\nlog:\n{tail}") from None


def test_start_stop_threaded_console_and_quit(window, run, project, qtbot):
    port = free_port()
    path = project(port, watchdog=False)
    url = f"http://127.0.0.1:{port}/"
    assert run(window.open_config(str(path)), 90_000)
    wait(qtbot, window, lambda: row(window) and row(window).state == "running", 60_000)
    assert row(window).urls == (url,)
    wait(qtbot, window, serves(url, "v1"), 30_000)
    assert window.kernels_model.get("py_kernel").state in ("idle", "busy")
    assert window.kernels_model.get("py_kernel").pid

    buttons = window.apps_view.buttons("web")
    qtbot.mouseClick(buttons["stop"], Qt.MouseButton.LeftButton)
    wait(qtbot, window, lambda: row(window).state == "stopped", 30_000)
    wait(qtbot, window, lambda: port_is_free(port), 10_000)
    assert get(url)[0] == 599

    qtbot.mouseClick(buttons["start"], Qt.MouseButton.LeftButton)
    wait(qtbot, window, lambda: row(window).state == "running", 30_000)
    wait(qtbot, window, serves(url, "v1"), 30_000)
    assert row(window).elapsed_ms is not None

    # the threaded toggle restarts the running app in the other mode; it still serves
    m = window.apps_model
    assert not row(window).threaded
    m.setData(m.index(m.row_of("web"), AppsModel.THREADED), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    wait(qtbot, window, lambda: window.session.apps["web"].threaded and row(window).state == "running"
                    and row(window).threaded, 30_000)
    wait(qtbot, window, serves(url, "v1"), 30_000)
    reply = run(window.session.execute(
        "py_kernel",
        "import threading; sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())"))
    threads_text = reply["result"] or ""
    m.setData(m.index(m.row_of("web"), AppsModel.THREADED), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    wait(qtbot, window, lambda: not window.session.apps["web"].threaded and row(window).state == "running"
                    and not row(window).threaded, 30_000)
    wait(qtbot, window, serves(url, "v1"), 30_000)

    # (the console tab itself is tested in test_console_real.py)
    assert "[" in threads_text, threads_text  # the result came back while threaded

    # quitting stops everything and leaves no process
    pids = kernel_processes()
    assert pids
    window.close()
    assert not window.closed  # the first close only starts the shutdown
    wait(qtbot, window, lambda: window.closed, 60_000)
    assert window.session is None
    deadline = time.monotonic() + 10
    while kernel_processes() and time.monotonic() < deadline:
        qtbot.wait(100)
    assert kernel_processes() == []
    assert port_is_free(port)


def test_auto_reload_checkbox(window, run, project, qtbot, tmp_path):
    port = free_port()
    path = project(port)
    url = f"http://127.0.0.1:{port}/"
    assert run(window.open_config(str(path)), 90_000)
    wait(qtbot, window, serves(url, "v1"), 60_000)
    wait(qtbot, window, lambda: row(window).auto_reload, 10_000)
    web_py = tmp_path / "proj" / "web.py"

    web_py.write_text(PLAIN_APP.replace('MESSAGE = "v1"', 'MESSAGE = "v2"'))
    wait(qtbot, window, serves(url, "v2"), 30_000)

    m = window.apps_model
    m.setData(m.index(m.row_of("web"), AppsModel.AUTO), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert not window.session.apps["web"].auto_reload
    web_py.write_text(PLAIN_APP.replace('MESSAGE = "v1"', 'MESSAGE = "v3"'))
    qtbot.wait(2500)
    assert get(url) == (200, "v2")
    # remembered for this config
    assert window.settings.app_toggles(str(path), "web") == {"auto_reload": False}
    # on again: the next save is served
    m.setData(m.index(m.row_of("web"), AppsModel.AUTO), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    web_py.write_text(PLAIN_APP.replace('MESSAGE = "v1"', 'MESSAGE = "v4"'))
    wait(qtbot, window, serves(url, "v4"), 30_000)


def test_live_reload_checkbox_reaches_the_kernel(window, run, project, qtbot):
    port = free_port()
    path = project(port, watchdog=False)
    script = f"http://127.0.0.1:{port}/__tornado_launcher__/live.js"
    assert run(window.open_config(str(path)), 90_000)
    wait(qtbot, window, serves(f"http://127.0.0.1:{port}/", "v1"), 60_000)
    assert not row(window).live_reload and get(script)[0] == 404  # off unless asked
    m = window.apps_model
    m.setData(m.index(m.row_of("web"), AppsModel.LIVE), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    wait(qtbot, window, lambda: get(script)[0] == 200, 10_000)  # the running app serves it, no restart
    assert window.session.apps["web"].live_reload and row(window).live_reload
    assert window.settings.app_toggles(str(path), "web") == {"live_reload": True}


def test_killed_kernel_shows_dead_then_comes_back(window, run, project, qtbot):
    port = free_port()
    path = project(port, watchdog=False)
    url = f"http://127.0.0.1:{port}/"
    assert run(window.open_config(str(path)), 90_000)
    wait(qtbot, window, serves(url, "v1"), 60_000)
    seen = []
    window.session.subscribe(lambda e: isinstance(e, KernelState) and seen.append(e.state))
    shown = []
    window.kernels_model.dataChanged.connect(lambda *a: shown.append(window.kernels_model.get("py_kernel").state))
    pid = window.kernels_model.get("py_kernel").pid
    os.kill(pid, signal.SIGKILL)
    wait(qtbot, window, lambda: "dead" in shown, 30_000)
    wait(qtbot, window, lambda: window.kernels_model.get("py_kernel").state == "idle"
                    and window.kernels_model.get("py_kernel").pid not in (None, pid), 60_000)
    wait(qtbot, window, lambda: row(window).state == "running", 60_000)
    wait(qtbot, window, serves(url, "v1"), 30_000)
    # the session said so too: dead, then back up (what the model rendered above)
    assert "dead" in seen and "idle" in seen[seen.index("dead"):], seen
    # the kernel's log says what happened
    klog = window.kernel_log("py_kernel")
    window.tabs.setCurrentWidget(klog)
    wait(qtbot, window, lambda: "restarting the kernel" in klog.plain_text(), 5000)


def test_bad_config_shows_its_line_and_a_bad_reread_keeps_serving(window, run, project, qtbot, tmp_path):
    bad = tmp_path / "bad.hcl"
    bad.write_text('kernel "py_kernel" {}\n\napp "web" {\n'
                   '  class = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "nope"\n}\n')
    assert not run(window.open_config(str(bad)))
    assert window.stack.currentIndex() == window.ERROR
    msgs = window.error_page.messages
    assert msgs and any(m.startswith(f"{bad}:") for m in msgs), msgs
    line = int(msgs[0].split(":")[1])
    assert line in (3, 5), msgs  # the app block or its kernel line
    assert window.error_page.open_buttons
    snippet = window.error_page.snippets[0]
    assert f">{line} |" in snippet, snippet  # the offending line is quoted

    port = free_port()
    path = project(port, watchdog=False)
    url = f"http://127.0.0.1:{port}/"
    assert run(window.open_config(str(path)), 90_000)
    wait(qtbot, window, serves(url, "v1"), 60_000)
    good = path.read_text()
    path.write_text(good + '\napp "broken" {\n  class = \n}\n')
    assert not run(window.reread_config())
    assert window.banner.isVisible()
    assert window.banner.messages and window.banner.messages[0].startswith(f"{path}:")
    assert get(url) == (200, "v1")
    assert row(window).state == "running"


def test_process_block_is_listed_and_driven_like_an_app(window, run, qtbot, tmp_path):
    import sys

    port = free_port()
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "index.html").write_text("front end")
    write_project(tmp_path, {"jaffle.hcl": f'''
        process "frontend" {{
          command = "{sys.executable} -m http.server {port} --bind 127.0.0.1 --directory static"
        }}
        '''})
    url = f"http://127.0.0.1:{port}/index.html"
    assert run(window.open_config(str(tmp_path / "jaffle.hcl")), 90_000)
    wait(qtbot, window, lambda: row(window, "frontend") and row(window, "frontend").state == "running", 30_000)
    wait(qtbot, window, serves(url, "front end"), 30_000)
    buttons = window.apps_view.buttons("frontend")
    qtbot.mouseClick(buttons["stop"], Qt.MouseButton.LeftButton)
    wait(qtbot, window, lambda: row(window, "frontend").state == "stopped", 30_000)
    wait(qtbot, window, lambda: port_is_free(port), 10_000)
    qtbot.mouseClick(buttons["start"], Qt.MouseButton.LeftButton)
    wait(qtbot, window, serves(url, "front end"), 30_000)
    # its output has a log view of its own
    window.merged.flush(force=True)
    wait(qtbot, window, lambda: "GET /index.html" in window.merged.plain_text(), 10_000)


def test_command_line_overlays_and_variables_apply_to_their_config(run, qtbot, qloop, settings, tmp_path):
    """`tornado-launcher base.hcl local.hcl --variables threaded=true` in the window."""
    from tornado_launcher.gui.app import _loader_for

    base_port, local_port = free_port(), free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": f'''
        variable "threaded" {{ default = false }}
        kernel "py_kernel" {{}}
        app "web" {{
          class  = "jaffle.app.tornado.TornadoBridgeApp"
          kernel = "py_kernel"
          options {{
            app_class = "proj.web.App"
            argv      = ["--port={base_port}"]
            threaded  = "${{var.threaded}}"
          }}
        }}
        ''', "local.hcl": f'''
        app "web" {{
          options {{
            argv = ["--port={local_port}"]
          }}
        }}
        '''})
    loader = _loader_for(str(tmp_path / "jaffle.hcl"), [str(tmp_path / "local.hcl")], {"threaded": "true"})
    w = MainWindow(settings, loader=loader)
    w.show()
    try:
        assert run(w.open_config(str(tmp_path / "jaffle.hcl")), 90_000)
        wait(qtbot, w, lambda: row(w) and row(w).state == "running", 60_000)
        assert row(w).threaded
        wait(qtbot, w, serves(f"http://127.0.0.1:{local_port}/", "v1"), 30_000)
        assert port_is_free(base_port)
    finally:
        w.close()
        qtbot.waitUntil(lambda: w.closed, timeout=60_000)
        w.deleteLater()


def test_not_responding_badge_and_interrupt_for_a_blocked_handler_and_a_stopped_kernel(window, run, project,
                                                                                        qtbot, tmp_path):
    """Issue 13 items 2 and 3 in the window: a handler spinning on the kernel's loop turns the
    app's badge to "not responding" with where it is stuck; the app row's Interrupt ends it (the
    request gets a 500) and the app serves again; a SIGSTOPped kernel's badge says so until SIGCONT."""
    import threading

    port = free_port()
    path = project(port, watchdog=False)
    (tmp_path / "proj" / "web.py").write_text(HANG_APP)
    url = f"http://127.0.0.1:{port}/"
    assert run(window.open_config(str(path)), 90_000)
    wait(qtbot, window, lambda: row(window) and row(window).state == "running", 60_000)
    wait(qtbot, window, serves(url, "v1"), 30_000)
    buttons = window.apps_view.buttons("web")
    assert not buttons["interrupt"].isEnabled()

    spun = {}
    t = threading.Thread(target=lambda: spun.setdefault("reply", get(url + "spin?seconds=40")), daemon=True)
    t0 = time.monotonic()
    t.start()
    where = f"proj/web.py:{line_of(HANG_APP, 'while time.monotonic() < end:')} in get"
    wait(qtbot, window, lambda: row(window).state == "not responding", 10_000)
    assert time.monotonic() - t0 < 4
    m = window.apps_model
    status = m.index(m.row_of("web"), AppsModel.STATUS)
    assert m.data(status) == "not responding"
    assert where in m.data(status, Qt.ItemDataRole.ToolTipRole)
    assert where in m.data(m.index(m.row_of("web"), AppsModel.URL))  # why, at a glance
    assert buttons["interrupt"].isEnabled()
    qtbot.mouseClick(buttons["interrupt"], Qt.MouseButton.LeftButton)
    wait(qtbot, window, lambda: "reply" in spun, 10_000)
    assert spun["reply"][0] == 500
    wait(qtbot, window, lambda: row(window).state == "running", 10_000)
    wait(qtbot, window, serves(url, "v1"), 10_000)
    assert not buttons["interrupt"].isEnabled()

    kernels = window.kernels_model
    pid = kernels.get("py_kernel").pid
    os.kill(pid, signal.SIGSTOP)
    try:
        wait(qtbot, window, lambda: kernels.get("py_kernel").state == "not responding", 10_000)
        kstatus = kernels.index(kernels.row_of("py_kernel"), 1)
        assert kernels.data(kstatus) == "not responding"
        assert f"kernel process {pid} is stopped" in kernels.data(kstatus, Qt.ItemDataRole.ToolTipRole)
        wait(qtbot, window, lambda: row(window).state == "not responding", 5_000)
    finally:
        os.kill(pid, signal.SIGCONT)
    wait(qtbot, window, lambda: kernels.get("py_kernel").state in ("idle", "busy"), 10_000)
    wait(qtbot, window, lambda: row(window).state == "running", 10_000)
    wait(qtbot, window, serves(url, "v1"), 10_000)
