"""``reload = "patch"``: the safety corpus and the promises of a patch, in a real kernel.

Each corpus case (``hotpatch_cases.CASES``) is a package of its own in the
kernel's project, served by its own app; one save is made (the files written,
then ``handle_watchdog_event`` as a save makes it), and the test asserts

(a) the outcome: the "running" record's ``reload`` says ``patched``, or the
    reload fell back to ``dependents`` with the expected reason;
(b) the app then answers a fixed set of requests exactly as a fresh start of
    the edited code does (a second package with the edited files, its own app,
    in the same kernel).

One kernel per mode (shared loop, threaded), reused by every case.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
import urllib.error
import urllib.request

import pytest
import tornado.websocket

from tests.integration.hotpatch_cases import CASES, HEAD
from tests.integration.test_bridge import BridgeKernel, free_port, http_get, make_project
from tornado_launcher import bridge

pytestmark = pytest.mark.timeout(300)

WEB = '''\
import tornado.web

from . import routes


class App:
    def __init__(self, argv):
        self.port = int(argv[0])

    def start(self):
        self.server = tornado.web.Application(routes.table()).listen(self.port, "127.0.0.1")

    def stop(self):
        self.server.stop()
'''

ROUTES = '''\
from . import h


def table():
    return h.ROUTES
'''

_counter = itertools.count()


@pytest.fixture(scope="module", params=["shared", "threaded"])
def kernel(request, tmp_path_factory):
    k = BridgeKernel(make_project(tmp_path_factory.mktemp("hotpatch")))
    k.threaded = request.param == "threaded"
    yield k
    k.shutdown()


def request(port, what):
    """``what``: "/path", "POST /path" or "WS /path" (one message "hi" sent); (status, text)."""
    method, _, path = what.rpartition(" ")
    url = "http://127.0.0.1:%d%s" % (port, path)
    if method == "WS":
        return "ws", ws_exchange(port, path, ["hi"])[0]
    if method == "POST":
        req = urllib.request.Request(url, data=b"body", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()[:0]
    return http_get(url)


def ws_exchange(port, path, messages):
    async def go():
        conn = await tornado.websocket.websocket_connect("ws://127.0.0.1:%d%s" % (port, path))
        out = []
        for m in messages:
            await conn.write_message(m)
            out.append(await asyncio.wait_for(conn.read_message(), 5))
        conn.close()
        return out
    return asyncio.run(go())


class Pkg:
    """One package in the kernel's project and its app (``reload = "patch"``)."""

    def __init__(self, k, files, tag):
        self.k = k
        self.name = "hp%d_%s" % (next(_counter), tag)
        self.root = k.project_dir / self.name
        self.root.mkdir()
        files = dict(files)
        files.setdefault("__init__.py", "")
        files.setdefault("routes.py", ROUTES)
        files["web.py"] = WEB
        for rel, text in files.items():
            (self.root / rel).write_text(text)
        self.port = free_port()
        k.create(self.name, self.name + ".web.App", [str(self.port)], threaded=k.threaded,
                 clear_cache=[self.name], reload="patch")

    def start(self):
        return self.k.start_and_wait(self.name)

    def save(self, edits, expect="running"):
        """Apply ``(file, old, new)`` edits (one save), reload as a save does; the record."""
        texts = {}
        for rel, old, new in edits:
            text = texts.get(rel)
            if text is None:
                text = (self.root / rel).read_text()
            assert old in text, (rel, old)
            texts[rel] = text.replace(old, new, 1)
        for rel, text in texts.items():
            (self.root / rel).write_text(text)
        m = self.k.mark()
        paths = [str(self.root / rel) for rel in texts]
        self.k.call(self.name, "handle_watchdog_event", {"event_type": "modified", "src_path": paths[-1],
                                                         "dest_path": None, "is_directory": False, "paths": paths})
        r = self.k.wait_state(self.name, ("running", "failed"), m)
        return r, texts

    def answers(self, requests):
        out = []
        for what in requests:
            status, text = request(self.port, what)
            out.append((what, status, text.replace(self.name, "PKG")))
        return out

    def logs(self, since=0):
        return [x["message"] for x in self.k.logs(since, self.name)]

    def stop(self):
        self.k.stop_and_wait(self.name)


