"""How an app's main blocks and how the app ends, as a process's would (issue 18).

:class:`ProcessMain` is the part of :class:`~.scope.AppScope` about it:

* the blocking calls (``IOLoop.start()``, ``run_forever()``, ``asyncio.run()``,
  ``run_until_complete()``; the patches call :meth:`blocking_start`,
  :meth:`blocking_run`, :meth:`blocking_until`, :meth:`loop_stop_called`): in
  shared mode a synchronous main runs on its own thread in lockstep with the
  kernel's loop (:mod:`.mainthread`) and they block it until the app stops; in
  threaded mode they block the app's thread for real;
* :meth:`raise_in_main`: an exception raised where the main blocks, as a signal
  handler's exception or Ctrl+C's KeyboardInterrupt would be (``asyncio.run``'s
  main task is cancelled first, as asyncio does on Ctrl+C);
* :meth:`terminate`: a stop is a SIGTERM: the app's own SIGTERM handler (else
  its SIGINT handler, else a KeyboardInterrupt in its main);
* exits: ``sys.exit`` / ``SystemExit`` / ``KeyboardInterrupt`` out of one of the
  app's callbacks (``appprocess``' ``Handle._run``) end the app, never the kernel;
* :meth:`end_threads`, the last step of a stop: threads the app's code started that still run
  once it has stopped (and had a second more to end) are ended as its process's exit would end
  them: :class:`ProcessExited` is raised in each asynchronously
  (``PyThreadState_SetAsyncExc``), up to three times; the log names those it ended and those it
  could not.  Only threads this run's code started (``scope.threads``), never the bridge's own
  nor the kernel's; a thread blocked in a C call (a lock, a read without timeout) gets the
  exception only when it returns to Python: it may stay.  Not SystemExit: a process exit raises
  nothing in a daemon thread, it stops it, and threads that retry for ever catch SystemExit too
  (flower's ``Events`` thread: ``except (KeyboardInterrupt, SystemExit): _thread.interrupt_main()``
  and round again); ``ProcessExited`` is a ``BaseException`` neither ``except Exception`` nor
  that catches.  The thread's end prints nothing (its excepthook skips it).  The last resort
  only: an asynchronous exception can land anywhere (between a lock's acquire and the ``try``
  that releases it), and a library's own thread the app happened to start first (a singleton
  reused by the next run in this kernel, which does not re-import the library) ends too, as it
  would with the process; a contract ``app_class`` run does not track its threads (not ended).

* Stop is a SIGTERM (``appstop.terminate``, ``scope.stop``): the app's own SIGTERM handler (a
  ``signal.signal`` handler runs in the app's context on the loop that runs it; a
  ``loop.add_signal_handler`` callback on its loop), else its SIGINT handler, else a
  KeyboardInterrupt raised where its main blocks (an ``asyncio.run`` main task is cancelled
  first, then ``asyncio.run`` raises KeyboardInterrupt, as asyncio does on Ctrl+C); an exception
  a handler raises is raised in the main, as in a process. Then up to ``stop_timeout`` (app
  option, default 5 s; config ``validate.py``, spec as data) for the main to end (shared: the
  main thread or main task is over; threaded: the thread ended); then what is left is forced (a
  KeyboardInterrupt in a still-blocked main, then the previous stop: servers, tasks, timers,
  streams, with 1 s more). The app's log says which: ``stopped by its SIGTERM handler in 40
  ms``, ``stopped by a KeyboardInterrupt in its main in 3 ms``, ``did not stop within 5 s after
  its SIGTERM handler: forced``. A main thread that does not hand back by then is left on its
  own (detached, a daemon thread; the log says so): the kernel never waits for it again. A
  restart stops the old run the same way, after the new run serves (issue 12's hand-over is
  unchanged; the old run's listening sockets were handed over before its SIGTERM).
"""

import asyncio
import ctypes
import os
import signal
import sys
import threading
import time

from . import appprocess
from .mainthread import MainThread
from .records import one_line

STOP_TIMEOUT = 5.0  # seconds a stop waits for the app to end on its own (the app's `stop_timeout`)
THREAD_GRACE = 1.0  # seconds the app's threads may take to end on their own after its stop
_BRIDGE = __name__.split(".")[0]  # the bridge's package (its threads are never the app's)


class ProcessExited(BaseException):
    """Raised in a thread an app left running after its stop: its process has exited
    (:meth:`ProcessMain.end_threads`).  Neither an Exception nor SystemExit/KeyboardInterrupt."""


