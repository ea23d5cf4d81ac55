"""The in-kernel half of tornado-launcher: runs Tornado apps inside an IPython kernel.

This file is sent into a kernel as source text and executed there as the
module ``tornado_launcher_bridge`` (see ``tornado_launcher.bridge.install_code``).
It must import only the standard library and tornado at module level: the
kernel's Python may not have tornado-launcher installed (the frozen app's
case).  ``comm`` (ipykernel's) is imported inside :func:`install`.

What it does, once :func:`install` ran:

* opens the comm ``tornado_launcher.events`` and sends batches of records
  ``{"events": [...]}`` from one sender thread;
* routes logging records and printed lines to the app whose context is active
  (a :class:`contextvars.ContextVar` set around everything an app runs);
* keeps ``tornado.autoreload`` from re-executing the kernel;
* imports the project's modules from source every time (no stale ``.pyc``);
* provides :class:`TornadoBridgeApp` (shared loop or own thread) and the thin
  :class:`WatchdogApp`.

Thread-safety: the public app methods (``start``, ``stop``, ``restart``,
``handle_watchdog_event``, ``set_threaded``) may be called from any thread;
they hand the work to the kernel's event loop and return at once.  All app
state changes happen on the kernel's loop thread.
"""

import asyncio
import collections
import contextvars
import errno
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import keyword
import logging
import os
import queue
import re
import socket
import sys
import threading
import time
import traceback
import types

import tornado
import tornado.autoreload
import tornado.httpserver
import tornado.ioloop
import tornado.iostream
import tornado.log
import tornado.tcpserver
from tornado.platform.asyncio import BaseAsyncIOLoop

BRIDGE_VERSION = 1
COMM_TARGET = "tornado_launcher.events"
STOP_TIMEOUT = 5.0  # seconds an app's stop() may take before its servers are closed by force
DRAIN_TIMEOUT = 2.0  # seconds a stopped app's accepted requests may take to finish before being cut off
FRESH_GRACE = 0.25  # seconds a just-accepted connection may take to send its first request while draining
BATCH_WINDOW = 0.015  # seconds the sender waits to fill a batch of log records (state records go at once)
BATCH_MAX = 500  # records per comm message
QUEUE_MAX = 20000  # records waiting; beyond that they are counted and dropped
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

#: The run (one start of one app) whose code is executing, if any.  Set in the
#: context every app callable runs in; asyncio handles and tasks copy it.
_current_run = contextvars.ContextVar("tornado_launcher_run", default=None)

_settings = {"kernel": None, "project_dir": None}
_installed = False
_kloop = None  # the kernel's asyncio loop
_kloop_thread = None  # its thread id
_apps = {}  # name -> app (the current one for that name)
_queue = queue.Queue(maxsize=QUEUE_MAX)
_dropped = [0]
_comm = None
_tls = threading.local()  # .busy: inside our own emit (no re-entry)
_kernel_level = LEVELS["INFO"]
_orig = {}  # originals of what we patched


# ---------------------------------------------------------------------------
# records


_FLUSH = object()  # in the queue after a record that must not wait for the batch window


def _emit(record, urgent=False):
    """Queue one record for the sender thread.  Never blocks, never raises.

    ``urgent``: send it (with what is queued before it) at once instead of
    within the batch window: the settled states a caller waits for.
    """
    try:
        _queue.put_nowait(record)
    except queue.Full:
        _dropped[0] += 1
        return
    if urgent:
        try:
            _queue.put_nowait(_FLUSH)
        except queue.Full:
            pass


def _log_record(app, level, message, logger="tornado_launcher", traceback_text=None, origin="bridge", when=None):
    return {
        "type": "log",
        "app": app,
        "level": level,
        "logger": logger,
        "message": message,
        "time": time.time() if when is None else when,
        "traceback": traceback_text,
        "origin": origin,
    }


def _kernel_log(level, message, traceback_text=None):
    _emit(_log_record(None, level, message, traceback_text=traceback_text))


def _sender_main():
    """Send queued records in batches, in order.

    An urgent record (a settled state: running, failed, stopped) is sent at
    once with whatever is queued before it; so is the first log record after a
    quiet spell.  Otherwise records wait up to BATCH_WINDOW after the previous
    send, so a log flood costs one comm message per window.  The transitional
    states of a restart (stopping, starting) ride along with its final one:
    nothing is sent while the kernel's loop is busy restarting.
    """
    last_send = 0.0
    while True:
        first = _queue.get()
        if first is _FLUSH:
            continue
        batch = [first]
        urgent = False
        # after a quiet spell the deadline has passed: a log record goes at once
        deadline = last_send + BATCH_WINDOW
        if first.get("type") != "log":
            deadline = max(deadline, time.monotonic() + BATCH_WINDOW)
        while len(batch) < BATCH_MAX:
            remaining = 0 if urgent else deadline - time.monotonic()
            try:
                record = _queue.get(timeout=remaining) if remaining > 0 else _queue.get_nowait()
            except queue.Empty:
                break
            if record is _FLUSH:
                urgent = True  # send up to here without waiting for the window
                continue
            batch.append(record)
        if _dropped[0]:
            n, _dropped[0] = _dropped[0], 0
            batch.append(_log_record(None, "WARNING", "tornado-launcher: %d log records dropped (too many at once)" % n))
        comm = _comm
        if comm is None:
            continue
        try:
            comm.send({"events": batch})
        except Exception:
            pass  # kernel shutting down: nothing to tell anyone
        last_send = time.monotonic()


def _one_line(exc):
    text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def _format_exc(exc):
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


# ---------------------------------------------------------------------------
# attribution


def _attributed_run():
    run = _current_run.get()
    if run is None:
        run = getattr(threading.current_thread(), "_tl_bridge_run", None)
    return run


def _app_for_logger(name):
    """The app a logger name belongs to when no app context is active."""
    running = [a for a in _apps.values() if isinstance(a, TornadoBridgeApp) and a.state in ("starting", "running", "stopping")]
    for app in running:
        for prefix in app._logger_names():
            if name == prefix or name.startswith(prefix + "."):
                return app
    if name == "tornado" or name.startswith("tornado."):
        if len(running) == 1:
            return running[0]
    return None


