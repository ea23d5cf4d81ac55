"""A main that runs a coroutine to the end after its ``IOLoop.start()`` returned (voila's stop:
jupyter_core's ``run_sync(kernel_manager.shutdown_all)()``) finds no loop running there, as in its
own process, in both modes: its teardown ends and its main's thread with it."""

import asyncio

import pytest

from tests.helpers import fetch, port_is_free, running_session  # noqa: F401
from tests.integration.test_process_model import MODES, cell, log_with, notes, project, said, state_of

pytestmark = pytest.mark.timeout(300)
APPS = {"after_stop": ('main = "papps.after_stop:main"', "", 5)}


@MODES
async def test_a_coroutine_run_to_the_end_after_the_loop_stopped_ends_the_main(tmp_path, threaded):
    config, ports, outs = project(tmp_path, APPS, threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        await rec.wait(state_of("after_stop", "running", "failed"))
        assert s.apps["after_stop"].state == "running", s.apps["after_stop"]
        for _ in range(2):
            assert await fetch(f"http://127.0.0.1:{ports['after_stop']}/") == (200, "after_stop")
            start = len(rec.events)
            await s.stop_app("after_stop")
            assert s.apps["after_stop"].state == "stopped", s.apps["after_stop"]
            assert port_is_free(ports["after_stop"])
            await rec.wait(log_with("after_stop", "stopped by its SIGTERM handler in"), start=start, timeout=10)
            assert said(outs["after_stop"])[-2:] == ["shutdown done", "finally"], notes(outs["after_stop"])
            # its main's thread ends (threaded: the app's thread ends just after its loop is closed,
            # which may be after "stopped"): 5 s at most, not left behind as voila's was
            left = "?"
            for _ in range(50):
                left = await cell(s, "import threading as __t\n"
                                     "print([t.name for t in __t.enumerate() if 'after_stop' in t.name])")
                if left == "[]":
                    break
                await asyncio.sleep(0.1)
            assert left == "[]", left
            await s.start_app("after_stop")
