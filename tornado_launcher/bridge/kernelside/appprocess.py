"""What an app believes it owns as a process, kept per app (issues 18 and 25).

An :class:`AppProcess` belongs to one start of one app (its scope, or a contract
app's run) and holds what a process of its own would hold process-wide:

* **signals**: ``signal.signal`` / ``getsignal`` / ``set_wakeup_fd`` and
  ``loop.add_signal_handler`` / ``remove_signal_handler`` called by the app's
  code (any thread, either mode) are recorded here and never change the
  kernel's handlers; a stop delivers SIGTERM to the app from this record
  (:meth:`AppProcess.terminate_action`);
* **atexit**: ``atexit.register`` / ``unregister`` from the app's code; the
  registrations run once, last first, when the app ends (:meth:`AppProcess.run_atexit`);
* **exits**: ``SystemExit`` / ``KeyboardInterrupt`` escaping one of the app's
  callbacks or tasks (``asyncio.Handle._run``) end the app, never the kernel's
  loop; ``os._exit`` in the app's code raises ``SystemExit`` instead;
* **singletons**: traitlets' ``SingletonConfigurable.instance()`` /
  ``initialized()`` / ``clear_instance()`` seen from the app's code use the app's
  own slots (:attr:`AppProcess.singletons`), so ``launch_instance()`` does not
  meet the kernel's ``IPKernelApp``;
* **one process**: ``TCPServer.start(n != 1)`` and ``tornado.process.fork_processes``
  are refused with a sentence (they would fork the kernel).

Whose code runs is the context's (``state.current_scope()``, else the run):
the kernel's own code (cells, the bridge) has neither and gets the originals.

In detail (issues 18 and 25; checked in the real kernel of
tests/integration/test_process_model.py):

* Signals are the app's. ``signal.signal`` / ``getsignal`` / ``set_wakeup_fd`` and
  ``loop.add_signal_handler`` / ``remove_signal_handler`` from an app's code (any thread, either
  mode) are recorded in its ``AppProcess`` (``getsignal`` answers as a fresh process would:
  ``default_int_handler`` for SIGINT, ``SIG_IGN`` for SIGPIPE/SIGXFSZ, else ``SIG_DFL``); the
  kernel's handlers never change, and threaded apps no longer get ``ValueError`` /
  ``RuntimeError``. The one signal passed on is SIGCHLD (``tornado.process.Subprocess`` reaps
  from it): at install the bridge takes SIGCHLD on the kernel's loop (asyncio's own
  ``add_signal_handler``, so its wakeup fd wakes the loop whichever thread the signal hit) and
  hands it to every app that set a handler, on that app's loop. When an app whose Subprocess
  handler it was ends, ``Subprocess._initialized`` is reset so the next app's Subprocess sets
  itself up on its own loop. A signal an app sends itself (``os.kill(os.getpid(), sig)``,
  ``signal.raise_signal``) is taken on its loop (``appstop.signal_self``): its handler, else the
  default action for that app only: SIGINT a KeyboardInterrupt in its main; SIGTERM, SIGHUP, ...
  end it ("terminated by SIGTERM (os.kill in app.py:12)"; raised in its main as a
  ``SystemExit``, so its teardown runs, which a real SIGTERM would not); SIGCHLD, SIGWINCH,
  SIGSTOP, ...: nothing. ``signal.alarm`` / ``setitimer(ITIMER_REAL)`` / ``getitimer`` are
  emulated per app (a ``threading.Timer`` that sends the app its SIGALRM the same way); the
  other interval timers are refused with an OSError (they would signal the kernel). Contract
  apps' signals and alarms to themselves still reach the kernel.
* atexit per app: ``atexit.register`` / ``unregister`` from an app's code go to its
  ``AppProcess``; they run when the app ends (stop or its own end), once, last first, in its
  context, then are forgotten (contract apps: at their stop). The kernel's own atexit table is
  untouched.
* One process: ``TCPServer.start(n)`` with n != 1 (0/None: one per CPU) and
  ``tornado.process.fork_processes`` from an app's code raise ``RuntimeError:
  HTTPServer.start(4): the app runs as one process inside the kernel; remove ``num_processes``
  (or pass 1) or run it as a ``process`` block``; the app fails with it.
  (``bind_sockets(reuse_port=True)`` then ``fork_processes`` fails at the fork.) ``os.fork``
  itself is procB's (children).
* In a process forked from the kernel (multiprocessing's fork start method, ``os.fork``) every
  patch of ``appprocess`` gives the original (``_KERNEL_PID``): multiprocessing's child ends
  with ``os._exit(code)``, which must end the child, not raise ``SystemExit`` in a copy of the
  kernel (tested: without it the child went on running the kernel's loop and never exited).
* Singletons: traitlets' ``SingletonConfigurable.instance`` / ``initialized`` /
  ``clear_instance`` (so ``launch_instance()``), called from an app's code, run with the app's
  own ``_instance`` slots on the MRO (swapped in for the call, the kernel's put back):
  ``IPKernelApp.instance()`` stays the kernel's; each start has empty slots. traitlets is
  imported only if present. Limit: the kernel's slots are swapped out for the duration of such a
  call; kernel code running at that moment on another thread (threaded mode) would see the
  app's.
* Exits end the app only: ``SystemExit`` / ``KeyboardInterrupt`` escaping any of the app's
  callbacks or tasks (``asyncio.Handle._run`` is wrapped; the handle's context says whose) end
  that app, never the kernel's loop: raised in its main where it blocks (as a process would),
  else the app ends with ``exit status 1 (sys.exit in papps/exits.py:21)`` / ``interrupted
  (KeyboardInterrupt in ...)`` ("failed" for a non-zero status). ``os._exit(n)`` from an app's
  code raises ``SystemExit(n)`` instead (``os._exit`` in the reason). A contract app (start/stop
  class) that exits from a callback is stopped (its ``stop()``) and shown failed with the same
  reason; its ``stop()`` may take the app's ``stop_timeout`` (it was a fixed 5 s).

Facts this relies on (ipykernel 7.4, tornado 6.6, Python 3.11):

* asyncio's C Task sets a ``SystemExit``/``KeyboardInterrupt`` as the task's exception and
  re-raises it out of ``Handle._run``, which re-raises it out of ``run_forever()``: that is how
  an app's ``sys.exit`` killed the kernel. ``run_until_complete``'s done callback then does not
  stop the loop (it assumes the exception already left ``run_forever``): when the bridge
  swallows it, it stops the app's loop itself.
* tornado 6's ``Subprocess.initialize()`` uses ``loop.add_signal_handler(SIGCHLD)`` (not
  ``signal.signal``), on the loop current where it is first called, once per process
  (``_initialized``).
* A Python signal handler runs only when the main thread executes bytecode: a SIGCHLD delivered
  to another thread while the kernel's loop sleeps in ``epoll`` waits until something wakes the
  loop, unless a wakeup fd is set (asyncio's ``add_signal_handler`` sets it).
* ipykernel installs ``default_int_handler`` for SIGINT while a cell runs and puts back the
  previous handler after; a cell therefore always sees SIGINT's cell handler: the test looks at
  SIGINT from a callback after the cell.
* ``signal.getsignal`` returns ``Handlers.SIG_DFL``, an IntEnum whose ``str()`` is ``0``.
"""