class _BridgeHandler(logging.Handler):
    """On the root logger: every record becomes a "log" record for an app or the kernel."""

    def emit(self, record):
        if getattr(_tls, "busy", False):
            return
        _tls.busy = True
        try:
            run = _attributed_run()
            app = run.app if run is not None else _app_for_logger(record.name)
            if app is not None:
                if record.levelno < app.level:
                    return
            elif record.levelno < _kernel_level:
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
            _emit(_log_record(app.name if app else None, logging.getLevelName(record.levelno),
                              message, record.name, tb, "bridge", record.created))
        except Exception:
            pass
        finally:
            _tls.busy = False


class _StreamProxy:
    """Wraps sys.stdout / sys.stderr: lines written in an app's context become its log records."""

    def __init__(self, orig, origin):
        self._tl_orig = orig
        self._tl_origin = origin
        self._tl_buffers = {}
        self._tl_lock = threading.Lock()

    def write(self, text):
        run = _attributed_run()
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


# ---------------------------------------------------------------------------
# patches


def _patched_ioloop_start(self):
    run = _current_run.get()
    if run is not None:
        if self.asyncio_loop is _kloop:
            # shared mode: the kernel's loop is already running; start() returns at once
            run.loop_started = True
            return None
        if run.threaded and self.asyncio_loop is run.loop:
            run.loop_started = True
            self.asyncio_loop.call_soon(run.on_serving)
    return _orig["ioloop_start"](self)


def _patched_ioloop_stop(self):
    run = _current_run.get()
    if run is not None and self.asyncio_loop is _kloop:
        # the app's stop callback: never stop the kernel's loop, note that the app stopped
        run.stop_reached = True
        return None
    return _orig["ioloop_stop"](self)


def _patched_ioloop_close(self, all_fds=False):
    run = _current_run.get()
    if run is not None and self.asyncio_loop is _kloop:
        return None
    if run is not None and run.threaded and self.asyncio_loop is run.loop and not run.loop_closing:
        # the app closes its own loop when its start() returns: the bridge closes it
        # after the connections it accepted are drained
        run.close_all_fds = run.close_all_fds or bool(all_fds)
        return None
    return _orig["ioloop_close"](self, all_fds)


def _patched_add_sockets(self, sockets):
    sockets = list(sockets)
    result = _orig["add_sockets"](self, sockets)
    run = _current_run.get()
    if run is not None:
        run.track_server(self, sockets)
    return result


def _patched_tcp_stop(self):
    # An app's server stops listening.  Connections already waiting in the listen
    # backlog reached the app: accept and serve them, for close() would reset them.
    if getattr(self, "_tl_bridge_run", None) is None or getattr(self, "_stopped", True) \
            or not isinstance(getattr(self, "_handlers", None), dict):
        return _orig["tcp_stop"](self)
    try:
        _accept_backlog(self)
    except Exception:
        pass
    self._stopped = True
    for fd, sock in list(self._sockets.items()):
        remove = self._handlers.pop(fd, None)
        if remove is not None:
            remove()
        for connection in _close_listening(sock):
            try:
                self._handle_connection(connection, _peer(connection))
            except Exception:
                connection.close()


def _peer(connection):
    try:
        return connection.getpeername()
    except OSError:
        return ("", 0)


def _accept_backlog(server):
    for sock in list(getattr(server, "_sockets", {}).values()):
        if sock.fileno() == -1 or sock.gettimeout() != 0.0:
            continue  # closed, or blocking (accept() would wait for a client)
        for _ in range(128):
            try:
                connection, address = sock.accept()
            except ConnectionAbortedError:
                continue
            except OSError:  # BlockingIOError: the backlog is empty
                break
            try:
                server._handle_connection(connection, address)
            except Exception:
                connection.close()


def _libc():
    """libc through ctypes.PyDLL (its calls keep the GIL), or None where unavailable."""
    if "libc" not in _orig:
        lib = None
        try:
            if os.name == "posix":
                import ctypes

                lib = ctypes.PyDLL(None, use_errno=True)
                lib.accept.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
                lib.accept.restype = ctypes.c_int
                lib.close.argtypes = [ctypes.c_int]
                lib.close.restype = ctypes.c_int
                lib.tl_errno = ctypes.get_errno
        except Exception:
            lib = None
        _orig["libc"] = lib
    return _orig["libc"]


def _close_listening(sock):
    """Close a listening socket; return the connections that were still in its backlog.

    A Python ``accept()`` lets go of the GIL: another thread may then hold it
    for milliseconds before ``close()`` runs, and a connection queued meanwhile
    would be reset by the close.  The last accepts and the close are made
    through libc with the GIL held, so that window is a few microseconds.
    """
    lib = _libc()
    fd = sock.fileno()
    if lib is None or fd == -1 or sock.family not in (socket.AF_INET, socket.AF_INET6) \
            or sock.gettimeout() != 0.0:  # a blocking accept() with the GIL held would hang the kernel
        sock.close()
        return []
    accepted = []
    try:
        while len(accepted) < 1024:
            new_fd = lib.accept(fd, None, None)
            if new_fd < 0:
                if lib.tl_errno() in (errno.EINTR, errno.ECONNABORTED):
                    continue
                break
            accepted.append(new_fd)
        sock.detach()
        lib.close(fd)
    except Exception:
        sock.close()
    connections = []
    for new_fd in accepted:
        try:
            connection = socket.socket(fileno=new_fd)
            connection.set_inheritable(False)
            connections.append(connection)
        except Exception:
            try:
                os.close(new_fd)
            except Exception:
                pass
    return connections


def _count_requests(server):
    """Count requests per HTTP connection of ``server`` (``_tl_requests`` on each), so a
    drain can tell an idle keep-alive connection from one still to send its first request."""
    if not isinstance(server, tornado.httpserver.HTTPServer) or "start_request" in vars(server):
        return
    original = server.start_request

    def start_request(server_conn, request_conn):
        try:
            server_conn._tl_requests = getattr(server_conn, "_tl_requests", 0) + 1
        except Exception:
            pass
        return original(server_conn, request_conn)

    try:
        server.start_request = start_request
    except Exception:
        pass


def _waiting_for_request(conn):
    """True when an HTTP connection sits between requests: no byte of a next request has arrived.

    Reads Tornado's IOStream internals defensively: when they are not there, the
    connection counts as busy and is only closed at the drain's deadline.
    """
    stream = getattr(conn, "stream", None)
    if stream is None or stream.closed():
        return True
    if getattr(stream, "_read_regex", None) is None or getattr(stream, "_read_buffer_size", 1):
        return False  # a request is being read or answered
    sock = getattr(stream, "socket", None)
    if sock is None:
        return True
    try:
        if getattr(sock, "pending", None) is not None and sock.pending():
            return False  # TLS: decrypted bytes waiting
        return not socket.socket.recv(sock, 1, socket.MSG_PEEK)  # b"": the client hung up
    except (BlockingIOError, InterruptedError):
        return True
    except Exception:
        return False


