"""The in-kernel bridge against real kernels and real HTTP (loopback, free ports only).

A small harness drives an ipykernel through jupyter_client's
AsyncKernelManager (ipc transport, absolute ``ip`` in a private directory),
executes the cells built by ``tornado_launcher.bridge`` and collects the
records the bridge sends over its comm.  Kernels are shared between tests
where that does not weaken them; every kernel is shut down at the end.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import stat
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port, port_is_free
from tornado_launcher import bridge

APPS_DIR = Path(__file__).parent / "bridge_apps"
pytestmark = pytest.mark.timeout(120)


# ---------------------------------------------------------------------------
# harness






def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class KernelError(AssertionError):
    pass


class BridgeKernel:
    """One ipykernel with the bridge installed; methods block the calling (test) thread."""

    def __init__(self, project_dir: Path, name: str = "py_kernel"):
        self.project_dir = project_dir
        self.name = name
        self.records: list[dict] = []
        self.streams: list[tuple[str, str]] = []
        self.cond = threading.Condition()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runtime_dir = tempfile.mkdtemp(prefix="tl-bridge-rt-")
        os.chmod(self.runtime_dir, stat.S_IRWXU)
        self.km = None
        self.kc = None
        self.iopub_task = None
        try:
            self._run(self._start(), 60)
            for cell in bridge.install_cells({"kernel": name, "project_dir": str(project_dir)}):
                self.execute(cell)
            self.hello = self.wait_for(lambda r: r["type"] == "hello", since=0)
        except BaseException:
            self.shutdown()  # never leave a kernel process behind
            raise

    def _run(self, coro, timeout):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self):
        from jupyter_client import AsyncKernelManager

        self.km = AsyncKernelManager(transport="ipc")
        self.km.ip = os.path.join(self.runtime_dir, "kernel")
        self.km.connection_file = os.path.join(self.runtime_dir, "kernel.json")
        self.km.shutdown_wait_time = 3.0
        env = dict(os.environ)
        # let the kernel write .pyc files as a user's would, so stale bytecode is a real risk
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        await self.km.start_kernel(cwd=str(self.project_dir), env=env)
        self.kc = self.km.client()
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=60)
        self.iopub_task = asyncio.ensure_future(self._read_iopub())

    async def _read_iopub(self):
        while True:
            try:
                msg = await self.kc.get_iopub_msg()
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.01)
                continue
            mt = msg["msg_type"]
            content = msg["content"]
            with self.cond:
                if mt == "comm_open" and content.get("target_name") == bridge.COMM_TARGET:
                    self.records.extend(content["data"].get("events", []))
                elif mt == "comm_msg":
                    self.records.extend((content.get("data") or {}).get("events", []))
                elif mt == "stream":
                    self.streams.append((content["name"], content["text"]))
                self.cond.notify_all()

    async def _execute(self, code, timeout):
        msg_id = self.kc.execute(code, store_history=False)
        deadline = time.monotonic() + timeout
        while True:
            reply = await self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]

    def execute(self, code: str, timeout: float = 30.0, allow_error: bool = False) -> dict:
        content = self._run(self._execute(code, timeout), timeout + 5)
        if content["status"] != "ok" and not allow_error:
            tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(content.get("traceback", [])))
            tb = "\n".join(line[:300] for line in tb.splitlines())
            raise KernelError("cell failed: %s: %s\n%s" % (content.get("ename"), content.get("evalue"), tb))
        return content

    def evaluate(self, expr: str):
        """The JSON value of ``expr`` in the kernel (printed through a side channel-free path)."""
        content = self._run(self._evaluate(expr), 35)
        return content

    async def _evaluate(self, expr):
        msg_id = self.kc.execute("", store_history=False,
                                 user_expressions={"v": "__import__('json').dumps(%s)" % expr})
        while True:
            reply = await self.kc.get_shell_msg(timeout=30)
            if reply["parent_header"].get("msg_id") == msg_id:
                v = reply["content"]["user_expressions"]["v"]
                if v["status"] != "ok":
                    raise KernelError("%s: %s" % (v.get("ename"), v.get("evalue")))
                return json.loads(eval(v["data"]["text/plain"]))

    # -- records
    def mark(self) -> int:
        with self.cond:
            return len(self.records)

    def wait_for(self, pred, since: int, timeout: float = 15.0) -> dict:
        deadline = time.monotonic() + timeout
        with self.cond:
            i = since
            while True:
                while i < len(self.records):
                    r = self.records[i]
                    i += 1
                    if pred(r):
                        return r
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError("no matching record within %gs; records since %d:\n%s" % (
                        timeout, since, "\n".join(json.dumps(r) for r in self.records[since:])))
                self.cond.wait(remaining)

    def wait_state(self, app: str, states, since: int, timeout: float = 15.0) -> dict:
        if isinstance(states, str):
            states = (states,)
        return self.wait_for(lambda r: r["type"] == "state" and r["app"] == app and r["state"] in states,
                             since, timeout)

    def logs(self, since: int = 0, app="*") -> list[dict]:
        with self.cond:
            return [r for r in self.records[since:] if r["type"] == "log" and (app == "*" or r["app"] == app)]

    # -- bridge calls
    def create(self, name, app_class, argv, threaded=False, kind="tornado", **extra):
        spec = {"class": None, "app_class": app_class, "argv": argv, "threaded": threaded,
                "clear_cache": extra.pop("clear_cache", ["tapp"]),
                "logger": extra.pop("logger", {"level": "INFO", "suppress_regex": [], "replace_regex": []})}
        spec.update(extra)
        self.execute(bridge.create_app_code(name, kind, spec))

    def call(self, name, method, *args):
        self.execute(bridge.call_code(name, method, *args))

    def start_and_wait(self, name, timeout=15.0) -> dict:
        m = self.mark()
        self.call(name, "start")
        r = self.wait_state(name, ("running", "failed"), m, timeout)
        assert r["state"] == "running", r
        return r

    def stop_and_wait(self, name, timeout=15.0) -> dict:
        m = self.mark()
        self.call(name, "stop")
        return self.wait_state(name, "stopped", m, timeout)

    def pid(self) -> int:
        return self.km.provisioner.process.pid

    def shutdown(self):
        async def _shutdown():
            if self.iopub_task is not None:
                self.iopub_task.cancel()
            if self.kc is not None:
                try:
                    self.kc.stop_channels()
                except Exception:
                    pass
            if self.km is not None and self.km.has_kernel:
                try:
                    await self.km.shutdown_kernel(now=False)
                except Exception:
                    await self.km.shutdown_kernel(now=True)
        try:
            self._run(_shutdown(), 30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


def make_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(APPS_DIR, project, ignore=shutil.ignore_patterns("__pycache__"))
    return project


@pytest.fixture(scope="module")
def bridge_project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("bridge"))


@pytest.fixture(scope="module")
def bridge_kernel(bridge_project):
    k = BridgeKernel(bridge_project)
    yield k
    k.shutdown()


@pytest.fixture
def bridge_own_kernel(tmp_path):
    kernels = []

    def make():
        k = BridgeKernel(make_project(tmp_path))
        kernels.append(k)
        return k
    yield make
    for k in kernels:
        k.shutdown()


# ---------------------------------------------------------------------------
# the cells themselves


def ast_literal_json(code):
    """The JSON payload of a cell: its one string literal that is JSON of a dict."""
    import ast

    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("{"):
            return json.loads(node.value)
    raise AssertionError("no JSON literal in the cell")


def test_cells_carry_values_as_data():
    evil = 'x"); import os; os.system("echo pwned'
    with pytest.raises(ValueError):
        bridge.create_app_code(evil, "tornado", {})
    with pytest.raises(ValueError):
        bridge.call_code("web", "_private")
    code = bridge.call_code("web", "set_threaded", True)
    assert "set_threaded" in code and "True" not in code  # JSON true, inside a string literal
    code = bridge.create_app_code("web", "tornado", {"argv": [evil]})
    compile(code, "<cell>", "exec")
    code = bridge.report_problem_code("web", evil + "\nproj/web.py:3: invalid syntax")
    compile(code, "<cell>", "exec")
    assert ast_literal_json(code)["problem"].startswith(evil)
    with pytest.raises(ValueError):
        bridge.report_problem_code(evil, None)
    assert bridge.source().startswith('"""The in-kernel half')
    assert [name for name, _, _ in bridge.sources()][:2] == ["protocol", "kernelside"]
    cells = bridge.install_cells({"kernel": 'k"\'', "project_dir": "/tmp/x'y\"z"})
    for cell in cells:
        compile(cell, "<cell>", "exec")
        # under pyzmq's zero-copy threshold: no garbage-collector thread in launcher and kernel
        assert len(cell) < 65536


