"""Kernels started through a REAL Jupyter Kernel Gateway on loopback (REST + websocket).

One gateway for the module (`jupyter kernelgateway` on a free 127.0.0.1 port, listing kernels
allowed); each test starts a session whose kernel block names it with `gateway_url`."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import (
    PLAIN_APP,
    end_gateway,
    fetch,
    free_port,
    running_session,
    wait_for_gateway,
    wait_http,
    write_project,
)

from tornado_launcher.config import check
from tornado_launcher.engine.events import AppState, KernelState, ReloadEvent
from tornado_launcher.kernels import interpreter

TOKEN = "s3cret-token"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """A Kernel Gateway on 127.0.0.1 that wants a token; yields its URL."""
    try:
        import kernel_gateway  # noqa: F401
    except ImportError:
        pytest.fail("jupyter_kernel_gateway is not installed: run `./setup.sh --test` "
                    "(the `test` extra has it) or `.venv/bin/pip install jupyter_kernel_gateway`")
    root = tmp_path_factory.mktemp("gateway")
    port = free_port()
    env = interpreter.child_env()
    env["KG_AUTH_TOKEN"] = TOKEN
    env["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kernel_gateway", "--KernelGatewayApp.ip=127.0.0.1",
         f"--KernelGatewayApp.port={port}", "--JupyterWebsocketPersonality.list_kernels=True"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=open(root / "gateway.log", "wb"),
        start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_for_gateway(f"{url}/api", proc, root / "gateway.log", "the kernel gateway", TOKEN)
    try:
        yield url
    finally:
        end_gateway(proc, 10)


def gateway_hcl(url: str, port: int, remote_files: bool = False) -> str:
    return f'''
    kernel "gw" {{
      gateway_url   = "{url}"
      kernel_name   = "python3"
      gateway_token = "${{GW_TOKEN}}"
      remote_files  = {"true" if remote_files else "false"}
    }}

    app "web" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "gw"
      start  = "web.start()"
      options {{
        app_class   = "proj.web.App"
        argv        = ["--port={port}"]
        clear_cache = ["proj"]
      }}
    }}
    '''


def project(root: Path, url: str, port: int, remote_files: bool = False) -> Path:
    write_project(root, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                         "jaffle.hcl": gateway_hcl(url, port, remote_files)})
    return root / "jaffle.hcl"


async def kernels_on(url: str) -> list:
    from tornado.httpclient import AsyncHTTPClient

    r = await AsyncHTTPClient().fetch(f"{url}/api/kernels", headers={"Authorization": f"token {TOKEN}"})
    return [k["id"] for k in json.loads(r.body)]


def running(app="web"):
    return lambda e: isinstance(e, AppState) and e.app == app and e.state == "running"


@pytest.fixture
def token_env(monkeypatch):
    monkeypatch.setenv("GW_TOKEN", TOKEN)


@pytest.mark.timeout(30)
async def test_gateway_kernel_serves_reloads_and_is_shut_down_at_exit(tmp_path, gateway, token_env):
    port = free_port()
    async with running_session(project(tmp_path, gateway, port, remote_files=True)) as (s, rec):
        await rec.wait(running(), timeout=25)
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
        assert s._reloader._watcher is None  # the kernel behind the gateway watches the files
        kernel_id = s._kernels["gw"].kernel_id
        assert kernel_id in await kernels_on(gateway)
        assert s.kernels["gw"].pid not in (None, os.getpid())
        (tmp_path / "proj" / "web.py").write_text(PLAIN_APP.replace('"v1"', '"edited"'))
        await wait_http(f"http://127.0.0.1:{port}/", "edited", timeout=10)
        await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done")
        task = asyncio.ensure_future(s.execute("gw", "import time; time.sleep(20)"))
        await asyncio.sleep(0.5)
        await s.interrupt_kernel("gw")
        out = await asyncio.wait_for(task, 10)
        assert out["status"] == "error" and "KeyboardInterrupt" in out["traceback"]
    assert kernel_id not in await kernels_on(gateway)  # DELETEd at exit


@pytest.mark.timeout(30)
async def test_killed_gateway_kernel_is_seen_and_app_serves_again(tmp_path, gateway, token_env):
    port = free_port()
    async with running_session(project(tmp_path, gateway, port), auto_reload=False) as (s, rec):
        await rec.wait(running(), timeout=25)
        pid = s.kernels["gw"].pid
        mark = len(rec.events)
        os.kill(pid, signal.SIGKILL)
        dead = await rec.wait(lambda e: isinstance(e, KernelState) and e.kernel == "gw" and e.state == "dead",
                              start=mark, timeout=15)
        # the gateway's restarter noticed and restarted it; it said so on iopub
        assert "the gateway restarted it after it died" in dead.reason, dead.reason
        await rec.wait(running(), start=mark, timeout=20)
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
        assert s.kernels["gw"].pid != pid
        assert len(await kernels_on(gateway)) == 1  # the same kernel, restarted: no second one


@pytest.mark.timeout(30)
async def test_restart_button_restarts_the_kernel_through_the_gateway(tmp_path, gateway, token_env):
    port = free_port()
    async with running_session(project(tmp_path, gateway, port), auto_reload=False) as (s, rec):
        await rec.wait(running(), timeout=25)
        kernel_id, pid = s._kernels["gw"].kernel_id, s.kernels["gw"].pid
        mark = len(rec.events)
        await s.restart_kernel("gw")
        await rec.wait(running(), start=mark, timeout=20)
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
        assert s._kernels["gw"].kernel_id == kernel_id and s.kernels["gw"].pid != pid
        assert await kernels_on(gateway) == [kernel_id]


async def test_gateway_without_its_token_is_one_sentence(tmp_path, gateway, monkeypatch):
    monkeypatch.setenv("GW_TOKEN", "wrong")
    port = free_port()
    async with running_session(project(tmp_path, gateway, port), auto_reload=False) as (s, rec):
        failed = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "failed")
        assert "HTTP 403" in failed.reason or "HTTP 401" in failed.reason
        assert "gateway_token" in failed.reason


def test_check_reads_gateway_blocks(tmp_path, monkeypatch):
    monkeypatch.setenv("GW_TOKEN", "t")
    (tmp_path / "jaffle.hcl").write_text(gateway_hcl("http://127.0.0.1:9", 8000).replace(
        'kernel_name   = "python3"', 'kernel_name   = "only-on-the-gateway"'))
    config, diags = check(str(tmp_path / "jaffle.hcl"), kernelspecs=["python3"])
    assert not [d for d in diags if d.severity == "error"], diags
    k = config.kernels["gw"]
    assert (k.gateway_url, k.gateway_token, k.kernel_name) == ("http://127.0.0.1:9", "t", "only-on-the-gateway")
    (tmp_path / "jaffle.hcl").write_text(gateway_hcl("ftp://x", 8000))
    msgs = [str(d) for d in check(str(tmp_path / "jaffle.hcl"))[1] if d.severity == "error"]
    assert len(msgs) == 1 and ":3:" in msgs[0] and "not an http(s) URL" in msgs[0]


# -- the tunnel: apps reached through the kernel's connection (issue 24) ---------------

TUNNEL_APP = '''
import os
import tornado.web, tornado.websocket

BLOB = os.urandom(1 << 20)

class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("through the kernel")

class Blob(tornado.web.RequestHandler):
    async def get(self):
        for _ in range(int(self.get_argument("mb", "1"))):
            self.write(BLOB)
            await self.flush()

class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message("echo:" + message)

def make_app():
    return tornado.web.Application([(r"/", Hello), (r"/blob", Blob), (r"/ws", Echo)])
'''


def tunnel_project(root: Path, url: str, port: int) -> Path:
    write_project(root, {"proj/__init__.py": "", "proj/web.py": TUNNEL_APP, "jaffle.hcl": f'''
    kernel "gw" {{
      gateway_url   = "{url}"
      gateway_token = "${{GW_TOKEN}}"
      tunnel        = true
    }}

    app "web" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "gw"
      options {{
        app_class = "proj.web.make_app"
        port      = {port}
      }}
    }}
    '''})
    return root / "jaffle.hcl"


@pytest.mark.timeout(60)
async def test_the_app_is_reached_through_the_kernels_connection(tmp_path, gateway, token_env):
    from urllib.parse import urlsplit

    from tornado.httpclient import AsyncHTTPClient
    from tornado.websocket import websocket_connect

    port = free_port()
    async with running_session(tunnel_project(tmp_path, gateway, port), auto_reload=False) as (s, rec):
        state = await rec.wait(running(), timeout=25)
        (url,) = state.urls
        local = urlsplit(url).port
        # the app holds `port` on this same machine, so the tunnel's local port is another one
        assert urlsplit(url).hostname == "127.0.0.1" and local != port
        assert await fetch(url) == (200, "through the kernel")
        body = (await AsyncHTTPClient().fetch(f"{url}blob?mb=8", request_timeout=30)).body
        assert len(body) == 8 << 20
        ws = await websocket_connect(f"ws://127.0.0.1:{local}/ws")
        for i in range(20):
            await ws.write_message(f"m{i}")
            assert await asyncio.wait_for(ws.read_message(), 5) == f"echo:m{i}"
        ws.close()
        # a connection to a port the app does not serve ends, it does not hang
        assert s._kernels["gw"].tunnel.local_port(free_port()) > 0
    with socket.socket() as probe:  # the launcher's exit closed the local port
        assert probe.connect_ex(("127.0.0.1", local)) != 0


# -- sync: the project pushed to the kernel's filesystem (issue 24) ----------------------

SYNC_APP = '''
import os
import tornado.web
from proj import text

class Where(tornado.web.RequestHandler):
    def get(self):
        self.write("%s from %s" % (text.MESSAGE, os.path.dirname(os.path.abspath(__file__))))

def make_app():
    return tornado.web.Application([(r"/", Where)])
'''


@pytest.mark.timeout(60)
async def test_the_project_is_pushed_to_the_kernel_and_each_save_follows(tmp_path, gateway, token_env):
    from tornado_launcher.engine.events import LogRecord

    local, remote = tmp_path / "laptop", tmp_path / "kernel-machine"
    remote.mkdir()
    port = free_port()
    blob = os.urandom(300_000)
    write_project(local, {"proj/__init__.py": "", "proj/web.py": SYNC_APP, "proj/text.py": 'MESSAGE = "v1"\n',
                          ".git/HEAD": "ref: refs/heads/main\n", "proj/__pycache__/x.pyc": "",
                          "jaffle.hcl": f'''
    kernel "gw" {{
      gateway_url   = "{gateway}"
      gateway_token = "${{GW_TOKEN}}"
      remote_dir    = "{remote}"
      sync          = true
      tunnel        = true
    }}

    app "web" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "gw"
      options {{
        app_class = "proj.web.make_app"
        port      = {port}
      }}
    }}
    '''})
    (local / "data.bin").write_bytes(blob)
    async with running_session(local / "jaffle.hcl") as (s, rec):
        state = await rec.wait(running(), timeout=30)
        (url,) = state.urls
        assert await fetch(url) == (200, f"v1 from {remote / 'proj'}")  # the kernel's copy serves
        assert (remote / "data.bin").read_bytes() == blob
        assert not (remote / ".git").exists() and not (remote / "proj" / "__pycache__").exists()
        assert any("pushed the project to kernel 'gw'" in e.message for e in rec.events if isinstance(e, LogRecord))
        (local / "proj" / "text.py").write_text('MESSAGE = "edited on the laptop"\n')
        await wait_http(url, f"edited on the laptop from {remote / 'proj'}", timeout=15)
        (local / "proj" / "extra.py").write_text("X = 1\n")
        (local / "data.bin").unlink()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and ((remote / "data.bin").exists()
                                               or not (remote / "proj" / "extra.py").exists()):
            await asyncio.sleep(0.1)
        assert not (remote / "data.bin").exists() and (remote / "proj" / "extra.py").read_text() == "X = 1\n"
