"""`tornado-launcher start` as a program applies a saved edit of its config
and reports a broken one as file:line:col while serving (the path through
cli.py's re-reader, which tests/integration/test_config_watch.py bypasses)."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from tests.helpers import free_port, plain_project, web_app_hcl

pytestmark = pytest.mark.timeout(180)

EXE = [sys.executable, "-m", "tornado_launcher"]
ENV = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1")


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except OSError:
        return None


def until(pred, timeout, what, out):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}\n{''.join(out)}")


def save(path, text):
    tmp = str(path) + ".tmp~"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def test_start_applies_a_saved_edit_and_reports_a_broken_one(tmp_path):
    p1, p2 = free_port(), free_port()
    path = plain_project(tmp_path, web_app_hcl(p1))
    proc = subprocess.Popen(EXE + ["start"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=ENV)
    out: list = []
    reader = threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        until(lambda: fetch(f"http://127.0.0.1:{p1}/") == (200, "v1"), 90, "web on p1", out)
        save(path, web_app_hcl(p1) + 'app "broken" {\n  class = \n}\n')
        until(lambda: "has errors" in "".join(out), 30, "the error reported", out)
        until(lambda: re.search(r"jaffle\.hcl:\d+:\d+: ", "".join(out)), 10, "file:line:col", out)
        assert fetch(f"http://127.0.0.1:{p1}/") == (200, "v1")
        save(path, web_app_hcl(p2))
        until(lambda: fetch(f"http://127.0.0.1:{p2}/") == (200, "v1"), 60, "web on p2", out)
        assert "re-read and applied" in "".join(out)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(5)
    assert "Traceback" not in "".join(out), "".join(out)
