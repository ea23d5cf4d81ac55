"""The bridge's entry-point scopes (kernelside/scope.py, entry.py, options.py, patches.py) in a
real kernel, below the bridge app and the session (issue 10).

The bridge is installed by its real install cell; cells drive AppScope with
top-level await on the kernel's own loop; requests are real HTTP on 127.0.0.1
free ports.  The same apps through the Session: test_entry_session.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import stat
import tempfile
import threading
from pathlib import Path

import pytest

from tests.integration.test_bridge import free_port, http_get, port_is_free

APPS = Path(__file__).parent / "entry_apps"
pytestmark = pytest.mark.timeout(180)

SETUP = '''
import sys, types, json, os, threading, asyncio
from tornado_launcher_bridge.kernelside.scope import AppScope
from tornado_launcher_bridge.kernelside.entry import Entry
from tornado_launcher_bridge.kernelside import state as __m
scopes = {}
# ipykernel opens one zmq pipe (an eventfd) per thread that writes to stdout/stderr and closes
# it up to 10 s after the thread ended: keep the apps' access lines off stderr, so the fd
# census sees our leaks, not that delay (in the launcher the bridge routes them over its comm).
# A level, not .disabled: traitlets' Application.initialize (dictConfig) re-enables every logger
__import__("logging").getLogger("tornado.access").setLevel(30)
def census():
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": threading.active_count(),
            "tasks": len(asyncio.all_tasks())}
'''


class Kernel:
    def __init__(self, cwd: Path):
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.rt = tempfile.mkdtemp(prefix="tl-entry-rt-")
        os.chmod(self.rt, stat.S_IRWXU)
        self.km = self.kc = None
        try:
            self._run(self._start(cwd), 60)
            from tornado_launcher import bridge

            for cell in bridge.install_cells({"kernel": "entry", "project_dir": None}):
                self.execute(cell)
            self.execute(SETUP)
        except BaseException:
            self.shutdown()
            raise

    def _run(self, coro, timeout):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self, cwd):
        from jupyter_client import AsyncKernelManager

        self.km = AsyncKernelManager(transport="ipc")
        self.km.ip = os.path.join(self.rt, "kernel")
        self.km.connection_file = os.path.join(self.rt, "kernel.json")
        await self.km.start_kernel(cwd=str(cwd), env=dict(os.environ))
        self.kc = self.km.client()
        self.kc.start_channels()
        await self.kc.wait_for_ready(timeout=60)

    async def _execute(self, code, timeout):
        msg_id = self.kc.execute(code, store_history=False, user_expressions={"v": "json.dumps(_)"}
                                 if False else {})
        while True:
            reply = await self.kc.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]

    def execute(self, code, timeout=30.0):
        content = self._run(self._execute(code, timeout), timeout + 5)
        if content["status"] != "ok":
            tb = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(content.get("traceback", [])))
            raise AssertionError("cell failed: %s: %s\n%s" % (content.get("ename"), content.get("evalue"), tb))
        return content

    def value(self, expr):
        async def ev():
            msg_id = self.kc.execute("", store_history=False, user_expressions={"v": "json.dumps(%s)" % expr})
            while True:
                reply = await self.kc.get_shell_msg(timeout=30)
                if reply["parent_header"].get("msg_id") == msg_id:
                    v = reply["content"]["user_expressions"]["v"]
                    if v["status"] != "ok":
                        raise AssertionError("%s: %s" % (v.get("ename"), v.get("evalue")))
                    return json.loads(eval(v["data"]["text/plain"]))
        return self._run(ev(), 35)

    # -- scopes
    def start(self, name, entry, argv=(), threaded=False):
        """Start; the result: {"serving", "urls", "outcome"}."""
        self.execute(
            "scopes[%r] = AppScope(%r, %s, threaded=%r)\n"
            "__serving = await scopes[%r].start(%s)\n" % (name, name, json.dumps(list(argv)), threaded, name, entry))
        return self.value("{'serving': __serving, 'urls': scopes[%r].urls(), "
                          "'outcome': scopes[%r].outcome and [scopes[%r].outcome.requested, "
                          "scopes[%r].outcome.reason]}" % (name, name, name, name))

    def stop(self, name):
        self.execute("__o = await scopes[%r].stop()" % name)
        return self.value("[__o.requested, __o.reason, scopes[%r].leftovers()]" % name)

    def shutdown(self):
        async def _shutdown():
            if self.kc is not None:
                self.kc.stop_channels()
            if self.km is not None and self.km.has_kernel:
                await self.km.shutdown_kernel(now=True)
        try:
            self._run(_shutdown(), 30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            shutil.rmtree(self.rt, ignore_errors=True)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    dest = tmp_path_factory.mktemp("entry") / "project"
    shutil.copytree(APPS, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture(scope="module")
def kernel(project):
    k = Kernel(project)
    yield k
    k.shutdown()


def styles(port, project):
    return {
        "async_options": ("Entry.main('eapps.async_options:main')", ["--port=%d" % port, "--label=opt"],
                          "v1 opt %d" % port),
        "sync_ioloop": ("Entry.main('eapps.sync_ioloop.main')", ["--port=%d" % port], "v1 sync"),
        "factory": ("Entry.application('eapps.factory:make_app', %d)" % port, [], "v1 factory"),
        "subclass": ("Entry.application('eapps.subclass.WebApp', %d)" % port, [], "v1 subclass"),
        "instance": ("Entry.application('eapps.instance:application', %d)" % port, [], "v1 instance"),
        "script": ("Entry.script(%r)" % str(project / "server.py"), [str(port)], "v1 script helper"),
    }


STYLES = ["async_options", "sync_ioloop", "factory", "subclass", "instance", "script"]


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
@pytest.mark.parametrize("style", STYLES)
def test_serves_and_stop_frees_the_port(kernel, project, style, threaded):
    port = free_port()
    entry, argv, expected = styles(port, project)[style]
    name = "%s_%s" % (style, "t" if threaded else "s")
    r = kernel.start(name, entry, argv, threaded)
    assert r["serving"] is True, r
    assert r["urls"] == ["http://127.0.0.1:%d/" % port], r
    assert http_get("http://127.0.0.1:%d/" % port) == (200, expected)
    requested, reason, leftovers = kernel.stop(name)
    assert requested and reason == "stopped"
    assert leftovers == {"threads": [], "tasks": []}
    assert port_is_free(port)
    if not threaded:  # on the kernel's loop: no timer (PeriodicCallback, call_later) of the app is left
        assert kernel.value("len([h for h in asyncio.get_running_loop()._scheduled if not h.cancelled() "
                            "and h._context.get(__m.scope_var) is scopes[%r]])" % name) == 0


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_traitlets_app_with_a_coroutine_start(kernel, threaded):
    port = free_port()
    kernel.execute(
        "def __traitlets_start():\n"
        "    from eapps.traitlets_async import WebApp\n"
        "    app = WebApp()\n"
        "    app.initialize(sys.argv[1:])\n"
        "    return app.start()\n")
    r = kernel.start("trait", "Entry.callable(__traitlets_start)", ["--port=%d" % port], threaded)
    assert r["serving"] is True, r
    assert http_get("http://127.0.0.1:%d/" % port) == (200, "v1 traitlets")
    requested, reason, leftovers = kernel.stop("trait")
    assert (requested, leftovers) == (True, {"threads": [], "tasks": []})
    assert port_is_free(port)


PURGE = ("for __n in [n for n in sys.modules if n == 'eapps' or n.startswith('eapps.') or n == 'script_helper']:\n"
         "    sys.modules.pop(__n)\n"
         "__import__('importlib').invalidate_caches()\n")


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
@pytest.mark.parametrize("style", STYLES)
def test_restart_serves_the_edit_and_nothing_old_answers(kernel, project, style, threaded):
    name = "edit_%s_%s" % (style, "t" if threaded else "s")
    module = {"script": project / "server.py"}.get(style, project / "eapps" / ("%s.py" % style))
    port = free_port()
    entry, argv, expected = styles(port, project)[style]
    assert kernel.start(name, entry, argv, threaded)["serving"] is True
    assert http_get("http://127.0.0.1:%d/" % port)[1] == expected
    text = module.read_text()
    try:
        module.write_text(text.replace('VERSION = "v1"', 'VERSION = "v2"'))
        assert kernel.stop(name)[0] is True
        kernel.execute(PURGE)
        assert kernel.start(name, entry, argv, threaded)["serving"] is True
        for _ in range(5):
            assert http_get("http://127.0.0.1:%d/" % port)[1] == expected.replace("v1", "v2", 1)
    finally:
        module.write_text(text)
        kernel.stop(name)
        kernel.execute(PURGE)
    assert port_is_free(port)


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_fifty_cycles_leave_nothing_behind(kernel, project, threaded):
    styles_here = styles(0, project)
    base = None
    for i in range(50):
        style = STYLES[i % len(STYLES)]
        port = free_port()
        entry, argv, expected = styles(port, project)[style]
        name = "cycle_%s" % ("t" if threaded else "s")
        r = kernel.start(name, entry, argv, threaded)
        assert r["serving"] is True, r
        assert http_get("http://127.0.0.1:%d/" % port) == (200, expected)
        requested, reason, leftovers = kernel.stop(name)
        assert (requested, leftovers) == (True, {"threads": [], "tasks": []})
        assert port_is_free(port)
        kernel.execute(PURGE + "import gc; gc.collect()")
        census = kernel.value("census()")
        if i == len(STYLES) - 1:
            base = census  # after one round of every style: imports and lazy singletons are done
        elif base is not None:
            assert census["threads"] <= base["threads"], (i, census, base)
            assert census["tasks"] <= base["tasks"], (i, census, base)
            assert census["fds"] <= base["fds"] + 2, (i, census, base)
    assert styles_here


def test_main_that_returns_or_raises_is_reported(kernel):
    for threaded in (False, True):
        r = kernel.start("exits", "Entry.main('eapps.exits:returns')", [], threaded)
        assert r["serving"] is False or r["outcome"] is None, r
        kernel.execute("__o = await asyncio.wait_for(asyncio.wrap_future(scopes['exits'].ended), 10)")
        assert kernel.value("[__o.requested, __o.error is None, __o.reason]") == [False, True, "main() returned"]
        kernel.start("exits2", "Entry.main('eapps.exits:raises')", [], threaded)
        kernel.execute("__o = await asyncio.wait_for(asyncio.wrap_future(scopes['exits2'].ended), 10)")
        requested, error, reason = kernel.value("[__o.requested, repr(__o.error), __o.reason]")
        assert requested is False and "the database is gone" in error and "the database is gone" in reason


def test_two_apps_defining_port_each_see_their_own(kernel, project):
    p1, p2 = free_port(), free_port()
    kernel.start("one", "Entry.main('eapps.async_options:main')", ["--port=%d" % p1, "--label=one"])
    kernel.start("two", "Entry.main('eapps.async_options:main')", ["--port=%d" % p2, "--label=two"], True)
    try:
        assert http_get("http://127.0.0.1:%d/" % p1) == (200, "v1 one %d" % p1)
        assert http_get("http://127.0.0.1:%d/" % p2) == (200, "v1 two %d" % p2)
        # the kernel's own view is untouched: no app's port leaked into it
        assert kernel.value("'port' in __import__('tornado.options').options.options") is False
    finally:
        kernel.stop("one")
        kernel.stop("two")
    # a restart re-imports the module: define("port") runs again without "already defined"
    kernel.execute(PURGE)
    r = kernel.start("one", "Entry.main('eapps.async_options:main')", ["--port=%d" % p1, "--label=again"])
    assert r["serving"] is True, r
    assert http_get("http://127.0.0.1:%d/" % p1) == (200, "v1 again %d" % p1)
    kernel.stop("one")


def test_listen_on_all_interfaces_gives_a_localhost_url(kernel, project):
    port = free_port()
    r = kernel.start("wild", "Entry.application('eapps.factory:make_app', %d, '')" % port, [])
    try:
        assert "http://localhost:%d/" % port in r["urls"], r
        assert http_get("http://localhost:%d/" % port) == (200, "v1 factory")
    finally:
        kernel.stop("wild")
    assert port_is_free(port)
