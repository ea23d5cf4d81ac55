"""The session core: the records, events, waiters and locks every part of the session acts through.

The engine's layers; each module imports only those below it (``tests/unit/test_house.py``
forbids a cycle even under ``TYPE_CHECKING``)::

    session.py      Session: the config, the kernels' lifecycle, one controller per kind,
                    the Reloader and its watchers; views use it through api.SessionAPI
    controllers.py  how an action is done for each kind of block      (use the core)
    reload.py       the Reloader: file changes in, reloads out         (uses the core)
    crashloop.py    CrashLoopGuard: restart a dead kernel, or give up  (uses the core)
    core.py         Core: below them all, typed for them as api.SessionCore
    kernels/, bridge/, events.py, status.py

:class:`Core` holds the app and kernel records (``apps`` / ``kernels``: the
:class:`~tornado_launcher.engine.status.AppInfo` / ``KernelInfo`` views show), the kernel objects the
session made (``kernel(name)``), the current config, and:

* events in and out: :meth:`Core.receive` (a kernel's or a process's record: the AppInfo / KernelInfo
  updated, the waiters of that state resolved, the event emitted), :meth:`Core.emit` / :meth:`Core.log`
  / :meth:`Core.publish` to the subscribers;
* waiting: :meth:`Core.wait_for_state`, :meth:`Core.settle`, :meth:`Core.run_and_settle` (a cell
  in a kernel, then the app's next settled state), :meth:`Core.call` (``name.method(*args)`` so);
* one action at a time per app (:meth:`Core.app_lock`), a kernel's setup under way
  (:meth:`Core.setting_up` / :meth:`Core.app_after_setup`);
* the one way an app's switch changes (:meth:`Core.switch`: threaded, live reload, auto-reload);
* "stale" (:meth:`Core.mark_stale` / :meth:`Core.clear_stale`, the app's pages told when its live
  reload is on), "not responding" (:meth:`Core.loop_blocked`), background tasks (:meth:`Core.spawn`).

It decides nothing about kinds of apps, kernels' lifecycle or files: those are its users'; each
user's docstring lists the members it takes (``api.SessionCore`` is their union).

The walk from a save to the kernel goes down only::

    watcher thread -> Reloader._on_change -> core.spawn(Reloader._handle)
      -> (sync = true: the batch pushed to the kernel's copy) -> compile check (a thread)
      -> core.mark_stale on an error, else the app's SingleFlight
      -> Reloader._reload -> core.settle (an app still starting) -> core.app_lock(app)
      -> core.run_and_settle -> KernelConnection.execute(handle_watchdog_event cell)
    the kernel's records -> core.receive (the KernelConnection's on_event) -> AppInfo, waiters, events
      -> back in Reloader._reload: core.clear_stale, core.log, core.emit(ReloadEvent)

(a handler's ``jobs`` run through the JobController's ``run``, which the session hands the Reloader).

Thread-safety: everything on the loop thread; subscribers are called on it too, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Dict, Iterable, List, Optional, Tuple

from .. import bridge
from ..bridge import protocol
from ..bridge.protocol import KERNEL_LOOP, LineFilter
from .events import KERNEL_READY, NOT_RESPONDING, AppState, Event, KernelState, LogRecord, LoopBlocked, Subscriber

if TYPE_CHECKING:
    from ..config import Config
    from ..kernels.connection import KernelConnection
    from .status import AppInfo, KernelInfo

log = logging.getLogger(__name__)

#: default of ``Session(settle_timeout=)``: how long an app may take to reach its
#: next settled state (running/failed after a start, stopped after a stop)
SETTLE_TIMEOUT = 30.0
#: the states that end a start or restart request
RUNNING_OR_FAILED = ("running", "failed")
#: the states that end a stop request
STOPPED_OR_FAILED = ("stopped", "failed")
#: app states in which a blocked loop or a silent kernel is shown as "not responding"
_LIVE = ("running", "starting", "stopping")


def ready(kernel: Optional["KernelConnection"]) -> bool:
    """Whether ``kernel`` exists and has started and answers: it can run code."""
    return kernel is not None and kernel.state in KERNEL_READY


class Core:
    """The records, events, waiters and locks of one session (see the module's docstring).

    ``settle_timeout`` is :data:`SETTLE_TIMEOUT` unless a caller (a test with a misbehaving
    app) shortens it; it ends in a sentence in the app's log, never in a hang.
    """

    def __init__(self, config: "Config", *, settle_timeout: float = SETTLE_TIMEOUT) -> None:
        self.settle_timeout = settle_timeout
        self.apps: Dict[str, AppInfo] = {}
        self.kernels: Dict[str, KernelInfo] = {}
        #: the kernel objects the session made, by name (whatever their state)
        self.kernel_objects: Dict[str, KernelConnection] = {}
        #: True once the session's shutdown has begun: start nothing new
        self.closing = False
        self._subscribers: List[Subscriber] = []
        self._waiters: Dict[str, List[Tuple[frozenset, asyncio.Future]]] = {}
        self._locks: Dict[str, asyncio.Lock] = {}
        self._setups: Dict[str, "asyncio.Future[None]"] = {}
        self._background: set = set()
        self.configure(config)

    def configure(self, config: "Config") -> None:
        """``config`` is the current one (the session's start, or a re-read)."""
        self.config = config
        self._rules = LineFilter(config.logger.suppress_regex, config.logger.replace_regex)

    # ------------------------------------------------------------ records
    def kernel(self, name: str) -> Optional["KernelConnection"]:
        """The kernel object named ``name`` if the session made it (whatever its state), else None."""
        return self.kernel_objects.get(name)

    def app(self, name: str) -> "AppInfo":
        """The record of app ``name``; KeyError with a sentence when there is none."""
        try:
            return self.apps[name]
        except KeyError:
            raise KeyError(f"no app named {name!r}") from None

    def apps_of(self, kernel: str) -> List["AppInfo"]:
        return [a for a in self.apps.values() if a.kernel == kernel]

    def fail_apps(self, kernel: str, reason: str) -> None:
        """No app of ``kernel`` can run: each is "failed" with ``reason`` (and whoever waits for it hears so)."""
        for info in self.apps_of(kernel):
            self.receive(AppState(info.name, kernel, "failed", reason, threaded=info.threaded))

    def app_lock(self, name: str) -> asyncio.Lock:
        """The lock that makes one action at a time on app ``name``."""
        return self._locks.setdefault(name, asyncio.Lock())

    @contextlib.asynccontextmanager
    async def setting_up(self, kernel: str) -> AsyncIterator[None]:
        """Within: the (re)start and app setup of ``kernel`` is under way (see :meth:`app_after_setup`)."""
        done = self._setups[kernel] = asyncio.get_running_loop().create_future()
        try:
            yield
        finally:
            if not done.done():
                done.set_result(None)

    async def app_after_setup(self, name: str) -> "AppInfo":
        """App ``name`` once its kernel's setup under way (if any) is over.  An action sent meanwhile
        (``restart APP`` on the control socket while its kernel restarts) waits: until the setup
        creates the apps, the bridge has no app of that name (it used to answer ``NameError``)."""
        info = self.app(name)
        under_way = self._setups.get(info.kernel or "")
        if under_way is not None and not under_way.done():
            await asyncio.shield(under_way)
        return self.app(name)

    # ------------------------------------------------------------ events out
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on; returns an unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def emit(self, event: Event) -> None:
        """Hand ``event`` to every subscriber, in order.

        A log record not from the launcher itself first goes through the
        top-level ``logger`` block's rules (after the app's own, applied in
        the kernel or by the process's controller).
        """
        if isinstance(event, LogRecord) and self._rules and event.origin != "launcher":
            message = self._rules.apply(event.message)
            if message is None:
                return
            if message != event.message:
                event = dataclasses.replace(event, message=message)
        for cb in list(self._subscribers):
            try:
                cb(event)
            except Exception:  # noqa: BLE001 - a broken view must not stop the engine
                log.exception("subscriber %r failed on %r", cb, event)

    def log(self, source: str, level: str, message: str, *, app: Optional[str] = None,
            traceback: Optional[str] = None) -> None:
        """A launcher message into a kernel's log (``app`` None) or an app's."""
        self.emit(LogRecord(source, app, level, message, logger="tornado_launcher",
                            traceback=traceback, origin="launcher"))

    def app_state(self, info: "AppInfo") -> AppState:
        """The :class:`AppState` event that describes ``info`` now: "stale" when it serves old
        code, "not responding" (with where) while a live app's loop or kernel does not answer."""
        state = "stale" if info.stale and info.state == "running" else info.state
        reason = info.reason
        if info.state in _LIVE:
            kinfo = self.kernels.get(info.kernel)
            if kinfo is not None and kinfo.state == NOT_RESPONDING:
                state, reason = NOT_RESPONDING, kinfo.reason
            elif info.hung is not None:
                state, reason = NOT_RESPONDING, info.hung
        return AppState(info.name, info.kernel, state, reason, info.elapsed_ms, info.urls,
                        info.threaded, info.auto_reload, live_reload=info.live_reload,
                        template_paths=info.template_paths, static_paths=info.static_paths)

    def publish(self, info: "AppInfo") -> None:
        """Tell the views about ``info`` as it is now."""
        self.emit(self.app_state(info))

    def loop_blocked(self, app: str) -> bool:
        """Whether the loop ``app`` runs on is blocked now (or its kernel does not answer)."""
        info = self.apps.get(app)
        if info is None:
            return False
        kinfo = self.kernels.get(info.kernel)
        return info.hung is not None or (kinfo is not None and kinfo.state == NOT_RESPONDING)

    def loop_blocked_during(self, app: str, since: float) -> bool:
        """Whether the loop ``app`` runs on was blocked at some time after ``since`` (monotonic)."""
        info = self.apps.get(app)
        return info is not None and (self.loop_blocked(app) or (
            info.unblocked_at is not None and info.unblocked_at >= since))

    # ------------------------------------------------------------ stale
    def mark_stale(self, app: str, problem: Optional[str] = None) -> None:
        """A save did not compile: a running ``app`` keeps serving the previous code ("stale").

        ``problem`` (``file:line: message``) is shown on the app's pages when its live reload is on
        (also when it is not running: whatever still serves them tells).
        """
        info = self.apps.get(app)
        if info is None:
            return
        if info.state == "running" and not info.stale:
            info.stale = True
            self.publish(info)
        if problem is not None:
            self._report_problem(info, problem)

    def clear_stale(self, app: str) -> None:
        """``app`` serves the current code again."""
        info = self.apps.get(app)
        if info is not None and info.stale:
            info.stale = False
            self.publish(info)
            self._report_problem(info, None)

    def _report_problem(self, info: "AppInfo", problem: Optional[str]) -> None:
        """Tell the app's live-reload pages that its last save did not reload (``problem``) or that this is over."""
        kernel = self.kernel(info.kernel)
        if info.live_reload and ready(kernel):
            self.spawn(kernel.execute(bridge.report_problem_code(info.name, problem), app=info.name,
                                      what="live-reload report"), f"telling {info.name!r}'s pages about its reload")

    # ------------------------------------------------------------ events in
    def receive(self, event: Event) -> None:
        """An event from a kernel or a process: update the AppInfo / KernelInfo it
        is about, resolve the waiters of that state, and emit it."""
        if isinstance(event, AppState):
            self._app_state(event)
        elif isinstance(event, LoopBlocked):
            self._loop_blocked(event)
        elif isinstance(event, KernelState):
            self._kernel_state(event)
        else:
            self.emit(event)

    def _app_state(self, event: AppState) -> None:
        info = self.apps.get(event.app)
        if info is None:
            return
        info.state = event.state
        info.reason = event.reason
        info.threaded = event.threaded
        cleared = False
        if event.state == "running":
            info.urls = event.urls
            info.elapsed_ms = event.elapsed_ms
            if protocol.serves_old_code(event.state, event.reason):
                info.stale = True  # a restart's new code did not start: the old run serves
            elif event.reload is not None and info.stale:  # a start of the current code serves
                cleared = True
            info.template_paths, info.static_paths = event.template_paths, event.static_paths
        elif event.state in ("stopped", "failed"):
            info.urls = ()
        if cleared:
            info.stale = False
            self._report_problem(info, None)
        if event.reload is not None:  # what this start re-imported: for this event only
            self.emit(dataclasses.replace(self.app_state(info), reload=event.reload))
        else:
            self.publish(info)
        for states, fut in list(self._waiters.get(info.name, ())):
            if event.state in states and not fut.done():
                fut.set_result(event)

    def _kernel_state(self, event: KernelState) -> None:
        kinfo = self.kernels.get(event.kernel)
        if kinfo is not None:
            was = kinfo.state
            kinfo.state, kinfo.reason, kinfo.pid = event.state, event.reason, event.pid
            if (was == NOT_RESPONDING) != (event.state == NOT_RESPONDING):
                self.emit(event)
                for info in self.apps_of(event.kernel):
                    if info.state in _LIVE:
                        if event.state != NOT_RESPONDING:
                            info.unblocked_at = time.monotonic()
                        self.publish(info)
                return
        self.emit(event)

    def _loop_blocked(self, event: LoopBlocked) -> None:
        """A loop in a kernel is blocked, or runs again: its apps say so, and where."""
        own = event.loop != KERNEL_LOOP
        whose = "its own loop (threaded)" if own else "the kernel's loop"
        for name in event.apps:
            info = self.apps.get(name)
            if info is None or info.kernel != event.kernel:
                continue
            if event.blocked:
                where = f" in {event.where}" if event.where else ""
                fix = (f"Interrupt (the app's or kernel's button, or `tornado-launcher interrupt {event.kernel}`) "
                       "raises an exception there" + (" at its next Python line" if own else ""))
                info.hung = f"{whose} has been blocked for {event.seconds:.0f} s{where}"
                if info.state in _LIVE:
                    self.log(event.kernel, "WARNING", f"not responding: {info.hung}. {fix}.", app=name)
            elif info.hung is not None:
                info.hung = None
                info.unblocked_at = time.monotonic()
                why = f" ({event.where})" if event.where else ""
                if info.state in _LIVE:
                    self.log(event.kernel, "INFO", f"responding again after {event.seconds:.1f} s{why}", app=name)
            else:
                continue
            self.publish(info)
        self.emit(event)

    # ------------------------------------------------------------ waiting
    def wait_for_state(self, app: str, states: Iterable[str]) -> asyncio.Future:
        """A future resolved with the next :class:`AppState` of ``app`` in ``states``.

        Register it *before* running the code that changes the state; cancel
        it if that code fails.
        """
        fut = asyncio.get_running_loop().create_future()
        entry = (frozenset(states), fut)
        self._waiters.setdefault(app, []).append(entry)
        fut.add_done_callback(lambda _f: self._waiters.get(app, []).remove(entry)
                              if entry in self._waiters.get(app, []) else None)
        return fut

    async def settle(self, app: str, fut: asyncio.Future, what: str = "its last command") -> Optional[AppState]:
        """Await ``fut`` (from :meth:`wait_for_state`) up to ``settle_timeout``;
        None, and a warning in the app's log naming ``what`` it waited after,
        when it does not come."""
        try:
            return await asyncio.wait_for(fut, self.settle_timeout)
        except asyncio.TimeoutError:
            info = self.apps.get(app)
            self.log(info.kernel if info else "", "WARNING",
                     f"app {app!r} is still {info.state if info else 'unknown'} {self.settle_timeout:g} s "
                     f"after {what}: look for a call that blocks in its code (a sleep, a lock, a server "
                     "that never listens), fix it and restart the app.", app=app)
            return None

    async def run_and_settle(self, app: str, code: str, *, kernel: Optional[str] = None,
                             settle: Iterable[str] = RUNNING_OR_FAILED,
                             what: Optional[str] = None) -> Tuple[Dict[str, Any], Optional[AppState]]:
        """Run ``code`` in ``kernel`` (default: the app's) and await ``app``'s next state in ``settle``.

        Returns ``(reply, state)``: the execute reply, and the settled
        :class:`AppState`, or None when the code raised (``reply["status"]``
        is then not ``"ok"``) or the app did not settle in time.  The caller
        checks that the kernel is up (:func:`ready`).
        """
        k = self.kernel_objects[kernel or self.apps[app].kernel]
        fut = self.wait_for_state(app, settle)
        reply = await k.execute(code, app=app, what=what)
        if reply.get("status") != "ok":
            fut.cancel()
            return reply, None
        return reply, await self.settle(app, fut, what or "its last command")

    async def call(self, info: "AppInfo", method: str, settle: Iterable[str], *args: Any) -> Optional[AppState]:
        """``name.method(*args)`` in the app's kernel, awaited until a state in ``settle``.

        None when the kernel is not up (a warning in the app's log), when
        the call raised, or when the app did not settle in time.
        """
        kernel = self.kernel(info.kernel)
        if not ready(kernel):
            self.log(info.kernel, "WARNING", f"cannot {method} {info.name!r}: kernel {info.kernel!r} is "
                     f"{kernel.state if kernel else 'not started'}", app=info.name)
            return None
        _reply, state = await self.run_and_settle(info.name, bridge.call_code(info.name, method, *args),
                                                  settle=settle, what=f"{method}()")
        return state

    # ------------------------------------------------------------ switches
    def set_switch(self, info: "AppInfo", name: str, flag: bool) -> AppState:
        """A switch the launcher alone applies (``auto_reload``; the others of a kind whose bridge app has
        none): the AppInfo field set, the views told when it changed.  :meth:`switch`'s first half."""
        if getattr(info, name) != bool(flag):
            setattr(info, name, bool(flag))
            self.publish(info)
        return self.app_state(info)

    async def switch(self, info: "AppInfo", name: str, flag: bool, *, in_bridge: bool = False) -> Optional[AppState]:
        """The one way an app's switch (``threaded``, ``live_reload``, ``auto_reload``: AppInfo fields) changes.

        The field is set and the views told.  ``in_bridge`` (the app lives in a kernel whose bridge app
        applies this switch: its controller says): under the app's lock, the bridge app's
        ``set_<name>(flag)`` runs too; a running app's ``threaded`` is a hand-over restart in the other
        mode, awaited until it settles (its records tell the views).  Returns the app's state after.
        """
        flag = bool(flag)
        if not in_bridge:
            return self.set_switch(info, name, flag)
        async with self.app_lock(info.name):
            if getattr(info, name) == flag:
                return self.app_state(info)
            setattr(info, name, flag)
            if name == "threaded" and info.state in ("running", "starting"):
                return await self.call(info, "set_threaded", RUNNING_OR_FAILED, flag)
            kernel = self.kernel(info.kernel)
            if ready(kernel):
                await kernel.execute(bridge.call_code(info.name, f"set_{name}", flag), app=info.name,
                                     what=f"set_{name}()")
            self.publish(info)
            return self.app_state(info)

    # ------------------------------------------------------------ background
    def spawn(self, coro: Any, what: str) -> "asyncio.Task":
        """Run ``coro`` in the background, holding a reference until it ends
        (the loop keeps only weak ones) and logging a failure instead of losing it."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)

        def done(t: "asyncio.Task") -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed", what, exc_info=t.exception())
                self.log(self.first_kernel(), "ERROR", f"{what} failed: {t.exception()!r}")

        task.add_done_callback(done)
        return task

    def first_kernel(self) -> str:
        """The log a message about the whole session goes to (the first kernel's)."""
        return next(iter(self.kernels), "launcher")
