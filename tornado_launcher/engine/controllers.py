"""One controller per kind of app block: how the session acts on each kind.

The :class:`~tornado_launcher.engine.session.Session` holds one controller per kind
(``tornado``, ``watchdog``, ``process``, ``job``) and dispatches every app
action to the controller of the app's kind, so no ``if info.kind == ...``
branch lives in the session.  A controller knows, for its kind:

* which :class:`~tornado_launcher.engine.status.AppInfo` a config block makes
  (:meth:`Controller.info_fields`);
* how to start, stop and restart it, and which of its switches its bridge app applies
  (:attr:`Controller.bridge_switches`; the switching itself is the core's ``switch``);
* for apps that live in a kernel, the spec the bridge app is created with
  (:meth:`KernelAppController.spec`) and the app block's ``start`` code;
* what to do when a re-read config drops or replaces the block
  (:meth:`Controller.retire`) and brings it (back) (:meth:`Controller.bring_up`).

Controllers keep no app state of their own (that is the core's ``AppInfo``) except
the :class:`Process` runtimes of ``process`` / ``job`` blocks, held in one :class:`ProcessTable`.

What they take from the session core (:class:`~tornado_launcher.engine.api.SessionCore`, never the
Session): ``apps``, ``config`` (its directory: a process's cwd), ``kernel``, ``app_lock``, ``app_state``,
``publish``, ``clear_stale``, ``log``, ``emit`` and ``receive`` (a process's events),
``wait_for_state``, ``settle``, ``call``, ``switch`` (a config edit of ``threaded``).  From the
session, two callables only, for a kernel the crash-loop guard gave up: ``given_up(kernel)`` and
``restart_kernel(kernel)`` (starting one of its apps brings it back: :meth:`KernelAppController.call`).

Thread-safety: everything runs on the loop thread, like the session.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Iterable, List, Optional, Tuple

from .. import bridge
from ..bridge import protocol
from ..bridge.protocol import LineFilter
from ..kernels import interpreter
from ..kernels.connection import describe_error
from .core import RUNNING_OR_FAILED, STOPPED_OR_FAILED
from .core import ready as _ready
from .events import AppState, Event, LogRecord
from .process import Process

if TYPE_CHECKING:
    from ..config import AppConfig, JobConfig, LoggerConfig, ProcessConfig
    from .api import SessionCore
    from .status import AppInfo


def same_config(a: Any, b: Any) -> bool:
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


def _error(reply: Dict[str, Any]) -> str:
    return describe_error(reply)


class Controller:
    """What every kind can do; the defaults suit a kind with nothing to do."""

    #: the ``kind`` of the blocks this controller acts on
    kind = ""
    #: whether the app lives in a kernel (created there by the bridge)
    in_kernel = False
    #: whether "start all" / "stop all" / "restart all" include this kind
    in_bulk_actions = False
    #: whether the session starts a wanted app of this kind itself at its start
    #: (apps in a kernel are started by the kernel's setup instead)
    starts_with_session = False
    #: the switches (AppInfo fields) its bridge app applies too (``set_<name>()`` in the kernel)
    bridge_switches: Tuple[str, ...] = ()

    def __init__(self, core: "SessionCore") -> None:
        self.core = core

    def info_fields(self, cfg: Any) -> Dict[str, Any]:
        """The fields of the AppInfo a config block of this kind starts as (the session makes it)."""
        raise NotImplementedError

    async def start(self, info: "AppInfo") -> Optional[AppState]:
        raise NotImplementedError

    async def stop(self, info: "AppInfo") -> Optional[AppState]:
        raise NotImplementedError

    async def restart(self, info: "AppInfo") -> Optional[AppState]:
        raise NotImplementedError

    async def reconfigure(self, info: "AppInfo", cfg: Any) -> bool:
        """A re-read config has ``cfg`` for this block: apply it in place if this kind can (True),
        else the session retires the block and brings it up anew (False).  Unchanged: in place."""
        if same_config(cfg, info.config):
            info.config = cfg
            return True
        return False

    async def retire(self, info: "AppInfo", *, kernel_replaced: bool) -> None:
        """The block changed or left the config: stop what runs of the old one.

        ``kernel_replaced``: the app's kernel is being replaced as a whole
        (its apps go with it), so there is nothing to stop one by one.
        """

    async def bring_up(self, info: "AppInfo") -> None:
        """The block is new or changed in a re-read config: bring it up as wanted."""
        self.core.publish(info)


# ---------------------------------------------------------------- in a kernel
class KernelAppController(Controller):
    """An app created by the bridge in a kernel, acted on by bridge calls."""

    in_kernel = True
    bridge_switches = ("threaded",)
    #: whether the app block's ``start`` code is awaited until the app settles
    start_code_settles = False

    def __init__(self, core: "SessionCore", *, given_up: Callable[[str], bool],
                 restart_kernel: Callable[[str], Awaitable[None]]) -> None:
        super().__init__(core)
        self.given_up = given_up
        self.restart_kernel = restart_kernel

    def info_fields(self, cfg: "AppConfig") -> Dict[str, Any]:
        return dict(name=cfg.name, kernel=cfg.kernel, kind=cfg.kind, config=cfg, threaded=cfg.threaded,
                    disabled=cfg.disabled, wanted=not cfg.disabled)

    def spec(self, info: "AppInfo") -> Dict[str, Any]:
        """The spec the bridge app is created with (travels as JSON data)."""
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
        return spec

    async def create(self, info: "AppInfo") -> bool:
        """Bind the app's name in its kernel to a new bridge app; False (and "failed") if that raised."""
        kernel = self.core.kernel(info.kernel)
        reply = await kernel.execute(bridge.create_app_code(info.name, info.kind, self.spec(info)),
                                     app=info.name, what=f"creating app {info.name!r}")
        if reply.get("status") != "ok":
            info.state, info.reason = "failed", _error(reply)
            self.core.publish(info)
            return False
        return True

    async def call(self, info: "AppInfo", method: str, settle: Iterable[str], *args: Any) -> Optional[AppState]:
        """``name.method(*args)`` in the app's kernel, awaited until a state in ``settle``.

        The core's ``call``, but a start or restart of an app whose kernel the crash-loop guard
        gave up brings that kernel back first.
        """
        if method in ("start", "restart") and not _ready(self.core.kernel(info.kernel)) \
                and self.given_up(info.kernel):
            return await self._revive(info)
        return await self.core.call(info, method, settle, *args)

    async def _revive(self, info: "AppInfo") -> Optional[AppState]:
        """The app's kernel died too often and was given up: asked to (re)start the app, restart the
        kernel (which creates its apps and starts the wanted ones) and await this app's state."""
        s = self.core
        info.wanted = True
        s.log(info.kernel, "INFO", f"restarting kernel {info.kernel!r} (given up after too many deaths) "
              f"to start {info.name!r}", app=info.name)
        settled = s.wait_for_state(info.name, RUNNING_OR_FAILED)
        await self.restart_kernel(info.kernel)
        if not _ready(s.kernel(info.kernel)):
            settled.cancel()
            return None
        return await s.settle(info.name, settled, "its kernel's restart")

    async def run_start(self, info: "AppInfo") -> None:
        """The app block's `start` code the first time, `name.start()` after."""
        if not info.start_code_ran and info.config.start:
            info.start_code_ran = True
            await self._run_start_code(info)
            return
        info.start_code_ran = True
        await self.call(info, "start", RUNNING_OR_FAILED)

    async def _run_start_code(self, info: "AppInfo") -> None:
        s = self.core
        settle = s.wait_for_state(info.name, RUNNING_OR_FAILED) if self.start_code_settles else None
        reply = await s.kernel(info.kernel).execute(
            info.config.start, app=info.name, what=f"start code of app {info.name!r}")
        if settle is None:
            return
        if reply.get("status") != "ok":
            settle.cancel()
            if info.state not in ("running", "starting"):
                info.state, info.reason = "failed", _error(reply)
                s.publish(info)
            return
        if not settle.done() and await self._bridge_state(info) in ("stopped", None):
            settle.cancel()  # the start code did not start the app: nothing to wait for
            return
        await s.settle(info.name, settle, "its start code")

    async def _bridge_state(self, info: "AppInfo") -> Optional[str]:
        """The app's state as the bridge holds it right now (records may still be in flight)."""
        # the name is a validated identifier: no user text is formatted into this cell
        reply = await self.core.kernel(info.kernel).execute(f"print({info.name}.state)", capture=True,
                                                               store_history=False)
        if reply.get("status") != "ok":
            return None
        return (reply.get("stdout") or "").strip() or None

    async def start(self, info: "AppInfo") -> Optional[AppState]:
        s = self.core
        async with s.app_lock(info.name):
            info.wanted = True
            if info.state == "running":
                return s.app_state(info)
            if not info.start_code_ran and info.config.start:
                await self.run_start(info)
                return s.app_state(info)
            info.start_code_ran = True
            return await self.call(info, "start", RUNNING_OR_FAILED)

    async def stop(self, info: "AppInfo") -> Optional[AppState]:
        s = self.core
        async with s.app_lock(info.name):
            info.wanted = False
            info.stale = False
            if info.state in ("stopped",):
                return s.app_state(info)
            return await self.call(info, "stop", STOPPED_OR_FAILED)

    async def restart(self, info: "AppInfo") -> Optional[AppState]:
        s = self.core
        async with s.app_lock(info.name):
            info.wanted = True
            info.start_code_ran = True
            result = await self.call(info, "restart", RUNNING_OR_FAILED)
            if result is not None and result.state == "running" \
                    and not protocol.serves_old_code(result.state, result.reason):
                s.clear_stale(info.name)
            return result

    async def farewell(self, info: "AppInfo") -> None:
        """Before its kernel shuts down: let the app close what it serves (nothing by default)."""

    async def retire(self, info: "AppInfo", *, kernel_replaced: bool) -> None:
        if not kernel_replaced and self.core.kernel(info.kernel) is not None:
            if info.state in ("running", "starting"):
                await self.call(info, "stop", STOPPED_OR_FAILED)

    async def bring_up(self, info: "AppInfo") -> None:
        if _ready(self.core.kernel(info.kernel)):
            if await self.create(info) and info.wanted:
                await self.run_start(info)


