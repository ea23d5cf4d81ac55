"""The main window against FakeSession: what it calls and what it shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from tests.gui.fake_session import FakeSession, fake_config, tornado_app, watchdog_app
from tornado_launcher.config import ConfigError, Diagnostic, load
from tornado_launcher.gui.apps import AppsModel
from tornado_launcher.gui.window import MainWindow


@pytest.fixture
def project(tmp_path):
    """Config files whose text says what the fake loader returns."""
    def write(name="jaffle.hcl", apps=("web", "api"), error_line=None):
        p = tmp_path / name
        p.write_text(f"apps={','.join(apps)}\nerror={error_line or ''}\n")
        return p
    return write


def fake_loader(path):
    """A real ``Config`` (or the real ``ConfigError``) from the short text ``project`` writes."""
    if not Path(path).is_file():
        return load(path)  # the real loader's own answer: a ConfigError naming the file
    text = Path(path).read_text()
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    if fields.get("error"):
        raise ConfigError([Diagnostic(str(path), int(fields["error"]), 3, "unknown key 'prot': did you mean 'port'?")])
    apps = [tornado_app(n, 8000 + i) for i, n in enumerate(a for a in fields["apps"].split(",") if a)]
    apps.append(watchdog_app("watcher"))
    return fake_config(path, apps)


@pytest.fixture
def window(qtbot, qloop, settings):
    sessions = []

    def factory(config, auto_reload=True):
        s = FakeSession(config, auto_reload=auto_reload)
        sessions.append(s)
        return s

    w = MainWindow(settings, loader=fake_loader, session_factory=factory)
    w.sessions = sessions
    w.show()
    yield w
    # not qtbot.addWidget: pytest-qt would delete the window before this
    # teardown could let it shut its session down
    if not w.closed:
        w.close()
        qtbot.waitUntil(lambda: w.closed, timeout=10_000)
    w.deleteLater()


def states(w):
    return {r.name: r.state for r in w.apps_model.rows}


def test_welcome_page_first(window):
    assert window.stack.currentIndex() == window.WELCOME
    assert not window.start_all_action.isEnabled()


def test_open_config_starts_kernels_and_apps(window, run, project, qtbot):
    path = project()
    assert run(window.open_config(str(path)))
    s = window.sessions[-1]
    assert ("start",) in s.calls
    assert window.stack.currentIndex() == window.SESSION
    assert states(window) == {"web": "running", "api": "running", "watcher": "running"}
    row = window.apps_model.get("web")
    assert row.urls == ("http://127.0.0.1:8000/",) and row.elapsed_ms == 7.0
    assert window.kernels_model.get("py").state == "idle"
    # tabs: All, one per app, one per kernel, a console per kernel
    titles = [window.tabs.tabText(i) for i in range(window.tabs.count())]
    assert titles[0] == "All" and "web" in titles and "kernel: py" in titles and "console: py" in titles
    qtbot.waitUntil(lambda: "[web] web listening" in window.merged.plain_text(), timeout=5000)
    web_log = window.log_views[("app", "web")]
    assert web_log.pending == 1 and web_log.plain_text() == ""  # hidden: drawn when shown
    window.tabs.setCurrentWidget(web_log)
    qtbot.waitUntil(lambda: "web listening on port 8000" in web_log.plain_text(), timeout=5000)
    assert window.settings.recent_configs()[0] == str(path.resolve())


def test_buttons_call_the_session(window, run, project, qtbot):
    run(window.open_config(str(project())))
    s = window.sessions[-1]
    b = window.apps_view.buttons("web")
    assert not b["start"].isEnabled() and b["stop"].isEnabled()
    qtbot.mouseClick(b["stop"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: states(window)["web"] == "stopped", timeout=5000)
    assert ("stop_app", "web") in s.calls
    assert window.apps_model.get("web").urls == ()
    assert b["start"].isEnabled()
    qtbot.mouseClick(b["start"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: states(window)["web"] == "running", timeout=5000)
    qtbot.mouseClick(b["restart"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ("restart_app", "web") in s.calls, timeout=5000)
    kb = window.kernels_view.buttons("py")
    qtbot.mouseClick(kb["restart"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ("restart_kernel", "py") in s.calls, timeout=5000)
    qtbot.waitUntil(lambda: window.kernels_model.get("py").state == "idle", timeout=5000)
    qtbot.mouseClick(kb["interrupt"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: ("interrupt_kernel", "py") in s.calls, timeout=5000)


def test_toolbar_actions_and_shortcuts(window, run, project, qtbot):
    run(window.open_config(str(project())))
    s = window.sessions[-1]
    shortcuts = {a.shortcut().toString() for a in window.actions()}
    assert {"Ctrl+O", "Ctrl+R", "Ctrl+Shift+R", "Ctrl+Q"} <= shortcuts
    window.stop_all_action.trigger()
    qtbot.waitUntil(lambda: ("stop_all",) in s.calls, timeout=5000)
    window.start_all_action.trigger()
    qtbot.waitUntil(lambda: ("start_all",) in s.calls, timeout=5000)
    window.restart_all_action.trigger()
    qtbot.waitUntil(lambda: ("restart_all",) in s.calls, timeout=5000)
    window.apps_view.selectRow(window.apps_model.row_of("api"))
    window.restart_selected_action.trigger()
    qtbot.waitUntil(lambda: ("restart_app", "api") in s.calls, timeout=5000)


def test_url_click_opens_browser(window, run, project, qtbot, opened):
    run(window.open_config(str(project())))
    row = window.apps_model.row_of("web")
    index = window.apps_model.index(row, AppsModel.URL)
    rect = window.apps_view.visualRect(index)
    qtbot.mouseClick(window.apps_view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert ("http://127.0.0.1:8000/", None) in opened


def test_toggles_call_session_and_are_remembered_per_config(window, run, project, qtbot, settings):
    path = project()
    run(window.open_config(str(path)))
    s = window.sessions[-1]
    m = window.apps_model
    m.setData(m.index(m.row_of("web"), AppsModel.THREADED), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    qtbot.waitUntil(lambda: ("set_threaded", "web", True) in s.calls, timeout=5000)
    qtbot.waitUntil(lambda: ("restart_app", "web") in s.calls, timeout=5000)  # running: restarted in the other mode
    m.setData(m.index(m.row_of("api"), AppsModel.AUTO), Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert ("set_auto_reload", "api", False) in s.calls
    m.setData(m.index(m.row_of("web"), AppsModel.LIVE), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    qtbot.waitUntil(lambda: ("set_live_reload", "web", True) in s.calls, timeout=5000)
    assert m.data(m.index(m.row_of("web"), AppsModel.LIVE), Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    # a watchdog app has no threaded or live-reload toggle
    for col in (AppsModel.THREADED, AppsModel.LIVE):
        assert not (m.flags(m.index(m.row_of("watcher"), col)) & Qt.ItemFlag.ItemIsUserCheckable)
    assert settings.app_toggles(str(path), "web") == {"threaded": True, "live_reload": True}
    # reopening the same config restores both toggles; another config does not get them
    run(window.open_config(str(path)))
    s2 = window.sessions[-1]
    assert s2 is not s and s.shut_down
    assert ("set_threaded", "web", True) in s2.calls and ("set_auto_reload", "api", False) in s2.calls
    assert s2.calls.index(("set_threaded", "web", True)) < s2.calls.index(("start",))
    assert s2.calls.index(("set_live_reload", "web", True)) < s2.calls.index(("start",))
    assert m.get("web").threaded and not m.get("api").auto_reload and m.get("web").live_reload
    other = project("other.hcl")
    run(window.open_config(str(other)))
    assert not any(c[0] == "set_threaded" for c in window.sessions[-1].calls)


def test_config_error_page_shows_file_line_and_opens_editor(window, run, project, qtbot, opened):
    path = project(error_line=7)
    assert not run(window.open_config(str(path)))
    assert window.stack.currentIndex() == window.ERROR
    page = window.error_page
    assert page.messages == [f"{path.resolve()}:7:3: unknown key 'prot': did you mean 'port'?"]
    assert "could not be loaded" in page.title.text()
    qtbot.mouseClick(page.open_buttons[0], Qt.MouseButton.LeftButton)
    assert opened == [(str(path.resolve()), 7)]
    # fix the file, re-read from the error page
    project()
    qtbot.mouseClick(page.retry_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.stack.currentIndex() == window.SESSION, timeout=5000)


def test_bad_reread_keeps_the_session_running(window, run, project, qtbot):
    path = project()
    run(window.open_config(str(path)))
    s = window.sessions[-1]
    project(error_line=2)
    assert not run(window.reread_config())
    assert window.session is s and not s.shut_down
    assert window.banner.isVisible()
    assert "keep running" in window.banner.title.text()
    assert window.banner.messages[0].startswith(f"{path.resolve()}:2:3:")
    assert states(window)["web"] == "running"
    # fixed: adds an app without touching the others
    project(apps=("web", "api", "admin"))
    assert run(window.reread_config())
    assert not window.banner.isVisible()
    assert ("apply_config",) in s.calls
    qtbot.waitUntil(lambda: states(window).get("admin") == "running", timeout=5000)
    assert "admin" in [window.tabs.tabText(i) for i in range(window.tabs.count())]
    project(apps=("web",))
    assert run(window.reread_config())
    qtbot.waitUntil(lambda: "api" not in states(window), timeout=5000)


def test_missing_file_is_an_error_not_a_crash(window, run, tmp_path):
    assert not run(window.open_config(str(tmp_path / "nope.hcl")))
    assert "no such file" in window.error_page.messages[0]


def test_window_does_not_import_qtconsole_until_a_console_is_shown():
    # qtconsole (with IPython, pygments) costs window startup a few hundred ms:
    # the console tab builds it on demand (gui/console_tab.py).
    import os
    import subprocess
    import sys

    code = ("import sys; import tornado_launcher.gui.window; "
            "print(sorted(m for m in ('qtconsole', 'IPython', 'pygments') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]"


def test_console_tab_is_a_jupyter_console_that_takes_the_keyboard(window, run, project, qtbot):
    from qtconsole.rich_jupyter_widget import RichJupyterWidget

    run(window.open_config(str(project())))
    if not window.isVisible():  # the console is built only once its tab is shown or asked for
        assert not window.consoles["py"].built
    window.kernel_action("py", "console")
    tab = window.consoles["py"]
    assert window.tabs.currentWidget() is tab
    c = tab.console
    assert isinstance(c, RichJupyterWidget)
    qtbot.waitUntil(lambda: c._control.hasFocus() or not window.isActiveWindow(), timeout=5000)
    # the fake's kernel has no connection file: the console waits, unattached, without error
    assert c.attached is None and c.kernel_client is None and not window.errors


def test_notification_only_when_not_focused(window, run, project, qtbot, monkeypatch):
    run(window.open_config(str(project())))
    s = window.sessions[-1]
    monkeypatch.setattr(window, "isActiveWindow", lambda: True)
    monkeypatch.setattr("PySide6.QtGui.QGuiApplication.applicationState",
                        staticmethod(lambda: Qt.ApplicationState.ApplicationActive))
    s._set_app("web", "failed", reason="boom")
    assert window.notifications == []
    monkeypatch.setattr(window, "isActiveWindow", lambda: False)
    s._set_app("api", "failed", reason="ImportError: no module named x")
    s._set_kernel("py", "dead", reason="killed by signal 9")
    assert window.notifications == [("api failed", "ImportError: no module named x"),
                                    ("kernel py died", "killed by signal 9")]
    assert window.kernels_model.get("py").state == "dead"
    assert window.apps_model.get("api").state == "failed"


def _drag_and_drop(window, path):
    """Drag ``path`` over the window and drop it; returns whether the drag was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                            Qt.KeyboardModifier.NoModifier)
    window.dragEnterEvent(enter)
    drop = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                      Qt.KeyboardModifier.NoModifier)
    drop.setAccepted(False)
    window.dropEvent(drop)
    assert drop.isAccepted() == enter.isAccepted()
    return enter.isAccepted()