async def _drain(servers, app=None, timeout=DRAIN_TIMEOUT):
    """Let the connections of stopped HTTP servers finish; close each as soon as it is idle.

    Runs on the loop that serves those connections.  Requests already read are
    answered (by the old code), keep-alive connections are closed between
    requests, a just-accepted connection gets :data:`FRESH_GRACE` seconds to send
    its request; whatever still runs after ``timeout`` seconds is cut off.
    Returns how many connections were cut off.
    """
    servers = [s for s in servers if isinstance(s, tornado.httpserver.HTTPServer)]
    for server in servers:
        try:
            server.conn_params.no_keep_alive = True  # answers from now on end their connection
        except Exception:
            pass
    deadline = time.monotonic() + timeout
    idle_since = {}
    while True:
        conns = [c for s in servers for c in list(getattr(s, "_connections", ()))]
        if not conns:
            return 0
        now = time.monotonic()
        if now >= deadline:
            break
        for conn in conns:
            if _waiting_for_request(conn):
                since = idle_since.setdefault(conn, now)
                if getattr(conn, "_tl_requests", 0) > 1 or now - since >= FRESH_GRACE:
                    conn.stream.close()
            else:
                idle_since.pop(conn, None)
        await asyncio.sleep(0.005)
    for conn in conns:
        try:
            conn.stream.close()
        except Exception:
            pass
    await asyncio.sleep(0)  # let their serving loops end
    if app is not None:
        app._log("WARNING", "closed %d connection(s) still busy %g s after the app stopped" % (len(conns), timeout))
    return len(conns)


def _patched_autoreload_start(*args, **kwargs):
    run = _attributed_run()
    if run is not None:
        if not run.app._autoreload_warned:
            run.app._autoreload_warned = True
            run.app._log("WARNING", "autoreload is handled by tornado-launcher: tornado.autoreload stays off in the kernel")
    elif not _orig.get("autoreload_warned"):
        _orig["autoreload_warned"] = True
        _kernel_log("WARNING", "autoreload is handled by tornado-launcher: tornado.autoreload stays off in the kernel")


def _patched_autoreload_reload(*args, **kwargs):
    _kernel_log("WARNING", "tornado.autoreload tried to re-execute the kernel: refused")


def _patched_pretty_logging(*args, **kwargs):
    # tornado.options.parse_command_line() would add a stderr handler to the
    # root logger, which would print every record a second time.  The
    # launcher shows the records; only honour the level.
    options = args[0] if args else kwargs.get("options")
    level = getattr(options, "logging", None) if options is not None else None
    if isinstance(level, str) and level.upper() in LEVELS:
        logging.getLogger().setLevel(LEVELS[level.upper()])


def _patched_thread_start(self, *args, **kwargs):
    run = _current_run.get()
    if run is not None and getattr(self, "_tl_bridge_run", None) is None:
        target = getattr(self, "_target", None)
        # pool workers serve whoever submits next: do not pin them to an app
        if getattr(target, "__module__", "") not in ("concurrent.futures.thread",):
            self._tl_bridge_run = run
    return _orig["thread_start"](self, *args, **kwargs)


def _apply_patches():
    if _orig.get("applied"):
        return  # a second install after a failed first one: never wrap our own wrappers
    _orig["applied"] = True
    _orig["ioloop_start"] = BaseAsyncIOLoop.start
    _orig["ioloop_stop"] = BaseAsyncIOLoop.stop
    _orig["ioloop_close"] = BaseAsyncIOLoop.close
    BaseAsyncIOLoop.start = _patched_ioloop_start
    BaseAsyncIOLoop.stop = _patched_ioloop_stop
    BaseAsyncIOLoop.close = _patched_ioloop_close
    _orig["add_sockets"] = tornado.tcpserver.TCPServer.add_sockets
    tornado.tcpserver.TCPServer.add_sockets = _patched_add_sockets
    _orig["tcp_stop"] = tornado.tcpserver.TCPServer.stop
    tornado.tcpserver.TCPServer.stop = _patched_tcp_stop
    tornado.autoreload.start = _patched_autoreload_start
    tornado.autoreload._reload = _patched_autoreload_reload
    tornado.log.enable_pretty_logging = _patched_pretty_logging
    _orig["thread_start"] = threading.Thread.start
    threading.Thread.start = _patched_thread_start


# ---------------------------------------------------------------------------
# fresh-source imports for the project


def _norm(path):
    return os.path.normcase(os.path.realpath(path))


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from the source file on every import and writes no bytecode."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    def set_data(self, *args, **kwargs):
        pass