class TornadoController(KernelAppController):
    """A ``TornadoBridgeApp``: a Tornado server in the kernel's loop or its own thread."""

    kind = "tornado"
    in_bulk_actions = True
    start_code_settles = True
    bridge_switches = ("threaded", "live_reload")

    def info_fields(self, cfg: "AppConfig") -> Dict[str, Any]:
        return dict(super().info_fields(cfg), live_reload=cfg.live_reload)

    def spec(self, info: "AppInfo") -> Dict[str, Any]:
        spec = super().spec(info)
        a = info.config
        spec.update(app_class=a.app_class, argv=list(a.argv), threaded=info.threaded,
                    clear_cache=list(a.clear_cache), drain_timeout=a.drain_timeout, stop_timeout=a.stop_timeout,
                    live_reload=info.live_reload, live_reload_hosts=list(a.live_reload_hosts), reload=a.reload)
        # the entry point when it is not a start/stop class (issue 10); data, like the rest
        if a.main:
            spec["main"] = a.main
        if a.script:
            spec["script"] = a.script
        if a.port is not None:
            spec.update(port=a.port, address=a.address)
        kernel = self.core.kernel(info.kernel)
        remote = kernel.remote_host if kernel is not None else None
        if remote:  # the name browsers reach a remote kernel's apps by: live reload accepts it as Host
            spec["live_reload_names"] = [remote]
        return spec

    async def reconfigure(self, info: "AppInfo", cfg: "AppConfig") -> bool:
        """Only ``threaded`` and/or the ``logger`` block changed: the mode is switched with the
        hand-over (:meth:`set_threaded`: the sockets stay bound, no connection is refused) and the
        logger is changed in the kernel (``set_logger``); nothing is stopped."""
        old = info.config

        def rest(c: "AppConfig") -> "AppConfig":  # all but the keys applied in place
            options = {k: v for k, v in c.options.items() if k != "threaded"}
            return dataclasses.replace(c, threaded=False, logger=None, options=options)

        if type(cfg) is not type(old) or not same_config(rest(cfg), rest(old)):
            return False
        info.config = cfg
        kernel = self.core.kernel(info.kernel)
        if not same_config(cfg.logger, old.logger) and _ready(kernel):
            lg = cfg.logger
            logger = {"level": lg.level, "suppress_regex": list(lg.suppress_regex),
                      "replace_regex": [list(p) for p in lg.replace_regex]}
            await kernel.execute(bridge.call_code(info.name, "set_logger", logger), app=info.name,
                                 what="set_logger()")
        if cfg.threaded != old.threaded:  # the hand-over, as the window's switch does it
            await self.core.switch(info, "threaded", cfg.threaded, in_bridge=True)
        return True

    async def farewell(self, info: "AppInfo") -> None:
        """Stop a running server, so it closes its sockets and says goodbye in its log."""
        if info.state in ("running", "starting"):
            await self.call(info, "stop", STOPPED_OR_FAILED)