# ---------------------------------------------------------------------------
# one kernel, many apps


def test_hello_and_install_is_idempotent(bridge_kernel, monkeypatch):
    k = bridge_kernel
    assert k.hello["pid"] == k.pid()
    assert k.hello["kernel"] == "py_kernel"
    m = k.mark()
    # a second install, this time split over several cells as a larger bridge would be
    monkeypatch.setattr(bridge, "CELL_BUDGET", 8000)
    cells = bridge.install_cells({"kernel": "py_kernel", "project_dir": str(k.project_dir)})
    assert len(cells) > 2
    for cell in cells:
        k.execute(cell)
    k.wait_for(lambda r: r["type"] == "hello", m)
    assert k.evaluate("'__tornado_launcher_parts' in globals()") is False
    assert k.evaluate("sum(isinstance(h, __import__('sys')"
                      ".modules['tornado_launcher_bridge.kernelside.attribution'].BridgeHandler) "
                      "for h in __import__('logging').getLogger().handlers)") == 1
    # ipykernel's console handler on "tornado" would copy every access line to the raw stderr
    assert k.evaluate("[repr(h) for h in __import__('logging').getLogger('tornado').handlers]") == []
    assert k.evaluate("__import__('sys').dont_write_bytecode") is False
    # the fresh-source finder answers for project files only
    assert k.evaluate("[type(__import__('sys').modules['tornado_launcher_bridge.kernelside.imports']"
                      ".finder.find_spec(n)).__name__ "
                      "for n in ('sys', 'json', 'tornado', 'tapp')]") == ["NoneType"] * 3 + ["ModuleSpec"]
    assert k.evaluate("type(__import__('tapp').__loader__).__name__") == "_FreshSourceLoader"
    assert k.evaluate("type(__import__('tornado').__loader__).__name__") == "SourceFileLoader"


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_serves_stops_frees_port_kernel_lives(bridge_kernel, threaded):
    k = bridge_kernel
    port = free_port()
    k.create("web", "tapp.example.ExampleApp", ["--port=%d" % port, "--message=hi"], threaded=threaded)
    r = k.start_and_wait("web")
    assert r["urls"] == ["http://127.0.0.1:%d/" % port]
    assert r["threaded"] is threaded
    assert r["elapsed_ms"] is not None and r["elapsed_ms"] < 5000
    assert http_get(r["urls"][0]) == (200, "hi")
    # calls are serialized: a start right after a stop waits for the port to be free
    m = k.mark()
    k.execute("web.stop(); web.start()")
    r = k.wait_state("web", ("running", "failed"), m)
    assert r["state"] == "running", r
    states = [x["state"] for x in k.records[m:] if x["type"] == "state" and x["app"] == "web"]
    assert states == ["stopping", "stopped", "starting", "running"], states
    assert http_get(r["urls"][0]) == (200, "hi")
    k.stop_and_wait("web")
    assert port_is_free(port)
    assert k.evaluate("1+1") == 2
    with pytest.raises(OSError):
        http_get(r["urls"][0], timeout=1)


