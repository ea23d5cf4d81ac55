"""What clients see during reloads: nothing refused, reset, hung or wrong (issue 12).

Two clients request continuously (a fresh connection per request; one
keep-alive connection) while the app is reloaded by file edits: its
``probeapp/version.py`` is rewritten (``VERSION = "vN"``) and the app restarted,
through the bridge (fast: 100 reloads per mode) and through the real Session
with its real watcher.  The listening socket stays bound across restarts and
the new code accepts on it before the old code stops, so the counts are zeros.
Real kernels, real files, real sockets on loopback.
"""

from __future__ import annotations

import asyncio
import http.client
import threading
import time

import pytest

from tests.helpers import free_port, port_is_free, running_session, write_project
from tests.integration.test_bridge import BridgeKernel
from tests.prober import PROBE_APP, Probe, WebSocketTalk, WebSocketWatch, probe_hcl, version_source
from tornado_launcher.bridge import protocol
from tornado_launcher.engine.events import AppState, ReloadEvent

pytestmark = pytest.mark.timeout(120)

MODES = pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
RELOADS = 100


def make_probe_project(root):
    write_project(root, {"probeapp/__init__.py": "", "probeapp/web.py": PROBE_APP,
                         "probeapp/version.py": version_source(1)})
    return root


@pytest.fixture(scope="module")
def probe_kernel(tmp_path_factory):
    k = BridgeKernel(make_probe_project(tmp_path_factory.mktemp("prober")))
    yield k
    k.shutdown()


def start_probe_app(k, name, port, threaded=False, **extra):
    """Create and start ``probeapp.web.App`` as ``name``, serving "v1"."""
    (k.project_dir / "probeapp" / "version.py").write_text(version_source(1))
    k.create(name, "probeapp.web.App", ["--port=%d" % port], threaded=threaded, clear_cache=None, **extra)
    k.start_and_wait(name)
    m = k.mark()
    k.call(name, "restart")  # a start serves the modules an earlier test left imported: reload them
    assert k.wait_state(name, ("running", "failed"), m)["state"] == "running"


class Reloader:
    """Edits ``probeapp/version.py`` and restarts the app through the bridge."""

    def __init__(self, k, name, probe):
        self.k, self.name, self.probe = k, name, probe
        self.version = 1
        self.file = k.project_dir / "probeapp" / "version.py"

    def reload(self, broken=None, method="restart", *args) -> dict:
        n = self.version + 1
        self.file.write_text(version_source(n, broken))
        m = self.k.mark()
        self.k.call(self.name, method, *args)
        r = self.k.wait_state(self.name, ("running", "failed"), m)
        assert r["state"] == "running", r
        if broken is None:
            assert r["reason"] is None, r
            self.version = n
            self.probe.serving(n)
        else:
            assert protocol.serves_old_code(r["state"], r["reason"]), r
        return r


def long_poll(port, seconds, out):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/poll?seconds=%g" % seconds)
        resp = conn.getresponse()
        out["answer"] = (resp.status, resp.read().decode())
    except Exception as exc:
        out["error"] = repr(exc)
    finally:
        conn.close()


def assert_nothing_lost(probe, what):
    counts = probe.summary()
    print("\n%s: %s; keep-alive answers by the previous version ending their connection: %d"
          % (what, counts, probe.last_old_answers))
    for client in ("fresh", "keepalive"):
        assert counts[client].get("answer", 0) > 50, (client, counts)
    assert set(counts["fresh"]) | set(counts["keepalive"]) == {"answer"}, (counts, probe.problems)


