"""Which app a log record or a printed line belongs to, and the hooks that route them.

The app's context first (:data:`state.current_run`, copied into every handle
and task its server creates, and into threads it starts), then the logger
name, else the kernel's own log.  :class:`BridgeHandler` sits on the root
logger; :class:`StreamProxy` wraps ``sys.stdout`` / ``sys.stderr``.

ipykernel's console handler on the ``tornado`` logger is removed at install, so a line is not
printed twice.
"""

import logging
import sys
import threading
import traceback

from .. import protocol
from . import state
from .records import emit, log_record

KERNEL_LEVEL = protocol.LEVELS["INFO"]  # records outside any app below this are not sent
ACTIVE = ("starting", "running", "stopping")

_tls = threading.local()  # .busy: inside our own emit (no re-entry)


def _tornado_apps():
    return [a for a in state.apps.values() if a.kind == "tornado"]


def attributed_run():
    run = state.current_run.get()
    if run is None:
        run = getattr(threading.current_thread(), "_tl_bridge_run", None)
    return run


def app_for_logger(name):
    """The app a logger name belongs to when no app context is active."""
    running = [a for a in _tornado_apps() if a.state in ACTIVE]
    for app in running:
        for prefix in app._logger_names():
            if name == prefix or name.startswith(prefix + "."):
                return app
    if name == "tornado" or name.startswith("tornado."):
        if len(running) == 1:
            return running[0]
    return None


class BridgeHandler(logging.Handler):
    """On the root logger: every record becomes a "log" record for an app or the kernel."""

    def emit(self, record):
        if getattr(_tls, "busy", False):
            return
        _tls.busy = True
        try:
            run = attributed_run()
            app = run.app if run is not None else app_for_logger(record.name)
            if app is not None:
                if record.levelno < app.level:
                    return
            elif record.levelno < KERNEL_LEVEL:
                return
            try:
                message = record.getMessage()
            except Exception:
                message = str(record.msg)
            tb = None
            if record.exc_info and record.exc_info[0] is not None:
                tb = "".join(traceback.format_exception(*record.exc_info))
            elif record.exc_text:
                tb = record.exc_text
            if app is not None:
                message = app._filter_line(message)
                if message is None:
                    return
            emit(log_record(app.name if app else None, logging.getLevelName(record.levelno),
                            message, record.name, tb, "bridge", record.created))
        except Exception:
            pass
        finally:
            _tls.busy = False


class StreamProxy:
    """Wraps sys.stdout / sys.stderr: lines written in an app's context become its log records."""

    def __init__(self, orig, origin):
        self._tl_orig = orig
        self._tl_origin = origin
        self._tl_buffers = {}
        self._tl_lock = threading.Lock()

    def write(self, text):
        run = attributed_run()
        if run is None or getattr(_tls, "busy", False) or not isinstance(text, str):
            return self._tl_orig.write(text)
        app = run.app
        with self._tl_lock:
            buf = self._tl_buffers.pop(id(app), "") + text
            lines = buf.split("\n")
            rest = lines.pop()
            if len(rest) > 65536:
                lines.append(rest)
                rest = ""
            if rest:
                self._tl_buffers[id(app)] = rest
        for line in lines:
            app._print_line(line.rstrip("\r"), self._tl_origin)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush_app(self, app):
        with self._tl_lock:
            rest = self._tl_buffers.pop(id(app), "")
        if rest:
            app._print_line(rest.rstrip("\r"), self._tl_origin)

    def flush(self):
        return self._tl_orig.flush()

    def __getattr__(self, name):
        return getattr(self._tl_orig, name)


def flush_prints(app):
    """Send what ``app`` printed without a final newline."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, StreamProxy):
            stream.flush_app(app)


def drop_console_handlers(logger):
    """Remove handlers that print a logger's records to the process's own stdout/stderr.

    ipykernel puts a StreamHandler on "tornado" that writes to the real
    stderr: with the levels lowered for the apps, every access line would
    also land in the kernel's raw output.  Our root handler sees them all.
    """
    consoles = {id(s) for s in (sys.__stderr__, sys.__stdout__, sys.stderr, sys.stdout) if s is not None}
    for handler in list(logger.handlers):
        if type(handler) is logging.StreamHandler and (
                id(getattr(handler, "stream", None)) in consoles
                or isinstance(getattr(handler, "stream", None), StreamProxy)):
            logger.removeHandler(handler)


def install_routing():
    """Our handler on the root logger, ipykernel's console handler off "tornado", stream proxies."""
    root = logging.getLogger()
    if not any(isinstance(h, BridgeHandler) for h in root.handlers):
        root.addHandler(BridgeHandler())
    drop_console_handlers(logging.getLogger("tornado"))
    if not isinstance(sys.stdout, StreamProxy) and sys.stdout is not None:
        sys.stdout = StreamProxy(sys.stdout, "stdout")
    if not isinstance(sys.stderr, StreamProxy) and sys.stderr is not None:
        sys.stderr = StreamProxy(sys.stderr, "stderr")


def update_levels():
    """Let records reach our handler at the levels the apps ask for."""
    tornado_apps = _tornado_apps()
    if not tornado_apps:
        return
    low = min(a.level for a in tornado_apps)
    tl = logging.getLogger("tornado")
    if tl.level == logging.NOTSET or tl.level > low:
        tl.setLevel(low)
    for app in tornado_apps:
        for name in app._logger_names():
            lg = logging.getLogger(name)
            if lg.level == logging.NOTSET or lg.level > app.level:
                lg.setLevel(app.level)


def adopt_logger(app, obj):
    """Route the app object's own ``log`` (traitlets' has its own stderr handler) to ``app``."""
    log = getattr(obj, "log", None)
    if not isinstance(log, logging.Logger) or log is logging.getLogger():
        return
    app._adopted_logger = log.name
    for handler in list(log.handlers):
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            log.removeHandler(handler)
    log.propagate = True
    log.setLevel(app.level)
