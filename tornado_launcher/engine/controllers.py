"""One controller per kind of app block: how the session acts on each kind.

The :class:`~tornado_launcher.engine.session.Session` holds one controller per kind
(``tornado``, ``watchdog``, ``process``, ``job``) and dispatches every app
action to the controller of the app's kind, so no ``if info.kind == ...``
branch lives in the session.  A controller knows, for its kind:

* which :class:`~tornado_launcher.engine.session.AppInfo` a config block makes
  (:meth:`Controller.info_fields`);
* how to start, stop, restart it and switch its threaded mode;
* for apps that live in a kernel, the spec the bridge app is created with
  (:meth:`KernelAppController.spec`) and the app block's ``start`` code;
* what to do when a re-read config drops or replaces the block
  (:meth:`Controller.retire`) and brings it (back) (:meth:`Controller.bring_up`).

Controllers keep no app state of their own (that is the session's
``AppInfo``) except the :class:`Process` runtimes of ``process`` / ``job``
blocks, held in one :class:`ProcessTable`.  They reach the session only
through its public methods (``kernel``, ``wait_for_state``, ``settle``,
``run_and_settle``, ``publish``, ``app_state``, ``app_lock``, ``receive``,
``emit``, ``log``).

Thread-safety: everything runs on the loop thread, like the session.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, Iterable, List, Optional

from .. import bridge
from ..bridge import protocol
from ..bridge.protocol import LineFilter
from ..kernels import interpreter
from ..kernels.kernel import describe_error
from .events import KERNEL_READY, AppState, Event, LogRecord
from .process import Process

if TYPE_CHECKING:
    from ..config import AppConfig, JobConfig, LoggerConfig, ProcessConfig
    from ..kernels.kernel import Kernel
    from .api import SessionCore
    from .status import AppInfo

#: the states that end a start or restart request
RUNNING_OR_FAILED = ("running", "failed")
#: the states that end a stop request
STOPPED_OR_FAILED = ("stopped", "failed")


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


def _ready(kernel: Optional["Kernel"]) -> bool:
    return kernel is not None and kernel.state in KERNEL_READY


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

    def __init__(self, session: "SessionCore") -> None:
        self.session = session

    def info_fields(self, cfg: Any) -> Dict[str, Any]:
        """The fields of the AppInfo a config block of this kind starts as (the session makes it)."""
        raise NotImplementedError

    async def start(self, info: "AppInfo") -> Optional[AppState]:
        raise NotImplementedError

    async def stop(self, info: "AppInfo") -> Optional[AppState]:
        raise NotImplementedError

    async def restart(self, info: "AppInfo") -> Optional[AppState]:
        raise NotImplementedError

    async def set_threaded(self, info: "AppInfo", flag: bool) -> Optional[AppState]:
        """Record the mode (a kind without threads has nothing more to switch)."""
        s = self.session
        if info.threaded != bool(flag):
            info.threaded = bool(flag)
            s.publish(info)
        return s.app_state(info)

    async def set_live_reload(self, info: "AppInfo", flag: bool) -> Optional[AppState]:
        """Record the switch (a kind without HTML pages has nothing more to switch)."""
        s = self.session
        if info.live_reload != bool(flag):
            info.live_reload = bool(flag)
            s.publish(info)
        return s.app_state(info)

    def report_problem(self, info: "AppInfo", problem: Optional[str]) -> None:
        """Tell the app's pages that its last save did not reload (``problem``) or that this is over."""

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
        self.session.publish(info)


