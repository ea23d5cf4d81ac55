"""Constructing and starting the user's application object: the "entry" of a run.

Today one style: an application class (``app_class``), built traitlets-style
(``cls()`` + ``initialize(argv)``) or as ``cls(argv)``, then ``start()``.
Other entry styles (a ``main``, a script, a factory) belong here.
"""

import asyncio
import inspect

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


def construct_and_start(app, run):
    """Import ``app.app_class``, build it with ``app.make_app`` and call its ``start()``.

    Runs in ``run``'s context on the loop the app serves from; raises what the
    user's code raised.
    """
    cls = import_object(app.app_class)
    obj = app.make_app(cls)
    run.obj = obj
    app.app = obj
    adopt_logger(app, obj)
    result = obj.start()
    if result is not None and hasattr(result, "__await__"):
        asyncio.ensure_future(result)