def test_plain_class_gets_argv_in_init(bridge_kernel):
    k = bridge_kernel
    port = free_port()
    k.create("plain", "tapp.plain.PlainApp", ["--port", str(port), "--message", "plain here"])
    r = k.start_and_wait("plain")
    assert http_get(r["urls"][0]) == (200, "plain here")
    k.stop_and_wait("plain")


EDITED_TEMPLATE = '''\
from tornado import ioloop, web

BODY = "{body}"


class Handler(web.RequestHandler):
    def get(self):
        self.write(BODY)


class EditedApp:
    def __init__(self, argv):
        self.port = int(argv[0])

    def start(self):
        self.server = web.Application([(r"/", Handler)]).listen(self.port, "127.0.0.1")
        self.io_loop = ioloop.IOLoop.current()
        self.io_loop.start()

    def stop(self):
        def _stop():
            self.server.stop()
            self.io_loop.stop()
        self.io_loop.add_callback(_stop)
'''


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_restart_after_edits_serves_new_code_even_within_one_second(bridge_kernel, threaded):
    k = bridge_kernel
    mod = "edited_%s" % ("threaded" if threaded else "shared")
    path = k.project_dir / (mod + ".py")
    path.write_text(EDITED_TEMPLATE.format(body="v1"))
    port = free_port()
    k.create("ed", mod + ".EditedApp", [str(port)], threaded=threaded, clear_cache=[mod])
    r = k.start_and_wait("ed")
    url = r["urls"][0]
    assert http_get(url)[1] == "v1"
    for body in ("v2", "v3"):  # same size, same second: mtime+size .pyc checks would serve v2
        path.write_text(EDITED_TEMPLATE.format(body=body))
        m = k.mark()
        k.call("ed", "restart")
        r = k.wait_state("ed", ("running", "failed"), m)
        assert r["state"] == "running", r
        assert http_get(url)[1] == body
    assert not list((k.project_dir / "__pycache__").glob(mod + ".*.pyc"))  # no bytecode written
    # a syntax error: the old code keeps serving ("serving old code: file:line: ..."), with
    # the traceback in the app's log; the fix swaps
    path.write_text(EDITED_TEMPLATE.format(body="v4").replace("class Handler", "class Handler("))
    m = k.mark()
    k.call("ed", "restart")
    r = k.wait_state("ed", ("running", "failed"), m)
    assert r["state"] == "running" and r["reason"].startswith("serving old code: %s.py:" % mod), r
    assert "SyntaxError" in r["reason"], r
    err = [x for x in k.logs(m, "ed") if x["level"] == "ERROR"]
    assert err and "SyntaxError" in err[0]["traceback"]
    assert http_get(url)[1] == "v3"
    assert k.evaluate("1+1") == 2
    path.write_text(EDITED_TEMPLATE.format(body="v5"))
    m = k.mark()
    k.call("ed", "restart")
    r = k.wait_state("ed", ("running", "failed"), m)
    assert r["state"] == "running", r
    assert http_get(url)[1] == "v5"
    k.stop_and_wait("ed")


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_failed_start_then_fixed_start(bridge_kernel, threaded):
    k = bridge_kernel
    port = free_port()
    # exception in start() after binding: failed, port released
    k.create("bad", "tapp.failing.FailingApp", ["--port", str(port)], threaded=threaded)
    m = k.mark()
    k.call("bad", "start")
    r = k.wait_state("bad", ("running", "failed"), m)
    assert r["state"] == "failed" and "start exploded on purpose" in r["reason"]
    tb = [x for x in k.logs(m, "bad") if x["level"] == "ERROR"][0]["traceback"]
    assert "RuntimeError: start exploded on purpose" in tb
    assert port_is_free(port)
    # import error
    k.create("bad", "tapp.nonexistent.App", ["--port", str(port)], threaded=threaded)
    m = k.mark()
    k.call("bad", "start")
    r = k.wait_state("bad", ("running", "failed"), m)
    assert r["state"] == "failed" and "ModuleNotFoundError" in r["reason"]
    # port in use
    with socket.socket() as blocker:
        # SO_REUSEADDR as Tornado's: a connection on this port in TIME_WAIT (another test's probe)
        # must not fail the test; a listening socket still holds the port against the app's bind
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        k.create("bad", "tapp.plain.PlainApp", ["--port", str(port)], threaded=threaded)
        m = k.mark()
        k.call("bad", "start")
        r = k.wait_state("bad", ("running", "failed"), m)
        # the sentence names the address, the port and who holds it (this test's process)
        assert r["state"] == "failed" and r["reason"].startswith(
            "port %d on 127.0.0.1 is already in use, held by pid %d (" % (port, os.getpid())), r
    # fixed: the same app object restarts
    m = k.mark()
    k.call("bad", "restart")
    r = k.wait_state("bad", ("running", "failed"), m)
    assert r["state"] == "running", r
    assert http_get(r["urls"][0]) == (200, "plain")
    k.stop_and_wait("bad")
    assert k.evaluate("1+1") == 2


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_stop_that_raises_still_frees_the_port(bridge_kernel, threaded):
    k = bridge_kernel
    port = free_port()
    k.create("bs", "tapp.badstop.BadStopApp", ["--port", str(port)], threaded=threaded)
    k.start_and_wait("bs")
    m = k.mark()
    t0 = time.monotonic()
    k.stop_and_wait("bs")
    assert time.monotonic() - t0 < 3
    err = [x for x in k.logs(m, "bs") if x["level"] == "ERROR"]
    assert err and "stop exploded on purpose" in err[0]["traceback"]
    assert port_is_free(port)
    assert k.evaluate("1+1") == 2


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_asyncio_loop_stop_in_stop_does_not_stop_the_kernel(bridge_kernel, threaded):
    k = bridge_kernel
    port = free_port()
    k.create("astop", "tapp.asyncstop.AsyncioStopApp", ["--port", str(port)], threaded=threaded)
    k.start_and_wait("astop")
    t0 = time.monotonic()
    k.stop_and_wait("astop")
    assert time.monotonic() - t0 < 3
    assert port_is_free(port)
    assert k.evaluate("1+1") == 2
    k.start_and_wait("astop")
    k.stop_and_wait("astop")