def outcome(record):
    rel = record.get("reload") or {}
    if rel.get("kind") == "patched":
        return "patched"
    if record.get("reason"):
        return record["reason"]
    return "reloaded: " + str(rel.get("fallback"))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_corpus(kernel, case):
    files = dict(case.files, **{"h.py": HEAD + "\n\n" + case.h})
    live = Pkg(kernel, files, "live")
    live.start()
    before = live.answers(case.requests)
    m = kernel.mark()
    record, texts = live.save(case.edits)
    got = outcome(record)
    assert (got == "patched") if case.expect == "patched" else (case.expect in got), (got, live.logs(m))
    if got != "patched":
        assert record["reload"] is None or record["reload"].get("kind") == "reloaded", record
    after = live.answers(case.requests)
    live.stop()
    if not case.fresh:
        assert after == before  # the edit does not start: the old code serves on
        return
    edited = dict(files)
    for rel, text in texts.items():
        edited[rel] = text
    fresh = Pkg(kernel, edited, "fresh")
    fresh.start()
    expected = fresh.answers(case.requests)
    fresh.stop()
    assert after == expected, (got, live.logs(m))


def test_corpus_is_big_enough():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


COUNTER = HEAD + '''import tornado.websocket

HITS = {"n": 0}


class Main(tornado.web.RequestHandler):
    def get(self):
        HITS["n"] += 1
        self.write("v0 %d" % HITS["n"])


class Echo(tornado.websocket.WebSocketHandler):
    def on_message(self, m):
        HITS["n"] += 1
        self.write_message("v0 %s %d" % (m, HITS["n"]))


class Slow(tornado.web.RequestHandler):
    async def get(self):
        await GATE.wait()
        self.write("slow v0")


GATE = asyncio.Event()


class Open(tornado.web.RequestHandler):
    def get(self):
        GATE.set()
        self.write("opened")


ROUTES = [(r"/", Main), (r"/ws", Echo), (r"/slow", Slow), (r"/open", Open)]
'''


def test_state_kept_and_websocket_stays_open_across_edits(kernel):
    """A module-level counter never resets; one websocket across 10 patched edits, each answer the newest code."""
    import tornado.websocket  # noqa: F401

    p = Pkg(kernel, {"h.py": COUNTER}, "state")
    p.start()
    assert p.answers(["/"])[0][2] == "v0 1"

    async def go():
        conn = await tornado.websocket.websocket_connect("ws://127.0.0.1:%d/ws" % p.port)
        seen = []
        for i in range(1, 11):
            text = (p.root / "h.py").read_text()
            record, _ = await asyncio.to_thread(p.save, [("h.py", '"v%d %%s %%d"' % (i - 1), '"v%d %%s %%d"' % i),
                                                         ("h.py", '"v%d %%d"' % (i - 1), '"v%d %%d"' % i)])
            assert outcome(record) == "patched", (record, text)
            await conn.write_message("m")
            seen.append(await asyncio.wait_for(conn.read_message(), 5))
        conn.close()
        return seen
    seen = asyncio.run(go())
    assert seen == ["v%d m %d" % (i, i + 1) for i in range(1, 11)], seen
    status, text = request(p.port, "/")
    assert (status, text) == (200, "v10 12")
    p.stop()


