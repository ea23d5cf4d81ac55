"""One start of one app from its own entry point: an :class:`AppScope` (issue 10).

``AppScope(name, argv, threaded, context, servers)``, on the kernel's loop::

    serving = await scope.start(entry)   # True: it serves; False: it already ended
                                         # (scope.outcome says why); raises what its start raised
    scope.urls()                         # from the sockets it really bound
    outcome = await scope.stop()         # everything it started is closed or cancelled; port free
    scope.ended                          # concurrent.futures.Future -> Outcome, however it ends
    scope.leftovers()                    # what could not be stopped (threads still alive)

``Outcome(requested, error, reason)``: ``requested`` True when :meth:`AppScope.stop`
ended it; otherwise the app ended on its own (its ``main()`` returned or raised,
it stopped its IOLoop, it called ``sys.exit``); ``error`` is the exception
(None for a clean end), ``reason`` a one-line sentence.

Shared mode (the kernel's running loop): the app's synchronous main runs in
the scope's context on a thread of its own, in lockstep with the kernel's loop
(``mainthread``), where ``asyncio.run(coro)`` (``coro`` is its main task on the
kernel's loop) and ``IOLoop.start()`` block it until the app stops; a coroutine
``main`` is the main task.  Threaded: a thread of its own with its own
loop, where ``asyncio.run`` and ``IOLoop.start()`` really run.  ``sys.argv`` is
``[argv0] + argv`` while its synchronous code and each step of its main task
run.  Stop is a SIGTERM, exits end only the app (``appstop``, ``appprocess``).

Tracking (the patches in ``patches`` fill it): servers (``TCPServer.add_sockets``,
into the run's ``Servers``), tasks (a task factory on the app's loop), timers and
``PeriodicCallback`` s (the handles' contexts), IOLoop handlers (IOStreams,
sockets) and threads.  :meth:`AppScope.stop` closes servers and connections,
cancels the main task (so ``await asyncio.Event().wait()`` ends) and the rest,
and (threaded) stops and closes the loop.  Python 3.11 tasks do not expose their
context, hence the task factory; the ready queue is never swept (it holds the
steps of the just-cancelled tasks), nor timers that wake a future.

In the kernel, ``TornadoBridgeApp.entry_point()`` turns the spec into an ``entry.Entry`` (None:
the contract path, unchanged). The command queue, restart, purge, the threaded toggle and the
state records are the same for every style; only the start and the stop differ
(``_start_entry``, ``_stop_entry``):

* start: a ``Run`` as for every app, then ``AppScope(name, argv, threaded, context=run.ctx,
  servers=run.servers)``: the scope's context carries both ``current_run`` (log attribution, the
  servers' drain bookkeeping) and ``scope_var``; the scope fills the run's ``Servers``, so URLs
  and the drain are the run's. Before the start the app forgets its options from purged modules
  and its script (``options.forget_unloaded``).
* shared: the entry runs with ``sys.argv = [argv0] + argv``, a synchronous main (a script, a
  plain ``main``) on its own thread in lockstep with the kernel's loop, where ``IOLoop.start()``
  / ``asyncio.run()`` block it until the app stops (see "The per-app process model"); a
  coroutine ``main`` is the app's main task on the kernel's loop; after two loop turns the app
  serves (a main blocked or a main task alive, or a socket bound) → "running", else it ended
  before serving → "failed" with the reason (so Start always settles).
* threaded: the scope's own thread and loop; ``asyncio.run`` / ``IOLoop.start()`` really run;
  "running" once that loop runs.
* an app that ends on its own (main returns/raises, ``sys.exit``, it stops its IOLoop):
  ``scope.ended`` → ``_entry_ended`` → "stopped"/"failed" with the reason.
* stop: the listening sockets close first on the app's loop (port free; the backlog is served,
  ``patches._tcp_stop``); no connection → ``scope.stop()`` at once: a SIGTERM to the app (its
  handler, else a KeyboardInterrupt in its main, up to ``stop_timeout``), then it cancels what
  is left (every task, timer, ``PeriodicCallback``, IOStream of the app; threaded: stops and
  closes its loop). With connections: a Stop drains them (``drain.drain``, ≤ ``drain_timeout``)
  then ``scope.stop()``; a Restart does that in the background while the new app already serves.
* restart: as for contract apps (``_replace``), the new scope starts first and gets the app's
  pooled listening sockets (``app.listen()`` goes through ``bind_sockets``), then the old run
  hands over and is halted (``_stop_entry``).

Facts this relies on (a real ipykernel 7.4.0 / tornado 6.6.1 / Python 3.11 kernel:
tests/integration/test_entry_styles.py, apps in tests/integration/entry_apps/):

* A cell runs on the kernel's ``MainThread`` with its selector loop running; ``asyncio.run()``
  there raises "asyncio.run() cannot be called from a running event loop";
  ``loop.run_until_complete()`` and ``IOLoop.current().start()`` raise "This event loop is
  already running"; the loop has no task factory; ``sys.argv`` is ``[.../ipykernel_launcher.py,
  "-f", <connection file>]``. Top-level ``await`` in a cell runs on that same loop.
* Shared mode (since the process model, below): ``asyncio.run(coro)`` makes ``coro`` the app's
  main task on the kernel's loop and blocks the app's main thread until it is done;
  ``IOLoop.start()`` blocks it until the app's ``IOLoop.stop()`` / ``loop.stop()`` or its stop.
  Without a main thread (a coroutine ``main``, an Application) they return at once as before,
  and the app's ``IOLoop.stop()`` means it ended on its own. Threaded: ``asyncio.run`` runs on
  the app's own loop (the scope's, so stop can cancel it) until done, as usual.
* Python 3.11's ``asyncio.Runner`` (``with Runner(loop_factory=...) as r: r.run(main())``,
  dask's scheduler on Python < 3.12) made in an app's main is that same ``asyncio.run``
  (``patches._runner_*``): its loop (``get_loop()``) is the scope's whatever its
  ``loop_factory``, ``run()`` is the scope's blocking run, ``close()`` closes nothing (the scope
  ends its loop). ``tests/integration/test_asyncio_runner.py``.
* A shared main's thread has the kernel's loop as its running loop only until its first blocking
  call returns; after it none runs there, as in a process (voila's stop: jupyter_core's
  ``run_sync`` then runs the loop through ``run_until_complete``, not on a thread of its own
  that would wait for the parked kernel loop). ``tests/integration/test_main_after_stop.py``.
* Threaded: a new loop the app's main sets (``asyncio.set_event_loop``) on its thread before it
  blocks is the app's from then on (``AppScope.adopt_loop``; jupyter_core's
  ``ensure_event_loop`` in ``launch_instance``); the scope's first loop, never run, is closed at
  the end. ``tests/integration/test_own_loop.py``.
* ``sys.exit(asyncio.run(main()))``: the exit happens when main ends, as in a process; status 0
  is "stopped", another status "failed".
* Stopping without a handler cancels the main task (asyncio.run's Ctrl+C), so ``await
  asyncio.Event().wait()`` ends.
* Python 3.11 tasks do not expose their context (``Task._context`` / ``get_context()`` are
  3.12): tasks are tracked by a task factory on the app's loop. Timer handles
  (``Handle._context``) do carry it: the app's timers and ``PeriodicCallback``s are found in
  ``loop._scheduled`` by context. The ready queue must not be swept: it holds the steps of the
  just-cancelled tasks (cancelling one left the task "cancelling" forever), nor timers whose
  first argument is a future (an ``asyncio.sleep`` in a task's cleanup would hang).
* ``parse_command_line()`` and ``argparse`` default to the app's argv in its context (any task
  or thread); ``sys.argv`` is ``[argv0] + argv`` during the app's synchronous code and each step
  of its main task, put back only if still ours.
* ipykernel opens one zmq pipe (an eventfd) per thread that writes to stdout/stderr and closes
  it up to 10 s after the thread ended (``IOPubThread._event_pipe_gc``): a threaded app logging
  to stderr shows +1 fd per cycle for 10 s. The fd census keeps access lines off stderr.
* traitlets' ``Application.initialize`` (logging ``dictConfig``) re-enables every disabled
  logger (``logger.disabled = False``): use levels, not ``.disabled``.
* 50 start/stop cycles over all six styles, shared and threaded: no growth in fds, threads or
  asyncio tasks; the port is free after each stop; after an edit + purge + start only the new
  version answers.
"""