def _exercise_two_apps(k, ports):
    m = k.mark()
    for name, port in zip(("a", "b"), ports, strict=True):
        assert http_get("http://127.0.0.1:%d/print?msg=from-%s" % (port, name)) == (200, "ok")
    for name in ("a", "b"):
        printed, served = f"thread-printed from-{name}", f"/print?msg=from-{name}"
        k.wait_for(lambda r, printed=printed: r["type"] == "log" and r["message"].startswith(printed), m)
        k.wait_for(lambda r, served=served: r["type"] == "log" and served in r["message"], m)
    time.sleep(0.1)
    logs = k.logs(m)
    for name in ("a", "b"):
        other = "b" if name == "a" else "a"
        mine = [x for x in logs if "from-%s" % name in x["message"]]
        kinds = {(x["origin"], x["logger"]) for x in mine}
        assert ("stdout", "stdout") in kinds
        assert ("bridge", "tapp.handlers") in kinds
        assert ("bridge", "tornado.access") in kinds
        assert all(x["app"] == name for x in mine), [x for x in mine if x["app"] != name]
        assert not any("from-%s" % other in x["message"] for x in logs if x["app"] == name)
    return logs


def test_two_apps_keep_their_logs_apart_in_both_modes(bridge_kernel):
    k = bridge_kernel
    ports = [free_port(), free_port()]
    k.create("a", "tapp.example.ExampleApp", ["--port=%d" % ports[0]], threaded=False)
    k.create("b", "tapp.plain.PlainApp", ["--port", str(ports[1])], threaded=False)
    k.start_and_wait("a")
    k.start_and_wait("b")
    _exercise_two_apps(k, ports)
    # both threaded
    for name in ("a", "b"):
        m = k.mark()
        k.call(name, "set_threaded", True)
        r = k.wait_state(name, ("running", "failed"), m)
        assert r["state"] == "running" and r["threaded"] is True, r
    _exercise_two_apps(k, ports)
    # mixed: a threaded, b shared
    m = k.mark()
    k.call("b", "set_threaded", False)
    k.wait_state("b", "running", m)
    _exercise_two_apps(k, ports)
    # errors in a request handler: the traceback goes to that app
    m = k.mark()
    assert http_get("http://127.0.0.1:%d/fail" % ports[0])[0] == 500
    r = k.wait_for(lambda r: r["type"] == "log" and r["traceback"] and "boom in handler" in r["traceback"], m)
    assert r["app"] == "a" and r["level"] == "ERROR"
    k.stop_and_wait("a")
    k.stop_and_wait("b")
    assert all(port_is_free(p) for p in ports)