class _FreshSourceFinder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: modules under the project directory skip the .pyc cache.

    Python validates a .pyc by the source's mtime in whole seconds and its
    size: two quick edits of the same length would serve stale code.
    Dependencies outside the project (and venvs inside it) keep their cache.
    """

    def __init__(self, project_dir):
        self.project_dir = _norm(project_dir)
        self._excluded = {}

    def _is_project_file(self, path):
        path = _norm(path)
        root = self.project_dir
        if not path.startswith(root.rstrip(os.sep) + os.sep):
            return False
        directory = os.path.dirname(path)
        while len(directory) > len(root):
            cached = self._excluded.get(directory)
            if cached is None:
                base = os.path.basename(directory)
                cached = (base in ("site-packages", "dist-packages", "node_modules", "__pypackages__")
                          or os.path.exists(os.path.join(directory, "pyvenv.cfg")))
                self._excluded[directory] = cached
            if cached:
                return False
            directory = os.path.dirname(directory)
        return True

    def find_spec(self, fullname, path=None, target=None):
        # Only ever answer for the project's own source files; for anything
        # else return None so the usual finders (builtins, frozen, setuptools'
        # shims, editable installs) resolve it exactly as before.
        if self.project_dir is None or fullname in sys.builtin_module_names:
            return None
        try:
            if importlib.machinery.FrozenImporter.find_spec(fullname) is not None:
                return None
        except Exception:
            pass
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or not spec.has_location or not spec.origin:
            return None
        origin = spec.origin
        if not origin.endswith(".py") or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return None
        if not self._is_project_file(origin):
            return None
        origin = os.path.abspath(origin)
        loader = _FreshSourceLoader(fullname, origin)
        return importlib.util.spec_from_file_location(
            fullname, origin, loader=loader,
            submodule_search_locations=spec.submodule_search_locations)


_finder = None


def _install_finder(project_dir):
    global _finder
    if not project_dir:
        return
    if _finder is None:
        _finder = _FreshSourceFinder(project_dir)
    else:
        _finder.project_dir = _norm(project_dir)
        _finder._excluded.clear()
    if _finder in sys.meta_path:
        sys.meta_path.remove(_finder)
    sys.meta_path.insert(0, _finder)
    if not any(p and os.path.isdir(p) and _norm(p) == _norm(project_dir) for p in sys.path) \
            and not ("" in sys.path and _norm(os.getcwd()) == _norm(project_dir)):
        sys.path.append(project_dir)


def _project_modules():
    if _finder is None:
        return []
    names = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if name == __name__ or not path or not isinstance(path, str):
            continue
        try:
            if _finder._is_project_file(path):
                names.append(name)
        except Exception:
            pass
    return names


def _purge_modules(names):
    purged = []
    for name in names:
        for mod in list(sys.modules):
            if (mod == name or mod.startswith(name + ".")) and mod != __name__:
                sys.modules.pop(mod, None)
                purged.append(mod)
    importlib.invalidate_caches()
    return purged


def _import_object(dotted):
    if not isinstance(dotted, str) or "." not in dotted:
        raise ImportError("%r is not a dotted path like 'package.module.ClassName'" % (dotted,))
    module_name, _, attr = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # maybe a nested attribute: pkg.mod.Outer.Inner
        if "." not in module_name or exc.name != module_name:
            raise
        try:
            return getattr(_import_object(module_name), attr)
        except Exception:
            raise exc from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError("module %r has no attribute %r" % (module_name, attr)) from None


# ---------------------------------------------------------------------------
# apps


def _on_kernel_loop(fn, *args):
    """Run fn(*args) on the kernel's loop thread: now if we are on it, else soon."""
    if threading.get_ident() == _kloop_thread:
        fn(*args)
    else:
        _kloop.call_soon_threadsafe(fn, *args)


class _Run:
    """One start of one app: its servers, its loop, its thread, its context."""

    def __init__(self, app, threaded):
        self.app = app
        self.threaded = threaded
        self.servers = []  # [(server, [sockets])]
        self.obj = None
        self.loop = None
        self.io_loop = None
        self.thread = None
        self.loop_started = False
        self.stop_reached = False
        self.stop_requested = False
        self.error = None
        self.started_fut = None
        self.released_fut = None  # threaded: set once its listening sockets are closed (port free)
        self.ended_fut = None  # threaded: set once its thread is done (drained, loop closed)
        self.drain_task = None  # shared: the drain of its connections on the kernel's loop
        self.loop_closing = False
        self.close_all_fds = False
        self.ctx = contextvars.copy_context()
        self.ctx.run(_current_run.set, self)

    def in_ctx(self, fn, *args):
        return self.ctx.copy().run(fn, *args)

    def track_server(self, server, sockets):
        server._tl_bridge_run = self
        _count_requests(server)
        for entry in self.servers:
            if entry[0] is server:
                entry[1].extend(sockets)
                break
        else:
            self.servers.append((server, list(sockets)))
        if self.app._run is self and self.app.state == "running":
            # a server started after "running" was reported: tell the new URLs
            _on_kernel_loop(self.app._report_urls, self)

    def open_sockets(self):
        return [s for _, socks in self.servers for s in socks if s.fileno() != -1]

    def urls(self):
        urls = []
        for server, socks in self.servers:
            scheme = "https" if getattr(server, "ssl_options", None) else "http"
            for sock in socks:
                if sock.fileno() == -1:
                    continue
                try:
                    addr = sock.getsockname()
                except OSError:
                    continue
                if sock.family == socket.AF_INET:
                    host = addr[0]
                    if host in ("0.0.0.0", ""):
                        host = "127.0.0.1"
                elif sock.family == socket.AF_INET6:
                    host = addr[0]
                    if host in ("::", ""):
                        host = "127.0.0.1" if any(
                            s.family == socket.AF_INET and s.fileno() != -1 and s.getsockname()[1] == addr[1]
                            for _, ss in self.servers for s in ss) else "[::1]"
                    else:
                        host = "[%s]" % host
                else:
                    continue
                url = "%s://%s:%d/" % (scheme, host, addr[1])
                if url not in urls:
                    urls.append(url)
        return urls

    def close_servers(self):
        """Stop every tracked server still listening.  Call on the server's loop thread
        (or with that loop not running).  Returns how many were closed."""
        closed = 0
        for server, socks in self.servers:
            if all(s.fileno() == -1 for s in socks):
                continue
            closed += 1
            try:
                server.stop()
            except Exception:
                for s in socks:
                    try:
                        s.close()
                    except Exception:
                        pass
        return closed

    def on_serving(self):
        # called on the app's own loop once it runs (threaded mode)
        fut = self.started_fut
        _kloop.call_soon_threadsafe(lambda: fut.done() or fut.set_result("serving"))

    def _resolve(self, *futs):
        def resolve():
            for fut in futs:
                if not fut.done():
                    fut.set_result("ended")
        try:
            _kloop.call_soon_threadsafe(resolve)
        except RuntimeError:
            pass  # the kernel's loop is closing

    def drained(self):
        """An awaitable done once this run's accepted connections are served or closed."""
        if self.threaded:
            return asyncio.shield(self.ended_fut) if self.ended_fut is not None else None
        return asyncio.shield(self.drain_task) if self.drain_task is not None else None


class _AppLog:
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