class WatchdogController(KernelAppController):
    """A ``WatchdogApp``: its handlers are run by the session's Reloader; in the
    kernel it is a bridge app whose code blocks run there."""

    kind = "watchdog"


# ------------------------------------------------------------ beside the apps
def _filtered(rules: LineFilter, event: Event) -> Optional[Event]:
    """``event`` with a block's logger rules applied (None: suppressed)."""
    if not isinstance(event, LogRecord) or not rules:
        return event
    message = rules.apply(event.message)
    if message is None:
        return None
    return event if message == event.message else dataclasses.replace(event, message=message)


def _rules(logger: "LoggerConfig") -> LineFilter:
    return LineFilter(logger.suppress_regex, logger.replace_regex)


class ProcessTable:
    """The :class:`Process` runtimes of ``process`` and ``job`` blocks.

    Keyed by block name, or ``name`` + NUL + ``log_as`` for a job run by a
    WatchdogApp handler (its lines go to that app's log).
    """

    def __init__(self) -> None:
        self._runs: Dict[str, Process] = {}

    @staticmethod
    def key(name: str, log_as: Optional[str] = None) -> str:
        return name if log_as is None else f"{name}\0{log_as}"

    def get(self, key: str) -> Optional[Process]:
        return self._runs.get(key)

    def add(self, key: str, proc: Process) -> Process:
        self._runs[key] = proc
        return proc

    async def drop(self, name: str) -> None:
        """Stop and forget every runtime of block ``name``."""
        for key in [k for k in self._runs if k == name or k.startswith(name + "\0")]:
            await self._runs.pop(key).stop()

    def all(self) -> List[Process]:
        return list(self._runs.values())