def test_request_suspended_in_an_edited_method_ends_in_its_old_code(kernel):
    p = Pkg(kernel, {"h.py": COUNTER}, "suspended")
    p.start()
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("slow", request(p.port, "/slow")))
    t.start()
    deadline = time.monotonic() + 5
    time.sleep(0.2)  # the test side: let the request reach its await
    record, _ = p.save([("h.py", '"slow v0"', '"slow v1"')])
    assert outcome(record) == "patched"
    assert request(p.port, "/open") == (200, "opened")
    t.join(max(0.1, deadline - time.monotonic()) + 5)
    assert result["slow"] == (200, "slow v0")  # suspended before the patch: its old code to the end
    assert request(p.port, "/slow") == (200, "slow v1")  # the gate is open: a new request, the new code
    p.stop()


def test_file_saved_twice_within_10_ms_serves_the_second(kernel):
    p = Pkg(kernel, {"h.py": COUNTER}, "twice")
    p.start()
    path = p.root / "h.py"
    text = path.read_text()
    m = kernel.mark()
    path.write_text(text.replace('"v0 %d"', '"v1 %d"'))
    ev = {"event_type": "modified", "src_path": str(path), "dest_path": None, "is_directory": False}
    kernel.call(p.name, "handle_watchdog_event", ev)
    path.write_text(text.replace('"v0 %d"', '"v2 %d"'))
    kernel.call(p.name, "handle_watchdog_event", ev)
    kernel.wait_state(p.name, "running", m)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        status, body = request(p.port, "/")
        if body.startswith("v2 "):
            break
        time.sleep(0.05)
    assert body.startswith("v2 "), body
    p.stop()


def test_log_line_and_record_name_what_was_patched(kernel):
    p = Pkg(kernel, {"h.py": COUNTER}, "log")
    p.start()
    m = kernel.mark()
    record, _ = p.save([("h.py", '"v0 %d"', '"v1 %d"')])
    assert record["reload"]["kind"] == "patched" and record["reload"]["patched"] == ["Main.get"]
    lines = p.logs(m)
    assert any(x.startswith("%s/h.py changed: patched in place: Main.get (applied in " % p.name)
               for x in lines), lines
    m = kernel.mark()
    record, _ = p.save([("h.py", 'HITS = {"n": 0}', 'HITS = {"n": 100}')])
    assert record["reload"]["kind"] == "reloaded"
    assert record["reload"]["fallback"].startswith("module-level statement changed"), record
    assert request(p.port, "/") == (200, "v1 101")
    p.stop()


def test_after_a_reload_that_did_not_start_a_module_executed_again_is_reloaded_not_patched(kernel):
    """Save 1 changes a constant of h.py (a reload) and breaks web.py: the new start fails, the old
    run serves on with the OLD h objects while sys.modules holds a new h.  Save 2 edits a body in h.py:
    patching that new h would change nothing the app runs, so it must reload (and, web.py still
    broken, keep serving the old code), as "dependents" does."""
    p = Pkg(kernel, {"h.py": COUNTER}, "failed")
    p.start()
    assert request(p.port, "/")[1] == "v0 1"
    record, _ = p.save([("h.py", 'HITS = {"n": 0}', 'HITS = {"n": 10}'),
                        ("web.py", "    def start(self):\n",
                         "    def start(self):\n        raise RuntimeError('boom')\n")])
    assert record["reason"] and "boom" in record["reason"], record  # serving old code
    assert request(p.port, "/")[1] == "v0 2"
    record, _ = p.save([("h.py", '"v0 %d"', '"v1 %d"')])
    assert outcome(record) != "patched" and "boom" in record["reason"], record
    assert request(p.port, "/")[1] == "v0 3"  # the old run, its old objects
    record, _ = p.save([("web.py", "        raise RuntimeError('boom')\n", "")])
    assert outcome(record) != "patched" and not record["reason"], record
    assert request(p.port, "/")[1] == "v1 11"
    record, _ = p.save([("h.py", '"v1 %d"', '"v2 %d"')])  # serving the last start's code: patched again
    assert outcome(record) == "patched", record
    assert request(p.port, "/")[1] == "v2 12"
    p.stop()