def _endable(thread):
    """A live thread of the app's that may be ended: not the kernel's main thread, not this one,
    not one of the bridge's."""
    if not thread.is_alive() or thread.ident is None or thread is threading.main_thread() \
            or thread.ident == threading.get_ident() or thread.name.startswith(("tornado-launcher", "tl-")):
        return False
    module = getattr(getattr(thread, "_target", None), "__module__", None) or type(thread).__module__ or ""
    return module.split(".")[0] != _BRIDGE


def _where(thread):
    """``Thread-5 (flower.events.Events, at base.py:1012)``: its name, what it runs, where it is."""
    target = getattr(thread, "_target", None)
    what = type(thread) if target is None else target
    what = "%s.%s" % (getattr(what, "__module__", "?"), getattr(what, "__qualname__", repr(what)))
    frame = sys._current_frames().get(thread.ident)
    if frame is None:
        return "%s (%s)" % (thread.name, what)
    return "%s (%s, at %s:%d)" % (thread.name, what, os.path.basename(frame.f_code.co_filename), frame.f_lineno)


def _raise_exit_in(thread):
    """:class:`ProcessExited` in ``thread`` at its next Python instruction; its end prints nothing."""
    invoke = getattr(thread, "_invoke_excepthook", None)
    if invoke is not None and not getattr(invoke, "_tl_quiet", False):
        def quiet(t, invoke=invoke):
            if not isinstance(sys.exc_info()[1], ProcessExited):
                invoke(t)
        quiet._tl_quiet = True
        thread._invoke_excepthook = quiet
    if thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(ProcessExited))


async def _until_ended(threads, seconds):
    deadline = time.monotonic() + seconds
    while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return [t for t in threads if t.is_alive()]