class _BridgeApp:
    """What every bridge app shares: name, spec, state records, its log."""

    kind = "base"

    def __init__(self, name, spec=None, **kwargs):
        if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
            raise ValueError("app name %r is not a Python identifier" % (name,))
        spec = dict(spec or {})
        spec.update(kwargs)
        self.name = name
        self.spec = spec
        self.state = "stopped"
        self.threaded = bool(spec.get("threaded", False))
        self._autoreload_warned = False
        self.log = _AppLog(self)
        #: the app block's options as the config gave them (a user's subclass may take its own)
        self.options = dict(spec.get("options") or {})
        logger = spec.get("logger") or {}
        level = str(logger.get("level") or "INFO").upper()
        self.level = LEVELS.get(level, 20)
        self._suppress = []
        self._replace = []
        for pattern in logger.get("suppress_regex") or []:
            try:
                self._suppress.append(re.compile(pattern))
            except re.error as exc:
                self._log("WARNING", "suppress_regex %r ignored: %s" % (pattern, exc))
        for pair in logger.get("replace_regex") or []:
            try:
                frm, to = pair[0], pair[1]
                self._replace.append((re.compile(frm), to))
            except (re.error, IndexError, TypeError, KeyError) as exc:
                self._log("WARNING", "replace_regex %r ignored: %s" % (pair, exc))

    def __repr__(self):
        return "<%s %s: %s>" % (type(self).__name__, self.name, self.state)

    # -- records
    def _filter_line(self, line):
        for pattern in self._suppress:
            if pattern.search(line):
                return None
        for pattern, to in self._replace:
            try:
                line = pattern.sub(to, line)
            except (re.error, IndexError):
                pass
        return line

    def _log(self, level, message, traceback_text=None):
        if LEVELS.get(level, 20) < self.level:
            return
        _emit(_log_record(self.name, level, message, traceback_text=traceback_text))

    def _print_line(self, line, origin):
        line = self._filter_line(line)
        if line is None:
            return
        _emit(_log_record(self.name, "INFO" if origin == "stdout" else "WARNING", line,
                          logger=origin, origin=origin))

    def _set_state(self, state, reason=None, elapsed_ms=None, urls=(), urgent=None):
        """Record and report a state; settled states are sent at once (see _sender_main)."""
        self.state = state
        if urgent is None:
            urgent = state not in ("starting", "stopping")
        _emit({"type": "state", "app": self.name, "state": state, "reason": reason,
               "elapsed_ms": elapsed_ms, "urls": list(urls), "threaded": self.threaded}, urgent)

    def _logger_names(self):
        return ()

    def _retire(self):
        """Another app took this name: stop (the new one waits for that)."""
        self.stop()

    def _idle(self):
        """An awaitable done when this app has no command left to run."""
        fut = _kloop.create_future()
        fut.set_result(None)
        return fut


class WatchdogApp(_BridgeApp):
    """The in-kernel face of a watchdog app.

    The launcher watches the files and runs the handlers' code in the kernel;
    this object only reports running/stopped so ``start`` code that refers to
    it keeps working.
    """

    kind = "watchdog"

    def start(self):
        _on_kernel_loop(self._set_state, "running")

    def stop(self):
        _on_kernel_loop(self._set_state, "stopped")

    def restart(self):
        _on_kernel_loop(self._set_state, "running")


