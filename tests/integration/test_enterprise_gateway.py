"""Kernels launched through a REAL Jupyter Enterprise Gateway on loopback (issue 24, first part).

Enterprise Gateway pins an older jupyter_client, so it runs from a virtualenv of its own
(`tests/cached_venv.py`: built once per machine, reused by later runs). Its kernelspecs run the
launcher's Python (ipykernel + tornado). It refuses the user `blocked` (as it refuses root by
default), so the tests see its refusals as a user would."""

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from cached_venv import cached_venv
from helpers import end_gateway, fetch, free_port, running_session, wait_for_gateway, write_project

from tornado_launcher.engine.events import AppState, KernelState, LogRecord
from tornado_launcher.kernels import gateway as gateway_module

EG = "jupyter_enterprise_gateway==3.3.0"

ENV_APP = '''
import os
import tornado.web

class Env(tornado.web.RequestHandler):
    def get(self):
        self.write("%s %s %s" % (os.environ.get("GREETING"), os.environ.get("KERNEL_USERNAME"),
                                 os.environ.get("KERNEL_LAUNCH_TIMEOUT")))

def make_app():
    return tornado.web.Application([(r"/", Env)])
'''


@pytest.fixture(scope="module")
def enterprise_gateway(tmp_path_factory):
    """Enterprise Gateway 3.3 on a free 127.0.0.1 port; kernelspecs `tl` and `slow` (3 s to start)."""
    venv = cached_venv("enterprise-gateway", [EG])
    root = tmp_path_factory.mktemp("eg")
    for name, argv in {
        "tl": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "slow": ["/bin/sh", "-c", f'sleep 3; exec "{sys.executable}" -m ipykernel_launcher -f "$0"',
                 "{connection_file}"],
    }.items():
        spec = root / "share" / "kernels" / name
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": name, "language": "python"}))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER_", "KERNEL_"))}
    env.update(JUPYTER_PATH=str(root / "share"), JUPYTER_RUNTIME_DIR=str(root / "runtime"),
               JUPYTER_DATA_DIR=str(root / "data"), JUPYTER_CONFIG_DIR=str(root / "config"))
    log = open(root / "eg.log", "wb")
    proc = subprocess.Popen(
        [str(venv / "bin" / "jupyter-enterprisegateway"), "--ip=127.0.0.1", f"--port={port}",
         "--EnterpriseGatewayApp.unauthorized_users=blocked",
         # it passes a client's KERNEL_* variables, and only those others it is told to
         "--EnterpriseGatewayApp.client_envs=GREETING", "--EnterpriseGatewayApp.list_kernels=True"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    wait_for_gateway(f"{url}/api/kernelspecs", proc, root / "eg.log", "Enterprise Gateway")
    try:
        yield url
    finally:
        end_gateway(proc)


def kernels_on(url: str) -> list:
    with urllib.request.urlopen(f"{url}/api/kernels", timeout=5) as r:
        return [k["id"] for k in json.loads(r.read())]


def project(root: Path, url: str, port: int, kernel: str) -> Path:
    write_project(root, {"proj/__init__.py": "", "proj/web.py": ENV_APP, "jaffle.hcl": f'''
    kernel "eg" {{
      gateway_url = "{url}"
      {kernel}
    }}

    app "web" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "eg"
      options {{
        app_class = "proj.web.make_app"
        port      = {port}
      }}
    }}
    '''})
    return root / "jaffle.hcl"


def running(e):
    return isinstance(e, AppState) and e.app == "web" and e.state == "running"


def kernel_dead(e):
    return isinstance(e, KernelState) and e.kernel == "eg" and e.state == "dead" and e.reason


@pytest.mark.timeout(60)
async def test_the_launch_carries_the_user_the_environment_and_the_timeout(tmp_path, enterprise_gateway):
    port = free_port()
    hcl = project(tmp_path, enterprise_gateway, port, '''
      kernel_name            = "tl"
      kernel_username        = "dev"
      gateway_launch_timeout = 90
      env { GREETING = "hello-from-the-block" }''')
    async with running_session(hcl) as (s, rec):
        await rec.wait(running, timeout=45)
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "hello-from-the-block dev 90")
        kernel_id = s._kernels["eg"].kernel_id
        assert kernel_id in kernels_on(enterprise_gateway)
    assert kernel_id not in kernels_on(enterprise_gateway)  # DELETEd at exit


@pytest.mark.parametrize("kernel, says", [
    ('kernel_name = "tl"\n      kernel_username = "blocked"',
     ["HTTP 403", "User 'blocked' is not authorized", "kernel_username"]),
    ('kernel_name = "nope"', ["HTTP 500", "No such kernel named nope"]),
])
@pytest.mark.timeout(60)
async def test_a_refused_launch_relays_the_gateways_own_reason(tmp_path, enterprise_gateway, kernel, says):
    hcl = project(tmp_path, enterprise_gateway, free_port(), kernel)
    async with running_session(hcl) as (s, rec):
        dead = await rec.wait(kernel_dead, timeout=30)
    for words in says:
        assert words in dead.reason, dead.reason
    assert "Check that the gateway runs" not in dead.reason  # it does run: it answered


@pytest.mark.timeout(60)
async def test_a_slow_launch_says_how_long_it_has_waited(tmp_path, enterprise_gateway, monkeypatch):
    monkeypatch.setattr(gateway_module, "PROGRESS_INTERVAL", 0.5)
    port = free_port()
    hcl = project(tmp_path, enterprise_gateway, port, 'kernel_name = "slow"\n      gateway_launch_timeout = 40')
    async with running_session(hcl) as (s, rec):
        await rec.wait(running, timeout=45)
        waiting = [e.message for e in rec.events if isinstance(e, LogRecord) and "waiting for the gateway" in e.message]
        assert waiting and "of 40 s, `gateway_launch_timeout`" in waiting[0], waiting
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "None root 40".replace("root", os.environ.get(
            "KERNEL_USERNAME") or gateway_module.local_user()))
