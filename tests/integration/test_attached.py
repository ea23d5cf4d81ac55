"""A kernel started by hand (`python -m ipykernel_launcher -f conn.json`, TCP on 127.0.0.1),
attached through the kernel block's `connection_file`: real kernel, real HTTP, real files."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from helpers import PLAIN_APP, fetch, free_port, port_is_free, running_session, wait_http, write_project
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.connect import write_connection_file

from tornado_launcher.config import check
from tornado_launcher.engine.events import AppState, KernelState, ReloadEvent
from tornado_launcher.kernels import interpreter

ROOT = Path(__file__).resolve().parent.parent.parent


def attached_hcl(port: int, conn: str = "conn.json") -> str:
    return f'''
    kernel "remote" {{
      connection_file = "{conn}"
    }}

    app "web" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "remote"
      start  = "web.start()"
      options {{
        app_class   = "proj.web.App"
        argv        = ["--port={port}"]
        clear_cache = ["proj"]
      }}
    }}
    '''


class HandKernel:
    """`python -m ipykernel_launcher -f conn.json` in its own session, as a user would run it."""

    def __init__(self, conn: Path, cwd: Path) -> None:
        self.conn, self.cwd, self.proc = conn, cwd, None

    def start(self, problem: str = "") -> None:
        """``problem``: run ``problem_kernels/problemkernel.py`` with that ``TL_PROBLEM`` instead."""
        env = interpreter.child_env()
        cmd = ["-m", "ipykernel_launcher"]
        if problem:
            env["TL_PROBLEM"] = problem
            cmd = [str(Path(__file__).resolve().parent / "problem_kernels" / "problemkernel.py")]
        self.proc = subprocess.Popen([sys.executable, *cmd, "-f", str(self.conn)],
                                     cwd=self.cwd, env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)


@contextmanager
def hand_kernel(root: Path):
    conn = root / "conn.json"
    write_connection_file(str(conn), ip="127.0.0.1", transport="tcp")
    k = HandKernel(conn, root)
    k.start()
    try:
        yield k
    finally:
        k.kill()


def project(root: Path, port: int) -> Path:
    write_project(root, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": attached_hcl(port)})
    return root / "jaffle.hcl"


def running(app="web"):
    return lambda e: isinstance(e, AppState) and e.app == app and e.state == "running"


async def answers(conn: Path) -> bool:
    """Whether the kernel behind ``conn`` still answers kernel_info (a client of its own)."""
    kc = AsyncKernelClient()
    kc.load_connection_file(str(conn))
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=10)
        return True
    except RuntimeError:
        return False
    finally:
        kc.stop_channels()


async def test_attached_kernel_serves_reloads_and_is_left_running(tmp_path):
    port = free_port()
    cfg = project(tmp_path, port)
    with hand_kernel(tmp_path) as k:
        async with running_session(cfg) as (s, rec):
            await rec.wait(running(), timeout=30)
            assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
            assert s.kernels["remote"].state in ("idle", "busy")
            assert s.kernels["remote"].pid == k.proc.pid  # from the bridge's hello
            (tmp_path / "proj" / "web.py").write_text(PLAIN_APP.replace('"v1"', '"edited"'))
            await wait_http(f"http://127.0.0.1:{port}/", "edited", timeout=15)
            await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done")
            # interrupt travels as a message on the control channel
            task = asyncio.ensure_future(s.execute("remote", "import time; time.sleep(30)"))
            await asyncio.sleep(0.5)
            await s.interrupt_kernel("remote")
            out = await asyncio.wait_for(task, 10)
            assert out["status"] == "error" and "KeyboardInterrupt" in out["traceback"]
        # exit: the app is stopped, the kernel left running and still answering
        assert port_is_free(port)
        assert k.alive()
        stopped = [e for e in rec.events if isinstance(e, KernelState) and e.kernel == "remote"][-1]
        assert stopped.state == "stopped" and "left running" in stopped.reason
        assert await answers(k.conn)


async def test_attached_kernel_gone_is_reported_and_reattached(tmp_path):
    port = free_port()
    cfg = project(tmp_path, port)
    with hand_kernel(tmp_path) as k:
        async with running_session(cfg, auto_reload=False) as (s, rec):
            await rec.wait(running(), timeout=30)
            mark = len(rec.events)
            killed = time.monotonic()
            k.kill()
            dead = await rec.wait(lambda e: isinstance(e, KernelState) and e.state == "dead", start=mark,
                                  timeout=15)
            seen_after = time.monotonic() - killed
            assert seen_after < 5.0 + 1.0, seen_after  # heartbeat: gone within 5 s (1 s slack under load)
            assert "heartbeat" in dead.reason
            await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "failed",
                           start=mark)
            assert (await fetch(f"http://127.0.0.1:{port}/", timeout=2))[0] == 599
            # it comes back (same connection file): attached again, its app serves again
            mark = len(rec.events)
            k.start()
            await rec.wait(running(), start=mark, timeout=30)
            assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
            assert s.kernels["remote"].pid == k.proc.pid


async def test_kernel_not_there_yet_is_attached_when_it_starts(tmp_path):
    port = free_port()
    cfg = project(tmp_path, port)
    conn = tmp_path / "conn.json"
    write_connection_file(str(conn), ip="127.0.0.1", transport="tcp")
    k = HandKernel(conn, tmp_path)
    try:
        async with running_session(cfg, auto_reload=False, startup_timeout=2.0) as (s, rec):
            failed = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "failed")
            assert "connection_file" in failed.reason and "ipykernel_launcher" in failed.reason
            k.start()
            await rec.wait(running(), timeout=30)
            assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
    finally:
        k.kill()


def test_check_names_a_missing_or_clashing_connection_file(tmp_path):
    (tmp_path / "jaffle.hcl").write_text(attached_hcl(8000, "nothere.json"))
    _, diags = check(str(tmp_path / "jaffle.hcl"))
    msgs = [str(d) for d in diags if d.severity == "error"]
    assert len(msgs) == 1 and ":3:" in msgs[0] and "does not exist" in msgs[0] and "ipykernel_launcher" in msgs[0]
    (tmp_path / "bad.json").write_text('{"ip": "127.0.0.1"}')
    (tmp_path / "jaffle.hcl").write_text(attached_hcl(8000, "bad.json"))
    msgs = [str(d) for d in check(str(tmp_path / "jaffle.hcl"))[1] if d.severity == "error"]
    assert len(msgs) == 1 and "lacks shell_port" in msgs[0]
    write_connection_file(str(tmp_path / "ok.json"), ip="127.0.0.1", transport="tcp")
    (tmp_path / "jaffle.hcl").write_text(attached_hcl(8000, "ok.json").replace(
        'connection_file = "ok.json"', f'connection_file = "ok.json"\n      python = "{sys.executable}"'))
    msgs = [str(d) for d in check(str(tmp_path / "jaffle.hcl"))[1] if d.severity == "error"]
    assert len(msgs) == 1 and "both `connection_file` and `python`" in msgs[0]
    (tmp_path / "jaffle.hcl").write_text(attached_hcl(8000, "ok.json"))
    config, diags = check(str(tmp_path / "jaffle.hcl"))
    assert not [d for d in diags if d.severity == "error"]
    assert config.kernels["remote"].connection_file == str(tmp_path / "ok.json")


async def run_in(conn: Path, code: str) -> dict:
    """Run ``code`` in the kernel behind ``conn`` with a client of our own; its reply content."""
    kc = AsyncKernelClient()
    kc.load_connection_file(str(conn))
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=10)
        reply = await kc.execute(code, reply=True, timeout=10)
        return reply["content"]
    finally:
        kc.stop_channels()


async def test_install_refuses_another_bridge_or_no_tornado_in_one_sentence(tmp_path):
    port = free_port()
    cfg = project(tmp_path, port)
    with hand_kernel(tmp_path) as k:
        async with running_session(cfg, auto_reload=False) as (s, rec):
            await rec.wait(running(), timeout=30)
            assert s._kernels["remote"].hello["bridge"] == 1
        # the bridge left in the kernel is "another launcher's": the next launcher says so
        assert (await run_in(k.conn, "import sys; sys.modules['tornado_launcher_bridge.protocol']"
                                     ".BRIDGE_VERSION = 0"))["status"] == "ok"
        async with running_session(cfg, auto_reload=False) as (s, rec):
            failed = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "failed")
            assert "another tornado-launcher version (bridge 0" in failed.reason
            assert "restart the kernel" in failed.reason and "Traceback" not in failed.reason
        # a kernel whose Python has no tornado
        assert (await run_in(k.conn, "import sys\nfor m in [m for m in sys.modules if m.startswith(("
                                     "'tornado', 'tornado_launcher_bridge'))]: del sys.modules[m]\n"
                                     "sys.modules['tornado'] = None"))["status"] == "ok"
        async with running_session(cfg, auto_reload=False) as (s, rec):
            failed = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "failed")
            assert "has no tornado" in failed.reason and "-m pip install tornado" in failed.reason


async def test_remote_files_are_watched_and_compile_checked_in_the_kernel(tmp_path):
    """remote_files: the kernel watches (watchdog there; then without it, the scan) and checks
    the syntax; the launcher's own watcher does not run; reloads look as they do locally."""
    port = free_port()
    cfg = project(tmp_path, port)
    cfg.write_text(cfg.read_text().replace('connection_file = "conn.json"',
                                           'connection_file = "conn.json"\n      remote_files = true'))
    web = tmp_path / "proj" / "web.py"
    with hand_kernel(tmp_path) as k:
        for backend in ("watchdog", "scan"):
            if backend == "scan":  # this kernel's Python "has no watchdog"
                assert (await run_in(k.conn, "import sys\nfor m in [m for m in sys.modules if m.split('.')[0]"
                                             " == 'watchdog']: del sys.modules[m]\n"
                                             "sys.modules['watchdog'] = None"))["status"] == "ok"
            web.write_text(PLAIN_APP)
            async with running_session(cfg) as (s, rec):
                await rec.wait(running(), timeout=30)
                assert s._reloader._watcher is None and s._reloader._remote == {"remote": [0]}
                backend_used = (await s.execute("remote", "import sys; print(sys.modules["
                                                "'tornado_launcher_bridge.kernelside.filewatch'].current.backend)"))
                assert backend_used["stdout"].strip() == backend
                web.write_text(PLAIN_APP.replace('"v1"', f'"{backend}-edit"'))
                await wait_http(f"http://127.0.0.1:{port}/", f"{backend}-edit", timeout=15)
                done = await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done")
                assert done.path == str(web)
                mark = len(rec.events)
                web.write_text(PLAIN_APP + "\ndef broken(:\n")
                refused = await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "refused",
                                         start=mark, timeout=15)
                assert refused.detail.startswith(f"{web}:")
                assert await fetch(f"http://127.0.0.1:{port}/") == (200, f"{backend}-edit")
            # the session's end stopped the watch in the kernel
            out = await run_in(k.conn, "import sys; assert sys.modules['tornado_launcher_bridge"
                                       ".kernelside.filewatch'].current is None")
            assert out["status"] == "ok", out


async def test_kernel_run_again_at_once_is_seen_by_its_session(tmp_path, monkeypatch):
    """Killed and started again on the same ports faster than the heartbeat notices, with its
    iopub "starting" status missed: the interleaving is forced (the new process never publishes
    "starting", and the heartbeat's grace is longer than the test), so only the kernel's session id
    can tell: the launcher asks who answers once the shell socket reconnects, sees a new session,
    and installs the bridge there again."""
    from tornado_launcher.kernels import attached

    monkeypatch.setattr(attached, "HEARTBEAT_GRACE", 120.0)
    port = free_port()
    cfg = project(tmp_path, port)
    with hand_kernel(tmp_path) as k:
        async with running_session(cfg, auto_reload=False) as (s, rec):
            await rec.wait(running(), timeout=30)
            mark = len(rec.events)
            k.kill()
            k.start(problem="quiet-start")
            dead = await rec.wait(lambda e: isinstance(e, KernelState) and e.state == "dead", start=mark,
                                  timeout=15)
            assert "started again" in dead.reason
            await rec.wait(running(), start=mark, timeout=30)
            assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
            assert s.kernels["remote"].pid == k.proc.pid