def test_a_patch_in_shared_mode_is_applied_within_the_call_that_asks_for_it(kernel):
    """Shared mode: the patch is applied inside the cell (or comm message) that calls
    ``handle_watchdog_event``, not after it in the app's queue (ipykernel finishing the cell
    first cost ~2 ms); threaded mode (the app's loop must pause too): queued, applied after."""
    p = Pkg(kernel, {"h.py": COUNTER}, "atonce")
    p.start()
    assert request(p.port, "/") == (200, "v0 1")
    path = p.root / "h.py"
    path.write_text(path.read_text().replace('"v0 %d"', '"v1 %d"'))
    event = {"event_type": "modified", "src_path": str(path), "dest_path": None, "is_directory": False,
             "paths": [str(path)]}
    m = kernel.mark()
    kernel.execute(bridge.call_code(p.name, "handle_watchdog_event", event)
                   + "import sys as _s\n_tl_at_once = 'v1 %%d' in _s.modules[%r].Main.get.__code__.co_consts\n"
                   % (p.name + ".h"))
    assert kernel.evaluate("_tl_at_once") is (not kernel.threaded)
    record = kernel.wait_state(p.name, ("running", "failed"), m)
    assert outcome(record) == "patched", record
    assert request(p.port, "/") == (200, "v1 2")
    p.stop()


def test_patch_pauses_every_app_loop_of_the_kernel(kernel):
    """Two apps (threaded: two loops besides the kernel's) serve while one of them is patched
    ten times; each patch waits until both loops sit between callbacks; both keep answering."""
    a = Pkg(kernel, {"h.py": COUNTER}, "pa")
    b = Pkg(kernel, {"h.py": COUNTER}, "pb")
    a.start()
    b.start()
    stop = threading.Event()
    errors = []

    def hammer(port):
        while not stop.is_set():
            status, text = request(port, "/")
            if status != 200:
                errors.append((port, status, text))
    threads = [threading.Thread(target=hammer, args=(p.port,)) for p in (a, b)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 11):
            record, _ = a.save([("h.py", '"v%d %%d"' % (i - 1), '"v%d %%d"' % i)])
            assert outcome(record) == "patched", record
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert not errors, errors[:3]
    assert request(a.port, "/")[1].startswith("v10 ") and request(b.port, "/")[1].startswith("v0 ")
    a.stop()
    b.stop()


MAIN = HEAD + '''import sys
import tornado.ioloop


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write(word())


def word():
    return "mw1"


def make_app():
    return tornado.web.Application([(r"/", Main)])


def main():
    make_app().listen(int(sys.argv[1]), "127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
'''


def test_an_app_started_from_its_own_main(kernel):
    """``main = "pkg.app:main"``: a helper of a handler is patched; what main() runs is reloaded."""
    name = "hp%d_main" % next(_counter)
    root = kernel.project_dir / name
    root.mkdir()
    (root / "__init__.py").write_text("")
    (root / "app.py").write_text(MAIN)
    port = free_port()
    kernel.create(name, None, [str(port)], threaded=kernel.threaded, clear_cache=[name], reload="patch",
                  main=name + ".app:main")
    kernel.start_and_wait(name)
    assert request(port, "/") == (200, "mw1")

    def save(old, new):
        path = root / "app.py"
        path.write_text(path.read_text().replace(old, new))
        m = kernel.mark()
        kernel.call(name, "handle_watchdog_event", {"event_type": "modified", "src_path": str(path),
                                                    "dest_path": None, "is_directory": False})
        return kernel.wait_state(name, ("running", "failed"), m)
    assert outcome(save('"mw1"', '"mw2"')) == "patched"
    assert request(port, "/") == (200, "mw2")
    record = save('[(r"/", Main)]', '[(r"/", Main), (r"/x", Main)]')
    assert "make_app runs when the module is imported or the app starts" in outcome(record), record
    assert request(port, "/x") == (200, "mw2")
    kernel.stop_and_wait(name)
