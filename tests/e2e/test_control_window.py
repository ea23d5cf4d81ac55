"""Every control command against the real window on a real X server.

`tornado-launcher gui jaffle.hcl` runs under Xvfb (as in test_window_xvfb.py); from "another
terminal" (subprocesses of this test) status --json, stop, restart (a stopped app is started),
interrupt, logs and logs -f drive it, each checked by its exit code and by HTTP to the app; after
Ctrl+Q (a real key press through XTEST) nothing answers for that config any more (exit 3).
tests/gui/test_window_control.py shows the table following these commands at once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

from tests.e2e.test_window_xvfb import _alive, _cmdline, _descendants, _need, _read, xvfb  # noqa: F401  (xvfb: a fixture)
from tests.helpers import PLAIN_APP, free_port, restart_port, write_project

pytestmark = pytest.mark.timeout(240)

HCL = '''
kernel "k" {{}}
kernel "slow" {{}}

app "web" {{
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "k"
  start  = "web.start()"
  options {{
    app_class = "proj.web.App"
    argv      = ["--port={port}"]
  }}
}}

app "hang" {{
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "slow"
  start  = "import time; time.sleep(600)"
  options {{
    app_class = "proj.web.App"
    argv      = ["--port={port2}"]
  }}
}}
'''


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except OSError:
        return 599, ""


def test_every_control_command_against_the_window(xvfb, tmp_path):
    xdotool = _need("xdotool")
    port = restart_port()  # stopped and started again
    url = f"http://127.0.0.1:{port}/"
    root = tmp_path / "proj"
    write_project(root, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                         "jaffle.hcl": HCL.format(port=port, port2=free_port())})
    runtime = tempfile.mkdtemp(prefix="tlrun-")  # short: a socket path has ~100 bytes
    env = dict(os.environ, DISPLAY=xvfb, QT_QPA_PLATFORM="xcb", NO_COLOR="1", XDG_RUNTIME_DIR=runtime,
               TORNADO_LAUNCHER_SETTINGS=str(tmp_path / "settings.ini"))

    def ctl(*args, cwd=root, timeout=60):
        return subprocess.run([sys.executable, "-m", "tornado_launcher", *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout)

    def apps():
        r = ctl("status", "--json")
        assert r.returncode == 0, r.stderr
        return {a["name"]: a for a in json.loads(r.stdout)["apps"]}

    log = open(tmp_path / "launcher.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "tornado_launcher", "gui", "jaffle.hcl"], cwd=root,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    kernels: set = set()
    try:
        deadline = time.monotonic() + 90
        while _get(url)[0] != 200:
            assert proc.poll() is None, f"the window exited early: {proc.returncode}\n{_read(log)}"
            assert time.monotonic() < deadline, f"web not served within 90 s\n{_read(log)}"
            time.sleep(0.2)
        kernels = {p for p in _descendants(proc.pid) if "ipykernel" in _cmdline(p)}

        # status --json: the shape scripts read; -c from elsewhere finds the same window
        r = ctl("status", "--json")
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["pid"] == proc.pid
        web = {a["name"]: a for a in st["apps"]}["web"]
        assert (web["kind"], web["state"], web["urls"], web["kernel"]) == ("tornado", "running", [url], "k")
        assert {k["name"] for k in st["kernels"]} == {"k", "slow"}
        r = ctl("status", "-c", str(root / "jaffle.hcl"), cwd="/")
        assert r.returncode == 0 and url in r.stdout and "KERNELS" in r.stdout, r.stderr

        # stop, then restart (starts the stopped app), then restart a running one
        r = ctl("stop", "web")
        assert r.returncode == 0 and "web: stopped" in r.stdout, r.stderr
        assert _get(url)[0] == 599
        assert apps()["web"]["state"] == "stopped"
        r = ctl("restart", "web")
        assert r.returncode == 0 and f"web: running at {url}" in r.stdout, r.stderr
        assert _get(url) == (200, "v1")
        r = ctl("restart", "web")
        assert r.returncode == 0, r.stderr
        assert _get(url) == (200, "v1")
        r = ctl("stop", "nope")
        assert r.returncode == 1 and "no app named 'nope'" in r.stderr

        # interrupt: the kernel stuck in hang's start code gets a KeyboardInterrupt
        assert apps()["hang"]["state"] != "running"
        r = ctl("interrupt", "slow")
        assert r.returncode == 0 and "slow: interrupted" in r.stdout, r.stderr
        deadline = time.monotonic() + 30
        while (hang := apps()["hang"])["state"] != "failed" and time.monotonic() < deadline:
            time.sleep(0.2)
        assert hang["state"] == "failed" and "KeyboardInterrupt" in (hang["reason"] or ""), hang
        r = ctl("interrupt", "nope")
        assert r.returncode == 1 and "no kernel named 'nope'" in r.stderr

        # logs, and logs -f until Ctrl+C
        assert _get(url)[0] == 200
        r = ctl("logs", "web")
        assert r.returncode == 0 and "hello from app" in r.stdout and "200 GET /" in r.stdout, r.stderr
        follow = subprocess.Popen([sys.executable, "-m", "tornado_launcher", "logs", "web", "-f", "-n", "0"],
                                  cwd=root, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        seen: list = []
        threading.Thread(target=lambda: seen.extend(follow.stdout), daemon=True).start()
        try:
            deadline = time.monotonic() + 30
            while not any("hello from app" in line for line in seen) and time.monotonic() < deadline:
                _get(url)  # asked until the follower (attached some time after it started) sees one
                time.sleep(0.2)
            assert any("hello from app" in line for line in seen), seen
        finally:
            follow.send_signal(signal.SIGINT)
            assert follow.wait(10) == 0, follow.stderr.read()

        # Ctrl+Q: the window quits, its socket goes with it
        found = subprocess.run([xdotool, "search", "--sync", "--onlyvisible", "--pid", str(proc.pid),
                                "--name", "tornado-launcher"], env=env, capture_output=True, text=True, timeout=30)
        assert found.stdout.split(), f"no window found: {found.stderr}"
        wid = found.stdout.split()[-1]
        subprocess.run([xdotool, "windowfocus", "--sync", wid], env=env, check=True, timeout=30)
        subprocess.run([xdotool, "key", "--clearmodifiers", "ctrl+q"], env=env, check=True, timeout=30)
        try:
            code = proc.wait(60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the window still runs 60 s after Ctrl+Q\n{_read(log)}")
        assert code == 0, f"exit code {code}\n{_read(log)}"
        r = ctl("status")
        assert r.returncode == 3 and "no launcher is running" in r.stderr, (r.stdout, r.stderr)
        assert not os.listdir(os.path.join(runtime, "tornado-launcher"))  # no socket file left
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for p in kernels:
            if _alive(p):
                os.kill(p, signal.SIGKILL)
        log.close()
        shutil.rmtree(runtime, ignore_errors=True)
