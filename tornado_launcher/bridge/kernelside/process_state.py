"""Process-wide state an app leaves behind (issue 25.4), undone at the end of its run as a
process exit would, without undoing another app's.

* Recorded as the app's code makes them (exact, per run): ``Logger.addHandler`` /
  ``removeHandler`` / ``setLevel`` on any logger; what ``logging.config.dictConfig`` /
  ``fileConfig`` change (every logger's level, handlers, ``disabled``, ``propagate``: compared
  before and after the call); ``warnings.filterwarnings`` / ``simplefilter`` /
  ``resetwarnings``; ``os.environ`` (and ``os.environb``) keys set or deleted.  "The app's code"
  is :func:`attribution.attributed_run`: the run's ContextVar, else the thread's run, in both modes.
* Compared at the run's begin and end (plain assignments cannot be intercepted):
  ``sys.excepthook``, ``threading.excepthook``, ``sys.path`` entries.  A value that changed is
  the ending run's when every other live run began after the change (it was there when they
  began); else it is left (one of them may have made it).  A hook restored to the value of a
  run that already ended goes back to what was there before that run.

:func:`hand_over` (a restart) gives the old run's changes to the new run, but for a handler
the new run added again (a handler a run added and removed itself is no change: :func:`_net`);
:func:`undo` (a stop) restores each recorded change whose target still holds the value the
app set (a later change by someone else wins), newest first; handlers the app added are
closed. The bridge's own routing (``attribution.BridgeHandler``
on the root logger) is never removed; a ``dictConfig`` that drops it from the root gets it
back at once. Cost: a begin is two attribute reads and a copy of ``sys.path``; an end walks
the run's own journal.

A handler the new run adds again replaces the old one (same logger, same class by module and
name: a reload makes new classes), which is removed: else each restart doubled every log line.
With a partial reload a module that is not re-executed does not set its level, environment key
or ``sys.path`` entry again, nor does idempotent code (``os.environ.setdefault``): undoing them
at each restart would take them from the running app, hence the hand-over.
"""

import logging
import logging.config
import os
import sys
import threading
import warnings
import weakref

from .attribution import BridgeHandler, attributed_run, install_routing


class Journal:
    """What one run changed, in order, and what it found at its begin."""

    __slots__ = ("entries", "excepthook", "thread_hook", "path", "__weakref__")

    def __init__(self):
        self.entries = []
        self.excepthook = sys.excepthook
        self.thread_hook = threading.excepthook
        self.path = set(sys.path)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.journals = weakref.WeakKeyDictionary()  # run -> Journal (begun, not ended)
        self.ended_hooks = {}  # id(hook a run set) -> (hook, what was there before it)
        self.local = threading.local()  # .busy: inside dictConfig (recorded as one diff) or undo
        self.applied = False
        self.originals = {}


state = State()


def _journal():
    if getattr(state.local, "busy", False):
        return None
    run = attributed_run()
    if run is None:
        return None
    return state.journals.get(run)


def _record(entry):
    journal = _journal()
    if journal is not None:
        with state.lock:
            journal.entries.append(entry)


# -- recorders
def _add_handler(self, hdlr):
    had = hdlr in self.handlers
    state.originals["addHandler"](self, hdlr)
    if not had:
        _record(("handler+", self, hdlr))


def _remove_handler(self, hdlr):
    had = hdlr in self.handlers
    state.originals["removeHandler"](self, hdlr)
    if had:
        _record(("handler-", self, hdlr))


def _set_level(self, level):
    old = self.level
    state.originals["setLevel"](self, level)
    if self.level != old:
        _record(("level", self, old, self.level))


def _loggers():
    manager = logging.Logger.manager
    out = [logging.getLogger()]
    out.extend(lg for lg in list(manager.loggerDict.values()) if isinstance(lg, logging.Logger))
    return out


def _shape(lg):
    return (lg.level, tuple(lg.handlers), lg.disabled, lg.propagate)


