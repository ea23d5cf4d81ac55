"""The engine end to end: config -> Session -> real kernels -> real HTTP.

Each test writes a real project to a tmp dir, starts a Session on it (real
IPython kernels over IPC), and talks to the apps over loopback.
"""

import asyncio
import os
import signal
import time
from contextlib import asynccontextmanager

from helpers import (
    PLAIN_APP,
    copy_demo,
    fetch,
    free_port,
    plain_project,
    port_is_free,
    running_session,
    wait_http,
    web_app_hcl,
    write_project,
)

from tornado_launcher import bridge
from tornado_launcher.engine.events import AppState, KernelState, LogRecord


def two_apps_hcl(p1: int, p2: int, threaded2: bool = True) -> str:
    return f'''
    kernel "py_kernel" {{}}

    app "shared_app" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "py_kernel"
      start  = "shared_app.start()"
      logger {{ level = "info" }}
      options {{
        app_class = "proj.web.App"
        argv      = ["--port={p1}", "--label=one"]
        threaded  = false
      }}
    }}

    app "threaded_app" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "py_kernel"
      start  = "threaded_app.start()"
      options {{
        app_class = "proj.web.App"
        args      = ["--port={p2}", "--label=two"]
        threaded  = {"true" if threaded2 else "false"}
      }}
    }}
    '''


def running(app):
    return lambda e: isinstance(e, AppState) and e.app == app and e.state == "running"


def state_is(app, state):
    return lambda e: isinstance(e, AppState) and e.app == app and e.state == state


def two_apps_project(tmp_path, p1: int, p2: int):
    """proj/web.py (PLAIN_APP) and a jaffle.hcl with a shared and a threaded app on p1, p2."""
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                             "jaffle.hcl": two_apps_hcl(p1, p2)})
    return tmp_path / "jaffle.hcl"


@asynccontextmanager
async def two_apps_running(tmp_path):
    """A session on two_apps_project with both apps serving: yields (session, recorder, p1, p2)."""
    p1, p2 = free_port(), free_port()
    async with running_session(two_apps_project(tmp_path, p1, p2), auto_reload=False) as (s, rec):
        await rec.wait(running("shared_app"))
        await rec.wait(running("threaded_app"))
        yield s, rec, p1, p2


async def test_both_modes_serve_and_logs_stay_apart(tmp_path, monkeypatch):
    # the bridge goes in as several cells here, as a bridge past one cell's budget would
    monkeypatch.setattr(bridge, "CELL_BUDGET", 8000)
    assert len(bridge.install_cells({"kernel": "k", "project_dir": str(tmp_path)})) > 2
    async with two_apps_running(tmp_path) as (s, rec, p1, p2):
        assert s.apps["shared_app"].threaded is False
        assert s.apps["threaded_app"].threaded is True
        assert s.apps["shared_app"].urls == (f"http://127.0.0.1:{p1}/",)
        for _ in range(3):
            assert await fetch(f"http://127.0.0.1:{p1}/") == (200, "v1")
            assert await fetch(f"http://127.0.0.1:{p2}/") == (200, "v1")
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "threaded_app"
                       and "printed by two" in e.message)
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "shared_app"
                       and "printed by one" in e.message)
        one, two = rec.logs("shared_app"), rec.logs("threaded_app")
        assert any("hello from one" in m for m in one)
        assert any("hello from two" in m for m in two)
        assert not any("two" in m and ("hello" in m or "printed" in m) for m in one)
        assert not any("one" in m and ("hello" in m or "printed" in m) for m in two)
        # Tornado's access log reaches the app that served the request
        assert any("GET /" in m for m in one) and any("GET /" in m for m in two)


async def test_stop_frees_port_and_kernel_keeps_running_then_start_again(tmp_path):
    async with two_apps_running(tmp_path) as (s, rec, p1, p2):
        for name, port in (("shared_app", p1), ("threaded_app", p2)):
            st = await s.stop_app(name)
            assert st is not None and st.state == "stopped"
            assert port_is_free(port), f"{name} still holds {port}"
            assert (await fetch(f"http://127.0.0.1:{port}/", timeout=2))[0] == 599
        out = await s.execute("py_kernel", "print(6 * 7)")
        assert out["status"] == "ok" and out["stdout"].strip() == "42"
        st = await s.start_app("shared_app")
        assert st.state == "running"
        assert await fetch(f"http://127.0.0.1:{p1}/") == (200, "v1")


