"""The Session: the one place that decides what code runs in which kernel.

It owns the kernels of a :class:`~tornado_launcher.config.Config`, the bridge
apps inside them and the file watchers, and turns every user action (a button,
a file save, Ctrl+C) into bridge calls in the right kernel.  Everything that
happens comes back out as events (:mod:`tornado_launcher.engine.events`) to the
subscribers, which only render them.

What an action means for one kind of app (tornado, watchdog, process, job)
is its controller's business (:mod:`tornado_launcher.engine.controllers`); file
changes are the :class:`~tornado_launcher.engine.reload.Reloader`'s.  Both act on
the session through its public methods only (see :class:`Session`).

No Qt here: the same Session runs under ``asyncio.run`` (``tornado-launcher
start``, the tests) and under qasync (the window).

Thread-safety: all methods are called on the loop thread; subscribers are
called on it too, in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import tempfile
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Tuple

from .. import bridge
from ..bridge import protocol
from ..bridge.protocol import KERNEL_LOOP, LineFilter
from ..config import Config
from ..kernels.kernel import Kernel, KernelStartError, describe_error, make_runtime_dir, remove_runtime_dir
from ..kernels.provisioning import make_kernel
from .controllers import (
    RUNNING_OR_FAILED,
    Controller,
    JobController,
    KernelAppController,
    KernelSetups,
    ProcessTable,
    controllers,
)
from .controllers import same_config as _same
from .crashloop import CrashLoopGuard
from .events import (
    KERNEL_READY,
    NOT_RESPONDING,
    AppState,
    Event,
    KernelState,
    LogRecord,
    LoopBlocked,
    SessionState,
    Subscriber,
)
from .process import Process
from .status import AppInfo, KernelInfo

if TYPE_CHECKING:
    from .reload import Reloader

log = logging.getLogger(__name__)

#: default of ``Session(settle_timeout=)``: how long an app may take to reach its
#: next settled state (running/failed after a start, stopped after a stop)
SETTLE_TIMEOUT = 30.0
#: default of ``Session(startup_timeout=)``: how long a new kernel may take to answer kernel_info
STARTUP_TIMEOUT = 60.0
#: Shutdown deadlines (Ctrl+C, SIGTERM, closing the window must be done in 5 s
#: whatever the kernels do): apps get this long to close their servers, then
#: each kernel gets kernel.SHUTDOWN_TIMEOUT before SIGKILL; processes get
#: this long between SIGTERM and SIGKILL.
APP_STOP_TIMEOUT = 1.5
SHUTDOWN_PROCESS_TIMEOUT = 3.0


#: app states in which a blocked loop or a silent kernel is shown as "not responding"
_LIVE = ("running", "starting", "stopping")


class Session:
    """Apps + kernels + watchers of one config.

    Views use ``subscribe``, the app and kernel actions and ``apps`` /
    ``kernels``.  The controllers (:mod:`tornado_launcher.engine.controllers`) and the
    :class:`~tornado_launcher.engine.reload.Reloader` act through the public methods
    under "for controllers and the reloader" below; nothing outside this class
    touches its private members.

    ``settle_timeout`` and ``startup_timeout`` are the limits above, declared
    here so that a caller (a test with a misbehaving app or kernel) can shorten
    them; each ends in a sentence in the log, never in a hang.
    """

    def __init__(self, config: Config, *, auto_reload: bool = True,
                 settle_timeout: float = SETTLE_TIMEOUT, startup_timeout: float = STARTUP_TIMEOUT) -> None:
        self.config = config
        self.auto_reload_enabled = auto_reload
        self.settle_timeout = settle_timeout
        self.startup_timeout = startup_timeout
        self.apps: Dict[str, AppInfo] = {}
        self.kernels: Dict[str, KernelInfo] = {}
        self._kernels: Dict[str, Kernel] = {}
        self._runs = ProcessTable()  # the Process runtimes of process and job blocks
        self._controllers: Dict[str, Controller] = controllers(self, self._runs)
        self._background: set = set()
        self._subscribers: List[Subscriber] = []
        self._waiters: Dict[str, List[Tuple[frozenset, asyncio.Future]]] = {}
        self._locks: Dict[str, asyncio.Lock] = {}
        self._runtime_dir: Optional[str] = None
        self._closing = False
        self.setups = KernelSetups()  # a kernel's (re)start and app setup under way: actions wait for it
        self._reloader: Optional["Reloader"] = None
        self._rules = LineFilter(config.logger.suppress_regex, config.logger.replace_regex)
        #: kernel deaths: restart, or give up after too many (crashloop.py)
        self.crash_guard = CrashLoopGuard(self)
        self._build(config)

    # ------------------------------------------------------------ bookkeeping
    def _build(self, config: Config) -> None:
        for k in config.kernels.values():
            self.kernels.setdefault(k.name, KernelInfo(k.name))
        for table, kind in ((config.apps, None), (config.processes, "process"), (config.jobs, "job")):
            for cfg in table.values():
                if cfg.name not in self.apps:
                    self.apps[cfg.name] = AppInfo(**self._controllers[kind or cfg.kind].info_fields(cfg))

    def _controller(self, info: AppInfo) -> Controller:
        return self._controllers[info.kind]

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

    # ----------------------------------------- for controllers and the reloader
    @property
    def closing(self) -> bool:
        """True once ``shutdown`` has begun: start nothing new."""
        return self._closing

    def kernel(self, name: str) -> Optional[Kernel]:
        """The :class:`Kernel` named ``name`` if the session made it (whatever its state), else None."""
        return self._kernels.get(name)

    def process(self, name: str) -> Optional[Process]:
        """The runtime of the ``process`` / ``job`` block ``name`` if it ran, else None."""
        return self._runs.get(name)

    def app_lock(self, name: str) -> asyncio.Lock:
        """The lock that makes one action at a time on app ``name``."""
        return self._locks.setdefault(name, asyncio.Lock())

    def app_state(self, info: AppInfo) -> AppState:
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

    def publish(self, info: AppInfo) -> None:
        """Tell the views about ``info`` as it is now."""
        self.emit(self.app_state(info))

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
            self._controller(info).report_problem(info, problem)

    def clear_stale(self, app: str) -> None:
        """``app`` serves the current code again."""
        info = self.apps.get(app)
        if info is not None and info.stale:
            info.stale = False
            self.publish(info)
            self._controller(info).report_problem(info, None)

    def receive(self, event: Event) -> None:
        """An event from a kernel or a process: update the AppInfo / KernelInfo it
        is about, resolve the waiters of that state, and emit it."""
        if isinstance(event, AppState):
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
                self._controller(info).report_problem(info, None)
            if event.reload is not None:  # what this start re-imported: for this event only
                self.emit(dataclasses.replace(self.app_state(info), reload=event.reload))
            else:
                self.publish(info)
            for states, fut in list(self._waiters.get(info.name, ())):
                if event.state in states and not fut.done():
                    fut.set_result(event)
            return
        if isinstance(event, LoopBlocked):
            self._loop_blocked(event)
            return
        if isinstance(event, KernelState):
            kinfo = self.kernels.get(event.kernel)
            if kinfo is not None:
                was = kinfo.state
                kinfo.state, kinfo.reason, kinfo.pid = event.state, event.reason, event.pid
                if (was == NOT_RESPONDING) != (event.state == NOT_RESPONDING):
                    self.emit(event)
                    for info in self._apps_of(event.kernel):
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
        checks that the kernel is up (:meth:`kernel`).
        """
        k = self._kernels[kernel or self.apps[app].kernel]
        fut = self.wait_for_state(app, settle)
        reply = await k.execute(code, app=app, what=what)
        if reply.get("status") != "ok":
            fut.cancel()
            return reply, None
        return reply, await self.settle(app, fut, what or "its last command")

    async def run_job(self, name: str, *, log_as: Optional[str] = None) -> Optional[int]:
        """Run a `job` block's command to its end; returns its exit status.

        ``log_as``: the app whose log gets the job's lines (a WatchdogApp
        whose handler runs the job); None: the job's own log.
        """
        jobs = self._controllers["job"]
        assert isinstance(jobs, JobController)
        return await jobs.run(self._app(name), log_as=log_as)

    def spawn(self, coro: Any, what: str) -> "asyncio.Task":
        """Run ``coro`` in the background, holding a reference until it ends
        (the loop keeps only weak ones) and logging a failure instead of losing it."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)

        def done(t: "asyncio.Task") -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("%s failed", what, exc_info=t.exception())
                self.log(self._first_kernel(), "ERROR", f"{what} failed: {t.exception()!r}")

        task.add_done_callback(done)
        return task

    def _app(self, name: str) -> AppInfo:
        try:
            return self.apps[name]
        except KeyError:
            raise KeyError(f"no app named {name!r}") from None

    # --------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start every kernel and, in it, the apps that are not disabled."""
        self.emit(SessionState("starting"))
        self._runtime_dir = make_runtime_dir()
        for w in self.config.warnings:
            self.log(self._first_kernel(), "WARNING", str(w))
        # Watch files (and give auto-reload its first value) before any app starts: a
        # save that lands while an app starts is then reloaded once it serves
        # (the Reloader waits for the start), never lost between the two.
        await self._restart_reload()
        await asyncio.gather(*(self._start_kernel(name) for name in self.kernels),
                             *(self.start_app(n) for n, a in self.apps.items()
                               if self._controller(a).starts_with_session and a.wanted))
        self.emit(SessionState("running"))

    def _first_kernel(self) -> str:
        return next(iter(self.kernels), "launcher")

    def _kernel_for(self, name: str) -> Kernel:
        k = self._kernels.get(name)
        if k is None:
            k = make_kernel(name, self.config.kernels[name], cwd=self.config.directory,
                            runtime_dir=self._runtime_dir or tempfile.gettempdir(), on_event=self.receive,
                            on_death=lambda reason, n=name: self.crash_guard.died(n, reason),
                            startup_timeout=self.startup_timeout)
            self._kernels[name] = k
        return k

    @KernelSetups.tracked
    async def _start_kernel(self, name: str) -> None:
        kernel = self._kernel_for(name)
        try:
            await kernel.start()
        except KernelStartError as e:
            self.log(name, "ERROR", str(e))
            self._fail_apps(name, str(e))
            if kernel.reattaches and not self._closing:
                # a kernel started elsewhere may come later: attach then (its restart waits for it)
                self.spawn(self.respawn_kernel(name), f"waiting for kernel {name!r}")
            return
        await self._setup_kernel(name)

    def _fail_apps(self, kernel: str, reason: str) -> None:
        """No app of ``kernel`` can run: each is "failed" with ``reason`` (and whoever waits for it hears so)."""
        for info in self._apps_of(kernel):
            self.receive(AppState(info.name, kernel, "failed", reason, threaded=info.threaded))

    def _apps_of(self, kernel: str) -> List[AppInfo]:
        return [a for a in self.apps.values() if a.kernel == kernel]

    def _in_kernel(self, info: AppInfo) -> KernelAppController:
        ctl = self._controller(info)
        assert isinstance(ctl, KernelAppController), info.kind
        return ctl

    async def _setup_kernel(self, name: str) -> None:
        """Install the bridge, create the apps, run their start code."""
        kernel = self._kernels[name]
        kc = self.config.kernels.get(name)
        settings = {"kernel": name, "project_dir": (kc.remote_dir if kc is not None else None) or self.config.directory}
        for cell in bridge.install_cells(settings):
            reply = await kernel.execute(cell, what="installing the bridge")
            if reply.get("status") != "ok":
                break
        if reply.get("status") != "ok":
            evalue = str(reply.get("evalue") or "")
            if evalue.startswith(protocol.INSTALL_REFUSED):  # the cell's own sentence names the fix
                why = evalue[len(protocol.INSTALL_REFUSED):].strip()
                msg = f"could not install the bridge in kernel {name!r}: {why}."
            else:
                msg = (f"could not install the bridge in kernel {name!r}: {describe_error(reply)}. "
                       "The bridge needs only the standard library and tornado in the "
                       "kernel's Python: check that `import tornado.httpserver` works there (reinstall tornado "
                       "if not), then restart the kernel.")
            self.log(name, "ERROR", msg)
            self._fail_apps(name, msg)  # no app of this kernel can run: each says why
            return
        problem = await kernel.sync.push_project() if kernel.sync is not None else None
        if problem:  # its apps would run files that are not there
            self.log(name, "ERROR", problem)
            self._fail_apps(name, problem)
            return
        if self._reloader is not None:
            await self._reloader.kernel_ready(name)  # a watcher in the kernel (remote_files)
        for info in self._apps_of(name):
            info.start_code_ran = False
            await self._in_kernel(info).create(info)
        for info in self._apps_of(name):
            if info.wanted:
                await self._in_kernel(info).run_start(info)

    # ------------------------------------------------------------ app actions
    async def start_app(self, name: str) -> Optional[AppState]:
        """Start app, process or job ``name``; the state it settled in (None: it did not)."""
        info = await self.setups.app(self, name)
        return await self._controller(info).start(info)

    async def stop_app(self, name: str) -> Optional[AppState]:
        info = await self.setups.app(self, name)
        return await self._controller(info).stop(info)

    async def restart_app(self, name: str) -> Optional[AppState]:
        info = await self.setups.app(self, name)
        return await self._controller(info).restart(info)

    async def set_threaded(self, name: str, flag: bool) -> Optional[AppState]:
        """Switch mode; a running app restarts in the other mode."""
        info = self._app(name)
        return await self._controller(info).set_threaded(info, flag)

    def set_auto_reload(self, name: str, flag: bool) -> None:
        info = self._app(name)
        info.auto_reload = bool(flag)
        self.publish(info)

    async def set_live_reload(self, name: str, flag: bool) -> Optional[AppState]:
        """Switch whether the app's HTML pages reload themselves in the browser (no restart)."""
        info = self._app(name)
        return await self._controller(info).set_live_reload(info, flag)

    def _bulk(self) -> List[str]:
        return [n for n, a in self.apps.items() if self._controller(a).in_bulk_actions]

    async def start_all(self) -> None:
        """Start every Tornado app and process (not jobs: they run on demand)."""
        await asyncio.gather(*(self.start_app(n) for n in self._bulk()))

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop_app(n) for n in self._bulk()))

    async def restart_all(self) -> None:
        await asyncio.gather(*(self.restart_app(n) for n in self._bulk()))

    # --------------------------------------------------------- kernel actions
    async def execute(self, kernel: str, code: str) -> Dict[str, Any]:
        """Run code in a kernel for the console; returns its output."""
        k = self._kernels.get(kernel)
        if k is None:
            return {"status": "error", "stdout": "", "stderr": "", "result": None,
                    "traceback": f"no kernel named {kernel!r}"}
        reply = await k.execute(code, capture=True)
        out = {key: reply.get(key) for key in ("status", "stdout", "stderr", "result", "traceback")}
        if out["status"] != "ok" and not out.get("traceback"):
            out["traceback"] = describe_error(reply)
        out["stdout"] = out["stdout"] or ""
        out["stderr"] = out["stderr"] or ""
        return out

    def connection_file(self, kernel: str) -> Optional[str]:
        """The kernel's connection file while it runs (for a Jupyter console), else None."""
        k = self._kernels.get(kernel)
        return None if k is None else k.connection_file

    async def interrupt_kernel(self, name: str) -> None:
        await self._kernels[name].interrupt()

    async def restart_kernel(self, name: str) -> None:
        """A fresh kernel process with its apps, as they were wanted (also one the crash-loop guard
        gave up: asked by the user, its deaths so far are forgotten)."""
        self.crash_guard.forget(name)
        await self.respawn_kernel(name)

    @KernelSetups.tracked
    async def respawn_kernel(self, name: str) -> None:
        """Restart kernel ``name`` after its death (the crash-loop guard's call; counts stay)."""
        kernel = self._kernel_for(name)
        for info in self._apps_of(name):
            if info.state not in ("stopped", "failed"):
                info.state, info.reason, info.urls = "stopped", "kernel restarting", ()
                self.publish(info)
        try:
            await kernel.restart()
        except KernelStartError as e:
            if not self._closing:
                self.log(name, "ERROR", str(e))
            return
        await self._setup_kernel(name)

    # ---------------------------------------------------------------- reload
    async def _restart_reload(self) -> None:
        """(Re)make the Reloader for the current config and start its watcher."""
        from .reload import Reloader  # the watcher pulls in watchdog: only when used

        if self._reloader is not None:
            await self._reloader.stop()
        self._reloader = Reloader(self)
        for info in self.apps.values():
            if not info.reload_initialized:
                info.reload_initialized = True
                info.auto_reload = self.auto_reload_enabled and self._reloader.targets(info.name)
                self.publish(info)  # views learn the switch's first value; later ones come from set_auto_reload
        await self._reloader.start()

    # --------------------------------------------------------------- shutdown
    async def shutdown(self) -> None:
        """Stop watchers, apps and kernels; leave nothing running. Idempotent."""
        if self._closing:
            return
        self._closing = True
        self.emit(SessionState("stopping"))
        if self._reloader is not None:
            try:
                await self._reloader.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping the watcher")
        await asyncio.gather(*(self._stop_kernel(n) for n in list(self._kernels)),
                             *(p.stop(SHUTDOWN_PROCESS_TIMEOUT) for p in self._runs.all()),
                             return_exceptions=True)
        if self._runtime_dir:
            remove_runtime_dir(self._runtime_dir)
        self.emit(SessionState("stopped"))

    def kill(self) -> None:
        """SIGKILL every kernel and process group now, without a word to them (a second Ctrl+C)."""
        self._closing = True
        for kernel in list(self._kernels.values()):
            kernel.kill_now()
        for proc in self._runs.all():
            proc.kill_now()

    async def _stop_kernel(self, name: str) -> None:
        kernel = self._kernels[name]
        if kernel.state in KERNEL_READY:
            # Let apps close their servers and say goodbye before the process goes.
            try:
                await asyncio.wait_for(asyncio.gather(*(self._in_kernel(a).farewell(a)
                                                        for a in self._apps_of(name))), APP_STOP_TIMEOUT)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001
                pass
        await kernel.shutdown()
        for rider in (kernel.tunnel, kernel.sync):
            if rider is not None:
                await rider.close()

    # ------------------------------------------------------------ re-read config
    async def apply_config(self, new: Config) -> None:
        """Apply a re-read config: only what changed restarts.

        A changed kernel block restarts that kernel with its apps; a changed,
        added or removed app or process is stopped / (re)created alone; the
        rest keeps running untouched (same kernel process, same server).
        """
        old = self.config
        self.config = new
        self._rules = LineFilter(new.logger.suppress_regex, new.logger.replace_regex)
        changed_kernels = {n for n in set(old.kernels) | set(new.kernels)
                           if not _same(old.kernels.get(n), new.kernels.get(n))}
        for n in changed_kernels:
            if n in self._kernels:
                await self._stop_kernel(n)
                del self._kernels[n]
            self.kernels.pop(n, None)
        unchanged = set()
        for name in list(self.apps):
            info = self.apps[name]
            entry = _configured(new, name)
            if entry is not None and info.kernel not in changed_kernels and \
                    await self._controller(info).reconfigure(info, entry):  # unchanged, or changed in place
                unchanged.add(name)
                continue
            await self._controller(info).retire(info, kernel_replaced=info.kernel in changed_kernels)
            del self.apps[name]
            if entry is None:
                self.emit(AppState(name, info.kernel, "stopped", "removed from the config"))
        self._build(new)
        for n in new.kernels:
            if n not in self._kernels:
                await self._start_kernel(n)  # creates and starts its apps
        for name, info in self.apps.items():
            if name in unchanged or info.kernel in changed_kernels:
                continue
            await self._controller(info).bring_up(info)
        await self._restart_reload()


def _configured(config: Config, name: str) -> Any:
    """The block named ``name`` in ``config``: an app, a process or a job."""
    for table in (config.apps, config.processes, config.jobs):
        if name in table:
            return table[name]
    return None
