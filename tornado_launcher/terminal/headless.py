"""`tornado-launcher start`: the session on a terminal, until Ctrl+C or SIGTERM.

Every log line prints as ``HH:MM:SS app LEVEL message``; a line when each app
is serving, with its URL.  Colors on a terminal, none when ``NO_COLOR`` is set
or the output is not a terminal.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import IO, Callable, Dict, List, Optional, Tuple

from ..bridge import protocol
from ..config import Config, Diagnostic
from ..engine.events import NOT_RESPONDING, AppState, Event, KernelState, LogRecord, ReloadEvent
from ..engine.session import Session
from ..text import ANSI as _ANSI
from ..workers import ensure_workers

#: Seconds the session's shutdown may take before everything is SIGKILLed
#: (its own deadlines end well before; this one catches what they miss).
SHUTDOWN_DEADLINE = 4.5
_LEVEL_COLORS = {"DEBUG": "2", "INFO": "32", "WARNING": "33", "ERROR": "31", "CRITICAL": "1;31"}
_STATE_COLORS = {"running": "1;32", "failed": "1;31", "stale": "1;33", "stopped": "2"}


def use_color(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class Printer:
    """Renders session events as lines on a text stream."""

    def __init__(self, stream: Optional[IO[str]] = None, color: Optional[bool] = None,
                 kinds: Optional[Dict[str, str]] = None) -> None:
        self.stream = stream or sys.stdout
        self.color = use_color(self.stream) if color is None else color
        self._width = 8
        #: app name -> "tornado" / "watchdog", to word the running line
        self.kinds = kinds or {}
        #: app name -> (state, urls) last printed: print transitions only
        self._last: Dict[str, tuple] = {}

    def _c(self, code: str, text: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def _line(self, t: float, source: str, level: str, message: str) -> None:
        self._width = max(self._width, len(source))
        stamp = time.strftime("%H:%M:%S", time.localtime(t))
        if not self.color:
            message = _ANSI.sub("", message)
        lvl = self._c(_LEVEL_COLORS.get(level, "0"), f"{level:<7}")
        self.stream.write(f"{self._c('2', stamp)} {self._c('1', source.ljust(self._width))} {lvl} {message}\n")

    def __call__(self, event: Event) -> None:
        if isinstance(event, AppState) and event.state == NOT_RESPONDING:
            return  # said in the log; when it answers again the app is as it was (no new "serving at")
        if isinstance(event, LogRecord):
            self._line(event.time, event.source, event.level, event.message)
            if event.traceback:
                for line in event.traceback.rstrip().splitlines():
                    self._line(event.time, event.source, event.level, "  " + line)
        elif isinstance(event, AppState):
            key = (event.state, event.urls, event.reason)
            previous = self._last.get(event.app)
            self._last[event.app] = key
            if previous == key or (previous is None and event.state == "stopped" and not event.reason):
                return
            kind = self.kinds.get(event.app)
            if event.state == "running" and kind == "watchdog":
                self._line(event.time, event.app, "INFO", "watching for file changes")
            elif event.state == "running" and kind in ("process", "job"):
                self._line(event.time, event.app, "INFO", "started")
            elif event.state == "running":
                took = f" (started in {event.elapsed_ms:.0f} ms)" if event.elapsed_ms is not None else ""
                where = ", ".join(event.urls) if event.urls else "no listening socket"
                self._line(event.time, event.app, "INFO",
                           self._c(_STATE_COLORS["running"], f"serving at {where}") + took)
            elif event.state in ("failed", "stale", "stopped"):
                text = event.state if event.state != "stale" else "serving old code"
                reason = event.reason
                if reason and reason.startswith(protocol.OLD_CODE):  # the bridge's own words: said once
                    reason = reason[len(protocol.OLD_CODE):]
                if reason:
                    text += f": {reason}"
                level = "ERROR" if event.state == "failed" else ("WARNING" if event.state == "stale" else "INFO")
                self._line(event.time, event.app, level, self._c(_STATE_COLORS[event.state], text))
        elif isinstance(event, KernelState):
            if event.state in ("dead",):
                self._line(event.time, event.kernel, "ERROR", f"kernel dead: {event.reason or ''}")
            elif event.state == "starting":
                self._line(event.time, event.kernel, "INFO", "kernel starting")
        elif isinstance(event, ReloadEvent):
            if event.outcome == "refused" and event.stage == "compile":
                self._line(event.time, event.app, "WARNING",
                           f"not reloaded, the change does not compile: {event.detail}")
            elif event.outcome == "refused":
                self._line(event.time, event.app, "WARNING", "not reloaded, the new code compiled but failed when "
                           f"it ran (at import or in its start): {event.detail}; still serving the previous code")
        self.stream.flush()


#: re-reads the config: ``(config, [])`` or ``(None, diagnostics)`` (``config.check``'s shape)
Reloader = Callable[[], Tuple[Optional[Config], List[Diagnostic]]]


async def reread(session: Session, load: Reloader, printer: "Printer") -> Optional[List[str]]:
    """A saved edit of the config: apply it, or log where it is wrong and keep
    everything running.  Returns the files to watch from now on."""
    config, diags = await asyncio.get_running_loop().run_in_executor(None, load)
    name = os.path.basename(session.config.path)
    if config is None:
        errors = [d for d in diags if d.severity == "error"] or diags
        printer(LogRecord("launcher", None, "ERROR",
                          f"{name} has errors; the apps keep running the previous config. "
                          "Fix the line below and save again:", origin="launcher"))
        for d in errors:
            printer(LogRecord("launcher", None, "ERROR", f"  {d}", origin="launcher"))
        return None
    printer.kinds.update({n: a.kind for n, a in config.apps.items()})
    await session.apply_config(config)
    printer.kinds.update({n: a.kind for n, a in session.apps.items()})
    printer(LogRecord("launcher", None, "INFO", f"{name} changed: re-read and applied", origin="launcher"))
    return list(config.paths or [config.path])


#: the signals that end `start` cleanly: Ctrl+C, `kill`, the terminal closed
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: exit status of a `start` refused because another launcher runs the config (as for a bad config)
EXIT_REFUSED = 2


async def run(config: Config, *, auto_reload: bool = True, stream: Optional[IO[str]] = None,
              reload_config: Optional[Reloader] = None, allow_second: bool = False) -> int:
    """Run the session until SIGINT/SIGTERM/SIGHUP; shut down cleanly; return 0.

    With ``reload_config``, every file of the config is watched and a saved
    edit is applied live (:mod:`tornado_launcher.watching.config_watch`).  When
    another launcher already runs this config, returns :data:`EXIT_REFUSED`
    before starting anything (a sentence on stderr), unless ``allow_second``.
    Without ``stream``, lines go to stdout through an :class:`~tornado_launcher.terminal.output.Output`
    (bounded, never blocking the loop, quiet once the reader is gone)."""
    output = None
    if stream is None:
        from .output import Output

        stream = output = Output(sys.stdout.fileno() if hasattr(sys.stdout, "fileno") else 1)
    try:
        return await _run(config, auto_reload, stream, reload_config, allow_second)
    finally:
        if output is not None:
            output.close()


async def _run(config: Config, auto_reload: bool, stream: IO[str], reload_config: Optional[Reloader],
               allow_second: bool) -> int:
    ensure_workers(asyncio.get_running_loop())  # a fixed pool: the thread count stays flat
    session = Session(config, auto_reload=auto_reload)
    printer = Printer(stream, kinds={name: a.kind for name, a in session.apps.items()})
    session.subscribe(printer)
    watcher = None
    if reload_config is not None:
        from ..watching.config_watch import ConfigWatcher

        watcher = ConfigWatcher(config.paths or [config.path], lambda: reread(session, reload_config, printer))
    # --- control socket: `tornado-launcher status/restart/stop/...` from another terminal (control.py)
    from ..control.server import ControlServer
    control = ControlServer(session, config.paths or [config.path])
    if not await control.start() and control.another_runs and not allow_second:
        control.close()
        sys.stderr.write(second_start_refusal(config, control.other_pid))
        return EXIT_REFUSED
    # ---
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: KeyboardInterrupt path below
            pass
    try:
        if watcher is not None:
            await watcher.start()
        starting = asyncio.ensure_future(session.start())
        waiter = asyncio.ensure_future(stop.wait())
        await asyncio.wait({starting, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not stop.is_set():
            starting.result()
            await waiter
        else:
            starting.cancel()
    finally:
        printer(LogRecord("launcher", None, "INFO", "shutting down (Ctrl+C again to kill everything now)",
                          origin="launcher"))
        control.close()
        if watcher is not None:
            await watcher.stop()

        def kill_now() -> None:
            printer(LogRecord("launcher", None, "WARNING", "killing every kernel and process now",
                              origin="launcher"))
            session.kill()
            if hasattr(stream, "close") and hasattr(stream, "dropped"):  # an Output: its lines out first
                stream.close(timeout=0.5)
            os._exit(130)

        for sig in STOP_SIGNALS:
            try:
                loop.add_signal_handler(sig, kill_now)
            except (NotImplementedError, RuntimeError):
                pass
        try:
            await asyncio.wait_for(session.shutdown(), SHUTDOWN_DEADLINE)
        except asyncio.TimeoutError:
            printer(LogRecord("launcher", None, "WARNING", f"shutdown took over {SHUTDOWN_DEADLINE:g} s: "
                              "killing every kernel and process", origin="launcher"))
            session.kill()
    return 0


def second_start_refusal(config: Config, pid: Optional[int]) -> str:
    """What a second `start` of a config that a launcher already runs says (on stderr)."""
    paths = config.paths or [config.path]
    opts = " ".join(f"-c {p}" for p in paths)
    end = f"`kill {pid}`" if pid else "`kill PID` (`tornado-launcher status --json` names it)"
    return (f"tornado-launcher: a launcher (pid {pid or 'unknown'}) already runs {' + '.join(paths)}. Drive it with "
            f"`tornado-launcher status {opts}` (or restart/stop/logs ... {opts}); end it with Ctrl+C in its "
            f"terminal or {end}. To start a second one anyway, pass --allow-second (control commands "
            "keep reaching the first).\n")
