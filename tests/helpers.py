"""Shared test helpers: projects on disk, free ports, real HTTP, event waits.

Everything here is real: projects are written to tmp dirs, ports come from the
OS, requests go over loopback with Tornado's HTTP client.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from tornado.httpclient import AsyncHTTPClient, HTTPClientError

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "tornado_launcher" / "resources" / "demo"

#: a minimal app to the reference's start/stop contract, taking argv in __init__
PLAIN_APP = '''
import logging
import tornado.httpserver, tornado.ioloop, tornado.web

log = logging.getLogger(__name__)
MESSAGE = "v1"

class Hello(tornado.web.RequestHandler):
    def get(self):
        log.info("hello from %s", self.application.label)
        print("printed by", self.application.label)
        self.write(MESSAGE)

class App:
    def __init__(self, argv):
        self.port = int([a for a in argv if a.startswith("--port=")][0].split("=", 1)[1])
        self.label = ([a.split("=", 1)[1] for a in argv if a.startswith("--label=")] or ["app"])[0]

    def start(self):
        web = tornado.web.Application([(r"/", Hello)])
        web.label = self.label
        self.http_server = tornado.httpserver.HTTPServer(web)
        self.http_server.listen(self.port, address="127.0.0.1")
        self.io_loop = tornado.ioloop.IOLoop.current()
        self.io_loop.start()

    def stop(self):
        def _stop():
            self.http_server.stop()
            self.io_loop.stop()
        self.io_loop.add_callback(_stop)
'''




def _ephemeral_range() -> tuple:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 65535  # Linux's default low bound; macOS/BSD use 49152-65535


def free_port() -> int:
    """A free port OUTSIDE the OS's ephemeral range, as the ports users give their apps are.

    A port the OS hands out for ``bind(("", 0))`` is an ephemeral one: while a test's app is not
    listening on it (before its start, or stopped for a restart) any process on the machine may
    be handed it (another ``bind(("", 0))``, the local end of an outgoing connection, or the
    loopback port ipykernel binds for its subprocess pipe) and then the app's start fails with
    "address in use" (seen in full runs: "held by this kernel").  Below the ephemeral range
    only an explicit bind can take it.
    """
    import random

    low, _ = _ephemeral_range()
    floor = max(1024, min(20000, low - 4096))
    for _ in range(200):
        port = random.randint(floor, low - 1)
        if port_is_free(port):
            return port
    with socket.socket() as s:  # a machine with no room below the range: the OS's pick
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: an app a test stops and starts again needs nothing more than any test port now
restart_port = free_port


def port_is_free(port: int) -> bool:
    """Whether a new server could listen on the port now (as Tornado does, with SO_REUSEADDR,
    so connections of the old server lingering in TIME_WAIT do not count)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


def write_project(root: Path, files: Dict[str, str]) -> Path:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).lstrip("\n") if rel.endswith(".hcl") else text)
    return root


def copy_demo(dest: Path, web_port: int, api_port: int) -> Path:
    shutil.copytree(DEMO, dest, ignore=shutil.ignore_patterns("__pycache__"))
    hcl = dest / "jaffle.hcl"
    hcl.write_text(hcl.read_text().replace("8765", str(web_port)).replace("8766", str(api_port)))
    return hcl


async def fetch(url: str, timeout: float = 10.0) -> tuple:
    """(status, body) of a real GET; status 599 when nothing answers."""
    client = AsyncHTTPClient()
    try:
        r = await client.fetch(url, request_timeout=timeout, connect_timeout=timeout, raise_error=False)
        return r.code, r.body.decode("utf-8", "replace")
    except (OSError, HTTPClientError) as e:
        return 599, str(e)


