"""The per-app process model, part 2 (issues 18.4, 18.5, 25.3, 25.4): child processes, sockets
however bound, listeners outside Tornado's HTTP server, process-wide state an app leaves behind.

Purpose-built misbehaving apps (tests/integration/process_apps/b_*.py), run through the real
Session in a real kernel, in both modes; every check is observable from outside (a pid gone,
a port free, a log line counted).
"""

import asyncio
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import fetch, free_port, port_is_free, running_session
from tornado_launcher.engine.events import AppState, LogRecord

APPS = Path(__file__).parent / "process_apps"
pytestmark = pytest.mark.timeout(240)
MODES = pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])


def project(tmp_path, apps, threaded):
    """A copy of process_apps and a jaffle.hcl with ``apps``: [(name, main, argv)]."""
    root = tmp_path / "project"
    shutil.copytree(APPS, root, ignore=shutil.ignore_patterns("__pycache__"))
    blocks = ['kernel "k" {}\n']
    for name, main, argv in apps:
        blocks.append(f'app "{name}" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
                      f'  start  = "{name}.start()"\n  options {{\n    main = "{main}"\n'
                      f'    argv = {json.dumps([str(a) for a in argv])}\n'
                      f'    threaded = {"true" if threaded else "false"}\n  }}\n}}\n')
    (root / "jaffle.hcl").write_text("\n".join(blocks))
    return root / "jaffle.hcl"


