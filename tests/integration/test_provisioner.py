"""Kernelspecs whose metadata names a `kernel_provisioner` start through jupyter_client as
they are: jupyter_client's own `local-provisioner`, and a custom one registered through the
`jupyter_client.kernel_provisioners` entry point (a dist-info on sys.path, as pip installs it)."""

import json
import sys
from pathlib import Path

import pytest
from helpers import fetch, free_port, plain_project, running_session, web_app_hcl

from tornado_launcher.engine.events import AppState

PROVISIONERS = Path(__file__).resolve().parent / "provisioners"


@pytest.fixture
def provisioned_kernelspecs(tmp_path, monkeypatch):
    jupyter = tmp_path / "jupyter"
    for name, provisioner in (("prov-local", "local-provisioner"), ("prov-custom", "tl-test-provisioner")):
        d = jupyter / "kernels" / name
        d.mkdir(parents=True)
        (d / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": name, "language": "python",
            "metadata": {"kernel_provisioner": {"provisioner_name": provisioner}},
        }))
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter))
    monkeypatch.syspath_prepend(str(PROVISIONERS))  # the entry point and its module


@pytest.mark.parametrize("kernel_name, marked", [("prov-local", None), ("prov-custom", "tl-test-provisioner")])
async def test_kernelspec_with_a_provisioner_serves(tmp_path, provisioned_kernelspecs, kernel_name, marked):
    port = free_port()
    hcl = f'kernel "k" {{ kernel_name = "{kernel_name}" }}\n' + web_app_hcl(port, start="web.start()",
                                                                            kernel_block=False)
    async with running_session(plain_project(tmp_path / "proj", hcl), auto_reload=False) as (s, rec):
        await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "running")
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")
        km = s._kernels["k"]._km
        assert type(km.provisioner).__name__ == ("MarkingProvisioner" if marked else "LocalProvisioner")
        out = await s.execute("k", "import os; print(os.environ.get('TL_PROVISIONED_BY'))")
        assert out["stdout"].strip() == str(marked)
