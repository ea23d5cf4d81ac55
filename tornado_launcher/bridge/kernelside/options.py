"""``tornado.options`` per app: each app (by name) has its own options and values.

``OptionParser`` reaches its options only through ``self._options`` (Mapping
operations) and ``self._parse_callbacks`` (append, iterate), so both are
replaced (:func:`install`) by mappings routed by the running app's scope
(:func:`state.current_scope`): code outside any app sees the kernel's options.
Tornado's own options (``logging``, ``help``...) are copied into an app on
first use, so one app's ``--logging`` does not change another's.  Each start
of an app (scope) has its own table (:func:`begin`), carried over from the
app's previous start without the options of files that are no longer loaded
modules (purged) and of its script, so a restart's ``define("port")`` never
meets "Option 'port' already defined", and the previous run, still serving
during the hand-over or kept when the new code fails, keeps its own.

Chosen over swapping ``_options`` at context switches: a swap is wrong as soon
as two apps' callbacks interleave on one loop or run in two threads.

Facts this relies on:

* ``tornado.options``: ``OptionParser`` reaches its options only through ``self._options``
  (Mapping operations) and ``_parse_callbacks`` (append, iterate), so both are replaced by
  mappings routed by the app's ContextVar: each app (by name) has its own options and values,
  the kernel keeps its own; two apps that ``define("port")`` each see their own port (tested
  shared + threaded at once). A swap of ``_options`` at context switches was rejected: it is
  wrong as soon as two apps' callbacks interleave on one loop or run in two threads.
  ``define()`` names the file that defined an option from its caller's frame (``frame.f_back``,
  skipping the module-level ``define``): wrapping ``define`` made every option "defined in" the
  bridge's module and broke the purge; the mapping tells a ``define()`` check from a lookup by
  looking at its caller's code object. An app forgets, before each start, its options whose file
  is no longer a loaded module (purged) and its script's: a restart's ``define("port")`` never
  meets "already defined". A module another app imported (cached) lends its options (a fresh
  copy) to an app that did not import it itself.
"""

import collections.abc
import copy
import os
import sys

import tornado.options

from .state import current_scope


class _ScopedOptions(collections.abc.MutableMapping):
    """``options._options`` routed by context: an app's own options, else the kernel's."""

    def __init__(self, base):
        self.base = base  # the kernel's (tornado's own options live here)
        self.apps = {}  # scope (one start of one app) -> {name: _Option}
        self.latest = {}  # app name -> its latest scope

    def _own(self):
        scope = current_scope()
        if scope is None:
            return None
        return self.apps.setdefault(scope, {})

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


def _file_of(mod):
    f = getattr(mod, "__file__", None)
    if isinstance(f, str):  # module files are absolute (sys.path entries are made so)
        return os.path.normcase(f) if os.path.isabs(f) else os.path.normcase(os.path.abspath(f))
    return None


class _LoadedFiles:
    """``fn in _loaded_files()``: whether a loaded module has file ``fn``.  Asked for the few files
    that define options, so it remembers which module had each (a reload must not walk every
    module of a 1,000-module project for them: only a file whose module was purged is looked for)."""

    where = {}  # file -> the module name that had it

    def __contains__(self, fn):
        name = self.where.get(fn)
        mod = sys.modules.get(name) if name is not None else None
        if mod is not None and _file_of(mod) == fn:
            return True
        for name, mod in list(sys.modules.items()):
            if _file_of(mod) == fn:
                self.where[fn] = name
                return True
        return False


def _loaded_files():
    return _LoadedFiles()


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
        (self.base if scope is None else self.apps.setdefault(scope, [])).append(callback)

    def __iter__(self):
        scope = current_scope()
        return iter(self.base + (self.apps.get(scope, []) if scope is not None else []))

    def __len__(self):
        return len(list(iter(self)))


def install():
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
        dicts = [d for scope, d in mapping.apps.items() if scope.name == app]
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


def fresh_copy(option):
    option = copy.copy(option)
    if hasattr(type(option), "UNSET"):
        option._value = type(option).UNSET
    return option


def begin(scope, extra=()):
    """Before ``scope`` starts: its own option table, carried over from the app's previous
    start without the options of purged modules (a restart's ``define()`` never meets
    "already defined") and of its script (``extra``), values reset.

    Each start has its own table, so the previous run (still serving while the new one
    starts, or kept serving when the new code fails) keeps its options untouched.
    The kernel's table loses the options of purged modules too (see :func:`forget_unloaded`)."""
    mapping = tornado.options.options.__dict__.get("_options")
    if not isinstance(mapping, _ScopedOptions):
        return
    forget_unloaded(None)
    loaded = _loaded_files()
    extra = {os.path.normcase(os.path.abspath(f)) for f in extra}
    previous = mapping.apps.get(mapping.latest.get(scope.name), {})
    own = {}
    for key, option in previous.items():
        fn = getattr(option, "file_name", None)
        if fn and os.path.isabs(fn):
            fn = os.path.normcase(fn)
            if fn in extra or fn not in loaded:
                continue
        own[key] = fresh_copy(option)
    before = mapping.latest.get(scope.name)
    mapping.apps[scope] = own
    mapping.latest[scope.name] = scope
    if before is not None and before.outcome is not None:
        end(before)  # it had ended: its table was kept only for this carry-over


def end(scope):
    """``scope`` ended: nothing of it runs any more.  Its tables go once a later start of the
    app has its own (the latest is what the next start carries over: cached modules do not
    ``define()`` again)."""
    mapping = tornado.options.options.__dict__.get("_options")
    if not isinstance(mapping, _ScopedOptions) or mapping.latest.get(scope.name) is scope:
        return
    mapping.apps.pop(scope, None)
    callbacks = tornado.options.options.__dict__.get("_parse_callbacks")
    if isinstance(callbacks, _ScopedCallbacks):
        callbacks.apps.pop(scope, None)


def forget_unloaded(app=None):
    """Drop the kernel table's options whose file is no longer a loaded module (purged).

    A contract app's ``define()`` lands there (its code runs outside any scope): before
    its restart, and before any scope starts, since a module another app purged would
    otherwise make the new ``define()`` of the same file "already defined"."""
    mapping = tornado.options.options.__dict__.get("_options")
    if not isinstance(mapping, _ScopedOptions):
        return
    loaded = _loaded_files()
    for key, option in list(mapping.base.items()):
        fn = getattr(option, "file_name", None)
        if fn and os.path.isabs(fn) and os.path.normcase(fn) not in loaded:
            del mapping.base[key]