async def test_restart_after_edit_serves_new_code_and_failed_start_recovers(tmp_path):
    web = tmp_path / "proj" / "web.py"
    async with two_apps_running(tmp_path) as (s, rec, p1, p2):
        # same size, same second: a stale .pyc would serve the old text
        for version in ("v2", "v3"):
            web.write_text(PLAIN_APP.replace('MESSAGE = "v1"', f'MESSAGE = "{version}"'))
            for name, port in (("shared_app", p1), ("threaded_app", p2)):
                st = await s.restart_app(name)
                assert st.state == "running", st
                assert st.elapsed_ms is not None
                assert await fetch(f"http://127.0.0.1:{port}/") == (200, version)
        # a broken module: the restart's new code does not start, the old code keeps serving
        # ("serving old code", file:line named), the kernel and the other app stay up
        web.write_text(PLAIN_APP + "\nraise RuntimeError('boom at import')\n")
        st = await s.restart_app("shared_app")
        assert st.state == "running" and (st.reason or "").startswith("serving old code: proj/web.py:"), st
        assert "RuntimeError: boom at import" in st.reason
        assert s.apps["shared_app"].stale and s.app_state(s.apps["shared_app"]).state == "stale"
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "shared_app"
                       and e.level == "ERROR" and "boom at import" in (e.traceback or e.message))
        assert await fetch(f"http://127.0.0.1:{p1}/") == (200, "v3")
        assert await fetch(f"http://127.0.0.1:{p2}/") == (200, "v3")
        # fixed: the next restart serves
        web.write_text(PLAIN_APP.replace('MESSAGE = "v1"', 'MESSAGE = "fixed"'))
        st = await s.restart_app("shared_app")
        assert st.state == "running" and st.reason is None
        assert not s.apps["shared_app"].stale
        assert await fetch(f"http://127.0.0.1:{p1}/") == (200, "fixed")


async def test_port_in_use_is_a_failed_start_not_a_dead_kernel(tmp_path):
    import socket

    p1, p2 = free_port(), free_port()
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", p1))
    blocker.listen()
    try:
        async with running_session(two_apps_project(tmp_path, p1, p2), auto_reload=False) as (s, rec):
            failed = await rec.wait(state_is("shared_app", "failed"))
            assert "in use" in (failed.reason or "").lower()
            await rec.wait(running("threaded_app"))
            blocker.close()
            st = await s.start_app("shared_app")
            assert st.state == "running"
            assert await fetch(f"http://127.0.0.1:{p1}/") == (200, "v1")
    finally:
        blocker.close()


async def test_killed_kernel_comes_back_with_its_apps(tmp_path):
    async with two_apps_running(tmp_path) as (s, rec, p1, p2):
        pid = s.kernels["py_kernel"].pid
        mark = len(rec.events)
        t0 = time.monotonic()
        os.kill(pid, signal.SIGKILL)
        dead = await rec.wait(lambda e: isinstance(e, KernelState) and e.state == "dead", start=mark)
        assert time.monotonic() - t0 < 3.0, "death must be noticed within 3 s"
        assert "SIGKILL" in (dead.reason or "")
        await rec.wait(running("shared_app"), start=mark, timeout=60)
        await rec.wait(running("threaded_app"), start=mark, timeout=60)
        assert s.kernels["py_kernel"].pid != pid
        assert await fetch(f"http://127.0.0.1:{p1}/") == (200, "v1")
        assert await fetch(f"http://127.0.0.1:{p2}/") == (200, "v1")


async def test_crash_loop_guard_gives_up_and_says_why(tmp_path, monkeypatch):
    from tornado_launcher.engine import crashloop

    monkeypatch.setattr(crashloop, "MAX_RESTARTS", 1)
    p1, p2 = free_port(), free_port()
    async with running_session(two_apps_project(tmp_path, p1, p2), auto_reload=False) as (s, rec):
        await rec.wait(running("shared_app"))
        for round_ in range(2):
            mark = len(rec.events)
            os.kill(s.kernels["py_kernel"].pid, signal.SIGKILL)
            await rec.wait(lambda e: isinstance(e, KernelState) and e.state == "dead", start=mark)
            if round_ == 0:
                await rec.wait(running("shared_app"), start=mark, timeout=60)
        gave_up = await rec.wait(lambda e: isinstance(e, LogRecord) and "not restarting" in e.message)
        assert "Fix the cause" in gave_up.message


