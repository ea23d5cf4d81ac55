"""An app's synchronous main in shared mode: its own thread, in lockstep with the kernel's loop.

``python server.py`` blocks in ``IOLoop.start()`` / ``asyncio.run()`` until the
server stops, then runs what follows (``finally``, ``with`` exits, ``loop.close()``).
Inside the kernel the loop already runs, so the call cannot block the loop's
thread.  :class:`MainThread` runs the app's main on a thread of its own, and
only one of the two threads runs at any moment, like a coroutine made of two
threads:

* the loop thread starts (or resumes) the main thread and waits until it hands
  back (:meth:`MainThread.step`);
* the main thread's blocking call hands back a future to wait for
  (:meth:`MainThread.hand_back`): the app's stop for ``IOLoop.start()`` /
  ``run_forever()``, the main task for ``asyncio.run()`` /
  ``run_until_complete()`` (``IOLoop.run_sync`` is ``start()`` +
  ``stop()``), and waits for its turn;
* when the future is done the loop thread resumes it with the result (or the
  exception) and waits again; when the main returns or raises, it is over.

The loop thread is parked whenever the app's code runs, so asyncio's
one-thread assumptions hold; the main thread's event loop is the kernel's (``IOLoop.current()``), and so is its
running loop (``get_running_loop()``) until its first blocking call returns (none after,
as in a process).  A resume during a
stop waits at most until the stop's deadline: a main that does not hand back by
then is left running on its own (detached; the stop is forced).

* The entry runs like a process's main. Shared mode: a synchronous main (a script, a plain
  ``main``) runs on its own thread (``mainthread.MainThread``) in lockstep with the kernel's
  loop thread: only one runs at a time. The loop thread starts it and waits; the main's blocking
  call hands back a future (``appstop.ProcessMain.blocking_start`` / ``blocking_run`` /
  ``blocking_until``): ``IOLoop.start()`` / ``run_forever()`` wait for the app's
  ``IOLoop.stop()`` / ``loop.stop()`` (``loop_stop_called``) or its stop; ``asyncio.run()`` /
  ``run_until_complete()`` for their task (``IOLoop.run_sync`` is start + stop); when it is done
  the loop thread resumes the main with the result or the exception and waits again. The loop
  thread is parked whenever the app's code runs, so asyncio's one-thread rules hold; the main
  thread's event loop and running loop are the kernel's. The code after the blocking call
  (finally, ``with`` exits, ``IOLoop.close()`` / ``loop.close()``, which never close the
  kernel's loop) runs at stop, on that thread. Threaded mode blocks for real
  (``IOLoop.start()``, ``asyncio.run()``, and now the app's own ``loop.run_forever()`` too,
  which is its serving call); teardown runs at stop, on the app's thread. Why two threads in
  lockstep and not a coroutine: the app's code is synchronous and blocks in a C-level call chain
  we do not own (its ``finally`` must run on the same stack); a greenlet would do it on one
  thread but is not stdlib. The price: ``threading.current_thread()`` in the app's main is not
  the kernel's ``MainThread`` (as in threaded mode), and the hang monitor and Interrupt follow
  the main thread (``hang.running_for``: a blocked kernel loop is reported where the app's main
  runs; an Interrupt that reaches the waiting loop thread is raised in the main thread).

Facts this relies on:

* ``asyncio.events._set_running_loop(kernel_loop)`` in a second thread makes
  ``get_running_loop()``, ``get_event_loop()`` and ``IOLoop.current()`` there answer the
  kernel's loop; ``loop.create_task`` / ``call_soon`` from it are safe only while the loop
  thread is parked (asyncio checks the thread only in debug mode).
* A ``contextvars.Context`` cannot be entered by two threads at once: the main thread runs in a
  copy of the scope's context.
* ``threading.Semaphore.acquire(timeout=-1)`` does not block: a negative timeout is "already
  passed" (only ``Lock.acquire`` reads -1 as "forever"). The first lockstep waited in a loop of
  those and held the GIL until the 5 ms switch interval: each start of a shared synchronous main
  cost ~8 ms instead of 0.7 ms. A blocking ``acquire()`` (timeout None) is interruptible by
  signals on POSIX, so the kernel's Interrupt still reaches the waiting loop thread.
* Cost (``benchmarks/engine.py --styles --runs 30``, same machine, before → after): restart
  medians shared sync main 10.4 → 12.0 ms, script 10.8 → 12.0 ms (a thread start and two
  hand-overs per start), other rows within noise; ``benchmarks/reload_probe.py --only shared
  threaded --reloads 20``: 0 refused, 0 reset, 0 hung, 0 wrong before and after.

A contract app's ``start()`` in shared mode runs on such a thread too (:class:`ContractMain`,
issue 18.3).  Contract ``app_class`` apps (start/stop, Jaffle's) are built and started by
``entry.construct_and_start``; in shared mode their ``IOLoop.start()`` used to return at once, so
the code after it ran at start (Kernel Gateway's ``start()`` ends in ``finally: self.stop()``:
its HTTP server stopped and its prespawned kernel shut down while it started).  Now:

* ``IOLoop.start()`` / ``loop.run_forever()`` of the kernel's loop called on that thread
  (``patches``) hand back until the app stops its loop (``IOLoop.stop()`` / ``loop.stop()``:
  :meth:`ContractMain.loop_stopped`), usually from the ``stop()`` the bridge calls; then the
  code after the call (``finally``, ``except KeyboardInterrupt``) runs there, at stop;
* a stop waits for ``start()`` to return up to the app's ``stop_timeout``
  (:meth:`ContractMain.end`); else its loop is stopped for it (what the threaded mode's forced
  stop does), then a KeyboardInterrupt is raised where it blocks (Ctrl+C), a second each; then
  the thread is left and the log says so; a ``stop()`` that raised stops its loop at once (as in
  threaded mode);
* a ``start()`` that returns without blocking (it only listens) ends the thread at once; an
  exception it raises before blocking is the start's failure; ``start()`` ending on its own
  (no stop requested) calls ``on_end(error)``.

The thread is the run's (``_tl_bridge_run``), not a scope's.
"""

