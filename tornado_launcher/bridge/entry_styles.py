"""Run a Tornado app the way its own entry point runs it, inside a kernel (issue 10).

Kernel side: standard library + tornado only, never imports the launcher (it
is sent into kernels as source like the rest of the bridge).  The launcher may
import it too, for :func:`check_spec`.  Not wired into ``runtime.py`` yet.

Styles (an :class:`Entry`)::

    Entry.main("pkg.mod:main")        # or "pkg.mod.main"; a coroutine function or a plain one
    Entry.script("/abs/server.py")    # runs as __main__, like `python server.py ARGV`
    Entry.application("pkg.mod:make_app", port=8888, address="127.0.0.1")
                                      # Application subclass, instance, or factory; we listen
    Entry.callable(fn)                # an already-imported function (tests, subclasses)

One start of one app is an :class:`AppScope`::

    install()                         # once per kernel, on the kernel's loop thread (idempotent)
    scope = AppScope("web", argv=["--port=8888"], threaded=False)
    serving = await scope.start(entry)   # on the kernel's loop; True: it serves;
                                         # False: it already ended (scope.outcome says why);
                                         # raises what the app's start raised
    scope.urls()                      # from the sockets it really bound: ["http://localhost:8888/"]
    outcome = await scope.stop()      # everything it started is closed or cancelled; port free
    scope.ended                       # concurrent.futures.Future -> Outcome, set however it ends
    scope.leftovers()                 # what could not be stopped (threads still alive), for a warning

``Outcome(requested, error, reason)``: ``requested`` True when :meth:`AppScope.stop`
ended it; otherwise the app ended on its own (its ``main()`` returned or raised,
it stopped its IOLoop, it called ``sys.exit``); ``error`` is the exception
(None for a clean end), ``reason`` a one-line sentence.

What happens inside (shared mode = on the kernel's running loop; threaded =
in a thread of its own with its own loop):

* ``asyncio.run(coro)`` in the app's context: shared, ``coro`` becomes the
  app's main task on the kernel's loop and ``asyncio.run`` returns None at once
  (a second ``asyncio.run`` is chained after the first); threaded, it runs on
  the app's loop until done, as usual.  ``loop.run_until_complete`` /
  ``loop.run_forever`` on the kernel's loop are handled the same way.
* ``IOLoop.current().start()``: shared, returns at once (the app keeps
  serving); threaded, really runs.  The app's own ``IOLoop.stop()`` means it
  ended on its own (shared) or makes ``start()`` return (threaded).
* ``sys.exit()`` after a main task or IOLoop start was handed over (e.g.
  ``sys.exit(asyncio.run(main()))``) ends only the synchronous part.
* ``sys.argv`` is ``[argv0] + argv`` while the app's synchronous code and every
  step of its main task run (never ipykernel's ``-f connection-file``);
  ``tornado.options.parse_command_line()`` and ``argparse`` parsers default to
  the app's argv in the app's context whatever thread or task they run in.
* ``tornado.options``: the global ``options._options`` is replaced by a mapping
  that routes by context: each app (by name) has its own options and values,
  code outside any app sees the kernel's.  Tornado's own options (``logging``,
  ``help``...) are copied into an app on first use, so its ``--logging`` does
  not change another's.  Before each start an app forgets the options defined
  by files that are no longer loaded modules (purged) and by its script, so
  "Option 'port' already defined" never happens on a restart.
  (Chosen over swapping ``_options`` at context switches: a swap is wrong as
  soon as two apps' callbacks interleave on one loop or run in two threads;
  routing by ContextVar is right for handles, tasks and the app's threads.)
* Tracking: servers (``TCPServer.add_sockets``), tasks (a task factory on the
  app's loop), timers, callbacks and ``PeriodicCallback``s (the handles'
  contexts), IOLoop handlers (IOStreams, sockets) and threads
  (``Thread.start``) carry the scope; :meth:`AppScope.stop` closes servers and
  their connections, cancels the main task (so ``await asyncio.Event().wait()``
  ends), cancels the rest, and (threaded) stops and closes the loop.
"""

