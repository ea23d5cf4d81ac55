"""The control commands' answers where the session is in trouble, and a launcher that never answers.

A real Session with its ControlServer in this process; the commands run as real
`python -m tornado_launcher ...` subprocesses (awaited with asyncio, so the session's loop keeps
serving them).  The dead kernel is problem_kernels/problemkernel.py (test_failure_paths.py).
"""

import asyncio
import json
import os
import shutil
import socket
import sys
import tempfile
import time

import pytest
from helpers import PLAIN_APP, free_port, running_session, wait_http, write_project
from test_failure_paths import problem_kernelspecs, project_on  # noqa: F401  (a fixture)
from test_reload import watchdog_hcl

from tornado_launcher.control.server import ControlServer, _offer, socket_path
from tornado_launcher.engine.events import ReloadEvent


@pytest.fixture
def runtime(monkeypatch):
    path = tempfile.mkdtemp(prefix="tlrun-")  # short: a socket path has ~100 bytes
    monkeypatch.setenv("XDG_RUNTIME_DIR", path)
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def ctl(*args, cwd):
    proc = await asyncio.create_subprocess_exec(sys.executable, "-m", "tornado_launcher", *args, cwd=str(cwd),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
                                                env=dict(os.environ, NO_COLOR="1"))
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


async def test_dead_kernel_interrupt_and_stop_exit_1_with_the_reason(tmp_path, runtime, problem_kernelspecs):
    config = project_on(tmp_path, "problem-fail")
    async with running_session(config, auto_reload=False) as (s, rec):
        control = ControlServer(s, [str(config)])
        assert await control.start()
        try:
            assert s.kernels["k"].state == "dead"
            code, out, err = await ctl("interrupt", "k", cwd=config.parent)
            assert code == 1, (out, err)
            assert "kernel 'k' is dead" in err and "nothing to interrupt" in err and "Traceback" not in err
            code, out, err = await ctl("stop", "web", cwd=config.parent)
            assert code == 1 and "web: failed" in err and "kernel 'k'" in err, (out, err)
            code, out, err = await ctl("status", "--json", cwd=config.parent)
            assert code == 0, err
            st = json.loads(out)
            assert st["apps"][0]["state"] == "failed" and st["kernels"][0]["state"] == "dead"
        finally:
            control.close()


async def test_status_says_when_an_app_last_reloaded(tmp_path, runtime):
    port = free_port()
    root = tmp_path / "p"
    write_project(root, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": watchdog_hcl(port)})
    async with running_session(root / "jaffle.hcl") as (s, rec):
        control = ControlServer(s, [str(root / "jaffle.hcl")])
        assert await control.start()
        try:
            await wait_http(f"http://127.0.0.1:{port}/", "v1")
            code, out, err = await ctl("status", "--json", cwd=root)
            assert code == 0, err
            assert {a["name"]: a for a in json.loads(out)["apps"]}["web"]["last_reload"] is None
            before = time.time()
            (root / "proj" / "web.py").write_text(PLAIN_APP.replace('"v1"', '"v2"'))
            done = await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done")
            code, out, err = await ctl("status", "--json", cwd=root)
            assert code == 0, err
            last = {a["name"]: a for a in json.loads(out)["apps"]}["web"]["last_reload"]
            assert last["path"] == done.path and last["path"].endswith("web.py")
            assert before <= last["time"] <= time.time() and last["elapsed_ms"] == done.elapsed_ms
            code, out, err = await ctl("status", cwd=root)
            assert code == 0 and "last reload " + time.strftime("%H:%M:%S", time.localtime(last["time"])) in out
        finally:
            control.close()


def test_a_launcher_that_never_answers_is_a_sentence_and_exit_1(tmp_path, runtime):
    """A socket that accepts connections (the kernel does, from the backlog) but whose loop never reads."""
    import subprocess

    (tmp_path / "jaffle.hcl").write_text('kernel "k" {}\n')
    path = socket_path([str(tmp_path / "jaffle.hcl")], create_dir=True)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as stuck:
        stuck.bind(path)
        stuck.listen(8)
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "tornado_launcher", "status", "--timeout", "1"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)
        took = time.monotonic() - t0
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "did not answer within 1 s" in r.stderr and "Traceback" not in r.stderr
    assert took < 30


def test_a_follower_that_fell_behind_keeps_the_newest_lines():
    q = asyncio.Queue(maxsize=2)
    for item in ("a", "b", "c", None):
        _offer(q, item)
    assert [q.get_nowait(), q.get_nowait()] == ["c", None]  # and the end-of-stream marker got in