# ---------------------------------------------------------------- in a kernel
class KernelAppController(Controller):
    """An app created by the bridge in a kernel, acted on by bridge calls."""

    in_kernel = True
    #: whether the app block's ``start`` code is awaited until the app settles
    start_code_settles = False

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
        kernel = self.session.kernel(info.kernel)
        reply = await kernel.execute(bridge.create_app_code(info.name, info.kind, self.spec(info)),
                                     app=info.name, what=f"creating app {info.name!r}")
        if reply.get("status") != "ok":
            info.state, info.reason = "failed", _error(reply)
            self.session.publish(info)
            return False
        return True

    async def call(self, info: "AppInfo", method: str, settle: Iterable[str], *args: Any) -> Optional[AppState]:
        """``name.method(*args)`` in the app's kernel, awaited until a state in ``settle``.

        None when the kernel is not up (a warning in the app's log), when
        the call raised, or when the app did not settle in time.
        """
        s = self.session
        kernel = s.kernel(info.kernel)
        if not _ready(kernel) and method in ("start", "restart") and s.crash_guard.given_up(info.kernel):
            return await self._revive(info)
        if not _ready(kernel):
            s.log(info.kernel, "WARNING", f"cannot {method} {info.name!r}: kernel {info.kernel!r} is "
                  f"{kernel.state if kernel else 'not started'}", app=info.name)
            return None
        _reply, state = await s.run_and_settle(info.name, bridge.call_code(info.name, method, *args),
                                               settle=settle, what=f"{method}()")
        return state

    async def _revive(self, info: "AppInfo") -> Optional[AppState]:
        """The app's kernel died too often and was given up: asked to (re)start the app, restart the
        kernel (which creates its apps and starts the wanted ones) and await this app's state."""
        s = self.session
        info.wanted = True
        s.log(info.kernel, "INFO", f"restarting kernel {info.kernel!r} (given up after too many deaths) "
              f"to start {info.name!r}", app=info.name)
        settled = s.wait_for_state(info.name, RUNNING_OR_FAILED)
        await s.restart_kernel(info.kernel)
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
        s = self.session
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
        reply = await self.session.kernel(info.kernel).execute(f"print({info.name}.state)", capture=True,
                                                               store_history=False)
        if reply.get("status") != "ok":
            return None
        return (reply.get("stdout") or "").strip() or None

    async def start(self, info: "AppInfo") -> Optional[AppState]:
        s = self.session
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
        s = self.session
        async with s.app_lock(info.name):
            info.wanted = False
            info.stale = False
            if info.state in ("stopped",):
                return s.app_state(info)
            return await self.call(info, "stop", STOPPED_OR_FAILED)

    async def restart(self, info: "AppInfo") -> Optional[AppState]:
        s = self.session
        async with s.app_lock(info.name):
            info.wanted = True
            info.start_code_ran = True
            result = await self.call(info, "restart", RUNNING_OR_FAILED)
            if result is not None and result.state == "running" \
                    and not protocol.serves_old_code(result.state, result.reason):
                s.clear_stale(info.name)
            return result

    async def set_threaded(self, info: "AppInfo", flag: bool) -> Optional[AppState]:
        """Switch mode; a running app restarts in the other mode."""
        s = self.session
        async with s.app_lock(info.name):
            if info.threaded == bool(flag):
                return s.app_state(info)
            info.threaded = bool(flag)
            if info.state in ("running", "starting"):
                return await self.call(info, "set_threaded", RUNNING_OR_FAILED, bool(flag))
            kernel = s.kernel(info.kernel)
            if _ready(kernel):
                await kernel.execute(bridge.call_code(info.name, "set_threaded", bool(flag)), app=info.name)
            s.publish(info)
            return s.app_state(info)

    async def farewell(self, info: "AppInfo") -> None:
        """Before its kernel shuts down: let the app close what it serves (nothing by default)."""

    async def retire(self, info: "AppInfo", *, kernel_replaced: bool) -> None:
        if not kernel_replaced and self.session.kernel(info.kernel) is not None:
            if info.state in ("running", "starting"):
                await self.call(info, "stop", STOPPED_OR_FAILED)

    async def bring_up(self, info: "AppInfo") -> None:
        if _ready(self.session.kernel(info.kernel)):
            if await self.create(info) and info.wanted:
                await self.run_start(info)


class TornadoController(KernelAppController):
    """A ``TornadoBridgeApp``: a Tornado server in the kernel's loop or its own thread."""

    kind = "tornado"
    in_bulk_actions = True
    start_code_settles = True

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
        remote = getattr(self.session.kernel(info.kernel), "remote_host", None)
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
        kernel = self.session.kernel(info.kernel)
        if not same_config(cfg.logger, old.logger) and _ready(kernel):
            lg = cfg.logger
            logger = {"level": lg.level, "suppress_regex": list(lg.suppress_regex),
                      "replace_regex": [list(p) for p in lg.replace_regex]}
            await kernel.execute(bridge.call_code(info.name, "set_logger", logger), app=info.name,
                                 what="set_logger()")
        if cfg.threaded != old.threaded:
            await self.set_threaded(info, cfg.threaded)
        return True

    async def set_live_reload(self, info: "AppInfo", flag: bool) -> Optional[AppState]:
        """Switch live reload; a running app keeps running (the next page it serves has the script, or not)."""
        s = self.session
        async with s.app_lock(info.name):
            if info.live_reload == bool(flag):
                return s.app_state(info)
            info.live_reload = bool(flag)
            kernel = s.kernel(info.kernel)
            if _ready(kernel):
                await kernel.execute(bridge.call_code(info.name, "set_live_reload", bool(flag)), app=info.name,
                                     what="set_live_reload()")
            s.publish(info)
            return s.app_state(info)

    def report_problem(self, info: "AppInfo", problem: Optional[str]) -> None:
        s = self.session
        kernel = s.kernel(info.kernel)
        if info.live_reload and _ready(kernel):
            s.spawn(kernel.execute(bridge.report_problem_code(info.name, problem), app=info.name,
                                   what="live-reload report"), f"telling {info.name!r}'s pages about its reload")

    async def farewell(self, info: "AppInfo") -> None:
        """Stop a running server, so it closes its sockets and says goodbye in its log."""
        if info.state in ("running", "starting"):
            await self.call(info, "stop", STOPPED_OR_FAILED)


