"""For the live-reload tests: an app with HTML, JSON, static and streamed answers; a raw
HTTP/1.1 client (the bytes on the wire, headers included); headless Chromium over DevTools."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

#: proj/web.py: every kind of answer the live-reload transform must get right
LIVE_APP = r'''
import json, os, secrets
import tornado.httpserver, tornado.ioloop, tornado.web

VERSION = "v1"
HERE = os.path.dirname(os.path.abspath(__file__))
PAGE = '<!doctype html>\n<html><head><title>live</title></head>\n<body><h1 id="version">%s</h1></body>\n</html>\n'


class Page(tornado.web.RequestHandler):
    def get(self):
        self.write(PAGE % VERSION)


class Big(tornado.web.RequestHandler):  # long enough for gzip
    def get(self):
        self.write(PAGE.replace("</h1>", "</h1><p>" + "padding " * 200 + "</p>") % VERSION)


class CspPage(tornado.web.RequestHandler):
    def get(self):
        nonce = secrets.token_urlsafe(12)
        self.set_header("Content-Security-Policy", "default-src 'self'; script-src 'nonce-%s'" % nonce)
        self.write('<!doctype html><html><body><p id="version">%s</p><script nonce="%s">'
                   'window.pageNonce = %s;</script></body></html>' % (VERSION, nonce, json.dumps(nonce)))


class Data(tornado.web.RequestHandler):
    def get(self):
        self.write({"version": VERSION, "html": "<!doctype html><html><body></body></html>"})


class Fragment(tornado.web.RequestHandler):  # text/html by Tornado's default, but no document
    def get(self):
        self.write("<p>fragment</p>")


class Streamed(tornado.web.RequestHandler):
    async def get(self):
        self.write("<!doctype html><html><body><p>part one</p>")
        await self.flush()
        self.write("<p>part two</p></bo")
        await self.flush()
        self.write("dy></html>")


class App:
    def __init__(self, argv):
        self.port = int([a for a in argv if a.startswith("--port=")][0].split("=", 1)[1])

    def start(self):
        web = tornado.web.Application(
            [(r"/", Page), (r"/big", Big), (r"/csp", CspPage), (r"/data.json", Data),
             (r"/fragment", Fragment), (r"/streamed", Streamed)],
            static_path=os.path.join(HERE, "static"), compress_response=True)
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

STATIC = {
    "proj/static/style.css": "body { color: #123456; }\n",
    "proj/static/app.js": "console.log('</body> in a script file');\n",
    "proj/static/page.html": "<!doctype html><html><body><p>static page</p></body></html>\n",
}
STATIC_BINARY = ("proj/static/blob.bin", bytes(range(256)) * 8)


def live_files(version: str = "v1") -> Dict[str, str]:
    files = {"proj/__init__.py": "", "proj/web.py": LIVE_APP.replace('VERSION = "v1"', f'VERSION = "{version}"')}
    files.update(STATIC)
    return files


def app_block(name: str, port: int, *, live: bool, threaded: bool = False) -> str:
    return (f'app "{name}" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
            f'  options {{\n    app_class   = "proj.web.App"\n    argv        = ["--port={port}"]\n'
            f'    threaded    = {"true" if threaded else "false"}\n'
            f'    live_reload = {"true" if live else "false"}\n  }}\n}}\n')


# ------------------------------------------------------------------ raw HTTP
async def raw_get(port: int, path: str, headers: Optional[Dict[str, str]] = None,
                  timeout: float = 10.0) -> Tuple[int, Dict[str, str], bytes, bytes]:
    """``(status, headers, body, raw)``: one HTTP/1.1 GET on a fresh connection, read to its close.
    ``body`` is de-chunked; ``raw`` is every byte the server sent."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    lines = [f"GET {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    await writer.drain()
    raw = await asyncio.wait_for(reader.read(), timeout)
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed: Dict[str, str] = {}
    for line in header_lines:
        k, _, v = line.partition(":")
        parsed[k.strip().lower()] = v.strip()
    if parsed.get("transfer-encoding") == "chunked":
        out, rest = b"", body
        while rest:
            size, _, rest = rest.partition(b"\r\n")
            n = int(size, 16)
            if n == 0:
                break
            out, rest = out + rest[:n], rest[n + 2:]
        body = out
    return int(status_line.split()[1]), parsed, body, raw


def without_date(raw: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*", b"", raw)


# ------------------------------------------------------------------ Chromium
def chromium_path() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    """Headless Chromium driven over its DevTools protocol (one page target)."""

    def __init__(self, path: str, profile: Path) -> None:
        self.path = path
        self.profile = profile
        self.proc: Optional[asyncio.subprocess.Process] = None
        self.ws: Any = None
        self._ids = 0
        self._replies: Dict[int, asyncio.Future] = {}
        self._reader: Optional[asyncio.Task] = None
        self._stderr: List[str] = []
        self.console: List[str] = []

    async def start(self, url: str = "about:blank", timeout: float = 20.0) -> None:
        from tornado.httpclient import AsyncHTTPClient
        from tornado.websocket import websocket_connect

        self.proc = await asyncio.create_subprocess_exec(
            self.path, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={self.profile}", "--remote-debugging-port=0", url,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
            start_new_session=True)
        deadline = time.monotonic() + timeout
        endpoint = None
        while endpoint is None:
            line = await asyncio.wait_for(self.proc.stderr.readline(), max(0.1, deadline - time.monotonic()))
            if not line:
                raise AssertionError("chromium exited before DevTools listened:\n" + "".join(self._stderr[-20:]))
            text = line.decode("utf-8", "replace")
            self._stderr.append(text)
            m = re.search(r"DevTools listening on (ws://[^\s]+)", text)
            if m:
                endpoint = m.group(1)
        self._drain = asyncio.ensure_future(self._read_stderr())
        http = "http://" + endpoint.split("/")[2]
        page = None
        while page is None:
            resp = await AsyncHTTPClient().fetch(http + "/json/list", raise_error=False)
            pages = [t for t in json.loads(resp.body or b"[]") if t.get("type") == "page"]
            if pages:
                page = pages[0]
            elif time.monotonic() > deadline:
                raise AssertionError("chromium has no page target")
            else:
                await asyncio.sleep(0.05)
        self.ws = await websocket_connect(page["webSocketDebuggerUrl"], max_message_size=64 * 1024 * 1024)
        self._reader = asyncio.ensure_future(self._read())
        await self.call("Runtime.enable")
        await self.call("Page.enable")

    async def _read_stderr(self) -> None:
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                return
            self._stderr = (self._stderr + [line.decode("utf-8", "replace")])[-50:]

    async def _read(self) -> None:
        while True:
            msg = await self.ws.read_message()
            if msg is None:
                for fut in self._replies.values():
                    if not fut.done():
                        fut.set_exception(ConnectionError("DevTools connection closed"))
                return
            data = json.loads(msg)
            if "id" in data:
                fut = self._replies.pop(data["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(data)
            elif data.get("method") == "Runtime.consoleAPICalled":
                args = data["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            elif data.get("method") == "Runtime.exceptionThrown":
                self.console.append("exception: " + json.dumps(data["params"].get("exceptionDetails", {}))[:500])

    async def call(self, method: str, params: Optional[Dict[str, Any]] = None, timeout: float = 10.0) -> Dict:
        self._ids += 1
        fut = asyncio.get_running_loop().create_future()
        self._replies[self._ids] = fut
        self.ws.write_message(json.dumps({"id": self._ids, "method": method, "params": params or {}}))
        reply = await asyncio.wait_for(fut, timeout)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` in the page (None while a navigation replaces the document)."""
        try:
            result = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        except RuntimeError:
            return None  # "Execution context was destroyed" / "Cannot find context": a page is loading
        if "exceptionDetails" in result:
            return None
        return result.get("result", {}).get("value")

    async def wait_for(self, expression: str, timeout: float = 10.0, what: str = "") -> Any:
        """Poll ``expression`` in the page until truthy; its value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = await self.evaluate(expression)
            if last:
                return last
            await asyncio.sleep(0.05)
        state = await self.evaluate("JSON.stringify({url: location.href, live: window.__tornadoLauncherLive || null,"
                                    " body: document.body && document.body.innerText.slice(0, 300)})")
        raise AssertionError(f"{what or expression} not true within {timeout} s (last {last!r}); page: {state}; "
                             f"console: {self.console[-10:]}")

    async def navigate(self, url: str) -> None:
        await self.call("Page.navigate", {"url": url})

    async def close(self) -> None:
        if self.ws is not None:
            self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
        if self.proc is not None and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the browser and the helpers it started
            except ProcessLookupError:
                pass
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except asyncio.TimeoutError:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                await self.proc.wait()
        if getattr(self, "_drain", None) is not None:
            self._drain.cancel()