def test_drop_hcl_opens_it(window, project, qtbot, tmp_path):
    readme = tmp_path / "readme.txt"
    readme.write_text("apps=web\n")  # loadable by the fake loader: only the suffix refuses it
    assert not _drag_and_drop(window, readme)
    qtbot.wait(100)
    assert window.sessions == [] and window.stack.currentIndex() == window.WELCOME
    path = project()
    assert _drag_and_drop(window, path)
    qtbot.waitUntil(lambda: window.session is not None and states(window).get("web") == "running", timeout=5000)
    assert window.config_path == str(path.resolve()) and len(window.sessions) == 1


def test_recent_menu_and_welcome_after_close(window, run, project, qtbot):
    a, b = project("a.hcl"), project("b.hcl")
    run(window.open_config(str(a)))
    run(window.open_config(str(b)))
    window._fill_recent_menu()
    texts = [act.text() for act in window.recent_menu.actions() if act.text()]
    assert texts[:2] == [str(b.resolve()), str(a.resolve())]
    run(window.close_config())
    assert window.stack.currentIndex() == window.WELCOME
    assert window.welcome.recent_paths()[:2] == [str(b.resolve()), str(a.resolve())]
    assert window.sessions[-1].shut_down


def test_quit_stops_everything_first(window, run, project, qtbot):
    run(window.open_config(str(project())))
    s = window.sessions[-1]
    FakeSession.delay = 0.3
    try:
        window.close()
        assert window.isVisible() and not window.closed  # first close is ignored...
        assert window.progress.isVisible()  # ...while a progress indication shows
        assert "Stopping" in window.statusBar().currentMessage()
        qtbot.waitUntil(lambda: window.closed, timeout=10_000)
    finally:
        FakeSession.delay = 0.01
    assert s.shut_down and not window.isVisible()


