"""Apps as they are written (issue 10), through the real Session: one small app per style
(tests/integration/entry_apps), real kernels, real HTTP on 127.0.0.1, both modes.

One kernel holds every style at once, so the tests also prove that apps of different
styles do not disturb each other (two of them `define("port")` at import).
"""

import asyncio
import json
import shutil
import time
from pathlib import Path

import pytest

from tests.helpers import fetch, free_port, port_is_free, running_session, wait_http
from tornado_launcher.engine.events import AppState, LogRecord

APPS = Path(__file__).parent / "entry_apps"
pytestmark = pytest.mark.timeout(240)

#: name -> (file the app's code is in, options block lines, expected body with {port})
STYLES = {
    "async_main": ("eapps/async_options.py",
                   'main = "eapps.async_options:main"\n    argv = ["--port={port}", "--label=opt"]',
                   "{v} opt {port}"),
    "async_script": ("eapps/async_options.py",
                     'script = "eapps/async_options.py"\n    argv = ["--port={port}", "--label=scr"]',
                     "{v} scr {port}"),
    "sync_main": ("eapps/sync_ioloop.py", 'main = "eapps.sync_ioloop.main"\n    argv = ["--port={port}"]', "{v} sync"),
    "factory": ("eapps/factory.py", 'app_class = "eapps.factory.make_app"\n    port = {port}', "{v} factory"),
    "subclass": ("eapps/subclass.py", 'app_class = "eapps.subclass.WebApp"\n    port = {port}', "{v} subclass"),
    "instance": ("eapps/instance.py", 'app_class = "eapps.instance.application"\n    port = {port}', "{v} instance"),
    "script": ("server.py", 'script = "server.py"\n    argv = ["{port}"]', "{v} script helper"),
    "traitlets": ("eapps/traitlets_async.py",
                  'app_class = "eapps.traitlets_async.WebApp"\n    argv = ["--port={port}"]',
                  "{v} traitlets"),
}


def project(tmp_path, names, threaded=False):
    """The entry apps and a jaffle.hcl running ``names``; returns (config path, {name: port})."""
    root = tmp_path / "project"
    shutil.copytree(APPS, root, ignore=shutil.ignore_patterns("__pycache__"))
    ports = {name: free_port() for name in names}
    blocks = ['kernel "k" {}\n']
    for name in names:
        options = STYLES[name][1].format(port=ports[name])
        blocks.append(f'app "{name}" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
                      f'  start  = "{name}.start()"\n  options {{\n    {options}\n'
                      f'    threaded = {"true" if threaded else "false"}\n  }}\n}}\n')
    (root / "jaffle.hcl").write_text("\n".join(blocks))
    return root / "jaffle.hcl", ports


def url(port):
    return f"http://127.0.0.1:{port}/"


def expected(name, ports, v="v1"):
    return STYLES[name][2].format(v=v, port=ports[name])


def edit(root, name, v):
    path = root / STYLES[name][0]
    text = path.read_text()
    path.write_text(text.replace('VERSION = "v1"', f'VERSION = "{v}"').replace('VERSION = "v2"', f'VERSION = "{v}"'))


async def all_running(rec, names, start=0):
    for name in names:
        await rec.wait(lambda e, n=name: isinstance(e, AppState) and e.app == n and e.state == "running",
                       start=start)


async def census(s):
    out = await s.execute("k", "import os as __o, threading as __t, asyncio as __a, json as __j\n"
                               "print(__j.dumps([len(__o.listdir('/proc/self/fd')), __t.active_count(), "
                               "len(__a.all_tasks())]))")
    assert out["status"] == "ok", out
    return json.loads(out["stdout"].strip().splitlines()[-1])


async def test_every_style_serves_restarts_and_stops_in_both_modes(tmp_path):
    names = list(STYLES)
    config, ports = project(tmp_path, names)
    root = config.parent
    async with running_session(config, auto_reload=False) as (s, rec):
        await all_running(rec, names)
        for name in names:
            assert s.apps[name].urls == (url(ports[name]),), (name, s.apps[name].urls)
        # logging.basicConfig(force=True) + logging.info at import time: in each app's own log
        for name in ("async_main", "async_script"):
            await rec.wait(lambda e, n=name: isinstance(e, LogRecord) and e.app == n
                           and e.message == "async_options v1 imported")
        assert not any(e.app is None and "imported" in e.message for e in rec.events if isinstance(e, LogRecord))
        for version, threaded in (("v2", False), ("v3", True)):
            if threaded:  # the window's threaded toggle: each app moves to its own thread and loop
                for name in names:
                    await asyncio.wait_for(s.set_threaded(name, True), 20)
                assert all(s.apps[n].threaded and s.apps[n].state == "running" for n in names)
            for name in names:
                assert await fetch(url(ports[name])) == (200, expected(name, ports, "v1" if version == "v2" else "v2"))
            for name in names:
                edit(root, name, version)
            for name in names:  # Restart: purge, re-import, start; the edit is served at once
                await s.restart_app(name)
                assert s.apps[name].state == "running", (name, s.apps[name])
                for _ in range(3):  # nothing of the old app answers any more
                    assert await fetch(url(ports[name])) == (200, expected(name, ports, version)), name
            for name in names:  # Stop frees the port; Start serves again
                await s.stop_app(name)
                assert s.apps[name].state == "stopped"
                assert port_is_free(ports[name]), name
                await s.start_app(name)
                assert await fetch(url(ports[name])) == (200, expected(name, ports, version)), name
        # the two apps that both define("port") kept their own options in both modes
        assert await fetch(url(ports["async_main"])) == (200, expected("async_main", ports, "v3"))
        assert await fetch(url(ports["async_script"])) == (200, expected("async_script", ports, "v3"))


