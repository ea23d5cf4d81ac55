"""What the bridge patches in tornado, asyncio and threading, and the originals it keeps.

* ``IOLoop.start/stop/close`` of an app never touch the kernel's loop (shared
  mode); in threaded mode the bridge closes the app's loop after the drain;
* ``TCPServer.add_sockets`` tells the current run of the servers an app opens,
  ``TCPServer.stop`` serves the listen backlog instead of resetting it (a
  server's share of a pooled socket just stops accepting: the queue is the next run's);
* ``netutil.bind_sockets`` / ``bind_unix_socket`` in an app's run answer from
  the app's :data:`servers.pool` (the socket stays bound across restarts);
* ``WebSocketHandler`` instances are noted in the run that made them (closed
  with 1012 when the next run serves); from the moment the next run may accept,
  their messages wait (dropped once closed, answered if the next run does not
  start) and an upgrade in the old run is closed instead of opening, and
  ``TCPServer._handle_connection`` of the old run's HTTP servers holds what they
  accept for the next run (``drain.freeze``);
* ``tornado.autoreload`` stays off (the launcher reloads), ``enable_pretty_logging``
  only sets the level (no second handler);
* ``asyncio.set_event_loop`` of a new loop in a threaded app's main before it blocks makes that
  loop the app's (:meth:`~.scope.AppScope.adopt_loop`; jupyter_core's ``launch_instance``);
* ``Thread.start`` carries the app's run (and scope, and context) into threads the app starts;
* the kernel loop's ``stop()`` / ``run_forever()`` / ``run_until_complete()``
  are guarded too, and a task factory tracks each app's tasks (:func:`guard_loop`);
* for apps started from their own entry point (an :class:`~.scope.AppScope`):
  the blocking calls (``asyncio.run`` and 3.11's ``asyncio.Runner``, ``IOLoop.start/stop``, the kernel loop's
  ``run_forever`` / ``run_until_complete`` / ``stop``) are the scope's
  (``appstop.ProcessMain``: they block the app's main, never the kernel's loop);
  signals, atexit, exits, singletons and multi-process starts are ``appprocess``'
  patches (applied from :func:`apply`); ``parse_command_line()`` and ``argparse`` read the app's argv;
  ``logging.basicConfig`` in an app keeps the bridge's routing (only the level is honoured).

One set of patches: each asks first whether scoped code runs (the entry-point
apps), then whether a contract app's run does, else defers to the original.
:data:`patches` holds the originals; applying twice never wraps our own wrappers.
"""

import argparse
import asyncio
import contextvars
import functools
import logging
import socket
import threading
import weakref

import tornado.autoreload
import tornado.ioloop
import tornado.log
import tornado.netutil
import tornado.options
import tornado.tcpserver
import tornado.websocket
from tornado.platform.asyncio import BaseAsyncIOLoop

from .. import protocol
from . import appprocess, state
from . import options as scoped_options
from .attribution import attributed_run
from .drain import WS_RESTART, accept_backlog, close_listening, hold_message, holds, peer, refusal
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
        self.asyncio_run = None
        self.runner_lazy_init = self.runner_run = self.runner_close = None  # asyncio.Runner's
        self.set_event_loop = None
        self.parse_command_line = None
        self.parse_known_args = None
        self.basic_config = None
        #: loop -> the task factory it had before ours
        self.factories = weakref.WeakKeyDictionary()
        self.bind_sockets = None
        self.bind_unix_socket = None
        self.websocket_init = None
        self.websocket_protocol = None
        self.ws_handle_message = None
        self.handle_connection = None
        #: the kernel's own code tried tornado.autoreload.start() (warned once)
        self.autoreload_warned = False


patches = Patches()


def _ioloop_start(self):
    scope = state.current_scope()
    if scope is not None and self.asyncio_loop is scope.loop:
        if not scope.threaded:
            return scope.blocking_start()  # the kernel's loop already runs: blocks the app's main only
        scope.loop_started = True
        self.asyncio_loop.call_soon(scope.serving)
        scope.release_argv()
        return scope.threaded_blocking(lambda: patches.ioloop_start(self))
    run = state.current_run.get()
    if run is not None:
        if self.asyncio_loop is state.kernel.loop:
            # shared mode: the kernel's loop is already running; on a contract app's main thread
            # (mainthread.ContractMain) start() blocks that thread until the app stops the loop, elsewhere
            # it returns at once
            run.loop_started = True
            main = _contract_main(run)
            return main.block() if main is not None else None
        if run.threaded and self.asyncio_loop is run.loop:
            run.loop_started = True
            self.asyncio_loop.call_soon(run.on_serving)
    return patches.ioloop_start(self)


