"""Pure widget behaviour: ANSI, log views, settings, welcome page (no session)."""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QApplication

from tornado_launcher.engine.events import LogRecord
from tornado_launcher.gui import ansi
from tornado_launcher.gui.editor import editor_command
from tornado_launcher.gui.logview import LogHub, LogView
from tornado_launcher.gui.pages import WelcomePage


def rec(msg, level="INFO", app="web", tb=None):
    return LogRecord(kernel="py", app=app, level=level, message=msg, traceback=tb)


# -- ANSI -------------------------------------------------------------------
def test_ansi_sgr_to_styles():
    segs = ansi.parse("plain \x1b[1;31mbold red\x1b[0m \x1b[38;5;196mx\x1b[48;2;1;2;3my\x1b[39;49m z")
    assert [t for t, _ in segs] == ["plain ", "bold red", " ", "x", "y", " z"]
    assert segs[1][1].bold and segs[1][1].fg == 1
    assert segs[2][1] == ansi.PLAIN
    assert segs[3][1].fg == "#ff0000"
    assert segs[4][1].bg == "#010203"
    assert segs[5][1].fg is None and segs[5][1].bg is None


def test_ansi_drops_other_escapes_and_carriage_returns():
    assert ansi.strip("\x1b[2K\x1b]0;title\x07done\x1b[?25l") == "done"
    assert ansi.strip("10%\r50%\r100%\nnext\r\n") == "100%\nnext\n"
    assert ansi.strip("\x1b[91mbright\x1b[0m") == "bright"
    assert ansi.parse("\x1b[91mb")[0][1].fg == 9


def test_ansi_colors_are_rendered_as_formats(qtbot):
    v = LogView("t")
    qtbot.addWidget(v)
    v.append(rec("a \x1b[31mred\x1b[0m b"))
    v.flush(force=True)
    doc = v.text.document()
    assert v.plain_text().endswith("a red b")
    pos = v.plain_text().index("red") + 1
    c = QTextCursor(doc)
    c.setPosition(pos)
    color = c.charFormat().foreground().color().name()
    assert color == ansi.resolve(1, dark=False) or color == ansi.resolve(1, dark=True)


# -- log view ------------------------------------------------------------------
def test_log_batching_renders_only_on_flush(qtbot):
    v = LogView("t", max_lines=1000)
    qtbot.addWidget(v)
    v.show()
    hub = LogHub(50)
    hub.add(v)
    for i in range(100):
        v.append(rec(f"line {i}"))
    assert v.text.document().blockCount() <= 1 and v.pending == 100
    qtbot.waitUntil(lambda: "line 99" in v.plain_text(), timeout=2000)
    assert v.pending == 0
    assert v.text.document().blockCount() == 100
    hub.timer.stop()


def test_log_view_is_bounded_and_a_flood_stays_fast(qtbot):
    v = LogView("t", max_lines=2000, show_source=True)
    qtbot.addWidget(v)
    v.show()
    t0 = time.perf_counter()
    for i in range(50_000):
        v.append(rec(f"flood {i}"))
    v.flush()
    elapsed = time.perf_counter() - t0
    assert v.text.document().blockCount() <= 2000
    text = v.plain_text()
    assert "flood 49999" in text and "flood 100 " not in text + " "
    assert "older lines skipped" in text
    assert len(v._records) == 2000
    assert elapsed < 3.0
    # a steady stream stays bounded too
    for _ in range(5):
        for i in range(1000):
            v.append(rec(f"more {i}"))
        v.flush()
    assert v.text.document().blockCount() <= 2000


def test_hidden_view_defers_rendering_until_shown(qtbot):
    v = LogView("t")
    qtbot.addWidget(v)
    v.append(rec("queued"))
    assert v.flush() == 0 and v.pending == 1
    v.show()
    qtbot.waitUntil(lambda: "queued" in v.plain_text(), timeout=2000)