@MODES
def test_hundred_reloads_lose_no_request(probe_kernel, threaded):
    """100 edits + restarts under two continuous clients: 0 refused, reset, hung, wrong;
    every 20th reload a websocket gets 1012 within 1 s and a long-poll in flight is answered."""
    k = probe_kernel
    name = "probe_" + ("threaded" if threaded else "shared")
    port = free_port()
    start_probe_app(k, name, port, threaded)
    with Probe(port) as probe:
        probe.serving(1)
        r = Reloader(k, name, probe)
        websockets, polls = [], []
        for i in range(RELOADS):
            watch = poll = None
            if i % 20 == 10:
                watch = WebSocketWatch("ws://127.0.0.1:%d/ws" % port)
                assert watch.connected.wait(5) and watch.error is None, watch.error
                poll = {}
                m = k.mark()
                threading.Thread(target=long_poll, args=(port, 0.3, poll), daemon=True).start()
                k.wait_for(lambda x: x["type"] == "log" and x["message"] == "poll started", m)
            old = r.version
            r.reload()
            serving_at = time.perf_counter()
            if watch is not None:
                websockets.append((watch, serving_at, old))
                polls.append((poll, old))
            time.sleep(0.01)  # let both clients reach this version
        time.sleep(0.1)
    assert_nothing_lost(probe, name)
    for watch, serving_at, old in websockets:
        assert watch.closed.wait(2), "the old app's websocket stayed open"
        assert watch.messages == ["v%d" % old], watch.messages
        assert watch.close_code == 1012 and watch.close_reason, (watch.close_code, watch.close_reason)
        assert watch.closed_at - serving_at < 1.0
    for poll, old in polls:
        deadline = time.monotonic() + 3
        while not poll and time.monotonic() < deadline:
            time.sleep(0.01)
        assert poll == {"answer": (200, "v%d-polled" % old)}, poll
    # a reconnecting websocket gets the new code
    watch = WebSocketWatch("ws://127.0.0.1:%d/ws" % port)
    assert watch.connected.wait(5) and watch.error is None
    deadline = time.monotonic() + 3
    while not watch.messages and time.monotonic() < deadline:
        time.sleep(0.01)
    assert watch.messages == ["v%d" % r.version]
    k.stop_and_wait(name)
    assert watch.closed.wait(3) and watch.close_code == 1001, watch.close_code
    assert port_is_free(port)


def test_threaded_toggle_loses_no_request(probe_kernel):
    """Switching between the kernel's loop and an own thread, under the same load."""
    k = probe_kernel
    name = "probe_toggle"
    port = free_port()
    start_probe_app(k, name, port, False)
    with Probe(port) as probe:
        probe.serving(1)
        r = Reloader(k, name, probe)
        for i in range(40):
            if i % 2:
                rec = r.reload()  # an edit, in the mode the toggle left
            else:
                m = k.mark()
                k.call(name, "set_threaded", i % 4 == 0)  # the code is not reloaded by a toggle
                rec = k.wait_state(name, ("running", "failed"), m)
                assert rec["state"] == "running" and rec["reason"] is None, rec
            assert rec["threaded"] == (i % 4 in (0, 1)), (i, rec)
            time.sleep(0.02)
        time.sleep(0.1)
    assert_nothing_lost(probe, name)
    k.stop_and_wait(name)
    assert port_is_free(port)


