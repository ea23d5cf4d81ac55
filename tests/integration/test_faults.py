"""Faults a demanding user meets (issue 13 items 1, 2, 3, 12), each with a purpose-built
misbehaving app or kernel: what the user is told, and that it is told in bounded time.

- a WatchdogApp handler whose second code block names a skipped app (Jaffle's own
  ``tornado_spa`` example, unmodified): the save is served, the log says why the block failed;
- handlers that spin or sleep on the kernel's loop (shared mode) or on their own loop
  (threaded): "not responding" with file, line and function within 3 s, "responding again
  after N s", Interrupt gives the request a 500 and the app keeps serving, a save made
  during the hang is applied once the loop is free;
- a SIGSTOPped kernel: "not responding" within 5 s, back when it gets SIGCONT;
- an edit saved while the app starts: served once it runs.

The bounds are generous (they catch a hang, not a figure); the figures are in the report.
"""

import asyncio
import os
import signal
import time

from helpers import PLAIN_APP, fetch, free_port, running_session, wait_http, write_project
from tornado_launcher.events import NOT_RESPONDING, AppState, KernelState, LogRecord, LoopBlocked

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
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def tornado_block(name: str, module: str, port: int, threaded: bool = False) -> str:
    return f'''
    app "{name}" {{
      class  = "jaffle.app.tornado.TornadoBridgeApp"
      kernel = "k"
      start  = "{name}.start()"
      options {{
        app_class   = "proj.{module}.App"
        argv        = ["--port={port}"]
        threaded    = {"true" if threaded else "false"}
        clear_cache = ["proj"]
      }}
    }}
    '''


def watchdog_block(blocks) -> str:
    code = ", ".join('"' + b.replace('"', '\\"') + '"' for b in blocks)
    return f'''
    app "watchdog" {{
      class  = "jaffle.app.watchdog.WatchdogApp"
      kernel = "k"
      options {{
        handlers = [{{
          patterns           = ["*.py"]
          ignore_directories = true
          code_blocks        = [{code}]
        }}]
      }}
    }}
    '''


def log_with(app, *words):
    return lambda e: isinstance(e, LogRecord) and e.app == app and all(w in e.message for w in words)


def state_of(app, state):
    return lambda e: isinstance(e, AppState) and e.app == app and e.state == state


async def test_jaffle_handler_with_a_block_for_a_skipped_app_still_serves_the_save(tmp_path):
    """Jaffle's tornado_spa handler, unmodified: the pytest app is skipped, so its block raises
    NameError; sent with stop_on_error=False it cannot abort the restart queued behind it."""
    port = free_port()
    write_project(tmp_path, {
        "proj/__init__.py": "", "proj/web.py": PLAIN_APP,
        "jaffle.hcl": 'kernel "k" {}\n' + watchdog_block([
            "tornado_app.handle_watchdog_event({event})", "pytest.handle_watchdog_event({event})"])
        + tornado_block("tornado_app", "web", port) + '''
        app "pytest" {
          class  = "jaffle.app.pytest.PyTestRunnerApp"
          kernel = "k"
          options { args = ["-s", "-v"] }
        }
        ''',
    })
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(state_of("tornado_app", "running"))
        for v in ("v2", "v3"):  # twice: the first failure must not wedge the next save either
            (tmp_path / "proj" / "web.py").write_text(PLAIN_APP.replace('"v1"', f'"{v}"'))
            await wait_http(f"http://127.0.0.1:{port}/", v, timeout=15)
        await rec.wait(log_with("watchdog", "pytest.handle_watchdog_event", "raised NameError",
                                "No app named 'pytest' runs in this launcher"), timeout=10)
        assert not [e for e in rec.events if isinstance(e, LogRecord) and "aborted" in e.message]