async def test_demo_serves_and_a_finished_cell_keeps_serving(tmp_path):
    """The bundled demo, and ipykernel#1510: no further cell, many requests."""
    web, api = free_port(), free_port()
    hcl = copy_demo(tmp_path / "demo", web, api)
    async with running_session(hcl) as (s, rec):
        await rec.wait(running("web"))
        await rec.wait(running("api"))
        assert s.apps["web"].auto_reload and s.apps["api"].auto_reload
        for port in (web, api):
            body = await wait_http(f"http://127.0.0.1:{port}/", "Hello from a Tornado app")
            assert "hits since the last restart" in body
        # The start cells have finished; nothing else is executed now.
        codes = await asyncio.gather(*(fetch(f"http://127.0.0.1:{web}/status") for _ in range(200)))
        assert all(c == 200 for c, _ in codes)
        codes = [await fetch(f"http://127.0.0.1:{api}/status") for _ in range(50)]
        assert all(c == 200 for c, _ in codes)


async def test_config_values_travel_as_data(tmp_path):
    """An argv full of quotes reaches the app intact and runs nothing."""
    p1 = free_port()
    evil = 'x"); import os; os.system("touch PWNED"); ("'
    evil_hcl = evil.replace('"', '\\"')
    write_project(tmp_path, {
        "proj/__init__.py": "",
        "proj/web.py": PLAIN_APP.replace('self.write(MESSAGE)', 'self.write(self.application.label)'),
        "jaffle.hcl": f'''
        kernel "k" {{}}
        app "web" {{
          class  = "jaffle.app.tornado.TornadoBridgeApp"
          kernel = "k"
          options {{
            app_class = "proj.web.App"
            argv      = ["--port={p1}", "--label={evil_hcl}"]
          }}
        }}
        ''',
    })
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False) as (s, rec):
        await rec.wait(running("web"))
        assert await fetch(f"http://127.0.0.1:{p1}/") == (200, evil)
    assert not (tmp_path / "PWNED").exists()