def http_version(port):
    """What ``GET /`` answers now ("" when nothing answers)."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        return conn.getresponse().read().decode()
    except OSError:
        return ""
    finally:
        conn.close()


def wait_for_http(port, version, timeout=10.0):
    deadline = time.monotonic() + timeout
    while http_version(port) != version:
        assert time.monotonic() < deadline, "%s never answered" % version
        time.sleep(0.005)


def slow_import(name, seconds):
    """Lines for ``version.py``: its import logs ``name`` then takes ``seconds`` (on the new
    run's thread in threaded mode)."""
    return ('import logging, time\nlogging.getLogger("probeapp").info(%r)\ntime.sleep(%r)' % (name, seconds))


def block_kernel_loop(k, seconds):
    """A cell that blocks the kernel's loop (what a shared-mode app or a long cell does), sent
    from a thread; returns the thread."""
    t = threading.Thread(target=k.execute, args=("import time; time.sleep(%r)" % seconds,), daemon=True)
    t.start()
    return t


def test_websocket_never_answers_with_old_code_once_the_new_code_serves(probe_kernel):
    """Issue 19 item 1, forced.  Threaded mode: the new run serves on its own thread as soon
    as it runs its loop; the kernel's loop then hands over on the old run's loop.  Here the
    kernel's loop is blocked (a long cell) while the new code imports, so the new code serves
    HTTP seconds before the hand-over.  A message the old websocket gets in that window is
    never answered by the old code: it is closed with 1012; a websocket opened in the window is
    the new code's or is closed with 1012 before the old code opens it.  When the new code
    does not start, the old code answers the messages it held."""
    k = probe_kernel
    name = "probe_ws_window"
    port = free_port()
    start_probe_app(k, name, port, threaded=True)
    url = "ws://127.0.0.1:%d/ws" % port
    version_file = k.project_dir / "probeapp" / "version.py"
    old = WebSocketTalk(url)
    fresh = []
    try:
        assert old.next() == ("message", "v1")
        assert old.ask("before") == ("message", "v1")
        version_file.write_text(version_source(2, slow_import("v2 imports", 0.8)))
        m = k.mark()
        k.call(name, "restart")
        k.wait_for(lambda x: x["type"] == "log" and x["message"] == "v2 imports", m)
        blocked = block_kernel_loop(k, 3.0)
        wait_for_http(port, "v2")  # the new code serves HTTP; the kernel's loop has not heard it yet
        answer = old.ask("after the new code served", timeout=8)
        assert answer[:2] == ("closed", 1012), answer
        for _ in range(3):  # accepted by the old server or the new one, whichever is first
            talk = WebSocketTalk(url)
            fresh.append(talk)
            first = talk.next(timeout=8)
            assert first == ("message", "v2") or first[:2] == ("closed", 1012), first
        blocked.join(10)
        r = k.wait_state(name, ("running", "failed"), m)
        assert r["state"] == "running" and r["reason"] is None, r
        assert http_version(port) == "v2"

        # the new code listens, then fails to start: the old code keeps its websockets and
        # answers what they held meanwhile
        kept = WebSocketTalk(url)
        fresh.append(kept)
        assert kept.next() == ("message", "v2")
        version_file.write_text(version_source(3, slow_import("v3 imports", 0.5) + "\nFAIL_IN_START = True"))
        m = k.mark()
        k.call(name, "restart")
        k.wait_for(lambda x: x["type"] == "log" and x["message"] == "v3 imports", m)
        blocked = block_kernel_loop(k, 2.0)
        time.sleep(1.0)  # v3 imported, listened and failed; the kernel's loop has not heard it yet
        assert kept.ask("held while v3 starts", timeout=8) == ("message", "v2")
        blocked.join(10)
        r = k.wait_state(name, ("running", "failed"), m)
        assert r["state"] == "running" and protocol.serves_old_code(r["state"], r["reason"]), r
        assert kept.ask("after") == ("message", "v2")
    finally:
        for talk in [old] + fresh:
            talk.close()
    version_file.write_text(version_source(4))
    m = k.mark()
    k.call(name, "restart")  # leave no failing module imported for the next test's first start
    assert k.wait_state(name, ("running", "failed"), m)["reason"] is None
    k.stop_and_wait(name)
    assert port_is_free(port)


def test_no_request_is_answered_by_old_code_once_the_new_code_serves(probe_kernel):
    """The same window for HTTP (seen by benchmarks/soak.py): both runs accept from the one
    listen queue until the hand-over, so a client that already got the new code's answer
    could get the old code's next.  Forced as above (the kernel's loop blocked while the
    new code imports): once "v2" answered, every new connection gets "v2" (those the old
    server accepts wait for the hand-over and go to the new server), and a keep-alive
    connection of the old code gets at most one answer more, which ends it."""
    k = probe_kernel
    name = "probe_http_window"
    port = free_port()
    start_probe_app(k, name, port, threaded=True)
    version_file = k.project_dir / "probeapp" / "version.py"
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    kept.request("GET", "/")
    assert kept.getresponse().read() == b"v1"
    version_file.write_text(version_source(2, slow_import("v2 imports", 0.8)))
    m = k.mark()
    k.call(name, "restart")
    k.wait_for(lambda x: x["type"] == "log" and x["message"] == "v2 imports", m)
    blocked = block_kernel_loop(k, 3.0)
    wait_for_http(port, "v2")
    kept.request("GET", "/")
    resp = kept.getresponse()
    body = resp.read()
    assert body == b"v2" or (body == b"v1" and resp.will_close), (body, resp.will_close)
    kept.close()
    answers = [http_version(port) for _ in range(40)]
    assert answers == ["v2"] * 40, answers
    blocked.join(10)
    r = k.wait_state(name, ("running", "failed"), m)
    assert r["state"] == "running" and r["reason"] is None, r
    version_file.write_text(version_source(3))
    m = k.mark()
    k.call(name, "restart")
    assert k.wait_state(name, ("running", "failed"), m)["reason"] is None
    k.stop_and_wait(name)
    assert port_is_free(port)


@MODES
def test_failed_start_keeps_the_old_code_serving(probe_kernel, threaded):
    """An edit that does not start (import error, exception in start) leaves the old code
    answering on the same socket, named file:line; the fixing save swaps; nothing lost."""
    k = probe_kernel
    name = "probe_fail_" + ("threaded" if threaded else "shared")
    port = free_port()
    start_probe_app(k, name, port, threaded)
    with Probe(port) as probe:
        probe.serving(1)
        r = Reloader(k, name, probe)
        for _ in range(5):
            r.reload()
        start_line = PROBE_APP.split("\n").index('            raise RuntimeError("start failed on purpose")') + 1
        for broken, expect in (('raise RuntimeError("broken on purpose")',
                                "probeapp/version.py:2: RuntimeError: broken on purpose"),
                               ("FAIL_IN_START = True",  # after listen(): its server is closed, not the socket
                                "probeapp/web.py:%d: RuntimeError: start failed on purpose" % start_line),
                               ("import no_such_module_xyz",
                                "probeapp/version.py:2: ModuleNotFoundError: No module named 'no_such_module_xyz'")):
            m = k.mark()
            rec = r.reload(broken)
            assert rec["reason"] == protocol.OLD_CODE + expect, rec
            assert rec["urls"] == ["http://127.0.0.1:%d/" % port]
            err = [x for x in k.logs(m, name) if x["level"] == "ERROR"]
            assert err and expect in err[0]["message"], err
            time.sleep(0.2)  # the old code answers meanwhile (the probe checks the version)
            for _ in range(3):
                r.reload()
        time.sleep(0.1)
    assert_nothing_lost(probe, name)
    assert max(probe.versions_seen["fresh"]) == r.version
    k.stop_and_wait(name)
    assert port_is_free(port)


def test_event_stream_gets_the_drain_bound_then_is_closed(probe_kernel):
    """A server-sent-event stream of the old code runs on for ``drain_timeout`` s, then ends."""
    k = probe_kernel
    name = "probe_sse"
    port = free_port()
    start_probe_app(k, name, port, drain_timeout=0.5)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/sse")
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.readline() == b"data: v1\n"
    (k.project_dir / "probeapp" / "version.py").write_text(version_source(2))
    m = k.mark()
    k.call(name, "restart")
    assert k.wait_state(name, ("running", "failed"), m)["state"] == "running"
    t0 = time.perf_counter()
    lines = []
    while True:
        line = resp.readline()
        if not line:
            break
        lines.append(line)
    took = time.perf_counter() - t0
    conn.close()
    assert 0.3 < took < 2.0, took  # the drain bound (0.5 s), not the old 2 s, not forever
    assert set(x for x in lines if x.strip()) == {b"data: v1\n"}
    k.wait_for(lambda x: x["type"] == "log" and "still busy 0.5 s" in x["message"], m, timeout=5)
    k.stop_and_wait(name)




@MODES
async def test_file_edits_through_the_session_lose_no_request(tmp_path, threaded):
    """Real saves, the real watcher, the real Session: 30 reloads, then a save whose import
    fails (the old code serves, the app reads "serving old code"), then a fixing save."""
    port = free_port()
    make_probe_project(tmp_path)
    (tmp_path / "jaffle.hcl").write_text(probe_hcl(port, threaded))
    version = tmp_path / "probeapp" / "version.py"
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "running")
        with Probe(port) as probe:
            probe.serving(1)
            for n in range(2, 32):
                mark = len(rec.events)
                version.write_text(version_source(n))
                await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done", timeout=10, start=mark)
                probe.serving(n)
                await asyncio.sleep(0.02)
            mark = len(rec.events)
            version.write_text(version_source(99, "import no_such_module_xyz"))
            await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "stale",
                           timeout=10, start=mark)
            refused = await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "refused",
                                     timeout=10, start=mark)
            assert refused.detail.startswith("probeapp/version.py:2: ModuleNotFoundError"), refused
            info = s.apps["web"]
            assert info.stale and info.state == "running"
            assert "probeapp/version.py:2: ModuleNotFoundError" in info.reason, info.reason
            await asyncio.sleep(0.3)  # the old code answers meanwhile
            mark = len(rec.events)
            version.write_text(version_source(32))
            await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "running"
                           and e.reason is None, timeout=10, start=mark)
            probe.serving(32)
            assert not s.apps["web"].stale
            await asyncio.sleep(0.1)
    assert_nothing_lost(probe, "session " + ("threaded" if threaded else "shared"))
    assert 31 in probe.versions_seen["fresh"] and 32 in probe.versions_seen["fresh"]
    assert 99 not in probe.versions_seen["fresh"]


