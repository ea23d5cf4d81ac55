"""Auto-reload: file changes in, restarts (or WatchdogApp code blocks) out.

The :class:`Reloader` is the session's arm for WatchdogApp handlers. It
turns the config's handlers into a :class:`~tornado_launcher.watch.Watcher`
and, for each batch of changes:

1. compiles the changed Python files (in a thread).  If one does not compile,
   a running app is *not* stopped: it keeps serving the old code, its log gets
   ``file:line: message`` and its state reads "stale" until a save compiles;
2. runs each code block of the handler in the WatchdogApp's kernel, with
   ``{event}`` replaced by the event as a Python dict literal built from data.
   A block that restarts an app (``web.handle_watchdog_event({event})``) is
   skipped when that app's auto-reload is off, and goes through a per-app
   :class:`~tornado_launcher.watch.SingleFlight`: one restart at a time, one
   queued behind it, the queued one using the latest change;
3. reports how long it took from the file event to serving again.

With no WatchdogApp in the config, one implicit handler watches ``*.py`` under
the config's directory and restarts every Tornado app whose auto-reload is on;
and each running Tornado app's ``template_path`` and ``static_path`` (as the
bridge reports them in its "running" state) are watched too: an edit there is
not a restart but a refresh (see :class:`_Assets`): the app forgets Tornado's
cached templates / static hashes of the changed files and serves them on the
next request.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple

from . import bridge
from .bridge import protocol
from .events import ReloadEvent
from .kernel import describe_error
from .watch import FileChange, SingleFlight, Watcher

if TYPE_CHECKING:
    from .session import Session

log = logging.getLogger(__name__)

#: a code block that restarts an app: ``web.handle_watchdog_event({event})`` or ``web.restart()``
_RESTART_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*(?:handle_watchdog_event|restart)\s*\(")


@dataclass
class _Handler:
    owner: Optional[str]  # the WatchdogApp's name; None for the implicit handler
    kernel: Optional[str]
    spec: Any  # the config's WatchHandler (or an equivalent namespace)
    #: (code block or None for "restart via the bridge", the app it restarts or None)
    blocks: List[Tuple[Optional[str], Optional[str]]]


def compile_errors(paths: Sequence[str]) -> List[Tuple[str, int, str]]:
    """``(path, line, message)`` for each file that does not compile.

    Runs in a worker thread: reading files is blocking I/O.
    """
    errors = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                source = f.read()
        except OSError:
            continue  # deleted or unreadable since the event: the import will tell
        try:
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as e:
            errors.append((path, e.lineno or 1, e.msg or str(e)))
        except ValueError as e:  # null bytes
            errors.append((path, 1, str(e)))
    return errors


def problem(directory: str, error: Tuple[str, int, str]) -> str:
    """``file:line: message`` of a compile error, the file relative to ``directory`` when inside it."""
    path, line, msg = error
    rel = os.path.relpath(path, directory) if path.startswith(os.path.join(directory, "")) else path
    return f"{rel}:{line}: {msg}"


def changed_paths(changes: Sequence[FileChange]) -> List[str]:
    """The files a batch changed (a move's destination), each once, in order."""
    out: List[str] = []
    for c in changes:
        p = c.dest_path or c.src_path
        if p and not c.is_directory and p not in out:
            out.append(p)
    return out


def reimported(reload: Optional[dict]) -> str:
    """``"re-imported 3 modules; "`` from a running record's ``reload`` ("" without one)."""
    if not reload:
        return ""
    n = reload.get("reimported")
    if not isinstance(n, int):
        return ""
    text = f"re-imported {n} module{'' if n == 1 else 's'}"
    if reload.get("mode") == "all" and reload.get("note"):
        text += f" (all: {reload['note']})"
    return text + "; "


class Reloader:
    """The handlers of one config, their watcher, and the reloads they cause.

    It acts on the session only through its public methods: ``closing``,
    ``kernel``, ``apps``, ``app_lock``, ``run_and_settle``, ``mark_stale`` /
    ``clear_stale``, ``run_job``, ``spawn``, ``emit`` and ``log``.
    Made anew (and the old one stopped) whenever the config is re-read.
    """

    def __init__(self, session: "Session") -> None:
        self.session = session
        self.handlers: List[_Handler] = []
        self._targets: set = set()
        self._flight = SingleFlight()
        self._latest: Dict[str, Tuple[_Handler, Optional[str], FileChange, List[FileChange]]] = {}
        config = session.config
        watchdogs = [a for a in config.apps.values() if a.kind == "watchdog" and not a.disabled]
        for app in watchdogs:
            for spec in app.handlers:
                blocks: List[Tuple[Optional[str], Optional[str]]] = []
                for block in spec.code_blocks:
                    m = _RESTART_CALL.search(block)
                    target = m.group(1) if m and m.group(1) in config.apps else None
                    blocks.append((block, target))
                    if target:
                        self._targets.add(target)
                self.handlers.append(_Handler(app.name, app.kernel, spec, blocks))
        if not watchdogs:
            tornado_apps = [a.name for a in config.apps.values() if a.kind == "tornado"]
            spec = SimpleNamespace(
                watch_path=config.directory, patterns=["*.py"], ignore_patterns=[],
                ignore_directories=True, case_sensitive=True, clear_cache=[], code_blocks=[],
                jobs=[], debounce=None, throttle=None,
            )
            self.handlers.append(_Handler(None, None, spec, [(None, n) for n in tornado_apps]))
            self._targets.update(tornado_apps)
        self._watcher = Watcher([h.spec for h in self.handlers], self._on_change) if self.handlers else None
        self._assets = _Assets(session, self._watcher, set(tornado_apps)) if not watchdogs else None

    def targets(self, app: str) -> bool:
        """Whether some handler restarts ``app`` (its auto-reload starts on)."""
        return app in self._targets

    async def start(self) -> None:
        """Start watching (the watcher's thread)."""
        if self._watcher is not None:
            await self._watcher.start()
        if self._assets is not None:
            await self._assets.start()

    async def stop(self) -> None:
        """Stop watching; reloads already under way finish."""
        if self._assets is not None:
            self._assets.stop()
        if self._watcher is not None:
            await self._watcher.stop()

    # ---------------------------------------------------------------- changes
    def _on_change(self, index: int, changes: List[FileChange]) -> None:
        if index >= len(self.handlers):  # a template/static directory the Reloader added
            self.session.spawn(self._assets.changed(self._watcher.handler(index), changes), "asset refresh")
            return
        self.session.spawn(self._handle(self.handlers[index], changes), "auto-reload")

    async def _handle(self, handler: _Handler, changes: List[FileChange]) -> None:
        s = self.session
        if s.closing:
            return
        last = changes[-1]
        py_files = sorted({p for c in changes for p in (c.dest_path or c.src_path,)
                           if p and p.endswith(".py") and not c.is_directory and c.event_type != "deleted"})
        errors = await asyncio.to_thread(compile_errors, py_files) if py_files else []
        kernel = s.kernel(handler.kernel) if handler.kernel else None
        if handler.spec.clear_cache and kernel is not None and not errors and not self._bridge_purges(handler):
            await kernel.execute(bridge.purge_code(handler.spec.clear_cache), what="clear_cache")
        for block, app in handler.blocks:
            if app is None:
                await self._run_block(handler, block, last)
                continue
            info = s.apps.get(app)
            if info is None:
                continue
            path = last.dest_path or last.src_path
            if not info.auto_reload:
                s.emit(ReloadEvent(app, path, "skipped", "auto-reload is off"))
                continue
            if not info.wanted:
                s.emit(ReloadEvent(app, path, "skipped", "the app is stopped"))
                continue
            if errors:
                for file, line, msg in errors:
                    s.log(info.kernel, "ERROR", f"{file}:{line}: {msg} (still serving the previous code)",
                          app=app)
                s.mark_stale(app, problem(s.config.directory, errors[0]))
                s.emit(ReloadEvent(app, path, "refused", f"{errors[0][0]}:{errors[0][1]}: {errors[0][2]}"))
                continue
            queued = self._latest.get(app)
            if queued is not None:  # not reloaded yet: the next reload covers both batches
                changes = queued[3] + [c for c in changes if c not in queued[3]]
            self._latest[app] = (handler, block, last, changes)
            self._flight.request(app, lambda app=app: self._reload(app))
        for job in handler.spec.jobs:
            info = s.apps.get(job)
            if info is not None and info.kind == "job":
                await s.run_job(job, log_as=handler.owner or job)

    def _bridge_purges(self, handler: _Handler) -> bool:
        """Whether each of the handler's code blocks restarts a Tornado app with ``reload =
        "dependents"``: those apps purge what the change invalidates (within their own
        ``clear_cache``), so the handler's ``clear_cache`` would only purge more."""
        apps = self.session.config.apps
        return bool(handler.blocks) and all(
            target is not None and getattr(apps.get(target), "kind", None) == "tornado"
            and getattr(apps.get(target), "reload", "all") == "dependents"
            for _block, target in handler.blocks)

    async def _run_block(self, handler: _Handler, block: Optional[str], change: FileChange) -> None:
        if block is None or handler.kernel is None:
            return
        kernel = self.session.kernel(handler.kernel)
        if kernel is None:
            return
        code = block.replace("{event}", repr(change.as_event_dict()))
        await kernel.execute(code, app=handler.owner, what=f"code block of {handler.owner!r}")

    async def _reload(self, app: str) -> None:
        s = self.session
        handler, block, change, changes = self._latest.pop(app)
        info = s.apps.get(app)
        if info is None or s.closing:
            return
        kernel_name = handler.kernel or info.kernel
        kernel = s.kernel(kernel_name)
        if kernel is None or kernel.state not in ("idle", "busy"):
            return
        path = change.dest_path or change.src_path
        rel = os.path.relpath(path, s.config.directory) if path else "?"
        more = f" and {len(changes) - 1} more" if len(changes) > 1 else ""
        async with s.app_lock(app):
            s.emit(ReloadEvent(app, path, "reloading"))
            event = change.as_event_dict()
            # every file of the batch: the bridge re-imports what they invalidate
            event["paths"] = changed_paths(changes)
            if block is None:
                code = bridge.call_code(app, "handle_watchdog_event", event)
            else:
                code = block.replace("{event}", repr(event))
            reply, state = await s.run_and_settle(app, code, kernel=kernel_name, what=f"reload of {app!r}")
            if reply.get("status") != "ok":
                s.emit(ReloadEvent(app, path, "failed", describe_error(reply)))
                return
        elapsed = (time.monotonic() - change.time) * 1000.0
        if state is not None and protocol.serves_old_code(state.state, state.reason):
            # the new code did not start: the old run serves on (the session marked it stale)
            s.emit(ReloadEvent(app, path, "refused", state.reason[len(protocol.OLD_CODE):]))
        elif state is not None and state.state == "running":
            s.clear_stale(app)
            what = reimported(state.reload)
            s.log(info.kernel, "INFO", f"reloaded: {rel}{more} changed; {what}serving again in {elapsed:.0f} ms",
                  app=app)
            s.emit(ReloadEvent(app, path, "done", what.rstrip("; ") or None, elapsed_ms=elapsed))
        else:
            s.emit(ReloadEvent(app, path, "failed", state.reason if state else "did not settle"))


# ---------------------------------------------------------------- templates and static files


class _Assets:
    """The implicit handler's other half: each running Tornado app's template and
    static directories are watched, and an edit there makes the app forget
    Tornado's cache of the changed files (``bridge.refresh_assets_code``): served
    on the next request, no restart.  A ``.py`` file there still restarts (the
    implicit ``*.py`` handler sees it; this one ignores it).

    The directories come from the bridge's "running" state (``AppInfo.template_paths``
    / ``static_paths``); one watched handler per directory, added while running.
    """

    def __init__(self, session: "Session", watcher: Optional[Watcher], apps: set) -> None:
        self.session = session
        self._watcher = watcher
        self._apps = apps
        self._watched: set = set()
        self._users: Dict[str, set] = {}  # directory -> the apps that use it
        self._unsubscribe = None

    async def start(self) -> None:
        self._unsubscribe = self.session.subscribe(self._on_event)
        for info in list(self.session.apps.values()):  # apps already running (a config re-read)
            if info.state == "running":
                self._learn(info.name, info.template_paths, info.static_paths)

    def stop(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: Any) -> None:
        from .events import AppState

        if isinstance(event, AppState) and event.state == "running":
            self._learn(event.app, event.template_paths, event.static_paths)

    def _learn(self, app: str, templates: Sequence[str], static: Sequence[str]) -> None:
        if app not in self._apps or self._watcher is None:
            return
        for kind, directory in [("templates", d) for d in templates] + [("static", d) for d in static]:
            self._users.setdefault(directory, set()).add(app)
            if directory in self._watched or not os.path.isdir(directory):
                continue
            self._watched.add(directory)
            spec = SimpleNamespace(
                watch_path=directory, patterns=["*"], ignore_patterns=["*.py"], ignore_directories=True,
                case_sensitive=True, debounce=None, throttle=None, asset_kind=kind,
            )
            self.session.spawn(self._watcher.add(spec), f"watching {directory}")

    async def changed(self, spec: Any, changes: List[FileChange]) -> None:
        s = self.session
        if s.closing:
            return
        last = changes[-1]
        paths = sorted({p for c in changes for p in (c.src_path, c.dest_path) if p})
        path = last.dest_path or last.src_path
        rel = os.path.relpath(path, s.config.directory)
        more = f" and {len(changes) - 1} more" if len(changes) > 1 else ""
        what = "templates refreshed" if spec.asset_kind == "templates" else "static files refreshed"
        for app in sorted(self._users.get(spec.watch_path, ())):
            info = s.apps.get(app)
            if info is None or info.state != "running":
                continue  # a stopped app reads the files when it starts
            if not info.auto_reload:
                s.emit(ReloadEvent(app, path, "skipped", "auto-reload is off"))
                continue
            kernel = s.kernel(info.kernel)
            if kernel is None or kernel.state not in ("idle", "busy"):
                continue
            async with s.app_lock(app):
                reply = await kernel.execute(bridge.refresh_assets_code(app, paths), app=app,
                                             what=f"refresh of {app!r}'s {spec.asset_kind}")
            if reply.get("status") != "ok":
                s.emit(ReloadEvent(app, path, "failed", f"{reply.get('ename')}: {reply.get('evalue')}"))
                continue
            elapsed = (time.monotonic() - last.time) * 1000.0
            s.log(info.kernel, "INFO", f"{what}: {rel}{more} changed; {elapsed:.0f} ms", app=app)
            s.emit(ReloadEvent(app, path, "done", what, elapsed_ms=elapsed))
