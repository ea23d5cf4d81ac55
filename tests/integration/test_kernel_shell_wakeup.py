"""A reply whose wakeup a send on the shell socket took still reaches its cell.

A zmq socket's FD is edge-triggered: an operation on the socket takes in its
pending commands, and with them the readable edge for a reply that has just
arrived.  jupyter_client's ``Session.send`` sends on a plain shadow of the
client's asyncio socket, so pyzmq never re-checks after our execute requests;
under load (two apps restarting in one kernel) a reply arrived just before the
next request was sent, and every cell of that kernel then waited forever on an
idle kernel.  The test takes the edge on purpose (a poll on a shadow socket,
what the shadow send does by chance), then sends the next cell: both replies
must come.  Real kernel.
"""

from __future__ import annotations

import asyncio

import pytest
import zmq
from helpers import Recorder

from tornado_launcher.kernels.kernel import Kernel, make_runtime_dir, remove_runtime_dir

pytestmark = pytest.mark.timeout(120)


async def test_a_reply_whose_edge_was_taken_still_arrives(tmp_path):
    runtime = make_runtime_dir()
    k = Kernel("k", cwd=str(tmp_path), runtime_dir=runtime, on_event=Recorder(), on_death=lambda r: None)
    try:
        await k.start()
        assert (await k.execute("1", what="a warm-up cell"))["status"] == "ok"
        first = asyncio.ensure_future(k.execute("first = 1", what="the first cell"))
        await asyncio.sleep(0)  # its request is sent
        # take the FD's edge as a send on the shadow socket would: the reply is read by
        # nobody until something looks at the asyncio socket's EVENTS again
        shadow = zmq.Socket.shadow(k._kc.shell_channel.socket.underlying)
        poller = zmq.Poller()
        poller.register(shadow, zmq.POLLIN)
        assert poller.poll(30_000), "the kernel did not reply within 30 s"
        second = await asyncio.wait_for(k.execute("second = 2", what="the second cell"), 20)
        assert second["status"] == "ok", second
        assert (await asyncio.wait_for(first, 20))["status"] == "ok"
    finally:
        await k.shutdown()
        remove_runtime_dir(runtime)
