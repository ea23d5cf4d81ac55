"""ipykernel's pipe for output of forked subprocesses (see tornado_launcher/kernels/kernel_pipe.py).

* A kernel the launcher starts from a Python listens on no TCP port: its pipe is an IPC
  socket in the private runtime directory, which another user cannot reach; a forked
  child's output still arrives.
* A stock kernel (a kernelspec the launcher does not rewrite) keeps ipykernel's loopback
  port: 50,000 wrong-key messages from another user (uid 65534, ``setpriv``) become one
  report per interval under the kernel; the app's own log history is what the app wrote.
"""

import asyncio
import json
import os
import shutil
import stat
import sys
import time

import pytest
from helpers import PLAIN_APP, Recorder, free_port, running_session, wait_http, write_project

from tornado_launcher.engine.events import LogRecord
from tornado_launcher.kernels import kernel_pipe
from tornado_launcher.kernels.kernel import PIPE_LOGGER, Kernel, make_runtime_dir, remove_runtime_dir
from tornado_launcher.kernels.streams import PARTIAL_LINE_WAIT

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
FLOOD = 50_000

#: run as another user: push ``count`` wrong-key messages to ``address``; prints "sent"
FLOODER = r"""
import sys, time, zmq
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)
push.linger = 60000
push.connect(sys.argv[1])
for i in range(int(sys.argv[2])):
    push.send_multipart([b"not-the-key", b"INJECTED %d %%s into the log" % i])
# ZeroMQ drops what the kernel has queued but not yet read from a peer that disconnects (up to
# its receive high-water mark, 1,000): stay connected until the kernel has read everything
time.sleep(3)
push.close()
ctx.term()
print("sent")
"""

#: run as another user: can it connect to the Unix socket ``path``?
CONNECT = r"""
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
    print("connected")
except OSError as e:
    print(type(e).__name__)
"""


def _tcp_listeners(pid):
    """(address, port) of every listening TCP socket the process holds (IPv4 and IPv6)."""
    mine = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            mine.add(link[8:-1])
    out = []
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            for row in f.readlines()[1:]:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in mine:  # LISTEN
                    addr, port = cols[1].split(":")
                    out.append((addr, int(port, 16)))
    return out


def _as_nobody_available():
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


async def _as_nobody(script, *args, timeout=120):
    proc = await asyncio.create_subprocess_exec(*NOBODY, sys.executable, "-c", script, *args,
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode == 0, err.decode()
    return out.decode().strip()


async def test_our_kernel_has_no_tcp_port_and_its_pipe_is_private_and_works(tmp_path, monkeypatch):
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)  # as outside pytest: ipykernel captures fds
    rec = Recorder()
    runtime = make_runtime_dir()
    k = Kernel("k", cwd=str(tmp_path), runtime_dir=runtime, on_event=rec, on_death=lambda r: None)
    try:
        await k.start()
        assert _tcp_listeners(k.pid) == []
        pipe = os.path.join(runtime, "k" + kernel_pipe.boot.PIPE_SUFFIX)
        assert stat.S_ISSOCK(os.stat(pipe).st_mode)
        assert stat.S_IMODE(os.stat(runtime).st_mode) & 0o777 == 0o700
        if _as_nobody_available():
            assert await _as_nobody(CONNECT, pipe) == "PermissionError"
        # a forked child's print reaches the launcher through that pipe, as with stock ipykernel
        reply = await k.execute("import os\npid = os.fork()\nif pid == 0:\n"
                                "    print('from the forked child', flush=True)\n    os._exit(0)\n"
                                "os.waitpid(pid, 0)\n")
        assert reply["status"] == "ok", reply
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.message == "from the forked child", timeout=10)
        assert "".join((await k.execute("import sys\nprint(sys.argv[0])", capture=True))["stdout"]).strip().endswith(
            "ipykernel_launcher.py")  # what user code sees, as under ipykernel_launcher

        # the same user may still push wrong-key messages: counted in the kernel, one line per interval
        t0 = time.monotonic()
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", FLOODER, "ipc://" + pipe, "5000",
                                                    stdout=asyncio.subprocess.PIPE)
        assert (await asyncio.wait_for(proc.communicate(), 60))[0].strip() == b"sent"
        await _reports_add_up(rec, k, 5000)
        assert all("private directory" in m for m in _reports(rec))
        assert not any("INJECTED" in m or "%s" in m for m in rec.logs())
        assert time.monotonic() - t0 < 60
    finally:
        await k.shutdown()
        remove_runtime_dir(runtime)


def _reports(rec):
    return [e.message for e in rec.events if isinstance(e, LogRecord) and e.logger == PIPE_LOGGER]