def alive(pid):
    """A process that runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def descendants(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    kids.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except OSError:
                pass
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def cmdline(pid, n=3):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [os.fsdecode(a) for a in f.read().split(b"\0")[:n]]
    except OSError:
        return None


async def wait_for(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout} s")
        await asyncio.sleep(0.05)


async def read_pids(pidfile):
    await wait_for(pidfile.exists, what="the app's pid file")
    return {api: int(pid) for api, pid in (line.split() for line in pidfile.read_text().splitlines())}


def url(port):
    return f"http://127.0.0.1:{port}/"


async def running(rec, name, start=0):
    return await rec.wait(lambda e: isinstance(e, AppState) and e.app == name and e.state == "running", start=start)


# -- 18.4 children are the app's
@MODES
async def test_children_are_stopped_with_the_app_and_never_outlive_the_kernel(tmp_path, threaded):
    port = free_port()
    pidfile = tmp_path / "pids"
    config = project(tmp_path, [("kids", "b_children:main", [port, pidfile])], threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        await running(rec, "kids")
        pids = await read_pids(pidfile)
        grandchildren = descendants(pids["shell"])
        assert grandchildren, "the shell's sleep runs"
        everything = list(pids.values()) + grandchildren
        assert all(alive(p) for p in everything)
        # a restart stops the old run's children
        pidfile.unlink()
        mark = len(rec.events)
        st = await s.restart_app("kids")
        assert st.state == "running", st
        new = await read_pids(pidfile)
        await wait_for(lambda: not any(alive(p) for p in everything), what="the old run's children gone")
        assert all(alive(p) for p in new.values())
        said = await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "kids" and "child process" in e.message,
                              start=mark)
        # the listed ones and os.system's shell ("sh"), still waiting in a thread of the app
        assert said.message.startswith("stopped %d child processes: " % (len(pids) + 1)), said
        for name, api in (("sleep", "popen"), ("bash", "shell"), ("sleep", "pty"), ("python", "fork")):
            assert "%s (pid %d)" % (name, pids[api]) in said.message, (api, said)
        assert " sh (pid " in said.message, said
        # a stop stops them too; nothing of it is an error
        st = await s.stop_app("kids")
        assert st.state == "stopped"
        assert not any(alive(p) for p in new.values()), [(k, p) for k, p in new.items() if alive(p)]
        # nothing else either (os.system's shell): the kernel's only children left are the guard
        # and multiprocessing's resource tracker (the kernel's: it ends with the kernel)
        left = [p for p in descendants(s.kernels["k"].pid) if alive(p) and "resource_tracker" not in str(cmdline(p, 4))]
        assert [cmdline(p) for p in left] == [[sys.executable, "-S", "-c"]] * len(left) and len(left) <= 1, \
            [(p, cmdline(p)) for p in left]
        errors = [e for e in rec.events[mark:] if isinstance(e, LogRecord) and e.level in ("ERROR", "CRITICAL")]
        assert not errors, errors
        assert not any("Unknown child process" in m or "Traceback" in m or "handles pid" in m
                       for m in rec.logs()), rec.logs()
        # started again, then the kernel is SIGKILLed: its children go with it
        pidfile.unlink()
        await s.start_app("kids")
        last = await read_pids(pidfile)
        kernel_pid = s.kernels["k"].pid
        last_all = list(last.values()) + descendants(last["shell"])
        os.kill(kernel_pid, signal.SIGKILL)
        await wait_for(lambda: not any(alive(p) for p in last_all), timeout=15,
                       what="the SIGKILLed kernel's children gone")


# -- 18.5 sockets, however bound
@MODES
async def test_sockets_bound_by_the_app_serve_restart_and_free_the_port(tmp_path, threaded):
    ports = {"bound": free_port(), "started": free_port(), "raw": free_port()}
    config = project(tmp_path, [(n, f"b_bind:{n}", [p]) for n, p in ports.items()], threaded)
    root = config.parent
    async with running_session(config, auto_reload=False) as (s, rec):
        for name, port in ports.items():
            await running(rec, name)
            assert s.apps[name].urls == (url(port),), s.apps[name]
            assert await fetch(url(port), timeout=5) == (200, f"v1 {name}")
        path = root / "b_bind.py"
        path.write_text(path.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        for name, port in ports.items():
            st = await s.restart_app(name)
            assert st.state == "running" and st.urls == (url(port),), st
            assert await fetch(url(port), timeout=5) == (200, f"v2 {name}")
            st = await s.stop_app(name)
            assert st.state == "stopped" and port_is_free(port), name


# -- 25.3 listeners outside Tornado's HTTP server
async def _echo(port, line=b"hi\n"):
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 5)
    writer.write(line)
    data = await asyncio.wait_for(reader.readline(), 5)
    writer.close()
    return data


@MODES
async def test_asyncio_listeners_are_handed_over_and_closed(tmp_path, threaded):
    http, echo, raw = free_port(), free_port(), free_port()
    config = project(tmp_path, [("lis", "b_listener:main", [http, echo, raw])], threaded)
    root = config.parent
    async with running_session(config, auto_reload=False) as (s, rec):
        await running(rec, "lis")
        assert await _echo(echo) == b"v1 hi\n"
        assert await _echo(raw) == b"raw v1\n"
        path = root / "b_listener.py"
        path.write_text(path.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        st = await s.restart_app("lis")
        assert st.state == "running" and not st.reason, st
        assert await _echo(echo) == b"v2 hi\n"
        assert await _echo(raw) == b"raw v2\n"
        st = await s.stop_app("lis")
        assert st.state == "stopped"
        for port in (http, echo, raw):
            assert port_is_free(port), port
        st = await s.start_app("lis")
        assert st.state == "running", st
        assert await _echo(echo) == b"v2 hi\n"


# -- 25.4 process-wide state an app leaves behind
PROBE = ("import json as _j, logging as _l, sys as _s, os as _o, threading as _t, warnings as _w\n"
         "print(_j.dumps([len(_l.getLogger().handlers), _l.getLogger('b_globals.noisy').level,"
         " _l.getLogger('b_globals.configured').level, len(_w.filters),"
         " _s.excepthook is _s.__excepthook__, _t.excepthook is _t.__excepthook__,"
         " '/nonexistent/b_globals' in _s.path, _o.environ.get('B_GLOBALS'), _o.environ.get('B_GLOBALS_ONCE')]))")


async def probe(s):
    out = await s.execute("k", PROBE)
    assert out["status"] == "ok", out
    return json.loads(out["stdout"].strip().splitlines()[-1])


@MODES
async def test_process_wide_state_is_undone_at_stop_and_does_not_leak(tmp_path, threaded):
    gport, lport = free_port(), free_port()
    config = project(tmp_path, [("logs", "b_logs:main", [lport])], threaded)
    text = config.read_text() + (
        'app "glob" {\n  class = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
        f'  options {{\n    main = "b_globals:main"\n    argv = ["{gport}"]\n'
        f'    threaded = {"true" if threaded else "false"}\n  }}\n}}\n')
    config.write_text(text)
    async with running_session(config, auto_reload=False) as (s, rec):
        await running(rec, "logs")
        await running(rec, "glob")
        await s.stop_app("glob")
        before = await probe(s)
        for _ in range(3):  # start, restart and stop the app that changes everything, three times
            st = await s.start_app("glob")
            assert st.state == "running", st
            changed = await probe(s)
            assert changed[0] == before[0] + 2 and changed[7:] == ["set", "1"], (before, changed)
            st = await s.restart_app("glob")
            assert st.state == "running", st
            # its own handlers once (not doubled by the restart, once the old run has ended: it
            # ends after the new one serves), and what only its first run set
            deadline = time.monotonic() + 10
            while await probe(s) != changed and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            assert await probe(s) == changed
            assert await fetch(url(gport)) == (200, "globals")
            st = await s.stop_app("glob")
            assert st.state == "stopped", st
        assert await probe(s) == before
        mark = len(rec.events)
        assert await fetch(url(lport) + "?n=once") == (200, "logs")
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "logs" and "b_logs served once" in e.message,
                       start=mark)
        await asyncio.sleep(0.5)
        lines = [e for e in rec.events[mark:] if isinstance(e, LogRecord) and "b_logs served once" in e.message]
        assert len(lines) == 1, lines
        assert not any("Event loop is closed" in m or "Logging error" in m for m in rec.logs()), \
            [m for m in rec.logs() if "Event loop is closed" in m or "Logging error" in m]


@MODES
async def test_a_handler_the_app_removed_itself_stays_removed_after_a_restart(tmp_path, threaded):
    """mitmweb's case: its handler (bound to its loop) added at start and removed by its own
    teardown; a restart then a stop must not put the first run's handler back on the root logger."""
    oport, lport = free_port(), free_port()
    config = project(tmp_path, [("logs", "b_logs:main", [lport]), ("own", "b_ownlog:main", [oport])], threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        await running(rec, "logs")
        await running(rec, "own")
        await s.stop_app("own")
        before = await probe(s)
        for _i in range(2):
            st = await s.start_app("own")
            assert st.state == "running", st
            assert (await probe(s))[0] == before[0] + 1
            st = await s.restart_app("own")
            assert st.state == "running", st
            assert await fetch(url(oport)) == (200, "ownlog")
            st = await s.stop_app("own")
            assert st.state == "stopped", st
            assert await probe(s) == before, "a handler of the app is left on the root logger"
        mark = len(rec.events)
        assert await fetch(url(lport) + "?n=after") == (200, "logs")
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "logs" and "b_logs served after" in e.message,
                       start=mark)
        assert not any("Event loop is closed" in m or "Logging error" in m for m in rec.logs()), \
            [m for m in rec.logs() if "Event loop is closed" in m or "Logging error" in m]