import asyncio
import contextvars
import threading
import time

from . import hang, state
from .records import one_line


class MainThread:
    """See the module docstring.  ``fn`` runs in a copy of the current context.  ``scope``: the
    :class:`~.scope.AppScope` it is the main of, or (``run`` given) a contract run's
    :class:`~.mainthread.ContractMain`, which is not a scope (its thread is the run's)."""

    def __init__(self, scope, fn, name, run=None):
        self.scope = scope
        self.loop = scope.loop
        self.fn = fn
        self.ctx = contextvars.copy_context()
        self._app_turn = threading.Semaphore(0)
        self._loop_turn = threading.Semaphore(0)
        self._resume = (None, None)
        self.waiting = None  # the future its blocking call waits for
        self.over = False
        self.result = None
        self.error = None
        self.detached = False
        self.ident = None
        self.thread = threading.Thread(target=self._main, name=name, daemon=True)
        if run is None:
            self.thread._tl_entry_scope = scope
        else:
            self.thread._tl_bridge_run = run
        self.thread._tl_main_thread = self

    # -- the main thread's side
    def _main(self):
        self.ident = threading.get_ident()
        self._app_turn.acquire()
        asyncio.set_event_loop(self.loop)
        asyncio.events._set_running_loop(self.loop)
        try:
            self.result = self.ctx.run(self.fn)
        except BaseException as exc:
            self.error = exc
        finally:
            asyncio.events._set_running_loop(None)
            self.over = True
            self.waiting = None
            self._loop_turn.release()

    def hand_back(self, future):
        """In the main thread: give the loop thread its turn until ``future`` is done; its result,
        or raise its exception."""
        self.waiting = future
        self.scope.release_argv()
        self._loop_turn.release()
        self._app_turn.acquire()
        # the blocking call returned: as in a process, no loop runs in the main now (jupyter_core's
        # run_sync after IOLoop.start(), voila's stop, then runs the loop here, not on a thread
        # of its own that would wait for the parked kernel loop)
        asyncio.events._set_running_loop(None)
        self.scope._argv_saved = self.scope._set_argv()
        value, error = self._resume
        self._resume = (None, None)
        if error is not None:
            raise error
        return value

    def here(self):
        return threading.get_ident() == self.ident and not self.detached

    # -- the loop thread's side
    def step(self, value=None, error=None, deadline=None):
        """Let the main run until it hands back or ends; False if ``deadline`` (monotonic) passed first."""
        self._resume = (value, error)
        self.waiting = None
        if self.ident is None:
            self.thread.start()
            self.ident = self.thread.ident
        self._app_turn.release()
        me = threading.get_ident()
        hang.running_for[me] = self.ident  # a blocked loop is blocked where the main runs
        try:
            return self._wait(deadline)
        finally:
            hang.running_for.pop(me, None)

    def _wait(self, deadline):
        while True:
            # None, not -1: threading.Semaphore reads a negative timeout as "already passed"
            timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                if self._loop_turn.acquire(timeout=timeout):
                    return True
            except BaseException as exc:
                # the kernel's Interrupt (or a KeyboardInterrupt) while the app's main runs:
                # that is where the kernel is blocked; raise it there
                if self.ident is not None:
                    hang._raise_in_thread(self.ident, type(exc))
                continue
            if deadline is not None:
                self.detached = True
                return False

    def resume_when_done(self, on_step):
        """After a hand-back: resume the main when its future is done, then ``on_step(ok)``."""
        future = self.waiting

        def ready(fut):
            if self.detached or self.over:
                return
            value = error = None
            if fut.cancelled():
                error = asyncio.CancelledError()
            elif fut.exception() is not None:
                error = fut.exception()
            else:
                value = fut.result()
            pending = self.scope.pending_raise
            if pending is not None:
                self.scope.pending_raise = None
                error, value = pending, None
            on_step(self.step(value, error, self.scope.stop_deadline))

        future.add_done_callback(ready)


