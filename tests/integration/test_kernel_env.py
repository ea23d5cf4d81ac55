"""The kernel block's `env` reaches a kernel the launcher starts here."""

import pytest
from helpers import running_session, write_project

from tornado_launcher.engine.events import KernelState


@pytest.mark.timeout(60)
async def test_a_local_kernel_gets_the_blocks_env(tmp_path):
    hcl = write_project(tmp_path, {"jaffle.hcl": '''
    kernel "k" {
      env {
        TL_GREETING = "from the kernel block"
      }
    }
    '''}) / "jaffle.hcl"
    async with running_session(hcl) as (s, rec):
        await rec.wait(lambda e: isinstance(e, KernelState) and e.kernel == "k" and e.state == "idle", timeout=45)
        out = await s.execute("k", "import os; print(os.environ['TL_GREETING'])")
        assert out["stdout"].strip() == "from the kernel block", out
