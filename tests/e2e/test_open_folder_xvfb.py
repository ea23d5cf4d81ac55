"""Open folder on a real X server (issue 23): keys typed with xdotool, as a user would.

The launcher starts on its welcome page under Xvfb; Ctrl+Shift+O opens Qt's
folder picker, the project's path is typed into it, and Alt+R ("Run without
writing") in the dialog that lists the apps runs them: the app serves, no
jaffle.hcl is written, and Ctrl+Q quits with exit 0 and no kernel left.
`run server.py --gui` opens the window on one app the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests import zeroconf_apps
from tests.e2e.test_window_xvfb import _alive, _cmdline, _descendants, _need, _read, xvfb  # noqa: F401 (fixture)
from tests.helpers import free_port

pytestmark = pytest.mark.timeout(240)


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def _xdo(env, *args, timeout=30):
    return subprocess.run([_need("xdotool"), *args], env=env, capture_output=True, text=True, timeout=timeout)


def _window_named(env, pid, name, log, timeout=60, exclude=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _xdo(env, "search", "--onlyvisible", "--pid", str(pid), "--name", name).stdout.split()
        found = [w for w in found if w != exclude]
        if found:
            return found[-1]
        time.sleep(0.2)
    pytest.fail(f"no window named {name!r} within {timeout} s\n{_read(log)}")


def _launch(args, cwd, env, log):
    return subprocess.Popen([sys.executable, "-m", "tornado_launcher", *args], cwd=str(cwd), env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _quit(proc, env, log, kernels):
    wid = _window_named(env, proc.pid, "tornado-launcher", log)
    _xdo(env, "windowfocus", "--sync", wid)
    _xdo(env, "key", "--clearmodifiers", "ctrl+q")
    try:
        code = proc.wait(60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"launcher still running 60 s after Ctrl+Q\n{_read(log)}")
    assert code == 0, f"exit code {code}\n{_read(log)}"
    assert not [p for p in kernels if _alive(p)], "kernel processes left after quit"


def _serve(proc, url, text, log):
    deadline = time.monotonic() + 90
    while _get(url) != text:
        assert proc.poll() is None, f"launcher exited early: {proc.returncode}\n{_read(log)}"
        assert time.monotonic() < deadline, f"{url} did not serve {text!r} within 90 s\n{_read(log)}"
        time.sleep(0.2)
    return {p for p in _descendants(proc.pid) if "ipykernel" in _cmdline(p)}


def _cleanup(proc, kernels):
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    for p in kernels:
        if _alive(p):
            os.kill(p, signal.SIGKILL)


def test_open_folder_with_keys_runs_the_apps_without_writing(xvfb, tmp_path):
    port = free_port()
    root = zeroconf_apps.project(tmp_path / "proj", script_port=port)
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", TORNADO_LAUNCHER_SETTINGS=str(tmp_path / "s.ini"))
    log = open(tmp_path / "launcher.log", "w+")
    proc = _launch(["gui"], tmp_path, env, log)
    kernels: set = set()
    try:
        wid = _window_named(env, proc.pid, "tornado-launcher", log)
        _xdo(env, "windowfocus", "--sync", wid)
        _xdo(env, "key", "--clearmodifiers", "ctrl+shift+o")
        picker = _window_named(env, proc.pid, "^Open folder —", log, exclude=wid)  # Qt's folder picker
        _xdo(env, "windowfocus", "--sync", picker)  # its path field has the focus
        _xdo(env, "type", "--delay", "10", str(root))
        _xdo(env, "key", "Return")
        dialog = _window_named(env, proc.pid, f"^Open folder {root}", log, exclude=wid)  # the apps found
        _xdo(env, "windowfocus", "--sync", dialog)
        _xdo(env, "key", "--clearmodifiers", "alt+r")  # &Run without writing
        kernels = _serve(proc, f"http://127.0.0.1:{port}/", "script v1", log)
        assert not (root / "jaffle.hcl").exists()
        _quit(proc, env, log, kernels)
        assert _get(f"http://127.0.0.1:{port}/") is None
    finally:
        _cleanup(proc, kernels)
        log.close()


def test_run_gui_opens_the_window_on_one_app(xvfb, tmp_path):
    port = free_port()
    root = zeroconf_apps.project(tmp_path / "proj", script_port=port)
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", TORNADO_LAUNCHER_SETTINGS=str(tmp_path / "s.ini"))
    log = open(tmp_path / "launcher.log", "w+")
    proc = _launch(["run", "server.py", "--gui"], root, env, log)
    kernels: set = set()
    try:
        kernels = _serve(proc, f"http://127.0.0.1:{port}/", "script v1", log)
        assert _read(log).startswith("run: server.py is a script, run as __main__")
        _quit(proc, env, log, kernels)
    finally:
        _cleanup(proc, kernels)
        log.close()
