"""A kernel past its restart limit (the crash-loop guard gave it up) brought back headless:
`restart APP` and `restart-kernel KERNEL` start the kernel again (issue 19, item 8).
A real `tornado-launcher start`, its kernel SIGKILLed until the guard gives up."""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from tests.helpers import free_port, plain_project, web_app_hcl

EXE = [sys.executable, "-m", "tornado_launcher"]
#: the guard allows this many automatic restarts (crashloop.MAX_RESTARTS) ...
MAX_RESTARTS = 5



def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except OSError:
        return 599, ""


def test_restart_app_and_restart_kernel_bring_back_a_given_up_kernel(tmp_path):
    port = free_port()
    plain_project(tmp_path, web_app_hcl(port, start="web.start()"))
    runtime = Path(tempfile.mkdtemp(prefix="tlrun-"))
    env = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1", XDG_RUNTIME_DIR=str(runtime))

    def ctl(*args):
        return subprocess.run(EXE + list(args), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)

    def kernel():
        r = ctl("status", "--json")
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)["kernels"][0]

    def wait(pred, what, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            k = kernel()
            if pred(k):
                return k
            time.sleep(0.2)
        raise AssertionError(f"{what}: {kernel()}")

    out = open(tmp_path / "launcher.log", "w+")
    proc = subprocess.Popen(EXE + ["start", "--no-reload"], cwd=tmp_path, env=env, stdout=out,
                            stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 90
        while _get(url)[0] != 200:
            assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "launcher.log").read_text()
            time.sleep(0.2)
        # kill the kernel MAX_RESTARTS + 1 times: the last death is past the limit
        for i in range(MAX_RESTARTS + 1):
            k = wait(lambda k: k["state"] in ("idle", "busy") and k["pid"], f"kernel up before kill {i}")
            os.kill(k["pid"], signal.SIGKILL)
            wait(lambda k, pid=k["pid"]: k["pid"] != pid or k["state"] not in ("idle", "busy"),
                 f"death {i} seen")
        k = wait(lambda k: k["state"] == "dead" and "not restarting it again" in (k["reason"] or ""),
                 "given up")
        assert "restart-kernel k" in k["reason"]
        time.sleep(1)
        assert kernel()["state"] == "dead" and _get(url)[0] == 599  # it stays down by itself
        # `restart APP` starts the kernel again, and the app in it
        r = ctl("restart", "web")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "web: running" in r.stdout
        assert _get(url) == (200, "v1")
        # and so does `restart-kernel KERNEL` (here a kernel that is up: a fresh process)
        pid = kernel()["pid"]
        r = ctl("restart-kernel", "k")
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert "web: running" in r.stdout
        k = kernel()
        assert k["state"] in ("idle", "busy") and k["pid"] != pid
        assert _get(url) == (200, "v1")
        r = ctl("restart-kernel", "nope")
        assert r.returncode == 1 and "no kernel named 'nope'" in r.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        subprocess.run(["rm", "-rf", str(runtime)])