def test_logger_level_suppress_and_replace(bridge_kernel):
    k = bridge_kernel
    port = free_port()
    k.create("flt", "tapp.example.ExampleApp", ["--port=%d" % port], threaded=False,
             logger={"level": "INFO", "suppress_regex": [r"secret"],
                     "replace_regex": [[r"msg=\w+", "msg=XXX"]]})
    k.start_and_wait("flt")
    m = k.mark()
    http_get("http://127.0.0.1:%d/print?msg=secret" % port)
    http_get("http://127.0.0.1:%d/print?msg=visible" % port)
    r = k.wait_for(lambda r: r["type"] == "log" and r["logger"] == "tornado.access" and "msg=XXX" in r["message"], m)
    # only the matched part is replaced, the rest of the line stays once
    assert r["message"].count("GET /print?msg=XXX") == 1 and r["message"].startswith("200 GET /print?msg=XXX")
    k.wait_for(lambda r: r["type"] == "log" and r["message"] == "printed visible", m)
    time.sleep(0.1)
    assert not [x for x in k.logs(m) if "secret" in x["message"]]
    k.stop_and_wait("flt")


def test_quotes_in_names_and_argv_are_data(bridge_kernel):
    k = bridge_kernel
    port = free_port()
    message = 'it\'s "quoted" \\ {braces} %s \n newline'
    k.create("quoted", "tapp.plain.PlainApp", ["--port", str(port), "--message", message])
    r = k.start_and_wait("quoted")
    assert http_get(r["urls"][0]) == (200, message)
    k.stop_and_wait("quoted")
    with pytest.raises(ValueError):
        bridge.create_app_code('q"); import os; os._exit(1); ("', "tornado", {})
    assert k.evaluate("1+1") == 2


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_serves_many_requests_after_the_cell_ended(bridge_kernel, threaded):
    """ipykernel#1510: nothing may stall until the next cell."""
    k = bridge_kernel
    port = free_port()
    k.create("busy", "tapp.example.ExampleApp", ["--port=%d" % port, "--message=busy"], threaded=threaded)
    m = k.mark()
    k.call("busy", "start")  # the last cell for a while
    k.wait_state("busy", "running", m)
    url = "http://127.0.0.1:%d/" % port
    t0 = time.monotonic()
    for _ in range(200):
        assert http_get(url, timeout=2) == (200, "busy")
    assert time.monotonic() - t0 < 20
    # the access log records arrived too, without a cell
    k.wait_for(lambda r: r["type"] == "log" and r["app"] == "busy" and r["logger"] == "tornado.access", m)
    k.stop_and_wait("busy")