def current_main_thread():
    """The :class:`MainThread` whose thread this is, if any."""
    return getattr(threading.current_thread(), "_tl_main_thread", None)


class ContractMain:
    """The owner :class:`~.mainthread.MainThread` runs a contract run's ``start()`` for."""

    def __init__(self, run):
        self.run = run
        self.loop = state.kernel.loop
        self.pending_raise = None  # raised where the main blocks when it resumes (a forced stop)
        self.stop_deadline = None  # monotonic: during a stop, a resumed main must hand back by then
        self._argv_saved = None
        self.main_thread = None
        self._loop_stop_fut = None
        self.over = self.loop.create_future()  # done once start() returned or raised (or was left)
        self.on_end = None  # fn(error): start() ended while no stop was requested

    # -- what MainThread asks of its owner (a contract app gets its argv in its constructor)
    def release_argv(self):
        pass

    def _set_argv(self):
        return None

    # -- the kernel's loop thread
    def start(self, fn):
        """Run ``fn`` (build the app, call its ``start()``) on the main thread until it returns
        or blocks; raises what it raised before blocking.  Call in the run's context."""
        name = "tornado-launcher:%s main" % getattr(self.run.app, "name", "app")
        mt = self.main_thread = MainThread(self, fn, name, run=self.run)
        mt.step()
        if mt.over:
            self._set_over()
            if mt.error is not None:
                raise mt.error
            return
        mt.resume_when_done(self._stepped)

    def blocked(self):
        mt = self.main_thread
        return mt is not None and not mt.over and not mt.detached

    def _stepped(self, ok):
        mt = self.main_thread
        if ok and not mt.over:
            mt.resume_when_done(self._stepped)
            return
        self._set_over()  # it ended, or did not hand back by the stop's deadline (left running)
        if ok and not self.run.stop_requested and self.on_end is not None:
            self.on_end(mt.error)

    def _set_over(self):
        if not self.over.done():
            self.over.set_result(None)

    def loop_stopped(self):
        """The app stopped the kernel's loop (never stopped): its blocked ``IOLoop.start()`` returns."""
        fut = self._loop_stop_fut
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def end(self, deadline, log):
        """During a stop: wait until ``start()`` has returned, at most until ``deadline``
        (monotonic); then its loop is stopped for it (as the threaded mode's forced stop does),
        then a KeyboardInterrupt where it blocks (Ctrl+C), a second each."""
        self.stop_deadline = max(deadline, time.monotonic()) + 1.0
        mt = self.main_thread
        if mt is None or await self._ended_by(deadline):
            return
        for force in (self.loop_stopped, self._interrupt):
            if not self.blocked():
                break
            self.stop_deadline = time.monotonic() + 1.0
            force()
            if await self._ended_by(time.monotonic() + 1.5):
                break
        if mt.over:
            if mt.error is not None and not isinstance(mt.error, (KeyboardInterrupt, SystemExit)):
                log("WARNING", "start() raised %s after the stop" % one_line(mt.error))
            return
        log("WARNING", "start() did not return after the stop: its thread is left %s"
            % ("running" if mt.detached else "waiting"))

    async def _ended_by(self, deadline):
        if not self.over.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.over), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                pass
        return self.over.done()

    def _interrupt(self):
        """Ctrl+C's KeyboardInterrupt where the main blocks."""
        waiting = self.main_thread.waiting
        if waiting is None:
            return
        self.pending_raise = KeyboardInterrupt()
        if isinstance(waiting, asyncio.Task):
            waiting.cancel()
        elif not waiting.done():
            waiting.set_result(None)

    # -- the main thread (the patches call these with the run's code running)
    def here(self):
        mt = self.main_thread
        return mt is not None and mt.here()

    def block(self):
        """``IOLoop.start()`` / ``run_forever()`` of the kernel's loop in the main: hand back
        until the app stops that loop."""
        if self.run.stop_reached:
            return None  # it stopped the loop before starting it: start() returns at once, as asyncio's
        fut = self._loop_stop_fut = self.loop.create_future()
        try:
            self.main_thread.hand_back(fut)
        finally:
            self._loop_stop_fut = None
        return None

