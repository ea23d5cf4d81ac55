"""The Session: the one place that decides what code runs in which kernel.

It owns a :class:`~tornado_launcher.config.Config`'s kernels (their start, setup,
restart and shutdown), one controller per kind of block
(:mod:`~tornado_launcher.engine.controllers`), the
:class:`~tornado_launcher.engine.reload.Reloader` and its watchers, and the crash-loop
guard; it turns every user action (a button, a control request, Ctrl+C) into the
right controller's call.  Views use it through
:class:`~tornado_launcher.engine.api.SessionAPI` only.

Everything they act through sits below them all in the session core
(:class:`~tornado_launcher.engine.core.Core`, ``self.core``): the app and kernel
records, events in and out, waiters, locks, switches (its docstring has the layers
and the walk from a save to the kernel).  Nothing below imports this module, not
even for type checking; the session hands each user the few callables of its own
they need (``restart_kernel`` and ``given_up`` to the controllers, ``respawn`` to the
crash-loop guard, the JobController's ``run`` to the Reloader).

No Qt here: the same Session runs under ``asyncio.run`` (``tornado-launcher
start``, the tests) and under qasync (the window).

Thread-safety: all methods are called on the loop thread; subscribers are
called on it too, in order.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

from .. import bridge
from ..bridge import protocol
from ..config import Config
from ..kernels.connection import KernelConnection, KernelStartError, describe_error
from ..kernels.provisioning import make_kernel
from ..kernels.runtime_dir import make_runtime_dir, remove_runtime_dir
from .controllers import Controller, JobController, KernelAppController, ProcessTable, controllers
from .controllers import same_config as _same
from .core import SETTLE_TIMEOUT, Core
from .crashloop import CrashLoopGuard
from .events import KERNEL_READY, AppState, SessionState, Subscriber
from .process import Process
from .status import AppInfo, KernelInfo

if TYPE_CHECKING:
    from .reload import Reloader

__all__ = ["Session", "AppInfo", "KernelInfo", "SETTLE_TIMEOUT"]

log = logging.getLogger(__name__)

#: default of ``Session(startup_timeout=)``: how long a new kernel may take to answer kernel_info
STARTUP_TIMEOUT = 60.0
#: Shutdown deadlines (Ctrl+C, SIGTERM, closing the window must be done in 5 s
#: whatever the kernels do): apps get this long to close their servers, then
#: each kernel gets local.SHUTDOWN_TIMEOUT before SIGKILL; processes get
#: this long between SIGTERM and SIGKILL.
APP_STOP_TIMEOUT = 1.5
SHUTDOWN_PROCESS_TIMEOUT = 3.0


class Session:
    """Apps + kernels + watchers of one config.

    Views use ``subscribe``, the app and kernel actions and ``apps`` /
    ``kernels`` (:class:`~tornado_launcher.engine.api.SessionAPI`).  Tests and the control
    server may also read ``core`` (the session core), ``kernel(name)`` and ``process(name)``.

    ``settle_timeout`` (the core's: ``core.SETTLE_TIMEOUT``) and ``startup_timeout`` are
    declared here so that a caller (a test with a misbehaving app or kernel) can shorten
    them; each ends in a sentence in the log, never in a hang.
    """

    def __init__(self, config: Config, *, auto_reload: bool = True,
                 settle_timeout: float = SETTLE_TIMEOUT, startup_timeout: float = STARTUP_TIMEOUT) -> None:
        self.core = core = Core(config, settle_timeout=settle_timeout)
        self.auto_reload_enabled = auto_reload
        self.startup_timeout = startup_timeout
        self.apps: Dict[str, AppInfo] = core.apps
        self.kernels: Dict[str, KernelInfo] = core.kernels
        self._kernels: Dict[str, KernelConnection] = core.kernel_objects  # made by _kernel_for
        self.receive = core.receive  # a kernel's events go to the core
        self._runs = ProcessTable()  # the Process runtimes of process and job blocks
        self._runtime_dir: Optional[str] = None
        self._reloader: Optional["Reloader"] = None
        #: kernel deaths: restart, or give up after too many (crashloop.py)
        self.crash_guard = CrashLoopGuard(core, respawn=self.respawn_kernel)
        self._controllers: Dict[str, Controller] = controllers(
            core, self._runs, given_up=self.crash_guard.given_up, restart_kernel=self.restart_kernel)
        self._build(config)

    @property
    def config(self) -> Config:
        """The current config (a re-read replaces it: :meth:`apply_config`)."""
        return self.core.config

    @property
    def settle_timeout(self) -> float:
        return self.core.settle_timeout

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
        return self.core.subscribe(callback)

    def log(self, source: str, level: str, message: str, *, app: Optional[str] = None,
            traceback: Optional[str] = None) -> None:
        """A launcher message into a kernel's log (``app`` None) or an app's."""
        self.core.log(source, level, message, app=app, traceback=traceback)

    def kernel(self, name: str) -> Optional[KernelConnection]:
        """The kernel connection named ``name`` if the session made it (whatever its state), else None."""
        return self.core.kernel(name)

    def process(self, name: str) -> Optional[Process]:
        """The runtime of the ``process`` / ``job`` block ``name`` if it ran, else None."""
        return self._runs.get(name)

    # --------------------------------------------------------------- lifecycle
    async def start(self) -> None:
        """Start every kernel and, in it, the apps that are not disabled."""
        self.core.emit(SessionState("starting"))
        self._runtime_dir = make_runtime_dir()
        for w in self.config.warnings:
            self.log(self.core.first_kernel(), "WARNING", str(w))
        # Watch files (and give auto-reload its first value) before any app starts: a
        # save that lands while an app starts is then reloaded once it serves
        # (the Reloader waits for the start), never lost between the two.
        await self._restart_reload()
        await asyncio.gather(*(self._start_kernel(name) for name in self.kernels),
                             *(self.start_app(n) for n, a in self.apps.items()
                               if self._controller(a).starts_with_session and a.wanted))
        self.core.emit(SessionState("running"))

    def _kernel_for(self, name: str) -> KernelConnection:
        k = self._kernels.get(name)
        if k is None:
            k = make_kernel(name, self.config.kernels[name], cwd=self.config.directory,
                            runtime_dir=self._runtime_dir or tempfile.gettempdir(), on_event=self.receive,
                            on_death=lambda reason, n=name: self.crash_guard.died(n, reason),
                            startup_timeout=self.startup_timeout)
            self._kernels[name] = k
        return k

    async def _start_kernel(self, name: str) -> None:
        async with self.core.setting_up(name):
            kernel = self._kernel_for(name)
            try:
                await kernel.start()
            except KernelStartError as e:
                self.log(name, "ERROR", str(e))
                self.core.fail_apps(name, str(e))
                if kernel.reattaches and not self.core.closing:
                    # a kernel started elsewhere may come later: attach then (its restart waits for it)
                    self.core.spawn(self.respawn_kernel(name), f"waiting for kernel {name!r}")
                return
            await self._setup_kernel(name)

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
            self.core.fail_apps(name, msg)  # no app of this kernel can run: each says why
            return
        problem = await kernel.sync.push_project() if kernel.sync is not None else None
        if problem:  # its apps would run files that are not there
            self.log(name, "ERROR", problem)
            self.core.fail_apps(name, problem)
            return
        if self._reloader is not None:
            await self._reloader.kernel_ready(name)  # a watcher in the kernel (remote_files)
        for info in self.core.apps_of(name):
            info.start_code_ran = False
            await self._in_kernel(info).create(info)
        for info in self.core.apps_of(name):
            if info.wanted:
                await self._in_kernel(info).run_start(info)

    # ------------------------------------------------------------ app actions
    async def start_app(self, name: str) -> Optional[AppState]:
        """Start app, process or job ``name``; the state it settled in (None: it did not)."""
        info = await self.core.app_after_setup(name)
        return await self._controller(info).start(info)

    async def stop_app(self, name: str) -> Optional[AppState]:
        info = await self.core.app_after_setup(name)
        return await self._controller(info).stop(info)

    async def restart_app(self, name: str) -> Optional[AppState]:
        info = await self.core.app_after_setup(name)
        return await self._controller(info).restart(info)

    async def set_threaded(self, name: str, flag: bool) -> Optional[AppState]:
        """Switch mode; a running app restarts in the other mode."""
        return await self._switch(name, "threaded", flag)

    def set_auto_reload(self, name: str, flag: bool) -> None:
        """Switch whether a save reloads the app (the launcher's alone: nothing in the kernel)."""
        self.core.set_switch(self.core.app(name), "auto_reload", flag)

    async def set_live_reload(self, name: str, flag: bool) -> Optional[AppState]:
        """Switch whether the app's HTML pages reload themselves in the browser (no restart)."""
        return await self._switch(name, "live_reload", flag)

    async def _switch(self, name: str, field: str, flag: bool) -> Optional[AppState]:
        """The core's one switch path; the app's controller says whether its bridge app applies it too."""
        info = self.core.app(name)
        return await self.core.switch(info, field, flag, in_bridge=field in self._controller(info).bridge_switches)

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

    async def respawn_kernel(self, name: str) -> None:
        """Restart kernel ``name`` after its death (the crash-loop guard's call; counts stay)."""
        async with self.core.setting_up(name):
            kernel = self._kernel_for(name)
            for info in self.core.apps_of(name):
                if info.state not in ("stopped", "failed"):
                    info.state, info.reason, info.urls = "stopped", "kernel restarting", ()
                    self.core.publish(info)
            try:
                await kernel.restart()
            except KernelStartError as e:
                if not self.core.closing:
                    self.log(name, "ERROR", str(e))
                return
            await self._setup_kernel(name)

    # ---------------------------------------------------------------- reload
    async def _restart_reload(self) -> None:
        """(Re)make the Reloader for the current config and start its watcher."""
        from .reload import Reloader  # the watcher pulls in watchdog: only when used

        if self._reloader is not None:
            await self._reloader.stop()
        jobs = self._controllers["job"]
        assert isinstance(jobs, JobController)
        self._reloader = Reloader(self.core, run_job=jobs.run)
        for info in self.apps.values():
            if not info.reload_initialized:
                info.reload_initialized = True
                info.auto_reload = self.auto_reload_enabled and self._reloader.targets(info.name)
                self.core.publish(info)  # views learn the switch's first value; later ones come from set_auto_reload
        await self._reloader.start()

    # --------------------------------------------------------------- shutdown
    async def shutdown(self) -> None:
        """Stop watchers, apps and kernels; leave nothing running. Idempotent."""
        if self.core.closing:
            return
        self.core.closing = True
        self.core.emit(SessionState("stopping"))
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
        self.core.emit(SessionState("stopped"))

    def kill(self) -> None:
        """SIGKILL every kernel and process group now, without a word to them (a second Ctrl+C)."""
        self.core.closing = True
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
                                                        for a in self.core.apps_of(name))), APP_STOP_TIMEOUT)
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
        self.core.configure(new)
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
                self.core.emit(AppState(name, info.kernel, "stopped", "removed from the config"))
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
