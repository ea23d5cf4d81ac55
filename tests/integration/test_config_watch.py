"""Config edits applied live, headless: ``headless.run`` with a re-reader, real
kernels, real HTTP, real saves of the config file (atomic rename, as editors do)."""

from __future__ import annotations

import asyncio
import io
import os
import urllib.request

import pytest
from helpers import free_port, plain_project, web_app_hcl

from tornado_launcher.config import check
from tornado_launcher.terminal import headless

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


def probe_hcl(port: int, threaded: bool, level: str) -> str:
    return (f'kernel "k" {{}}\napp "web" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
            f'  start  = "web.start()"\n  logger {{\n    level = "{level}"\n  }}\n'
            f'  options {{\n    app_class = "probeapp.web.App"\n    argv      = ["--port={port}"]\n'
            f'    threaded  = {"true" if threaded else "false"}\n  }}\n}}\n')


def test_config_edits_of_threaded_and_logger_level_drop_no_connection(tmp_path):
    """Saving jaffle.hcl with `threaded` toggled or the logger level changed is applied in place
    (the threaded toggle's hand-over; the level set in the kernel): under two probing clients
    (fresh connections, keep-alive), 0 refused, 0 reset, 0 hung, 0 wrong answers."""
    from prober import PROBE_APP, Probe, version_source

    port = free_port()
    path = tmp_path / "jaffle.hcl"
    (tmp_path / "probeapp").mkdir()
    (tmp_path / "probeapp" / "__init__.py").write_text("")
    (tmp_path / "probeapp" / "web.py").write_text(PROBE_APP)
    (tmp_path / "probeapp" / "version.py").write_text(version_source(1))
    path.write_text(probe_hcl(port, False, "info"))
    out = io.StringIO()
    edits = [(True, "info"), (True, "debug"), (False, "debug"), (False, "warning"),
             (True, "warning"), (True, "info"), (False, "info"), (False, "debug")]

    async def main():
        config, _ = check(str(path))
        task = asyncio.ensure_future(headless.run(config, stream=out, auto_reload=False,
                                                  reload_config=lambda: check(str(path))))
        await until(lambda: fetch(f"http://127.0.0.1:{port}/") == (200, "v1"), 90, "probe app")
        with Probe(port) as probe:
            probe.serving(1)
            for i, (threaded, level) in enumerate(edits, 1):
                await asyncio.sleep(0.3)
                save(path, probe_hcl(port, threaded, level))
                await until(lambda i=i: out.getvalue().count("changed: re-read and applied") >= i, 60,
                            f"edit {i} applied")
            await asyncio.sleep(0.5)
        counts = probe.summary()
        print("\nconfig edits under probing:", counts)
        for client in ("fresh", "keepalive"):
            assert counts[client].get("answer", 0) > 50, (client, counts)
        assert set(counts["fresh"]) | set(counts["keepalive"]) == {"answer"}, (counts, probe.problems)
        text = out.getvalue()
        assert "stopped" not in text, text[-3000:]  # the app was never stopped
        os.kill(os.getpid(), __import__("signal").SIGINT)
        assert await asyncio.wait_for(task, 60) == 0

    asyncio.run(main())