def _configuring(name):
    original = state.originals[name]

    def configure(*args, **kwargs):
        journal = _journal()
        if journal is None:
            return original(*args, **kwargs)
        before = {lg: _shape(lg) for lg in _loggers()}
        state.local.busy = True
        try:
            return original(*args, **kwargs)
        finally:
            state.local.busy = False
            root = logging.getLogger()
            if not any(isinstance(h, BridgeHandler) for h in root.handlers):
                install_routing()  # the launcher's log routing survives the app's configuration
            with state.lock:
                for lg in _loggers():
                    after = _shape(lg)
                    was = before.get(lg, (logging.NOTSET, (), False, True))
                    if after != was:
                        journal.entries.append(("logger", lg, was, after))
    configure.__wrapped__ = original
    return configure


def _filtering(name):
    original = state.originals[name]

    def add_filter(*args, **kwargs):
        journal = _journal()
        if journal is None:
            return original(*args, **kwargs)
        before = list(warnings.filters)
        result = original(*args, **kwargs)
        with state.lock:
            if name == "resetwarnings":
                journal.entries.append(("warnings-reset", before))
            else:
                journal.entries.extend(("warning", f) for f in warnings.filters if f not in before)
        return result
    add_filter.__wrapped__ = original
    return add_filter


def _env_set(self, key, value):
    journal = _journal()
    if journal is None:
        return state.originals["env_set"](self, key, value)
    old = self.get(key)
    state.originals["env_set"](self, key, value)
    with state.lock:
        journal.entries.append(("env", self, key, old, self.get(key)))


def _env_del(self, key):
    journal = _journal()
    if journal is None:
        return state.originals["env_del"](self, key)
    old = self.get(key)
    state.originals["env_del"](self, key)
    with state.lock:
        journal.entries.append(("env", self, key, old, None))


# -- begin / end
def begin(run):
    """A run of an app begins: note what the compared state holds."""
    with state.lock:
        state.journals[run] = Journal()


def _others_began_after_change(run, attr, value):
    """Every other live run saw ``value`` at its begin (so none of them made it)."""
    return all(getattr(j, attr) is value for r, j in list(state.journals.items()) if r is not run)


def _restore_hook(journal, run, attr, owner, name):
    current = getattr(owner, name)
    before = getattr(journal, attr)
    if current is before or not _others_began_after_change(run, attr, current):
        return False
    seen = set()
    while id(before) in state.ended_hooks and id(before) not in seen:  # set by a run that ended
        seen.add(id(before))
        hook, previous = state.ended_hooks[id(before)]
        if hook is not before:
            break
        before = previous
    state.ended_hooks[id(current)] = (current, before)
    setattr(owner, name, before)
    return True


def _net(entries):
    """``entries`` with each (logger, handler)'s ``handler+`` / ``handler-`` reduced to its net
    effect: a handler the run added and then removed itself (mitmproxy's ``LegacyLogEvents``,
    uninstalled in its ``done()``), or removed and added back, is no change at all; else its
    last entry stays (in its place).  Without this a restart handed the old run's ``handler-``
    alone to the new run (its ``handler+`` was dropped as added again), and the new run's undo
    then put the old run's handler, bound to its closed loop, back on the logger."""
    first, last = {}, {}
    for i, entry in enumerate(entries):
        if entry[0] in ("handler+", "handler-"):
            key = (id(entry[1]), id(entry[2]))
            first.setdefault(key, entry[0])
            last[key] = i
    out = []
    for i, entry in enumerate(entries):
        if entry[0] in ("handler+", "handler-"):
            key = (id(entry[1]), id(entry[2]))
            if last[key] != i or first[key] != entry[0]:
                continue  # an earlier step, or a pair that cancels out
        out.append(entry)
    return out


def hand_over(old, new):
    """A restart: ``new`` runs the app now and ``old`` ends.  What the old run changed stays,
    now the app's next run's (undone when the app stops for good): a level, an environment
    key or a ``sys.path`` entry its new code finds already there and does not set again must
    not vanish.  Except a handler the new run added again (same logger, same class): the old
    one goes, as a process restart would (else every restart doubles each log line)."""
    with state.lock:
        was, now = state.journals.pop(old, None), state.journals.get(new)
    if was is None:
        return []
    if now is None:
        state.journals[old] = was
        return undo(old)
    kind = lambda h: (type(h).__module__, type(h).__qualname__)  # noqa: E731 (a reload makes new classes)
    again = {(id(e[1]), kind(e[2])) for e in now.entries if e[0] == "handler+"}
    keep, dropped = [], 0
    state.local.busy = True
    try:
        for entry in _net(was.entries):
            if entry[0] == "handler+" and (id(entry[1]), kind(entry[2])) in again:
                dropped += bool(_undo_entry(entry))
            else:
                keep.append(entry)
    finally:
        state.local.busy = False
    with state.lock:
        now.entries[:0] = keep
        now.excepthook, now.thread_hook, now.path = was.excepthook, was.thread_hook, was.path
    return ["handler"] if dropped else []