def _contract_main(run):
    """The run's ``mainthread.ContractMain`` when this thread is its main, else None."""
    main = getattr(run, "main", None)
    return main if main is not None and main.here() else None


def _ioloop_stop(self):
    scope = state.current_scope()
    if scope is not None and not scope.threaded and self.asyncio_loop is scope.loop:
        return scope.loop_stop_called("the app stopped its IOLoop")
    run = state.current_run.get()
    if run is not None and self.asyncio_loop is state.kernel.loop:
        # the app's stop callback: never stop the kernel's loop, note that the app stopped
        run.stop_reached = True
        if getattr(run, "main", None) is not None:
            run.main.loop_stopped()  # its main's IOLoop.start() returns
        return None
    return patches.ioloop_stop(self)


def _ioloop_close(self, all_fds=False):
    scope = state.current_scope()
    if scope is not None and self.asyncio_loop is scope.loop:
        return None  # the scope closes its loop (threaded) or never (the kernel's)
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
        run.track_server(self, sockets)  # a scope shares its run's servers
    else:
        scope = state.current_scope()
        if scope is not None:
            scope.servers.track(self, sockets)
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
        self._tl_bridge_run = run


def _websocket_protocol(self):
    # the upgrade (no await from here to open()): in a run whose websockets were closed, or
    # whose successor accepts, the websocket gets the close frame instead of the old open()
    proto = patches.websocket_protocol(self)
    run = getattr(self, "_tl_bridge_run", None)
    if proto is not None and run is not None and refusal(run) is not None:
        self.open = functools.partial(_refused_open, run, proto)
        self.on_close = _refused_on_close
    return proto


def _refused_open(run, proto, *args, **kwargs):
    run.closing_websockets.append(proto)  # the drain cuts it off at its bound
    proto.close(*(refusal(run) or (WS_RESTART, "the app restarted: reconnect for the new code")))


def _refused_on_close():
    pass  # the old app never saw this websocket open


def _ws_handle_message(self, opcode, data):
    run = getattr(getattr(self, "handler", None), "_tl_bridge_run", None)
    if run is not None and opcode in (0x1, 0x2) and not self.client_terminated:
        if run.ws_closing is not None and self.server_terminated:
            return None  # after the hand-over's close frame the old code answers nothing
        if run.frozen and not run.handed_over:
            return hold_message(run, self, opcode, data, patches.ws_handle_message)
    return patches.ws_handle_message(self, opcode, data)


def _handle_connection(self, connection, address):
    # a connection an old run's server accepted once its successor may accept: the
    # hand-over gives it to the successor (drain.pass_held)
    run = getattr(self, "_tl_bridge_run", None)
    if run is not None and holds(run, self):
        run.held_connections.append((patches.handle_connection, self, connection, address))
        return None
    return patches.handle_connection(self, connection, address)


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
            run.app._log("WARNING",
                         "autoreload is handled by tornado-launcher: tornado.autoreload stays off in the kernel")
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
    scope = state.scope_var.get()
    if scope is not None and getattr(self, "_tl_entry_scope", None) is None \
            and getattr(getattr(self, "_target", None), "__module__", "") != "concurrent.futures.thread":
        self._tl_entry_scope = scope
        scope.threads.add(self)
        ctx = contextvars.copy_context()
        self.run = functools.partial(ctx.run, self.run)  # the app's options, argv, logs in its threads
    run = state.current_run.get()
    if run is not None and getattr(self, "_tl_bridge_run", None) is None:
        target = getattr(self, "_target", None)
        # pool workers serve whoever submits next: do not pin them to an app
        if getattr(target, "__module__", "") not in ("concurrent.futures.thread",):
            self._tl_bridge_run = run
    return patches.thread_start(self, *args, **kwargs)


