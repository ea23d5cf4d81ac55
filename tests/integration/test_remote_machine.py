"""A kernel on "another machine": a network namespace with its own address, its own Kernel
Gateway and an empty project directory (issue 24).

The test makes the machine itself (root: `ip netns add`, a veth pair with a private /30 it
chooses, removed at the end, whatever happens) and keeps all traffic on it and on loopback.
From this side only the gateway's port is reachable: the app listens on the namespace's own
loopback, so it is reached only through the tunnel; its files reach it only through `sync`.
"""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.helpers import (
    fetch,
    free_port,
    namespace_pids,
    running_session,
    veth_namespace,
    wait_for_gateway,
    wait_http,
    write_project,
)
from tornado_launcher.engine.events import AppState, KernelState
from tornado_launcher.kernels import interpreter

TOKEN = "far-away-token"

APP = '''
import os
import tornado.web, tornado.websocket
from proj import text

class Where(tornado.web.RequestHandler):
    def get(self):
        self.write("%s from %s" % (text.MESSAGE, os.path.dirname(os.path.abspath(__file__))))

class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, message):
        self.write_message(text.MESSAGE + ":" + message)

def make_app():
    return tornado.web.Application([(r"/", Where), (r"/ws", Echo)])
'''


@pytest.fixture
def machine(tmp_path):
    """(namespace name, its address, host address): a /30 of 10.213.0.0/16 nobody else uses here."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        if os.environ.get("CI"):
            pytest.fail("CI runs as root with iproute2 (setup.sh --test): the network namespace must work here")
        pytest.skip("needs root and iproute2 (`ip netns`) to make a second machine")
    with veth_namespace() as (name, host_addr, far_addr):
        yield name, far_addr, host_addr


@pytest.fixture(params=["kernel-gateway", "enterprise-gateway"])
def far_gateway(request, machine, tmp_path):
    """A gateway inside the namespace, on its address: (url, its process, the namespace).

    Jupyter Kernel Gateway from the launcher's test extra; Enterprise Gateway 3.3 from a
    virtualenv of its own (it pins jupyter_client 6), its kernelspec `python3` running the
    launcher's Python (ipykernel + tornado)."""
    name, far_addr, _ = machine
    root = tmp_path / "far-machine"
    root.mkdir()
    port = free_port()
    env = interpreter.child_env()
    env.update(JUPYTER_RUNTIME_DIR=str(root / "runtime"))
    if request.param == "kernel-gateway":
        env["KG_AUTH_TOKEN"] = TOKEN
        argv = [sys.executable, "-m", "kernel_gateway", f"--KernelGatewayApp.ip={far_addr}",
                f"--KernelGatewayApp.port={port}", "--JupyterWebsocketPersonality.list_kernels=True"]
    else:
        from tests.cached_venv import cached_venv

        venv = cached_venv("enterprise-gateway", ["jupyter_enterprise_gateway==3.3.0"])
        spec = root / "share" / "kernels" / "python3"
        spec.mkdir(parents=True)
        spec.joinpath("kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "Python 3", "language": "python"}))
        env = {k: v for k, v in env.items() if not k.startswith(("JUPYTER_PATH", "KERNEL_"))}
        env.update(JUPYTER_PATH=str(root / "share"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
                   EG_AUTH_TOKEN=TOKEN)
        argv = [str(venv / "bin" / "jupyter-enterprisegateway"), f"--ip={far_addr}", f"--port={port}",
                "--EnterpriseGatewayApp.list_kernels=True", "--EnterpriseGatewayApp.unauthorized_users=blocked"]
    proc = subprocess.Popen(["ip", "netns", "exec", name, *argv],
                            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=open(root / "gateway.log", "wb"))
    url = f"http://{far_addr}:{port}"
    wait_for_gateway(f"{url}/api", proc, root / "gateway.log", "the gateway in the namespace", TOKEN)
    try:
        yield url, proc, name
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def running(e):
    return isinstance(e, AppState) and e.app == "web" and e.state == "running"


@pytest.mark.timeout(90)
async def test_an_app_on_another_machine_is_pushed_served_reloaded_and_reached_through_the_kernel(
        tmp_path, far_gateway, monkeypatch):
    from tornado.websocket import websocket_connect

    url, gateway_proc, ns = far_gateway
    local, remote = tmp_path / "laptop", tmp_path / "far-machine" / "project"
    remote.mkdir()
    port = free_port()
    monkeypatch.setenv("FAR_TOKEN", TOKEN)
    write_project(local, {"proj/__init__.py": "", "proj/web.py": APP, "proj/text.py": 'MESSAGE = "v1"\n',
                          "jaffle.hcl": f'''
    kernel "far" {{
      gateway_url   = "{url}"
      gateway_token = "${{FAR_TOKEN}}"
      remote_dir    = "{remote}"
      sync          = true
      # tunnel and the far side's own file watching follow from the gateway's address
    }}

    app "web" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "far"
      options {{
        app_class = "proj.web.make_app"
        port      = {port}
      }}
    }}
    '''})
    async with running_session(local / "jaffle.hcl") as (s, rec):
        state = await rec.wait(running, timeout=45)
        assert state.urls == (f"http://127.0.0.1:{port}/",)  # the port was free here: the same number
        assert await fetch(state.urls[0]) == (200, f"v1 from {remote / 'proj'}")
        far_addr = url.split("//")[1].split(":")[0]
        with socket.socket() as probe:  # the app itself is not reachable from here: only the gateway is
            probe.settimeout(2)
            assert probe.connect_ex((far_addr, port)) != 0

        (local / "proj" / "text.py").write_text('MESSAGE = "edited here"\n')
        await wait_http(state.urls[0], f"edited here from {remote / 'proj'}", timeout=20)

        ws = await websocket_connect(f"ws://127.0.0.1:{port}/ws")
        await ws.write_message("hi")
        assert await asyncio.wait_for(ws.read_message(), 10) == "edited here:hi"
        ws.close()

        kernel_pid = s.kernels["far"].pid
        assert kernel_pid in namespace_pids(ns)
        mark = len(rec.events)
        os.kill(kernel_pid, signal.SIGKILL)
        await rec.wait(lambda e: isinstance(e, KernelState) and e.kernel == "far" and e.state == "dead",
                       timeout=20, start=mark)
        await rec.wait(running, timeout=45, start=mark)
        await wait_http(state.urls[0], f"edited here from {remote / 'proj'}", timeout=20)
        new_pid = s.kernels["far"].pid
        assert new_pid != kernel_pid and new_pid in namespace_pids(ns)
    # the launcher's exit: the far kernel shut down, the local port closed
    deadline = time.monotonic() + 10
    while new_pid in namespace_pids(ns) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert namespace_pids(ns) - {new_pid} and new_pid not in namespace_pids(ns)
    assert gateway_proc.poll() is None  # only the kernel went; the gateway runs on
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