def test_replacing_a_running_app_stops_it_first(bridge_kernel):
    k = bridge_kernel
    port = free_port()
    k.create("rep", "tapp.example.ExampleApp", ["--port=%d" % port, "--message=old"])
    k.start_and_wait("rep")
    m = k.mark()
    # re-read config: same name, same port, new message; start right away
    k.create("rep", "tapp.example.ExampleApp", ["--port=%d" % port, "--message=new"], threaded=True)
    k.call("rep", "start")
    r = k.wait_state("rep", ("running", "failed"), m)
    assert r["state"] == "running", r
    assert http_get(r["urls"][0]) == (200, "new")
    k.stop_and_wait("rep")


def test_watchdog_app_and_event(bridge_kernel):
    k = bridge_kernel
    m = k.mark()
    k.create("watcher", None, [], kind="watchdog")
    k.call("watcher", "start")
    k.wait_state("watcher", "running", m)
    port = free_port()
    k.create("wd", "tapp.example.ExampleApp", ["--port=%d" % port])
    k.start_and_wait("wd")
    m = k.mark()
    k.execute("from types import SimpleNamespace as _NS\nwd.handle_watchdog_event(_NS(src_path='/x/y.py'))")
    r = k.wait_state("wd", ("running", "failed"), m)
    assert r["state"] == "running"
    assert any("/x/y.py" in x["message"] for x in k.logs(m, "wd"))
    # the launcher's call: a dict event, often in bursts; a burst restarts once
    m = k.mark()
    k.execute("\n".join(bridge.call_code("wd", "handle_watchdog_event",
                                          {"event_type": "modified", "src_path": "/x/z%d.py" % i,
                                           "dest_path": None, "is_directory": False})
                        for i in range(5)))
    r = k.wait_state("wd", ("running", "failed"), m)
    assert r["state"] == "running"
    time.sleep(0.3)
    starts = [x for x in k.records[m:] if x["type"] == "state" and x["app"] == "wd" and x["state"] == "starting"]
    assert len(starts) == 1, starts
    k.stop_and_wait("wd")
    # Jaffle-style subclass import path works when jaffle is not installed
    name = k.evaluate("__import__('jaffle.app.tornado', fromlist=['x']).TornadoBridgeApp.__name__")
    assert name == "TornadoBridgeApp"


def test_kernel_output_outside_apps(bridge_kernel):
    """Cell prints stay ordinary output; logging outside any app goes to the kernel's log."""
    k = bridge_kernel
    m = k.mark()
    before = len(k.streams)
    k.execute("print('plain cell output')\n"
              "import logging; logging.getLogger('somelib').warning('kernel-level %s', 'warning')")
    r = k.wait_for(lambda r: r["type"] == "log" and r["message"] == "kernel-level warning", m)
    assert r["app"] is None and r["level"] == "WARNING" and r["logger"] == "somelib"
    time.sleep(0.2)
    assert ("stdout", "plain cell output\n") in k.streams[before:]
    assert not [x for x in k.logs(m) if "plain cell output" in x["message"]]


