"""The control commands against a real headless launcher (`tornado-launcher start` subprocess).

status / restart / stop / interrupt / logs [-f], their exit codes (0 settled, 1 failed or unknown,
3 nothing running), and the socket refusing another user (tests run as root: a forked child drops
to `nobody`).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import PLAIN_APP, free_port, restart_port, write_project

EXE = [sys.executable, "-m", "tornado_launcher"]

HCL = '''
kernel "k" {}
kernel "slow" {}

app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "k"
  start  = "web.start()"
  options {
    app_class = "proj.web.App"
    argv      = ["--port=%(port)d"]
  }
}

app "hang" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "slow"
  start  = "import time; time.sleep(600)"
  options {
    app_class = "proj.web.App"
    argv      = ["--port=%(port2)d"]
  }
}
'''


def _env(runtime):
    return dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1", XDG_RUNTIME_DIR=str(runtime))


def ctl(args, cwd, runtime, timeout=60):
    return subprocess.run(EXE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env(runtime))


def _get(url):
    """(status, body); 599 and the error's text when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except OSError as e:
        return 599, f"{type(e).__name__}: {e}"


def said(launcher, n=40):
    """The launcher's last lines of output: what a failed assertion shows."""
    return "launcher output:\n" + "".join(launcher["out"][-n:])


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    root = tmp_path_factory.mktemp("ctl")
    runtime = Path(tempfile.mkdtemp(prefix="tlrun-"))  # short: a socket path has ~100 bytes
    port = restart_port()  # stopped and started again: no other process may be handed it meanwhile
    write_project(root, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                         "jaffle.hcl": HCL % {"port": port, "port2": free_port()}})
    proc = subprocess.Popen(EXE + ["start"], cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=_env(runtime))
    lines = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "serving at" in line:
            break
    assert any("serving at" in l for l in lines), "".join(lines)
    _drain(proc.stdout, lines)  # keep the pipe from filling up
    try:
        yield {"root": root, "runtime": runtime, "port": port, "proc": proc, "url": f"http://127.0.0.1:{port}/",
               "out": lines}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(runtime, ignore_errors=True)


def _drain(stream, into):
    import threading

    t = threading.Thread(target=lambda: [into.append(l) for l in stream], daemon=True)
    t.start()
    return t


def status(launcher):
    r = ctl(["status", "--json"], launcher["root"], launcher["runtime"])
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    return st, {a["name"]: a for a in st["apps"]}


def test_status_nothing_running_exits_3(tmp_path):
    (tmp_path / "jaffle.hcl").write_text('kernel "k" {}\n')
    r = ctl(["status"], tmp_path, tmp_path)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert "no launcher is running" in r.stderr and "Traceback" not in r.stderr


def test_status_json_and_text(launcher):
    st, apps = status(launcher)
    assert set(apps) == {"web", "hang"}
    web = apps["web"]
    assert web["kind"] == "tornado" and web["state"] == "running" and web["kernel"] == "k"
    assert web["urls"] == [launcher["url"]]
    for key in ("threaded", "auto_reload", "last_reload", "last_reload_ms", "reason"):
        assert key in web
    assert {k["name"] for k in st["kernels"]} == {"k", "slow"}
    assert st["pid"] == launcher["proc"].pid
    # -c finds the same launcher from elsewhere, and the text form lists apps and kernels
    r = ctl(["status", "-c", str(launcher["root"] / "jaffle.hcl")], "/", launcher["runtime"])
    assert r.returncode == 0, r.stderr
    assert "web" in r.stdout and launcher["url"] in r.stdout and "KERNELS" in r.stdout


def test_stop_then_restart_starts_it(launcher):
    r = ctl(["stop", "web"], launcher["root"], launcher["runtime"])
    assert r.returncode == 0, (r.stdout, r.stderr, said(launcher))
    assert "web: stopped" in r.stdout
    got = _get(launcher["url"])
    assert got[0] == 599, (got, said(launcher))
    assert status(launcher)[1]["web"]["state"] == "stopped"
    r = ctl(["restart", "web"], launcher["root"], launcher["runtime"])
    assert r.returncode == 0, (r.stdout, r.stderr, said(launcher))
    assert f"web: running at {launcher['url']}" in r.stdout
    got = _get(launcher["url"])
    assert got == (200, "v1"), (got, said(launcher))
    # a running app restarts and serves again
    r = ctl(["restart", "web"], launcher["root"], launcher["runtime"])
    assert r.returncode == 0, (r.stdout, r.stderr, said(launcher))
    got = _get(launcher["url"])
    assert got == (200, "v1"), (got, said(launcher))


def test_unknown_names_exit_1_with_reason(launcher):
    r = ctl(["restart", "web", "nope"], launcher["root"], launcher["runtime"])
    assert r.returncode == 1
    assert "no app named 'nope'" in r.stderr and "web" in r.stderr
    r = ctl(["interrupt", "nope"], launcher["root"], launcher["runtime"])
    assert r.returncode == 1 and "no kernel named 'nope'" in r.stderr
    r = ctl(["logs", "nope"], launcher["root"], launcher["runtime"])
    assert r.returncode == 1 and "nope" in r.stderr
    assert _get(launcher["url"])[0] == 200  # nothing was touched