# -- 25.5 a start or restart reports success only once the app serves
@MODES
async def test_start_and_restart_report_running_once_the_app_serves(tmp_path, threaded):
    port = free_port()
    config = project(tmp_path, [("late", "b_late:main", [port, 1.0]), ("worker", "b_late:worker", [0, 0])], threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        first = await running(rec, "late")
        assert first.urls == (url(port),), first
        for action in (s.restart_app, s.stop_app, s.start_app):
            st = await action("late")
            if st.state == "running":
                assert st.urls == (url(port),) and not st.reason, st
                assert await fetch(url(port)) == (200, "late")
        # a worker serves nothing: it is running, and says so
        st = await s.restart_app("worker")
        assert st.state == "running" and "no listening socket" in st.reason, st
        # a restart sent while the kernel restarts waits for it
        mark = len(rec.events)
        kernel_restart = asyncio.ensure_future(s.restart_kernel("k"))
        await rec.wait(lambda e: isinstance(e, AppState) and e.app == "late" and e.reason == "kernel restarting",
                       start=mark)
        st = await s.restart_app("late")
        assert st is not None and st.state == "running" and st.urls == (url(port),), st
        await kernel_restart
        assert not any("NameError" in m or "no tornado-launcher app named" in m for m in rec.logs()), rec.logs()
        assert await fetch(url(port)) == (200, "late")