def _main_scope():
    """The app's scope when its main (not a callback) calls ``asyncio.run`` here, else None."""
    scope = state.current_scope()
    if scope is None or scope.loop is None:
        return None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if not scope.threaded and (running is scope.loop or (running is None and scope.main_thread is not None
                                                         and scope.main_thread.here())):
        return scope  # (a shared main has no loop running once a blocking call returned)
    if scope.threaded and running is None and threading.get_ident() == scope.thread_id:
        return scope
    return None


def _asyncio_run(main, *, debug=None):
    scope = _main_scope()
    if scope is not None:
        return _scoped_run(scope, main)
    return patches.asyncio_run(main, debug=debug)


def _scoped_run(scope, main):
    if not scope.threaded:
        return scope.blocking_run(main)
    return scope.run_until(scope.adopt_main(main))


# Python 3.11's asyncio.Runner (``with Runner() as r: r.run(main())``, dask's way) in an app's
# main is asyncio.run: its loop is the scope's, run() is the scope's blocking run, close() closes
# nothing of the scope's (the scope ends its own loop).
def _runner_adopt(self):
    """A Runner not yet initialised, made in an app's main: its loop is the scope's."""
    if getattr(self, "_tl_scope", None) is None and getattr(getattr(self, "_state", None), "name", "") == "CREATED":
        scope = _main_scope()
        if scope is not None:
            self._tl_scope = scope
            self._loop = scope.loop
            self._context = contextvars.copy_context()
            self._state = type(self._state).INITIALIZED
    return getattr(self, "_tl_scope", None)


def _runner_lazy_init(self):
    if _runner_adopt(self) is None:
        return patches.runner_lazy_init(self)
    if self._state.name == "CLOSED":
        raise RuntimeError("Runner is closed")
    return None


def _runner_run(self, coro, *, context=None):
    scope = _runner_adopt(self)
    if scope is None:
        return patches.runner_run(self, coro, context=context)
    if self._state.name == "CLOSED":
        raise RuntimeError("Runner is closed")
    return _scoped_run(scope, coro)


def _runner_close(self):
    if getattr(self, "_tl_scope", None) is None:
        return patches.runner_close(self)
    self._state = type(self._state).CLOSED
    self._loop = None
    return None


def _set_event_loop(loop):
    scope = state.current_scope()
    adopt = scope is not None and scope.threaded and loop is not None and scope.loop is not None \
        and loop is not scope.loop and threading.get_ident() == scope.thread_id and not scope.loop_started \
        and scope.main_task is None and not loop.is_running() and not loop.is_closed()
    if adopt:
        scope.adopt_loop(loop)
    result = patches.set_event_loop(loop)
    if adopt:
        scope.io_loop = tornado.ioloop.IOLoop.current()
    return result


def _parse_command_line(self, args=None, final=True):
    scope = state.current_scope()
    if args is None and scope is not None:
        args = scope.full_argv()
    return patches.parse_command_line(self, args, final)


def _parse_known_args(self, args=None, namespace=None):
    scope = state.current_scope()
    if args is None and scope is not None:
        args = scope.full_argv()[1:]
    return patches.parse_known_args(self, args, namespace)


def _basic_config(**kwargs):
    # logging.basicConfig(force=True) in an app would remove the bridge's root handler,
    # and a StreamHandler would print every record a second time: honour the level only
    if attributed_run() is None and state.current_scope() is None:
        return patches.basic_config(**kwargs)
    level = kwargs.get("level")
    if level is not None:
        try:
            logging.getLogger().setLevel(level)
        except (TypeError, ValueError):
            pass
    return None


def _task_factory(loop, coro, context=None):
    previous = patches.factories.get(loop)
    if previous is not None:
        task = previous(loop, coro, context=context) if context is not None else previous(loop, coro)
    else:
        task = asyncio.Task(coro, loop=loop, context=context)
    scope = context.get(state.scope_var) if context is not None else state.scope_var.get()
    if scope is not None:
        scope.tasks.add(task)
    return task


def _kernel_scope(loop):
    scope = state.current_scope()
    if scope is not None and not scope.threaded and loop is scope.loop:
        return scope
    return None