async def _reports_add_up(rec, kernel, count, timeout=60):
    deadline = time.monotonic() + timeout
    while kernel.rejected.total < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert kernel.rejected.total == count
    # the last interval's report comes at most INTERVAL after its first message
    await rec.wait(lambda e: sum(_count(m) for m in _reports(rec)) >= count, timeout=3 * kernel_pipe.INTERVAL)
    assert sum(_count(m) for m in _reports(rec)) == count


def _count(message):
    return int(message.split()[1].replace(",", ""))


@pytest.fixture
def stock_kernelspec(tmp_path, monkeypatch):
    """A kernelspec the launcher does not rewrite (``-s`` before ``-m``): stock ipykernel, TCP pipe."""
    d = tmp_path / "jupyter" / "kernels" / "stock"
    d.mkdir(parents=True)
    (d / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-s", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "stock ipykernel", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    # as outside pytest: ipykernel captures fd 1 and 2 (its lines then come back on iopub too)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)


@pytest.mark.skipif(not _as_nobody_available(),
                    reason="needs root and setpriv to act as another user (CI runs as root)")
async def test_another_user_flooding_a_stock_kernels_pipe_port_cannot_touch_the_apps_log(tmp_path, stock_kernelspec):
    port = free_port()
    files = {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
             "jaffle.hcl": f'kernel "k" {{ kernel_name = "stock" }}\n'
                           f'app "web" {{\n  class = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
                           f'  options {{\n    app_class = "proj.web.App"\n    argv = ["--port={port}"]\n  }}\n}}\n'}
    config = write_project(tmp_path / "p", files) / "jaffle.hcl"
    async with running_session(config, auto_reload=False) as (s, rec):
        k = s.kernel("k")
        await wait_http(f"http://127.0.0.1:{port}/", "v1")
        for _ in range(5):
            await wait_http(f"http://127.0.0.1:{port}/", "v1")
        for what in ("printed by app", "hello from app", "200 GET / "):  # all six requests' lines are in
            await rec.wait(lambda e: sum(what in m for m in rec.logs("web")) >= 6)
        before = rec.logs("web")
        (pipe_port,) = [p for a, p in _tcp_listeners(k.pid) if a == "0100007F" and p != port]  # 127.0.0.1

        t0 = time.monotonic()
        assert await _as_nobody(FLOODER, f"tcp://127.0.0.1:{pipe_port}", str(FLOOD)) == "sent"
        await _reports_add_up(rec, k, FLOOD)
        took = time.monotonic() - t0
        await asyncio.sleep(2 * PARTIAL_LINE_WAIT)  # a line cut between two iopub chunks would show by now

        # the app's history is what the app wrote; nothing of the flood is anywhere in the log
        assert rec.logs("web") == before
        assert not any("INJECTED" in m or "Bad pipe" in m or "%s" in m for m in rec.logs())
        reports = [e for e in rec.events if isinstance(e, LogRecord) and e.logger == PIPE_LOGGER]
        assert all(e.app is None and e.kernel == "k" and e.level == "WARNING" for e in reports)
        assert reports[0].message.startswith("rejected ") and "ipykernel's pipe port" in reports[0].message
        # one report per interval: never more than the flood's duration allows
        assert len(reports) <= took / kernel_pipe.INTERVAL + 2, (len(reports), took)
        print(f"\n{FLOOD} wrong-key messages from uid 65534 in {took:.1f} s -> {len(reports)} report line(s)")


async def test_cell_output_lines_cut_between_two_chunks_are_whole_again(tmp_path):
    # ipykernel sends what it has every 0.2 s (and on flush), cut anywhere: a line is one record
    rec = Recorder()
    runtime = make_runtime_dir()
    k = Kernel("k", cwd=str(tmp_path), runtime_dir=runtime, on_event=rec, on_death=lambda r: None)
    try:
        await k.start()
        code = ("import time\n"
                "print('hello ', end='', flush=True); time.sleep(0.1); print('world', flush=True)\n"
                "print('Bad pipe mes', end='', flush=True); time.sleep(0.1)\n"
                "print(\"sage: %s [b'not-the-key', b'INJECTED']\", flush=True)\n"
                "print('prompt> ', end='', flush=True)\n")
        assert (await k.execute(code))["status"] == "ok"
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.message == "prompt> ", timeout=10)
        lines = [e.message for e in rec.events if isinstance(e, LogRecord) and e.logger == "stdout"]
        assert lines == ["hello world", "prompt> "], lines
    finally:
        await k.shutdown()
        remove_runtime_dir(runtime)