class Recorder:
    """Subscribes to a session and lets tests wait for events."""

    def __init__(self) -> None:
        self.events: List[Any] = []
        self._changed = asyncio.Event()

    def __call__(self, event: Any) -> None:
        self.events.append(event)
        self._changed.set()

    async def wait(self, pred: Callable[[Any], bool], timeout: float = 30.0, start: int = 0) -> Any:
        deadline = time.monotonic() + timeout
        seen = start
        while True:
            for ev in self.events[seen:]:
                if pred(ev):
                    return ev
            seen = len(self.events)
            left = deadline - time.monotonic()
            if left <= 0:
                tail = "\n".join(repr(e) for e in self.events[-40:])
                raise AssertionError(f"event not seen within {timeout} s; last events:\n{tail}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    def logs(self, app: Optional[str] = None) -> List[str]:
        from tornado_launcher.engine.events import LogRecord

        return [e.message for e in self.events if isinstance(e, LogRecord) and (app is None or e.app == app)]


async def wait_http(url: str, expect: Optional[str] = None, timeout: float = 30.0) -> str:
    """Poll a URL until it answers 200 (with ``expect`` in the body): tests only."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        code, body = await fetch(url, timeout=5)
        last = (code, body[:200])
        if code == 200 and (expect is None or expect in body):
            return body
        await asyncio.sleep(0.05)
    raise AssertionError(f"{url} did not serve {expect!r} within {timeout} s; last: {last}")


@asynccontextmanager
async def running_session(config_path: Path, **kw: Any):
    from tornado_launcher.config import load
    from tornado_launcher.engine.session import Session

    session = Session(load(config_path), **kw)
    rec = Recorder()
    session.subscribe(rec)
    try:
        await session.start()
        yield session, rec
    finally:
        await session.shutdown()


def kernel_processes() -> List[int]:
    """PIDs of kernel processes (ipykernel, problemkernel) that are descendants of this test process."""
    me = os.getpid()
    parents: Dict[int, int] = {}
    cmd: Dict[int, str] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd[int(d)] = f.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        # field 4 is ppid; the command in parentheses may contain spaces
        parents[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])

    def descends(pid: int) -> bool:
        seen = set()
        while pid in parents and pid not in seen:
            seen.add(pid)
            pid = parents[pid]
            if pid == me:
                return True
        return False

    def is_kernel(pid: int) -> bool:  # ipykernel, or the tests' own problem kernels
        return any(word in cmd.get(pid, "") for word in ("ipykernel", "problemkernel"))

    return [p for p in parents if is_kernel(p) and descends(p) and _alive(p)]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def web_app_hcl(port: int, *, start: str = None, extra_options: str = "", kernel_block: bool = True) -> str:
    """Config text for one TornadoBridgeApp ``web`` serving PLAIN_APP (proj/web.py) on ``port``
    in kernel ``k``: the kernel block too unless ``kernel_block`` is false."""
    start_line = f"\n  start  = {json.dumps(start)}" if start else ""
    extra = f"\n    {extra_options}" if extra_options else ""
    kernel = 'kernel "k" {}\n' if kernel_block else ""
    return (f'{kernel}app "web" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"{start_line}\n'
            f'  options {{\n    app_class = "proj.web.App"\n    argv      = ["--port={port}"]{extra}\n  }}\n}}\n')


def plain_project(root: Path, hcl: str) -> Path:
    """proj/web.py (PLAIN_APP) and ``hcl`` as jaffle.hcl under ``root``; returns the config's path."""
    write_project(root, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": hcl})
    return root / "jaffle.hcl"


#: an app whose handlers misbehave on purpose: /spin spins (bounded, so a failed
#: interrupt cannot wedge the test machine), /sleep sleeps, / answers MESSAGE
HANG_APP = '''
import time
import tornado.httpserver, tornado.ioloop, tornado.web

MESSAGE = "v1"


class Spin(tornado.web.RequestHandler):
    def get(self):
        end = time.monotonic() + float(self.get_argument("seconds", "30"))
        while time.monotonic() < end:
            pass
        self.write("spun")


class Sleep(tornado.web.RequestHandler):
    def get(self):
        time.sleep(float(self.get_argument("seconds")))
        self.write("slept")


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write(MESSAGE)


class App:
    def __init__(self, argv):
        self.port = int([a for a in argv if a.startswith("--port=")][0].split("=", 1)[1])

    def start(self):
        web = tornado.web.Application([(r"/", Hello), (r"/spin", Spin), (r"/sleep", Sleep)])
        self.http_server = tornado.httpserver.HTTPServer(web)
        self.http_server.listen(self.port, address="127.0.0.1")
        self.io_loop = tornado.ioloop.IOLoop.current()
        self.io_loop.start()

    def stop(self):
        def _stop():
            self.http_server.stop()
            self.io_loop.stop()
        self.io_loop.add_callback(_stop)
'''


def line_of(text: str, needle: str) -> int:
    """The 1-based number of the first line of ``text`` containing ``needle``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def wait_for_gateway(url: str, proc: "subprocess.Popen", log: Path, what: str, token: str = "",
                     timeout: float = 60.0) -> None:
    """A gateway started by a test answers ``url`` (with ``token``), or the test fails with its log's end."""
    import urllib.request

    headers = {"Authorization": f"token {token}"} if token else {}
    deadline = time.monotonic() + timeout
    while True:  # tests only: the gateway is another process, nothing signals its readiness
        try:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{what} did not start: " + log.read_text()[-3000:]) from None
            time.sleep(0.2)


def end_gateway(proc: "subprocess.Popen", grace: float = 15.0) -> None:
    """SIGTERM to a test's gateway (its process group when it leads one), SIGKILL after ``grace``."""
    import signal

    def send(sig: int) -> None:
        try:
            os.killpg(proc.pid, sig) if os.getpgid(proc.pid) == proc.pid else proc.send_signal(sig)
        except ProcessLookupError:
            pass

    send(signal.SIGTERM)
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        send(signal.SIGKILL)
        proc.wait(10)


# ------------------------------------------------ another machine: a network namespace (root, iproute2)
def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=10)


def namespace_pids(name: str) -> set:
    """The pids of the processes running in network namespace ``name``."""
    r = ip("netns", "pids", name, check=False)
    return {int(p) for p in r.stdout.split()}


@contextmanager
def veth_namespace():
    """(namespace, this side's address, the namespace's address): a veth pair in a /30 of
    10.213.0.0/16 nobody else uses here; at the end its processes are killed and both are gone."""
    tag = f"{os.getpid() % 10000}{random.randrange(100):02d}"
    name, host_if, far_if = f"tl-{tag}", f"tlh{tag}", f"tlf{tag}"
    used = ip("-4", "-o", "addr").stdout
    while True:
        third, fourth = random.randrange(256), random.randrange(64) * 4
        host_addr, far_addr = f"10.213.{third}.{fourth + 1}", f"10.213.{third}.{fourth + 2}"
        if host_addr + "/" not in used and far_addr + "/" not in used:
            break
    try:
        ip("netns", "add", name)
        ip("link", "add", host_if, "type", "veth", "peer", "name", far_if)
        ip("link", "set", far_if, "netns", name)
        ip("addr", "add", f"{host_addr}/30", "dev", host_if)
        ip("link", "set", host_if, "up")
        ip("-n", name, "addr", "add", f"{far_addr}/30", "dev", far_if)
        ip("-n", name, "link", "set", far_if, "up")
        ip("-n", name, "link", "set", "lo", "up")
        yield name, host_addr, far_addr
    finally:  # even when a step above failed
        for pid in namespace_pids(name):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        ip("link", "del", host_if, check=False)
        ip("netns", "del", name, check=False)
        assert name not in ip("netns", "list", check=False).stdout
        assert host_if not in ip("link", check=False).stdout