class TornadoBridgeApp(_BridgeApp):
    """Runs a Tornado application class in this kernel, on the kernel's loop or its own thread.

    ``spec``: ``{"app_class": "pkg.mod.Cls", "argv": [...], "threaded": bool,
    "clear_cache": [...] or None, "logger": {"level", "suppress_regex", "replace_regex"}}``.
    ``clear_cache`` None means: every module loaded from the project directory.

    Subclass and override :meth:`make_app` to construct an application class
    that does not follow the usual contract.
    """

    kind = "tornado"

    def __init__(self, name, spec=None, **kwargs):
        super().__init__(name, spec, **kwargs)
        self.app_class = self.spec.get("app_class")
        self.argv = [str(a) for a in (self.spec.get("argv") or self.spec.get("args") or [])]
        clear = self.spec.get("clear_cache")
        self.clear_cache = None if clear is None else [str(c) for c in clear]
        self.app = None  # the Tornado application object of the current run
        self._run = None
        self._pending = collections.deque()
        self._worker = None
        self._predecessor = None
        self._adopted_logger = None

    # -- public API: each returns at once; progress comes as state records
    def start(self):
        """Start the app (no-op when already starting or running)."""
        self._submit("start")

    def stop(self):
        """Stop the app; its port is free once the "stopped" record is sent."""
        self._submit("stop")

    def restart(self):
        """Stop, purge ``clear_cache`` modules, start.  Works after a failed start."""
        self._submit("restart")

    def handle_watchdog_event(self, event=None):
        """Restart for a file change (Jaffle's WatchdogApp contract).

        ``event``: a watchdog event or the launcher's dict (``src_path``,
        ``dest_path``, ...).  The log names the file that changed: for a move
        (an editor's atomic save renames a temporary file over the original)
        that is ``dest_path``; paths inside the project are shown relative to it.
        """
        self._submit("reload", _event_path(event))

    def set_threaded(self, flag):
        """Switch between the shared loop and an own thread; restarts a running app."""
        self._submit("set_threaded", bool(flag))

    def make_app(self, cls):
        """Construct the application: traitlets-style ``cls()`` + ``initialize(argv)``, else ``cls(argv)``."""
        if _is_traitlets_app(cls) or (callable(getattr(cls, "initialize", None)) and _takes_no_args(cls)):
            obj = cls()
            obj.initialize(list(self.argv))
            return obj
        return cls(list(self.argv))

    # -- command queue (kernel loop thread only)
    def _submit(self, cmd, arg=None):
        t0 = time.perf_counter()
        _on_kernel_loop(self._enqueue, cmd, arg, t0)

    def _enqueue(self, cmd, arg, t0):
        last = self._pending[-1][0] if self._pending else None
        if (cmd == "reload" and last in ("reload", "restart")) or (cmd == "restart" and last == "restart"):
            return  # a burst of file events: the restart already queued serves them all
        self._pending.append((cmd, arg, t0))
        if self._worker is None:
            self._worker = _kloop.create_task(self._work())

    async def _work(self):
        try:
            if self._predecessor is not None:
                try:
                    await self._predecessor._idle()
                except Exception:
                    pass
                self._predecessor = None
            while self._pending:
                cmd, arg, t0 = self._pending.popleft()
                try:
                    await getattr(self, "_do_" + cmd)(arg, t0)
                except Exception as exc:  # a bug of ours: say so, keep the kernel going
                    self._log("ERROR", "tornado-launcher bridge error during %s: %s" % (cmd, _one_line(exc)), _format_exc(exc))
        finally:
            self._worker = None

    def _retire(self):
        # the app that takes this name starts once the port is free, not after the drain
        self._submit("stop", "no-drain")

    def _idle(self):
        if self._worker is None:
            return super()._idle()
        return asyncio.shield(self._worker)

    async def _do_start(self, arg, t0):
        if self.state in ("running", "starting"):
            self._set_state(self.state, urls=self._run.urls() if self._run else ())
            return
        if self.state == "failed":
            self._purge()  # the user fixed the code and pressed start: do not serve the cached modules
        await self._start(t0)

    async def _do_stop(self, arg, t0):
        if self._run is not None:
            await self._stop(drain=arg != "no-drain")
        else:
            self._set_state("stopped")  # also when already stopped: whoever waits for it settles

    async def _do_restart(self, arg, t0):
        if self._run is not None:
            # the new app starts as soon as the old one's port is free; the old one
            # finishes the requests it accepted in the background
            await self._stop(drain=False, final=False)
        self._purge()
        await self._start(t0)

    async def _do_reload(self, path, t0):
        self._log("INFO", "%s changed: restarting" % (path,))
        await self._do_restart(None, t0)

    async def _do_set_threaded(self, flag, t0):
        if flag == self.threaded:
            self._set_state(self.state, urls=self._run.urls() if self._run else ())
            return
        if self._run is not None:
            await self._stop(drain=False, final=False)
            self.threaded = flag
            await self._start(t0)
        else:
            self.threaded = flag
            self._set_state(self.state)

    def _purge(self):
        names = self.clear_cache if self.clear_cache is not None else _project_modules()
        purged = _purge_modules(names)
        if purged:
            self._log("DEBUG", "purged %d modules: %s" % (len(purged), ", ".join(sorted(purged)[:20])))

    # -- start
    async def _start(self, t0):
        self._set_state("starting")
        run = _Run(self, self.threaded)
        self._run = run
        _update_levels()
        if self.threaded:
            await self._start_threaded(run, t0)
        else:
            await self._start_shared(run, t0)

    def _construct_and_start(self, run):
        cls = _import_object(self.app_class)
        obj = self.make_app(cls)
        run.obj = obj
        self.app = obj
        self._adopt_logger(obj)
        result = obj.start()
        if result is not None and hasattr(result, "__await__"):
            asyncio.ensure_future(result)

    async def _start_shared(self, run, t0):
        run.loop = _kloop
        run.io_loop = tornado.ioloop.IOLoop.current()
        try:
            run.in_ctx(self._construct_and_start, run)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            run.close_servers()
            self._failed(run, exc)
            return
        # let callbacks start() scheduled run before we look at the servers
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        if self._run is run and self.state == "starting":
            self._running(run, t0)

    async def _start_threaded(self, run, t0):
        run.started_fut = _kloop.create_future()
        run.released_fut = _kloop.create_future()
        run.ended_fut = _kloop.create_future()
        thread = threading.Thread(target=run.ctx.copy().run, args=(self._thread_main, run),
                                  name="tornado-launcher:%s" % self.name, daemon=True)
        thread._tl_bridge_run = run
        run.thread = thread
        thread.start()
        what = await asyncio.shield(run.started_fut)
        if what == "serving":
            self._running(run, t0)
            run.released_fut.add_done_callback(lambda _f: self._thread_ended(run))
        else:
            self._failed(run, run.error or RuntimeError("the app's thread ended before serving"))

    def _thread_main(self, run):
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        run.loop = loop
        try:
            run.io_loop = tornado.ioloop.IOLoop.current()
            try:
                self._construct_and_start(run)
                if not run.loop_started and not run.stop_requested:
                    # start() returned without running the loop: serve until stopped
                    run.loop_started = True
                    loop.call_soon(run.on_serving)
                    loop.run_forever()
            except (Exception, SystemExit) as exc:
                run.error = exc
        finally:
            try:
                run.close_servers()
            except Exception:
                pass
            if self._has_connections(run):
                # the port is free: a restart may start the next app while this thread
                # answers what the old app accepted
                run._resolve(run.started_fut, run.released_fut)
                try:
                    self._drain_thread_loop(run)
                except Exception:
                    pass
            # else nothing to drain: finish at once (the kernel hears of it when the
            # loop is closed, so no second thread competes for the GIL with the next start)
            try:
                pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
                for t in pending:
                    t.cancel()
                if pending:
                    loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
            except Exception:
                pass
            run.loop_closing = True
            try:
                run.io_loop.close(all_fds=run.close_all_fds) if run.io_loop is not None else loop.close()
            except Exception:
                try:
                    loop.close()
                except Exception:
                    pass
            asyncio.set_event_loop(None)
            run._resolve(run.started_fut, run.released_fut, run.ended_fut)

    @staticmethod
    def _has_connections(run):
        """Whether the stopped app's own loop still has connections (HTTP or any IOStream)."""
        for server, _ in run.servers:
            if getattr(server, "_connections", None):
                return True
        for fileobj, handler in list(getattr(run.io_loop, "handlers", {}).values()):
            if isinstance(getattr(handler, "__self__", None), tornado.iostream.BaseIOStream):
                return True
        return False

    def _drain_thread_loop(self, run):
        """On the app's own thread, its loop stopped: serve or close what it accepted, bounded."""
        loop = run.loop
        if loop is None or loop.is_closed():
            return
        task = loop.create_task(_drain([s for s, _ in run.servers], self))
        deadline = time.monotonic() + DRAIN_TIMEOUT + 1.0
        while not task.done() and time.monotonic() < deadline:
            try:
                loop.run_until_complete(task)
            except RuntimeError:
                continue  # something stopped the loop again (a late stop()): keep draining
            except Exception:
                break
        # streams no HTTPServer tracks (websockets, raw TCPServer connections): close them
        # while the loop still runs, so their close callbacks run in the old app
        streams = []
        for fileobj, handler in list(getattr(run.io_loop, "handlers", {}).values()):
            owner = getattr(handler, "__self__", None)
            if isinstance(owner, tornado.iostream.BaseIOStream) and owner not in streams:
                streams.append(owner)
        for stream in streams:
            try:
                stream.close()
            except Exception:
                pass
        try:
            loop.run_until_complete(asyncio.sleep(0.01 if streams else 0))
        except Exception:
            pass
        # what else is registered on the app's private loop is the app's: close its sockets
        # (plain int fds may be owned elsewhere: those are only unregistered)
        for fileobj, handler in list(getattr(run.io_loop, "handlers", {}).values()):
            if isinstance(fileobj, socket.socket):
                try:
                    fileobj.close()
                except Exception:
                    pass

    def _thread_ended(self, run):
        # the app's thread ended while we believed it running (it stopped itself or crashed)
        if self._run is run and not run.stop_requested:
            self._run = None
            self._flush_prints()
            if run.error is not None:
                self._failed(run, run.error, "the app's loop ended with an error")
            else:
                self._set_state("stopped", reason="the app's loop ended")

    def _running(self, run, t0):
        self._set_state("running", elapsed_ms=round((time.perf_counter() - t0) * 1000.0, 3), urls=run.urls())

    def _report_urls(self, run):
        if self._run is run and self.state == "running":
            self._set_state("running", urls=run.urls())

    def _failed(self, run, exc, what="start failed"):
        if self._run is run:
            self._run = None
        self._flush_prints()
        self._log("ERROR", "%s: %s" % (what, _one_line(exc)), _format_exc(exc))
        self._set_state("failed", reason=_one_line(exc))

    # -- stop
    async def _stop(self, drain=True, final=True):
        """Stop the current run; its port is free when this returns.

        ``drain``: also wait (at most :data:`DRAIN_TIMEOUT` s) until the requests the
        old app accepted are answered and its connections closed.  A restart does
        not wait: the old app drains in the background while the new one starts.
        ``final``: False within a restart, whose "stopped" is sent with its "running".
        """
        run = self._run
        self._set_state("stopping")
        run.stop_requested = True
        if run.threaded:
            released = await self._stop_threaded(run)
        else:
            await self._stop_shared(run)
            released = True
            run.drain_task = _kloop.create_task(_drain([s for s, _ in run.servers], self))
        if self._run is run:
            self._run = None
        self.app = None
        if drain and released:
            waiter = run.drained()
            if waiter is not None:
                try:
                    await asyncio.wait_for(waiter, DRAIN_TIMEOUT + 2.0)
                except (asyncio.TimeoutError, Exception):
                    pass
            # the thread said it is done; let it also have ended when "stopped" is sent
            deadline = time.monotonic() + 0.2
            while run.thread is not None and run.thread.is_alive() and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
        self._flush_prints()
        self._set_state("stopped", urgent=final)

    async def _stop_shared(self, run):
        fifo = _kloop.create_future()
        raised = False
        if run.obj is not None:
            try:
                run.in_ctx(run.obj.stop)
            except Exception as exc:
                raised = True
                self._log("ERROR", "stop() raised %s" % _one_line(exc), _format_exc(exc))
        # FIFO after the callback the app's stop() added: when ours runs, theirs ran
        run.io_loop.add_callback(lambda: fifo.done() or fifo.set_result(None))
        deadline = time.monotonic() + STOP_TIMEOUT
        try:
            await asyncio.wait_for(asyncio.shield(fifo), STOP_TIMEOUT)
        except asyncio.TimeoutError:
            pass
        if raised:
            n = run.close_servers()
            if n:
                self._log("WARNING", "closed %d server(s) of the app after its stop() raised" % n)
            return
        while not (run.stop_reached or not run.open_sockets()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if run.stop_reached or not run.open_sockets():
            run.close_servers()  # servers its stop() forgot
            return
        n = run.close_servers()
        self._log("WARNING", "stop() did not finish within %g s: closed %d server(s) by force" % (STOP_TIMEOUT, n))

    async def _stop_threaded(self, run):
        def call_stop():
            try:
                if run.obj is not None:
                    run.obj.stop()
                else:
                    run.loop.stop()
            except Exception as exc:
                self._log("ERROR", "stop() raised %s" % _one_line(exc), _format_exc(exc))
                run.loop.stop()

        if not run.released_fut.done():
            try:
                run.loop.call_soon_threadsafe(call_stop, context=run.ctx.copy())
            except RuntimeError:
                pass  # loop already closed
            try:
                await asyncio.wait_for(asyncio.shield(run.released_fut), STOP_TIMEOUT)
                return True
            except asyncio.TimeoutError:
                pass

            def force():
                run.close_servers()
                run.loop.stop()
            try:
                run.loop.call_soon_threadsafe(force)
            except RuntimeError:
                pass
            try:
                await asyncio.wait_for(asyncio.shield(run.released_fut), 1.0)
                self._log("WARNING", "stop() did not finish within %g s: stopped the app's loop by force" % STOP_TIMEOUT)
                return True
            except asyncio.TimeoutError:
                pass
            # the app's thread is stuck in blocking code: free the port and leave it
            for sock in run.open_sockets():
                try:
                    sock.close()
                except Exception:
                    pass
            self._log("WARNING", "stop() did not finish and the app's thread is blocked: closed its sockets, abandoned the thread")
            return False
        return True

    # -- logging helpers
    def _flush_prints(self):
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _StreamProxy):
                stream.flush_app(self)

    def _logger_names(self):
        names = []
        if isinstance(self.app_class, str) and "." in self.app_class:
            names.append(self.app_class.split(".", 1)[0])
        if self._adopted_logger:
            names.append(self._adopted_logger)
        return names

    def _adopt_logger(self, obj):
        """Route the app's own ``log`` (traitlets' has its own stderr handler) to us."""
        log = getattr(obj, "log", None)
        if not isinstance(log, logging.Logger) or log is logging.getLogger():
            return
        self._adopted_logger = log.name
        for handler in list(log.handlers):
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                log.removeHandler(handler)
        log.propagate = True
        log.setLevel(self.level)


