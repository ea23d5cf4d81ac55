"""Restarts under client traffic: no request is refused, dropped or left hanging.

A restart must never leave a client waiting: the app's listening socket stays
bound and the new app accepts on it before the old one stops, a connection
the old app accepted is answered by the old code (drained) or closed, idle
keep-alive connections are closed (a browser must not keep talking to the old
code), and none of that delays the new app.  Real kernels, real sockets,
loopback only.
"""

from __future__ import annotations

import http.client
import os
import socket
import threading
import time

import pytest

from tests.integration.test_bridge import BridgeKernel, free_port, http_get, make_project, port_is_free

pytestmark = pytest.mark.timeout(180)

MODES = pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])


@pytest.fixture(scope="module")
def restart_kernel(tmp_path_factory):
    k = BridgeKernel(make_project(tmp_path_factory.mktemp("restart")))
    yield k
    k.shutdown()


def kernel_fds(k) -> int:
    return len(os.listdir("/proc/%d/fd" % k.pid()))


def app_threads(k, name) -> int:
    return k.evaluate("sum(t.name == %r for t in __import__('threading').enumerate())" % ("tornado-launcher:" + name))


def probe(port: int, timeout: float = 3.0) -> tuple[str, float]:
    """One bare HTTP/1.0 GET on a new connection: ("answer" | "refused" | "reset" | "closed" | "timeout", seconds)."""
    t0 = time.perf_counter()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        outcome = "answer" if data.startswith(b"HTTP/1.") else "closed"
    except ConnectionRefusedError:
        outcome = "refused"
    except (ConnectionResetError, BrokenPipeError):
        outcome = "reset"
    except (socket.timeout, TimeoutError):
        outcome = "timeout"
    return outcome, time.perf_counter() - t0


class Prober:
    """A client thread probing every ~2 ms, one connection at a time, as a polling page would."""

    def __init__(self, port: int):
        self.port = port
        self.results: list[tuple[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self):
        while not self._stop.is_set():
            self.results.append(probe(self.port))
            time.sleep(0.002)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)


def restart(k, name) -> dict:
    m = k.mark()
    k.call(name, "restart")
    r = k.wait_state(name, ("running", "failed"), m)
    assert r["state"] == "running", r
    return r


def test_a_burst_of_restarts_collects_the_heap_once(restart_kernel):
    """Issue 19 item 3, forced.  Once enough purged modules are frozen garbage
    (``graph.Heap.due``), a start schedules a full collection 1 s later.  Each start of a
    burst used to schedule its own: 20 restarts in that second queued 20 full passes that
    then ran back to back on the kernel's loop, stalling a shared-mode app's requests 0.5-2 s
    (the probe test below, about once per 200 restarts).  One collection, whatever the burst."""
    k = restart_kernel
    name = "heap_burst"
    port = free_port()
    k.create(name, "tapp.plain.PlainApp", ["--port", str(port)], threaded=False)
    k.start_and_wait(name)
    k.execute("import sys as _s, time as _t\n"
              "_heap = _s.modules['tornado_launcher_bridge.kernelside.graph'].heap")
    deadline = time.monotonic() + 5  # a collection an earlier test's restarts scheduled runs first
    while k.evaluate("getattr(_heap, '_pending', None) is not None") and time.monotonic() < deadline:
        time.sleep(0.05)
    k.execute("_heap_collects = []\n"
              "_heap.collect = (lambda collect: lambda: (_heap_collects.append(_t.monotonic()), collect())[1])"
              "(type(_heap).collect.__get__(_heap))\n"
              "_heap.frozen_garbage = _heap.COLLECT_AFTER")
    try:
        for _ in range(20):
            restart(k, name)
        deadline = time.monotonic() + 10
        while not k.evaluate("len(_heap_collects)") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # whatever else the burst scheduled is due by now
        assert k.evaluate("len(_heap_collects)") == 1
        assert k.evaluate("_heap.frozen_garbage") < k.evaluate("_heap.COLLECT_AFTER")
    finally:
        k.execute("del _heap.collect")
    k.stop_and_wait(name)


