"""Open folder (issue 23) in the real window: real detection, real kernels, real HTTP.

The folder holds apps written as people write them (tests/zeroconf_apps.py),
no jaffle.hcl; the window finds them, shows the jaffle.hcl for them, and
runs them with or without writing it.  Only the OS folder picker is
replaced (a native dialog cannot be driven here).
"""

from __future__ import annotations

import urllib.request

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog

from tests import zeroconf_apps
from tests.helpers import free_port

pytestmark = pytest.mark.timeout(180)


def get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def _dialog(qtbot, window):
    qtbot.waitUntil(lambda: window.folder_dialog is not None and window.folder_dialog.isVisible(), timeout=30_000)
    return window.folder_dialog


def test_open_folder_from_the_welcome_page_runs_without_writing(qtbot, window, tmp_path, monkeypatch):
    sp, fp = free_port(), free_port()
    root = zeroconf_apps.project(tmp_path / "proj", script_port=sp, factory_port=fp)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", staticmethod(lambda *a, **k: str(root)))
    qtbot.mouseClick(window.welcome.folder_button, Qt.MouseButton.LeftButton)
    dialog = _dialog(qtbot, window)
    assert dialog.apps.count() == 2, dialog.plan
    text = dialog.preview.toPlainText()
    assert 'script = "server.py"' in text and f'"--port={sp}"' in text
    assert 'app_class = "webapp:make_app"' in text and f"port = {fp}" in text
    assert dialog.write_button.isEnabled() and not dialog.open_button.isVisible()
    qtbot.mouseClick(dialog.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: get(f"http://127.0.0.1:{sp}/") == "script v1"
                    and get(f"http://127.0.0.1:{fp}/") == "factory v1", timeout=90_000)
    assert not (root / "jaffle.hcl").exists()
    assert window.windowTitle().startswith("proj/jaffle.hcl (no config file)")
    assert window.session is not None and set(window.session.apps) == {"server", "webapp"}
    # reload on save, as a written config would
    (root / "handlers.py").write_text(zeroconf_apps.HANDLERS.replace("factory v1", "factory v2"))
    qtbot.waitUntil(lambda: get(f"http://127.0.0.1:{fp}/") == "factory v2", timeout=60_000)


def test_open_folder_writes_the_config_and_runs_it(qtbot, window, run, tmp_path):
    mp = free_port()
    root = zeroconf_apps.project(tmp_path / "proj", main_port=mp)
    task = window.spawn(window.open_folder(str(root)), "open folder")
    dialog = _dialog(qtbot, window)
    assert dialog.apps.count() == 1 and "syncapp:main" in dialog.apps.item(0).text()
    qtbot.mouseClick(dialog.write_button, Qt.MouseButton.LeftButton)
    assert run(task, 90_000) == "write"
    qtbot.waitUntil(lambda: get(f"http://127.0.0.1:{mp}/") == "main v1", timeout=90_000)
    from tornado_launcher.config import load

    config = load(str(root / "jaffle.hcl"))  # what `check` reads
    assert config.apps["syncapp"].main == "syncapp:main"
    assert window.config_path == str(root / "jaffle.hcl")
    # a second Open folder offers the file there, never writes over it
    task = window.spawn(window.open_folder(str(root)), "open folder")
    dialog = _dialog(qtbot, window)
    assert dialog.open_button.isVisible() and not dialog.write_button.isEnabled()
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    assert run(task) is None


def test_dropping_a_py_file_shows_that_app(qtbot, window, tmp_path):
    root = zeroconf_apps.project(tmp_path / "proj", script_port=free_port(), main_port=free_port())
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(root / "server.py"))])
    drop = QDropEvent(QPoint(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    window.dropEvent(drop)
    dialog = _dialog(qtbot, window)
    assert dialog.apps.count() == 1 and dialog.apps.item(0).text().startswith("server: server.py")
    qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.folder_dialog is None)
    assert window.session is None


def test_a_folder_without_apps_says_what_to_do(qtbot, window, tmp_path):
    (tmp_path / "notes.py").write_text("print('hello')\n")
    window.spawn(window.open_folder(str(tmp_path)), "open folder")
    dialog = _dialog(qtbot, window)
    assert "no Tornado app found" in dialog.title.text()
    assert not dialog.run_button.isEnabled() and not dialog.write_button.isEnabled()
    dialog.reject()
