"""Config edits applied live, headless: ``headless.run`` with a re-reader, real
kernels, real HTTP, real saves of the config file (atomic rename, as editors do)."""

from __future__ import annotations

import asyncio
import io
import os
import urllib.request

import pytest

from helpers import free_port, plain_project, web_app_hcl
from tornado_launcher import headless
from tornado_launcher.config import check

pytestmark = pytest.mark.timeout(180)


def fetch(url: str):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read().decode()
    except OSError:
        return None


async def until(pred, timeout=60.0, what=""):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await loop.run_in_executor(None, pred):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


def save(path, text: str) -> None:
    tmp = str(path) + ".tmp~"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def second_app(port: int) -> str:
    return (f'app "api" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
            f'  options {{\n    app_class = "proj.web.App"\n    argv      = ["--port={port}"]\n  }}\n}}\n')


def test_headless_applies_saved_edits_and_survives_a_broken_one(tmp_path):
    p1, p2, p3 = free_port(), free_port(), free_port()
    path = plain_project(tmp_path, web_app_hcl(p1))
    out = io.StringIO()

    async def main():
        config, _ = check(str(path))
        task = asyncio.ensure_future(headless.run(config, stream=out, auto_reload=False,
                                                  reload_config=lambda: check(str(path))))
        await until(lambda: fetch(f"http://127.0.0.1:{p1}/") == (200, "v1"), 90, "web on p1")
        # change an option: the app restarts on the new port
        save(path, web_app_hcl(p2))
        await until(lambda: fetch(f"http://127.0.0.1:{p2}/") == (200, "v1"), 60, "web on p2")
        await until(lambda: fetch(f"http://127.0.0.1:{p1}/") is None, 20, "p1 freed")
        # break it: everything keeps running, the log says file:line:col
        save(path, web_app_hcl(p2) + 'app "broken" {\n  class = \n}\n')
        await until(lambda: "has errors" in out.getvalue(), 20, "error reported")
        assert f"{path}:" in out.getvalue() or "jaffle.hcl:" in out.getvalue()
        import re
        assert re.search(r"jaffle\.hcl:\d+:\d+: ", out.getvalue()), out.getvalue()
        assert fetch(f"http://127.0.0.1:{p2}/") == (200, "v1")
        # fix it and add an app: the new one starts, the old one keeps serving
        save(path, web_app_hcl(p2) + second_app(p3))
        await until(lambda: fetch(f"http://127.0.0.1:{p3}/") == (200, "v1"), 60, "api on p3")
        assert fetch(f"http://127.0.0.1:{p2}/") == (200, "v1")
        os.kill(os.getpid(), __import__("signal").SIGINT)
        assert await asyncio.wait_for(task, 60) == 0

    asyncio.run(main())
    assert out.getvalue().count("re-read and applied") >= 2
