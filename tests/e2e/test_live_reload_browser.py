"""Live reload in a real browser: headless Chromium over DevTools, a real kernel, real file edits
through a real Session with auto-reload (the implicit ``*.py`` handler).

The page must reload itself after an edit; show the overlay with ``file:line: message`` after an
edit that does not compile and after one that does not start, keeping its content; lose it and
reload after the fixing save; and run under a CSP nonce.  (What the bytes on the wire are:
tests/integration/test_live_reload.py.)
"""

import os
import time

import pytest
from helpers import free_port, running_session, write_project
from live_pages import Browser, app_block, chromium_path, live_files

from tornado_launcher.engine.events import AppState

CHROMIUM = chromium_path()

pytestmark = pytest.mark.skipif(
    # In CI a missing browser is a failure, not a skip.
    CHROMIUM is None and not os.environ.get("CI"),
    reason="Chromium is not installed (./setup.sh --test installs Debian's `chromium`)",
)

OVERLAY = "document.getElementById('__tornado_launcher_overlay__')"
PROBLEM = f"({OVERLAY} && {OVERLAY}.querySelector('pre[data-problem]').textContent)"
VERSION = "(document.getElementById('version') || {}).textContent"
OPEN = "(window.__tornadoLauncherLive || {}).state === 'open'"


def running(e):
    return isinstance(e, AppState) and e.app == "web" and e.state == "running"


async def browser(tmp_path, url):
    if CHROMIUM is None:
        pytest.fail("CI: Chromium must be installed for the live-reload proof (./setup.sh --test)")
    b = Browser(CHROMIUM, tmp_path / "profile")
    await b.start(url)
    return b


def start_project(tmp_path, port, threaded=False):
    files = live_files("v1")
    files["jaffle.hcl"] = 'kernel "k" {}\n' + app_block("web", port, live=True, threaded=threaded)
    write_project(tmp_path / "site", files)
    return tmp_path / "site" / "jaffle.hcl", tmp_path / "site" / "proj" / "web.py"


def edit(web, version=None, *, replace=None, append=None):
    text = live_files(version)["proj/web.py"] if version else web.read_text()
    if replace:
        text = text.replace(*replace)
    if append:
        text += append
    web.write_text(text)
    return text


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
async def test_page_reloads_after_an_edit_shows_what_broke_and_reloads_when_fixed(tmp_path, threaded):
    port = free_port()
    config, web = start_project(tmp_path, port, threaded)
    async with running_session(config) as (s, rec):
        await rec.wait(running)
        b = await browser(tmp_path, f"http://127.0.0.1:{port}/")
        try:
            await b.wait_for(f"{OPEN} && {VERSION} === 'v1'", what="the first page, its stream open")
            await b.evaluate("window.__mark = 'this document'")

            # an edit: the page reloads itself (a new document) and shows the new code
            t0 = time.monotonic()
            edit(web, "v2")
            await b.wait_for(f"{VERSION} === 'v2' && !window.__mark && {OPEN}", what="the reload after an edit")
            print(f"edit -> page showing it: {(time.monotonic() - t0) * 1000:.0f} ms")

            # a static file: refreshed without a restart (same generation), the page reloads too
            generation = await b.evaluate("__tornadoLauncherLive.generation")
            await b.evaluate("window.__mark = 'before the css'")
            (web.parent / "static" / "style.css").write_text("body { color: #654321; }\n")
            await b.wait_for(f"!window.__mark && {OPEN}", what="the reload after a static file changed")
            assert await b.evaluate("__tornadoLauncherLive.generation") == generation
            await b.evaluate("window.__mark = 'v2 document'")

            # a save that does not compile: the overlay says where; the page is not reloaded
            text = edit(web, append="\ndef broken(:\n    pass\n")
            line = text.splitlines().index("def broken(:") + 1
            problem = await b.wait_for(PROBLEM, what="the overlay after a syntax error")
            assert problem.startswith(f"proj/web.py:{line}: "), problem
            assert await b.evaluate(f"window.__mark === 'v2 document' && {VERSION} === 'v2'")

            # a save that compiles but does not start: the overlay says where, still no reload
            text = edit(web, "v3", replace=("    def start(self):\n",
                                            "    def start(self):\n        raise RuntimeError('no start today')\n"))
            line = text.splitlines().index("        raise RuntimeError('no start today')") + 1
            await b.wait_for(f"{PROBLEM} === 'proj/web.py:{line}: RuntimeError: no start today'",
                             what="the overlay after a failed start")
            assert await b.evaluate("window.__mark === 'v2 document'")

            # the fixing save: the page reloads, without the overlay
            edit(web, "v4")
            await b.wait_for(f"{VERSION} === 'v4' && !window.__mark && {OPEN}", timeout=15,
                             what="the reload after the fix")
            assert await b.evaluate(f"{OVERLAY} === null")
            assert not [m for m in b.console if "Content Security Policy" in m or "exception" in m], b.console
        finally:
            await b.close()


async def test_switched_on_then_f5_and_a_page_under_a_csp_nonce(tmp_path):
    port = free_port()
    config, web = start_project(tmp_path, port)
    async with running_session(config) as (s, rec):
        await rec.wait(running)
        await s.set_live_reload("web", False)
        b = await browser(tmp_path, f"http://127.0.0.1:{port}/")
        try:
            # a page seen with live reload off, then the switch and an ordinary reload (F5: the
            # browser revalidates its copy): the page now has the script
            await b.wait_for(f"{VERSION} === 'v1'", what="the page without live reload")
            assert await b.evaluate("document.querySelector('script[data-tornado-launcher]') === null")
            await s.set_live_reload("web", True)
            await b.call("Page.reload", {"ignoreCache": False})
            await b.wait_for(OPEN, what="the script after switching on and F5")

            await b.navigate(f"http://127.0.0.1:{port}/csp")
            # script-src allows only the page's nonce: the script runs only if it carries it
            await b.wait_for(f"window.pageNonce && {OPEN} && {VERSION} === 'v1'",
                             what="the script under CSP, its stream open")
            nonce = await b.evaluate("window.pageNonce")
            assert nonce and await b.evaluate(
                "document.querySelector('script[data-tornado-launcher]').nonce") == nonce
            edit(web, "v2")
            await b.wait_for(f"{VERSION} === 'v2' && {OPEN}", what="the reload of the CSP page")
            assert await b.evaluate("window.pageNonce") != nonce  # a new response, a new nonce
            assert not [m for m in b.console if "Content Security Policy" in m], b.console
        finally:
            await b.close()