import argparse
import asyncio
import builtins
import collections
import collections.abc
import concurrent.futures
import contextvars
import copy
import functools
import importlib
import inspect
import os
import socket
import sys
import threading
import types
import weakref

import tornado.httpserver
import tornado.ioloop
import tornado.iostream
import tornado.options
import tornado.tcpserver
from tornado.platform.asyncio import BaseAsyncIOLoop

__all__ = ["Entry", "AppScope", "Outcome", "install", "current_scope", "check_spec", "parse_main",
           "load_main", "make_application", "urls_for", "forget_options"]

#: the scope (one start of one app) whose code is running
SCOPE = contextvars.ContextVar("tornado_launcher_entry_scope", default=None)
STOP_TIMEOUT = 5.0

Outcome = collections.namedtuple("Outcome", "requested error reason")

_orig = {}
_state = {"installed": False, "factories": weakref.WeakKeyDictionary()}


def current_scope():
    """The scope whose code is running here: by context, else by the thread the app started."""
    scope = SCOPE.get()
    if scope is None:
        scope = getattr(threading.current_thread(), "_tl_entry_scope", None)
    return scope


def _one_line(exc):
    text = ("%s: %s" % (type(exc).__name__, exc)) if str(exc) else type(exc).__name__
    return text.strip().splitlines()[0]


# ---------------------------------------------------------------------------
# entry points