import asyncio
import builtins
import collections
import concurrent.futures
import contextvars
import inspect
import os
import socket
import sys
import threading
import time
import types
import weakref

import tornado.ioloop
import tornado.iostream

from . import drain as draining
from . import options as scoped_options
from . import patches as patching
from . import state, zmqctx
from .appprocess import describe_exit, exit_status
from .appstop import STOP_TIMEOUT, ProcessMain
from .entry import load_main, make_application
from .records import one_line
from .servers import Servers

Outcome = collections.namedtuple("Outcome", "requested error reason")


def _restore_argv(saved):
    """Put back what was there, unless someone (another app, another thread) set sys.argv since."""
    previous, mine = saved
    if sys.argv is mine:
        sys.argv = previous


@types.coroutine
def _argv_steps(coro, scope):
    """Drive ``coro`` with ``sys.argv`` set to the app's command line during each of its steps."""
    value, error = None, None
    while True:
        saved = scope._set_argv()
        try:
            yielded = coro.send(value) if error is None else coro.throw(error)
        except StopIteration as stop:
            return stop.value
        finally:
            _restore_argv(saved)
        value, error = None, None
        try:
            value = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            error = exc


class AppScope(ProcessMain):
    """One start of one app: its context, what it started, how it ended.  See the module docstring."""

    def __init__(self, name, argv=(), threaded=False, context=None, servers=None, stop_timeout=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.threaded = bool(threaded)
        self.argv0 = name
        self.loop = None  # the asyncio loop the app runs on
        self.io_loop = None
        self.thread = None
        self.thread_id = None
        self.servers = Servers() if servers is None else servers  # the run's, when the bridge starts it
        self.tasks = weakref.WeakSet()
        self.threads = weakref.WeakSet()
        self.main_task = None
        self.main_module = None  # a script's __main__
        self.loop_started = False
        self.stop_requested = False
        self.outcome = None
        self.ended = concurrent.futures.Future()
        self._serving_fut = concurrent.futures.Future()
        self._sys_path_added = None
        self._argv_saved = None
        self._main_saved = None  # the kernel's __main__ while a script's top level runs
        self.application = None
        # ``context``: the bridge's run context (its own ContextVars ride along)
        self.ctx = context.copy() if context is not None else contextvars.copy_context()
        self.ctx.run(state.scope_var.set, self)
        self._init_process(stop_timeout)

    def __repr__(self):
        return "<AppScope %s %s>" % (self.name, "threaded" if self.threaded else "shared")

    def full_argv(self):
        return [self.argv0] + list(self.argv)

    def _set_argv(self):
        mine = self.full_argv()
        saved, sys.argv = (sys.argv, mine), mine
        return saved

    def run_in(self, fn, *args):
        """``fn(*args)`` in the app's context with ``sys.argv`` as its command line (threaded:
        until the app's loop runs, so the kernel and other apps do not see it meanwhile)."""
        def call():
            self._argv_saved = self._set_argv()
            try:
                return fn(*args)
            finally:
                self.release_argv()
        return self.ctx.copy().run(call)

    def release_argv(self):
        """The app's loop is about to run (threaded): the kernel gets its ``sys.argv`` and,
        for a script, its ``__main__`` back (the script blocks in ``asyncio.run`` /
        ``IOLoop.start()`` for as long as it serves)."""
        saved, self._argv_saved = self._argv_saved, None
        if saved is not None:
            _restore_argv(saved)
        self._release_main()

    def _release_main(self):
        saved, self._main_saved = self._main_saved, None
        if saved is not None and sys.modules.get("__main__") is self.main_module:
            sys.modules["__main__"] = saved

    # -- start
    async def start(self, entry):
        """Start ``entry``; see the module docstring.  Call on the kernel's running loop."""
        self.argv0 = entry.argv0() if entry.kind != "main" else self.argv0
        scoped_options.begin(self, [entry.target] if entry.kind == "script" else ())
        if self.threaded:
            self.thread = threading.Thread(target=self._thread_main, args=(entry,),
                                           name="tornado-launcher:%s" % self.name, daemon=True)
            self.thread._tl_entry_scope = self
            self.thread.start()
            return await asyncio.wrap_future(self._serving_fut)
        self.loop = asyncio.get_running_loop()
        self.io_loop = tornado.ioloop.IOLoop.current()
        self.thread_id = threading.get_ident()
        try:
            self.run_in(self._call, entry)
        except (SystemExit, KeyboardInterrupt) as exc:
            if not self._handed_over():
                self._close_now()
                self._finish(False, exc if exit_status(exc) else None, describe_exit(exc))
                if self.outcome.error is not None:
                    raise
                return False
        except BaseException as exc:
            self._close_now()
            self._finish(False, exc, "start failed: %s" % one_line(exc))
            raise
        # let the main task's first step run (it usually listens there)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        if self.outcome is not None:
            if self.outcome.error is not None and not isinstance(self.outcome.error, SystemExit):
                raise self.outcome.error
            return False
        if not self._handed_over() and not self._open_sockets():
            self._close_now()
            self._finish(False, None, "%s returned without serving" % self._what(entry))
            return False
        self.serving()
        return True

    def _what(self, entry):
        return {"main": "main()", "script": "the script", "callable": "the function"}.get(entry.kind, "the app")

    def _handed_over(self):
        return self.loop_started or (self.main_task is not None and not self.main_task.done()) \
            or self._main_blocked()

    def _call(self, entry):
        if entry.kind == "script":
            return self._in_main(self._run_script, entry.target)
        if entry.kind == "application":
            target = load_main(entry.target) if isinstance(entry.target, str) else entry.target
            app = make_application(target)
            if app is None:
                raise TypeError("%s is not a tornado.web.Application, a subclass or a function returning one: "
                                "for a class with start() and stop() remove `port` (it listens itself)"
                                % (entry.target,))
            self.application = app
            app.listen(entry.port, address=entry.address)
            return None
        fn = load_main(entry.target) if entry.kind == "main" else entry.target
        if entry.kind == "main":
            self.argv0 = getattr(sys.modules.get(getattr(fn, "__module__", "")), "__file__", None) or self.argv0
            self.release_argv()
            self._argv_saved = self._set_argv()
        if inspect.iscoroutinefunction(fn):
            self.adopt_main(fn())
            return None
        result = self._in_main(fn)
        if inspect.isawaitable(result):
            self.adopt_main(result)
        return None

    def _run_script(self, path):
        with open(path, "rb") as f:
            source = f.read()
        code = compile(source, path, "exec", dont_inherit=True)
        mod = types.ModuleType("__main__")
        mod.__dict__.update(__file__=path, __builtins__=builtins, __spec__=None, __loader__=None,
                            __package__=None, __cached__=None)
        self.main_module = mod
        directory = os.path.dirname(path)
        if directory not in sys.path:
            sys.path.insert(0, directory)
            self._sys_path_added = directory
        self._main_saved = sys.modules.get("__main__")
        sys.modules["__main__"] = mod
        try:
            exec(code, mod.__dict__)
        finally:
            self._release_main()

    def adopt_main(self, awaitable):
        """The app's main task: what asyncio.run() would run."""
        previous = self.main_task
        if inspect.iscoroutine(awaitable):
            coro = awaitable
        else:
            async def wait(fut=awaitable):
                return await fut
            coro = wait()

        async def main():
            if previous is not None and not previous.done():
                await previous  # asyncio.run() twice: one after the other
            return await _argv_steps(coro, self)

        task = self.ctx.copy().run(self.loop.create_task, main())
        self.main_task = task
        task.add_done_callback(self._main_done)
        return task

    def _main_done(self, task):
        if task is not self.main_task or self.stop_requested or self.outcome is not None:
            return
        if not self.threaded and not self._main_blocked():  # a main thread waiting for it goes on
            pending, self.pending_raise = self.pending_raise, None
            if pending is not None:
                self.ended_by_app(pending if exit_status(pending) else None, describe_exit(pending))
            elif task.cancelled():
                self.ended_by_app(None, "the app's main task was cancelled")
            elif task.exception() is not None:
                exc = task.exception()
                if isinstance(exc, (SystemExit, KeyboardInterrupt)):
                    self.ended_by_app(exc if exit_status(exc) else None, describe_exit(exc))
                else:
                    self.ended_by_app(exc, "main() raised %s" % one_line(exc))
            else:
                self.ended_by_app(None, "main() returned")

    def run_until(self, task):
        """Threaded: run the app's loop until ``task`` is done (asyncio.run's blocking part)."""
        self.loop.call_soon(self.serving)
        self.loop_started = True
        self.release_argv()
        return self.threaded_blocking(lambda: self.loop.run_until_complete(task))

    def adopt_loop(self, loop):
        """Threaded: the app's main set a new loop on its thread before it blocked (jupyter_core's
        ``ensure_event_loop`` in ``launch_instance``): as in its process, that loop is the app's."""
        self.loop = loop
        patching.guard_loop(loop)
        self.guard_own_loop(loop)
        self.io_loop = None  # the patch sets it once the loop is the thread's

    def _thread_main(self, entry):
        self.thread_id = threading.get_ident()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        first = loop
        patching.guard_loop(loop)
        self.guard_own_loop(loop)
        error, reason = None, None
        try:
            self.io_loop = first_io = tornado.ioloop.IOLoop.current()
            try:
                self.run_in(self._call, entry)
                if self.main_task is not None and not self.main_task.done():
                    self.ctx.copy().run(self.run_until, self.main_task)
                elif not self.loop_started and self._open_sockets() and not self.stop_requested:
                    loop.call_soon(self.serving)  # an Application we listened for
                    self.loop_started = True
                    self.release_argv()
                    self.own_run_forever()
                if self.main_task is not None and self.main_task.done() and not self.main_task.cancelled():
                    self.main_task.result()
                reason = "%s returned" % self._what(entry) if self.main_task is None else "main() returned"
            except asyncio.CancelledError as exc:
                if not self.stop_requested:
                    error, reason = exc, "the app's main task was cancelled"
            except (SystemExit, KeyboardInterrupt) as exc:
                if exit_status(exc) and not (self.stop_requested and isinstance(exc, KeyboardInterrupt)):
                    error = exc
                reason = describe_exit(exc)
            except BaseException as exc:
                error, reason = exc, "the app raised %s" % one_line(exc)
        finally:
            self._close_now()
            if self.loop is not first:  # the app set its own loop: ours never ran
                try:
                    patching.patches.ioloop_close(first_io, False)
                except Exception:
                    first.close()
            self._finish_loop(self.loop)
            self._finish(self.stop_requested, error, "stopped" if self.stop_requested else reason)

    def _finish_loop(self, loop):
        try:
            draining.cancel_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        except Exception:
            pass
        try:
            if self.io_loop is not None:
                patching.patches.ioloop_close(self.io_loop, False)
            else:
                loop.close()
        except Exception:
            try:
                loop.close()
            except Exception:
                pass
        asyncio.set_event_loop(None)

    def serving(self):
        if self.main_task is not None and self.main_task.done():
            return  # it failed or ended at once: _finish tells
        if not self._serving_fut.done():
            self._serving_fut.set_result(True)

    def _finish(self, requested, error, reason):
        if self.outcome is None:
            self.outcome = Outcome(requested, error, reason)
        self._run_atexit()
        self.proc.ended()
        scoped_options.end(self)
        if self._sys_path_added is not None:
            try:
                sys.path.remove(self._sys_path_added)
            except ValueError:
                pass
            self._sys_path_added = None
        if not self._serving_fut.done():
            if error is not None and not requested:
                self._serving_fut.set_exception(error)
            else:
                self._serving_fut.set_result(False)
        if not self.ended.done():
            self.ended.set_result(self.outcome)
        zmqctx.close_for(self)  # after its own teardown: what its process's exit would end

    def ended_by_app(self, error, reason):
        """Shared mode: the app ended on its own (main returned/raised, IOLoop.stop)."""
        if self.stop_requested or self.outcome is not None:
            return
        self._close_now()
        self._finish(False, error, reason)

    # -- tracking
    def _open_sockets(self):
        return self.servers.open_sockets()

    def urls(self):
        return self.servers.urls()

    # -- stop
    def _close_now(self, exclude_main=False):
        """On the app's loop thread: close servers and connections, cancel what the app scheduled."""
        for server, socks in self.servers:
            try:
                server.stop()
            except Exception:
                pass
            for s in socks:
                try:
                    s.close()
                except Exception:
                    pass
            for conn in list(getattr(server, "_connections", ())):
                try:
                    conn.stream.close()
                except Exception:
                    pass
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        try:
            current = asyncio.current_task(loop)
        except RuntimeError:
            current = None
        for task in list(self.tasks):
            if task is not current and not task.done() and not (exclude_main and task is self.main_task):
                task.cancel()
        # timers and PeriodicCallbacks scheduled in the app's context.  Not the ready queue:
        # it holds the steps of the tasks just cancelled (cancelling those would hang them),
        # nor timers that wake a future (asyncio.sleep in a task's cleanup)
        for handle in list(getattr(loop, "_scheduled", ())):
            ctx = getattr(handle, "_context", None)
            if ctx is None or ctx.get(state.scope_var) is not self or handle.cancelled():
                continue
            args = getattr(handle, "_args", None) or ()
            if args and isinstance(args[0], asyncio.Future):
                continue
            owner = getattr(getattr(handle, "_callback", None), "__self__", None)
            if isinstance(owner, tornado.ioloop.PeriodicCallback):
                owner.stop()
            handle.cancel()
        # IOStreams and sockets the app registered on the loop
        io_loop = self.io_loop
        selector = getattr(loop, "_selector", None)
        for fd, (fileobj, handler) in list(getattr(io_loop, "handlers", {}).items()):
            try:
                key = selector.get_key(fd) if selector is not None else None
            except (KeyError, ValueError):
                key = None
            handles = [h for h in (key.data if key is not None else ()) if h is not None]
            if not any(getattr(h, "_context", None) is not None and h._context.get(state.scope_var) is self
                       for h in handles):
                continue
            owner = getattr(handler, "__self__", None)
            try:
                if isinstance(owner, tornado.iostream.BaseIOStream):
                    owner.close()
                else:
                    io_loop.remove_handler(fd)
                    if isinstance(fileobj, socket.socket):
                        fileobj.close()
            except Exception:
                pass

    async def stop(self, timeout=STOP_TIMEOUT):
        """Stop the app; on return its port is free and what it started is cancelled.  Returns
        the :class:`Outcome` (an app that had already ended keeps its own).  First a SIGTERM
        (:meth:`_stop_gracefully`, up to ``stop_timeout``), then what is left is forced."""
        if self.ended.done():
            return self.ended.result()
        self.stop_requested = True
        self.stop_note = None
        tried = await self._stop_gracefully() or self.stop_note is not None
        if self.ended.done():
            return self.ended.result()
        if tried:
            timeout = 1.0  # the app had its stop_timeout: what is left gets a second
        if self.threaded:
            def stop_in_thread():
                self._close_now()
                if self.loop.is_running() and (self.main_task is None or self.main_task.done()):
                    self.loop.stop()
            try:
                self.loop.call_soon_threadsafe(stop_in_thread)
            except (RuntimeError, AttributeError):
                pass
            try:
                return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(self.ended)), timeout)
            except asyncio.TimeoutError:
                for s in self._open_sockets():
                    s.close()
                self._finish(True, None, "stopped by force: the app's thread is blocked")
                return self.outcome
        if self._main_blocked() and self.pending_raise is None:
            # its SIGTERM handler did not end it: Ctrl+C's KeyboardInterrupt where its main blocks
            self.stop_deadline = time.monotonic() + timeout
            self.raise_in_main(KeyboardInterrupt())
        self._close_now()
        waiting = [t for t in list(self.tasks) if not t.done()]
        if self._main_blocked() and self._main_over is not None:
            waiting.append(self._main_over)
        if waiting:
            await asyncio.wait(waiting, timeout=timeout)
        if self.main_thread is not None and not self.main_thread.over and self.log is not None:
            self.log("WARNING", "the app's main did not end: its thread is left %s" % (
                "running" if self.main_thread.detached else "waiting"))
        self._close_now()  # what their cancellation handlers scheduled
        self._finish(True, None, "stopped")
        return self.outcome

    def leftovers(self):
        """What still runs after the end: threads the app started that are alive, tasks not done."""
        return {"threads": [t.name for t in list(self.threads) if t.is_alive()],
                "tasks": [repr(t) for t in list(self.tasks) if not t.done()]}