def test_logger_names_attribute_records_outside_any_context(bridge_kernel):
    """No app context (a cell, a thread started by a cell): the logger name decides."""
    k = bridge_kernel
    port = free_port()
    k.create("solo", "tapp.example.ExampleApp", ["--port=%d" % port])
    k.start_and_wait("solo")
    m = k.mark()
    k.execute("import logging, threading\n"
              "logging.getLogger('tornado.general').warning('tornado-outside')\n"
              "logging.getLogger('tapp.elsewhere').warning('package-outside')\n"
              "logging.getLogger('ExampleApp').warning('applog-outside')\n"
              "logging.getLogger('unrelated').warning('kernel-outside')\n"
              "t = threading.Thread(target=lambda: logging.getLogger('tornado.access').warning('thread-outside'))\n"
              "t.start(); t.join()")
    k.wait_for(lambda r: r["type"] == "log" and r["message"] == "thread-outside", m)
    got = {x["message"]: x["app"] for x in k.logs(m) if x["message"].endswith("-outside")}
    assert got == {"tornado-outside": "solo", "package-outside": "solo", "applog-outside": "solo",
                   "kernel-outside": None, "thread-outside": "solo"}, got
    k.stop_and_wait("solo")


def test_set_threaded_while_stopped_only_reports(bridge_kernel):
    k = bridge_kernel
    port = free_port()
    k.create("sw", "tapp.example.ExampleApp", ["--port=%d" % port], threaded=False)
    m = k.mark()
    k.call("sw", "set_threaded", True)
    k.wait_for(lambda r: r["type"] == "state" and r["app"] == "sw" and r["threaded"] is True, m)
    assert k.evaluate("sw.state") == "stopped"
    r = k.start_and_wait("sw")
    assert r["threaded"] is True
    assert k.evaluate("__import__('threading').current_thread().name") == "MainThread"
    assert k.evaluate("[t.name for t in __import__('threading').enumerate() if t.name == 'tornado-launcher:sw']")
    k.stop_and_wait("sw")
    assert not k.evaluate("[t.name for t in __import__('threading').enumerate() if t.name == 'tornado-launcher:sw']")


def test_user_subclass_written_for_jaffle(bridge_kernel):
    k = bridge_kernel
    port = free_port()
    m = k.mark()
    k.create("cust", "tapp.plain.PlainApp", [], **{"class": "tapp.custom.CustomBridge", "custom_port": port})
    r = k.start_and_wait("cust")
    assert http_get(r["urls"][0]) == (200, "custom")
    assert any(x["message"] == "custom make_app for cust" for x in k.logs(m, "cust"))
    assert k.evaluate("type(cust).__mro__[1] is __import__('tornado_launcher_bridge').TornadoBridgeApp")
    assert k.evaluate("__import__('tornado_launcher.bridge', fromlist=['x']).TornadoBridgeApp "
                      "is __import__('tornado_launcher_bridge').TornadoBridgeApp")
    k.stop_and_wait("cust")


def test_any_address_reports_loopback_url_once(bridge_kernel):
    k = bridge_kernel
    port = free_port()
    k.create("anyaddr", "tapp.anyaddr.AnyAddressApp", ["--port", str(port)])
    r = k.start_and_wait("anyaddr")
    # a wildcard bind (both families) is one clickable localhost URL (issue 10)
    assert r["urls"] == ["http://localhost:%d/" % port]
    assert http_get("http://127.0.0.1:%d/" % port) == (200, "any")
    k.stop_and_wait("anyaddr")
    assert port_is_free(port)