def test_level_colors_and_level_filter(qtbot):
    v = LogView("t")
    qtbot.addWidget(v)
    v.extend([rec("dbg", "DEBUG"), rec("inf"), rec("warn", "WARNING"), rec("err", "ERROR")])
    v.flush(force=True)
    assert all(w in v.plain_text() for w in ("dbg", "inf", "warn", "err"))
    v.level_combo.setCurrentIndex(v.level_combo.findData(30))
    assert v.min_level == 30
    text = v.plain_text()
    assert "warn" in text and "err" in text and "inf" not in text and "dbg" not in text
    v.append(rec("later info"))
    v.append(rec("later error", "ERROR"))
    v.flush(force=True)
    assert "later error" in v.plain_text() and "later info" not in v.plain_text()
    v.set_min_level(0)
    assert "later info" in v.plain_text()
    # the ERROR text is colored with the error color, INFO message is not
    c = QTextCursor(v.text.document())
    c.setPosition(v.plain_text().index("err") + 1)
    assert c.charFormat().foreground().color().name() in ("#cf222e", "#ff7b72")


def test_merged_view_prefixes_source(qtbot):
    v = LogView("all", show_source=True)
    qtbot.addWidget(v)
    v.append(rec("hello", app="api"))
    v.append(LogRecord(kernel="k2", app=None, level="INFO", message="raw", origin="raw"))
    v.flush(force=True)
    lines = v.plain_text().splitlines()
    assert "[api] hello" in lines[0] and "[k2] raw" in lines[1]


