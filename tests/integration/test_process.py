"""`process` blocks' runtime: real commands, real process groups, real HTTP."""

import os
import sys

from helpers import Recorder, fetch, free_port, port_is_free, wait_http

from tornado_launcher.engine.events import AppState, LogRecord
from tornado_launcher.engine.process import Process

PY = sys.executable


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _group(pgid: int):
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getpgid(int(d)) == pgid and _alive(int(d)):
                    pids.append(int(d))
            except OSError:
                pass
    return pids


async def test_http_server_process_serves_and_stop_kills_the_whole_group(tmp_path):
    port = free_port()
    (tmp_path / "index.html").write_text("from a process block")
    rec = Recorder()
    # a shell pipeline: sh -> python (grandchild) must die with the group
    p = Process("static", f"{PY} -m http.server {port} --bind 127.0.0.1 2>&1 | cat", cwd=str(tmp_path),
                on_event=rec)
    await p.start()
    try:
        assert p.state == "running"
        await wait_http(f"http://127.0.0.1:{port}/index.html", "from a process block")
        await rec.wait(lambda e: isinstance(e, LogRecord) and "GET /index.html" in e.message)
        pgid = p.pgid
        assert len(_group(pgid)) >= 2
        await p.stop()
        assert p.state == "stopped"
        assert _group(pgid) == []
        assert port_is_free(port)
        assert (await fetch(f"http://127.0.0.1:{port}/", timeout=1))[0] == 599
        await p.restart()
        await wait_http(f"http://127.0.0.1:{port}/index.html", "from a process block")
    finally:
        await p.stop()


async def test_tty_process_runs_on_a_terminal(tmp_path):
    rec = Recorder()
    code = "import sys, os; print('isatty', sys.stdout.isatty(), os.environ.get('TERM'))"
    p = Process("t", f"{PY} -c \"{code}\"", cwd=str(tmp_path), on_event=rec, tty=True)
    await p.start()
    await rec.wait(lambda e: isinstance(e, AppState) and e.state in ("stopped", "failed"))
    assert any(m.startswith("isatty True") for m in rec.logs("t")), rec.logs("t")
    plain = Process("p", f"{PY} -c \"{code}\"", cwd=str(tmp_path), on_event=rec)
    await plain.start()
    await rec.wait(lambda e: isinstance(e, AppState) and e.app == "p" and e.state in ("stopped", "failed"))
    assert any(m.startswith("isatty False") for m in rec.logs("p"))


async def test_missing_command_is_a_clear_failed_state(tmp_path):
    rec = Recorder()
    p = Process("x", "no-such-command-xyz --flag", cwd=str(tmp_path), on_event=rec)
    await p.start()
    failed = await rec.wait(lambda e: isinstance(e, AppState) and e.state == "failed")
    assert "command not found: no-such-command-xyz" in failed.reason


async def test_exit_status_is_reported(tmp_path):
    rec = Recorder()
    p = Process("x", f"{PY} -c 'import sys; print(\"bye\"); sys.exit(3)'", cwd=str(tmp_path), on_event=rec)
    await p.start()
    failed = await rec.wait(lambda e: isinstance(e, AppState) and e.state == "failed")
    assert failed.reason == "exited with status 3"
    assert "bye" in rec.logs("x")


async def test_sigterm_ignored_means_sigkill_after_timeout(tmp_path):
    rec = Recorder()
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)")
    p = Process("stubborn", f"{PY} -c \"{code}\"", cwd=str(tmp_path), on_event=rec, stop_timeout=0.5)
    await p.start()
    await rec.wait(lambda e: isinstance(e, LogRecord) and e.message == "ready")
    pid = p.pid
    await p.stop()
    assert not _alive(pid)
    assert any("killing it" in m for m in rec.logs("stubborn"))
    assert p.state == "stopped"


async def test_env_reaches_the_command(tmp_path):
    rec = Recorder()
    env = dict(os.environ, GREETING="hi there")
    p = Process("e", "echo \"$GREETING\"", cwd=str(tmp_path), on_event=rec, env=env)
    await p.start()
    await rec.wait(lambda e: isinstance(e, AppState) and e.state in ("stopped", "failed"))
    assert "hi there" in rec.logs("e")