def guard_loop(loop):
    """Track the apps' tasks on ``loop``; on a loop already running (the kernel's), an app's
    ``run_forever`` / ``run_until_complete`` / ``stop`` behave as ``IOLoop.start`` /
    ``asyncio.run`` / ``IOLoop.stop`` do, and never stop the kernel's loop."""
    if loop in patches.factories:
        return
    patches.factories[loop] = loop.get_task_factory()
    loop.set_task_factory(_task_factory)
    if not loop.is_running():
        return  # only a loop we do not own gets instance patches
    run_forever, run_until_complete, stop, close = loop.run_forever, loop.run_until_complete, loop.stop, loop.close

    def guarded_run_forever():
        scope = _kernel_scope(loop)
        if scope is None:
            main = _contract_main(state.current_run.get())
            return main.block() if main is not None else run_forever()
        return scope.blocking_start()

    def guarded_run_until_complete(future):
        scope = _kernel_scope(loop)
        if scope is None or not loop.is_running():
            return run_until_complete(future)
        return scope.blocking_until(future)

    def guarded_stop():
        scope = _kernel_scope(loop)
        if scope is not None:
            return scope.loop_stop_called("the app stopped the event loop")
        run = state.current_run.get()
        if run is not None:  # a contract app's asyncio.get_event_loop().stop()
            run.stop_reached = True
            if getattr(run, "main", None) is not None:
                run.main.loop_stopped()
            return None
        return stop()

    def guarded_close():
        if _kernel_scope(loop) is not None:
            return None  # an app's teardown closes "its" loop: the kernel's goes on
        return close()

    try:
        loop.run_forever = guarded_run_forever
        loop.run_until_complete = guarded_run_until_complete
        loop.stop = guarded_stop
        loop.close = guarded_close
    except (AttributeError, TypeError):
        pass  # a loop type that refuses instance attributes: IOLoop.stop is still guarded


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
    patches.handle_connection = tornado.tcpserver.TCPServer._handle_connection
    tornado.tcpserver.TCPServer._handle_connection = _handle_connection
    patches.bind_sockets = tornado.netutil.bind_sockets
    tornado.netutil.bind_sockets = _bind_sockets
    tornado.tcpserver.bind_sockets = _bind_sockets
    if hasattr(tornado.netutil, "bind_unix_socket"):
        patches.bind_unix_socket = tornado.netutil.bind_unix_socket
        tornado.netutil.bind_unix_socket = _bind_unix_socket
    patches.websocket_init = tornado.websocket.WebSocketHandler.__init__
    tornado.websocket.WebSocketHandler.__init__ = _websocket_init
    patches.websocket_protocol = tornado.websocket.WebSocketHandler.get_websocket_protocol
    tornado.websocket.WebSocketHandler.get_websocket_protocol = _websocket_protocol
    patches.ws_handle_message = tornado.websocket.WebSocketProtocol13._handle_message
    tornado.websocket.WebSocketProtocol13._handle_message = _ws_handle_message
    tornado.autoreload.start = _autoreload_start
    tornado.autoreload._reload = _autoreload_reload
    tornado.log.enable_pretty_logging = _pretty_logging
    patches.thread_start = threading.Thread.start
    threading.Thread.start = _thread_start
    patches.asyncio_run = asyncio.run
    asyncio.run = _asyncio_run
    patches.set_event_loop = asyncio.set_event_loop
    asyncio.set_event_loop = _set_event_loop
    runner = getattr(asyncio, "Runner", None)  # Python 3.11+
    if runner is not None:
        patches.runner_lazy_init, patches.runner_run, patches.runner_close = \
            runner._lazy_init, runner.run, runner.close
        runner._lazy_init, runner.run, runner.close = _runner_lazy_init, _runner_run, _runner_close
    patches.parse_command_line = tornado.options.OptionParser.parse_command_line
    tornado.options.OptionParser.parse_command_line = _parse_command_line
    patches.parse_known_args = argparse.ArgumentParser.parse_known_args
    argparse.ArgumentParser.parse_known_args = _parse_known_args
    patches.basic_config = logging.basicConfig
    logging.basicConfig = _basic_config
    scoped_options.install()
    appprocess.apply()  # signals, atexit, exits, singletons, one process: per app
