"""Templates and static files: an edit is served on the next request without a
restart (the app's Tornado caches are told to forget the file); a `.py` edit
still restarts.  Real kernels, real files, real HTTP, in both modes."""

import asyncio
import re

import pytest
from helpers import fetch, free_port, running_session, wait_http, web_app_hcl, write_project

from tornado_launcher.engine.events import AppState, LogRecord, ReloadEvent

#: renders a template with a static_url; `boot` is random per App instance, so a
#: restart shows as a new boot id
ASSET_APP = '''
import binascii, os
import tornado.httpserver, tornado.ioloop, tornado.web

HERE = os.path.dirname(os.path.abspath(__file__))
CODE = "py1"

class Page(tornado.web.RequestHandler):
    def get(self):
        self.render("index.html", boot=self.application.boot, code=CODE)

class App:
    def __init__(self, argv):
        self.port = int([a for a in argv if a.startswith("--port=")][0].split("=", 1)[1])
        self.boot = binascii.hexlify(os.urandom(6)).decode()

    def start(self):
        web = tornado.web.Application(
            [(r"/", Page)],
            template_path=os.path.join(HERE, "..", "templates"),
            static_path=os.path.join(HERE, "..", "static"),
        )
        web.boot = self.boot
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

PAGE = ('{% extends "base.html" %}{% block body %}'
        'page=TEXT boot={{ boot }} code={{ code }} css={{ static_url("app.css") }}{% end %}')
BASE = "<html>{% block body %}{% end %}</html>"


def parse(body):
    m = re.search(r"page=(\S+) boot=(\w+) code=(\w+) css=(\S+)</html>", body)
    assert m, body
    return m.groups()


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
async def test_template_and_static_edits_are_served_without_a_restart(tmp_path, threaded):
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    hcl = web_app_hcl(port, extra_options=f"threaded = {'true' if threaded else 'false'}")
    write_project(tmp_path, {
        "proj/__init__.py": "", "proj/web.py": ASSET_APP, "jaffle.hcl": hcl,
        "templates/index.html": PAGE.replace("TEXT", "t1"), "templates/base.html": BASE,
        "static/app.css": "body { color: red }\n",
    })
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "running")
        page, boot, code, css = parse(await wait_http(url, "page=t1"))
        assert (page, code) == ("t1", "py1") and "?v=" in css
        info = s.apps["web"]
        assert info.template_paths == (str(tmp_path / "templates"),)
        assert info.static_paths == (str(tmp_path / "static"),)
        starts = lambda: [e for e in rec.events if isinstance(e, AppState) and e.state == "starting"]  # noqa: E731
        n_starts = len(starts())

        # a template edit: served by the same app (same boot id), no restart
        (tmp_path / "templates" / "index.html").write_text(PAGE.replace("TEXT", "t2"))
        page2, boot2, _, css2 = parse(await wait_http(url, "page=t2", timeout=10))
        assert boot2 == boot and css2 == css
        line = await rec.wait(lambda e: isinstance(e, LogRecord) and e.message.startswith("templates refreshed"))
        assert re.fullmatch(r"templates refreshed: templates/index.html changed; \d+ ms", line.message), line.message
        # the parent template too (an {% extends %} is compiled into the page)
        (tmp_path / "templates" / "base.html").write_text("<html>{% block body %}{% end %}<!-- b2 --></html>")
        await wait_http(url, "<!-- b2 -->", timeout=10)

        # a static edit: a new static_url version, same app
        (tmp_path / "static" / "app.css").write_text("body { color: blue }\n")
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            code_, body = await fetch(url)
            if code_ == 200 and "<!-- b2 -->" in body and parse(body.replace("<!-- b2 -->", ""))[3] != css:
                break
            assert asyncio.get_running_loop().time() < deadline, f"static_url never changed: {body}"
            await asyncio.sleep(0.05)
        _, boot3, _, css3 = parse(body.replace("<!-- b2 -->", ""))
        assert boot3 == boot and css3.split("?v=")[0] == css.split("?v=")[0]
        await rec.wait(lambda e: isinstance(e, LogRecord)
                       and re.fullmatch(r"static files refreshed: static/app.css changed; \d+ ms", e.message))
        code_, served = await fetch(f"http://127.0.0.1:{port}{css3}")
        assert (code_, served) == (200, "body { color: blue }\n")
        assert len(starts()) == n_starts  # never restarted
        assert [e.detail for e in rec.events if isinstance(e, ReloadEvent) and e.outcome == "done"] \
            == ["templates refreshed"] * 2 + ["static files refreshed"]

        # a .py edit still restarts: a new boot id; the templates are read fresh by the new app
        (tmp_path / "proj" / "web.py").write_text(ASSET_APP.replace('CODE = "py1"', 'CODE = "py2"'))
        page4, boot4, code4, _ = parse((await wait_http(url, "code=py2", timeout=15)).replace("<!-- b2 -->", ""))
        assert boot4 != boot and page4 == "t2"
        assert len(starts()) > n_starts


async def test_edit_while_stopped_is_read_at_the_next_start(tmp_path):
    """Tornado's template cache is the class's and outlives the app: a stop forgets it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    write_project(tmp_path, {
        "proj/__init__.py": "", "proj/web.py": ASSET_APP, "jaffle.hcl": web_app_hcl(port),
        "templates/index.html": PAGE.replace("TEXT", "t1"), "templates/base.html": BASE,
        "static/app.css": "a {}\n",
    })
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False) as (s, rec):
        await wait_http(url, "page=t1")
        await s.stop_app("web")
        (tmp_path / "templates" / "index.html").write_text(PAGE.replace("TEXT", "t9"))
        await s.start_app("web")
        await wait_http(url, "page=t9", timeout=10)
        assert not [e for e in rec.events if isinstance(e, LogRecord) and "refreshed" in e.message]
