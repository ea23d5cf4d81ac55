"""The Session: the one place that decides what code runs in which kernel.

It owns the kernels of a :class:`~tornado_launcher.config.Config`, the bridge
apps inside them and the file watchers, and turns every user action (a button,
a file save, Ctrl+C) into bridge calls in the right kernel.  Everything that
happens comes back out as events (:mod:`tornado_launcher.events`) to the
subscribers, which only render them.

No Qt here: the same Session runs under ``asyncio.run`` (``tornado-launcher
start``, the tests) and under qasync (the window).

Thread-safety: all methods are called on the loop thread; subscribers are
called on it too, in order.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import shutil
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple

from . import bridge, interpreter
from .config import AppConfig, Config
from .events import AppState, Event, KernelState, LogRecord, SessionState, Subscriber
from .kernel import Kernel, KernelStartError
from .process import Process

log = logging.getLogger(__name__)

#: crash-loop guard: at most this many automatic kernel restarts ...
MAX_RESTARTS = 5
#: ... within this many seconds; then the kernel stays down and says why.
RESTART_WINDOW = 60.0
#: how long an app may take to reach running/failed after a request
SETTLE_TIMEOUT = 30.0

_RESTART_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*(?:handle_watchdog_event|restart)\s*\(")


def _same(a: Any, b: Any) -> bool:
    """Equal as configured: positions in the file (a moved block) do not count."""
    if a is None or b is None:
        return a is b

    def plain(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items() if k not in ("line", "col")}
        if isinstance(x, (list, tuple)):
            return [plain(v) for v in x]
        return x

    return plain(dataclasses.asdict(a)) == plain(dataclasses.asdict(b))


@dataclass
class AppInfo:
    """What a view needs to show one app; kept current by the session."""

    name: str
    kernel: str
    kind: str
    config: AppConfig
    state: str = "stopped"
    reason: Optional[str] = None
    urls: Tuple[str, ...] = ()
    elapsed_ms: Optional[float] = None
    threaded: bool = False
    auto_reload: bool = False
    disabled: bool = False
    #: the last save did not compile: the previous version keeps serving
    stale: bool = False
    #: whether the user wants it running (restored after a kernel restart)
    wanted: bool = False
    #: has the app block's own `start` code run in this kernel process yet?
    start_code_ran: bool = False
    #: has auto_reload been given its initial value (the user's toggle wins after)?
    reload_initialized: bool = False


@dataclass
class KernelInfo:
    name: str
    state: str = "stopped"
    reason: Optional[str] = None
    pid: Optional[int] = None
    deaths: deque = field(default_factory=lambda: deque(maxlen=MAX_RESTARTS + 1))


class Session:
    """Apps + kernels + watchers of one config."""

    def __init__(self, config: Config, *, auto_reload: bool = True) -> None:
        self.config = config
        self.auto_reload_enabled = auto_reload
        self.apps: Dict[str, AppInfo] = {}
        self.kernels: Dict[str, KernelInfo] = {}
        self._kernels: Dict[str, Kernel] = {}
        self._processes: Dict[str, Process] = {}
        self._background: set = set()
        self._subscribers: List[Subscriber] = []
        self._waiters: Dict[str, List[Tuple[frozenset, asyncio.Future]]] = {}
        self._locks: Dict[str, asyncio.Lock] = {}
        self._runtime_dir: Optional[str] = None
        self._closing = False
        self._reloader: Any = None
        self._suppress: List[re.Pattern] = []
        self._replace: List[Tuple[re.Pattern, str]] = []
        self._compile_global_rules()
        self._build(config)

    # ------------------------------------------------------------ bookkeeping
    def _build(self, config: Config) -> None:
        for k in config.kernels.values():
            self.kernels.setdefault(k.name, KernelInfo(k.name))
        for a in config.apps.values():
            if a.name in self.apps:
                continue
            self.apps[a.name] = AppInfo(
                a.name, a.kernel, a.kind, a, threaded=bool(getattr(a, "threaded", False)),
                disabled=a.disabled, wanted=not a.disabled,
            )
        for pc in getattr(config, "processes", {}).values():
            if pc.name not in self.apps:
                self.apps[pc.name] = AppInfo(pc.name, "", "process", pc, disabled=pc.disabled,
                                             wanted=not pc.disabled)
        for jc in getattr(config, "jobs", {}).values():
            if jc.name not in self.apps:
                self.apps[jc.name] = AppInfo(jc.name, "", "job", jc, wanted=False)

    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call ``callback(event)`` for every event from now on; returns an unsubscribe."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _compile_global_rules(self) -> None:
        lg = getattr(self.config, "logger", None)
        self._suppress = [re.compile(p) for p in (lg.suppress_regex if lg else ())]
        self._replace = [(re.compile(a), b) for a, b in (lg.replace_regex if lg else ())]

    def _global_rules(self, record: LogRecord) -> Optional[LogRecord]:
        """The top-level ``logger`` block's rules, after the app's own (applied in the kernel)."""
        message = record.message
        if any(p.search(message) for p in self._suppress):
            return None
        for pattern, to in self._replace:
            message = pattern.sub(to, message)
        return record if message == record.message else dataclasses.replace(record, message=message)

    def emit(self, event: Event) -> None:
        if isinstance(event, LogRecord) and (self._suppress or self._replace) and event.origin != "launcher":
            event = self._global_rules(event)
            if event is None:
                return
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

    def _app_event(self, info: AppInfo) -> AppState:
        state = "stale" if info.stale and info.state == "running" else info.state
        return AppState(info.name, info.kernel, state, info.reason, info.elapsed_ms, info.urls,
                        info.threaded, info.auto_reload)

    def _publish_app(self, info: AppInfo) -> None:
        self.emit(self._app_event(info))

    def _on_kernel_event(self, event: Event) -> None:
        if isinstance(event, AppState):
            info = self.apps.get(event.app)
            if info is None:
                return
            info.state = event.state
            info.reason = event.reason
            info.threaded = event.threaded
            if event.state == "running":
                info.urls = event.urls
                info.elapsed_ms = event.elapsed_ms
            elif event.state in ("stopped", "failed"):
                info.urls = ()
            self._publish_app(info)
            for states, fut in list(self._waiters.get(info.name, ())):
                if event.state in states and not fut.done():
                    fut.set_result(event)
            return
        if isinstance(event, KernelState):
            kinfo = self.kernels.get(event.kernel)
            if kinfo is not None:
                kinfo.state, kinfo.reason, kinfo.pid = event.state, event.reason, event.pid
        self.emit(event)

    def _wait_for(self, app: str, states: Iterable[str]) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        entry = (frozenset(states), fut)
        self._waiters.setdefault(app, []).append(entry)
        fut.add_done_callback(lambda _f: self._waiters.get(app, []).remove(entry)
                              if entry in self._waiters.get(app, []) else None)
        return fut

    # --------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start every kernel and, in it, the apps that are not disabled."""
        self.emit(SessionState("starting"))
        self._runtime_dir = tempfile.mkdtemp(prefix="tl-")
        os.chmod(self._runtime_dir, 0o700)
        for w in self.config.warnings:
            self.log(self._first_kernel(), "WARNING", str(w))
        await asyncio.gather(*(self._start_kernel(name) for name in self.kernels),
                             *(self._process(n).start() for n, a in self.apps.items()
                               if a.kind == "process" and a.wanted))
        self._init_reload()
        if self._reloader is not None:
            await self._reloader.start()
        self.emit(SessionState("running"))

    def _first_kernel(self) -> str:
        return next(iter(self.kernels), "launcher")

    def _kernel_for(self, name: str) -> Kernel:
        k = self._kernels.get(name)
        if k is None:
            kc = self.config.kernels[name]
            k = Kernel(
                name, cwd=self.config.directory, runtime_dir=self._runtime_dir or tempfile.gettempdir(),
                on_event=self._on_kernel_event,
                on_death=lambda reason, n=name: self._on_death(n, reason),
                kernel_name=kc.kernel_name, python=kc.python,
            )
            self._kernels[name] = k
        return k

    async def _start_kernel(self, name: str) -> None:
        kernel = self._kernel_for(name)
        try:
            await kernel.start()
        except KernelStartError as e:
            self.log(name, "ERROR", str(e))
            for info in self._apps_of(name):
                info.state, info.reason = "failed", str(e)
                self._publish_app(info)
            return
        await self._setup_kernel(name)

    def _apps_of(self, kernel: str) -> List[AppInfo]:
        return [a for a in self.apps.values() if a.kernel == kernel]

    async def _setup_kernel(self, name: str) -> None:
        """Install the bridge, create the apps, run their start code."""
        kernel = self._kernels[name]
        settings = {"kernel": name, "project_dir": self.config.directory}
        reply = await kernel.execute(bridge.install_code(settings), what="installing the bridge")
        if reply.get("status") != "ok":
            self.log(name, "ERROR", f"could not install the bridge in kernel {name!r}: "
                     f"{reply.get('ename')}: {reply.get('evalue')}")
            return
        for info in self._apps_of(name):
            info.start_code_ran = False
            await self._create_app(info)
        for info in self._apps_of(name):
            if info.wanted:
                await self._run_start(info)

    def _spec(self, info: AppInfo) -> Dict[str, Any]:
        a = info.config
        lg = a.logger
        spec: Dict[str, Any] = {
            "class": a.custom_class,
            "logger": {"level": lg.level, "suppress_regex": list(lg.suppress_regex),
                       "replace_regex": [list(p) for p in lg.replace_regex]},
        }
        if a.custom_class:
            # a user's subclass may take options of its own
            spec["options"] = dict(a.options)
        if a.kind == "tornado":
            spec.update(app_class=a.app_class, argv=list(a.argv), threaded=info.threaded,
                        clear_cache=list(a.clear_cache))
        return spec

    async def _create_app(self, info: AppInfo) -> bool:
        kernel = self._kernels[info.kernel]
        reply = await kernel.execute(bridge.create_app_code(info.name, info.kind, self._spec(info)),
                                     app=info.name, what=f"creating app {info.name!r}")
        if reply.get("status") != "ok":
            info.state, info.reason = "failed", f"{reply.get('ename')}: {reply.get('evalue')}"
            self._publish_app(info)
            return False
        return True

    async def _run_start(self, info: AppInfo) -> None:
        """The app block's `start` code the first time, `name.start()` after."""
        if not info.start_code_ran and info.config.start:
            info.start_code_ran = True
            settle = self._wait_for(info.name, ("running", "failed")) if info.kind == "tornado" else None
            reply = await self._kernels[info.kernel].execute(
                info.config.start, app=info.name, what=f"start code of app {info.name!r}")
            if settle is not None:
                if reply.get("status") != "ok":
                    settle.cancel()
                    if info.state not in ("running", "starting"):
                        info.state, info.reason = "failed", f"{reply.get('ename')}: {reply.get('evalue')}"
                        self._publish_app(info)
                    return
                if not settle.done() and await self._bridge_state(info) in ("stopped", None):
                    settle.cancel()  # the start code did not start the app: nothing to wait for
                    return
                await self._settle(info, settle)
            return
        info.start_code_ran = True
        await self._call(info, "start", ("running", "failed"))

    async def _bridge_state(self, info: AppInfo) -> Optional[str]:
        """The app's state as the bridge holds it right now (records may still be in flight)."""
        # the name is a validated identifier: no user text is formatted into this cell
        reply = await self._kernels[info.kernel].execute(f"print({info.name}.state)", capture=True,
                                                         store_history=False)
        if reply.get("status") != "ok":
            return None
        return (reply.get("stdout") or "").strip() or None

    async def _settle(self, info: AppInfo, fut: asyncio.Future) -> Optional[AppState]:
        try:
            return await asyncio.wait_for(fut, SETTLE_TIMEOUT)
        except asyncio.TimeoutError:
            self.log(info.kernel, "WARNING", f"app {info.name!r} did not settle within {SETTLE_TIMEOUT:.0f} s",
                     app=info.name)
            return None

    async def _call(self, info: AppInfo, method: str, settle: Iterable[str], *args: Any) -> Optional[AppState]:
        kernel = self._kernels.get(info.kernel)
        if kernel is None or kernel.state not in ("idle", "busy"):
            self.log(info.kernel, "WARNING", f"cannot {method} {info.name!r}: kernel {info.kernel!r} is "
                     f"{kernel.state if kernel else 'not started'}", app=info.name)
            return None
        fut = self._wait_for(info.name, settle)
        reply = await kernel.execute(bridge.call_code(info.name, method, *args), app=info.name,
                                     what=f"{method} of app {info.name!r}")
        if reply.get("status") != "ok":
            fut.cancel()
            return None
        return await self._settle(info, fut)

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

    def _lock(self, name: str) -> asyncio.Lock:
        return self._locks.setdefault(name, asyncio.Lock())

    def _app(self, name: str) -> AppInfo:
        try:
            return self.apps[name]
        except KeyError:
            raise KeyError(f"no app named {name!r}") from None

    # -------------------------------------------------------- processes, jobs
    def _process(self, name: str, log_as: Optional[str] = None) -> Process:
        """The runtime of a `process` or `job` block (made on first use)."""
        key = name if log_as is None else f"{name}\0{log_as}"
        proc = self._processes.get(key)
        if proc is None:
            cfg = self.apps[name].config
            env = interpreter.child_env()  # in the desktop app: without the bundle's library paths
            env.update(getattr(cfg, "env", None) or {})
            proc = Process(log_as or name, cfg.command, cwd=self.config.directory, env=env,
                           tty=bool(getattr(cfg, "tty", False)),
                           on_event=self._on_process_event if log_as is None else self._on_job_output)
            self._processes[key] = proc
        return proc

    def _on_process_event(self, event: Event) -> None:
        if isinstance(event, LogRecord):
            info = self.apps.get(event.app or "")
            lg = getattr(info.config, "logger", None) if info else None
            if lg is not None:
                if any(re.search(p, event.message) for p in lg.suppress_regex):
                    return
                message = event.message
                for a, b in lg.replace_regex:
                    message = re.sub(a, b, message)
                if message != event.message:
                    event = dataclasses.replace(event, message=message)
        self._on_kernel_event(event)

    def _on_job_output(self, event: Event) -> None:
        # a handler's job: its lines go to the log of the app that ran it
        if isinstance(event, LogRecord):
            self.emit(event)
        elif isinstance(event, AppState) and event.state == "failed":
            self.log("", "ERROR", f"job failed: {event.reason}", app=event.app)

    async def run_job(self, name: str, *, log_as: Optional[str] = None) -> Optional[int]:
        """Run a `job` block's command to its end; returns its exit status."""
        info = self._app(name)
        proc = self._process(name, log_as)
        if log_as is not None:
            self.log("", "INFO", f"job {name}: {info.config.command}", app=log_as)
        await proc.start()
        if proc._exited is not None:
            await asyncio.shield(proc._exited)
        return proc.returncode

    # ------------------------------------------------------------ app actions
    async def start_app(self, name: str) -> Optional[AppState]:
        info = self._app(name)
        if info.kind in ("process", "job"):
            info.wanted = info.kind == "process"
            await self._process(name).start()
            return self._app_event(info)
        async with self._lock(name):
            info.wanted = True
            if info.state == "running":
                return self._app_event(info)
            if not info.start_code_ran and info.config.start:
                await self._run_start(info)
                return self._app_event(info)
            info.start_code_ran = True
            return await self._call(info, "start", ("running", "failed"))

    async def stop_app(self, name: str) -> Optional[AppState]:
        info = self._app(name)
        if info.kind in ("process", "job"):
            info.wanted = False
            await self._process(name).stop()
            return self._app_event(info)
        async with self._lock(name):
            info.wanted = False
            info.stale = False
            if info.state in ("stopped",):
                return self._app_event(info)
            return await self._call(info, "stop", ("stopped", "failed"))

    async def restart_app(self, name: str) -> Optional[AppState]:
        info = self._app(name)
        if info.kind in ("process", "job"):
            info.wanted = info.kind == "process"
            await self._process(name).restart()
            return self._app_event(info)
        async with self._lock(name):
            info.wanted = True
            info.start_code_ran = True
            result = await self._call(info, "restart", ("running", "failed"))
            if result is not None and result.state == "running" and info.stale:
                info.stale = False
                self._publish_app(info)
            return result

    async def set_threaded(self, name: str, flag: bool) -> Optional[AppState]:
        """Switch mode; a running app restarts in the other mode."""
        info = self._app(name)
        async with self._lock(name):
            if info.threaded == bool(flag):
                return self._app_event(info)
            info.threaded = bool(flag)
            if info.state in ("running", "starting"):
                return await self._call(info, "set_threaded", ("running", "failed"), bool(flag))
            kernel = self._kernels.get(info.kernel)
            if kernel is not None and kernel.state in ("idle", "busy"):
                await kernel.execute(bridge.call_code(info.name, "set_threaded", bool(flag)), app=name)
            self._publish_app(info)
            return self._app_event(info)

    def set_auto_reload(self, name: str, flag: bool) -> None:
        info = self._app(name)
        info.auto_reload = bool(flag)
        self._publish_app(info)

    async def start_all(self) -> None:
        """Start every Tornado app and process (not jobs: they run on demand)."""
        await asyncio.gather(*(self.start_app(n) for n, a in self.apps.items() if a.kind in ("tornado", "process")))

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop_app(n) for n, a in self.apps.items() if a.kind in ("tornado", "process")))

    async def restart_all(self) -> None:
        await asyncio.gather(*(self.restart_app(n) for n, a in self.apps.items() if a.kind in ("tornado", "process")))

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
            out["traceback"] = f"{reply.get('ename')}: {reply.get('evalue')}"
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
        """A fresh kernel process with its apps, as they were wanted."""
        kinfo = self.kernels[name]
        kinfo.deaths.clear()
        await self._restart_kernel(name)

    async def _restart_kernel(self, name: str) -> None:
        kernel = self._kernel_for(name)
        for info in self._apps_of(name):
            if info.state not in ("stopped", "failed"):
                info.state, info.reason, info.urls = "stopped", "kernel restarting", ()
                self._publish_app(info)
        try:
            await kernel.restart()
        except KernelStartError as e:
            self.log(name, "ERROR", str(e))
            return
        await self._setup_kernel(name)

    def _on_death(self, name: str, reason: str) -> None:
        if self._closing:
            return
        kinfo = self.kernels[name]
        for info in self._apps_of(name):
            info.state, info.reason, info.urls = "failed", f"kernel died: {reason}", ()
            self._publish_app(info)
        now = time.monotonic()
        kinfo.deaths.append(now)
        recent = [t for t in kinfo.deaths if now - t <= RESTART_WINDOW]
        if len(recent) > MAX_RESTARTS:
            msg = (f"kernel {name!r} died {len(recent)} times in {RESTART_WINDOW:.0f} s; not restarting it "
                   f"again. Last: {reason}. Fix the cause, then restart the kernel.")
            self.log(name, "ERROR", msg)
            self.emit(KernelState(name, "dead", msg, None))
            return
        self.log(name, "ERROR", f"{reason}; restarting the kernel and its apps "
                 f"({len(recent)}/{MAX_RESTARTS} in {RESTART_WINDOW:.0f} s)")
        self.spawn(self._restart_kernel(name), f"restarting kernel {name!r}")

    # ---------------------------------------------------------------- reload
    def _init_reload(self) -> None:
        from .reload import Reloader  # the watcher pulls in watchdog: only when used

        self._reloader = Reloader(self)
        for info in self.apps.values():
            if not info.reload_initialized:
                info.reload_initialized = True
                info.auto_reload = self.auto_reload_enabled and self._reloader.targets(info.name)
                self._publish_app(info)  # views learn the switch's first value; later ones come from set_auto_reload

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
                             *(p.stop() for p in list(self._processes.values())), return_exceptions=True)
        if self._runtime_dir:
            shutil.rmtree(self._runtime_dir, ignore_errors=True)
        self.emit(SessionState("stopped"))

    async def _stop_kernel(self, name: str) -> None:
        kernel = self._kernels[name]
        running = [a for a in self._apps_of(name) if a.state in ("running", "starting") and a.kind == "tornado"]
        if running and kernel.state in ("idle", "busy"):
            # Let apps close their servers and say goodbye before the process goes.
            try:
                await asyncio.wait_for(asyncio.gather(*(self._call(a, "stop", ("stopped", "failed"))
                                                        for a in running)), 7.0)
            except (asyncio.TimeoutError, Exception):  # noqa: BLE001
                pass
        await kernel.shutdown()

    # ------------------------------------------------------------ re-read config
    async def apply_config(self, new: Config) -> None:
        """Apply a re-read config: only what changed restarts.

        A changed kernel block restarts that kernel with its apps; a changed,
        added or removed app or process is stopped / (re)created alone; the
        rest keeps running untouched (same kernel process, same server).
        """
        old = self.config
        self.config = new
        self._compile_global_rules()
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
            if entry is not None and _same(entry, info.config) and info.kernel not in changed_kernels:
                info.config = entry
                unchanged.add(name)
                continue
            if info.kind in ("process", "job"):
                for key in [k for k in self._processes if k == name or k.startswith(name + "\0")]:
                    await self._processes.pop(key).stop()
            elif info.kernel not in changed_kernels and info.kernel in self._kernels:
                if info.state in ("running", "starting"):
                    await self._call(info, "stop", ("stopped", "failed"))
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
            if info.kind == "process":
                if info.wanted:
                    await self._process(name).start()
                else:
                    self._publish_app(info)
            elif info.kind == "job":
                self._publish_app(info)
            elif self._kernels.get(info.kernel) and self._kernels[info.kernel].state in ("idle", "busy"):
                if await self._create_app(info) and info.wanted:
                    await self._run_start(info)
        if self._reloader is not None:
            await self._reloader.stop()
        self._init_reload()
        await self._reloader.start()


def _configured(config: Config, name: str) -> Any:
    """The block named ``name`` in ``config``: an app, a process or a job."""
    for table in (config.apps, getattr(config, "processes", {}), getattr(config, "jobs", {})):
        if name in table:
            return table[name]
    return None
