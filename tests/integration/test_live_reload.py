"""Live reload over real HTTP, real kernels: what the pages get, what the event stream says.
(The browser itself: tests/e2e/test_live_reload_browser.py.)"""

import asyncio
import gzip
import json
import re
import time

from helpers import free_port, running_session, write_project
from live_pages import STATIC, STATIC_BINARY, app_block, live_files, raw_get, without_date
from tornado.httpclient import AsyncHTTPClient, HTTPRequest

from tornado_launcher.engine.events import AppState

TAG = re.compile(rb'<script src="/__tornado_launcher__/live\.js"[^>]*></script>')


def running(app):
    return lambda e: isinstance(e, AppState) and e.app == app and e.state == "running"


def project(tmp_path, blocks, version="v1"):
    files = live_files(version)
    files["jaffle.hcl"] = 'kernel "k" {}\n' + "".join(blocks)
    write_project(tmp_path, files)
    (tmp_path / STATIC_BINARY[0]).write_bytes(STATIC_BINARY[1])
    return tmp_path / "jaffle.hcl"


def generation(body: bytes) -> str:
    return re.search(rb'data-generation="([^"]+)"', TAG.search(body).group(0)).group(1).decode()


class EventStream:
    """A real client of /__tornado_launcher__/live: the events as they arrive."""

    def __init__(self, port: int, gen: str) -> None:
        self.events = []
        self._buf = b""
        self._changed = asyncio.Event()
        req = HTTPRequest(f"http://127.0.0.1:{port}/__tornado_launcher__/live?generation={gen}",
                          streaming_callback=self._data, request_timeout=60)
        self.done = asyncio.ensure_future(AsyncHTTPClient(force_instance=True).fetch(req, raise_error=False))
        self.done.add_done_callback(lambda _f: self._changed.set())

    def _data(self, chunk: bytes) -> None:
        self._buf += chunk
        while b"\n\n" in self._buf:
            block, self._buf = self._buf.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().splitlines() if ": " in line)
            if "event" in fields:
                self.events.append((fields["event"], json.loads(fields.get("data") or "{}")))
        self._changed.set()

    async def wait(self, kind: str, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while True:
            for ev in self.events:
                if ev[0] == kind:
                    return ev[1]
            if self.done.done() or time.monotonic() > deadline:
                raise AssertionError(f"no {kind!r} event; got {self.events} (ended: {self.done.done()})")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), max(0.01, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass


async def test_html_documents_get_the_script_and_every_other_answer_is_unchanged(tmp_path):
    live_port, plain_port = free_port(), free_port()
    config = project(tmp_path, [app_block("web", live_port, live=True), app_block("plain", plain_port, live=False)])
    async with running_session(config, auto_reload=False) as (s, rec):
        await rec.wait(running("web"))
        await rec.wait(running("plain"))
        assert s.apps["web"].live_reload and not s.apps["plain"].live_reload

        # not HTML documents: every byte on the wire as the same app without live reload sends it
        for path, headers in [("/data.json", {}), ("/data.json", {"Accept-Encoding": "gzip"}),
                              ("/fragment", {}), ("/static/style.css", {}), ("/static/app.js", {}),
                              ("/static/blob.bin", {}), ("/static/style.css", {"Accept-Encoding": "gzip"}),
                              ("/static/blob.bin", {"Range": "bytes=10-99"})]:
            live = await raw_get(live_port, path, headers)
            plain = await raw_get(plain_port, path, headers)
            assert live[0] == plain[0] and live[0] in (200, 206), (path, live[0])
            assert without_date(live[3]) == without_date(plain[3]), path
        for rel in ("proj/static/style.css", "proj/static/app.js"):
            _, headers, body, _ = await raw_get(live_port, "/static/" + rel.rsplit("/", 1)[1])
            assert body == STATIC[rel].encode() and int(headers["content-length"]) == len(body)
        assert (await raw_get(live_port, "/static/blob.bin"))[2] == STATIC_BINARY[1]

        # an HTML document: the same bytes with one script before </body>; length and ETag follow
        status, headers, body, _ = await raw_get(live_port, "/")
        _, plain_headers, plain_body, _ = await raw_get(plain_port, "/")
        tag = TAG.search(body).group(0)
        assert status == 200 and body == plain_body.replace(b"</body>", tag + b"</body>")
        assert int(headers["content-length"]) == len(body)
        gen = generation(body)
        assert b'data-app="web"' in tag and b"nonce" not in tag
        assert headers["etag"] == plain_headers["etag"][:-1] + f'-tl{gen}"'
        status, h304, b304, _ = await raw_get(live_port, "/", {"If-None-Match": headers["etag"]})
        assert (status, h304["etag"], b304) == (304, headers["etag"], b"")
        # a browser revalidating its copy from before live reload was on gets the page in full
        nav = {"If-None-Match": plain_headers["etag"], "Sec-Fetch-Dest": "document"}
        assert (await raw_get(live_port, "/", nav))[2] == body
        assert (await raw_get(live_port, "/", {"If-None-Match": plain_headers["etag"]}))[0] == 304

        # Tornado's error pages are documents too (a page that failed reloads once fixed)
        status, _, b404, _ = await raw_get(live_port, "/nowhere")
        assert status == 404 and TAG.search(b404)

        # gzip compresses what we wrote (the transform comes first); its length is right
        status, hg, bg, _ = await raw_get(live_port, "/big", {"Accept-Encoding": "gzip"})
        assert hg["content-encoding"] == "gzip" and int(hg["content-length"]) == len(bg)
        assert TAG.search(gzip.decompress(bg))

        # a streamed document: "</body" split over two flushes; chunked, no stale Content-Length
        status, hs, bs, _ = await raw_get(live_port, "/streamed")
        assert hs.get("transfer-encoding") == "chunked" and "content-length" not in hs
        assert bs == b"<!doctype html><html><body><p>part one</p><p>part two</p>" + tag + b"</body></html>"

        # a static HTML file (StaticFileHandler streams it with its own Content-Length and ETag)
        status, hh, bh, _ = await raw_get(live_port, "/static/page.html")
        assert bh == STATIC["proj/static/page.html"].encode().replace(b"</body>", tag + b"</body>")
        assert (await raw_get(live_port, "/static/page.html", {"If-None-Match": hh["etag"]}))[0] == 304

        # a CSP nonce: the script carries the response's own
        status, hc, bc, _ = await raw_get(live_port, "/csp")
        nonce = re.search(r"'nonce-([^']+)'", hc["content-security-policy"]).group(1)
        assert f' nonce="{nonce}"'.encode() in TAG.search(bc).group(0)

        # the script is served on the app's port; the app without live reload has no such route
        status, hj, bj, _ = await raw_get(live_port, "/__tornado_launcher__/live.js")
        assert status == 200 and hj["content-type"].startswith("application/javascript") and b"EventSource" in bj
        assert (await raw_get(plain_port, "/__tornado_launcher__/live.js"))[0] == 404
        assert not TAG.search((await raw_get(plain_port, "/"))[2])

        # switched off at run time: pages are left alone, open streams hear "off"; on again: back
        stream = EventStream(live_port, gen)
        await stream.wait("hello")
        await s.set_live_reload("web", False)
        await stream.wait("off")
        assert (await raw_get(live_port, "/"))[2] == plain_body
        await s.set_live_reload("web", True)
        assert TAG.search((await raw_get(live_port, "/"))[2])
        await asyncio.wait_for(stream.done, 5)

        # a new kernel process: a page of the old one reloads when it reconnects
        n = len(rec.events)
        await s.restart_kernel("k")
        await rec.wait(running("web"), start=n)
        after = EventStream(live_port, gen)
        await after.wait("reload")


async def test_event_stream_says_reload_problem_and_fix(tmp_path):
    for threaded in (False, True):
        port = free_port()
        root = tmp_path / ("threaded" if threaded else "shared")
        config = project(root, [app_block("web", port, live=True, threaded=threaded)])
        web = root / "proj" / "web.py"
        async with running_session(config, auto_reload=False) as (s, rec):
            await rec.wait(running("web"))
            gen1 = generation((await raw_get(port, "/"))[2])
            stream = EventStream(port, gen1)
            assert (await stream.wait("hello"))["generation"] == gen1

            # the launcher's word: a save that did not compile, then that it is over
            s.mark_stale("web", "proj/web.py:7: invalid syntax")
            assert (await stream.wait("failed"))["message"] == "proj/web.py:7: invalid syntax"
            assert s.apps["web"].stale
            s.clear_stale("web")
            await stream.wait("ok")

            # a restart: "reload" once the new code serves; the stream ends, so the drain is not held up
            t0 = time.monotonic()
            n = len(rec.events)
            await s.restart_app("web")
            await stream.wait("reload", timeout=5)
            await asyncio.wait_for(stream.done, 2)
            assert time.monotonic() - t0 < 2.0
            assert not any("still busy" in m for m in rec.logs("web")[n:])
            gen2 = generation((await raw_get(port, "/"))[2])
            assert gen2 != gen1
            # a page of the old code that connects now reloads at once
            late = EventStream(port, gen1)
            await late.wait("reload")

            # a start that fails: the old code keeps serving, the page hears where and stays connected
            current = EventStream(port, gen2)
            await current.wait("hello")
            web.write_text(web.read_text().replace("    def start(self):\n",
                                                   "    def start(self):\n        raise RuntimeError('boom')\n"))
            line = web.read_text().splitlines().index("        raise RuntimeError('boom')") + 1
            state = await s.restart_app("web")
            assert state.state == "running" and "serving old code" in state.reason
            assert (await current.wait("failed"))["message"] == f"proj/web.py:{line}: RuntimeError: boom"
            late = EventStream(port, gen2)  # a page (re)connecting meanwhile is told at once
            assert (await late.wait("failed"))["message"] == f"proj/web.py:{line}: RuntimeError: boom"
            assert not current.done.done()

            # fixed: the next start serves; the open page reloads, and one of before on connecting
            web.write_text(live_files("v2")["proj/web.py"])
            assert (await s.restart_app("web")).state == "running"
            await current.wait("reload")
            await asyncio.wait_for(current.done, 2)
            again = EventStream(port, gen2)
            await again.wait("reload")
            status, _, body, _ = await raw_get(port, "/")
            assert b"v2" in body and generation(body) not in (gen1, gen2)

            # a stop ends the page's stream at once: the stop does not wait out the drain for it
            gen3 = generation(body)
            last = EventStream(port, gen3)
            await last.wait("hello")
            t0 = time.monotonic()
            assert (await s.stop_app("web")).state == "stopped"
            assert time.monotonic() - t0 < 1.5
            await asyncio.wait_for(last.done, 1)