def test_app_log_is_routed_once(bridge_kernel):
    """The traitlets app's own stderr handler must not print its records a second time."""
    k = bridge_kernel
    port = free_port()
    m = k.mark()
    k.create("once", "tapp.example.ExampleApp", ["--port=%d" % port])
    k.start_and_wait("once")
    k.stop_and_wait("once")
    hits = [x for x in k.logs(m) if "ExampleApp listening on" in x["message"]]
    assert len(hits) == 1 and hits[0]["app"] == "once" and hits[0]["origin"] == "bridge", hits
    assert hits[0]["logger"] == "ExampleApp" and hits[0]["level"] == "INFO"


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_print_flood_arrives_and_kernel_stays_responsive(bridge_kernel, threaded):
    k = bridge_kernel
    port = free_port()
    k.create("flood", "tapp.example.ExampleApp", ["--port=%d" % port], threaded=threaded)
    k.start_and_wait("flood")
    m = k.mark()
    t0 = time.monotonic()
    assert http_get("http://127.0.0.1:%d/flood?n=20000" % port, timeout=30) == (200, "flooded")
    k.wait_for(lambda r: r["type"] == "log" and r["message"] == "flood line 19999", m, timeout=30)
    assert time.monotonic() - t0 < 15
    lines = [x for x in k.logs(m, "flood") if x["message"].startswith("flood line")]
    assert len(lines) == 20000 and all(x["origin"] == "stdout" for x in lines)
    assert k.evaluate("1+1") == 2
    k.stop_and_wait("flood")


def test_stop_when_stopped_still_reports(bridge_kernel):
    k = bridge_kernel
    k.create("idle", "tapp.example.ExampleApp", ["--port=1"])
    k.wait_for(lambda r: r["type"] == "state" and r["app"] == "idle", 0)
    k.stop_and_wait("idle")


# ---------------------------------------------------------------------------
# kernels of their own


def test_debug_true_does_not_reexec_the_kernel(bridge_own_kernel):
    k = bridge_own_kernel()
    pid = k.pid()
    # os.execv keeps the pid: only the namespace tells a re-exec'd kernel apart
    k.execute("_survives_reexec = 42")
    port = free_port()
    k.create("dbg", "tapp.plain.PlainApp", ["--port", str(port), "--debug"])
    m = k.mark()
    r = k.start_and_wait("dbg")
    w = k.wait_for(lambda r: r["type"] == "log" and "autoreload" in r["message"], m)
    assert w["app"] == "dbg" and w["level"] == "WARNING"
    # touch a module the app imported: Tornado's autoreload would re-exec now
    handlers = k.project_dir / "tapp" / "handlers.py"
    time.sleep(1.1)
    handlers.write_text(handlers.read_text() + "\n# edited\n")
    time.sleep(1.5)
    assert http_get(r["urls"][0])[0] == 200
    assert k.evaluate("_survives_reexec") == 42
    assert k.evaluate("__import__('os').getpid()") == pid
    assert k.pid() == pid and k.km.provisioner.process.poll() is None
    k.stop_and_wait("dbg")


def test_hanging_stop_is_forced_after_5s(bridge_own_kernel):
    k = bridge_own_kernel()
    for threaded in (False, True):
        port = free_port()
        k.create("hang", "tapp.hangstop.HangStopApp", ["--port", str(port)], threaded=threaded)
        k.start_and_wait("hang")
        m = k.mark()
        t0 = time.monotonic()
        k.call("hang", "stop")
        assert k.evaluate("1+1") == 2  # the kernel stays responsive while it waits
        k.wait_state("hang", "stopped", m, timeout=15)
        took = time.monotonic() - t0
        assert 4.5 < took < 9, took
        assert any(x["level"] == "WARNING" and "by force" in x["message"] for x in k.logs(m, "hang"))
        assert any(x["message"] == "stop called; ignoring it" and x["origin"] == "stdout" for x in k.logs(m, "hang"))
        assert port_is_free(port)
    # a threaded app whose loop is blocked: the port is freed, the thread left behind
    port = free_port()
    k.create("stuck", "tapp.example.ExampleApp", ["--port=%d" % port], threaded=True)
    k.start_and_wait("stuck")
    def block():
        try:
            http_get("http://127.0.0.1:%d/block?seconds=12" % port, 20)
        except Exception:
            pass  # the kernel goes away under it
    blocker = threading.Thread(target=block, daemon=True)
    blocker.start()
    time.sleep(0.3)
    m = k.mark()
    t0 = time.monotonic()
    k.call("stuck", "stop")
    k.wait_state("stuck", "stopped", m, timeout=15)
    assert 5.5 < time.monotonic() - t0 < 9
    assert any("abandoned the thread" in x["message"] for x in k.logs(m, "stuck"))
    assert port_is_free(port)
    assert k.evaluate("1+1") == 2
