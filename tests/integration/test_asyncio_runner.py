"""An app whose main runs through ``asyncio.Runner`` (Python 3.11+; dask's scheduler does) is a
process main as one through ``asyncio.run`` is, in both modes: it serves, a stop cancels its main
task and raises KeyboardInterrupt where it blocks, its teardown runs, and it starts again."""

import sys

import pytest

from tests.helpers import fetch, port_is_free, running_session  # noqa: F401
from tests.integration.test_process_model import MODES, log_with, notes, project, said, state_of

pytestmark = [pytest.mark.timeout(300),
              pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.Runner is new in Python 3.11")]

APPS = {"runner": ('main = "papps.runner:main"', ""),
        "runner_get_loop": ('main = "papps.runner:main"', "get_loop")}


@MODES
async def test_a_main_through_asyncio_runner_serves_stops_and_restarts(tmp_path, threaded):
    config, ports, outs = project(tmp_path, APPS, threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        for name in APPS:
            await rec.wait(state_of(name, "running", "failed"))
        assert {n: s.apps[n].state for n in APPS} == {n: "running" for n in APPS}, \
            {n: s.apps[n] for n in APPS}
        assert await fetch(f"http://127.0.0.1:{ports['runner']}/") == (200, "runner run")
        assert await fetch(f"http://127.0.0.1:{ports['runner_get_loop']}/") == (200, "runner get_loop")
        assert said(outs["runner"]) == ["listening"]
        assert said(outs["runner_get_loop"]) == ["get_loop running=True", "listening"]
        for _ in range(2):  # a second run after a stop: the Runner closed nothing of the kernel's
            for name in APPS:
                start = len(rec.events)
                await s.stop_app(name)
                assert s.apps[name].state == "stopped", (name, s.apps[name])
                assert port_is_free(ports[name]), name
                await rec.wait(log_with(name, "stopped by a KeyboardInterrupt in its main in"),
                               start=start, timeout=10)
                assert said(outs[name])[-3:] == ["cancelled", "KeyboardInterrupt", "finally"], notes(outs[name])
                await s.start_app(name)
                await rec.wait(state_of(name, "running", "failed"), start=start)
                assert s.apps[name].state == "running", (name, s.apps[name])
                assert (await fetch(f"http://127.0.0.1:{ports[name]}/"))[0] == 200, name