EARLY_APP = '''
import tornado.ioloop
import tornado.web

from .web import Hello


class App:
    """Binds in __init__ (listen() before start()): the pool covers it too."""

    def __init__(self, argv):
        port = int(argv[0].split("=", 1)[1])
        self.server = tornado.web.Application([(r"/", Hello)]).listen(port, "127.0.0.1")

    def start(self):
        tornado.ioloop.IOLoop.current().start()

    def stop(self):
        self.server.stop()
        tornado.ioloop.IOLoop.current().stop()
'''

RAW_APP = '''
import socket

import tornado.httpserver
import tornado.ioloop
import tornado.web

from .web import Hello


class App:
    """Binds its socket itself, not through tornado's bind_sockets: not pooled."""

    def __init__(self, argv):
        self.port = int(argv[0].split("=", 1)[1])

    def start(self):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        sock.setblocking(False)
        self.server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Hello)]))
        self.server.add_sockets([sock])
        tornado.ioloop.IOLoop.current().start()

    def stop(self):
        self.server.stop()
        tornado.ioloop.IOLoop.current().stop()
'''


@MODES
def test_app_that_binds_in_init_loses_no_request(probe_kernel, threaded):
    k = probe_kernel
    (k.project_dir / "probeapp" / "early.py").write_text(EARLY_APP)
    (k.project_dir / "probeapp" / "version.py").write_text(version_source(1))
    name = "probe_early_" + ("threaded" if threaded else "shared")
    port = free_port()
    k.create(name, "probeapp.early.App", ["--port=%d" % port], threaded=threaded, clear_cache=None)
    k.start_and_wait(name)
    m = k.mark()
    k.call(name, "restart")
    assert k.wait_state(name, ("running", "failed"), m)["state"] == "running"
    with Probe(port) as probe:
        probe.serving(1)
        r = Reloader(k, name, probe)
        for _ in range(20):
            r.reload()
            time.sleep(0.01)
        time.sleep(0.1)
    assert_nothing_lost(probe, name)
    k.stop_and_wait(name)
    assert port_is_free(port)


