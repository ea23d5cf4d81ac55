"""The command line as users and scripts run it: real subprocesses."""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.helpers import copy_demo, free_port, plain_project, web_app_hcl

EXE = [sys.executable, "-m", "tornado_launcher"]


def run(args, cwd=None, timeout=60):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(EXE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_version():
    r = run(["--version"])
    assert r.returncode == 0
    assert re.fullmatch(r"tornado-launcher \d+\.\d+\.\d+\s*", r.stdout)


def test_check_ok_and_default_config(tmp_path):
    copy_demo(tmp_path / "demo", free_port(), free_port())
    r = run(["check"], cwd=tmp_path / "demo")
    assert r.returncode == 0, r.stderr
    assert "jaffle.hcl: OK" in r.stdout


def test_check_bad_config_exit_2_names_line(tmp_path):
    (tmp_path / "jaffle.hcl").write_text('kernel "k" {}\n\napp "web" {\n'
                                         '  class = "jaffle.app.tornado.TornadoBridgeApp"\n'
                                         '  kernel = "nope"\n  options { app_class = "a.B" }\n}\n')
    r = run(["check", str(tmp_path / "jaffle.hcl")])
    assert r.returncode == 2
    assert re.search(r"jaffle\.hcl:5:\d+: .*nope", r.stderr), r.stderr
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.parametrize("content", [b"\x00\xff\xfe garbage \x89PNG", b"app {", b""])
def test_check_never_tracebacks(tmp_path, content):
    (tmp_path / "jaffle.hcl").write_bytes(content)
    r = run(["check", str(tmp_path / "jaffle.hcl")])
    assert r.returncode in (0, 2)
    assert "Traceback" not in r.stderr + r.stdout


def test_check_missing_file(tmp_path):
    r = run(["check"], cwd=tmp_path)
    assert r.returncode == 2
    assert "jaffle.hcl" in r.stderr and "Traceback" not in r.stderr


def _get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except OSError:
        return 599, ""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_start_serves_prints_and_exits_clean(tmp_path, sig):
    port = free_port()
    plain_project(tmp_path, web_app_hcl(port, start="web.start()"))
    env = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(EXE + ["start"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    lines = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "serving at" in line:
                break
        out = "".join(lines)
        assert re.search(rf"^\d\d:\d\d:\d\d web +INFO +serving at http://127\.0\.0\.1:{port}/", out, re.M), out
        assert _get(f"http://127.0.0.1:{port}/") == (200, "v1")
        # a request's access log line reaches the terminal as `HH:MM:SS web LEVEL message`
        proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=30)
        out += rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, out
    assert re.search(r"^\d\d:\d\d:\d\d web +INFO +.*GET / ", out, re.M), out
    assert "\x1b[" not in out  # NO_COLOR
    assert _get(f"http://127.0.0.1:{port}/")[0] == 599


def test_killed_launcher_takes_its_kernel_along(tmp_path):
    """SIGKILL on the launcher: the kernel notices its parent is gone and exits."""
    from tests.helpers import kernel_processes

    port = free_port()
    plain_project(tmp_path, web_app_hcl(port))
    proc = subprocess.Popen(EXE + ["start"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, NO_COLOR="1"))
    try:
        for line in proc.stdout:
            if "serving at" in line:
                break
        kernels = kernel_processes()
        assert kernels, "the launcher's kernel should be a descendant of this test"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and _state(p) != "Z" for p in kernels):
            time.sleep(0.2)
        assert not [p for p in kernels if os.path.exists(f"/proc/{p}") and _state(p) != "Z"]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


def test_check_kernel_python_without_ipykernel_names_the_fix(tmp_path):
    import venv

    venv.create(tmp_path / "bare", with_pip=False)
    (tmp_path / "jaffle.hcl").write_text('kernel "k" { python = "bare/bin/python" }\n'
                                         'app "web" {\n  class = "jaffle.app.tornado.TornadoBridgeApp"\n'
                                         '  kernel = "k"\n  options { app_class = "a.B" }\n}\n')
    r = run(["check", str(tmp_path / "jaffle.hcl")])
    assert r.returncode == 2
    assert "jaffle.hcl:1:1: kernel 'k'" in r.stderr
    assert "-m pip install ipykernel tornado" in r.stderr
