"""The crash-loop guard: what the session does when one of its kernels dies.

A kernel that dies is restarted with its apps (an attached kernel: attached
again as soon as it answers), at most :data:`MAX_RESTARTS` times within
:data:`RESTART_WINDOW` seconds.  Past that it stays down and says why
(``KernelState`` "dead", a sentence in its log): the kernel is *given up*.
A given-up kernel comes back only when asked: the window's Restart kernel,
``tornado-launcher restart-kernel KERNEL``, or ``restart``/``start`` of one
of its apps (:meth:`~tornado_launcher.engine.session.Session.restart_kernel`,
which also forgets the deaths counted so far).

What it takes from the session core (:class:`~tornado_launcher.engine.api.SessionCore`):
``closing``, ``apps``, ``kernels`` (a kernel's ``deaths``), ``kernel`` (whether it ``reattaches``),
``publish``, ``log``, ``receive`` (the "dead" KernelState) and ``spawn``.  From the session, one
callable: ``respawn(kernel)``, the kernel's restart with its apps (the session's kernel lifecycle).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Awaitable, Callable, Set

from .events import KernelState
from .status import MAX_RESTARTS  # (defined beside KernelInfo.deaths, which keeps that many + 1)

if TYPE_CHECKING:
    from .api import SessionCore

#: at most MAX_RESTARTS automatic kernel restarts within this many seconds; then the kernel stays down and says why.
RESTART_WINDOW = 60.0


class CrashLoopGuard:
    def __init__(self, core: "SessionCore", *, respawn: Callable[[str], Awaitable[None]]) -> None:
        self.core = core
        self.respawn = respawn
        self._given_up: Set[str] = set()

    def given_up(self, kernel: str) -> bool:
        """Whether ``kernel`` died too often and is left down until someone restarts it."""
        return kernel in self._given_up

    def forget(self, kernel: str) -> None:
        """Someone asked for the kernel: its deaths so far no longer count."""
        self._given_up.discard(kernel)
        kinfo = self.core.kernels.get(kernel)
        if kinfo is not None:
            kinfo.deaths.clear()

    def died(self, name: str, reason: str) -> None:
        """Kernel ``name`` died (``reason``): its apps fail; restart it, or give up and say why."""
        s = self.core
        if s.closing:
            return
        kinfo = s.kernels[name]
        for info in s.apps.values():
            if info.kernel == name:
                info.state, info.reason, info.urls = "failed", f"kernel died: {reason}", ()
                s.publish(info)
        now = time.monotonic()
        kinfo.deaths.append(now)
        recent = [t for t in kinfo.deaths if now - t <= RESTART_WINDOW]
        if len(recent) > MAX_RESTARTS:
            self._given_up.add(name)
            msg = (f"kernel {name!r} died {len(recent)} times in {RESTART_WINDOW:.0f} s; not restarting it "
                   f"again. Last: {reason}. Fix the cause, then restart the kernel (the window's Restart "
                   f"kernel, `tornado-launcher restart-kernel {name}`, or `tornado-launcher restart APP` of "
                   "one of its apps).")
            s.log(name, "ERROR", msg)
            s.receive(KernelState(name, "dead", msg, None))  # (KernelInfo says it too: `status`)
            return
        kernel = s.kernel(name)
        what = ("attaching again as soon as it answers, then re-creating its apps"
                if kernel is not None and kernel.reattaches else "restarting the kernel and its apps")
        s.log(name, "ERROR", f"{reason}; {what} ({len(recent)}/{MAX_RESTARTS} in {RESTART_WINDOW:.0f} s)")
        s.spawn(self.respawn(name), f"restarting kernel {name!r}")
