"""What the bridge patches in tornado, asyncio and threading, and the originals it keeps.

* ``IOLoop.start/stop/close`` of an app never touch the kernel's loop (shared
  mode); in threaded mode the bridge closes the app's loop after the drain;
* ``TCPServer.add_sockets`` tells the current run of the servers an app opens,
  ``TCPServer.stop`` serves the listen backlog instead of resetting it (a
  server's share of a pooled socket just stops accepting: the queue is the next run's);
* ``netutil.bind_sockets`` / ``bind_unix_socket`` in an app's run answer from
  the app's :data:`servers.pool` (the socket stays bound across restarts);
* ``WebSocketHandler`` instances are noted in the run that made them (closed
  with 1012 when the next run serves);
* ``tornado.autoreload`` stays off (the launcher reloads), ``enable_pretty_logging``
  only sets the level (no second handler);
* ``Thread.start`` carries the app's run into threads the app starts;
* the kernel loop's ``stop()`` is guarded too (:func:`guard_kernel_loop_stop`).

:data:`patches` holds the originals; applying twice never wraps our own wrappers.
"""

import logging
import threading

import socket

import tornado.autoreload
import tornado.log
import tornado.netutil
import tornado.tcpserver
import tornado.websocket
from tornado.platform.asyncio import BaseAsyncIOLoop

from .. import protocol
from . import state
from .attribution import attributed_run
from .drain import accept_backlog, close_listening, peer
from .records import kernel_log
from .servers import pool


class Patches:
    """The originals of what the bridge replaced, and whether it did."""

    def __init__(self):
        self.applied = False
        self.ioloop_start = None
        self.ioloop_stop = None
        self.ioloop_close = None
        self.add_sockets = None
        self.tcp_stop = None
        self.thread_start = None
        self.bind_sockets = None
        self.bind_unix_socket = None
        self.websocket_init = None
        #: the kernel's own code tried tornado.autoreload.start() (warned once)
        self.autoreload_warned = False


patches = Patches()


def _ioloop_start(self):
    run = state.current_run.get()
    if run is not None:
        if self.asyncio_loop is state.kernel.loop:
            # shared mode: the kernel's loop is already running; start() returns at once
            run.loop_started = True
            return None
        if run.threaded and self.asyncio_loop is run.loop:
            run.loop_started = True
            self.asyncio_loop.call_soon(run.on_serving)
    return patches.ioloop_start(self)


def _ioloop_stop(self):
    run = state.current_run.get()
    if run is not None and self.asyncio_loop is state.kernel.loop:
        # the app's stop callback: never stop the kernel's loop, note that the app stopped
        run.stop_reached = True
        return None
    return patches.ioloop_stop(self)


def _ioloop_close(self, all_fds=False):
    run = state.current_run.get()
    if run is not None and self.asyncio_loop is state.kernel.loop:
        return None
    if run is not None and run.threaded and self.asyncio_loop is run.loop and not run.loop_closing:
        # the app closes its own loop when its start() returns: the bridge closes it
        # after the connections it accepted are drained
        run.close_all_fds = run.close_all_fds or bool(all_fds)
        return None
    return patches.ioloop_close(self, all_fds)


def _add_sockets(self, sockets):
    sockets = list(sockets)
    result = patches.add_sockets(self, sockets)
    run = state.current_run.get()
    if run is not None:
        run.track_server(self, sockets)
    return result


def _bind_sockets(port, address=None, family=socket.AF_UNSPEC, *args, **kwargs):
    run = state.current_run.get()
    if run is None or not port:
        return patches.bind_sockets(port, address, family, *args, **kwargs)
    key = (int(family), address or "", int(port))
    run.pool_keys.add(key)
    return pool.get(run.app.name, key, lambda: patches.bind_sockets(port, address, family, *args, **kwargs))


def _bind_unix_socket(file, *args, **kwargs):
    run = state.current_run.get()
    if run is None:
        return patches.bind_unix_socket(file, *args, **kwargs)
    key = (int(socket.AF_UNIX), str(file), 0)
    run.pool_keys.add(key)
    return pool.get(run.app.name, key, lambda: [patches.bind_unix_socket(file, *args, **kwargs)])[0]


def _websocket_init(self, *args, **kwargs):
    patches.websocket_init(self, *args, **kwargs)
    run = state.current_run.get()
    if run is not None:
        run.websockets.add(self)