def test_geometry_is_remembered(qtbot, qloop, settings):
    w = MainWindow(settings, loader=fake_loader, session_factory=FakeSession)
    qtbot.addWidget(w)
    w.show()
    w.resize(701, 503)  # the offscreen screen is 800x600
    w.close()
    qtbot.waitUntil(lambda: w.closed, timeout=5000)
    w2 = MainWindow(settings, loader=fake_loader, session_factory=FakeSession)
    qtbot.addWidget(w2)
    assert (w2.width(), w2.height()) == (701, 503)


def test_stale_and_failed_say_why(window, run, project, qtbot):
    run(window.open_config(str(project())))
    s = window.sessions[-1]
    m = window.apps_model
    s._set_app("web", "stale", reason="SyntaxError: invalid syntax (handlers.py, line 3)")
    i = m.row_of("web")
    assert m.data(m.index(i, AppsModel.STATUS)) == "stale: serving old code"
    # stale still serves: its URL stays the link, the reason is in the tooltip
    assert m.data(m.index(i, AppsModel.URL)) == "http://127.0.0.1:8000/"
    assert "SyntaxError" in m.data(m.index(i, AppsModel.STATUS), Qt.ItemDataRole.ToolTipRole)
    s._set_app("api", "failed", reason="ImportError: No module named 'x'\nmore")
    j = m.row_of("api")
    assert m.data(m.index(j, AppsModel.URL)) == "ImportError: No module named 'x'"
    assert window.apps_view.buttons("api")["start"].isEnabled()
    s._set_kernel("py", "dead", reason="killed by signal 9")
    km = window.kernels_model
    from tornado_launcher.gui.apps import KernelsModel
    assert km.data(km.index(0, KernelsModel.STATUS)) == "dead"
    assert km.data(km.index(0, KernelsModel.PID)) == "killed by signal 9"


def test_two_quick_opens_give_one_session_at_a_time(window, run, project, qtbot):
    a, b = project("a.hcl"), project("b.hcl")
    t1 = window.spawn(window.open_config(str(a)))
    t2 = window.spawn(window.open_config(str(b)))
    qtbot.waitUntil(lambda: t1.done() and t2.done(), timeout=10_000)
    first, second = window.sessions
    assert first.shut_down and not second.shut_down
    assert window.session is second and window.config_path == str(b.resolve())