def test_interrupt_stops_the_busy_kernel(launcher):
    st, apps = status(launcher)
    assert apps["hang"]["state"] != "running"
    r = ctl(["interrupt", "slow"], launcher["root"], launcher["runtime"])
    assert r.returncode == 0, r.stderr
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        _, apps = status(launcher)
        if apps["hang"]["state"] == "failed":
            break
        time.sleep(0.2)
    assert apps["hang"]["state"] == "failed" and "KeyboardInterrupt" in (apps["hang"]["reason"] or "")


def test_logs_and_follow(launcher):
    assert _get(launcher["url"])[0] == 200
    r = ctl(["logs", "web"], launcher["root"], launcher["runtime"])
    assert r.returncode == 0, r.stderr
    assert "hello from app" in r.stdout and "200 GET /" in r.stdout
    r = ctl(["logs", "web", "-n", "1"], launcher["root"], launcher["runtime"])
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 1

    follow = subprocess.Popen(EXE + ["logs", "web", "-f", "-n", "0"], cwd=launcher["root"], text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(launcher["runtime"]))
    try:
        # the follower is attached once a request made after it shows up; keep asking until it does
        seen = []
        _drain(follow.stdout, seen)
        deadline = time.monotonic() + 30
        while not any("hello from app" in l for l in seen) and time.monotonic() < deadline:
            _get(launcher["url"])
            time.sleep(0.2)
        assert any("hello from app" in l for l in seen), seen
    finally:
        follow.send_signal(signal.SIGINT)
        assert follow.wait(10) == 0, follow.stderr.read()


# ------------------------------------------------------------ another user

def _as_nobody(fn):
    """Run fn() in a forked child as uid/gid nobody; returns what it returned (a str)."""
    import pwd

    nobody = pwd.getpwnam("nobody")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no pytest, no loop; just the socket and a report
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            out = fn()
        except BaseException as e:  # noqa: BLE001
            out = f"child error: {e!r}"
        os.write(w, out.encode())
        os._exit(0)
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return data.decode()


def _socket_of(launcher):
    env_before = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(launcher["runtime"])
    try:
        from tornado_launcher.control.server import socket_path

        return socket_path([str(launcher["root"] / "jaffle.hcl")])
    finally:
        if env_before is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = env_before


def _raw_status(path):
    def go():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(path)
        except OSError as e:
            return f"connect: {type(e).__name__}"
        s.sendall(b'{"cmd": "status"}\n')
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data.decode()
    return go


def test_modes_are_private(launcher):
    path = _socket_of(launcher)
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700


def test_another_user_is_refused_by_file_modes(launcher):
    assert _as_nobody(_raw_status(_socket_of(launcher))) == "connect: PermissionError"


def test_another_user_is_refused_by_peer_credentials(launcher):
    """With the file modes opened up, the server still refuses a peer of another uid."""
    path = _socket_of(launcher)
    d = os.path.dirname(path)
    for p in (launcher["runtime"], d):
        os.chmod(p, 0o711)
    os.chmod(path, 0o666)
    try:
        reply = _as_nobody(_raw_status(path))
    finally:
        os.chmod(path, 0o600)
        for p in (launcher["runtime"], d):
            os.chmod(p, 0o700)
    answer = json.loads(reply)
    assert answer["ok"] is False and "refused" in answer["error"] and "apps" not in answer
    # and the owner still gets through
    assert json.loads(_raw_status(path)())["ok"] is True


def test_client_is_light():
    code = ("import sys, tornado_launcher.cli, tornado_launcher.control.client\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'jupyter_client', 'zmq', 'tornado')"
            " or m in ('tornado_launcher.engine.session', 'tornado_launcher.config')]\n"
            "assert not heavy, heavy\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def _raw(path, request: bytes):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    with s:
        s.connect(path)
        s.sendall(request + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return json.loads(data)


@pytest.mark.parametrize("request_, field", [
    (b'{"cmd": "restart", "apps": 5}', "apps"),
    (b'{"cmd": "restart", "apps": "web"}', "apps"),  # never split into letters
    (b'{"cmd": "stop", "apps": [["web"]]}', "apps"),
    (b'{"cmd": "logs", "app": ["x"]}', "app"),
    (b'{"cmd": "logs", "app": "web", "lines": "3"}', "lines"),
    (b'{"cmd": "interrupt", "kernel": {"k": 1}}', "kernel"),
    (b'{"cmd": ["status"]}', "cmd"),
])
def test_wrong_typed_fields_get_a_sentence_not_a_traceback(launcher, request_, field):
    before = len(launcher["out"])
    reply = _raw(_socket_of(launcher), request_)
    assert reply["ok"] is False and f"'{field}' must be" in reply["error"], reply
    time.sleep(0.3)
    assert not any("Traceback" in line for line in launcher["out"][before:]), said(launcher)
    assert _get(launcher["url"])[0] == 200  # nothing was touched
    _, apps = status(launcher)
    assert apps["web"]["state"] == "running"
