"""How a run enters the user's code: the "entry" of a run.

The contract style (``app_class`` without ``port``): an application class built
traitlets-style (``cls()`` + ``initialize(argv)``) or as ``cls(argv)``, then
``start()`` (:func:`construct_and_start`).

The styles of apps as they are written (issue 10), each an :class:`Entry` that
an :class:`~.scope.AppScope` starts::

    Entry.main("pkg.mod:fn")          # or "pkg.mod.fn"; a coroutine function or a plain one
    Entry.script("/abs/server.py")    # runs as __main__, like `python server.py ARGV`
    Entry.application("pkg.mod:make_app", port=8888, address="127.0.0.1")
                                      # Application subclass, instance, or factory; we listen
    Entry.callable(fn)                # an already-imported function (tests, subclasses)

Entry points (issue 10), as the config gives them:

Config: ``options { main = "pkg.mod:fn" }``, ``script = "server.py"`` (resolved against the
config file's directory), or ``app_class`` + ``port`` (+ ``address``, default 127.0.0.1) for an
Application / subclass / instance / factory; exactly one of ``app_class``/``main``/``script``
(``validate.BlockReader.entry_point``; the dotted rule is ``protocol.parse_entry_path``, shared
with the kernel side). ``port`` with ``main``/``script`` is an error; ``port`` with an
``app_class`` means "an Application or a factory is expected" (a factory and a contract class
cannot be told apart without importing): at start, ``scope`` says in one sentence when the
target is neither, and a contract ``app_class`` that is really an Application or a function
fails with "add ``port``" / "give it as ``main``" (``entry.refuse_non_contract``).
``TornadoController.spec`` passes ``main``, ``script``, ``port``, ``address`` as data.
"""

import asyncio
import importlib
import inspect
import os
import sys

from .. import protocol
from .attribution import adopt_logger
from .imports import import_object


def is_traitlets_app(cls):
    try:
        from traitlets.config import Application
    except Exception:
        return False
    return isinstance(cls, type) and issubclass(cls, Application)


def takes_no_args(cls):
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return False
    return all(p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
               for p in sig.parameters.values())


def make_app(cls, argv):
    """Traitlets-style ``cls()`` + ``initialize(argv)``, else ``cls(argv)``."""
    if is_traitlets_app(cls) or (callable(getattr(cls, "initialize", None)) and takes_no_args(cls)):
        obj = cls()
        obj.initialize(list(argv))
        return obj
    return cls(list(argv))


def refuse_non_contract(dotted, obj):
    """A clear sentence when ``app_class`` (given without ``port``) is not a start/stop class."""
    import tornado.web

    if isinstance(obj, tornado.web.Application) or (
            isinstance(obj, type) and issubclass(obj, tornado.web.Application)):
        raise TypeError("%s is a tornado.web.Application: add `port = 8888` to the app's options "
                        "so the launcher listens for it" % dotted)
    if inspect.isfunction(obj) or inspect.ismethod(obj):
        if inspect.iscoroutinefunction(obj):
            raise TypeError("%s is a coroutine function: give it as `main = \"%s\"` instead of app_class"
                            % (dotted, dotted))
        raise TypeError("%s is a function, not an application class: give it as `main = \"%s\"` "
                        "(its entry point), or add `port` if it returns a tornado.web.Application"
                        % (dotted, dotted))


def construct_and_start(app, run):
    """Import ``app.app_class``, build it with ``app.make_app`` and call its ``start()``.

    Runs in ``run``'s context on the loop the app serves from; raises what the
    user's code raised.
    """
    cls = import_object(app.app_class)
    refuse_non_contract(app.app_class, cls)
    obj = app.make_app(cls)
    run.obj = obj
    app.app = obj
    adopt_logger(app, obj)
    result = obj.start()
    if result is not None and hasattr(result, "__await__"):
        asyncio.ensure_future(result)


# -- the styles of apps as they are written


def parse_main(text):
    """``"pkg.mod:func"`` / ``"pkg.mod.func"`` -> ``(module, attribute path, explicit)``
    (:func:`protocol.parse_entry_path`).  Raises ValueError with a sentence saying what to write.
    """
    parsed = protocol.parse_entry_path(text)
    if parsed is None:
        raise ValueError("%r is not a dotted path like 'package.module.main' or 'package.module:main'" % (text,))
    return parsed


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
