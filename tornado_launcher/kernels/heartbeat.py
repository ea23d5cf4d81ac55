"""A kernel's heartbeat: "not responding" when its process stops answering, and back.

jupyter_client's hb channel pings the kernel every ``time_to_dead`` seconds
from a thread of its own; ipykernel answers from a zmq thread even while its
Python is busy, so a missed ping means the process is stopped (SIGSTOP) or
wedged.  :class:`HeartbeatWatch` is the part of :class:`~tornado_launcher.kernels.kernel.Kernel`
that hears of missed pings (on the loop thread, through ``call_soon_threadsafe``)
and reports :data:`~tornado_launcher.engine.events.NOT_RESPONDING` and the recovery
as ``KernelState`` events.  It uses the kernel's ``_loop``, ``_gen``, ``_kc``,
``_expect_exit``, ``state``, ``pid``, ``name``, ``_log`` and ``_on_event``, and
keeps its own ``_hb_missed``, ``_silent_since`` and ``_hb_timer``.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from ..engine.events import KERNEL_READY, NOT_RESPONDING, KernelState

#: Heartbeat (jupyter_client's hb channel: a ping every HEARTBEAT_PERIOD s,
#: answered by a zmq thread of ipykernel's even while its Python is busy).
#: A stopped process is "not responding" at its first missed ping, another
#: silent one after HEARTBEAT_MISSES in a row (one can be lost on a loaded machine).
HEARTBEAT_PERIOD = 1.0
HEARTBEAT_MISSES = 2
#: while the heartbeat fails: how often to look whether it answers again
HEARTBEAT_RECHECK = 0.5


class HeartbeatWatch:
    """Missed heartbeats → "not responding" (and "responding again")."""

    def _watch_heartbeat(self, kc: Any, gen: int) -> None:
        """Hear of missed heartbeats: the hb channel's thread calls ``call_handlers``
        on each (it pings every ``time_to_dead`` s whatever we do)."""
        self._hb_missed = 0
        self._silent_since = None
        hb = kc.hb_channel
        hb.time_to_dead = HEARTBEAT_PERIOD
        loop = self._loop

        def missed(since_last: float) -> None:  # hb thread
            try:
                loop.call_soon_threadsafe(self._hb_missed_ping, gen)
            except RuntimeError:
                pass  # loop closed

        hb.call_handlers = missed

    def _process_stopped(self) -> bool:
        """Whether the kernel process is stopped (SIGSTOP, Ctrl+Z): state T in /proc."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0] in (b"T", b"t")
        except (OSError, IndexError, TypeError):
            return False

    def _hb_missed_ping(self, gen: int) -> None:
        if gen != self._gen or self._expect_exit or self.state not in KERNEL_READY:
            return
        self._hb_missed += 1
        if self._silent_since is None:
            stopped = self._process_stopped()
            if stopped or self._hb_missed >= HEARTBEAT_MISSES:
                silent = self._hb_missed * HEARTBEAT_PERIOD
                self._silent_since = time.monotonic() - silent
                if stopped:
                    reason = (f"kernel process {self.pid} is stopped (SIGSTOP or Ctrl+Z) and answers nothing: "
                              f"`kill -CONT {self.pid}` resumes it, or restart the kernel")
                else:
                    reason = (f"kernel {self.name!r} has not answered its heartbeat for {silent:.0f} s: the "
                              "process is wedged (C code holding the GIL, swapping); restart the kernel if it "
                              "does not come back")
                self._log("WARNING", f"not responding: {reason}")
                self._on_event(KernelState(self.name, NOT_RESPONDING, reason, self.pid))
        if self._hb_timer is None:
            self._hb_timer = asyncio.get_running_loop().call_later(HEARTBEAT_RECHECK, self._hb_recheck, gen)

    def _hb_recheck(self, gen: int) -> None:
        """While pings go unanswered: does it beat again?"""
        self._hb_timer = None
        kc = self._kc
        if gen != self._gen or kc is None or self.state not in KERNEL_READY:
            return
        if not kc.hb_channel.is_beating():
            self._hb_timer = asyncio.get_running_loop().call_later(HEARTBEAT_RECHECK, self._hb_recheck, gen)
            return
        self._hb_missed = 0
        since, self._silent_since = self._silent_since, None
        if since is not None:
            took = time.monotonic() - since
            self._log("INFO", f"responding again after {took:.1f} s")
            self._on_event(KernelState(self.name, self.state, f"responding again after {took:.1f} s", self.pid))
