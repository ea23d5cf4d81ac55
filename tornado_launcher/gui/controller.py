"""The window's logic, without Qt: which config runs, and what a click does.

:class:`WindowController` owns the config lifecycle of the window -- load a
file in a worker thread, start a session on it, re-read it (F5) and apply
what changed, or keep the running session when the new text is wrong -- and
turns a loader's exception into :class:`~tornado_launcher.config.Diagnostic`
lines.  It replays each app's remembered threaded / auto-reload toggles on a
fresh session, and maps the window's buttons to Session calls through
explicit tables (:data:`APP_ACTIONS`, :data:`KERNEL_ACTIONS`,
:data:`ALL_ACTIONS`).

It talks to the window only through :class:`WindowView` (what to show) and
to the settings only through :class:`ToggleStore`, so it runs and is tested
under plain ``asyncio`` (``tests/unit/test_controller.py``).  This module
must not import Qt (``gui/__init__.py`` does not either).

Thread-safety: everything runs on the loop thread, except the loader, which
runs in the default executor; its result comes back through the awaited
future.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List, Optional, Protocol, Tuple

from ..config import Config, ConfigError, Diagnostic
from ..control import server as control
from ..engine.api import SessionAPI
from ..engine.events import Event

log = logging.getLogger(__name__)

Loader = Callable[[str], Config]
SessionFactory = Callable[..., SessionAPI]

#: an app's buttons -> the Session call each makes
APP_ACTIONS: Dict[str, Callable[[SessionAPI, str], Awaitable[Any]]] = {
    "start": lambda s, name: s.start_app(name),
    "stop": lambda s, name: s.stop_app(name),
    "restart": lambda s, name: s.restart_app(name),
    # a blocked handler: the interrupt goes to the app's kernel (the bridge raises it there)
    "interrupt": lambda s, name: s.interrupt_kernel(s.apps[name].kernel),
}
#: a kernel's buttons (the console button opens a tab: the window's own business)
KERNEL_ACTIONS: Dict[str, Callable[[SessionAPI, str], Awaitable[Any]]] = {
    "restart": lambda s, name: s.restart_kernel(name),
    "interrupt": lambda s, name: s.interrupt_kernel(name),
}
#: the toolbar's start / stop / restart all
ALL_ACTIONS: Dict[str, Callable[[SessionAPI], Awaitable[Any]]] = {
    "start": lambda s: s.start_all(),
    "stop": lambda s: s.stop_all(),
    "restart": lambda s: s.restart_all(),
}
#: the per-app switches the window remembers for each config
TOGGLES = ("threaded", "auto_reload", "live_reload")


def default_loader(path: str) -> Config:
    from ..config import load

    def kernelspecs() -> List[str]:  # asked only when a kernel names one; jupyter_client is heavy
        from ..kernels.kernel import installed_kernelspecs
        return installed_kernelspecs()

    return load(path, kernelspecs=kernelspecs)


def default_session_factory(config: Config, auto_reload: bool = True) -> SessionAPI:
    from ..engine.session import Session
    return Session(config, auto_reload=auto_reload)


class ToggleStore(Protocol):
    """Where the toggles and the recent list live (``gui.settings.Settings``)."""

    def app_toggles(self, config_path: str, app: str) -> Dict[str, bool]: ...

    def set_app_toggle(self, config_path: str, app: str, key: str, value: bool) -> None: ...

    def add_recent_config(self, path: str) -> None: ...


class WindowView(Protocol):
    """What the controller asks the window to show (``MainWindow`` implements it)."""

    def on_event(self, event: Event) -> None:
        """A session event: render it."""

    def show_error_page(self, path: str, title: str, diagnostics: List[Diagnostic]) -> None:
        """No session runs and ``path`` does not load: say where it is wrong."""

    def show_banner(self, title: str, diagnostics: List[Diagnostic]) -> None:
        """A session keeps running but the file just read is wrong."""

    def hide_banner(self) -> None: ...

    def session_opened(self, path: str) -> None:
        """A new session (``controller.session``) for ``path``: fresh rows, tabs, title."""

    def session_closed(self) -> None:
        """``controller.session`` is None again."""

    def show_welcome(self) -> None: ...

    def sync_rows(self) -> None:
        """Make the rows and tabs match ``session.apps`` / ``session.kernels``."""

    def begin_busy(self, message: str) -> None: ...

    def end_busy(self, message: str = "") -> None: ...

    def report_error(self, message: str, exc: Optional[BaseException] = None) -> None: ...


def diagnostics_for(path: str, exc: BaseException) -> List[Diagnostic]:
    """The lines to show for a config that did not load.

    A :class:`ConfigError` carries its own (every problem, with file, line and
    the fix).  Anything else is a loader bug, not the user's mistake: one line
    naming the file and the error, never a traceback (that goes to the log).
    """
    if isinstance(exc, ConfigError):
        return list(exc.diagnostics) or [Diagnostic(path, 0, 0, str(exc))]
    return [Diagnostic(path, 0, 0, f"could not be read ({type(exc).__name__}: {exc}); "
                                   "please report this with the file")]


@dataclass
class FolderPlan:
    """Open folder (or a dropped folder / .py file): the apps found and the jaffle.hcl for them."""

    directory: str
    targets: List[str] = field(default_factory=list)
    #: one line per app (``scaffold.summary``)
    apps: List[str] = field(default_factory=list)
    text: str = ""
    #: why nothing can run (no app found, a target that does not compile, ...)
    error: str = ""
    skipped: List[str] = field(default_factory=list)

    @property
    def config_path(self) -> str:
        return os.path.join(self.directory, "jaffle.hcl")

    @property
    def exists(self) -> bool:
        return os.path.exists(self.config_path)


def plan_folder(path: str) -> FolderPlan:
    """What `init` would write for the folder ``path`` (or for the one script ``path``); blocking."""
    from ..zeroconf.commands import init_text
    from ..zeroconf.scaffold import summary

    path = os.path.abspath(os.path.expanduser(path))
    if os.path.isdir(path):
        plan = FolderPlan(path)
    else:
        plan = FolderPlan(os.path.dirname(path), [os.path.basename(path)])
    try:
        plans, plan.text = init_text(plan.directory, plan.targets, skipped=plan.skipped)
    except ValueError as exc:
        plan.error = str(exc)
    else:
        plan.apps = summary(plans)
    return plan


class WindowController:
    """One window's config and session: open, re-read, close, and the clicks."""

    def __init__(self, view: WindowView, store: ToggleStore, *, loader: Loader = default_loader,
                 session_factory: SessionFactory = default_session_factory, auto_reload: bool = True,
                 watch_config: bool = True) -> None:
        self.view = view
        self.store = store
        self.loader = loader
        self.session_factory = session_factory
        self.auto_reload = auto_reload
        self.session: Optional[SessionAPI] = None
        #: the file shown: the running one, or the one whose errors are shown
        self.config_path: Optional[str] = None
        #: set when the window quits: no config opens after it
        self.closing = False
        self._unsubscribe: Optional[Callable[[], None]] = None
        #: the control socket (`tornado-launcher status/restart/...`) of the running session
        self._control: Optional[Any] = None
        self._config_lock: Optional[asyncio.Lock] = None
        #: watches the running config's files: a saved edit is re-read as F5 does
        self.config_watcher: Any = None
        self.watch_config = watch_config
        #: (text, directory) of a config that runs without a file (`open_generated`), else None
        self.generated: Optional[Tuple[str, str]] = None

    # --------------------------------------------------------------- loading
    async def load(self, path: str) -> Tuple[Optional[Config], List[Diagnostic]]:
        """``(config, [])`` or ``(None, diagnostics)``.

        Loading runs in a worker thread: a config's ``exec()`` interpolation
        may take seconds, and the window must stay responsive meanwhile.
        """
        try:
            return await asyncio.get_running_loop().run_in_executor(None, self.loader, path), []
        except ConfigError as exc:
            return None, diagnostics_for(path, exc)
        except Exception as exc:  # noqa: BLE001 - a loader bug: shown as a sentence, logged in full
            log.error("loading %s failed", path, exc_info=exc)
            return None, diagnostics_for(path, exc)

    def _lock(self) -> asyncio.Lock:
        """Opening, re-reading and closing configs run one at a time (two
        quick clicks on recent configs must not start two sessions)."""
        if self._config_lock is None:
            self._config_lock = asyncio.Lock()
        return self._config_lock

    async def open_config(self, path: str) -> bool:
        """Load ``path``; on success stop the current session (if any) and
        start the new one.  On error show the diagnostics and keep what runs."""
        async with self._lock():
            if self.closing:
                return False
            return await self._open_config(path)

    async def open_generated(self, path: str, text: str, directory: Optional[str] = None) -> bool:
        """Run ``text``, the jaffle.hcl of ``directory`` (default: ``path``'s) not written to disk,
        under the name ``path`` (its control socket's): `run --gui` and Open folder's "Run without
        writing".  Nothing is watched or added to the recent list; F5 reads the same text again."""
        async with self._lock():
            if self.closing:
                return False
            return await self._open_config(path, generated=(text, directory or os.path.dirname(path)))

    async def _load_generated(self, path: str, generated: Tuple[str, str]) -> Tuple[Optional[Config], List[Diagnostic]]:
        from ..config import loads

        text, directory = generated
        identity = path

        def load() -> Config:
            config = loads(text, os.path.join(directory, "jaffle.hcl"))
            config.path, config.paths = identity, [identity]
            return config

        try:
            return await asyncio.get_running_loop().run_in_executor(None, load), []
        except ConfigError as exc:
            return None, diagnostics_for(path, exc)

    async def _open_config(self, path: str, generated: Optional[Tuple[str, str]] = None) -> bool:
        path = str(Path(path).expanduser().resolve())
        if generated is not None:
            config, diags = await self._load_generated(path, generated)
        else:
            config, diags = await self.load(path)
        if config is None:
            title = f"{Path(path).name} could not be loaded: fix the line below and re-read."
            if self.session is not None:
                self.view.show_banner(title + " The apps below keep running the previous config.", diags)
            else:
                self.config_path, self.generated = path, generated
                self.view.show_error_page(path, title, diags)
            if generated is None:
                self.store.add_recent_config(path)
            return False
        if self.session is not None:
            await self.close_session()
        if generated is None:
            self.store.add_recent_config(path)
        self.config_path = path
        self.generated = generated
        session = self.session_factory(config, auto_reload=self.auto_reload)
        self.session = session
        if generated is None:
            await self._watch(config)
        self._unsubscribe = session.subscribe(self.view.on_event)
        self._control = control.serve(session, list(config.paths) or [path])
        self.view.session_opened(path)
        self.view.begin_busy("Starting kernels and apps…")
        t0 = time.monotonic()
        try:
            await self.apply_stored_toggles(before_start=True)
            await session.start()
            await self.apply_stored_toggles(before_start=False)
        except Exception as exc:
            self.view.report_error(f"starting {Path(path).name} failed: {exc}", exc)
        finally:
            self.view.sync_rows()
            self.view.end_busy(f"Started in {(time.monotonic() - t0):.1f} s")
        return True

    async def reread_config(self) -> bool:
        """Read the config again; apply it if good, else show where it is wrong
        while the session keeps running."""
        async with self._lock():
            if self.closing:
                return False
            return await self._reread_config()

    async def _reread_config(self) -> bool:
        if self.config_path is None:
            return False
        if self.session is None:
            return await self._open_config(self.config_path, self.generated)
        if self.generated is not None:
            config, diags = await self._load_generated(self.config_path, self.generated)
        else:
            config, diags = await self.load(self.config_path)
        if config is None:
            self.view.show_banner(
                f"{Path(self.config_path).name} has errors; the apps keep running the previous config. "
                "Fix the line below and save it again (or re-read with F5).", diags)
            return False
        self.view.hide_banner()
        if self.config_watcher is not None:
            await self.config_watcher.set_paths(config.paths or [config.path])
        self.view.begin_busy("Applying the config…")
        try:
            await self.session.apply_config(config)
        finally:
            self.view.sync_rows()
            self.view.end_busy("Config re-read and applied")
        return True

    async def close_config(self) -> None:
        """Stop the session and forget the config: back to the welcome page."""
        async with self._lock():
            await self.close_session()
        self.config_path = None
        self.generated = None
        self.view.show_welcome()

    # ---------------------------------------------------------- open folder
    async def plan_folder(self, path: str) -> FolderPlan:
        """Detect the apps of a folder (or one .py file) off the loop."""
        return await asyncio.get_running_loop().run_in_executor(None, plan_folder, path)

    async def write_and_open(self, plan: FolderPlan) -> bool:
        """Write the folder's jaffle.hcl (never over an existing one) and open it."""
        from ..zeroconf.commands import write_config

        if plan.exists:
            return await self.open_config(plan.config_path)
        await asyncio.get_running_loop().run_in_executor(None, write_config, plan.config_path, plan.text)
        return await self.open_config(plan.config_path)

    async def run_folder(self, plan: FolderPlan) -> bool:
        """Run the folder's apps as its jaffle.hcl would, without writing it."""
        return await self.open_generated(plan.config_path, plan.text, plan.directory)

    # ------------------------------------------------------- config watching
    async def _watch(self, config: Config) -> None:
        """Watch every file ``config`` was merged from (see ``config_watch``)."""
        await self._unwatch()
        if not self.watch_config:
            return
        from ..watching.config_watch import ConfigWatcher

        self.config_watcher = ConfigWatcher(config.paths or [config.path], self._config_saved)
        await self.config_watcher.start()

    async def _unwatch(self) -> None:
        watcher, self.config_watcher = self.config_watcher, None
        if watcher is not None:
            await watcher.stop()

    async def _config_saved(self) -> None:
        """A saved edit of a config file: re-read it as F5 does (the watcher
        is updated there); nothing returned, the paths are set already."""
        await self.reread_config()
        return None

    async def close_session(self) -> None:
        """Stop everything the session runs (the config stays shown)."""
        await self._unwatch()
        session = self.session
        if session is None:
            return
        self.view.begin_busy("Stopping apps and kernels…")
        if self._control is not None:  # the control socket goes first
            self._control.close()
            self._control = None
        try:
            await session.shutdown()
        finally:
            if self._unsubscribe is not None:
                try:
                    self._unsubscribe()
                except Exception:  # noqa: BLE001 - a subscriber list already gone
                    pass
            self._unsubscribe = None
            self.session = None
            self.view.session_closed()
            self.view.end_busy("Stopped")

    # --------------------------------------------------------------- toggles
    async def apply_stored_toggles(self, before_start: bool) -> None:
        """Restore this config's per-app toggles.  The mode and live reload go
        in before the start (no extra restart; the app is created with them);
        auto-reload after it, because the session decides its initial value
        while starting."""
        if self.session is None or self.config_path is None:
            return
        for name, info in list(self.session.apps.items()):
            stored = self.store.app_toggles(self.config_path, name)
            if not before_start and "auto_reload" in stored and info.auto_reload != stored["auto_reload"]:
                try:
                    self.session.set_auto_reload(name, stored["auto_reload"])
                except Exception as exc:
                    self.view.report_error(f"auto-reload of {name}: {exc}", exc)
            info = self.session.apps.get(name, info)
            if before_start and "live_reload" in stored and info.kind == "tornado" \
                    and info.live_reload != stored["live_reload"]:
                try:  # before the start: the app is created with it
                    await self.session.set_live_reload(name, stored["live_reload"])
                except Exception as exc:
                    self.view.report_error(f"live reload of {name}: {exc}", exc)
            info = self.session.apps.get(name, info)
            if "threaded" in stored and info.kind == "tornado" and info.threaded != stored["threaded"]:
                try:
                    await self.session.set_threaded(name, stored["threaded"])
                except Exception as exc:
                    self.view.report_error(f"threaded mode of {name}: {exc}", exc)

    def set_toggle(self, name: str, key: str, value: bool) -> Optional[Awaitable[Any]]:
        """The user flipped ``key`` (one of :data:`TOGGLES`) of app ``name``:
        remember it for this config and tell the session.  Auto-reload is set
        at once; the mode switch (a restart) and live reload (a call into the
        app's kernel) are returned to be awaited."""
        if key not in TOGGLES:
            raise KeyError(key)
        if self.config_path:
            self.store.set_app_toggle(self.config_path, name, key, value)
        if self.session is None:
            return None
        if key == "auto_reload":
            try:
                self.session.set_auto_reload(name, value)
            except Exception as exc:
                self.view.report_error(f"auto-reload of {name}: {exc}", exc)
            return None
        if key == "live_reload":
            return self.session.set_live_reload(name, value)
        return self.session.set_threaded(name, value)

    # --------------------------------------------------------------- actions
    def app_action(self, name: str, action: str) -> Optional[Awaitable[Any]]:
        """The call for an app's button (``start`` / ``stop`` / ``restart``),
        or None without a session.  An unknown action is a KeyError here."""
        call = APP_ACTIONS[action]
        return None if self.session is None else self._on_session(call, name)

    def kernel_action(self, name: str, action: str) -> Optional[Awaitable[Any]]:
        """The call for a kernel's button (``restart`` / ``interrupt``)."""
        call = KERNEL_ACTIONS[action]
        return None if self.session is None else self._on_session(call, name)

    def all_action(self, action: str) -> Awaitable[Any]:
        """Start / stop / restart every app (nothing without a session)."""
        return self._on_session(ALL_ACTIONS[action])

    async def _on_session(self, call: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        session = self.session  # the one running when the call runs, not when it was clicked
        if session is None:
            return None
        return await call(session, *args)

    def connection_file(self, kernel: str) -> Optional[str]:
        """``kernel``'s connection file while it runs (the console attaches to it)."""
        return None if self.session is None else self.session.connection_file(kernel)