def _event_path(event):
    """The path a file event is about, for the log: the destination of a move, else the source."""
    if event is None:
        return None
    if isinstance(event, dict):
        path = event.get("dest_path") or event.get("src_path") or event.get("path")
    else:
        path = getattr(event, "dest_path", None) or getattr(event, "src_path", None)
    if not path:
        return str(event)
    try:
        path = os.fsdecode(path)
    except Exception:
        return str(path)
    project = _settings.get("project_dir")
    if project and os.path.isabs(path):
        try:
            for p, root in ((os.path.abspath(path), os.path.abspath(project)),
                            (_norm(path), _norm(project))):  # the project dir may be a symlink
                if os.path.commonpath([p, root]) == root:
                    return os.path.relpath(p, root)
        except ValueError:
            pass  # another drive (Windows)
    return path


def _is_traitlets_app(cls):
    try:
        from traitlets.config import Application
    except Exception:
        return False
    return isinstance(cls, type) and issubclass(cls, Application)


def _takes_no_args(cls):
    import inspect

    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in sig.parameters.values())


def _update_levels():
    """Let records reach our handler at the levels the apps ask for."""
    tornado_apps = [a for a in _apps.values() if isinstance(a, TornadoBridgeApp)]
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


# ---------------------------------------------------------------------------
# entry points used by the launcher's cells