class ProcessController(Controller):
    """A ``process`` block: a command beside the apps, wanted running like an app."""

    kind = "process"
    in_bulk_actions = True
    starts_with_session = True

    def __init__(self, core: "SessionCore", table: ProcessTable) -> None:
        super().__init__(core)
        self.table = table

    def info_fields(self, cfg: "ProcessConfig") -> Dict[str, Any]:
        return dict(name=cfg.name, kernel="", kind=self.kind, config=cfg, disabled=cfg.disabled,
                    wanted=not cfg.disabled)

    def _env(self, cfg: Any) -> Dict[str, str]:
        return interpreter.child_env()  # in the desktop app: without the bundle's library paths

    def process(self, name: str) -> Process:
        """The runtime of block ``name`` (made on first use)."""
        proc = self.table.get(name)
        if proc is None:
            cfg = self.core.apps[name].config
            env = self._env(cfg)
            rules = _rules(cfg.logger)
            proc = self.table.add(name, self._new(name, cfg, env, lambda e: self._on_event(rules, e)))
        return proc

    def _new(self, name: str, cfg: "ProcessConfig", env: Dict[str, str], on_event: Any) -> Process:
        env.update(cfg.env)
        return Process(name, cfg.command, cwd=self.core.config.directory, env=env, tty=cfg.tty,
                       on_event=on_event)

    def _on_event(self, rules: LineFilter, event: Event) -> None:
        event = _filtered(rules, event)
        if event is not None:
            self.core.receive(event)

    async def start(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = True
        await self.process(info.name).start()
        return self.core.app_state(info)

    async def stop(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = False
        await self.process(info.name).stop()
        return self.core.app_state(info)

    async def restart(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = True
        await self.process(info.name).restart()
        return self.core.app_state(info)

    async def retire(self, info: "AppInfo", *, kernel_replaced: bool) -> None:
        await self.table.drop(info.name)

    async def bring_up(self, info: "AppInfo") -> None:
        if info.wanted:
            await self.process(info.name).start()
        else:
            self.core.publish(info)


class JobController(ProcessController):
    """A ``job`` block: a one-shot command, run on demand or by a WatchdogApp handler."""

    kind = "job"
    in_bulk_actions = False
    starts_with_session = False

    def info_fields(self, cfg: "JobConfig") -> Dict[str, Any]:
        return dict(name=cfg.name, kernel="", kind=self.kind, config=cfg, wanted=False)

    def _new(self, name: str, cfg: "JobConfig", env: Dict[str, str], on_event: Any) -> Process:
        return Process(name, cfg.command, cwd=self.core.config.directory, env=env, on_event=on_event)

    def _for_handler(self, name: str, log_as: str) -> Process:
        key = self.table.key(name, log_as)
        proc = self.table.get(key)
        if proc is None:
            cfg = self.core.apps[name].config
            proc = self.table.add(key, Process(log_as, cfg.command, cwd=self.core.config.directory,
                                               env=self._env(cfg), on_event=self._on_handler_output))
        return proc

    def _on_handler_output(self, event: Event) -> None:
        # a handler's job: its lines go to the log of the app that ran it
        s = self.core
        if isinstance(event, LogRecord):
            s.emit(event)
        elif isinstance(event, AppState) and event.state == "failed":
            s.log("", "ERROR", f"job failed: {event.reason}", app=event.app)

    async def run(self, info: "AppInfo", *, log_as: Optional[str] = None) -> Optional[int]:
        """Run the command to its end; its exit status."""
        if log_as is None:
            proc = self.process(info.name)
        else:
            proc = self._for_handler(info.name, log_as)
            self.core.log("", "INFO", f"job {info.name}: {info.config.command}", app=log_as)
        await proc.start()
        if proc._exited is not None:  # Process has no public wait() yet
            await asyncio.shield(proc._exited)
        return proc.returncode

    async def start(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = False  # a job is never "wanted running": it ends by itself
        await self.process(info.name).start()
        return self.core.app_state(info)

    async def restart(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = False
        await self.process(info.name).restart()
        return self.core.app_state(info)

    async def bring_up(self, info: "AppInfo") -> None:
        self.core.publish(info)


def controllers(core: "SessionCore", table: ProcessTable, *, given_up: Callable[[str], bool],
                restart_kernel: Callable[[str], Awaitable[None]]) -> Dict[str, Controller]:
    """One controller per kind; the process and job ones keep their runtimes in ``table``; the ones
    in a kernel bring a given-up kernel back with ``restart_kernel`` (see the module's docstring)."""
    revive = dict(given_up=given_up, restart_kernel=restart_kernel)
    return {c.kind: c for c in (TornadoController(core, **revive), WatchdogController(core, **revive),
                                ProcessController(core, table), JobController(core, table))}