@MODES
def test_restarts_under_probing_never_hang_a_request(restart_kernel, threaded):
    """100 restarts while a client probes every 2 ms: every probe is answered."""
    k = restart_kernel
    name = "probed_" + ("threaded" if threaded else "shared")
    port = free_port()
    # a plain app: a traitlets one's logger setup in each new thread opens an ipykernel
    # event pipe that ipykernel only collects after 10 s, which would blur the fd count
    k.create(name, "tapp.plain.PlainApp", ["--port", str(port), "--message", "probed"], threaded=threaded)
    k.start_and_wait(name)
    for _ in range(3):  # warm up: first imports, first threads
        restart(k, name)
    time.sleep(0.3)
    fds_before = kernel_fds(k)
    with Prober(port) as p:
        # At least 100 restarts, and enough probes across them: how many probes fit in
        # 100 restarts depends on the machine's load (one CI run got 7), so keep
        # restarting until the client has really exercised them (bounded).
        restarts, deadline = 0, time.monotonic() + 60
        while (restarts < 100 or len(p.results) < 250) and time.monotonic() < deadline:
            restart(k, name)
            restarts += 1
        time.sleep(0.05)
    time.sleep(0.5)  # let drained connections close
    fds_after = kernel_fds(k)
    counts = {}
    for outcome, _ in p.results:
        counts[outcome] = counts.get(outcome, 0) + 1
    hung = [(o, round(d, 3)) for o, d in p.results if d >= 2.0]  # the "hung": over 2 s
    # Answered 1-2 s late: once seen in shared mode about once per 200 restarts.  The cause
    # (issue 19 item 3): every start of a burst scheduled its own full heap collection, and
    # those ran back to back on the kernel's loop (test_a_burst_of_restarts_collects_the_heap_once).
    late = [(o, round(d, 3)) for o, d in p.results if 1.0 <= d < 2.0]
    print("\n%s: %d restarts, %d probes %s, late %s, fds %d -> %d" % (
        name, restarts, len(p.results), counts, late, fds_before, fds_after))
    assert counts.get("answer", 0) > 100, counts
    assert not hung, "probes that hung >= 2 s: %s (outcomes %s)" % (hung, counts)
    assert not late, "probes answered 1-2 s late: %s" % (late,)
    # The listening socket stays bound across restarts and the new app accepts on it before
    # the old one stops (issue 12): no probe is refused, reset, closed unanswered or late.
    assert set(counts) == {"answer"}, counts
    assert fds_after - fds_before <= 2, (fds_before, fds_after)
    k.stop_and_wait(name)
    assert port_is_free(port)
    assert app_threads(k, name) == 0


@MODES
def test_request_in_flight_is_answered_by_the_old_app_without_delaying_the_new(restart_kernel, threaded):
    k = restart_kernel
    name = "inflight_" + ("threaded" if threaded else "shared")
    port = free_port()
    k.create(name, "tapp.example.ExampleApp", ["--port=%d" % port, "--message=new"], threaded=threaded)
    k.start_and_wait(name)
    result = {}

    def slow():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # HTTP/1.1, keep-alive
        try:
            conn.request("GET", "/slow?seconds=0.6")
            resp = conn.getresponse()
            result["answer"] = (resp.status, resp.read().decode())
            result["answered_at"] = time.perf_counter()
            # the connection is not left open to the old app afterwards
            conn.sock.settimeout(2)
            t0 = time.perf_counter()
            try:
                result["after"] = conn.sock.recv(1)
            except OSError as exc:
                result["after"] = type(exc).__name__
            result["closed_after"] = time.perf_counter() - t0
        except Exception as exc:
            result["error"] = repr(exc)
        finally:
            conn.close()

    m = k.mark()
    t = threading.Thread(target=slow, daemon=True)
    t.start()
    k.wait_for(lambda r: r["type"] == "log" and r["message"] == "slow request started", m)
    t0 = time.perf_counter()
    r = restart(k, name)
    running_at = time.perf_counter()
    assert running_at - t0 < 0.4, "the new app waited for the old app's request"
    assert http_get(r["urls"][0], timeout=2) == (200, "new")
    t.join(5)
    assert "error" not in result, result
    assert result["answer"] == (200, "slept"), result
    assert result["answered_at"] > running_at  # answered by the old app after the new one was serving
    assert result["after"] in (b"", "ConnectionResetError"), result
    assert result["closed_after"] < 1.0, result
    k.stop_and_wait(name)
    assert app_threads(k, name) == 0


@MODES
def test_idle_keep_alive_connection_is_closed_on_restart(restart_kernel, threaded):
    """A browser's idle keep-alive connection must not keep reaching the old code."""
    k = restart_kernel
    name = "keepalive_" + ("threaded" if threaded else "shared")
    port = free_port()
    k.create(name, "tapp.example.ExampleApp", ["--port=%d" % port, "--message=ka"], threaded=threaded)
    k.start_and_wait(name)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"ka")
        assert not resp.will_close  # kept alive
        t0 = time.perf_counter()
        restart(k, name)
        conn.sock.settimeout(2)
        try:
            got = conn.sock.recv(1)
        except OSError as exc:
            got = type(exc).__name__
        assert got in (b"", "ConnectionResetError"), got
        assert time.perf_counter() - t0 < 1.0
    finally:
        conn.close()
    k.stop_and_wait(name)