def create_app(name, kind, spec, namespace=None):
    """Bind ``name`` in ``namespace`` to a new bridge app; a running one of that name is stopped first."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError("app name %r is not a Python identifier" % (name,))
    spec = dict(spec or {})
    classes = {"tornado": TornadoBridgeApp, "watchdog": WatchdogApp}
    if kind not in classes:
        raise ValueError("unknown app kind %r (expected 'tornado' or 'watchdog')" % (kind,))
    cls = classes[kind]
    old = _apps.get(name)
    if old is None and namespace is not None and isinstance(namespace.get(name), _BridgeApp):
        old = namespace.get(name)
    try:
        if spec.get("class"):
            cls = _import_object(spec["class"])
            if not (isinstance(cls, type) and issubclass(cls, _BridgeApp)):
                raise TypeError("%s is not a subclass of TornadoBridgeApp or WatchdogApp" % spec["class"])
        app = cls(name, spec)
    except Exception as exc:
        _emit(_log_record(name, "ERROR", "cannot create the app: %s" % _one_line(exc), traceback_text=_format_exc(exc)))
        _emit({"type": "state", "app": name, "state": "failed", "reason": _one_line(exc),
               "elapsed_ms": None, "urls": [], "threaded": bool(spec.get("threaded"))}, True)
        raise
    if old is not None and old is not app:
        app._predecessor = old
        old._retire()
    _apps[name] = app
    if namespace is not None:
        namespace[name] = app
    _update_levels()
    if old is None or old.state in ("stopped", "failed"):
        app._set_state("stopped")
    return app


def create_app_from_json(payload, namespace=None):
    data = json.loads(payload)
    create_app(data["name"], data["kind"], data.get("spec") or {}, namespace)


def call(name, method, args=()):
    app = _apps.get(name)
    if app is None:
        raise NameError("no tornado-launcher app named %r in this kernel" % (name,))
    if not isinstance(method, str) or not method.isidentifier() or method.startswith("_"):
        raise ValueError("%r is not a public method name" % (method,))
    getattr(app, method)(*args)


def call_from_json(payload):
    data = json.loads(payload)
    call(data["name"], data["method"], data.get("args") or [])


def apps():
    return dict(_apps)


def purge_from_json(payload):
    """A WatchdogApp handler's ``clear_cache``: drop those modules (and submodules)."""
    return _purge_modules(json.loads(payload)["names"])


def _register_aliases():
    """Let code written for Jaffle (``jaffle.app.tornado.TornadoBridgeApp``) import."""
    def available(name):
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    def package(name):
        mod = types.ModuleType(name)
        mod.__path__ = []
        mod.__package__ = name
        sys.modules[name] = mod
        return mod

    if "jaffle" not in sys.modules and not available("jaffle"):
        jaffle = package("jaffle")
        app = package("jaffle.app")
        jaffle.app = app
        tornado_mod = types.ModuleType("jaffle.app.tornado")
        tornado_mod.TornadoBridgeApp = TornadoBridgeApp
        watchdog_mod = types.ModuleType("jaffle.app.watchdog")
        watchdog_mod.WatchdogApp = WatchdogApp
        sys.modules["jaffle.app.tornado"] = app.tornado = tornado_mod
        sys.modules["jaffle.app.watchdog"] = app.watchdog = watchdog_mod
    if "tornado_launcher" not in sys.modules and not available("tornado_launcher"):
        tl = package("tornado_launcher")
        bridge = types.ModuleType("tornado_launcher.bridge")
        bridge.TornadoBridgeApp = TornadoBridgeApp
        bridge.WatchdogApp = WatchdogApp
        sys.modules["tornado_launcher.bridge"] = tl.bridge = bridge


def _guard_kernel_loop_stop(loop):
    """An app calling ``asyncio.get_event_loop().stop()`` must not stop the kernel's loop either."""
    original = loop.stop

    def stop():
        run = _current_run.get()
        if run is not None:
            run.stop_reached = True
            return None
        return original()

    try:
        loop.stop = stop
    except (AttributeError, TypeError):
        pass  # a loop type that refuses instance attributes: IOLoop.stop is still guarded


def _drop_console_handlers(logger):
    """Remove handlers that print a logger's records to the process's own stdout/stderr.

    ipykernel puts a StreamHandler on "tornado" that writes to the real
    stderr: with the levels lowered for the apps, every access line would
    also land in the kernel's raw output.  Our root handler sees them all.
    """
    consoles = {id(s) for s in (sys.__stderr__, sys.__stdout__, sys.stderr, sys.stdout) if s is not None}
    for handler in list(logger.handlers):
        if type(handler) is logging.StreamHandler and (
                id(getattr(handler, "stream", None)) in consoles
                or isinstance(getattr(handler, "stream", None), _StreamProxy)):
            logger.removeHandler(handler)


def _hello():
    return {"type": "hello", "pid": os.getpid(), "python": sys.executable,
            "tornado": tornado.version, "kernel": _settings.get("kernel"),
            "bridge": BRIDGE_VERSION, "project_dir": _settings.get("project_dir")}


def install(settings=None):
    """Set the bridge up in this kernel (idempotent: a second call updates settings, says hello again)."""
    global _installed, _kloop, _kloop_thread, _comm
    settings = dict(settings or {})
    _settings.update(settings)
    _install_finder(_settings.get("project_dir"))
    if _installed:
        if _comm is not None:
            _emit(_hello(), True)
        return
    try:
        _kloop = asyncio.get_running_loop()
    except RuntimeError:
        _kloop = tornado.ioloop.IOLoop.current().asyncio_loop
    _kloop_thread = threading.get_ident()
    _apply_patches()
    _guard_kernel_loop_stop(_kloop)
    root = logging.getLogger()
    if not any(isinstance(h, _BridgeHandler) for h in root.handlers):
        root.addHandler(_BridgeHandler())
    _drop_console_handlers(logging.getLogger("tornado"))
    if not isinstance(sys.stdout, _StreamProxy) and sys.stdout is not None:
        sys.stdout = _StreamProxy(sys.stdout, "stdout")
    if not isinstance(sys.stderr, _StreamProxy) and sys.stderr is not None:
        sys.stderr = _StreamProxy(sys.stderr, "stderr")
    try:
        import comm as _comm_mod

        _comm = _comm_mod.create_comm(target_name=COMM_TARGET, data={"events": [_hello()]})
    except Exception as exc:
        _comm = None
        sys.__stderr__.write("tornado-launcher: cannot open the events comm: %s\n" % exc)
    threading.Thread(target=_sender_main, name="tornado-launcher-events", daemon=True).start()
    _register_aliases()
    _installed = True
