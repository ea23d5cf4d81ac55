"""``tornado.options`` per app: each app (by name) has its own options and values.

``OptionParser`` reaches its options only through ``self._options`` (Mapping
operations) and ``self._parse_callbacks`` (append, iterate), so both are
replaced (:func:`install`) by mappings routed by the running app's scope
(:func:`state.current_scope`): code outside any app sees the kernel's options.
Tornado's own options (``logging``, ``help``...) are copied into an app on
first use, so one app's ``--logging`` does not change another's.  Before each
start an app forgets the options defined by files that are no longer loaded
modules (purged) and by its script (:func:`forget_unloaded`), so a restart's
``define("port")`` never meets "Option 'port' already defined".

Chosen over swapping ``_options`` at context switches: a swap is wrong as soon
as two apps' callbacks interleave on one loop or run in two threads.
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


def _loaded_files():
    files = set()
    for mod in list(sys.modules.values()):
        f = getattr(mod, "__file__", None)
        if isinstance(f, str):  # module files are absolute (sys.path entries are made so)
            files.add(os.path.normcase(f) if os.path.isabs(f) else os.path.normcase(os.path.abspath(f)))
    return files


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


def forget_unloaded(app, extra=()):
    """Before a start: drop the options whose file is no longer a loaded module (purged), ``app``'s
    own (and those of its script, ``extra``) and the kernel's table's.

    ``app`` None: only the kernel's table, where a contract app's ``define()`` lands
    (its code runs outside any scope), so its restart's ``define()`` does not raise either."""
    mapping = tornado.options.options.__dict__.get("_options")
    if not isinstance(mapping, _ScopedOptions):
        return
    loaded = _loaded_files()
    extra = {os.path.normcase(os.path.abspath(f)) for f in extra}
    # the kernel's table too: a contract app's define()s land there, and a module another
    # app purged would otherwise make this app's define() of the same file "already defined"
    tables = [mapping.base] if app is None else [mapping.base, mapping.apps.get(app, {})]
    for own in tables:
        for key, option in list(own.items()):
            fn = getattr(option, "file_name", None)
            if fn and os.path.isabs(fn):
                fn = os.path.normcase(fn)
                if (fn in extra and own is not mapping.base) or fn not in loaded:
                    del own[key]
    callbacks = tornado.options.options.__dict__.get("_parse_callbacks")
    if app is not None and isinstance(callbacks, _ScopedCallbacks):
        callbacks.apps.pop(app, None)  # re-registered by the code that runs again
