"""What every bridge app shares (:class:`BridgeApp`: name, spec, state records, its
log) and the thin :class:`WatchdogApp`.  ``TornadoBridgeApp`` is in ``tornado_app``."""

import re
import sys
import traceback

from .. import protocol
from . import attribution, state
from .records import emit, log_record


class AppLog:
    """``app.log`` of a bridge app: a logger-like object whose records go to that app's log.

    For subclasses written for Jaffle, whose apps had a traitlets ``log``.
    """

    def __init__(self, app):
        self._app = app

    def _write(self, level, msg, args, exc_info):
        try:
            text = str(msg) % args if args else str(msg)
        except Exception:
            text = "%s %r" % (msg, args)
        tb = None
        if exc_info:
            info = sys.exc_info() if exc_info is True else exc_info
            if isinstance(info, BaseException):
                info = (type(info), info, info.__traceback__)
            if info and info[0] is not None:
                tb = "".join(traceback.format_exception(*info))
        self._app._log(level, text, tb)

    def debug(self, msg, *args, **kwargs):
        self._write("DEBUG", msg, args, kwargs.get("exc_info"))

    def info(self, msg, *args, **kwargs):
        self._write("INFO", msg, args, kwargs.get("exc_info"))

    def warning(self, msg, *args, **kwargs):
        self._write("WARNING", msg, args, kwargs.get("exc_info"))

    warn = warning

    def error(self, msg, *args, **kwargs):
        self._write("ERROR", msg, args, kwargs.get("exc_info"))

    def exception(self, msg, *args, **kwargs):
        self._write("ERROR", msg, args, kwargs.get("exc_info", True))

    def critical(self, msg, *args, **kwargs):
        self._write("CRITICAL", msg, args, kwargs.get("exc_info"))


class BridgeApp:
    """What every bridge app shares: name, spec, state records, its log."""

    kind = "base"

    def __init__(self, name, spec=None, **kwargs):
        protocol.validate_name(name)
        spec = dict(spec or {})
        spec.update(kwargs)
        self.name = name
        self.spec = spec
        self.state = "stopped"
        self.threaded = bool(spec.get("threaded", False))
        self._autoreload_warned = False
        self.log = AppLog(self)
        #: the app block's options as the config gave them (a user's subclass may take its own)
        self.options = dict(spec.get("options") or {})
        self._line_filter = protocol.LineFilter()
        self._apply_logger(spec.get("logger") or {})

    def set_logger(self, logger):
        """The app block's ``logger`` changed (a config edit): its level and line rules apply from
        now on, in place (a running server keeps running, its sockets stay bound)."""
        self.spec["logger"] = dict(logger or {})
        self._apply_logger(self.spec["logger"])
        attribution.update_levels()

    def _apply_logger(self, logger):
        level = str(logger.get("level") or "INFO").upper()
        self.level = protocol.level_number(level)
        suppress, replace = [], []
        for pattern in logger.get("suppress_regex") or []:
            try:
                re.compile(pattern)
                suppress.append(pattern)
            except re.error as exc:
                self._log("WARNING", "suppress_regex %r ignored: %s" % (pattern, exc))
        for pair in logger.get("replace_regex") or []:
            try:
                frm, to = pair[0], pair[1]
                re.compile(frm)
                replace.append((frm, to))
            except (re.error, IndexError, TypeError, KeyError) as exc:
                self._log("WARNING", "replace_regex %r ignored: %s" % (pair, exc))
        self._line_filter = protocol.LineFilter(suppress, replace)

    def __repr__(self):
        return "<%s %s: %s>" % (type(self).__name__, self.name, self.state)

    # -- records
    def _filter_line(self, line):
        """The line as the logger block's suppress/replace rules make it, None if suppressed."""
        return self._line_filter.apply(line)

    def _log(self, level, message, traceback_text=None):
        if protocol.level_number(level) < self.level:
            return
        emit(log_record(self.name, level, message, traceback_text=traceback_text))

    def _print_line(self, line, origin):
        line = self._filter_line(line)
        if line is None:
            return
        emit(log_record(self.name, "INFO" if origin == "stdout" else "WARNING", line,
                          logger=origin, origin=origin))

    def _set_state(self, state, reason=None, elapsed_ms=None, urls=(), urgent=None, assets=None, reload=None,
                   public_ports=()):
        """Record and report a state; settled states are sent at once (see records.Outbox).
        ``assets``: ``assets.directories(run)`` of a running app; ``reload``: what its start
        re-imported (``protocol.state_record``); ``public_ports``: those of ``urls`` that
        listen beyond loopback."""
        self.state = state
        if urgent is None:
            urgent = state not in ("starting", "stopping")
        emit(protocol.state_record(self.name, state, reason, elapsed_ms, urls, self.threaded,
                                   reload=reload, public_ports=public_ports, **(assets or {})), urgent)

    def _logger_names(self):
        return ()

    def _retire(self):
        """Another app took this name: stop (the new one waits for that)."""
        self.stop()

    def _idle(self):
        """An awaitable done when this app has no command left to run."""
        fut = state.kernel.loop.create_future()
        fut.set_result(None)
        return fut


class WatchdogApp(BridgeApp):
    """The in-kernel face of a watchdog app.

    The launcher watches the files and runs the handlers' code in the kernel;
    this object only reports running/stopped so ``start`` code that refers to
    it keeps working.
    """

    kind = "watchdog"

    def start(self):
        state.kernel.call(self._set_state, "running")

    def stop(self):
        state.kernel.call(self._set_state, "stopped")

    def restart(self):
        state.kernel.call(self._set_state, "running")
