"""A second client of our kernel (a console) and ipykernel's abort-on-error.

After a cell sent with ``stop_on_error`` fails, ipykernel aborts every
execute request already queued, whichever client sent it: a console user's
error while the session sets a kernel up once made an app fail with the
reason "None: None".  Real kernel, a real second jupyter_client client.
"""

from __future__ import annotations

import asyncio

import pytest
from helpers import Recorder
from jupyter_client.asynchronous import AsyncKernelClient

from tornado_launcher.kernels import kernel as kernel_mod
from tornado_launcher.kernels.kernel import Kernel, describe_error, make_runtime_dir, remove_runtime_dir

pytestmark = pytest.mark.timeout(120)

FAILING_CELL = "import time; time.sleep(1.0); 1/0"


async def _with_console(tmp_path, body):
    runtime = make_runtime_dir()
    k = Kernel("k", cwd=str(tmp_path), runtime_dir=runtime, on_event=Recorder(), on_death=lambda r: None)
    console = None
    try:
        await k.start()
        console = AsyncKernelClient(connection_file=k.connection_file)
        console.load_connection_file()
        console.start_channels()
        await console.wait_for_ready(timeout=30)
        await body(k, console)
    finally:
        if console is not None:
            console.stop_channels()
        await k.shutdown()
        remove_runtime_dir(runtime)


async def _reply(client, msg_id, timeout=30):
    while True:
        msg = await client.get_shell_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") == msg_id:
            return msg["content"]


async def test_our_cell_aborted_by_a_console_error_is_sent_again(tmp_path):
    async def body(k, console):
        failing = console.execute(FAILING_CELL)  # stop_on_error, as qtconsole sends it
        await asyncio.sleep(0.3)  # it runs; ours queues behind it
        reply = await k.execute("launcher_value = 41 + 1", what="a test cell")
        assert reply["status"] == "ok", reply
        assert (await _reply(console, failing))["status"] == "error"
        out = await k.execute("print(launcher_value)", capture=True)
        assert out["stdout"].strip() == "42"

    await _with_console(tmp_path, body)


async def test_without_the_retry_the_reason_is_a_sentence_not_none_none(tmp_path, monkeypatch):
    monkeypatch.setattr(kernel_mod, "ABORTED_RETRIES", 1)

    async def body(k, console):
        console.execute(FAILING_CELL)
        await asyncio.sleep(0.3)
        reply = await k.execute("launcher_value = 1", what="a test cell")
        assert reply["status"] == "aborted", reply  # the case the retry is for is real
        reason = describe_error(reply)
        assert "None" not in reason and "raised an error" in reason, reason

    await _with_console(tmp_path, body)


async def test_our_failing_cell_does_not_abort_the_consoles_queued_cell(tmp_path):
    async def body(k, console):
        ours = asyncio.ensure_future(k.execute(FAILING_CELL, what="a failing test cell"))
        await asyncio.sleep(0.3)
        queued = console.execute("console_value = 7")
        reply = await ours
        assert reply["status"] == "error" and describe_error(reply).startswith("ZeroDivisionError")
        assert (await _reply(console, queued))["status"] == "ok"

    await _with_console(tmp_path, body)


def test_describe_error_never_says_none():
    assert describe_error({"status": "error", "ename": "ValueError", "evalue": "bad"}) == "ValueError: bad"
    assert describe_error({"status": "error", "ename": "KeyboardInterrupt", "evalue": ""}) == "KeyboardInterrupt"
    for reply in ({"status": "aborted"}, {"status": "error"}, {}):
        assert "None" not in describe_error(reply), reply