async def test_unavailable_kernelspec_is_a_sentence(tmp_path):
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": '''
        kernel "k" { kernel_name = "no-such-kernel-xyz" }
        app "web" {
          class  = "jaffle.app.tornado.TornadoBridgeApp"
          kernel = "k"
          options { app_class = "proj.web.App" }
        }
        '''})
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False) as (s, rec):
        ev = await rec.wait(state_is("web", "failed"))
        assert "no-such-kernel-xyz" in ev.reason and "python =" in ev.reason


async def test_apply_config_restarts_only_what_changed(tmp_path):
    from tornado_launcher.config import load

    p1, p2, p3 = free_port(), free_port(), free_port()
    async with running_session(two_apps_project(tmp_path, p1, p2), auto_reload=False) as (s, rec):
        await rec.wait(running("shared_app"))
        await rec.wait(running("threaded_app"))
        pid = s.kernels["py_kernel"].pid
        # threaded_app changes port, shared_app stays, a third app appears
        text = two_apps_hcl(p1, p3) + f'''
        app "third" {{
          class  = "jaffle.app.tornado.TornadoBridgeApp"
          kernel = "py_kernel"
          options {{
            app_class = "proj.web.App"
            argv      = ["--port={p2}", "--label=three"]
          }}
        }}
        '''
        (tmp_path / "jaffle.hcl").write_text(text)
        mark = len(rec.events)
        await s.apply_config(load(tmp_path / "jaffle.hcl"))
        await rec.wait(running("third"), start=mark)
        assert await fetch(f"http://127.0.0.1:{p3}/") == (200, "v1")
        assert await fetch(f"http://127.0.0.1:{p2}/") == (200, "v1")
        assert await fetch(f"http://127.0.0.1:{p1}/") == (200, "v1")
        assert s.kernels["py_kernel"].pid == pid
        assert not [e for e in rec.events[mark:] if isinstance(e, AppState) and e.app == "shared_app"
                    and e.state in ("stopping", "stopped")]
        # removing an app stops it and frees its port
        (tmp_path / "jaffle.hcl").write_text(two_apps_hcl(p1, p3))
        await s.apply_config(load(tmp_path / "jaffle.hcl"))
        assert "third" not in s.apps
        assert port_is_free(p2)


async def test_kernel_is_private_ipc_and_raw_output_reaches_its_log(tmp_path):
    import json
    import stat

    write_project(tmp_path, {"jaffle.hcl": 'kernel "k" {}\n'})
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        runtime = s.kernel("k").runtime_dir
        assert stat.S_IMODE(os.stat(runtime).st_mode) & 0o777 == 0o700  # jupyter_client adds the sticky bit
        conn = os.path.join(runtime, "k.json")
        assert stat.S_IMODE(os.stat(conn).st_mode) == 0o600
        with open(conn) as f:
            info = json.load(f)
        assert info["transport"] == "ipc" and info["ip"].startswith(runtime)
        # output that bypasses iopub (C level, crash output) still reaches the kernel's log
        await s.execute("k", "import os; os.write(2, b'raw bytes on fd 2\\n')")
        raw = await rec.wait(lambda e: isinstance(e, LogRecord) and e.message == "raw bytes on fd 2")
        assert raw.app is None and raw.kernel == "k" and raw.origin == "raw"
        mark = len(rec.events)
        await s.execute("k", "import os; os.write(2, b'last words\\n'); os._exit(3)")
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.message == "last words", start=mark)
        dead = await rec.wait(lambda e: isinstance(e, KernelState) and e.state == "dead", start=mark)
        assert "exited with status 3" in dead.reason
        await rec.wait(lambda e: isinstance(e, KernelState) and e.state == "idle", start=mark)
    assert not os.path.exists(runtime)


async def test_top_level_logger_rules_apply_after_the_apps_own(tmp_path):
    p1 = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": f'''
        logger {{
          suppress_regex = ["printed by"]
          replace_regex  = [{{ from = "hello from (\\\\w+)", to = "greeting by \\\\1" }}]
        }}
        kernel "k" {{}}
        app "web" {{
          class  = "jaffle.app.tornado.TornadoBridgeApp"
          kernel = "k"
          logger {{
            replace_regex = [{{ from = "GET", to = "FETCH" }}]
          }}
          options {{
            app_class = "proj.web.App"
            argv      = ["--port={p1}", "--label=x"]
          }}
        }}
        '''})
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False) as (s, rec):
        await rec.wait(running("web"))
        assert await fetch(f"http://127.0.0.1:{p1}/") == (200, "v1")
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.message == "greeting by x")
        access = await rec.wait(lambda e: isinstance(e, LogRecord) and "FETCH / " in e.message)
        assert access.message.startswith("200 FETCH / ")  # only the matched part replaced
        assert not any("printed by" in m for m in rec.logs())


async def test_start_code_that_does_not_start_the_app_does_not_stall(tmp_path):
    p1 = free_port()
    plain_project(tmp_path, web_app_hcl(p1, start="print('not starting yet')"))
    t0 = time.monotonic()
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False) as (s, rec):
        assert time.monotonic() - t0 < 10
        assert s.apps["web"].state == "stopped"
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "web" and "not starting yet" in e.message)
        st = await s.start_app("web")
        assert st.state == "running"
        assert await fetch(f"http://127.0.0.1:{p1}/") == (200, "v1")


async def test_purge_cell_drops_a_package_and_its_submodules(tmp_path):
    """A WatchdogApp handler's clear_cache, through the bridge's own purge."""
    from tornado_launcher import bridge

    write_project(tmp_path, {"proj/__init__.py": "", "proj/sub.py": "X = 1\n", "other.py": "",
                             "jaffle.hcl": 'kernel "k" {}\n'})
    listing = "import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in ('proj', 'other')))"
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await s.execute("k", "import proj.sub, other")
        assert (await s.execute("k", listing))["stdout"].strip() == "['other', 'proj', 'proj.sub']"
        reply = await s.kernel("k").execute(bridge.purge_code(["proj"]))
        assert reply["status"] == "ok"
        assert (await s.execute("k", listing))["stdout"].strip() == "['other']"
