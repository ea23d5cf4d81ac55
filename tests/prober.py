"""What clients see while an app reloads: clients that request continuously and count.

Used by ``tests/integration/test_reload_prober.py`` and ``benchmarks/reload_probe.py``.
Stdlib and tornado only (no launcher import): it measures any server.

The app under probe answers ``GET /`` with its version ``vN``.  The driver
calls :meth:`Probe.serving` with ``N`` once it knows version ``N`` serves (a
"running" record, or the first answer carrying it).  Each answer is checked
against the version that was serving when its request was sent:

* ``fresh``: a new connection per request (HTTP/1.0), as a polling page or curl;
* ``keepalive``: one HTTP/1.1 connection reused until the server ends it.

Outcomes: ``answer``, ``refused`` (connection refused), ``reset`` (reset or
closed without an answer, on a fresh connection or a reused one), ``hung``
(no answer within :data:`HUNG` s), ``wrong`` (not 200 ``vN``, or older than
the version serving when it was sent; a keep-alive connection's last answer
from the old code may be one version old when it ends the connection,
``Connection: close``: that is the drain finishing a request the old code was
already reading).
"""

from __future__ import annotations

import asyncio
import http.client
import re
import socket
import threading
import time
from typing import Dict, List, Optional

HUNG = 2.0  # seconds: an answer slower than this counts as hung
_VERSION = re.compile(r"v(\d+)\Z")


class Probe:
    """Two client threads (fresh connections, keep-alive) requesting ``GET /`` back to back."""

    def __init__(self, port: int, host: str = "127.0.0.1", pause: float = 0.001, slow: Optional[float] = None):
        self.host, self.port, self.pause = host, port, pause
        #: an answer that took this long (but less than HUNG) counts as ``slow`` (None: an answer)
        self.slow = slow
        #: (perf_counter when sent, when seen, client, outcome, detail) of every non-answer, for a driver that
        #: tells the moments the app was meant to be down (benchmarks/soak.py)
        self.events: List[tuple] = []
        self._paused = threading.Event()
        self.live = 0  # the version known to serve now (0: none yet)
        self.counts: Dict[str, Dict[str, int]] = {"fresh": {}, "keepalive": {}}
        self.problems: List[tuple] = []  # (client, outcome, detail) of every non-answer, first 50
        self.versions_seen: Dict[str, set] = {"fresh": set(), "keepalive": set()}
        #: keep-alive answers from the previous version that ended their connection (counted as answers)
        self.last_old_answers = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._fresh, daemon=True),
                         threading.Thread(target=self._keepalive, daemon=True)]

    # -- driver side
    def serving(self, version: int) -> None:
        self.live = version

    def __enter__(self) -> "Probe":
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(HUNG + 3)

    def pause_clients(self) -> None:
        """Stop requesting (the keep-alive connection is closed) until :meth:`resume_clients`."""
        self._paused.set()

    def resume_clients(self) -> None:
        self._paused.clear()

    def total(self, outcome: str) -> int:
        with self._lock:
            return sum(c.get(outcome, 0) for c in self.counts.values())

    def summary(self) -> Dict[str, Dict[str, int]]:
        with self._lock:
            return {k: dict(v) for k, v in self.counts.items()}

    # -- client side
    def _note(self, client: str, outcome: str, detail=None, sent: Optional[float] = None) -> None:
        with self._lock:
            c = self.counts[client]
            c[outcome] = c.get(outcome, 0) + 1
            if outcome != "answer":
                self.events.append((sent, time.perf_counter(), client, outcome, detail))
                if len(self.problems) < 50:
                    self.problems.append((client, outcome, detail))

    def _check(self, client: str, status: int, body: str, live: int, closing: bool, took: float,
               sent: Optional[float] = None) -> None:
        m = _VERSION.match(body)
        if took >= HUNG:
            self._note(client, "hung", (status, body, round(took, 3)), sent)
        elif self.slow is not None and took >= self.slow:
            self._note(client, "slow", (status, body, round(took, 3)), sent)
        elif status != 200 or m is None:
            self._note(client, "wrong", (status, body[:80], live), sent)
        else:
            v = int(m.group(1))
            self.versions_seen[client].add(v)
            if v < live and not (client == "keepalive" and closing and v >= live - 1):
                self._note(client, "wrong", (status, body, "serving v%d when sent" % live), sent)
            else:
                if v < live:
                    with self._lock:
                        self.last_old_answers += 1
                self._note(client, "answer")

    def _fresh(self) -> None:
        while not self._stop.is_set():
            if self._paused.is_set():
                time.sleep(0.005)
                continue
            live, t0 = self.live, time.perf_counter()
            try:
                with socket.create_connection((self.host, self.port), timeout=HUNG + 1) as s:
                    s.sendall(b"GET / HTTP/1.0\r\nHost: probe\r\n\r\n")
                    data = b""
                    while True:
                        chunk = s.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                took = time.perf_counter() - t0
                head, _, body = data.partition(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1."):
                    self._note("fresh", "reset", ("closed without an answer", data[:40]), t0)
                else:
                    self._check("fresh", int(head.split()[1]), body.decode("latin-1"), live, True, took, t0)
            except ConnectionRefusedError:
                self._note("fresh", "refused", None, t0)
            except (ConnectionResetError, BrokenPipeError) as exc:
                self._note("fresh", "reset", repr(exc), t0)
            except (socket.timeout, TimeoutError):
                self._note("fresh", "hung", round(time.perf_counter() - t0, 3), t0)
            time.sleep(self.pause)

    def _keepalive(self) -> None:
        conn: Optional[http.client.HTTPConnection] = None
        while not self._stop.is_set():
            if self._paused.is_set():
                if conn is not None:
                    conn.close()
                    conn = None
                time.sleep(0.005)
                continue
            if conn is None:
                conn = http.client.HTTPConnection(self.host, self.port, timeout=HUNG + 1)
            live, t0 = self.live, time.perf_counter()
            try:
                conn.request("GET", "/")
                resp = conn.getresponse()
                body = resp.read().decode("latin-1")
                took = time.perf_counter() - t0
                self._check("keepalive", resp.status, body, live, resp.will_close, took, t0)
                if resp.will_close:
                    conn.close()
                    conn = None
            except ConnectionRefusedError:
                self._note("keepalive", "refused", None, t0)
                conn.close()
                conn = None
            except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected,
                    http.client.BadStatusLine) as exc:
                self._note("keepalive", "reset", repr(exc), t0)
                conn.close()
                conn = None
            except (socket.timeout, TimeoutError):
                self._note("keepalive", "hung", round(time.perf_counter() - t0, 3), t0)
                conn.close()
                conn = None
            time.sleep(self.pause)
        if conn is not None:
            conn.close()


