"""WindowController without Qt: config lifecycle, diagnostics, toggle replay, dispatch.

Real config files read by the real loader; the session is tests/gui's
FakeSession (a SessionAPI over the real AppInfo/KernelInfo); the view is a
recorder of what the controller asked the window to show.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.gui.fake_session import FakeSession
from tests.helpers import free_port, plain_project, web_app_hcl
from tornado_launcher.config import ConfigError, load
from tornado_launcher.gui.controller import APP_ACTIONS, WindowController, default_loader, diagnostics_for

ROOT = Path(__file__).resolve().parents[2]


class View:
    """A WindowView that records each call as ``(name, *args)``."""

    def __init__(self) -> None:
        self.calls: list = []
        self.events: list = []

    def on_event(self, event):
        self.events.append(event)

    def _record(name):  # noqa: N805
        return lambda self, *args: self.calls.append((name, *args))

    show_error_page = _record("show_error_page")
    show_banner = _record("show_banner")
    hide_banner = _record("hide_banner")
    session_opened = _record("session_opened")
    session_closed = _record("session_closed")
    show_welcome = _record("show_welcome")
    sync_rows = _record("sync_rows")
    begin_busy = _record("begin_busy")
    end_busy = _record("end_busy")
    report_error = _record("report_error")

    def names(self):
        return [c[0] for c in self.calls]


class Store:
    """A ToggleStore in a dict (gui.settings.Settings in the window)."""

    def __init__(self) -> None:
        self.toggles: dict = {}
        self.recent: list = []

    def app_toggles(self, config_path, app):
        return dict(self.toggles.get((config_path, app), {}))

    def set_app_toggle(self, config_path, app, key, value):
        self.toggles.setdefault((config_path, app), {})[key] = value

    def add_recent_config(self, path):
        self.recent.insert(0, path)


@pytest.fixture
def project(tmp_path):
    return plain_project(tmp_path, web_app_hcl(free_port()))


@pytest.fixture
def ctl():
    sessions = []

    def factory(config, auto_reload=True):
        sessions.append(FakeSession(config, auto_reload=auto_reload))
        return sessions[-1]

    # no config watcher unless a test turns it on (and closes the session): each
    # test's loop ends with the test, and a watcher left behind keeps watchdog threads
    c = WindowController(View(), Store(), loader=default_loader, session_factory=factory, watch_config=False)
    c.sessions = sessions
    return c


def test_controller_imports_no_qt():
    code = ("import sys; sys.modules['PySide6'] = None\n"  # any Qt import now raises ImportError
            "import tornado_launcher.gui.controller\n"
            "assert not [m for m in sys.modules if m.startswith('PySide6') and sys.modules[m]], sys.modules\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)


async def test_a_bad_file_gives_the_loaders_diagnostics(ctl, tmp_path):
    bad = tmp_path / "bad.hcl"
    bad.write_text('kernel "k" {}\napp "web" {\n'
                   '  class = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "nope"\n}\n')
    config, diags = await ctl.load(str(bad))
    with pytest.raises(ConfigError) as raised:
        load(str(bad))
    assert config is None and diags == raised.value.diagnostics  # the very lines, file:line and fix
    assert diags[0].path == str(bad) and diags[0].line > 0
    config, diags = await ctl.load(str(tmp_path / "missing.hcl"))
    assert config is None and len(diags) == 1 and "no such file" in diags[0].message


async def test_a_loader_bug_is_one_sentence_naming_the_file(ctl, tmp_path):
    def broken(path):
        raise RuntimeError("boom")

    ctl.loader = broken
    config, diags = await ctl.load("/x/jaffle.hcl")
    assert config is None
    assert [str(d) for d in diags] == ["/x/jaffle.hcl: could not be read (RuntimeError: boom); "
                                       "please report this with the file"]
    empty = ConfigError([])
    assert [d.message for d in diagnostics_for("/x/jaffle.hcl", empty)] == [str(empty)]


async def test_open_starts_a_session_and_replays_the_toggles(ctl, project):
    path = str(project.resolve())
    ctl.store.set_app_toggle(path, "web", "threaded", True)
    ctl.store.set_app_toggle(path, "web", "auto_reload", False)
    ctl.store.set_app_toggle(path, "web", "live_reload", True)
    assert await ctl.open_config(str(project))
    s = ctl.sessions[-1]
    assert ctl.session is s and ctl.config_path == path and ctl.store.recent == [path]
    # the mode and live reload go in before the start (the app is created with them), auto-reload after it
    assert s.calls[:4] == [("set_live_reload", "web", True), ("set_threaded", "web", True), ("start",),
                           ("set_auto_reload", "web", False)]
    assert s.apps["web"].threaded and not s.apps["web"].auto_reload and s.apps["web"].live_reload
    names = ctl.view.names()
    assert names[:2] == ["session_opened", "begin_busy"] and names[-2:] == ["sync_rows", "end_busy"]
    assert ctl.view.events  # subscribed before the start: the view saw its events


async def test_no_replay_when_the_stored_value_is_what_the_session_has(ctl, project):
    path = str(project.resolve())
    ctl.store.set_app_toggle(path, "web", "auto_reload", True)  # FakeSession's first value too
    ctl.store.set_app_toggle(path, "web", "threaded", False)
    ctl.store.set_app_toggle(path, "web", "live_reload", False)  # the config's own value
    assert await ctl.open_config(str(project))
    assert ctl.sessions[-1].calls == [("start",)]


async def test_a_bad_open_shows_the_error_page_or_a_banner_over_the_running_session(ctl, project, tmp_path):
    bad = tmp_path / "bad.hcl"
    bad.write_text("kernel {\n")
    assert not await ctl.open_config(str(bad))
    assert ctl.session is None and ctl.config_path == str(bad)
    name, page_path, title, diags = ctl.view.calls[-1]
    assert (name, page_path) == ("show_error_page", str(bad)) and "could not be loaded" in title
    assert diags[0].path == str(bad)
    assert await ctl.open_config(str(project))
    s = ctl.session
    assert not await ctl.open_config(str(bad))
    name, title, _ = ctl.view.calls[-1]
    assert name == "show_banner" and "keep running the previous config" in title
    assert ctl.session is s and not s.shut_down and ctl.config_path == str(project.resolve())


async def test_reread_keeps_the_session_on_errors_and_applies_a_good_file(ctl, project):
    assert await ctl.open_config(str(project))
    s = ctl.session
    good = project.read_text()
    project.write_text(good + "app {\n")
    assert not await ctl.reread_config()
    assert ctl.view.calls[-1][0] == "show_banner" and "Fix the line below and save it again" in ctl.view.calls[-1][1]
    assert ctl.session is s and ("apply_config",) not in s.calls
    project.write_text(good)
    assert await ctl.reread_config()
    assert ("apply_config",) in s.calls and ctl.session is s
    assert ctl.view.names()[-4:] == ["hide_banner", "begin_busy", "sync_rows", "end_busy"]


async def test_actions_go_through_the_tables(ctl, project):
    assert ctl.app_action("web", "start") is None  # no session: nothing to call
    assert await ctl.all_action("restart") is None
    assert await ctl.open_config(str(project))
    s = ctl.session
    for action, method in (("stop", "stop_app"), ("start", "start_app"), ("restart", "restart_app")):
        await ctl.app_action("web", action)
        assert s.calls[-1] == (method, "web")
    for action, method in (("restart", "restart_kernel"), ("interrupt", "interrupt_kernel")):
        await ctl.kernel_action("k", action)
        assert s.calls[-1] == (method, "k")
    for action in ("stop", "start", "restart"):
        await ctl.all_action(action)
        assert s.calls[-1] == (f"{action}_all",)
    # an app row's Interrupt goes to the app's kernel (a handler blocking its loop)
    await ctl.app_action("web", "interrupt")
    assert s.calls[-1] == ("interrupt_kernel", s.apps["web"].kernel)
    assert set(APP_ACTIONS) == {"start", "stop", "restart", "interrupt"}
    with pytest.raises(KeyError):
        ctl.app_action("web", "explode")
    with pytest.raises(KeyError):
        ctl.kernel_action("k", "console")  # the window's own business, not a Session call
    assert ctl.connection_file("k") is None  # the fake's kernels have no connection file
    # a click queued before the session closed does nothing after it
    pending = ctl.app_action("web", "stop")
    await ctl.close_session()
    assert await pending is None and ("stop_app", "web") not in s.calls[-2:]
    assert ctl.connection_file("k") is None  # no session


async def test_a_toggle_is_remembered_and_sent(ctl, project):
    assert await ctl.open_config(str(project))
    s, path = ctl.session, str(project.resolve())
    assert ctl.set_toggle("web", "auto_reload", False) is None  # at once
    assert s.calls[-1] == ("set_auto_reload", "web", False)
    await ctl.set_toggle("web", "threaded", True)
    assert s.calls[-2:] == [("set_threaded", "web", True), ("restart_app", "web")]
    await ctl.set_toggle("web", "live_reload", True)  # a call into the kernel: awaited
    assert s.calls[-1] == ("set_live_reload", "web", True) and s.apps["web"].live_reload
    assert ctl.store.app_toggles(path, "web") == {"auto_reload": False, "threaded": True, "live_reload": True}
    with pytest.raises(KeyError):
        ctl.set_toggle("web", "colour", True)


async def test_close_config_stops_and_forgets(ctl, project):
    assert await ctl.open_config(str(project))
    s = ctl.session
    await ctl.close_config()
    assert s.shut_down and ctl.session is None and ctl.config_path is None
    assert s._subs == []  # unsubscribed
    assert ctl.view.names()[-4:] == ["begin_busy", "session_closed", "end_busy", "show_welcome"]
    ctl.closing = True  # the window is quitting: nothing opens any more
    assert not await ctl.open_config(str(project)) and not await ctl.reread_config()
    assert len(ctl.sessions) == 1


async def test_saved_edits_are_applied_live_and_a_bad_one_shows_the_banner(ctl, project):
    """The window's config watcher: real files, real watchdog, the F5 path."""
    import asyncio
    import os

    def save(text):
        tmp = str(project) + ".tmp~"
        Path(tmp).write_text(text)
        os.replace(tmp, project)

    async def until(pred, timeout=20.0):
        for _ in range(int(timeout / 0.05)):
            if pred():
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"not within {timeout} s; view calls: {ctl.view.calls[-6:]}")

    ctl.watch_config = True
    assert await ctl.open_config(str(project))
    s = ctl.session
    assert ctl.config_watcher is not None and ctl.config_watcher.paths == [str(project.resolve())]
    port = free_port()
    extra = ('app "api" {\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
             f'  options {{\n    app_class = "proj.web.App"\n    argv      = ["--port={port}"]\n  }}\n}}\n')
    base = project.read_text()
    save(base + extra)  # add an app
    await until(lambda: "api" in s.apps)
    assert ("apply_config",) in s.calls
    save(base.replace("proj.web.App", "proj.web.App2") + extra)  # change an option
    await until(lambda: s.config.apps["web"].options.get("app_class") == "proj.web.App2")
    save(base + extra + 'app "broken" {\n  class = \n}\n')  # break it: the banner, the session runs
    await until(lambda: "show_banner" in ctl.view.names())
    title, diags = ctl.view.calls[ctl.view.names().index("show_banner")][1:]
    assert diags and diags[0].line > 0 and diags[0].path.endswith("jaffle.hcl")
    assert ctl.session is s and "api" in s.apps
    n = s.calls.count(("apply_config",))
    save(base + extra)  # fix it
    await until(lambda: s.calls.count(("apply_config",)) == n + 1)
    assert ctl.view.names()[-3:].count("hide_banner") or "hide_banner" in ctl.view.names()
    await ctl.close_session()
    assert ctl.config_watcher is None