# -- a scope bound to a bridge app's run (``TornadoBridgeApp`` calls these)
STOP_FREE_TIMEOUT = 5.0  # seconds a threaded app's loop may take to close its listening sockets


async def start_entry(app, run, entry_point):
    """Start ``entry_point`` in a scope bound to ``run``; the exception (None once it serves)."""
    scope = AppScope(app.name, app.argv, app.threaded, context=run.ctx, servers=run.servers,
                     stop_timeout=getattr(app, "stop_timeout", None))
    scope.log = app._log
    run.scope = scope
    run.proc = scope.proc
    run.loop = state.kernel.loop  # until the scope's own (threaded)
    try:
        serving = await scope.start(entry_point)
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        run.close_servers()
        return exc
    run.loop, run.io_loop, run.thread = scope.loop, scope.io_loop, scope.thread
    if not serving:
        # it ended before serving: "failed", so whoever pressed Start settles
        outcome = scope.outcome
        if outcome is not None and outcome.error is not None \
                and not isinstance(outcome.error, (SystemExit, KeyboardInterrupt)):
            return outcome.error
        reason = outcome.reason if outcome is not None else "the app ended"
        return RuntimeError(reason if "without serving" in reason else reason + " before serving")
    app.app = scope.application
    scope.ended.add_done_callback(lambda f: state.kernel.call(app._entry_ended, run, f.result()))
    return None