def test_traceback_paths_are_links_that_open_the_editor(qtbot, opened):
    v = LogView("t")
    qtbot.addWidget(v)
    v.resize(900, 400)
    v.show()
    tb = ('Traceback (most recent call last):\n'
          '  File "/srv/app/handlers.py", line 12, in get\n    boom()\nValueError: nope')
    v.append(rec("request failed", "ERROR", tb=tb))
    v.flush(force=True)
    text = v.plain_text()
    assert 'File "/srv/app/handlers.py", line 12' in text
    c = QTextCursor(v.text.document())
    c.setPosition(text.index("/srv/app") + 2)
    assert c.charFormat().anchorHref() == "file-line:12:/srv/app/handlers.py"
    rect = v.text.cursorRect(c)
    pos = rect.center()
    assert v.text.anchorAt(pos)
    qtbot.mouseClick(v.text.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    assert opened == [("/srv/app/handlers.py", 12)]


def test_search_finds_and_counts(qtbot):
    v = LogView("t")
    qtbot.addWidget(v)
    v.show()
    v.extend([rec("alpha"), rec("needle one"), rec("beta"), rec("NEEDLE two")])
    v.flush(force=True)
    qtbot.keyClick(v.text, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert v.find_bar.isVisible()
    assert v.find("needle")
    assert v.text.textCursor().selectedText().lower() == "needle"
    assert v.match_count == 2
    assert not v.following  # reading a match pauses following
    v.find_bar.case.setChecked(True)
    assert v.find("needle") and v.match_count == 1
    assert not v.find("absent")


def test_follow_pause_clear_copy_save(qtbot, tmp_path):
    v = LogView("t")
    qtbot.addWidget(v)
    v.resize(600, 200)
    v.show()
    v.extend([rec(f"l{i}") for i in range(500)])
    v.flush()
    sb = v.text.verticalScrollBar()
    assert sb.value() == sb.maximum() and v.following
    sb.setValue(0)  # the user scrolls up: follow pauses
    assert not v.following and not v.follow_button.isChecked()
    v.extend([rec(f"m{i}") for i in range(50)])
    v.flush()
    assert sb.value() == 0
    v.follow_button.setChecked(True)
    assert sb.value() == sb.maximum()
    v.copy()
    assert "m49" in QApplication.clipboard().text()
    out = tmp_path / "log.txt"
    v.save_to(str(out))
    assert "l0" in out.read_text() and "m49" in out.read_text()
    v.clear()
    assert v.plain_text() == "" and not v._records


# -- settings, recent files, welcome page -----------------------------------------
def test_recent_configs_order_dedupe_and_limit(settings, tmp_path):
    files = []
    for i in range(12):
        f = tmp_path / f"p{i}" / "jaffle.hcl"
        f.parent.mkdir()
        f.write_text("")
        files.append(f)
        settings.add_recent_config(str(f))
    settings.add_recent_config(str(files[3]))
    recent = settings.recent_configs()
    assert recent[0] == str(files[3].resolve())
    assert len(recent) == 10 and len(set(recent)) == 10
    assert settings.last_config() == str(files[3].resolve())
    files[11].unlink()
    assert str(files[11].resolve()) not in settings.recent_configs()
    settings.clear_recent_configs()
    assert settings.recent_configs() == []
    assert str(tmp_path) in settings.location


def test_per_config_toggles_are_separate(settings, tmp_path):
    a, b = tmp_path / "a.hcl", tmp_path / "b.hcl"
    settings.set_app_toggle(str(a), "web", "threaded", True)
    settings.set_app_toggle(str(b), "web", "auto_reload", False)
    settings.sync()
    from tornado_launcher.gui.settings import Settings
    again = Settings(settings.location)
    assert again.app_toggles(str(a), "web") == {"threaded": True}
    assert again.app_toggles(str(b), "web") == {"auto_reload": False}


def test_welcome_page_lists_recent_and_opens(qtbot, tmp_path):
    page = WelcomePage()
    qtbot.addWidget(page)
    page.show()
    f = tmp_path / "jaffle.hcl"
    f.write_text("")
    page.set_recent([str(f)])
    assert page.recent_paths() == [str(f)]
    with qtbot.waitSignal(page.open_requested) as sig:
        page.recent_list.itemClicked.emit(page.recent_list.item(0))
    assert sig.args == [str(f)]
    with qtbot.waitSignal(page.open_requested) as sig:
        qtbot.mouseClick(page.open_button, Qt.MouseButton.LeftButton)
    assert sig.args == [""]
    page.set_recent([])
    assert not page.recent_list.isVisible()


def test_demo_path_is_relative_to_the_package_or_bundle(monkeypatch, tmp_path):
    import sys
    from pathlib import Path

    import tornado_launcher
    from tornado_launcher.gui import paths
    assert paths.resources_dir().resolve() == Path(tornado_launcher.__file__).resolve().parent / "resources"
    assert paths.demo_config() is not None and paths.icon_file("tornado-launcher.svg") is not None
    (tmp_path / "tornado_launcher" / "resources" / "demo").mkdir(parents=True)
    (tmp_path / "tornado_launcher" / "resources" / "demo" / "jaffle.hcl").write_text("")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert paths.demo_config() == tmp_path / "tornado_launcher" / "resources" / "demo" / "jaffle.hcl"


def test_editor_command_uses_visual_or_editor():
    assert editor_command("/a.py", 12, env={}) is None
    assert editor_command("/a.py", 12, env={"EDITOR": "vim"}) == ["vim", "+12", "/a.py"]
    assert editor_command("/a.py", 12, env={"VISUAL": "code -w", "EDITOR": "vim"}) == [
        "code", "-w", "--goto", "/a.py:12"]
    assert editor_command("/a.py", None, env={"EDITOR": "gedit"}) == ["gedit", "/a.py"]


def test_dark_palette_switch_redraws_in_dark_colors(qtbot, qapp):
    from PySide6.QtGui import QColor, QPalette

    from tornado_launcher.gui import icons
    from tornado_launcher.gui.logview import is_dark

    v = LogView("t")
    qtbot.addWidget(v)
    v.show()
    v.append(rec("boom", "ERROR"))
    v.flush()
    light_color = _fg_at(v, "boom")
    old = qapp.palette()
    dark = QPalette(old)
    dark.setColor(QPalette.ColorRole.Base, QColor("#0d1117"))
    dark.setColor(QPalette.ColorRole.Window, QColor("#1f2328"))
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e6edf3"))
    try:
        qapp.setPalette(dark)
        qtbot.waitUntil(lambda: is_dark(v.palette()), timeout=2000)
        qtbot.waitUntil(lambda: _fg_at(v, "boom") == "#ff7b72", timeout=2000)
        assert light_color == "#cf222e"
        icons.clear_cache()
        img = icons.icon("restart").pixmap(24, 24).toImage()
        colors = {img.pixelColor(x, y).lightness() for x in range(24) for y in range(24)
                  if img.pixelColor(x, y).alpha() > 200}
        assert colors and max(colors) > 180  # drawn light on a dark theme
    finally:
        qapp.setPalette(old)
        icons.clear_cache()


def _fg_at(view, word):
    c = QTextCursor(view.text.document())
    c.setPosition(view.plain_text().index(word) + 1)
    return c.charFormat().foreground().color().name()


def test_max_lines_can_change(qtbot):
    v = LogView("t", max_lines=500)
    qtbot.addWidget(v)
    v.show()
    v.extend([rec(f"l{i}") for i in range(400)])
    v.flush()
    v.set_max_lines(100)
    v.extend([rec(f"m{i}") for i in range(50)])
    v.flush()
    assert v.text.document().blockCount() <= 100 and len(v._records) == 100


def test_open_demo_button_opens_the_bundled_demo(qtbot):
    from tornado_launcher.gui import paths

    page = WelcomePage()
    qtbot.addWidget(page)
    demo = paths.demo_config()
    assert demo is not None and demo.name == "jaffle.hcl" and demo.parent.name == "demo"
    assert page.demo_button.isEnabled()
    with qtbot.waitSignal(page.open_requested) as sig:
        qtbot.mouseClick(page.demo_button, Qt.MouseButton.LeftButton)
    assert sig.args == [str(demo)]


def test_file_open_event_opens_the_config(qtbot):
    """macOS: a double-clicked .hcl arrives as QFileOpenEvent."""
    from PySide6.QtGui import QFileOpenEvent
    from PySide6.QtWidgets import QApplication, QWidget

    from tornado_launcher.gui.app import FileOpenFilter

    opened = []

    class FakeWindow(QWidget):
        def open_config(self, path):
            return ("open", path)

        def spawn(self, job, what):
            opened.append((job, what))

    w = FakeWindow()
    qtbot.addWidget(w)
    f = FileOpenFilter(w)
    assert f.eventFilter(QApplication.instance(), QFileOpenEvent("/tmp/x/jaffle.hcl"))
    assert opened == [(("open", "/tmp/x/jaffle.hcl"), "open config")]


def test_last_restart_tooltip_names_what_was_reimported(qtbot):
    from tornado_launcher.engine.events import AppState
    from tornado_launcher.gui.apps import AppsModel

    m = AppsModel()
    reload = {"reimported": 3, "modules": ["acme.handlers", "acme.routes", "acme.app"], "purged": 3,
              "mode": "dependents", "note": None}
    m.update_from_event(AppState("web", "k", "running", elapsed_ms=12.0, urls=("http://127.0.0.1:1/",),
                                 reload=reload))
    tip = m.data(m.index(0, AppsModel.ELAPSED), Qt.ItemDataRole.ToolTipRole)
    assert "re-imported 3 modules: acme.handlers, acme.routes, acme.app" in tip
    full = dict(reload, mode="all", note="acme/data.json is not a Python module")
    m.update_from_event(AppState("web", "k", "running", elapsed_ms=40.0, reload=full))
    tip = m.data(m.index(0, AppsModel.ELAPSED), Qt.ItemDataRole.ToolTipRole)
    assert "all of them: acme/data.json is not a Python module" in tip


def test_reload_column_says_patched_or_why_it_reloaded(qtbot):
    from tornado_launcher.engine.events import AppState
    from tornado_launcher.gui.apps import AppsModel

    m = AppsModel()
    patched = {"kind": "patched", "mode": "patch", "patched": ["MainHandler.get", "EchoSocket.on_message"],
               "files": ["handlers.py"], "reimported": 0, "modules": [], "purged": 0, "note": None}
    m.update_from_event(AppState("web", "k", "running", elapsed_ms=2.0, urls=("http://127.0.0.1:1/",),
                                 reload=patched))
    cell = m.index(0, AppsModel.ELAPSED)
    assert m.data(cell, Qt.ItemDataRole.DisplayRole) == "patched 2 ms"
    tip = m.data(cell, Qt.ItemDataRole.ToolTipRole)
    assert "patched handlers.py: MainHandler.get, EchoSocket.on_message (state kept)" in tip
    fallback = {"kind": "reloaded", "fallback": "class attribute changed", "reimported": 3,
                "modules": ["acme.handlers", "acme.routes", "acme.app"], "purged": 3, "mode": "dependents",
                "note": None}
    m.update_from_event(AppState("web", "k", "running", elapsed_ms=12.0, reload=fallback))
    assert m.data(cell, Qt.ItemDataRole.DisplayRole) == "reloaded 12 ms"
    assert "reloaded (class attribute changed): re-imported 3 modules" in m.data(cell, Qt.ItemDataRole.ToolTipRole)
    m.update_from_event(AppState("web", "k", "running", elapsed_ms=30.0))  # a restart
    assert m.data(cell, Qt.ItemDataRole.DisplayRole) == "30 ms"
