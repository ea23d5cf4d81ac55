"""A main that sets a new event loop of its own before it serves (jupyter_server's
``launch_instance`` through jupyter_core's ``ensure_event_loop``) is seen serving, stops, and starts
again, in both modes: in threaded mode that loop becomes the app's."""

import pytest

from tests.helpers import fetch, port_is_free, running_session  # noqa: F401
from tests.integration.test_process_model import MODES, log_with, notes, project, said, state_of

pytestmark = pytest.mark.timeout(300)
APPS = {"own_loop": ('main = "papps.own_loop:main"', "")}


@MODES
async def test_a_main_that_sets_its_own_loop_serves_stops_and_restarts(tmp_path, threaded):
    config, ports, outs = project(tmp_path, APPS, threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        await rec.wait(state_of("own_loop", "running", "failed"))
        assert s.apps["own_loop"].state == "running", s.apps["own_loop"]
        for _ in range(2):
            assert await fetch(f"http://127.0.0.1:{ports['own_loop']}/") == (200, "own_loop")
            start = len(rec.events)
            await s.stop_app("own_loop")
            assert s.apps["own_loop"].state == "stopped", s.apps["own_loop"]
            assert port_is_free(ports["own_loop"])
            await rec.wait(log_with("own_loop", "stopped by a KeyboardInterrupt in its main in"), start=start,
                           timeout=10)
            assert said(outs["own_loop"])[-3:] == ["listening", "KeyboardInterrupt", "finally"], notes(outs["own_loop"])
            await s.start_app("own_loop")
            await rec.wait(state_of("own_loop", "running", "failed"), start=start)
            assert s.apps["own_loop"].state == "running", s.apps["own_loop"]
