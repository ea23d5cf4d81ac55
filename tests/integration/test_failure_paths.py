"""Failure paths, each with a purpose-built misbehaving kernel or app (jupyter_client's
tests/problemkernel.py style): what the user is told, and that it is told in bounded time.

The kernels are ``problem_kernels/problemkernel.py`` behind real kernelspecs in a
private ``JUPYTER_PATH``; the limits they run into are the Session's declared
settings (``startup_timeout``, ``settle_timeout``), shortened here.
"""

import json
import sys
import time
from pathlib import Path

import pytest
from helpers import free_port, plain_project, running_session, web_app_hcl, write_project

from tornado_launcher.engine.events import AppState, KernelState, LogRecord

PROBLEM_KERNEL = Path(__file__).resolve().parent / "problem_kernels" / "problemkernel.py"
sys.path.insert(0, str(PROBLEM_KERNEL.parent))
import problemkernel  # noqa: E402  (its sentences, not its code)


@pytest.fixture
def problem_kernelspecs(tmp_path, monkeypatch):
    """Kernelspecs ``problem-hang``, ``problem-fail``, ``problem-broken-tornado`` in a private
    JUPYTER_PATH (the way jupyter_client's tests install theirs)."""
    jupyter = tmp_path / "jupyter"
    for mode in ("hang", "fail", "broken-tornado"):
        d = jupyter / "kernels" / f"problem-{mode}"
        d.mkdir(parents=True)
        (d / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, str(PROBLEM_KERNEL), "-f", "{connection_file}"],
            "display_name": f"problem kernel ({mode})", "language": "python",
            "env": {"TL_PROBLEM": mode},
        }))
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    return jupyter


def project_on(tmp_path, kernel_name: str) -> Path:
    """The one-app project (PLAIN_APP as ``web``) in a kernel of kernelspec ``kernel_name``."""
    hcl = f'kernel "k" {{ kernel_name = "{kernel_name}" }}\n' + web_app_hcl(free_port(), kernel_block=False)
    return plain_project(tmp_path / "proj", hcl)


def failed(app):
    return lambda e: isinstance(e, AppState) and e.app == app and e.state == "failed"


def pid_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


async def test_kernel_that_never_answers_is_stopped_after_the_startup_timeout(tmp_path, problem_kernelspecs):
    t0 = time.monotonic()
    async with running_session(project_on(tmp_path, "problem-hang"), auto_reload=False,
                               startup_timeout=2) as (s, rec):
        took = time.monotonic() - t0
        ev = await rec.wait(failed("web"), timeout=1)
        pid = s.kernels["k"].pid
        assert ev.reason.startswith("kernel 'k' started but did not answer within 2 s, so it was stopped. "
                                    f"Run `{sys.executable} {PROBLEM_KERNEL}` in a terminal"), ev.reason
        assert any(isinstance(e, LogRecord) and e.level == "ERROR" and e.message == ev.reason
                   for e in rec.events)
        dead = [e for e in rec.events if isinstance(e, KernelState) and e.state == "dead"]
        assert [d.reason for d in dead] == [ev.reason], "one death, ours: no 'killed by SIGKILL', no restart"
        assert not any(isinstance(e, KernelState) and e.state == "restarting" for e in rec.events)
        assert pid is not None and pid_gone(pid), "the silent kernel is killed, not left behind"
    assert took < 2 + 15, f"start must give up after the startup timeout, took {took:.1f} s"


async def test_kernel_that_exits_while_starting_says_its_last_words(tmp_path, problem_kernelspecs):
    t0 = time.monotonic()
    async with running_session(project_on(tmp_path, "problem-fail"), auto_reload=False) as (s, rec):
        took = time.monotonic() - t0
        ev = await rec.wait(failed("web"), timeout=1)
        assert ev.reason.startswith(f"kernel 'k' exited with status 3 while starting: {problemkernel.FAIL_LINE}. "
                                    f"Run `{sys.executable} {PROBLEM_KERNEL}` in a terminal"), ev.reason
        errors = [e.message for e in rec.events if isinstance(e, LogRecord) and e.level == "ERROR"]
        assert errors == [ev.reason], "one sentence, no traceback, no restart attempts"
        assert not any(isinstance(e, KernelState) and e.state == "restarting" for e in rec.events)
        # its stderr line reaches the kernel's log as it was written
        assert any(isinstance(e, LogRecord) and e.origin == "raw" and e.message == problemkernel.FAIL_LINE
                   for e in rec.events)
    # far below the default 60 s startup timeout: the death itself ends the wait
    assert took < 15, f"a dead kernel must be noticed at once, took {took:.1f} s"


async def test_bridge_install_that_raises_fails_every_app_of_the_kernel_with_the_fix(tmp_path, problem_kernelspecs):
    t0 = time.monotonic()
    async with running_session(project_on(tmp_path, "problem-broken-tornado"), auto_reload=False) as (s, rec):
        took = time.monotonic() - t0
        ev = await rec.wait(failed("web"), timeout=1)
        assert ev.reason == (
            f"could not install the bridge in kernel 'k': ImportError: {problemkernel.BROKEN_LINE}. "
            "The bridge needs only the standard library and tornado in the kernel's Python: check that "
            "`import tornado.httpserver` works there (reinstall tornado if not), then restart the kernel.")
        assert ev.reason in [e.message for e in rec.events if isinstance(e, LogRecord) and e.level == "ERROR"]
        # the kernel itself is fine and stays up: the user can look inside it
        assert s.kernels["k"].state == "idle"
        out = await s.execute("k", "import sys; print('tornado_launcher_bridge' in sys.modules)")
        assert out["stdout"].strip() == "False"
        # starting the app again says why it cannot, instead of hanging
        mark = len(rec.events)
        t1 = time.monotonic()
        assert await s.start_app("web") is None
        assert time.monotonic() - t1 < 10
        assert any(isinstance(e, LogRecord) and e.app == "web" and e.level == "ERROR"
                   and "the tornado-launcher bridge is not installed in this kernel" in e.message
                   for e in rec.events[mark:])
    assert took < 30, f"took {took:.1f} s"


#: an app whose start() neither serves nor fails: it waits for ever (threaded: the kernel stays free)
STUCK_APP = '''
import threading

class App:
    def __init__(self, argv):
        self.released = threading.Event()

    def start(self):
        self.released.wait()

    def stop(self):
        self.released.set()
'''


async def test_app_that_never_settles_is_reported_after_the_settle_timeout(tmp_path):
    write_project(tmp_path, {
        "proj/__init__.py": "", "proj/stuck.py": STUCK_APP,
        "jaffle.hcl": '''
        kernel "k" {}
        app "web" {
          class  = "jaffle.app.tornado.TornadoBridgeApp"
          kernel = "k"
          options {
            app_class = "proj.stuck.App"
            threaded  = true
          }
        }
        ''',
    })
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False, settle_timeout=1.5) as (s, rec):
        warning = await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "web"
                                 and e.level == "WARNING" and "1.5 s after" in e.message, timeout=1)
        assert warning.message == (
            "app 'web' is still starting 1.5 s after start(): look for a call that blocks in its code "
            "(a sleep, a lock, a server that never listens), fix it and restart the app.")
        assert s.apps["web"].state == "starting"
        # the session is not stuck behind it: the kernel still runs cells
        out = await s.execute("k", "print(6 * 7)")
        assert out["stdout"].strip() == "42"
        # and a start request on the stuck app returns within the bound too
        t0 = time.monotonic()
        await s.start_app("web")
        assert time.monotonic() - t0 < 1.5 + 10