def test_app_binding_its_own_socket_still_restarts(probe_kernel):
    """A socket bound outside tornado's bind_sockets cannot be handed over: the restart
    falls back to stopping the old app first (EADDRINUSE), and serves the new code."""
    k = probe_kernel
    (k.project_dir / "probeapp" / "raw.py").write_text(RAW_APP)
    name = "probe_raw"
    port = free_port()
    k.create(name, "probeapp.raw.App", ["--port=%d" % port], clear_cache=None)
    (k.project_dir / "probeapp" / "version.py").write_text(version_source(1))
    k.start_and_wait(name)
    for n in (2, 3):
        (k.project_dir / "probeapp" / "version.py").write_text(version_source(n))
        m = k.mark()
        k.call(name, "restart")
        r = k.wait_state(name, ("running", "failed"), m)
        assert r["state"] == "running" and r["reason"] is None, r
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/")
        assert conn.getresponse().read() == b"v%d" % n
        conn.close()
    k.stop_and_wait(name)
    assert port_is_free(port)


UNIX_APP = '''
import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

from .web import Hello


class App:
    """Listens on a Unix socket (tornado.netutil.bind_unix_socket): pooled like a TCP one."""

    def __init__(self, argv):
        self.path = argv[0]

    def start(self):
        self.server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Hello)]))
        self.server.add_sockets([tornado.netutil.bind_unix_socket(self.path)])
        tornado.ioloop.IOLoop.current().start()

    def stop(self):
        self.server.stop()
        tornado.ioloop.IOLoop.current().stop()
'''


def test_unix_socket_stays_bound_across_restarts(probe_kernel, tmp_path):
    import socket

    k = probe_kernel
    (k.project_dir / "probeapp" / "unixapp.py").write_text(UNIX_APP)
    (k.project_dir / "probeapp" / "version.py").write_text(version_source(1))
    path = str(tmp_path / "web.sock")
    k.create("probe_unix", "probeapp.unixapp.App", [path], clear_cache=None)
    k.start_and_wait("probe_unix")
    outcomes = {}
    stop = threading.Event()

    def client():
        while not stop.is_set():
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(3)
                    s.connect(path)
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")
                    data = b""
                    while chunk := s.recv(65536):
                        data += chunk
                key = "answer" if data.startswith(b"HTTP/1.1 200") else "closed"
            except OSError as exc:
                key = type(exc).__name__
            outcomes[key] = outcomes.get(key, 0) + 1
            time.sleep(0.001)

    t = threading.Thread(target=client, daemon=True)
    t.start()
    for n in range(2, 22):
        (k.project_dir / "probeapp" / "version.py").write_text(version_source(n))
        m = k.mark()
        k.call("probe_unix", "restart")
        assert k.wait_state("probe_unix", ("running", "failed"), m)["state"] == "running"
        time.sleep(0.01)
    stop.set()
    t.join(5)
    print("\nunix socket: %s" % outcomes)
    assert set(outcomes) == {"answer"} and outcomes["answer"] > 20, outcomes
    k.stop_and_wait("probe_unix")
    with socket.socket(socket.AF_UNIX) as s:
        try:
            s.connect(path)
            refused = False
        except OSError:
            refused = True
    assert refused  # a real stop closes it