async def stop_entry(app, run, drain):
    """Stop a scoped run: free the port, drain (Stop) or drain in the background (restart),
    then the scope stops everything else of it."""
    scope = run.scope
    loop = scope.loop
    if scope.ended.done():
        return  # it had ended on its own; everything was closed then
    if scope.threaded:
        released = state.kernel.loop.create_future()

        def release():
            try:
                run.close_servers()
            finally:
                state.kernel.loop.call_soon_threadsafe(lambda: released.done() or released.set_result(None))
        try:
            loop.call_soon_threadsafe(release, context=scope.ctx.copy())
            await asyncio.wait_for(released, STOP_FREE_TIMEOUT)
        except (RuntimeError, asyncio.TimeoutError):
            pass  # its loop is closed or blocked: scope.stop() frees the sockets by force
    else:
        run.in_ctx(run.close_servers)
    busy = any(getattr(server, "_connections", None) for server in run.servers.servers())
    if not busy:
        await scope.stop()
        _log_stop(app, scope)
        await scope.end_threads()
    elif drain:
        await _drain_entry(app, run)
    else:
        # a restart: the old app answers what it accepted in the background (at most
        # drain_timeout s) while the new one serves; then everything of it ends
        run.drain_task = state.kernel.loop.create_task(_drain_entry(app, run))


async def _drain_entry(app, run):
    scope = run.scope
    try:
        coro = draining.drain(run.servers.servers(), app, app.drain_timeout, run)
        if scope.threaded:
            await asyncio.wait_for(asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, scope.loop)),
                                   app.drain_timeout + 2.0)
        else:
            await run.ctx.copy().run(asyncio.ensure_future, coro)
    except Exception:
        pass
    await scope.stop()
    _log_stop(app, scope)
    await scope.end_threads()


def _log_stop(app, scope):
    """How the stop went: "stopped by its SIGTERM handler in 40 ms" / "did not stop within 5 s: forced"."""
    if scope.stop_note is not None:
        app._log(*scope.stop_note)