async def test_fifty_start_stop_cycles_leave_nothing_behind_in_both_modes(tmp_path):
    # one at a time: Session.stop_all's concurrent cells can hang a kernel (see the report of issue 10)
    names = list(STYLES)
    config, ports = project(tmp_path, names)
    async with running_session(config, auto_reload=False) as (s, rec):
        await all_running(rec, names)
        for threaded in (False, True):
            if threaded:
                for name in names:
                    await asyncio.wait_for(s.set_threaded(name, True), 20)
            base = None
            for i in range(50):
                for name in names:
                    await asyncio.wait_for(s.stop_app(name), 20)
                    assert port_is_free(ports[name]), (i, name)
                if i == 1:
                    base = await census(s)  # after a round: lazy imports and singletons are done
                elif i > 1 and (i % 10 == 9 or i == 49):
                    now = await census(s)
                    assert now[1] <= base[1] and now[2] <= base[2], (threaded, i, base, now)
                    # ipykernel closes the zmq pipe of a thread that wrote to stdout/stderr up to
                    # 10 s after the thread ended (IOPubThread._event_pipe_gc; traitlets' log
                    # handler writes to stderr): threaded fds are counted once that has run; in
                    # shared mode a contract app's start() runs on a main thread of its own too
                    # (mainthread.ContractMain), so its fds are counted once that gc has run
                    deadline = time.monotonic() + 15
                    while not threaded and now[0] > base[0] + 2 and time.monotonic() < deadline:
                        await asyncio.sleep(0.5)
                        now = await census(s)
                    assert threaded or now[0] <= base[0] + 2, (i, base, now)
                for name in names:
                    await asyncio.wait_for(s.start_app(name), 20)
                    assert s.apps[name].state == "running", (i, s.apps[name])
            for name in names:
                assert await fetch(url(ports[name])) == (200, expected(name, ports)), name
            if threaded:
                for name in names:
                    await asyncio.wait_for(s.stop_app(name), 20)
                await asyncio.sleep(11)
                now = await census(s)
                assert now[0] <= base[0] + 2, (base, now)


async def test_saves_reload_the_script_and_the_factory_in_both_modes(tmp_path):
    names = ["async_script", "factory"]
    config, ports = project(tmp_path, names)
    root = config.parent
    async with running_session(config) as (s, rec):
        await all_running(rec, names)
        assert all(s.apps[n].auto_reload for n in names)
        for version, threaded in (("v2", False), ("v3", True)):
            if threaded:
                for name in names:
                    await asyncio.wait_for(s.set_threaded(name, True), 20)
            for name in names:  # a real save of the app's own file
                edit(root, name, version)
                await wait_http(url(ports[name]), expected(name, ports, version), timeout=20)


async def test_an_app_that_ends_on_its_own_is_reported(tmp_path):
    root = tmp_path / "project"
    shutil.copytree(APPS, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "eapps" / "ends.py").write_text(
        "import asyncio\nimport tornado.web\n\n"
        "async def serve_then_return():\n"
        "    tornado.web.Application([]).listen(int(__import__('sys').argv[1]), address='127.0.0.1')\n"
        "    await asyncio.sleep(0.3)\n\n"
        "async def serve_then_raise():\n"
        "    tornado.web.Application([]).listen(int(__import__('sys').argv[1]), address='127.0.0.1')\n"
        "    await asyncio.sleep(0.3)\n"
        "    raise RuntimeError('the database is gone')\n\n"
        "def return_at_once():\n    return 0\n")
    ports = [free_port(), free_port()]
    apps = [("returns", "eapps.ends:serve_then_return", ports[0]), ("raises", "eapps.ends:serve_then_raise", ports[1]),
            ("never", "eapps.ends:return_at_once", 0)]
    blocks = ['kernel "k" {}\n'] + [
        f'app "{n}" {{\n  class = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n  start = "{n}.start()"\n'
        f'  options {{\n    main = "{m}"\n    argv = ["{p}"]\n  }}\n}}\n' for n, m, p in apps]
    (root / "jaffle.hcl").write_text("\n".join(blocks))
    async with running_session(root / "jaffle.hcl", auto_reload=False) as (s, rec):
        await rec.wait(lambda e: isinstance(e, AppState) and e.app == "returns" and e.state == "running")
        ended = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "returns" and e.state == "stopped"
                               and e.reason is not None)
        assert ended.reason == "main() returned"
        assert port_is_free(ports[0])
        failed = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "raises" and e.state == "failed")
        assert "the database is gone" in failed.reason
        assert port_is_free(ports[1])
        never = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "never" and e.state == "failed")
        assert "without serving" in never.reason
        assert any("the database is gone" in m for m in rec.logs("raises"))
        # Start again after it ended: it serves again (restart in place works on an ended app)
        await s.start_app("returns")
        assert s.apps["returns"].state in ("running", "stopped")


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
async def test_a_broken_save_keeps_the_old_app_serving_with_its_options(tmp_path, threaded):
    config, ports = project(tmp_path, ["async_main"], threaded=threaded)
    path = config.parent / STYLES["async_main"][0]
    async with running_session(config, auto_reload=False) as (s, rec):
        await all_running(rec, ["async_main"])
        path.write_text(path.read_text() + "\ndef broken(:\n")
        st = await s.restart_app("async_main")
        assert st.state == "running" and st.reason, st  # "serving old code"
        # the old run's tornado.options (port, label) are still its own after the failed start
        assert await fetch(url(ports["async_main"])) == (200, expected("async_main", ports))
        path.write_text(path.read_text().replace("\ndef broken(:\n", "").replace('VERSION = "v1"', 'VERSION = "v2"'))
        await s.restart_app("async_main")
        assert await fetch(url(ports["async_main"])) == (200, expected("async_main", ports, "v2"))