class WebSocketWatch:
    """A websocket client on its own thread: connects to ``url``, notes every message,
    and how (close code, reason) and when (perf_counter) the server closed it."""

    def __init__(self, url: str):
        self.url = url
        self.messages: List[str] = []
        self.connected = threading.Event()
        self.closed = threading.Event()
        self.close_code: Optional[int] = None
        self.close_reason: Optional[str] = None
        self.closed_at: Optional[float] = None
        self.error: Optional[str] = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()

    async def _main(self) -> None:
        from tornado.websocket import websocket_connect

        try:
            ws = await asyncio.wait_for(websocket_connect(self.url), 5)
        except Exception as exc:
            self.error = repr(exc)
            self.connected.set()
            self.closed.set()
            return
        self.connected.set()
        try:
            while True:
                msg = await asyncio.wait_for(ws.read_message(), 10)
                if msg is None:
                    break
                self.messages.append(msg)
        except Exception as exc:
            self.error = repr(exc)
        self.closed_at = time.perf_counter()
        self.close_code, self.close_reason = ws.close_code, ws.close_reason
        self.closed.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)


class WebSocketTalk:
    """A websocket client that talks: :meth:`next` is the next event the server sent,
    ``("message", text)`` or ``("closed", code, reason)``; :meth:`ask` sends a message first.
    Runs its own loop on a thread; the calling thread blocks."""

    def __init__(self, url: str, timeout: float = 5.0):
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()
        self.ws = self._call(self._connect(url), timeout)

    async def _connect(self, url):
        from tornado.websocket import websocket_connect

        return await websocket_connect(url)

    def _call(self, coro, timeout):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _next(self):
        msg = await self.ws.read_message()
        if msg is None:
            return ("closed", self.ws.close_code, self.ws.close_reason)
        return ("message", msg)

    def next(self, timeout: float = 5.0) -> tuple:
        return self._call(self._next(), timeout)

    def ask(self, text: str, timeout: float = 5.0) -> tuple:
        async def ask():
            try:
                await self.ws.write_message(text)
            except Exception:
                pass  # closed: the close event is what it reads next
            return await self._next()
        return self._call(ask(), timeout)

    def close(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.ws.close)
        except Exception:
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(2)
        if not self._thread.is_alive():
            self.loop.close()


