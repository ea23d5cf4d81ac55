"""``reload = "patch"`` end to end: a real Session saves files, what the log, the events,
``status --json``, the live-reload stream and an open websocket see."""

from __future__ import annotations

import asyncio
import json

import pytest
import tornado.websocket

from tests.helpers import free_port, running_session, wait_http, write_project
from tests.integration.test_control_session import ctl, runtime  # noqa: F401  (a fixture)
from tests.integration.test_live_reload import EventStream, generation
from tornado_launcher.bridge import protocol
from tornado_launcher.control.server import ControlServer
from tornado_launcher.engine.events import LogRecord, ReloadEvent

HANDLERS = '''\
import tornado.web
import tornado.websocket

HITS = {"n": 0}
GREETING = "hello"


class Main(tornado.web.RequestHandler):
    def get(self):
        HITS["n"] += 1
        self.write("<html><body>v1 %d</body></html>" % HITS["n"])


class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, m):
        HITS["n"] += 1
        self.write_message("e1 %s %d" % (m, HITS["n"]))
'''

WEB = '''\
import tornado.web

from proj import handlers


class App:
    def __init__(self, argv):
        self.port = int(argv[0])

    def start(self):
        self.server = tornado.web.Application([(r"/", handlers.Main), (r"/ws", handlers.Echo)]).listen(
            self.port, "127.0.0.1")

    def stop(self):
        self.server.stop()
'''


def hcl(port):
    return f'''
    kernel "k" {{}}

    app "web" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "k"
      start  = "web.start()"
      options {{
        app_class   = "proj.web.App"
        argv        = ["{port}"]
        clear_cache = ["proj"]
        reload      = "patch"
        live_reload = true
      }}
    }}
    '''


async def test_patch_keeps_state_websocket_and_says_so(tmp_path, runtime):  # noqa: F811
    port = free_port()
    root = write_project(tmp_path, {"proj/__init__.py": "", "proj/handlers.py": HANDLERS, "proj/web.py": WEB,
                                    "jaffle.hcl": hcl(port)})
    url = f"http://127.0.0.1:{port}/"
    async with running_session(root / "jaffle.hcl") as (s, rec):
        control = ControlServer(s, [str(root / "jaffle.hcl")])
        assert await control.start()
        try:
            body = await wait_http(url, "v1 ")
            stream = EventStream(port, generation(body.encode()))
            conn = await tornado.websocket.websocket_connect(f"ws://127.0.0.1:{port}/ws")
            await conn.write_message("a")
            assert await conn.read_message() == "e1 a 2"
            n = len(rec.events)
            path = root / "proj" / "handlers.py"
            path.write_text(HANDLERS.replace('"e1 %s %d"', '"e2 %s %d"').replace("v1 %d", "v2 %d"))
            done = await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done")
            assert done.kind == "patched", done
            lines = [e.message for e in rec.events[n:] if isinstance(e, LogRecord) and e.message.startswith("patched ")]
            assert lines and lines[0].startswith("patched proj/handlers.py: Echo.on_message, Main.get in "), lines
            assert lines[0].endswith(" ms (state kept)")
            await stream.wait("reload")  # live reload refreshes the page after a patch too
            await conn.write_message("b")  # the same websocket, the new code, the counter kept
            assert await conn.read_message() == "e2 b 3"
            assert "v2 4" in await wait_http(url, "v2 ")
            code, out, err = await ctl("status", "--json", cwd=root)
            assert code == 0, err
            last = {a["name"]: a for a in json.loads(out)["apps"]}["web"]["last_reload"]
            assert last["kind"] == "patched" and last["detail"].startswith("patched proj/handlers.py"), last
            code, out, err = await ctl("status", cwd=root)
            assert code == 0 and " ms (patched, state kept)" in out, (out, err)

            # a change that cannot be patched: reloaded, with the reason, the counter starts again
            n = len(rec.events)
            path.write_text(path.read_text().replace('GREETING = "hello"', 'GREETING = "hi"'))
            done = await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done"
                                  and e.kind == "reloaded")
            lines = [e.message for e in rec.events[n:]
                     if isinstance(e, LogRecord) and e.message.startswith("reloaded ")]
            assert lines and lines[0].startswith(
                "reloaded proj/handlers.py (module-level statement changed (line 5)): re-imported "), lines
            assert "v2 1" in await wait_http(url, "v2 ")
            closed = await asyncio.wait_for(conn.read_message(), 5)
            assert closed is None  # a reload closes the websocket (1012), as before
            code, out, err = await ctl("status", "--json", cwd=root)
            last = {a["name"]: a for a in json.loads(out)["apps"]}["web"]["last_reload"]
            assert last["kind"] == "reloaded", last
            stream.done.cancel()
        finally:
            control.close()


def watchdog_hcl(port, block):
    """``hcl(port)`` with a WatchdogApp whose one handler runs ``block`` (None: the implicit handler)."""
    if block is None:
        return hcl(port)
    return hcl(port) + f'''
    app "watchdog" {{
      class  = "jaffle.app.watchdog.WatchdogApp"
      kernel = "k"
      options {{
        handlers = [
          {{
            patterns           = ["*.py"]
            ignore_directories = true
            code_blocks        = ["{block}"]
          }},
        ]
      }}
    }}
    '''


@pytest.mark.parametrize("block, as_cell", [
    (None, False),
    ("web.handle_watchdog_event({event})", False),
    ("web.handle_watchdog_event({event}); print('the block ran')", True),
], ids=["implicit", "watchdog-block", "block-that-does-more"])
async def test_a_save_reaches_the_kernel_as_a_command_unless_its_block_does_more(tmp_path, block, as_cell):
    """The reload of a save goes on the bridge's comm (no cell: ipykernel's execute path is
    ~2 ms of the kernel's loop) when the handler's block is only the app's reload; a block that
    does more runs as the cell it is.  A command that fails is said in the log, not lost."""
    port = free_port()
    root = write_project(tmp_path, {"proj/__init__.py": "", "proj/handlers.py": HANDLERS, "proj/web.py": WEB,
                                    "jaffle.hcl": watchdog_hcl(port, block)})
    url = f"http://127.0.0.1:{port}/"
    async with running_session(root / "jaffle.hcl") as (s, rec):
        await wait_http(url, "v1 ")
        kernel = s.kernel("k")
        assert kernel.hello["commands"], kernel.hello
        cells = []
        execute = kernel.execute

        async def spy(code, **kw):
            cells.append(code)
            return await execute(code, **kw)
        kernel.execute = spy
        n = len(rec.events)
        (root / "proj" / "handlers.py").write_text(HANDLERS.replace("v1 %d", "v2 %d"))
        done = await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done", start=n)
        assert done.kind == "patched", done
        assert "v2 " in await wait_http(url, "v2 ")
        reload_cells = [c for c in cells if "handle_watchdog_event" in c]
        assert bool(reload_cells) == as_cell, cells
        if as_cell:
            await rec.wait(lambda e: isinstance(e, LogRecord) and "the block ran" in e.message, start=n)

        n = len(rec.events)
        assert kernel.send_comm(kernel.hello["commands"], protocol.call_record("nope", "handle_watchdog_event", {}))
        said = await rec.wait(lambda e: isinstance(e, LogRecord) and e.level == "ERROR"
                              and "the launcher's handle_watchdog_event of 'nope' failed" in e.message, start=n)
        assert "no tornado-launcher app named 'nope'" in said.message, said
