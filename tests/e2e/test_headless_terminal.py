"""`tornado-launcher start` and its terminal (issue 19, items 5-7): a stdout nobody reads, a
reader that went away (`| head -3`), the terminal closed (SIGHUP), a second `start` of the
same config.  Real launcher subprocesses, real kernels, real HTTP."""

import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port, port_is_free, web_app_hcl, write_project

EXE = [sys.executable, "-m", "tornado_launcher"]

#: an app whose /flood?n=N prints N lines (each its own log line in the launcher)
FLOOD_APP = '''
import tornado.httpserver, tornado.ioloop, tornado.web

class Flood(tornado.web.RequestHandler):
    def get(self):
        n = int(self.get_argument("n", "1"))
        for i in range(n):
            print("flood line %d of %d, padded to look like a real log line ........" % (i, n))
        self.write("flooded %d" % n)

class App:
    def __init__(self, argv):
        self.port = int([a for a in argv if a.startswith("--port=")][0].split("=", 1)[1])

    def start(self):
        web = tornado.web.Application([(r"/flood", Flood), (r"/", Flood)])
        self.http_server = tornado.httpserver.HTTPServer(web)
        self.http_server.listen(self.port, address="127.0.0.1")
        self.io_loop = tornado.ioloop.IOLoop.current()
        self.io_loop.start()
'''



@pytest.fixture
def project(tmp_path):
    port = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": FLOOD_APP,
                             "jaffle.hcl": web_app_hcl(port, start="web.start()")})
    runtime = Path(tempfile.mkdtemp(prefix="tlrun-"))  # short: a socket path has ~100 bytes
    env = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1", XDG_RUNTIME_DIR=str(runtime))
    yield {"root": tmp_path, "port": port, "env": env, "runtime": runtime}
    subprocess.run(["rm", "-rf", str(runtime)])


def _start(project, *args, **kw):
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen(EXE + ["start", *args], cwd=project["root"], env=project["env"], text=True, **kw)


def _until_serving(proc, timeout=90):
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "serving at" in line:
            return lines
    raise AssertionError("never served:\n" + "".join(lines))


def _get(url, timeout=30):
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return resp.status, resp.read().decode()


def _ctl(project, *args, timeout=60):
    return subprocess.run(EXE + list(args), cwd=project["root"], env=project["env"], capture_output=True,
                          text=True, timeout=timeout)


def _runtime_dirs_of(pid):
    from tornado_launcher.kernels.runtime_dir import RUNTIME_OWNER_FILE, RUNTIME_PREFIX

    found = []
    for path in glob.glob(os.path.join(tempfile.gettempdir(), RUNTIME_PREFIX + "*")):
        try:
            with open(os.path.join(path, RUNTIME_OWNER_FILE)) as f:
                if int(f.read().split()[0]) == pid:
                    found.append(path)
        except (OSError, ValueError, IndexError):
            pass
    return found


def _sockets(project):
    return glob.glob(os.path.join(str(project["runtime"]), "tornado-launcher", "*.sock"))


def _ended_cleanly(project, proc, before_exit):
    """After its exit: the port is free, its runtime directory and control socket are gone."""
    assert before_exit, "the launcher made no runtime directory"
    assert port_is_free(project["port"])
    assert not _runtime_dirs_of(proc.pid)
    assert not _sockets(project)


def _stop(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_sighup_shuts_down_like_sigterm(project):
    proc = _start(project)
    try:
        _until_serving(proc)
        assert _get(f"http://127.0.0.1:{project['port']}/flood?n=1")[0] == 200
        dirs = _runtime_dirs_of(proc.pid)
        assert _sockets(project)
        proc.send_signal(signal.SIGHUP)  # the terminal was closed
        out, err = proc.communicate(timeout=30)
    finally:
        _stop(proc)
    assert proc.returncode == 0, err
    assert "shutting down" in out and "Traceback" not in err
    _ended_cleanly(project, proc, dirs)


def test_a_second_start_refuses_and_names_the_first(project):
    first = _start(project)
    try:
        _until_serving(first)
        r = subprocess.run(EXE + ["start"], cwd=project["root"], env=project["env"], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2, (r.stdout, r.stderr)
        assert f"pid {first.pid}" in r.stderr and "tornado-launcher status" in r.stderr, r.stderr
        assert "--allow-second" in r.stderr and "Traceback" not in r.stderr + r.stdout
        assert "kernel starting" not in r.stdout  # nothing was started
        # the first one is untouched: it serves and its control socket still answers
        assert _get(f"http://127.0.0.1:{project['port']}/flood?n=1") == (200, "flooded 1")
        st = _ctl(project, "status", "--json")
        assert st.returncode == 0 and json.loads(st.stdout)["pid"] == first.pid, st.stderr
        # told otherwise, a second one starts (its app then meets the port in use: that is the user's call)
        allowed = _start(project, "--allow-second")
        try:
            line = allowed.stdout.readline()
            assert "kernel starting" in line or "launcher" in line, line
            time.sleep(0.5)
            assert allowed.poll() is None, allowed.stderr.read()
        finally:
            allowed.send_signal(signal.SIGINT)
            allowed.communicate(timeout=30)
        assert _ctl(project, "status", "--json").returncode == 0  # still the first's socket
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=30)
        _stop(first)


def test_stdout_nobody_reads_does_not_freeze_the_launcher(project):
    """A paused `| less`: the pipe fills, the launcher still answers and Ctrl+C still ends it."""
    proc = _start(project)
    try:
        _until_serving(proc)
        dirs = _runtime_dirs_of(proc.pid)
        # from now on nobody reads: ~4 MB of lines, 60 times a pipe's buffer
        for _ in range(10):
            assert _get(f"http://127.0.0.1:{project['port']}/flood?n=5000", timeout=60)[0] == 200
        st = _ctl(project, "status", "--json", "--timeout", "30")
        assert st.returncode == 0, st.stderr
        assert json.loads(st.stdout)["apps"][0]["state"] == "running"
        # the reader comes back: it is told how many lines it missed, then sees the present
        marker = "lines not shown: the output was not read fast enough"
        seen = []
        while not any(marker in line for line in seen):
            seen.append(proc.stdout.readline())
            assert seen[-1], "".join(seen[-20:])
            assert len(seen) < 50_000, "no count of the dropped lines"
        # paused again, then Ctrl+C
        for _ in range(10):
            assert _get(f"http://127.0.0.1:{project['port']}/flood?n=5000", timeout=60)[0] == 200
        proc.send_signal(signal.SIGINT)
        proc.wait(30)  # still not reading its stdout
    finally:
        _stop(proc)
    assert proc.returncode == 0
    _ended_cleanly(project, proc, dirs)


def test_reader_gone_like_head_3(project):
    """`start | head -3`: once head exits no traceback per line, and Ctrl+C still stops the apps."""
    proc = _start(project)
    try:
        _until_serving(proc)  # (the first lines: "kernel starting", "serving at ...")
        proc.stdout.close()  # head exits
        dirs = _runtime_dirs_of(proc.pid)
        for _ in range(3):
            assert _get(f"http://127.0.0.1:{project['port']}/flood?n=500")[0] == 200
        assert _ctl(project, "status", "--json").returncode == 0
        proc.send_signal(signal.SIGINT)
        err = proc.stderr.read()
        proc.wait(30)
    finally:
        _stop(proc)
    assert "Traceback" not in err and "BrokenPipe" not in err, err[-3000:]
    assert proc.returncode == 0
    _ended_cleanly(project, proc, dirs)
