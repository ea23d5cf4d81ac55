"""zmq contexts an app made end with its run (tests/realapps found Jupyter's servers leaving two
libzmq threads per run: jupyter_client's kernel managers make a ``zmq.Context()`` that only their
``__del__`` terminates, and in the kernel the app's objects outlive its stop).

A purpose-built app does the same: it makes a context (and an asyncio one) with a bound socket,
keeps them referenced and never terminates them. Through the real Session, in both modes, with
three starts: after each stop the kernel's native threads are back to what they were before the
first start, and its contexts are closed; a context the kernel made itself is never touched.
"""

import asyncio
import os
import time

import pytest

from tests.helpers import fetch, free_port, running_session, write_project

pytestmark = pytest.mark.timeout(180)

APP = '''
import asyncio
import sys

import tornado.web
import zmq
import zmq.asyncio

KEPT = []  # the app holds them (as a ServerApp holds its kernel manager): never collected


class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("zmq app")


async def main():
    for ctx in (zmq.Context(), zmq.asyncio.Context()):
        sock = ctx.socket(zmq.PUB)
        sock.bind("tcp://127.0.0.1:*")
        KEPT.append((ctx, sock))
    tornado.web.Application([(r"/", Hello)]).listen(int(sys.argv[1]), address="127.0.0.1")
    await asyncio.Event().wait()
'''


def native_threads(pid):
    return len(os.listdir(f"/proc/{pid}/task"))


async def settled(pid):
    """The kernel's thread count once it held still for a second (threads of a stop end shortly after)."""
    last, since = native_threads(pid), time.monotonic()
    while time.monotonic() - since < 1.0:
        await asyncio.sleep(0.1)
        now = native_threads(pid)
        if now != last:
            last, since = now, time.monotonic()
    return last


async def wait_for(cond, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    return cond()


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
async def test_zmq_contexts_an_app_made_end_with_its_run(tmp_path, threaded):
    port = free_port()
    write_project(tmp_path, {
        "zapp.py": APP,
        "jaffle.hcl": f'''
            kernel "k" {{}}
            app "z" {{
              class  = "jaffle.app.tornado.TornadoBridgeApp"
              kernel = "k"
              options {{
                main     = "zapp:main"
                argv     = ["{port}"]
                threaded = {"true" if threaded else "false"}
              }}
            }}
            ''',
    })
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False) as (s, rec):
        # the kernel's own context (ipykernel's, made outside any app) is left alone
        out = await s.execute("k", "import zmq as __z; __kctx = __z.Context(); print('ok')")
        assert out["status"] == "ok", out
        pid = s.kernel("k").pid
        await s.stop_app("z")  # it started with the session: the census is taken without it
        before = await settled(pid)
        for _ in range(3):
            await s.start_app("z")
            assert s.apps["z"].state == "running", s.apps["z"]
            assert await fetch(f"http://127.0.0.1:{port}/") == (200, "zmq app")
            assert native_threads(pid) >= before + 4  # two contexts: an IO and a reaper thread each
            await s.stop_app("z")
            assert s.apps["z"].state == "stopped"
            assert await wait_for(lambda: native_threads(pid) <= before), (before, native_threads(pid))
            out = await s.execute("k", "import zapp as __a; print([c.closed for c, _ in __a.KEPT])")
            assert out["status"] == "ok", out
            assert "False" not in out["stdout"], out["stdout"]
        out = await s.execute("k", "print(__kctx.closed)")
        assert out["stdout"].strip() == "False"
