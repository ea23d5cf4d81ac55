"""The lifecycle every kind of kernel shares, written once in KernelConnection.

A purpose-built provisioner whose kernel answers only at its Nth attempt (or never) forces the
interleavings: a restart that retries, says each new reason once and gives up at shutdown; a
process of ours whose failed restart is final; a death told once, stale news ignored. The real
provisioners (a local process, an attached kernel, a gateway) run in tests/integration.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from tornado_launcher.engine.events import KernelState
from tornado_launcher.kernels.connection import KernelConnection, KernelStartError, Provisioner


class _Channels:
    def __init__(self) -> None:
        self.session = SimpleNamespace(session="ours")
        self.stopped = False

    def stop_channels(self) -> None:
        self.stopped = True


class Flaky(Provisioner):
    """A kernel that answers from attempt ``answers_at`` on (never: None), failing with ``reasons`` before."""

    def __init__(self, reasons, answers_at=None, retry_interval=0.01, pid_from_hello=False):
        self.reasons = list(reasons)
        self.answers_at = answers_at
        self.retry_interval = retry_interval
        self.pid_from_hello = pid_from_hello
        self.launches = []
        self.stops = []
        self.killed = 0
        self.channels = None

    async def launch(self, restart):
        self.launches.append(restart)
        n = len(self.launches)
        if self.answers_at is None or n < self.answers_at:
            raise KernelStartError(self.reasons[min(n, len(self.reasons)) - 1])
        self.channels = _Channels()
        self.kernel._open_channels(self.channels)

    async def stop(self, *, now, restart):
        self.stops.append((now, restart))
        return False

    async def interrupt(self):
        pass

    def kill_now(self):
        self.killed += 1


def _kernel(provisioner):
    events, deaths = [], []
    k = KernelConnection("k", provisioner, on_event=events.append, on_death=deaths.append)
    return k, events, deaths


def _states(events):
    return [(e.state, e.reason) for e in events if isinstance(e, KernelState)]


async def test_restart_tries_until_the_kernel_answers_and_says_each_reason_once():
    p = Flaky(["A", "A", "A", "B", "B"], answers_at=6)
    k, events, _ = _kernel(p)
    await k.restart()
    assert _states(events) == [("restarting", None), ("dead", "A"), ("dead", "B"), ("idle", None)]
    assert p.launches == [True] * 6 and p.stops == [(True, True)]
    assert k.connection_file is None and k._kc is p.channels and k.reattaches


async def test_shutdown_while_a_restart_waits_ends_it_with_a_sentence():
    p = Flaky(["nothing answers"], retry_interval=60.0)  # the wait would outlast the test: only shutdown ends it
    k, events, _ = _kernel(p)
    restart = asyncio.ensure_future(k.restart())
    while ("dead", "nothing answers") not in _states(events):
        await asyncio.sleep(0.01)
    await k.shutdown()
    with pytest.raises(KernelStartError, match="shut down while waiting for it to answer"):
        await asyncio.wait_for(restart, 5)
    assert p.launches == [True] and p.stops == [(True, True), (False, False)]
    assert k.state == "dead"  # nothing was attached, nothing ended: its reason stays


async def test_kill_now_kills_and_drops_the_channels():
    p = Flaky([], answers_at=1)
    k, _, deaths = _kernel(p)
    await k.start()
    channels = p.channels
    k.kill_now()
    assert p.killed == 1 and channels.stopped and k._kc is None
    k._died("killed by SIGKILL")
    assert not deaths  # ours: not a death for the crash-loop guard


async def test_kill_now_ends_a_waiting_restart():
    p = Flaky(["gone"], retry_interval=60.0)
    k, events, _ = _kernel(p)
    restart = asyncio.ensure_future(k.restart())
    while ("dead", "gone") not in _states(events):
        await asyncio.sleep(0.01)
    k.kill_now()
    with pytest.raises(KernelStartError):
        await asyncio.wait_for(restart, 5)
    assert p.killed == 1


async def test_a_process_of_ours_that_fails_to_restart_is_dead_at_once():
    p = Flaky(["exited with status 1"], retry_interval=None)
    k, events, _ = _kernel(p)
    with pytest.raises(KernelStartError, match="exited with status 1"):
        await k.restart()
    assert _states(events) == [("restarting", None), ("starting", None), ("dead", "exited with status 1")]
    assert p.launches == [False] and not k.reattaches


async def test_a_death_is_told_once_and_stale_or_expected_ends_are_not_deaths():
    p = Flaky([], answers_at=1)
    k, events, deaths = _kernel(p)
    await k.start()
    gen = k._gen
    waiting = asyncio.get_running_loop().create_future()
    k._pending["cell"] = waiting
    k._died("gone", gen - 1)  # news of an older start
    assert not deaths and k.state == "idle"
    k._died("gone", gen)
    k._died("gone again", gen)
    assert deaths == ["gone"] and k.state == "dead"
    assert waiting.result()["ename"] == "KernelDied" and waiting.result()["evalue"] == "gone"
    await k.restart()
    await k.shutdown()
    k._died("after shutdown")
    assert deaths == ["gone"] and _states(events)[-1] == ("stopped", None)


@pytest.mark.parametrize("pid_from_hello", [True, False])
async def test_the_bridges_hello_names_the_pid_of_a_kernel_not_ours(pid_from_hello):
    p = Flaky([], answers_at=1, pid_from_hello=pid_from_hello)
    k, events, _ = _kernel(p)
    await k.start()
    k.pid = 100
    k._handle_hello({"type": "hello", "pid": 4242})
    assert k.hello["pid"] == 4242
    assert k.pid == (4242 if pid_from_hello else 100)
    told = [e for e in events if isinstance(e, KernelState) and e.pid == 4242]
    assert len(told) == (1 if pid_from_hello else 0)
