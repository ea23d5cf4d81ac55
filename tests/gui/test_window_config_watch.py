"""Config edits applied live in the window: the real window over a real
session, the config saved as editors save it (atomic rename), no F5 pressed."""

from __future__ import annotations

import os
import re

import pytest

from tests.gui.test_window_real import get, row, serves, wait
from tests.helpers import free_port, plain_project, port_is_free, web_app_hcl

pytestmark = pytest.mark.timeout(240)


def save(path, text: str) -> None:
    tmp = str(path) + ".tmp~"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def second_app(port: int) -> str:
    return (f'app "api" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
            f'  options {{\n    app_class = "proj.web.App"\n    argv      = ["--port={port}"]\n  }}\n}}\n')


def test_saved_edits_apply_and_a_broken_save_shows_in_the_banner(window, run, qtbot, tmp_path):
    p1, p2, p3 = free_port(), free_port(), free_port()
    path = plain_project(tmp_path, web_app_hcl(p1))
    assert run(window.open_config(str(path)), 90_000)
    wait(qtbot, window, serves(f"http://127.0.0.1:{p1}/", "v1"), 90_000)
    assert window.controller.config_watcher is not None

    # change an option (the port): the app restarts there, its row says so
    save(path, web_app_hcl(p2))
    wait(qtbot, window, serves(f"http://127.0.0.1:{p2}/", "v1"), 60_000)
    wait(qtbot, window, lambda: row(window).state == "running"
         and any(str(p2) in u for u in row(window).urls), 30_000)
    wait(qtbot, window, lambda: port_is_free(p1), 20_000)

    # break it: the banner names file:line:col, the app keeps serving
    save(path, web_app_hcl(p2) + 'app "broken" {\n  class = \n}\n')
    wait(qtbot, window, lambda: window.banner.isVisible() and bool(window.banner.messages), 30_000)
    assert re.match(re.escape(str(path)) + r":\d+:\d+: ", window.banner.messages[0]), window.banner.messages
    assert "keep running" in window.banner.title.text()
    assert get(f"http://127.0.0.1:{p2}/") == (200, "v1")
    assert row(window).state == "running"
    assert window.apps_model.get("broken") is None

    # fix it and add an app: the banner goes, the new app starts, the old one keeps serving
    save(path, web_app_hcl(p2) + second_app(p3))
    wait(qtbot, window, lambda: not window.banner.isVisible(), 30_000)
    wait(qtbot, window, lambda: window.apps_model.get("api") is not None, 30_000)
    wait(qtbot, window, serves(f"http://127.0.0.1:{p3}/", "v1"), 60_000)
    wait(qtbot, window, lambda: row(window, "api").state == "running", 30_000)
    assert get(f"http://127.0.0.1:{p2}/") == (200, "v1")
    wait(qtbot, window, lambda: ("app", "api") in window.log_views, 30_000)  # its log tab too