class WatchdogController(KernelAppController):
    """A ``WatchdogApp``: its handlers are run by the session's Reloader; in the
    kernel it is a bridge app whose code blocks run there."""

    kind = "watchdog"


# ------------------------------------------------------------ beside the apps
class KernelSetups:
    """The kernels whose (re)start and app setup is under way.  An app action sent meanwhile
    (``restart APP`` on the control socket while its kernel restarts) waits for it: until the
    setup creates the apps, the bridge has no app of that name (it used to answer ``NameError``)."""

    def __init__(self) -> None:
        self._under_way: Dict[str, "asyncio.Future[None]"] = {}

    @staticmethod
    def tracked(fn: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
        """Decorates ``Session._start_kernel`` / ``_restart_kernel(self, name)``: the setup of ``name`` is under way."""
        @functools.wraps(fn)
        async def wrapper(session: Any, name: str) -> None:
            done = session.setups._under_way[name] = asyncio.get_running_loop().create_future()
            try:
                await fn(session, name)
            finally:
                if not done.done():
                    done.set_result(None)
        return wrapper

    async def app(self, session: Any, name: str) -> "AppInfo":
        """The app ``name`` once its kernel's setup under way (if any) is over."""
        info = session._app(name)
        under_way = self._under_way.get(info.kernel or "")
        if under_way is not None and not under_way.done():
            await asyncio.shield(under_way)
        return session._app(name)


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

    def __init__(self, session: "SessionCore", table: ProcessTable) -> None:
        super().__init__(session)
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
            cfg = self.session.apps[name].config
            env = self._env(cfg)
            rules = _rules(cfg.logger)
            proc = self.table.add(name, self._new(name, cfg, env, lambda e: self._on_event(rules, e)))
        return proc

    def _new(self, name: str, cfg: "ProcessConfig", env: Dict[str, str], on_event: Any) -> Process:
        env.update(cfg.env)
        return Process(name, cfg.command, cwd=self.session.config.directory, env=env, tty=cfg.tty,
                       on_event=on_event)

    def _on_event(self, rules: LineFilter, event: Event) -> None:
        event = _filtered(rules, event)
        if event is not None:
            self.session.receive(event)

    async def start(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = True
        await self.process(info.name).start()
        return self.session.app_state(info)

    async def stop(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = False
        await self.process(info.name).stop()
        return self.session.app_state(info)

    async def restart(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = True
        await self.process(info.name).restart()
        return self.session.app_state(info)

    async def retire(self, info: "AppInfo", *, kernel_replaced: bool) -> None:
        await self.table.drop(info.name)

    async def bring_up(self, info: "AppInfo") -> None:
        if info.wanted:
            await self.process(info.name).start()
        else:
            self.session.publish(info)


class JobController(ProcessController):
    """A ``job`` block: a one-shot command, run on demand or by a WatchdogApp handler."""

    kind = "job"
    in_bulk_actions = False
    starts_with_session = False

    def info_fields(self, cfg: "JobConfig") -> Dict[str, Any]:
        return dict(name=cfg.name, kernel="", kind=self.kind, config=cfg, wanted=False)

    def _new(self, name: str, cfg: "JobConfig", env: Dict[str, str], on_event: Any) -> Process:
        return Process(name, cfg.command, cwd=self.session.config.directory, env=env, on_event=on_event)

    def _for_handler(self, name: str, log_as: str) -> Process:
        key = self.table.key(name, log_as)
        proc = self.table.get(key)
        if proc is None:
            cfg = self.session.apps[name].config
            proc = self.table.add(key, Process(log_as, cfg.command, cwd=self.session.config.directory,
                                               env=self._env(cfg), on_event=self._on_handler_output))
        return proc

    def _on_handler_output(self, event: Event) -> None:
        # a handler's job: its lines go to the log of the app that ran it
        s = self.session
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
            self.session.log("", "INFO", f"job {info.name}: {info.config.command}", app=log_as)
        await proc.start()
        if proc._exited is not None:  # Process has no public wait() yet
            await asyncio.shield(proc._exited)
        return proc.returncode

    async def start(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = False  # a job is never "wanted running": it ends by itself
        await self.process(info.name).start()
        return self.session.app_state(info)

    async def restart(self, info: "AppInfo") -> Optional[AppState]:
        info.wanted = False
        await self.process(info.name).restart()
        return self.session.app_state(info)

    async def bring_up(self, info: "AppInfo") -> None:
        self.session.publish(info)


def controllers(session: "SessionCore", table: ProcessTable) -> Dict[str, Controller]:
    """One controller per kind; the process and job ones keep their runtimes in ``table``."""
    return {c.kind: c for c in (TornadoController(session), WatchdogController(session),
                                ProcessController(session, table), JobController(session, table))}
