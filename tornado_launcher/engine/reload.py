"""Auto-reload: file changes in, restarts (or WatchdogApp code blocks) out.

The :class:`Reloader` is the session's arm for WatchdogApp handlers. It
turns the config's handlers into a :class:`~tornado_launcher.watching.watcher.Watcher`
and, for each batch of changes:

1. compiles the changed Python files (on the loop when they are small, see
   :data:`INLINE_CHECK_BYTES`, else in a thread).  If one does not compile,
   a running app is *not* stopped: it keeps serving the old code, its log gets
   ``file:line: message`` and its state reads "stale" until a save compiles;
2. runs each code block of the handler in the WatchdogApp's kernel, with
   ``{event}`` replaced by the event as a Python dict literal built from data.
   A block that restarts an app (``web.handle_watchdog_event({event})``) is
   skipped when that app's auto-reload is off, and goes through a per-app
   :class:`~tornado_launcher.watching.single_flight.SingleFlight`: one restart at a time, one
   queued behind it, the queued one using the latest change.  A block that is
   only that call (and the implicit handler's restart) goes to the kernel as a
   command on the bridge's comm (``protocol.call_record``), not as a cell: the
   kernel's loop is spared ipykernel's execute path, ~2 ms around the call
   (``Reloader._command``);
3. reports how long it took from the file event to serving again.

With no WatchdogApp in the config, one implicit handler watches ``*.py`` under
the config's directory and restarts every Tornado app whose auto-reload is on;
and each running Tornado app's ``template_path`` and ``static_path`` (as the
bridge reports them in its "running" state) are watched too: an edit there is
not a restart but a refresh (see :class:`_Assets`): the app forgets Tornado's
cached templates / static hashes of the changed files and serves them on the
next request.

The walk from a save to the kernel goes down only (see :mod:`tornado_launcher.engine.core`): watcher ->
Reloader -> core -> kernel; the kernel's records come back through the core's ``receive``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Dict, List, Optional, Sequence, Tuple

from .. import bridge
from ..bridge import protocol
from ..config.model import WatchHandler
from ..kernels.connection import describe_error
from ..watching.single_flight import SingleFlight
from ..watching.watcher import DEFAULT_IGNORES, FileChange, Watcher, WatchSpec
from .events import KERNEL_READY, ReloadEvent

if TYPE_CHECKING:
    from .api import SessionCore

log = logging.getLogger(__name__)

#: a code block that restarts an app: ``web.handle_watchdog_event({event})`` or ``web.restart()``
_RESTART_CALL = re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*(?:handle_watchdog_event|restart)\s*\(")
#: a code block that is only the reload of one app (sent as a command, see ``Reloader._command``)
_PLAIN_RELOAD = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*\.\s*handle_watchdog_event\s*\(\s*\{event\}\s*\)")


@dataclass
class _Handler:
    owner: Optional[str]  # the WatchdogApp's name; None for the implicit handler
    kernel: Optional[str]
    spec: WatchHandler  # the config's (the implicit handler: one made here)
    #: (code block or None for "restart via the bridge", the app it restarts or None)
    blocks: List[Tuple[Optional[str], Optional[str]]]


def problem(directory: str, error: Tuple[str, int, str]) -> str:
    """``file:line: message`` of a compile error, the file relative to ``directory`` when inside it."""
    path, line, msg = error
    rel = os.path.relpath(path, directory) if path.startswith(os.path.join(directory, "")) else path
    return f"{rel}:{line}: {msg}"


#: a save's compile check runs on the loop when its files hold at most this many bytes (compiling
#: 8 KiB takes ~1 ms; a worker thread's round trip ~0.5 ms of the save's latency), else in a thread
INLINE_CHECK_BYTES = 8 * 1024


def _small(paths: Sequence[str]) -> bool:
    total = 0
    for p in paths:
        try:
            total += os.stat(p).st_size
        except OSError:
            return False  # gone or unreadable: the thread's check says so as for any file
    return total <= INLINE_CHECK_BYTES


def changed_paths(changes: Sequence[FileChange]) -> List[str]:
    """The files a batch changed (a move's destination), each once, in order."""
    out: List[str] = []
    for c in changes:
        p = c.dest_path or c.src_path
        if p and not c.is_directory and p not in out:
            out.append(p)
    return out


def reload_line(rel: str, reload: Optional[dict], elapsed: float) -> Tuple[str, str, str]:
    """``(log line, detail, kind)`` of a reload that serves: patched in place, reloaded after a
    refused patch (with the reason), or reloaded."""
    reload = reload or {}
    if reload.get("kind") == "patched":
        names = ", ".join(reload.get("patched") or ()) or "no change"
        detail = f"patched {rel}: {names} in {elapsed:.0f} ms (state kept)"
        return detail, detail, "patched"
    what = reimported(reload)
    if reload.get("fallback"):
        line = f"reloaded {rel} ({reload['fallback']}): {what}serving again in {elapsed:.0f} ms"
        return line, line, "reloaded"
    return f"reloaded: {rel} changed; {what}serving again in {elapsed:.0f} ms", what.rstrip("; ") or None, "reloaded"


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

    What it takes from the session core (:class:`~tornado_launcher.engine.api.SessionCore`, never
    the Session): ``config``, ``closing``, ``apps``, ``kernel``, ``app_lock``, ``wait_for_state`` /
    ``settle`` (a save while the app starts), ``run_and_settle``, ``loop_blocked`` /
    ``loop_blocked_during``, ``mark_stale`` / ``clear_stale``, ``spawn``, ``emit``, ``log``, and
    ``subscribe`` (:class:`_Assets`: the directories a running app reports).  From the session, one
    callable: ``run_job(info, log_as=)``, the JobController's run of a handler's ``jobs``.
    Made anew (and the old one stopped) whenever the config is re-read.
    """

    def __init__(self, core: "SessionCore", *, run_job: Callable[..., Awaitable[Optional[int]]]) -> None:
        self.core = core
        self.run_job = run_job
        self.handlers: List[_Handler] = []
        self._targets: set = set()
        self._flight = SingleFlight()
        self._latest: Dict[str, Tuple[_Handler, Optional[str], FileChange, List[FileChange]]] = {}
        config = core.config
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
            spec = WatchHandler(config.directory, patterns=["*.py"], ignore_directories=True, case_sensitive=True)
            self.handlers.append(_Handler(None, None, spec, [(None, n) for n in tornado_apps]))
            self._targets.update(tornado_apps)
        # remote_files: a handler whose kernel watches in place; the others are ours
        self._remote: Dict[str, List[int]] = {}
        self._local: List[int] = []
        for i, h in enumerate(self.handlers):
            kernel = self._watching_kernel(h)
            if kernel is not None:
                self._remote.setdefault(kernel, []).append(i)
            else:
                self._local.append(i)
        self._watcher = (Watcher([WatchSpec.of(self.handlers[i].spec) for i in self._local], self._on_change)
                         if self._local else None)
        self._assets = _Assets(core, self._watcher, set(tornado_apps)) if not watchdogs else None

    def _watching_kernel(self, h: _Handler) -> Optional[str]:
        """The kernel that watches ``h``'s files itself (its block says ``remote_files``), or None.
        The implicit handler is watched in a kernel only when all its apps are in that one."""
        config = self.core.config
        names = {h.kernel} if h.kernel else {config.apps[n].kernel for _, n in h.blocks if n in config.apps}
        if len(names) != 1:
            return None
        name = next(iter(names))
        kc = config.kernels.get(name)
        return name if kc is not None and kc.remote_files else None

    # ------------------------------------------------ files watched in a kernel (remote_files)
    def _remote_dir(self, kernel: str) -> Optional[str]:
        k = self.core.config.kernels.get(kernel)
        return k.remote_dir if k is not None else None

    def _to_remote(self, kernel: str, path: str) -> str:
        base = self.core.config.directory
        remote = self._remote_dir(kernel)
        if remote and (path == base or path.startswith(base.rstrip(os.sep) + os.sep)):
            return remote.rstrip("/") + path[len(base.rstrip(os.sep)):].replace(os.sep, "/")
        return path

    def _to_local(self, kernel: str, path: Optional[str]) -> Optional[str]:
        base = self.core.config.directory
        remote = self._remote_dir(kernel)
        if path and remote and (path == remote or path.startswith(remote.rstrip("/") + "/")):
            return base.rstrip(os.sep) + path[len(remote.rstrip("/")):]
        return path

    def _remote_specs(self, kernel: str) -> List[dict]:
        out = []
        for i in self._remote.get(kernel, ()):
            spec = self.handlers[i].spec
            out.append({"handler": i, "root": self._to_remote(kernel, spec.watch_path),
                        "patterns": list(spec.patterns or ("*",)),
                        "ignore_patterns": list(spec.ignore_patterns or ()) + list(DEFAULT_IGNORES),
                        "case_sensitive": bool(spec.case_sensitive),
                        "ignore_directories": bool(spec.ignore_directories)})
        return out

    async def kernel_ready(self, name: str) -> None:
        """Kernel ``name`` has the bridge (started, restarted, re-attached): start its watcher."""
        if name not in self._remote or self.core.closing:
            return
        kernel = self.core.kernel(name)
        if kernel is None:
            return
        kernel.on_files = lambda rec, n=name: self._on_files(n, rec)
        reply = await kernel.execute(bridge.watch_code(self._remote_specs(name)),
                                     what="watching the project's files in the kernel")
        if reply.get("status") == "ok":
            self.core.log(name, "INFO", f"files watched in kernel {name!r} (remote_files): "
                             + ", ".join(s["root"] for s in self._remote_specs(name)))

    def _on_files(self, kernel: str, rec: dict) -> None:
        index = rec["handler"]
        if index not in self._remote.get(kernel, ()):
            return  # a watch of an earlier config
        now = time.monotonic()
        changes = [FileChange(kind, self._to_local(kernel, src) or src, self._to_local(kernel, dest), is_dir, now)
                   for kind, src, dest, is_dir in rec["changes"]]
        errors = [(self._to_local(kernel, p) or p, line, msg) for p, line, msg in rec["errors"]]
        if changes:
            self.core.spawn(self._handle(self.handlers[index], changes, errors), "auto-reload")

    def targets(self, app: str) -> bool:
        """Whether some handler restarts ``app`` (its auto-reload starts on)."""
        return app in self._targets

    async def start(self) -> None:
        """Start watching (the watcher's thread)."""
        if self._watcher is not None:
            await self._watcher.start()
        if self._assets is not None:
            await self._assets.start()
        for name in self._remote:
            kernel = self.core.kernel(name)
            if kernel is not None and kernel.state in KERNEL_READY:
                await self.kernel_ready(name)

    async def stop(self) -> None:
        """Stop watching; reloads already under way finish."""
        if self._assets is not None:
            self._assets.stop()
        if self._watcher is not None:
            await self._watcher.stop()
        for name in self._remote:
            kernel = self.core.kernel(name)
            if kernel is None:
                continue
            kernel.on_files = None
            if kernel.state in KERNEL_READY:
                await kernel.execute(bridge.watch_code([]), what="ending the watch in the kernel", timeout=5)

    # ---------------------------------------------------------------- changes
    def _on_change(self, index: int, changes: List[FileChange]) -> None:
        if index >= len(self._local):  # a template/static directory the Reloader added
            self.core.spawn(self._assets.changed(self._watcher.handler(index), changes), "asset refresh")
            return
        self.core.spawn(self._handle(self.handlers[self._local[index]], changes), "auto-reload")

    async def _handle(self, handler: _Handler, changes: List[FileChange],
                      errors: Optional[List[Tuple[str, int, str]]] = None) -> None:
        """One batch of changes; ``errors``: the compile check already made (in the kernel), else made here."""
        s = self.core
        if s.closing:
            return
        if errors is None and not await self._push(handler, changes):
            return
        last = changes[-1]
        if errors is None:
            py_files = sorted({p for c in changes for p in (c.dest_path or c.src_path,)
                               if p and p.endswith(".py") and not c.is_directory and c.event_type != "deleted"})
            errors = (protocol.compile_errors(py_files) if _small(py_files)
                      else await asyncio.to_thread(protocol.compile_errors, py_files)) if py_files else []
        kernel = s.kernel(handler.kernel) if handler.kernel else None
        if handler.spec.clear_cache and kernel is not None and not errors and not self._bridge_purges(handler):
            await kernel.execute(bridge.purge_code(handler.spec.clear_cache), what="clear_cache")
        for block, app in handler.blocks:
            if app is None:
                await self._run_block(handler, block, last)
                continue
            info = s.apps.get(app)
            path = last.dest_path or last.src_path
            if info is None:
                self._not_reloaded(handler.kernel or "", app, path, "it is no longer in the config")
                continue
            if not info.auto_reload:
                self._not_reloaded(info.kernel, app, path, "auto-reload is off", level="INFO")
                continue
            if not info.wanted:
                self._not_reloaded(info.kernel, app, path, "the app is stopped", level="INFO")
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
                await self.run_job(info, log_as=handler.owner or job)

    async def _push(self, handler: _Handler, changes: List[FileChange]) -> bool:
        """``sync``: the batch reaches each kernel that holds a copy of the project, before it reloads.
        False (logged, nothing reloaded) when a push failed: the kernel would run the old files."""
        from ..remote.sync import SyncError

        s = self.core
        names = {handler.kernel} if handler.kernel else set()
        names.update(s.config.apps[n].kernel for _, n in handler.blocks if n in s.config.apps)
        for name in sorted(n for n in names if n):
            kernel = s.kernel(name)
            if kernel is None or kernel.sync is None or kernel.state not in KERNEL_READY:
                continue
            try:
                await kernel.sync.push_changes(changes)
            except SyncError as e:
                s.log(name, "ERROR", f"not reloaded: the change did not reach kernel {name!r}: {e}")
                return False
        return True

    def _not_reloaded(self, kernel: str, app: str, path: Optional[str], reason: str, *,
                      level: str = "WARNING", outcome: str = "skipped") -> None:
        """A reload that does not happen: said in the app's log, with its reason, and as an event."""
        rel = os.path.relpath(path, self.core.config.directory) if path else "a file"
        what = "not reloaded" if outcome == "skipped" else "the reload failed"
        self.core.log(kernel, level, f"{what} after {rel} changed: {reason}", app=app)
        self.core.emit(ReloadEvent(app, path or "", outcome, reason))  # type: ignore[arg-type]

    def _bridge_purges(self, handler: _Handler) -> bool:
        """Whether each of the handler's code blocks restarts a Tornado app with ``reload =
        "dependents"`` or ``"patch"``: those apps purge what the change invalidates (within their
        own ``clear_cache``), so the handler's ``clear_cache`` would only purge more (and a
        purge ahead of a patch would leave nothing to patch)."""
        apps = self.core.config.apps
        return bool(handler.blocks) and all(
            target in apps and apps[target].kind == "tornado" and apps[target].reload in ("dependents", "patch")
            for _block, target in handler.blocks)

    async def _run_block(self, handler: _Handler, block: Optional[str], change: FileChange) -> None:
        if block is None or handler.kernel is None:
            return
        owner = handler.owner or handler.kernel
        kernel = self.core.kernel(handler.kernel)
        if kernel is None or kernel.state not in KERNEL_READY:
            state = kernel.state if kernel is not None else "not started"
            self.core.log(handler.kernel, "WARNING", f"code block {block!r} did not run: kernel "
                             f"{handler.kernel!r} is {state}", app=handler.owner)
            return
        code = block.replace("{event}", repr(change.as_event_dict()))
        # Sent with stop_on_error=False (kernel.execute): if it raises, what is
        # queued behind it (the other blocks, a restart) still runs.
        reply = await kernel.execute(code, app=handler.owner, what=f"code block {block!r} of {owner!r}")
        if reply.get("status") != "ok":
            m = _RESTART_CALL.search(block)
            hint = ""
            if m and m.group(1) not in self.core.config.apps:
                hint = (f" No app named {m.group(1)!r} runs in this launcher (it is skipped, or not in the "
                        "config): remove the block from the handler or add that app.")
            self.core.log(handler.kernel, "WARNING",
                             f"code block {block!r} raised {reply.get('ename')}: {reply.get('evalue')}; "
                             f"the handler's other blocks still ran.{hint}", app=handler.owner)

    def _command(self, app: str, block: Optional[str], kernel: Any, event: dict) -> Optional[asyncio.Future]:
        """Send the reload of ``app`` as a command on the bridge's comm (``protocol.call_record``)
        rather than as a cell, when the block is only that call (or the implicit handler's):
        ipykernel's execute path (busy, execute_input, IPython's run_cell, reply) costs the
        kernel's loop ~2 ms around the call, and a hot patch ~1 ms in all.  The future of the
        app's next settled state, or None (the kernel's bridge takes no commands: a cell then)."""
        if block is not None:
            plain = _PLAIN_RELOAD.fullmatch(block.strip())
            if plain is None or plain.group(1) != app:
                return None
        comm_id = (kernel.hello or {}).get("commands")
        if not comm_id:
            return None
        fut = self.core.wait_for_state(app, ("running", "failed"))
        if not kernel.send_comm(comm_id, protocol.call_record(app, "handle_watchdog_event", event)):
            fut.cancel()
            return None
        return fut

    def _starting(self, info: Any, kernel: Any) -> bool:
        """Whether ``info``'s app is on its way up: its start (or its kernel's) is still under way."""
        if info.state == "starting":
            return True
        return info.wanted and info.state == "stopped" and (
            kernel is None or kernel.state in ("stopped", "starting", "restarting"))

    async def _reload(self, app: str) -> None:
        s = self.core
        latest = self._latest.pop(app, None)
        if latest is None:
            return  # two requests in one tick: the run before this one took the latest change
        handler, block, change, changes = latest
        info = s.apps.get(app)
        path = change.dest_path or change.src_path
        if s.closing:
            return
        if info is None:
            self._not_reloaded(handler.kernel or "", app, path, "it is no longer in the config")
            return
        kernel_name = handler.kernel or info.kernel
        kernel = s.kernel(kernel_name)
        if self._starting(info, kernel):
            # A change that arrives while the app starts is applied once it serves:
            # the start may have imported the file before the save.
            t0 = time.monotonic()
            settled = await s.settle(app, s.wait_for_state(app, ("running", "failed")), "starting")
            if settled is None:
                self._not_reloaded(info.kernel, app, path, "the app did not finish starting")
                return
            s.log(info.kernel, "DEBUG", f"reload waited {time.monotonic() - t0:.1f} s for the app to start",
                  app=app)
            kernel = s.kernel(kernel_name)
        if kernel is None or kernel.state not in KERNEL_READY:
            state = kernel.state if kernel is not None else "not started"
            self._not_reloaded(info.kernel, app, path, f"kernel {kernel_name!r} is {state}")
            return
        rel = os.path.relpath(path, s.config.directory) if path else "?"
        more = f" and {len(changes) - 1} more" if len(changes) > 1 else ""
        async with s.app_lock(app):
            s.emit(ReloadEvent(app, path, "reloading"))
            event = change.as_event_dict()
            # every file of the batch: the bridge re-imports what they invalidate (as the kernel sees them)
            event["paths"] = [self._to_remote(kernel_name, p) for p in changed_paths(changes)]
            for key in ("src_path", "dest_path"):
                if event.get(key):
                    event[key] = self._to_remote(kernel_name, event[key])
            if block is None:
                code = bridge.call_code(app, "handle_watchdog_event", event)
            else:
                code = block.replace("{event}", repr(event))
            t0 = time.monotonic()
            blocked_before = s.loop_blocked(app)
            sent = self._command(app, block, kernel, event) if kernel_name == info.kernel else None
            if sent is not None:
                reply, state = {"status": "ok"}, await s.settle(app, sent, f"reload of {app!r}")
            else:
                reply, state = await s.run_and_settle(app, code, kernel=kernel_name, what=f"reload of {app!r}")
            if blocked_before or s.loop_blocked_during(app, t0):
                loop = "its own loop" if info.threaded else "the kernel's loop"
                s.log(info.kernel, "INFO", f"reload waited {time.monotonic() - t0:.1f} s for {loop}", app=app)
            if reply.get("status") != "ok":
                self._not_reloaded(info.kernel, app, path, describe_error(reply),
                                   level="ERROR", outcome="failed")
                return
        elapsed = (time.monotonic() - change.time) * 1000.0
        if state is not None and protocol.serves_old_code(state.state, state.reason):
            # the new code did not start: the old run serves on (the core marked it stale)
            s.emit(ReloadEvent(app, path, "refused", state.reason[len(protocol.OLD_CODE):], stage="start"))
        elif state is not None and state.state == "running":
            s.clear_stale(app)
            line, detail, kind = reload_line(rel + more, state.reload, elapsed)
            s.log(info.kernel, "INFO", line, app=app)
            s.emit(ReloadEvent(app, path, "done", detail, elapsed_ms=elapsed, kind=kind))
        else:
            reason = state.reason if state and state.reason else (
                f"the app is {state.state}" if state else "the app did not come back in time")
            self._not_reloaded(info.kernel, app, path, reason, level="ERROR", outcome="failed")


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

    def __init__(self, core: "SessionCore", watcher: Optional[Watcher], apps: set) -> None:
        self.core = core
        self._watcher = watcher
        self._apps = apps
        self._watched: set = set()
        self._users: Dict[str, set] = {}  # directory -> the apps that use it
        self._kinds: Dict[str, str] = {}  # directory -> "templates" or "static"
        self._unsubscribe = None

    async def start(self) -> None:
        self._unsubscribe = self.core.subscribe(self._on_event)
        for info in list(self.core.apps.values()):  # apps already running (a config re-read)
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
            self._kinds[directory] = kind
            spec = WatchSpec(directory, ignore_patterns=("*.py",), ignore_directories=True, case_sensitive=True)
            self.core.spawn(self._watcher.add(spec), f"watching {directory}")

    async def changed(self, spec: WatchSpec, changes: List[FileChange]) -> None:
        s = self.core
        if s.closing:
            return
        last = changes[-1]
        paths = sorted({p for c in changes for p in (c.src_path, c.dest_path) if p})
        path = last.dest_path or last.src_path
        rel = os.path.relpath(path, s.config.directory)
        more = f" and {len(changes) - 1} more" if len(changes) > 1 else ""
        kind = self._kinds[spec.watch_path]
        what = "templates refreshed" if kind == "templates" else "static files refreshed"
        for app in sorted(self._users.get(spec.watch_path, ())):
            info = s.apps.get(app)
            if info is None or info.state != "running":
                continue  # a stopped app reads the files when it starts
            if not info.auto_reload:
                s.emit(ReloadEvent(app, path, "skipped", "auto-reload is off"))
                continue
            kernel = s.kernel(info.kernel)
            if kernel is None or kernel.state not in KERNEL_READY:
                continue
            async with s.app_lock(app):
                reply = await kernel.execute(bridge.refresh_assets_code(app, paths), app=app,
                                             what=f"refresh of {app!r}'s {kind}")
            if reply.get("status") != "ok":
                s.emit(ReloadEvent(app, path, "failed", f"{reply.get('ename')}: {reply.get('evalue')}"))
                continue
            elapsed = (time.monotonic() - last.time) * 1000.0
            s.log(info.kernel, "INFO", f"{what}: {rel}{more} changed; {elapsed:.0f} ms", app=app)
            s.emit(ReloadEvent(app, path, "done", what, elapsed_ms=elapsed))
