"""The real window on a real X server: launch, serve the demo, Ctrl+Q, exit 0.

Starts Xvfb on a free display, runs ``python -m tornado_launcher gui
<demo>/jaffle.hcl`` there (the demo copied to tmp with free ports, so a demo
running elsewhere on this machine cannot collide), waits until the demo
serves over HTTP, types Ctrl+Q into the window with xdotool (XTEST: a real
key press, not a signal), and checks that the launcher exits 0 and that no
kernel process of it is left.

Skipped only when Xvfb or xdotool is missing outside CI; in CI (``CI`` set)
a missing tool is a failure: .ci/run installs both.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.helpers import ROOT, copy_demo, free_port

pytestmark = pytest.mark.timeout(240)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail(f"{tool} is required in CI (apt-get install -y xvfb xdotool)")
    pytest.skip(f"{tool} not installed (apt-get install -y xvfb xdotool); required in CI")


def _free_display() -> int:
    for n in range(90, 190):
        if not os.path.exists(f"/tmp/.X11-unix/X{n}") and not os.path.exists(f"/tmp/.X{n}-lock"):
            return n
    raise RuntimeError("no free X display number")


@pytest.fixture
def xvfb():
    binary = _need("Xvfb")
    n = _free_display()
    proc = subprocess.Popen([binary, f":{n}", "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while not os.path.exists(f"/tmp/.X11-unix/X{n}"):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"Xvfb :{n} did not start")
        time.sleep(0.05)
    yield f":{n}"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _descendants(pid: int) -> set:
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = set(), [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            if c not in out:
                out.add(c)
                todo.append(c)
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _serves(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def test_window_serves_demo_and_ctrl_q_quits_cleanly(xvfb, tmp_path):
    xdotool = _need("xdotool")
    web_port, api_port = free_port(), free_port()
    config = copy_demo(tmp_path / "demo", web_port, api_port)
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="xcb",
               TORNADO_LAUNCHER_SETTINGS=str(tmp_path / "settings.ini"))
    log = open(tmp_path / "launcher.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "tornado_launcher", "gui", str(config)], cwd=str(ROOT),
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    kernels: set = set()
    try:
        deadline = time.monotonic() + 90
        while not (_serves(f"http://127.0.0.1:{web_port}/") and _serves(f"http://127.0.0.1:{api_port}/")):
            assert proc.poll() is None, f"launcher exited early: {proc.returncode}\n{_read(log)}"
            assert time.monotonic() < deadline, f"demo not served within 90 s\n{_read(log)}"
            time.sleep(0.2)
        kernels = {p for p in _descendants(proc.pid) if "ipykernel" in _cmdline(p)}
        assert kernels, "the demo's kernel should be a descendant of the launcher"

        found = subprocess.run([xdotool, "search", "--sync", "--onlyvisible", "--pid", str(proc.pid),
                                "--name", "tornado-launcher"], env=env, capture_output=True, text=True, timeout=30)
        wids = found.stdout.split()
        assert wids, f"no window found: {found.stderr}"
        wid = wids[-1]
        subprocess.run([xdotool, "windowfocus", "--sync", wid], env=env, check=True, timeout=30)
        subprocess.run([xdotool, "key", "--clearmodifiers", "ctrl+q"], env=env, check=True, timeout=30)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"launcher still running 60 s after Ctrl+Q\n{_read(log)}")
        assert code == 0, f"exit code {code}\n{_read(log)}"
        left = [p for p in kernels if _alive(p)]
        assert not left, f"kernel processes left after quit: {left}"
        assert not _serves(f"http://127.0.0.1:{web_port}/")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for p in kernels:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        log.close()


def _read(f) -> str:
    f.flush()
    f.seek(0)
    return f.read()[-4000:]