import asyncio
import atexit
import contextvars
import os
import signal
import sys
import threading
import time
import weakref

from . import state

#: the handler a fresh ``python`` process starts with, for :func:`signal.getsignal`
_FRESH = {signal.SIGINT: signal.default_int_handler}
for _name in ("SIGPIPE", "SIGXFSZ"):
    if hasattr(signal, _name):
        _FRESH[getattr(signal, _name)] = signal.SIG_IGN

ONE_PROCESS = ("%s: the app runs as one process inside the kernel; remove `num_processes` (or pass 1) "
               "or run it as a `process` block")


class Originals:
    def __init__(self):
        self.applied = False
        self.signal = self.getsignal = self.set_wakeup_fd = None
        self.add_signal_handler = self.remove_signal_handler = None
        self.atexit_register = self.atexit_unregister = None
        self.os_exit = None
        self.os_kill = self.raise_signal = None
        self.alarm = self.setitimer = self.getitimer = None
        self.handle_run = None
        self.tcp_start = None
        self.fork_processes = None
        self.singleton = None  # (instance, initialized, clear_instance) of SingletonConfigurable


originals = Originals()

#: the kernel's pid: in a process forked from it (multiprocessing's fork, os.fork) every call
#: is the original (its os._exit must end that child, not raise in a copy of the kernel)
_KERNEL_PID = os.getpid()