def undo(run):
    """The run ended: undo what it changed (see the module).  Returns the kinds undone."""
    with state.lock:
        journal = state.journals.pop(run, None)
    if journal is None:
        return []
    done = set()
    state.local.busy = True
    try:
        for entry in reversed(_net(journal.entries)):
            try:
                if _undo_entry(entry):
                    done.add(entry[0].rstrip("+-"))
            except Exception:
                pass
        if _restore_hook(journal, run, "excepthook", sys, "excepthook"):
            done.add("sys.excepthook")
        if _restore_hook(journal, run, "thread_hook", threading, "excepthook"):
            done.add("threading.excepthook")
        others = [j.path for r, j in list(state.journals.items()) if r is not run]
        added = [p for p in sys.path if p not in journal.path and all(p in o for o in others)]
        for p in added:
            while p in sys.path:
                sys.path.remove(p)
        if added:
            done.add("sys.path")
    finally:
        state.local.busy = False
    return sorted(done)


def _undo_entry(entry):
    kind = entry[0]
    if kind == "handler+":
        _, lg, hdlr = entry
        if hdlr in lg.handlers and not isinstance(hdlr, BridgeHandler):
            state.originals["removeHandler"](lg, hdlr)
            if not any(hdlr in other.handlers for other in _loggers()):
                hdlr.close()
            return True
    elif kind == "handler-":
        _, lg, hdlr = entry
        if hdlr not in lg.handlers:
            state.originals["addHandler"](lg, hdlr)
            return True
    elif kind == "level":
        _, lg, old, new = entry
        if lg.level == new:
            state.originals["setLevel"](lg, old)
            return True
    elif kind == "logger":
        _, lg, was, after = entry
        if _shape(lg) != after:
            return False
        level, handlers, disabled, propagate = was
        for h in list(lg.handlers):
            if h not in handlers and not isinstance(h, BridgeHandler):
                state.originals["removeHandler"](lg, h)
                if not any(h in other.handlers for other in _loggers()):
                    h.close()
        for h in handlers:
            if h not in lg.handlers:
                state.originals["addHandler"](lg, h)
        state.originals["setLevel"](lg, level)
        lg.disabled, lg.propagate = disabled, propagate
        return True
    elif kind == "warning":
        if entry[1] in warnings.filters:
            warnings.filters.remove(entry[1])
            warnings._filters_mutated()
            return True
    elif kind == "warnings-reset":
        missing = [f for f in entry[1] if f not in warnings.filters]
        if missing:
            warnings.filters.extend(missing)
            warnings._filters_mutated()
            return True
    elif kind == "env":
        _, env, key, old, new = entry
        if env.get(key) == new:
            if old is None:
                if key in env:
                    state.originals["env_del"](env, key)
            else:
                state.originals["env_set"](env, key, old)
            return True
    return False


def install():
    """Wrap the recorders (once per kernel)."""
    if state.applied:
        return
    state.applied = True
    o = state.originals
    o["addHandler"], o["removeHandler"], o["setLevel"] = (
        logging.Logger.addHandler, logging.Logger.removeHandler, logging.Logger.setLevel)
    logging.Logger.addHandler = _add_handler
    logging.Logger.removeHandler = _remove_handler
    logging.Logger.setLevel = _set_level
    for name in ("dictConfig", "fileConfig"):
        o[name] = getattr(logging.config, name)
        setattr(logging.config, name, _configuring(name))
    for name in ("filterwarnings", "simplefilter", "resetwarnings"):
        o[name] = getattr(warnings, name)
        setattr(warnings, name, _filtering(name))
    environ = type(os.environ)
    o["env_set"], o["env_del"] = environ.__setitem__, environ.__delitem__
    environ.__setitem__ = _env_set
    environ.__delitem__ = _env_del