def _tcp_stop(self):
    # An app's server stops listening.  Connections already waiting in the listen
    # backlog reached the app: accept and serve them, for close() would reset them.
    if getattr(self, "_tl_bridge_run", None) is None or getattr(self, "_stopped", True) \
            or not isinstance(getattr(self, "_handlers", None), dict):
        return patches.tcp_stop(self)
    if not all(pool.pooled(s) for s in self._sockets.values()):
        try:
            accept_backlog(self)
        except Exception:
            pass
    self._stopped = True
    for fd, sock in list(self._sockets.items()):
        remove = self._handlers.pop(fd, None)
        if remove is not None:
            remove()
        if pool.pooled(sock):
            sock.close()  # our own fd only: the listen queue is the next run's (or closed at release)
            continue
        for connection in close_listening(sock):
            try:
                self._handle_connection(connection, peer(connection))
            except Exception:
                connection.close()


def _autoreload_start(*args, **kwargs):
    run = attributed_run()
    if run is not None:
        if not run.app._autoreload_warned:
            run.app._autoreload_warned = True
            run.app._log("WARNING", "autoreload is handled by tornado-launcher: tornado.autoreload stays off in the kernel")
    elif not patches.autoreload_warned:
        patches.autoreload_warned = True
        kernel_log("WARNING", "autoreload is handled by tornado-launcher: tornado.autoreload stays off in the kernel")


def _autoreload_reload(*args, **kwargs):
    kernel_log("WARNING", "tornado.autoreload tried to re-execute the kernel: refused")


def _pretty_logging(*args, **kwargs):
    # tornado.options.parse_command_line() would add a stderr handler to the
    # root logger, which would print every record a second time.  The
    # launcher shows the records; only honour the level.
    options = args[0] if args else kwargs.get("options")
    level = getattr(options, "logging", None) if options is not None else None
    if isinstance(level, str) and level.upper() in protocol.LEVELS:
        logging.getLogger().setLevel(protocol.LEVELS[level.upper()])


def _thread_start(self, *args, **kwargs):
    run = state.current_run.get()
    if run is not None and getattr(self, "_tl_bridge_run", None) is None:
        target = getattr(self, "_target", None)
        # pool workers serve whoever submits next: do not pin them to an app
        if getattr(target, "__module__", "") not in ("concurrent.futures.thread",):
            self._tl_bridge_run = run
    return patches.thread_start(self, *args, **kwargs)


def apply():
    if patches.applied:
        return  # a second install after a failed first one: never wrap our own wrappers
    patches.applied = True
    patches.ioloop_start = BaseAsyncIOLoop.start
    patches.ioloop_stop = BaseAsyncIOLoop.stop
    patches.ioloop_close = BaseAsyncIOLoop.close
    BaseAsyncIOLoop.start = _ioloop_start
    BaseAsyncIOLoop.stop = _ioloop_stop
    BaseAsyncIOLoop.close = _ioloop_close
    patches.add_sockets = tornado.tcpserver.TCPServer.add_sockets
    tornado.tcpserver.TCPServer.add_sockets = _add_sockets
    patches.tcp_stop = tornado.tcpserver.TCPServer.stop
    tornado.tcpserver.TCPServer.stop = _tcp_stop
    patches.bind_sockets = tornado.netutil.bind_sockets
    tornado.netutil.bind_sockets = _bind_sockets
    tornado.tcpserver.bind_sockets = _bind_sockets
    if hasattr(tornado.netutil, "bind_unix_socket"):
        patches.bind_unix_socket = tornado.netutil.bind_unix_socket
        tornado.netutil.bind_unix_socket = _bind_unix_socket
    patches.websocket_init = tornado.websocket.WebSocketHandler.__init__
    tornado.websocket.WebSocketHandler.__init__ = _websocket_init
    tornado.autoreload.start = _autoreload_start
    tornado.autoreload._reload = _autoreload_reload
    tornado.log.enable_pretty_logging = _pretty_logging
    patches.thread_start = threading.Thread.start
    threading.Thread.start = _thread_start


def guard_kernel_loop_stop(loop):
    """An app calling ``asyncio.get_event_loop().stop()`` must not stop the kernel's loop either."""
    original = loop.stop

    def stop():
        run = state.current_run.get()
        if run is not None:
            run.stop_reached = True
            return None
        return original()

    try:
        loop.stop = stop
    except (AttributeError, TypeError):
        pass  # a loop type that refuses instance attributes: IOLoop.stop is still guarded