def current():
    """The :class:`AppProcess` of the app whose code runs here, None for the kernel's code."""
    if os.getpid() != _KERNEL_PID:
        return None
    proc = getattr(state.current_scope(), "proc", None)
    if proc is None:
        proc = getattr(state.current_run.get(), "proc", None)
    return proc


def of_context(ctx):
    if os.getpid() != _KERNEL_PID:
        return None
    proc = getattr(ctx.get(state.scope_var), "proc", None)
    if proc is None:
        proc = getattr(ctx.get(state.current_run), "proc", None)
    return proc


class AppProcess:
    """The process-wide state of one start of one app (see the module docstring)."""

    def __init__(self, name):
        self.name = name
        self.handlers = {}  # signum -> what signal.signal() set
        self.actions = {}  # signum -> ("signal", handler) | ("loop", loop, callback, args, context): the latest wins
        self.wakeup_fd = -1
        self.atexit = []  # [(func, args, kwargs)]
        self.atexit_done = False
        self.singletons = {}  # SingletonConfigurable subclass -> its _instance for this app
        #: ``fn(exc)``: a SystemExit / KeyboardInterrupt escaped one of the app's callbacks
        #: (set by the owner; None: let it propagate as before)
        self.on_exit = None
        #: ``fn(signum, handler)``: run one of its handlers where its signal handlers run
        #: (set by the owner; None: its handlers are recorded, never run)
        self.deliver = None
        #: ``fn(signum, how)``: the app sent itself a signal (``os.kill(os.getpid(), ...)``,
        #: ``signal.raise_signal``); None: the kernel's own behaviour
        self.on_signal = None
        self._alarm = None  # (threading.Timer, deadline, interval): its ITIMER_REAL / alarm()

    # -- signals
    def getsignal(self, signum):
        return self.handlers.get(signum, _FRESH.get(signum, signal.SIG_DFL))

    def terminate_action(self):
        """What a SIGTERM does to the app: ``(signum, action)``, action as in :attr:`actions`,
        ``(signum, ("ignored",))`` when it ignores SIGTERM, None: no handler (Ctrl+C's
        KeyboardInterrupt then)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            action = self.actions.get(signum)
            if action is None:
                continue
            if action[0] == "signal":
                handler = action[1]
                if handler == signal.SIG_IGN and signum == signal.SIGTERM:
                    return signum, ("ignored",)
                if not callable(handler) or handler is signal.default_int_handler:
                    continue
            return signum, action
        return None

    def ended(self):
        """The app is over: tornado's Subprocess, whose SIGCHLD handler was this app's (it
        reaps on the app's IOLoop), sets itself up again for the next app that uses it."""
        action = self.actions.get(signal.SIGCHLD) or ("",)
        handler = action[1] if action[0] == "signal" else action[2] if action[0] == "loop" else None
        if getattr(handler, "__module__", None) == "tornado.process":
            process = __import__("sys").modules.get("tornado.process")
            if process is not None and getattr(process.Subprocess, "_initialized", False):
                process.Subprocess._initialized = False
        _sigchld["procs"].discard(self)
        self.set_timer(0.0, 0.0)

    # -- its real-time timer: signal.alarm / setitimer(ITIMER_REAL) deliver SIGALRM to the app
    def timer(self):
        """``(seconds left, interval)`` of its timer."""
        if self._alarm is None:
            return 0.0, 0.0
        _, deadline, interval = self._alarm
        return max(0.0, deadline - time.monotonic()), interval

    def set_timer(self, seconds, interval):
        """Arm (or with 0, disarm) its timer; the previous ``(seconds left, interval)``."""
        previous = self.timer()
        if self._alarm is not None:
            self._alarm[0].cancel()
            self._alarm = None
        if seconds > 0:
            timer = []

            def fire():
                if self._alarm is None or self._alarm[0] is not timer[0]:
                    return  # disarmed or re-armed meanwhile
                self._alarm = None
                if interval > 0:
                    self.set_timer(interval, interval)
                if self.on_signal is not None:
                    self.on_signal(signal.SIGALRM, "signal.alarm", None)
            t = threading.Timer(seconds, fire)
            timer.append(t)
            t.daemon = True
            t._tl_entry_scope = t._tl_bridge_run = False  # the bridge's timer, not one of the app's threads
            self._alarm = (t, time.monotonic() + seconds, interval)
            t.start()
        return previous

    # -- atexit
    def run_atexit(self, log=None):
        """The app's atexit registrations, last first, once; then they are forgotten."""
        if self.atexit_done:
            return 0
        self.atexit_done = True
        calls, self.atexit = self.atexit, []
        for func, args, kwargs in reversed(calls):
            try:
                func(*args, **kwargs)
            except BaseException as exc:  # as atexit does: report it, run the others
                if log is not None:
                    log("ERROR", "atexit %s raised %s" % (getattr(func, "__qualname__", func), exc))
        return len(calls)


# -- the patches


def _check_signum(signum):
    signum = int(signum)
    if signum not in signal.valid_signals():
        raise ValueError("signal number out of range")
    return signum


def _signal(signalnum, handler):
    proc = current()
    if proc is None:
        return originals.signal(signalnum, handler)
    signalnum = _check_signum(signalnum)
    if signalnum in (signal.SIGKILL, signal.SIGSTOP):
        raise OSError(22, "Invalid argument")
    if not callable(handler) and handler not in (signal.SIG_DFL, signal.SIG_IGN):
        raise TypeError("signal handler must be signal.SIG_IGN, signal.SIG_DFL, or a callable object")
    previous = proc.getsignal(signalnum)
    proc.handlers[signalnum] = handler
    proc.actions[signalnum] = ("signal", handler)
    if signalnum == signal.SIGCHLD and callable(handler):
        _want_sigchld(proc)
    return previous


# SIGCHLD is the one signal the kernel does not own and apps rely on (tornado.process.Subprocess
# reaps its children from it): from the install on, the kernel's handler passes it on to every
# app that set one (installed at once: a child may end before an app's handler is recorded)
_sigchld = {"installed": False, "previous": None, "procs": weakref.WeakSet()}


def _want_sigchld(proc):
    _sigchld["procs"].add(proc)


def _install_sigchld():
    # on the kernel's loop (its wakeup fd wakes it whichever thread the signal hit), as
    # asyncio's own add_signal_handler does it
    loop = state.kernel.loop
    try:
        _sigchld["previous"] = originals.getsignal(signal.SIGCHLD)
        originals.add_signal_handler(loop, signal.SIGCHLD, _dispatch_sigchld)
        _sigchld["installed"] = True
    except (ValueError, OSError, RuntimeError, TypeError, AttributeError):
        pass  # not the main thread, or not a selector loop: SIGCHLD is not passed on then


def _dispatch_sigchld(signum=signal.SIGCHLD, frame=None):
    for proc in list(_sigchld["procs"]):
        action = proc.actions.get(signum) or ("",)
        try:
            if action[0] == "loop":  # loop.add_signal_handler (tornado.process.Subprocess)
                _, loop, callback, args, ctx = action
                loop.call_soon_threadsafe(callback, *args, context=ctx)
            elif action[0] == "signal" and callable(action[1]) and proc.deliver is not None:
                # on the kernel's loop, not inside this handler: an app's main thread may be running
                state.kernel.loop.call_soon_threadsafe(proc.deliver, signum, action[1])
        except RuntimeError:
            pass  # its loop is closed
    previous = _sigchld["previous"]
    if callable(previous):
        previous(signum, frame)


def _getsignal(signalnum):
    proc = current()
    if proc is None:
        return originals.getsignal(signalnum)
    return proc.getsignal(_check_signum(signalnum))


def _set_wakeup_fd(fd, **kwargs):
    proc = current()
    if proc is None:
        return originals.set_wakeup_fd(fd, **kwargs)
    previous, proc.wakeup_fd = proc.wakeup_fd, int(fd)
    return previous


def _add_signal_handler(self, sig, callback, *args):
    proc = current()
    if proc is None:
        return originals.add_signal_handler(self, sig, callback, *args)
    if asyncio.iscoroutine(callback) or asyncio.iscoroutinefunction(callback):
        raise TypeError("coroutines cannot be used with add_signal_handler()")
    sig = _check_signum(sig)
    proc.actions[sig] = ("loop", self, callback, args, contextvars.copy_context())
    if sig == signal.SIGCHLD:
        _want_sigchld(proc)
    return None


def _remove_signal_handler(self, sig):
    proc = current()
    if proc is None:
        return originals.remove_signal_handler(self, sig)
    sig = _check_signum(sig)
    action = proc.actions.get(sig)
    if action is not None and action[0] == "loop":
        del proc.actions[sig]
        return True
    return False


def _atexit_register(func, *args, **kwargs):
    proc = current()
    if proc is None:
        return originals.atexit_register(func, *args, **kwargs)
    if not callable(func):
        raise TypeError("the first argument must be callable")
    proc.atexit.append((func, args, kwargs))
    return func


def _atexit_unregister(func):
    proc = current()
    if proc is None:
        return originals.atexit_unregister(func)
    proc.atexit = [c for c in proc.atexit if c[0] != func]
    return None


def _os_exit(status):
    proc = current()
    if proc is None:
        return originals.os_exit(status)
    exc = SystemExit(status)
    exc._tl_os_exit = True  # the reason says os._exit, not sys.exit
    raise exc


class Terminated(SystemExit):
    """An app that sent itself a signal whose default action ends a process: it ends."""

    def __init__(self, signum, how, where):
        super().__init__(128 + signum)
        self.signum, self.how, self.where = signum, how, where


#: signals whose default action is not to end a process (ignore, stop, continue): nothing happens
_HARMLESS = {getattr(signal, n) for n in ("SIGCHLD", "SIGWINCH", "SIGURG", "SIGCONT", "SIGSTOP", "SIGTSTP",
                                          "SIGTTIN", "SIGTTOU") if hasattr(signal, n)}


def default_action(signum, how, where):
    """What a signal's default action is for an app: None (nothing), or the exception that ends it."""
    if signum == signal.SIGINT:
        exc = KeyboardInterrupt()
        exc.where = where
        return exc
    if signum in _HARMLESS:
        return None
    return Terminated(signum, how, where)


def _caller_place():
    frame = sys._getframe(2)
    while frame is not None and ("tornado_launcher" in frame.f_code.co_filename
                                 or frame.f_code.co_filename.startswith("<tornado-launcher")):
        frame = frame.f_back
    if frame is None:
        return None
    return _relative(frame.f_code.co_filename, frame.f_lineno)


def _os_kill(pid, sig):
    proc = current()
    if proc is None or proc.on_signal is None or pid != _KERNEL_PID:
        return originals.os_kill(pid, sig)
    sig = _check_signum(sig) if sig else 0
    if sig:  # 0 only asks whether the process exists: it does
        proc.on_signal(sig, "os.kill", _caller_place())


def _alarm(seconds):
    proc = current()
    if proc is None or proc.on_signal is None:
        return originals.alarm(seconds)
    left, _ = proc.set_timer(float(int(seconds)), 0.0)
    return int(left + 0.999999) if left else 0


def _setitimer(which, seconds, interval=0.0):
    proc = current()
    if proc is None or proc.on_signal is None:
        return originals.setitimer(which, seconds, interval)
    if which != signal.ITIMER_REAL:
        raise OSError(22, "only ITIMER_REAL is emulated for an app inside the kernel "
                          "(ITIMER_VIRTUAL / ITIMER_PROF would signal the kernel)")
    return proc.set_timer(float(seconds), float(interval))


def _getitimer(which):
    proc = current()
    if proc is None or proc.on_signal is None or which != signal.ITIMER_REAL:
        return originals.getitimer(which)
    return proc.timer()


def _raise_signal(signalnum):
    proc = current()
    if proc is None or proc.on_signal is None:
        return originals.raise_signal(signalnum)
    proc.on_signal(_check_signum(signalnum), "signal.raise_signal", _caller_place())


def _handle_run(self):
    try:
        return originals.handle_run(self)
    except (SystemExit, KeyboardInterrupt) as exc:
        ctx = getattr(self, "_context", None)
        proc = of_context(ctx) if ctx is not None else None
        if proc is None or proc.on_exit is None:
            raise
        proc.on_exit(exc)


def _tcp_start(self, num_processes=1, max_restarts=None):
    if num_processes != 1 and current() is not None:
        raise RuntimeError(ONE_PROCESS % ("%s.start(%r)" % (type(self).__name__, num_processes)))
    return originals.tcp_start(self, num_processes, max_restarts)


def _fork_processes(num_processes, max_restarts=None):
    if current() is not None:
        raise RuntimeError(ONE_PROCESS % ("tornado.process.fork_processes(%r)" % (num_processes,)))
    return originals.fork_processes(num_processes, max_restarts)


def _mro_slots(cls):
    base = _singleton_base()
    return [c for c in cls.__mro__ if isinstance(c, type) and issubclass(c, base)]


def _singleton_base():
    from traitlets.config.configurable import SingletonConfigurable
    return SingletonConfigurable


_MISSING = object()


def _in_app_slots(proc, cls, call):
    """``call()`` with the app's ``_instance`` slots in place on ``cls``'s MRO, the kernel's
    put back after (the app's code runs alone meanwhile: the kernel's loop thread runs it, or
    is parked while its main thread runs)."""
    classes = _mro_slots(cls)
    kernel = {c: c.__dict__.get("_instance", _MISSING) for c in classes}
    try:
        for c in classes:
            c._instance = proc.singletons.get(c)
        return call()
    finally:
        for c in classes:
            proc.singletons[c] = c.__dict__.get("_instance")
            if kernel[c] is _MISSING:
                try:
                    delattr(c, "_instance")
                except AttributeError:
                    pass
            else:
                c._instance = kernel[c]


def _patch_singletons():
    try:
        from traitlets.config.configurable import SingletonConfigurable
    except ImportError:
        return  # no traitlets in this kernel: nothing to scope
    instance = SingletonConfigurable.__dict__["instance"].__func__
    initialized = SingletonConfigurable.__dict__["initialized"].__func__
    clear_instance = SingletonConfigurable.__dict__["clear_instance"].__func__
    originals.singleton = (instance, initialized, clear_instance)

    def scoped(original):
        def method(cls, *args, **kwargs):
            proc = current()
            if proc is None:
                return original(cls, *args, **kwargs)
            return _in_app_slots(proc, cls, lambda: original(cls, *args, **kwargs))
        method.__name__ = original.__name__
        method.__doc__ = original.__doc__
        return classmethod(method)

    SingletonConfigurable.instance = scoped(instance)
    SingletonConfigurable.initialized = scoped(initialized)
    SingletonConfigurable.clear_instance = scoped(clear_instance)


def apply():
    if originals.applied:
        return
    originals.applied = True
    originals.signal, originals.getsignal = signal.signal, signal.getsignal
    originals.set_wakeup_fd = signal.set_wakeup_fd
    signal.signal, signal.getsignal, signal.set_wakeup_fd = _signal, _getsignal, _set_wakeup_fd
    from asyncio import unix_events
    loop_cls = unix_events._UnixSelectorEventLoop
    originals.add_signal_handler = loop_cls.add_signal_handler
    originals.remove_signal_handler = loop_cls.remove_signal_handler
    loop_cls.add_signal_handler = _add_signal_handler
    loop_cls.remove_signal_handler = _remove_signal_handler
    originals.atexit_register, originals.atexit_unregister = atexit.register, atexit.unregister
    atexit.register, atexit.unregister = _atexit_register, _atexit_unregister
    originals.os_exit = os._exit
    os._exit = _os_exit
    originals.os_kill, originals.raise_signal = os.kill, signal.raise_signal
    os.kill, signal.raise_signal = _os_kill, _raise_signal
    originals.alarm, originals.setitimer, originals.getitimer = signal.alarm, signal.setitimer, signal.getitimer
    signal.alarm, signal.setitimer, signal.getitimer = _alarm, _setitimer, _getitimer
    originals.handle_run = asyncio.events.Handle._run
    asyncio.events.Handle._run = _handle_run
    import tornado.process
    import tornado.tcpserver
    originals.tcp_start = tornado.tcpserver.TCPServer.start
    tornado.tcpserver.TCPServer.start = _tcp_start
    originals.fork_processes = tornado.process.fork_processes
    tornado.process.fork_processes = _fork_processes
    _patch_singletons()
    _install_sigchld()


# -- saying how an app exited


def exit_place(exc, project=None):
    """``server.py:12``: where ``exc`` was raised (the innermost frame of its traceback that is
    not the bridge's), relative to the project directory."""
    project = project or state.kernel.settings.get("project_dir")
    root = os.path.realpath(project) if project else None
    tb = exc.__traceback__
    where = own = None
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if "tornado_launcher" not in path and not path.startswith(("<frozen", "<tornado-launcher")):
            where = (path, tb.tb_lineno)
            if root and os.path.isabs(path) and os.path.realpath(path).startswith(root + os.sep):
                own = where
        tb = tb.tb_next
    where = own or where
    if where is None:
        return None
    return _relative(*where)


def _relative(path, line):
    """``papps/exits.py:12``: relative to the project directory when inside it."""
    project = state.kernel.settings.get("project_dir")
    root = os.path.realpath(project) if project else None
    if root and os.path.isabs(path):
        try:
            rel = os.path.relpath(os.path.realpath(path), root)
            if not rel.startswith(".."):
                path = rel
        except ValueError:
            pass
    return "%s:%d" % (path, line)


def exit_status(exc):
    """The status a process would exit with for ``exc`` (SystemExit / KeyboardInterrupt)."""
    if isinstance(exc, KeyboardInterrupt):
        return 130
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    return 1  # sys.exit("message"): printed to stderr, status 1


def describe_exit(exc):
    """``exit status 1 (sys.exit in server.py:12)`` / ``interrupted (KeyboardInterrupt in ...)``."""
    if isinstance(exc, Terminated):  # where it sent the signal, not where its main received it
        where = exc.where
        return "terminated by %s (%s%s)" % (signal.Signals(exc.signum).name, exc.how, " in " + where if where else "")
    where = getattr(exc, "where", None) or exit_place(exc)
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (KeyboardInterrupt%s)" % (" in " + where if where else "")
    how = "os._exit" if getattr(exc, "_tl_os_exit", False) else "sys.exit"
    text = "exit status %s (%s%s)" % (exit_status(exc), how, " in " + where if where else "")
    if isinstance(exc.code, str):
        text += ": " + exc.code
    return text
