"""Faults the launcher must survive as a whole program (issue 13): killed outright,
Ctrl+C with a hung or a stopped kernel, runtime directories left behind.

Real launcher subprocesses, real kernels, real ports.
"""

import json
import os
import signal
import subprocess
import sys
import time

from helpers import PLAIN_APP, free_port, port_is_free, write_project

EXE = [sys.executable, "-m", "tornado_launcher"]
ENV = dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1")


def _stat(pid):
    """(state, pgid) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[2])


def _live_members(pgid):
    """Members of a process group that are not zombies (PID 1 here does not reap orphans)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = _stat(int(d))
            if st is not None and st[1] == pgid and st[0] != "Z":
                out.append(int(d))
    return out


def _launch(cwd):
    return subprocess.Popen(EXE + ["start"], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=ENV)


def _read_until(proc, text, timeout=60):
    lines = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if text in line:
            return "".join(lines)
    raise AssertionError(f"never saw {text!r}:\n" + "".join(lines))


def _wait_listening(port, timeout=30):
    deadline = time.monotonic() + timeout
    while port_is_free(port):
        assert time.monotonic() < deadline, f"nothing listens on {port}"
        time.sleep(0.05)


def _listener_pid(port):
    """The pid whose socket listens on 127.0.0.1:port (via /proc/net/tcp and fd links)."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for row in f.readlines()[1:]:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].split(":")[1], 16) == port:
                inodes.add(cols[9])
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            for fd in os.listdir(f"/proc/{d}/fd"):
                link = os.readlink(f"/proc/{d}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(d)
        except OSError:
            continue
    raise AssertionError(f"no process found listening on {port}")


def test_sigkilled_launcher_takes_a_process_block_group_along(tmp_path):
    """`sh -c "python -m http.server"`: dash forks, so PDEATHSIG on sh alone would leave python serving."""
    port = free_port()
    command = f'sh -c "{sys.executable} -m http.server {port} --bind 127.0.0.1"'
    write_project(tmp_path, {"jaffle.hcl": f'process "static" {{\n  command = {json.dumps(command)}\n}}\n'})
    proc = _launch(tmp_path)
    try:
        _read_until(proc, "static")
        _wait_listening(port)
        server = _listener_pid(port)
        pgid = _stat(server)[1]
        members = _live_members(pgid)
        assert server in members and len(members) >= 3, members  # guard, sh -c, sh, python
        proc.kill()
        proc.wait()
        t0 = time.monotonic()
        while (_live_members(pgid) or not port_is_free(port)) and time.monotonic() - t0 < 2.0:
            time.sleep(0.02)
        assert _live_members(pgid) == [], "left running 2 s after the launcher died"
        assert port_is_free(port)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _runtime_dirs_of(pid):
    import tempfile

    from tornado_launcher.kernels.kernel import RUNTIME_OWNER_FILE, RUNTIME_PREFIX

    base = tempfile.gettempdir()
    found = []
    for name in os.listdir(base):
        path = os.path.join(base, name)
        try:
            with open(os.path.join(path, RUNTIME_OWNER_FILE)) as f:
                if name.startswith(RUNTIME_PREFIX) and int(f.read().split()[0]) == pid:
                    found.append(path)
        except (OSError, ValueError, IndexError):
            pass
    return found


def test_a_later_start_removes_the_runtime_directory_of_a_killed_launcher(tmp_path):
    write_project(tmp_path, {"jaffle.hcl": 'process "idle" {\n  command = "sleep 60"\n}\n'})
    first = _launch(tmp_path)
    second = None
    try:
        _read_until(first, "started")
        left = _runtime_dirs_of(first.pid)
        assert len(left) == 1 and oct(os.stat(left[0]).st_mode & 0o777) == "0o700"
        first.kill()
        first.wait()
        assert os.path.isdir(left[0])  # SIGKILL: nobody removed it
        second = _launch(tmp_path)
        _read_until(second, "started")
        assert not os.path.exists(left[0])
        mine = _runtime_dirs_of(second.pid)
        assert len(mine) == 1  # the live launcher's own directory stays
        second.send_signal(signal.SIGINT)
        second.communicate(timeout=30)
        assert not os.path.exists(mine[0])
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()


#: PLAIN_APP plus a handler that blocks the kernel's loop for good: it even
#: swallows the KeyboardInterrupt that jupyter_client's shutdown sends first.
SPIN_APP = PLAIN_APP.replace("class App:", '''
class Spin(tornado.web.RequestHandler):
    def get(self):
        while True:
            try:
                while True:
                    pass
            except BaseException:
                pass

class App:''').replace('[(r"/", Hello)]', '[(r"/", Hello), (r"/spin", Spin)]')


def _start_with_a_kernel(tmp_path):
    from helpers import kernel_processes, web_app_hcl

    port = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": SPIN_APP,
                             "jaffle.hcl": web_app_hcl(port, start="web.start()")})
    proc = _launch(tmp_path)
    out = _read_until(proc, "serving at")
    kernels = kernel_processes()
    assert len(kernels) == 1, (kernels, out)
    return proc, port, kernels[0]


def _hang(port):
    import threading
    import urllib.request

    def get():
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/spin", timeout=30)
        except OSError:
            pass

    threading.Thread(target=get, daemon=True).start()
    time.sleep(0.5)  # the request reached the handler: the kernel's loop spins


def _gone(pid):
    st = _stat(pid)
    return st is None or st[0] == "Z"


def _interrupt_and_time(proc, pid, second_after=None):
    t0 = time.monotonic()
    proc.send_signal(signal.SIGINT)
    if second_after is not None:
        time.sleep(second_after)
        proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    took = time.monotonic() - t0
    deadline = time.monotonic() + 1.0  # SIGKILL is delivered, the exit may trail by a tick
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    print(f"Ctrl+C to exit: {took:.2f} s")
    return took, out


def _kill_leftovers(proc, kernel):
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if not _gone(kernel):
        os.kill(kernel, signal.SIGKILL)


def test_ctrl_c_with_a_kernel_whose_loop_is_blocked_finishes_within_5_s(tmp_path):
    proc, port, kernel = _start_with_a_kernel(tmp_path)
    try:
        _hang(port)
        took, out = _interrupt_and_time(proc, kernel)
        assert proc.returncode == 0, out
        assert took < 5.0, out
        assert _gone(kernel), out
        assert port_is_free(port)
    finally:
        _kill_leftovers(proc, kernel)


def test_ctrl_c_with_a_stopped_kernel_finishes_within_5_s(tmp_path):
    proc, port, kernel = _start_with_a_kernel(tmp_path)
    try:
        os.kill(kernel, signal.SIGSTOP)
        took, out = _interrupt_and_time(proc, kernel)
        assert proc.returncode == 0, out
        assert took < 5.0, out
        assert _gone(kernel), out
    finally:
        _kill_leftovers(proc, kernel)


def test_a_second_ctrl_c_during_shutdown_kills_everything_at_once(tmp_path):
    proc, port, kernel = _start_with_a_kernel(tmp_path)
    try:
        _hang(port)
        took, out = _interrupt_and_time(proc, kernel, second_after=0.3)
        assert proc.returncode == 130, out
        assert took < 0.3 + 1.0, out
        assert "killing every kernel and process now" in out
        assert _gone(kernel), out
    finally:
        _kill_leftovers(proc, kernel)