def parse_main(text):
    """``"pkg.mod:func"`` / ``"pkg.mod.func"`` -> ``(module, attribute path, explicit)``.

    ``explicit`` is True for the ``:`` form (no guessing where the module ends).
    Raises ValueError with a sentence saying what to write.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("main must be a dotted path like 'package.module.main' or 'package.module:main'")
    text = text.strip()
    if ":" in text:
        module, _, attr = text.partition(":")
        explicit = True
    else:
        module, _, attr = text.rpartition(".")
        explicit = False
    parts = module.split(".") + attr.split(".")
    if not module or not attr or not all(p.isidentifier() for p in parts):
        raise ValueError("%r is not a dotted path like 'package.module.main' or 'package.module:main'" % text)
    return module, attr, explicit


def load_main(text):
    """Import and return the object ``text`` names (see :func:`parse_main`)."""
    module, attr, explicit = parse_main(text)
    try:
        obj = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if explicit or "." not in module or exc.name != module:
            raise
        # pkg.mod.Outer.func: the module ends earlier
        head, _, tail = module.rpartition(".")
        return _getattr_path(load_main(head + ":" + tail), attr, text)
    return _getattr_path(obj, attr, text)


def _getattr_path(obj, attr, text):
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImportError("%s: %r has no attribute %r" % (text, obj, part)) from None
    return obj


def check_spec(spec, base_dir=None):
    """Problems with an app's entry keys, as sentences (empty: fine).  Pure; the launcher's
    ``check`` may call it.  ``spec`` keys: app_class, main, script, port, address."""
    problems = []
    given = [k for k in ("app_class", "main", "script") if spec.get(k)]
    if len(given) != 1:
        problems.append("give exactly one of app_class, main, script (found %s)" % (", ".join(given) or "none"))
    for key in ("app_class", "main"):
        if spec.get(key):
            try:
                parse_main(spec[key])
            except ValueError as exc:
                problems.append("%s: %s" % (key, exc))
    if spec.get("script"):
        path = spec["script"]
        if base_dir and not os.path.isabs(path):
            path = os.path.join(base_dir, path)
        if base_dir is not None and not os.path.isfile(path):
            problems.append("script %r does not exist: give a path relative to the config file" % spec["script"])
    port = spec.get("port")
    if port is not None:
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            problems.append("port %r is not a number from 0 to 65535" % (port,))
        if not spec.get("app_class"):
            problems.append("port is only for an app_class that is a tornado.web.Application "
                            "(or a function returning one): a main or script listens itself")
    if spec.get("address") is not None and not isinstance(spec.get("address"), str):
        problems.append("address must be a string like '127.0.0.1'")
    return problems


class Entry:
    """How an app is started: ``kind`` in main / script / application / callable."""

    def __init__(self, kind, target, port=None, address=None):
        self.kind = kind
        self.target = target
        self.port = port
        self.address = address

    @classmethod
    def main(cls, dotted):
        parse_main(dotted)
        return cls("main", dotted)

    @classmethod
    def script(cls, path):
        return cls("script", os.path.abspath(path))

    @classmethod
    def application(cls, target, port, address="127.0.0.1"):
        """``target``: dotted path or object: Application subclass, instance, or factory.
        ``address`` None is 127.0.0.1; "" (or "0.0.0.0") is every interface."""
        return cls("application", target, int(port), "127.0.0.1" if address is None else address)

    @classmethod
    def callable(cls, fn):
        return cls("callable", fn)

    def argv0(self):
        if self.kind == "script":
            return self.target
        if self.kind in ("main", "application") and isinstance(self.target, str):
            mod = sys.modules.get(parse_main(self.target)[0])
            return getattr(mod, "__file__", None) or self.target
        return getattr(self.target, "__name__", "app")

    def __repr__(self):
        return "Entry(%s, %r)" % (self.kind, self.target)


def make_application(obj):
    """A ``tornado.web.Application`` from a subclass, an instance or a factory; None for anything else."""
    import tornado.web

    if isinstance(obj, tornado.web.Application):
        return obj
    if isinstance(obj, type):
        return obj() if issubclass(obj, tornado.web.Application) else None
    if not callable(obj):
        return None
    result = obj()
    if isinstance(result, tornado.web.Application):
        return result
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()
        raise TypeError("%s() is a coroutine function, not an application factory: give it as main"
                        % getattr(obj, "__qualname__", obj))
    raise TypeError("%s() returned %s, not a tornado.web.Application"
                    % (getattr(obj, "__qualname__", obj), type(result).__name__))


# ---------------------------------------------------------------------------
# urls


def urls_for(servers):
    """URLs a browser can open for ``[(server, [sockets])]``: a wildcard bind is ``localhost``."""
    urls = []
    bound = []
    for server, socks in servers:
        scheme = "https" if getattr(server, "ssl_options", None) else "http"
        for sock in socks:
            if sock.fileno() == -1:
                continue
            try:
                addr = sock.getsockname()
            except OSError:
                continue
            bound.append((scheme, sock.family, addr[0], addr[1]))
    v4_wild = {(s, p) for s, f, h, p in bound if f == socket.AF_INET and h in ("0.0.0.0", "")}
    for scheme, family, host, port in bound:
        if family == socket.AF_INET:
            host = "localhost" if host in ("0.0.0.0", "") else host
        elif family == socket.AF_INET6:
            if host in ("::", ""):
                host = "localhost" if (scheme, port) in v4_wild else "[::1]"
            else:
                host = "[%s]" % host
        else:
            continue
        url = "%s://%s:%d/" % (scheme, host, port)
        if url not in urls:
            urls.append(url)
    return urls


# ---------------------------------------------------------------------------
# tornado.options per app


class _ScopedOptions(collections.abc.MutableMapping):
    """``options._options`` routed by context: an app's own options, else the kernel's."""

    def __init__(self, base):
        self.base = base  # the kernel's (tornado's own options live here)
        self.apps = {}  # app name -> {name: _Option}

    def _own(self):
        scope = current_scope()
        if scope is None:
            return None
        return self.apps.setdefault(scope.name, {})

    def __getitem__(self, key):
        own = self._own()
        if own is None:
            return self.base[key]
        if key in own:
            return own[key]
        source = self.base.get(key)
        if source is None:  # a module another app imported (cached) defined it
            source = next((d[key] for d in self.apps.values() if key in d), None)
        if source is None:
            raise KeyError(key)
        option = copy.copy(source)  # this app's own value from now on
        if hasattr(type(option), "UNSET"):
            option._value = type(option).UNSET
        own[key] = option
        return option

    def __setitem__(self, key, value):
        own = self._own()
        (self.base if own is None else own)[key] = value

    def __delitem__(self, key):
        own = self._own()
        del (self.base if own is None else own)[key]

    def __contains__(self, key):
        own = self._own()
        if key in self.base or (own is not None and key in own):
            return True
        if own is None or _called_by_define():
            return False  # define() of this app: another app's option of that name is no conflict
        return any(key in d for d in self.apps.values())  # a cached module another app imported

    def _keys(self):
        own = self._own()
        keys = list(self.base)
        if own is not None:
            keys += [k for k in own if k not in self.base]
        return keys

    def __iter__(self):
        return iter(self._keys())

    def __len__(self):
        return len(self._keys())


def _called_by_define():
    """Whether ``OptionParser.define`` asks (not wrapped: it names the caller's file by frames)."""
    frame = sys._getframe(2)
    return frame is not None and frame.f_code is tornado.options.OptionParser.define.__code__


class _ScopedCallbacks:
    """``options._parse_callbacks``: the kernel's plus the running app's own."""

    def __init__(self, base):
        self.base = list(base)
        self.apps = {}

    def append(self, callback):
        scope = current_scope()
        (self.base if scope is None else self.apps.setdefault(scope.name, [])).append(callback)

    def __iter__(self):
        scope = current_scope()
        return iter(self.base + (self.apps.get(scope.name, []) if scope is not None else []))

    def __len__(self):
        return len(list(iter(self)))


def _install_options():
    opts = tornado.options.options
    if not isinstance(opts.__dict__.get("_options"), _ScopedOptions):
        opts.__dict__["_options"] = _ScopedOptions(opts.__dict__["_options"])
        opts.__dict__["_parse_callbacks"] = _ScopedCallbacks(opts.__dict__["_parse_callbacks"])


def forget_options(files, app=None):
    """Remove the options defined in ``files`` (the kernel's and every app's, or only ``app``'s).

    Call it with the files of the modules a purge removes, before they are imported again."""
    files = {os.path.normcase(os.path.abspath(f)) for f in files if f}
    mapping = tornado.options.options.__dict__.get("_options")
    if not isinstance(mapping, _ScopedOptions):
        dicts = [mapping]
    elif app is not None:
        dicts = [mapping.apps.get(app, {})]
    else:
        dicts = [mapping.base] + list(mapping.apps.values())
    removed = []
    for d in dicts:
        for key, option in list(d.items()):
            fn = getattr(option, "file_name", None)
            if fn and os.path.normcase(os.path.abspath(fn)) in files:
                del d[key]
                removed.append(key)
    return removed


def _forget_unloaded_options(app, extra=()):
    """Before a start: drop ``app``'s options whose file is no longer a loaded module (purged)."""
    mapping = tornado.options.options.__dict__.get("_options")
    if not isinstance(mapping, _ScopedOptions) or app not in mapping.apps:
        return
    loaded = set()
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if isinstance(f, str):
            loaded.add(os.path.normcase(os.path.abspath(f)))
    extra = {os.path.normcase(os.path.abspath(f)) for f in extra}
    own = mapping.apps[app]
    for key, option in list(own.items()):
        fn = getattr(option, "file_name", None)
        if fn and os.path.isabs(fn):
            fn = os.path.normcase(fn)
            if fn in extra or fn not in loaded:
                del own[key]
    callbacks = tornado.options.options.__dict__.get("_parse_callbacks")
    if isinstance(callbacks, _ScopedCallbacks):
        callbacks.apps.pop(app, None)  # re-registered by the code that runs again


# ---------------------------------------------------------------------------
# patches (each defers to what it replaced outside an app's scope)


def _kernel_scope(loop):
    scope = current_scope()
    if scope is not None and not scope.threaded and loop is scope.loop:
        return scope
    return None


def _patched_asyncio_run(main, *, debug=None):
    scope = current_scope()
    if scope is not None and scope.loop is not None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if not scope.threaded and running is scope.loop:
            scope._adopt_main(main)
            return None
        if scope.threaded and running is None and threading.get_ident() == scope.thread_id:
            return scope._run_until(scope._adopt_main(main))
    return _orig["asyncio_run"](main, debug=debug)


def _patched_ioloop_start(self):
    scope = current_scope()
    if scope is not None and self.asyncio_loop is scope.loop:
        scope.loop_started = True
        if not scope.threaded:
            return None  # the kernel's loop already runs: the app keeps serving on it
        self.asyncio_loop.call_soon(scope._serving)
        scope._release_argv()
    return _orig["ioloop_start"](self)


def _patched_ioloop_stop(self):
    scope = current_scope()
    if scope is not None and not scope.threaded and self.asyncio_loop is scope.loop:
        if not scope.stop_requested:
            scope.loop.call_soon(scope._ended_by_app, None, "the app stopped its IOLoop")
        return None
    return _orig["ioloop_stop"](self)


def _patched_ioloop_close(self, all_fds=False):
    scope = current_scope()
    if scope is not None and self.asyncio_loop is scope.loop:
        return None  # the scope closes its loop (threaded) or never (the kernel's)
    return _orig["ioloop_close"](self, all_fds)


def _patched_add_sockets(self, sockets):
    sockets = list(sockets)
    result = _orig["add_sockets"](self, sockets)
    scope = current_scope()
    if scope is not None:
        scope._track_server(self, sockets)
    return result


def _patched_thread_start(self, *args, **kwargs):
    scope = SCOPE.get()
    if scope is not None and getattr(self, "_tl_entry_scope", None) is None \
            and getattr(getattr(self, "_target", None), "__module__", "") != "concurrent.futures.thread":
        self._tl_entry_scope = scope
        scope.threads.add(self)
        ctx = contextvars.copy_context()
        self.run = functools.partial(ctx.run, self.run)  # the app's options, argv, logs in its threads
    return _orig["thread_start"](self, *args, **kwargs)


def _patched_parse_command_line(self, args=None, final=True):
    scope = current_scope()
    if args is None and scope is not None:
        args = scope.full_argv()
    return _orig["parse_command_line"](self, args, final)


def _patched_parse_known_args(self, args=None, namespace=None):
    scope = current_scope()
    if args is None and scope is not None:
        args = scope.full_argv()[1:]
    return _orig["parse_known_args"](self, args, namespace)


def _task_factory(loop, coro, context=None):
    previous = _state["factories"].get(loop)
    if previous is not None:
        task = previous(loop, coro, context=context) if context is not None else previous(loop, coro)
    else:
        task = asyncio.Task(coro, loop=loop, context=context)
    scope = (context.get(SCOPE) if context is not None else SCOPE.get())
    if scope is not None:
        scope.tasks.add(task)
    return task


def _guard_loop(loop):
    """Track tasks on ``loop``; on a kernel's loop, make run_forever / run_until_complete / stop
    from an app's code behave as IOLoop.start / asyncio.run / IOLoop.stop do."""
    if loop in _state["factories"]:
        return
    _state["factories"][loop] = loop.get_task_factory()
    loop.set_task_factory(_task_factory)
    run_forever, run_until_complete, stop = loop.run_forever, loop.run_until_complete, loop.stop

    def guarded_run_forever():
        scope = _kernel_scope(loop)
        if scope is None:
            return run_forever()
        scope.loop_started = True
        return None

    def guarded_run_until_complete(future):
        scope = _kernel_scope(loop)
        if scope is None or not loop.is_running():
            return run_until_complete(future)
        scope._adopt_main(future)
        return None

    def guarded_stop():
        scope = _kernel_scope(loop)
        if scope is None:
            return stop()
        if not scope.stop_requested:
            loop.call_soon(scope._ended_by_app, None, "the app stopped the event loop")
        return None

    if loop.is_running():  # only a loop we do not own gets instance patches
        loop.run_forever = guarded_run_forever
        loop.run_until_complete = guarded_run_until_complete
        loop.stop = guarded_stop


def install():
    """Apply the patches (idempotent).  Call on the kernel's loop thread."""
    if not _state["installed"]:
        _state["installed"] = True
        _orig["asyncio_run"] = asyncio.run
        asyncio.run = _patched_asyncio_run
        _orig["ioloop_start"] = BaseAsyncIOLoop.start
        _orig["ioloop_stop"] = BaseAsyncIOLoop.stop
        _orig["ioloop_close"] = BaseAsyncIOLoop.close
        BaseAsyncIOLoop.start = _patched_ioloop_start
        BaseAsyncIOLoop.stop = _patched_ioloop_stop
        BaseAsyncIOLoop.close = _patched_ioloop_close
        _orig["add_sockets"] = tornado.tcpserver.TCPServer.add_sockets
        tornado.tcpserver.TCPServer.add_sockets = _patched_add_sockets
        _orig["thread_start"] = threading.Thread.start
        threading.Thread.start = _patched_thread_start
        _orig["parse_command_line"] = tornado.options.OptionParser.parse_command_line
        tornado.options.OptionParser.parse_command_line = _patched_parse_command_line
        _orig["parse_known_args"] = argparse.ArgumentParser.parse_known_args
        argparse.ArgumentParser.parse_known_args = _patched_parse_known_args
        _install_options()
    try:
        _guard_loop(asyncio.get_running_loop())
    except RuntimeError:
        pass


# ---------------------------------------------------------------------------
# one start of one app


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


class AppScope:
    """One start of one app: its context, what it started, how it ended.  See the module docstring."""

    def __init__(self, name, argv=(), threaded=False, context=None):
        self.name = name
        self.argv = [str(a) for a in argv]
        self.threaded = bool(threaded)
        self.argv0 = name
        self.loop = None  # the asyncio loop the app runs on
        self.io_loop = None
        self.thread = None
        self.thread_id = None
        self.servers = []  # [(server, [sockets])]
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
        self.application = None
        # ``context``: the bridge's run context (its own ContextVars ride along)
        self.ctx = context.copy() if context is not None else contextvars.copy_context()
        self.ctx.run(SCOPE.set, self)

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
                self._release_argv()
        return self.ctx.copy().run(call)

    def _release_argv(self):
        saved, self._argv_saved = self._argv_saved, None
        if saved is not None:
            _restore_argv(saved)

    # -- start
    async def start(self, entry):
        """Start ``entry``; see the module docstring.  Call on the kernel's running loop."""
        install()
        self.argv0 = entry.argv0() if entry.kind != "main" else self.argv0
        _forget_unloaded_options(self.name, [entry.target] if entry.kind == "script" else ())
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
        except SystemExit as exc:
            if not self._handed_over():
                self._close_now()
                self._finish(False, None if exc.code in (None, 0) else exc, "the app exited with status %s" % (exc.code or 0))
                if self.outcome.error is not None:
                    raise
                return False
        except BaseException as exc:
            self._close_now()
            self._finish(False, exc, "start failed: %s" % _one_line(exc))
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
        self._serving()
        return True

    def _what(self, entry):
        return {"main": "main()", "script": "the script", "callable": "the function"}.get(entry.kind, "the app")

    def _handed_over(self):
        return self.loop_started or (self.main_task is not None and not self.main_task.done())

    def _call(self, entry):
        if entry.kind == "script":
            return self._run_script(entry.target)
        if entry.kind == "application":
            target = load_main(entry.target) if isinstance(entry.target, str) else entry.target
            app = make_application(target)
            if app is None:
                raise TypeError("%r is not a tornado.web.Application, a subclass or a function returning one"
                                % (entry.target,))
            self.application = app
            app.listen(entry.port, address=entry.address)
            return None
        fn = load_main(entry.target) if entry.kind == "main" else entry.target
        if entry.kind == "main":
            self.argv0 = getattr(sys.modules.get(getattr(fn, "__module__", "")), "__file__", None) or self.argv0
            self._release_argv()
            self._argv_saved = self._set_argv()
        if inspect.iscoroutinefunction(fn):
            self._adopt_main(fn())
            return None
        result = fn()
        if inspect.isawaitable(result):
            self._adopt_main(result)
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
        saved = sys.modules.get("__main__")
        sys.modules["__main__"] = mod
        try:
            exec(code, mod.__dict__)
        finally:
            if saved is not None:
                sys.modules["__main__"] = saved

    def _adopt_main(self, awaitable):
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
        if not self.threaded:
            if task.cancelled():
                self._ended_by_app(None, "the app's main task was cancelled")
            elif task.exception() is not None:
                exc = task.exception()
                self._ended_by_app(None if isinstance(exc, SystemExit) and exc.code in (None, 0) else exc,
                                   "main() raised %s" % _one_line(exc))
            else:
                self._ended_by_app(None, "main() returned")

    def _run_until(self, task):
        """Threaded: run the app's loop until ``task`` is done (asyncio.run's blocking part)."""
        self.loop.call_soon(self._serving)
        self.loop_started = True
        self._release_argv()
        return self.loop.run_until_complete(task)

    def _thread_main(self, entry):
        self.thread_id = threading.get_ident()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.loop = loop
        _guard_loop(loop)
        error, reason = None, None
        try:
            self.io_loop = tornado.ioloop.IOLoop.current()
            try:
                self.run_in(self._call, entry)
                if self.main_task is not None and not self.main_task.done():
                    self.ctx.copy().run(self._run_until, self.main_task)
                elif not self.loop_started and self._open_sockets() and not self.stop_requested:
                    loop.call_soon(self._serving)  # an Application we listened for
                    self.loop_started = True
                    self._release_argv()
                    loop.run_forever()
                if self.main_task is not None and self.main_task.done() and not self.main_task.cancelled():
                    self.main_task.result()
                reason = "%s returned" % self._what(entry) if self.main_task is None else "main() returned"
            except asyncio.CancelledError as exc:
                if not self.stop_requested:
                    error, reason = exc, "the app's main task was cancelled"
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    error = exc
                reason = "the app exited with status %s" % (exc.code or 0)
            except BaseException as exc:
                error, reason = exc, "the app raised %s" % _one_line(exc)
        finally:
            self._close_now()
            self._finish_loop(loop)
            self._finish(self.stop_requested, error, "stopped" if self.stop_requested else reason)

    def _finish_loop(self, loop):
        try:
            pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
            for t in pending:
                t.cancel()
            if pending:
                loop.run_until_complete(asyncio.wait(pending, timeout=1.0))
            loop.run_until_complete(loop.shutdown_asyncgens())
        except Exception:
            pass
        try:
            if self.io_loop is not None:
                _orig["ioloop_close"](self.io_loop, False)
            else:
                loop.close()
        except Exception:
            try:
                loop.close()
            except Exception:
                pass
        asyncio.set_event_loop(None)

    def _serving(self):
        if self.main_task is not None and self.main_task.done():
            return  # it failed or ended at once: _finish tells
        if not self._serving_fut.done():
            self._serving_fut.set_result(True)

    def _finish(self, requested, error, reason):
        if self.outcome is None:
            self.outcome = Outcome(requested, error, reason)
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

    def _ended_by_app(self, error, reason):
        """Shared mode: the app ended on its own (main returned/raised, IOLoop.stop)."""
        if self.stop_requested or self.outcome is not None:
            return
        self._close_now()
        self._finish(False, error, reason)

    # -- tracking
    def _track_server(self, server, sockets):
        for entry in self.servers:
            if entry[0] is server:
                entry[1].extend(sockets)
                return
        self.servers.append((server, list(sockets)))

    def _open_sockets(self):
        return [s for _, socks in self.servers for s in socks if s.fileno() != -1]

    def urls(self):
        return urls_for(self.servers)

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
            if ctx is None or ctx.get(SCOPE) is not self or handle.cancelled():
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
            if not any(getattr(h, "_context", None) is not None and h._context.get(SCOPE) is self for h in handles):
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
        the :class:`Outcome` (an app that had already ended keeps its own)."""
        if self.ended.done():
            return self.ended.result()
        self.stop_requested = True
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
        self._close_now()
        waiting = [t for t in list(self.tasks) if not t.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=timeout)
        self._close_now()  # what their cancellation handlers scheduled
        self._finish(True, None, "stopped")
        return self.outcome

    def leftovers(self):
        """What still runs after the end: threads the app started that are alive, tasks not done."""
        return {"threads": [t.name for t in list(self.threads) if t.is_alive()],
                "tasks": [repr(t) for t in list(self.tasks) if not t.done()]}
