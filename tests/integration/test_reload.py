"""Auto-reload end to end: real files edited, real watchers, real kernels, real HTTP."""

import asyncio
import os
import re

from helpers import PLAIN_APP, fetch, free_port, plain_project, running_session, wait_http, web_app_hcl, write_project

from tornado_launcher.engine.events import AppState, LogRecord, ReloadEvent


def watchdog_hcl(port: int, *, threaded: bool = False, blocks=None, extra_handler: str = "") -> str:
    blocks = blocks or ['web.handle_watchdog_event({event})']
    code = ", ".join('"' + b.replace('"', '\\"') + '"' for b in blocks)
    return f'''
    kernel "py_kernel" {{}}

    app "watchdog" {{
      class  = "jaffle.app.watchdog.WatchdogApp"
      kernel = "py_kernel"
      options {{
        handlers = [
          {{
            patterns           = ["*.py"]
            ignore_patterns    = ["*/ignored/*"]
            ignore_directories = true
            code_blocks        = [{code}]
          }},{extra_handler}
        ]
      }}
    }}

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


def version(v: str) -> str:
    return PLAIN_APP.replace('MESSAGE = "v1"', f'MESSAGE = "{v}"')


def reloads(rec, outcome="done"):
    return [e for e in rec.events if isinstance(e, ReloadEvent) and e.outcome == outcome]


def is_running(app="web"):
    return lambda e: isinstance(e, AppState) and e.app == app and e.state == "running"


async def quiet(rec, seconds=0.6):
    """Let trailing events arrive; returns when nothing new came for `seconds`."""
    n = -1
    while n != len(rec.events):
        n = len(rec.events)
        await asyncio.sleep(seconds)


async def test_edit_is_served_in_both_modes(tmp_path):
    for threaded in (False, True):
        port = free_port()
        root = tmp_path / ("t" if threaded else "s")
        write_project(root, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                             "jaffle.hcl": watchdog_hcl(port, threaded=threaded)})
        async with running_session(root / "jaffle.hcl") as (s, rec):
            await rec.wait(is_running())
            assert s.apps["web"].auto_reload
            (root / "proj" / "web.py").write_text(version("edited"))
            await wait_http(f"http://127.0.0.1:{port}/", "edited", timeout=10)
            done = await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done")
            assert done.path.endswith("web.py") and done.elapsed_ms < 5000
            # says what it re-imported: the edited module is the app's own (proj.web), nothing else; and
            # why the default reload = "patch" did not patch it (MESSAGE is a module-level constant)
            assert any(re.fullmatch(r"reloaded proj/web\.py \(module-level statement changed \(line 6\)\): "
                                    r"re-imported 1 module; serving again in \d+ ms", m)
                       for m in rec.logs("web")), rec.logs("web")
            assert done.kind == "reloaded" and "re-imported 1 module" in done.detail


async def test_atomic_save_gives_one_reload(tmp_path):
    port = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                             "jaffle.hcl": watchdog_hcl(port)})
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(is_running())
        target = tmp_path / "proj" / "web.py"
        tmp = tmp_path / "proj" / ".web.py.tmp~"
        tmp.write_text(version("atomic"))
        os.replace(tmp, target)
        await wait_http(f"http://127.0.0.1:{port}/", "atomic", timeout=10)
        await quiet(rec)
        assert len(reloads(rec)) == 1, reloads(rec)


async def test_burst_of_twenty_writes_ends_in_at_most_two_reloads(tmp_path):
    port = free_port()
    files = {f"proj/mod{i}.py": f"X = {i}\n" for i in range(20)}
    files.update({"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": watchdog_hcl(port)})
    write_project(tmp_path, files)
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(is_running())
        for i in range(19):
            (tmp_path / "proj" / f"mod{i}.py").write_text(f"X = {i + 100}\n")
        (tmp_path / "proj" / "web.py").write_text(version("final"))
        await wait_http(f"http://127.0.0.1:{port}/", "final", timeout=10)
        await quiet(rec)
        assert 1 <= len(reloads(rec)) <= 2, reloads(rec)
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "final")


async def test_syntax_error_keeps_old_code_serving_until_fixed(tmp_path):
    port = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                             "jaffle.hcl": watchdog_hcl(port)})
    web = tmp_path / "proj" / "web.py"
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(is_running())
        web.write_text(PLAIN_APP + "\ndef broken(:\n")
        bad_line = (PLAIN_APP + "\ndef broken(:\n").count("\n")
        err = await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "web" and e.level == "ERROR")
        assert f"{web}:{bad_line}:" in err.message
        await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "stale")
        assert s.apps["web"].stale
        # the old version still serves
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
        n = len(rec.events)  # the new code answers HTTP a moment before its "running" arrives
        web.write_text(version("fixed"))
        await wait_http(f"http://127.0.0.1:{port}/", "fixed", timeout=10)
        await rec.wait(is_running(), start=n)
        assert not s.apps["web"].stale


async def test_failing_import_then_next_save_retries(tmp_path):
    port = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                             "jaffle.hcl": watchdog_hcl(port)})
    web = tmp_path / "proj" / "web.py"
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(is_running())
        bad = PLAIN_APP + "\nimport no_such_module_xyz\n"
        web.write_text(bad)
        # the old code keeps serving: "serving old code", the app's line names file:line and the import
        ev = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "stale")
        where = "proj/web.py:%d: ModuleNotFoundError: No module named 'no_such_module_xyz'" % bad.count("\n")
        assert ev.reason == "serving old code: " + where, ev.reason
        err = await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "web" and e.level == "ERROR")
        assert err.message == "restart failed, still serving the previous code: " + where
        assert str(web) in (err.traceback or ""), err.traceback
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
        n = len(rec.events)  # the new code answers HTTP a moment before its "running" arrives
        web.write_text(version("back"))
        await wait_http(f"http://127.0.0.1:{port}/", "back", timeout=10)
        await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "running", start=n)
        assert not s.apps["web"].stale


async def test_ignored_files_and_auto_reload_off_do_not_restart(tmp_path):
    port = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                             "proj/ignored/x.py": "", "jaffle.hcl": watchdog_hcl(port)})
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(is_running())
        (tmp_path / "proj" / "ignored" / "x.py").write_text("Y = 1\n")
        (tmp_path / "proj" / "notes.txt").write_text("not python\n")
        (tmp_path / "proj" / ".web.py.swp").write_text("swap\n")
        os.makedirs(tmp_path / "proj" / "__pycache__", exist_ok=True)
        (tmp_path / "proj" / "__pycache__" / "web.cpython-311.pyc").write_bytes(b"\0")
        await quiet(rec)
        assert not [e for e in rec.events if isinstance(e, ReloadEvent)]
        s.set_auto_reload("web", False)
        (tmp_path / "proj" / "web.py").write_text(version("should-not-serve"))
        await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "skipped")
        await quiet(rec)
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
        s.set_auto_reload("web", True)
        (tmp_path / "proj" / "web.py").write_text(version("on-again"))
        await wait_http(f"http://127.0.0.1:{port}/", "on-again", timeout=10)


async def test_failing_code_block_does_not_stop_the_next(tmp_path):
    port = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                             "jaffle.hcl": watchdog_hcl(port, blocks=[
                                 "skipped_app.handle_watchdog_event({event})",
                                 "print('saw', {event}['event_type'], {event}['src_path'].endswith('web.py'))",
                                 "web.handle_watchdog_event({event})",
                             ])})
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(is_running())
        (tmp_path / "proj" / "web.py").write_text(version("after-failure"))
        await wait_http(f"http://127.0.0.1:{port}/", "after-failure", timeout=10)
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.level == "ERROR"
                       and "skipped_app" in (e.message + (e.traceback or "")))
        await rec.wait(lambda e: isinstance(e, LogRecord) and "saw" in e.message and "True" in e.message)


async def test_no_watchdog_app_means_every_app_reloads_on_py_saves(tmp_path):
    port = free_port()
    plain_project(tmp_path, web_app_hcl(port))
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(is_running())
        assert s.apps["web"].auto_reload
        (tmp_path / "proj" / "web.py").write_text(version("implicit"))
        await wait_http(f"http://127.0.0.1:{port}/", "implicit", timeout=10)
    # --no-reload: off for all
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False) as (s, rec):
        await rec.wait(is_running())
        assert not s.apps["web"].auto_reload
