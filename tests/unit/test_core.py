"""The session core stands alone: records, events in and out, waiters, switches and setups, with no
Session, controller or kernel above it (``engine/core.py``; the Session and its users are tested
with real kernels in ``tests/integration``)."""

import asyncio

from tornado_launcher.config import loads
from tornado_launcher.engine.core import Core
from tornado_launcher.engine.events import AppState
from tornado_launcher.engine.status import AppInfo


def make_core():
    config = loads('kernel "k" {}\n', kernelspecs=["python3"])
    core = Core(config, settle_timeout=5)
    core.apps["web"] = AppInfo("web", "k", "tornado", config=None, wanted=True)
    events = []
    core.subscribe(events.append)
    return core, events


def states(events):
    return [e for e in events if isinstance(e, AppState)]


def test_a_received_state_updates_the_record_resolves_its_waiter_and_is_emitted():
    async def main():
        core, events = make_core()
        waiter = core.wait_for_state("web", ("running", "failed"))
        core.receive(AppState("web", "k", "starting"))
        assert not waiter.done() and core.apps["web"].state == "starting"
        core.receive(AppState("web", "k", "running", urls=("http://127.0.0.1:1/",)))
        settled = await core.settle("web", waiter, "a start")
        assert settled.state == "running" and core.apps["web"].urls == ("http://127.0.0.1:1/",)
        assert [e.state for e in states(events)] == ["starting", "running"]

    asyncio.run(main())


def test_stale_is_shown_only_while_running_and_cleared_once():
    core, events = make_core()
    core.mark_stale("web", "web.py:1: invalid syntax")  # stopped: nothing to mark
    assert not core.apps["web"].stale and not events
    core.apps["web"].state = "running"
    core.mark_stale("web")
    assert core.app_state(core.apps["web"]).state == "stale"
    core.clear_stale("web")
    core.clear_stale("web")
    assert [e.state for e in states(events)] == ["stale", "running"]


def test_a_launcher_side_switch_is_one_path_and_says_only_changes():
    async def main():
        core, events = make_core()
        info = core.apps["web"]
        assert (await core.switch(info, "live_reload", True)).live_reload is True
        assert (await core.switch(info, "live_reload", True)).live_reload is True  # unchanged: no event
        core.set_switch(info, "auto_reload", True)
        core.set_switch(info, "auto_reload", True)
        shown = states(events)
        assert [(e.live_reload, e.auto_reload) for e in shown] == [(True, False), (True, True)]
        # in the bridge while the kernel is not up: recorded, said, nothing sent
        assert (await core.switch(info, "threaded", True, in_bridge=True)).threaded is True
        assert states(events)[-1].threaded is True

    asyncio.run(main())


def test_an_action_waits_for_its_kernels_setup_under_way():
    async def main():
        core, _events = make_core()
        order = []

        async def setup():
            async with core.setting_up("k"):
                await asyncio.sleep(0.05)
                order.append("set up")

        task = asyncio.ensure_future(setup())
        await asyncio.sleep(0)
        info = await core.app_after_setup("web")
        order.append("action")
        await task
        assert info is core.apps["web"] and order == ["set up", "action"]

    asyncio.run(main())