@MODES
def test_drain_is_bounded_and_leaves_nothing_behind(restart_kernel, threaded):
    """A request still running 2 s after the restart is cut off; no fd or thread is left."""
    k = restart_kernel
    name = "bounded_" + ("threaded" if threaded else "shared")
    port = free_port()
    k.create(name, "tapp.example.ExampleApp", ["--port=%d" % port], threaded=threaded)
    k.start_and_wait(name)
    restart(k, name)
    time.sleep(0.3)
    fds_before = kernel_fds(k)
    result = {}

    def very_slow():
        t0 = time.perf_counter()
        try:
            result["answer"] = http_get("http://127.0.0.1:%d/slow?seconds=30" % port, timeout=10)
        except Exception as exc:
            result["error"] = type(exc).__name__
        result["took"] = time.perf_counter() - t0

    m = k.mark()
    t = threading.Thread(target=very_slow, daemon=True)
    t.start()
    k.wait_for(lambda r: r["type"] == "log" and r["message"] == "slow request started", m)
    t0 = time.perf_counter()
    restart(k, name)
    assert time.perf_counter() - t0 < 0.4
    t.join(8)
    assert "answer" not in result and result["took"] < 4.0, result  # cut off after ~2 s, not hung
    time.sleep(0.5)
    assert kernel_fds(k) - fds_before <= 1
    assert app_threads(k, name) == (1 if threaded else 0)  # only the new app's
    k.stop_and_wait(name)
    assert app_threads(k, name) == 0


def test_watchdog_event_logs_the_saved_file(restart_kernel):
    """An editor's atomic save is a move of a temporary file over the original: name the original."""
    k = restart_kernel
    port = free_port()
    k.create("wdpath", "tapp.plain.PlainApp", ["--port", str(port)])
    k.start_and_wait("wdpath")
    project = str(k.project_dir)
    events = [
        ({"event_type": "moved", "src_path": project + "/tapp/sed18O0dq", "dest_path": project + "/tapp/handlers.py",
          "is_directory": False}, "tapp/handlers.py changed: restarting"),
        ({"event_type": "modified", "src_path": project + "/tapp/plain.py", "dest_path": None,
          "is_directory": False}, "tapp/plain.py changed: restarting"),
        ({"event_type": "modified", "src_path": "/elsewhere/lib.py", "dest_path": "", "is_directory": False},
         "/elsewhere/lib.py changed: restarting"),
    ]
    for event, expected in events:
        m = k.mark()
        k.call("wdpath", "handle_watchdog_event", event)
        k.wait_state("wdpath", "running", m)
        got = [x["message"] for x in k.logs(m, "wdpath") if x["message"].endswith("changed: restarting")]
        assert got == [expected], got
    # a watchdog event object (dest_path on moves only)
    m = k.mark()
    k.execute("from types import SimpleNamespace as _NS\n"
              "wdpath.handle_watchdog_event(_NS(src_path=%r, dest_path=%r))"
              % (project + "/tapp/.#x", project + "/tapp/custom.py"))
    k.wait_state("wdpath", "running", m)
    changed = [x["message"] for x in k.logs(m, "wdpath") if "changed" in x["message"]]
    assert changed == ["tapp/custom.py changed: restarting"]
    k.stop_and_wait("wdpath")


def test_state_records_are_sent_without_waiting_for_the_batch_window(restart_kernel):
    """The launcher hears "running" as soon as the app serves; log floods stay batched.

    The batch window is stretched to 10 s in the kernel: a settled state that waited
    for it would take 10 s to arrive, one sent at once takes milliseconds, so a 5 s
    bound tells them apart on any machine (a bound, not a timing claim)."""
    k = restart_kernel
    port = free_port()
    k.create("quick", "tapp.plain.PlainApp", ["--port", str(port)], threaded=True)
    k.start_and_wait("quick")
    window = k.evaluate("__import__('tornado_launcher_bridge.kernelside.records', fromlist=['_']).BATCH_WINDOW")
    k.execute("__import__('tornado_launcher_bridge.kernelside.records', fromlist=['_']).BATCH_WINDOW = 10.0")
    try:
        for _ in range(3):
            m = k.mark()
            t0 = time.monotonic()
            k.call("quick", "restart")
            r = k.wait_state("quick", ("running", "failed"), m, timeout=20)
            took = time.monotonic() - t0
            assert r["state"] == "running", r
            assert took < 5.0, f"'running' waited for the 10 s batch window: {took:.1f} s"
    finally:
        k.execute(f"__import__('tornado_launcher_bridge.kernelside.records', fromlist=['_']).BATCH_WINDOW = {window!r}")
    k.stop_and_wait("quick")