#: The app the prober tests and the benchmark reload: ``GET /`` answers its version,
#: ``/poll?seconds=S`` a long-poll, ``/sse`` an event stream, ``/ws`` a websocket.
#: ``VERSION`` comes from ``probeapp/version.py``, the file the edits rewrite.
PROBE_APP = '''
import argparse
import asyncio
import logging

import tornado.ioloop
import tornado.web
import tornado.websocket

from . import version
from .version import VERSION

log = logging.getLogger("probeapp")


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write(VERSION)


class Poll(tornado.web.RequestHandler):
    async def get(self):
        log.info("poll started")
        await asyncio.sleep(float(self.get_argument("seconds")))
        self.write(VERSION + "-polled")


class Stream(tornado.web.RequestHandler):
    async def get(self):
        self.set_header("Content-Type", "text/event-stream")
        log.info("stream started")
        while True:
            self.write("data: %s\\n\\n" % VERSION)
            await self.flush()
            await asyncio.sleep(0.05)


class Socket(tornado.websocket.WebSocketHandler):
    def open(self):
        self.write_message(VERSION)

    def on_message(self, message):
        self.write_message(VERSION)


class App:
    def __init__(self, argv):
        parser = argparse.ArgumentParser()
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--debug", action="store_true")  # tornado.autoreload, in a plain process
        self.args = parser.parse_args(argv)

    def start(self):
        web = tornado.web.Application([(r"/", Hello), (r"/poll", Poll), (r"/sse", Stream), (r"/ws", Socket)],
                                      debug=self.args.debug)
        self.server = web.listen(self.args.port, "127.0.0.1")
        if getattr(version, "FAIL_IN_START", False):
            raise RuntimeError("start failed on purpose")
        self.io_loop = tornado.ioloop.IOLoop.current()
        self.io_loop.start()

    def stop(self):
        def _stop():
            self.server.stop()
            self.io_loop.stop()
        self.io_loop.add_callback(_stop)


def main(argv=None):
    import sys
    try:
        App(sys.argv[1:] if argv is None else argv).start()
    except KeyboardInterrupt:
        pass
'''

#: the probe app as a plain process: ``python serve.py --port=N [--debug]``
SERVE_PY = "from probeapp.web import main\n\nmain()\n"


def probe_hcl(port: int, threaded: bool, level: Optional[str] = None) -> str:
    """The jaffle.hcl that runs the probe app as ``web`` with a Jaffle-style WatchdogApp
    restarting it on every ``*.py`` save (``level``: the app's logger level, when given)."""
    logger = f'''
  logger {{
    level = "{level}"
  }}''' if level is not None else ""
    return f'''
kernel "py_kernel" {{}}

app "watchdog" {{
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"
  options {{
    handlers = [{{
      patterns    = ["*.py"]
      code_blocks = ["web.handle_watchdog_event({{event}})"]
    }}]
  }}
}}

app "web" {{
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "web.start()"{logger}
  options {{
    app_class = "probeapp.web.App"
    argv      = ["--port={port}"]
    threaded  = {"true" if threaded else "false"}
  }}
}}
'''


def version_source(n: int, broken: Optional[str] = None) -> str:
    """``probeapp/version.py`` for version ``n``; ``broken``: a line that makes the import fail."""
    return 'VERSION = "v%d"\n' % n + (broken + "\n" if broken else "")
