"""zmq contexts an app made: terminated when its run ends, as its process's exit would.

Jupyter's servers (jupyter_server, the kernel gateway, voila, nbclassic) make a ``zmq.Context()``
per kernel manager and terminate it only in ``__del__``; in a process, exit ends its two libzmq
threads (``ZMQbg/IO``, ``ZMQbg/Reaper``). Inside the kernel the app's objects outlive its stop,
so every run left two native threads more (seen in the real-app corpus, tests/realapps).

:func:`install` wraps pyzmq's ``Context.__init__`` (pyzmq is the kernel's own: ipykernel runs on
it; it is looked up in ``sys.modules``, never imported here) so that a context made by an app's
code (its run or scope, by context variable) is noted for that run; :func:`close_for` destroys
(linger 0) the ones still open once the run has ended, after the app's own teardown. Shadows
(another context's handle) and the process-wide ``Context.instance()`` are never touched.
"""

import sys
import weakref

from . import state

_owned = weakref.WeakKeyDictionary()  # run or scope -> WeakSet of contexts it made
_installed = []


def _owners():
    out = []
    run = state.current_run.get()
    if run is not None:
        out.append(run)
    scope = state.current_scope()
    if scope is not None:
        out.append(scope)
    return out


def install():
    """Note contexts made by apps' code from now on (idempotent; nothing without pyzmq)."""
    zmq = sys.modules.get("zmq")
    base = getattr(getattr(getattr(zmq, "sugar", None), "context", None), "Context", None)
    if base is None or _installed:
        return
    original = base.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        if getattr(self, "_shadow", False):
            return
        for owner in _owners():
            try:
                _owned.setdefault(owner, weakref.WeakSet()).add(self)
            except TypeError:
                pass

    __init__.__wrapped__ = original
    base.__init__ = __init__
    _installed.append((base, original))


def close_for(owner):
    """Destroy the contexts ``owner`` (a run or a scope) made that are still open; how many."""
    contexts = _owned.pop(owner, None)
    if not contexts:
        return 0
    closed = 0
    for ctx in list(contexts):
        if getattr(ctx, "closed", True) or getattr(ctx, "_shadow", False) or type(ctx)._instance is ctx:
            continue
        try:
            ctx.destroy(linger=0)
            closed += 1
        except Exception:
            pass
    return closed