class ProcessMain:
    """Mixin of :class:`~.scope.AppScope`; see the module docstring."""

    def _init_process(self, stop_timeout):
        self.proc = appprocess.AppProcess(self.name)
        self.proc.on_exit = self._exit_raised
        self.proc.deliver = self.deliver_signal
        self.proc.on_signal = self._signal_from_self
        self.stop_timeout = STOP_TIMEOUT if stop_timeout is None else max(0.0, float(stop_timeout))
        self.stop_deadline = None  # monotonic: a resumed main must hand back by then (during a stop)
        self.stop_note = None  # how the last stop went, for the app's log
        self.main_thread = None  # shared mode: the MainThread of a synchronous main
        self.pending_raise = None  # raised in the main where it blocks, when it resumes
        self._loop_stop_fut = None  # shared: what a main blocked in IOLoop.start() waits for
        self._main_over = None  # shared: an asyncio future, done once the app's main has ended
        self._blocking = 0  # threaded: the main is inside IOLoop.start() / asyncio.run()
        self.log = None  # fn(level, message): the app's log (the bridge sets it)

    # -- the main
    def _in_main(self, fn, *args):
        """Run the app's synchronous main ``fn(*args)``: in shared mode on its own thread in
        lockstep; returns its result, or None once it blocks (it goes on after)."""
        if self.threaded:
            return fn(*args)
        mt = MainThread(self, lambda: fn(*args), "tornado-launcher:%s main" % self.name)
        self.main_thread = mt
        mt.step()
        if mt.over:
            if mt.error is not None:
                raise mt.error
            return mt.result
        mt.resume_when_done(self._main_stepped)
        return None

    def _main_blocked(self):
        mt = self.main_thread
        return mt is not None and not mt.over and not mt.detached

    def _main_stepped(self, ok):
        mt = self.main_thread
        if not ok:
            self._set_main_over()  # it did not hand back by the stop's deadline: the stop forces
        elif mt.over:
            self._main_thread_ended(mt)
        else:
            mt.resume_when_done(self._main_stepped)

    def _main_thread_ended(self, mt):
        self.release_argv()
        if self.stop_requested:
            self._set_main_over()
            return
        error = mt.error
        if isinstance(error, (SystemExit, KeyboardInterrupt)):
            status = appprocess.exit_status(error)
            self.ended_by_app(error if status else None, appprocess.describe_exit(error))
        elif error is not None:
            self.ended_by_app(error, "main() raised %s" % one_line(error))
        else:
            self.ended_by_app(None, "main() returned")

    def _set_main_over(self):
        fut = self._main_over
        if fut is None:
            fut = self._main_over = self.loop.create_future() if self.loop is not None else None
        if fut is not None and not fut.done():
            fut.set_result(None)

    # -- the blocking calls (the patches call these with the scope's code running)
    def blocking_start(self):
        """``IOLoop.start()`` / ``loop.run_forever()`` on the kernel's loop."""
        self.loop_started = True
        mt = self.main_thread
        if mt is None or not mt.here():
            return None  # no main of its own here (a callback, an Application): the loop runs anyway
        fut = self._loop_stop_fut = self.loop.create_future()
        try:
            mt.hand_back(fut)
        finally:
            self._loop_stop_fut = None
        return None

    def blocking_run(self, coro):
        """``asyncio.run(coro)`` on the kernel's loop: the main task; blocks a main thread."""
        task = self.adopt_main(coro)
        mt = self.main_thread
        if mt is None or not mt.here():
            return None
        return mt.hand_back(task)

    def blocking_until(self, future):
        """``loop.run_until_complete(future)`` on the kernel's loop."""
        mt = self.main_thread
        if mt is None or not mt.here():
            self.adopt_main(future)
            return None
        return mt.hand_back(asyncio.ensure_future(future, loop=self.loop))

    def loop_stop_called(self, reason):
        """The app's ``IOLoop.stop()`` / ``loop.stop()`` on the kernel's loop (never stops it)."""
        fut = self._loop_stop_fut
        if fut is not None:
            if not fut.done():
                fut.set_result(None)  # its IOLoop.start() returns
            return
        if self.stop_requested:
            self._set_main_over()  # an app without a main of its own says it is done
        else:
            self.loop.call_soon(self.ended_by_app, None, reason)

    def threaded_blocking(self, call):
        """Threaded: the app's own loop runs in ``call()``; then what was raised in its main."""
        self._blocking += 1
        try:
            result = call()
        except BaseException:
            if self.pending_raise is None:
                raise
            result = None
        finally:
            self._blocking -= 1
        self._raise_pending()
        return result

    def guard_own_loop(self, loop):
        """Threaded: the app's own ``loop.run_forever()`` (not inside ``run_until_complete``)
        is its serving, blocking call, as ``IOLoop.start()`` is."""
        run_forever, run_until_complete = loop.run_forever, loop.run_until_complete
        self.own_run_forever = run_forever  # the bridge's own serving loop (an Application)
        nested = [0]

        def guarded_run_until_complete(future):
            nested[0] += 1
            try:
                return run_until_complete(future)
            finally:
                nested[0] -= 1

        def guarded_run_forever():
            if nested[0] or threading.get_ident() != self.thread_id:
                return run_forever()
            self.loop_started = True
            loop.call_soon(self.serving)
            self.release_argv()
            return self.threaded_blocking(run_forever)
        try:
            loop.run_forever, loop.run_until_complete = guarded_run_forever, guarded_run_until_complete
        except (AttributeError, TypeError):
            pass

    def _raise_pending(self):
        exc, self.pending_raise = self.pending_raise, None
        if exc is not None:
            raise exc

    def raise_in_main(self, exc):
        """Raise ``exc`` where the app's main blocks (a signal handler's exception, Ctrl+C).
        False when the app has no main blocked anywhere."""
        if not self.threaded:
            mt = self.main_thread
            if self._main_blocked() and mt.waiting is not None:
                self.pending_raise = exc
                waiting = mt.waiting
                if isinstance(waiting, asyncio.Task):
                    waiting.cancel()  # asyncio.run on Ctrl+C: the main task's cleanup runs first
                elif not waiting.done():
                    waiting.set_result(None)
                return True
            if self.main_thread is None and self.main_task is not None and not self.main_task.done():
                self.pending_raise = exc
                self.main_task.cancel()
                return True
            return False
        if self.main_task is None and not self._blocking:
            return False
        self.pending_raise = exc

        def in_loop():
            task = self.main_task
            if isinstance(exc, KeyboardInterrupt) and task is not None and not task.done():
                task.cancel()
            else:
                self.loop.stop()
        try:
            self.loop.call_soon_threadsafe(in_loop)
        except RuntimeError:
            return False
        return True

    def _exit_raised(self, exc):
        """A SystemExit / KeyboardInterrupt escaped one of the app's callbacks or tasks (on its loop)."""
        task = self.main_task
        if task is not None and task.done() and not task.cancelled() and task.exception() is exc:
            if self.threaded:
                # run_until_complete leaves the loop running for these (asyncio expects them
                # to have propagated out of run_forever already): stop it, its main raises it
                self.loop.stop()
            return  # its main task's end: who waits for it tells
        if self.raise_in_main(exc):
            return
        if self.stop_requested:
            self._set_main_over()  # an exit during its stop (a SIGTERM handler's sys.exit): it ended
        else:
            status = appprocess.exit_status(exc)
            self.ended_by_app(exc if status else None, appprocess.describe_exit(exc))

    # -- stop: a SIGTERM
    def terminate(self):
        """Deliver SIGTERM to the app; how (for the log), None if nothing of the app can end itself."""
        found = self.proc.terminate_action()
        if found is None:
            return "a KeyboardInterrupt in its main" if self.raise_in_main(KeyboardInterrupt()) else None
        signum, action = found
        what = "its %s handler" % signal.Signals(signum).name
        if action[0] == "ignored":
            return "nothing (it ignores SIGTERM)"
        if action[0] == "loop":
            _, loop, callback, args, ctx = action
            try:
                loop.call_soon_threadsafe(callback, *args, context=ctx)
            except RuntimeError:
                return None
            return what
        return what if self.deliver_signal(signum, action[1]) else None

    def deliver_signal(self, signum, handler):
        """Run one of the app's ``signal.signal`` handlers where a process runs them: on the
        thread that runs its loop (shared: the kernel's, with its main thread parked).  An
        exception it raises is raised in its main.  False if its loop is gone."""
        def call():
            try:
                handler(signum, None)
            except BaseException as exc:  # raised in the main, where the signal interrupted it
                if not self.raise_in_main(exc) and self.stop_requested:
                    self._set_main_over()
        if self.ended.done():
            return False
        if self.threaded:
            try:
                self.loop.call_soon_threadsafe(call, context=self.ctx.copy())
            except RuntimeError:
                return False
        else:
            self.ctx.copy().run(call)
        return True

    async def _stop_gracefully(self):
        """The SIGTERM part of a stop: True if the app ended on its own within ``stop_timeout``."""
        t0 = time.monotonic()
        self.stop_deadline = t0 + self.stop_timeout
        if not self.threaded and self._main_over is None:
            self._main_over = self.loop.create_future()
            if self.main_thread is not None and self.main_thread.over:
                self._main_over.set_result(None)
            elif self.main_thread is None and self.main_task is not None:
                self.main_task.add_done_callback(lambda _t: self._set_main_over())
        how = self.terminate()
        if how is None:
            return False
        waiter = asyncio.wrap_future(self.ended) if self.threaded else self._main_over
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.stop_timeout)
        except asyncio.TimeoutError:
            self.stop_note = ("WARNING", "did not stop within %g s after %s: forced" % (self.stop_timeout, how))
            self.stop_deadline = time.monotonic() + 1.0  # its cleanup after the cancellations
            return False
        self.stop_note = ("INFO", "stopped by %s in %.0f ms" % (how, (time.monotonic() - t0) * 1000.0))
        return True

    def _signal_from_self(self, signum, how, where):
        """The app sent itself a signal (any thread): taken on its loop, as a handler would be."""
        try:
            self.loop.call_soon_threadsafe(self.signal_self, signum, how, where, context=self.ctx.copy())
        except (RuntimeError, AttributeError):
            pass  # its loop is gone: it has ended

    def signal_self(self, signum, how, where):
        """A signal the app sent itself, as its process would take it: its handler, else the
        default action (SIGINT: KeyboardInterrupt; SIGTERM, SIGHUP, ...: it ends, "terminated
        by SIGTERM"; SIGCHLD, SIGWINCH, ...: nothing), never the kernel's."""
        action = self.proc.actions.get(signum)
        if action is not None and action[0] == "loop":
            _, loop, callback, args, ctx = action
            try:
                loop.call_soon_threadsafe(callback, *args, context=ctx)
            except RuntimeError:
                pass
            return
        handler = action[1] if action is not None else signal.SIG_DFL
        if handler == signal.SIG_IGN:
            return
        if callable(handler) and handler is not signal.default_int_handler:
            self.deliver_signal(signum, handler)
            return
        exc = appprocess.default_action(signum, how, where)
        if exc is not None:
            self._exit_raised(exc)

    async def end_threads(self, grace=THREAD_GRACE, tries=3):
        """After a stop: end the threads the app left running, as its process's exit would (see
        the module); the log says which.  On the kernel's loop."""
        left = [t for t in list(self.threads) if _endable(t)]
        if not left:
            return
        left = await _until_ended(left, grace)  # the ones its teardown told to stop end now
        if not left:
            return
        names = {t: _where(t) for t in left}
        for _ in range(tries):
            for t in left:
                _raise_exit_in(t)
            left = await _until_ended(left, 1.0)
            if not left:
                break
        ended = [names[t] for t in names if t not in left]
        if self.log is None:
            return
        if ended:
            self.log("INFO", "ended %d thread%s the app left running, as its process's exit would: %s"
                     % (len(ended), "" if len(ended) == 1 else "s", ", ".join(ended)))
        if left:
            self.log("WARNING", "could not end %d thread%s the app left running (blocked in a C call, or "
                     "it catches every exception): %s" % (len(left), "" if len(left) == 1 else "s",
                                                          ", ".join(_where(t) for t in left)))

    def _run_atexit(self):
        def log(level, message):
            if self.log is not None:
                self.log(level, message)
        try:
            self.ctx.copy().run(self.proc.run_atexit, log)
        except Exception:
            pass
