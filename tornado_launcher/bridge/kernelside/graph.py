"""The project's import graph, its compiled code by content, and what a change invalidates.

Every project module the fresh-source loader (``imports``) executes goes
through :func:`execute`, which records:

- its code, compiled once per content (:class:`CodeCache`: the source's
  BLAKE2 digest; ``mtime_ns`` and size are only the cheap first look of
  :func:`changed_modules`), and the ``import`` / ``from ... import``
  statements found in its bytecode (``LOAD_CONST level, fromlist; IMPORT_NAME``,
  in every scope: inside functions too; relative ones resolved; a module that
  mentions ``import_module`` / ``__import__`` is parsed with ``ast`` instead, for
  ``importlib.import_module("literal")``; a call with a computed name marks the
  module *dynamic*);
- the modules imported while it executed (first imports), and the modules of
  the objects its globals hold (``from x import y`` bindings, module-level
  instances of other modules' classes);
- which already-loaded modules it imports had their module-level containers
  (list, dict, set) changed while it executed: a registry filled by its
  decorators (snapshot before / compare after).

:func:`plan` turns a set of changed modules into the modules to purge:
the changed ones, every module that imports them (transitively), every
module whose registry a purged module filled (and its importers), dynamic
modules, and the app's entry modules.  A package executed again gets its
still-loaded submodules back as attributes.  What the graph cannot know is the caller's to answer with a full
purge.  :func:`prune_libraries` takes the purged modules' objects out of the
module-level containers of third-party libraries (a route table or a list
of callbacks a library keeps): a re-executed module registers them again.

Issue 11: a save used to purge every project module and re-import (and recompile) all of them,
about 1 ms per module; now the cost follows the change.

* What a reload purges (``TornadoBridgeApp._purge(paths)`` → ``graph.plan``): the modules of the
  changed files (the launcher passes every file of the batch in the event's ``paths``; the
  kernel also finds loaded modules whose file's ``mtime_ns``/size and then digest differ from
  what was executed), plus, transitively: every importer, the registry a purged module filled
  (so the registry and all its importers are rebuilt in their import order: no duplicate, no
  stale entry), every dynamic module, and the module of ``app_class`` (``main``/``factory``
  too). The rest stays loaded, also the unchanged submodules of a re-executed package
  (``graph.execute`` gives the new package object their attributes back). ``clear_cache`` bounds
  the set. A purged submodule is also deleted from its parent package (``from pkg import sub``
  reads the attribute before ``sys.modules``).
* Libraries holding project objects. A third-party module (not stdlib, not the bridge) that
  project modules import keeps its module-level lists, dicts and sets, so ``prune_libraries``
  takes out the items that belong to a purged module (``__module__``, a tuple holding one, a
  ``functools.partial`` of one): a route table or a callback list in a library gets the new
  objects only, in both modes.
* When the graph cannot know, everything goes. A changed file that is not Python (data read at
  import), a module whose imports cannot be read, ``reload = "all"``, a restart (button,
  ``restart()``), a start after a failure: every module of ``clear_cache``. A partial reload
  whose start fails is retried once with the full purge (``_start_or_retry`` inside issue 12's
  ``_replace``, before the old run is kept serving; WARNING in the app's log; ``reload.note``
  says why).
* No recompiling. ``CodeCache`` keeps each file's code object under the BLAKE2 digest of its
  bytes; every execution reads the file and compares the digest (a few µs), so two same-size
  edits in one second are never served stale, and a module re-executed unchanged is not compiled
  again.
* Off the reload path. After a start the heap is frozen (``graph.Heap``, ``gc.freeze``): a
  reload's new objects no longer trigger full collections that walk 1,000 modules' objects (~100
  ms on a loaded kernel); purged modules that were frozen are uncollectable garbage until 200 of
  them piled up, then ``unfreeze(); collect(); freeze()`` runs 1 s after a start, one pending at
  most (``Heap.schedule``: one per start of a burst ran back to back, a 0.5–2 s stall of the
  kernel's loop, issue 19). ``re._MAXCACHE`` is raised to 4096 (``widen_regex_cache``, at
  install): Tornado compiles every route's pattern when an app is rebuilt, and with 1,000 routes
  CPython's 512 missed every time. The caches a reload reads (which modules are the project's,
  their real paths, their files' stat baselines) are filled 50 ms after a start that imported
  more than 20 modules (``warm_up``).
* Limits (documented, not detected): state kept elsewhere than in module-level containers (an
  attribute of an object, a container nested two levels deep, a class attribute) by an unchanged
  module; objects created at import and registered outside containers (a ``PeriodicCallback``
  started at import keeps running, as with a full purge).
* Saying it. The running record's ``reload`` says how many modules the start executed (and their
  first 30 names), how many were purged, the mode and why it was "all"; ``engine/reload.py``
  logs ``reloaded: acme/handlers.py changed; re-imported 3 modules; serving again in 12 ms`` and
  the window's "Last restart" tooltip lists the modules. A WatchdogApp handler's ``clear_cache``
  is not purged ahead of code blocks that all restart ``reload = "dependents"`` (or ``"patch"``)
  apps (``Reloader._bridge_purges``).
* Cost independent of project size (issue 22). Profiled inside the kernel (cProfile around the
  worker, ``benchmarks/reload_scale.py``'s project) the bridge's part of a dependents reload
  went from 4 ms at N = 0 / 12 ms at N = 1,000 to 3 / 10 ms; what grew with N and is gone: a
  walk of ``sys.modules`` (2,500 entries) per reload (``imports._Known`` keeps the project
  modules' names: the finder's executions since the last look are added, ``sys.modules`` is
  walked again only when its size says another module came or went), two fingerprints per import
  of a module without containers (a route list importing 1,000 modules: 2,000 per reload; a
  module without a module-level list/dict/set cannot be filled), a walk of ``sys.modules`` per
  purged name in a partial purge, ``options.forget_unloaded`` walking every module's file
  (``_LoadedFiles`` remembers which module had each option file), ``resolve()`` of an unchanged
  module's imports (kept on its ``Compiled``), the reverse graph relinked when the imports did
  not change, the copy of the 20,000-name execution history, the walk of a long module-level
  list at every execution of its module (a list of more than 32 items is fingerprinted by its
  length and its first and last 16: registries grow at their end; a route table of 1,000 entries
  was walked twice per reload). Measured by phase at N = 1,000 (in-kernel ~8 ms from the cell to
  "running"): the purge ~2.5 ms, of which the stat of each loaded project file
  (``changed_modules``, ~1 µs a module: the safety net for changes no event reported) is what
  still grows; the new start ~5 ms, the app's own work (its route module re-executed, binding N
  modules, and an Application of N routes built).
"""

import ast
import collections
import gc
import hashlib
import os
import re
import sys
import threading

try:
    from importlib._bootstrap import _call_with_frames_removed as _exec_hidden
except Exception:  # pragma: no cover - another implementation
    def _exec_hidden(f, *args):
        return f(*args)

_CONTAINERS = (list, dict, set)
_BIG = 5000  # containers larger than this are fingerprinted by length only
_LIST_ENDS = 16  # a longer list is fingerprinted by its length and its first and last items
_IMPORT_FUNCS = ("import_module", "__import__", "reload")


class Compiled:
    __slots__ = ("digest", "code", "imports", "dynamic", "data", "resolved")

    def __init__(self, digest, code, imports, dynamic, data=None):
        self.digest = digest
        self.code = code
        self.imports = imports  # [(level, module or "", (names...))]
        self.dynamic = dynamic
        self.data = data  # the source bytes (what a hot patch compares the saved file with)
        self.resolved = None  # (module name, is_package, the absolute names of its imports)


def digest_of(data):
    return hashlib.blake2b(data, digest_size=16).digest()


_OP = __import__("dis").opmap
_IMPORT_NAME = _OP.get("IMPORT_NAME")
_LOAD_CONST = _OP.get("LOAD_CONST")
_LOAD_SMALL_INT = _OP.get("LOAD_SMALL_INT", -1)  # Python 3.14
_EXTENDED_ARG = _OP.get("EXTENDED_ARG")
_CACHE = _OP.get("CACHE", -1)
_DYNAMIC_HINTS = (b"import_module", b"__import__")


def scan_code(code, out):
    """Append ``(level, module, fromlist)`` for every import statement in ``code`` and the
    code nested in it (functions, classes, comprehensions): read from the bytecode,
    ``LOAD_CONST level; LOAD_CONST fromlist; IMPORT_NAME module``.  False if the
    bytecode did not look like that (the caller then reads the syntax tree)."""
    raw = code.co_code
    consts = code.co_consts
    names = code.co_names
    last = [None, None]  # the values of the last two constant loads
    ext = 0
    for i in range(0, len(raw), 2):
        op = raw[i]
        arg = raw[i + 1] | ext
        if op == _EXTENDED_ARG:
            ext = arg << 8
            continue
        ext = 0
        if op == _CACHE:
            continue
        if op == _LOAD_CONST:
            value = consts[arg]
        elif op == _LOAD_SMALL_INT:
            value = arg
        elif op == _IMPORT_NAME:
            level, fromlist = last
            if not isinstance(level, int) or not (fromlist is None or isinstance(fromlist, tuple)):
                return False
            out.append((level, names[arg], tuple(fromlist or ())))
            value = None
        else:
            value = None
        last[0], last[1] = last[1], value
    for const in consts:
        if type(const) is type(code) and not scan_code(const, out):
            return False
    return True


def scan(tree):
    """``(imports, dynamic)`` of a module's syntax tree, every scope included."""
    imports = []
    dynamic = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imports.append((0, alias.name, ()))
        elif isinstance(node, ast.ImportFrom):
            imports.append((node.level or 0, node.module or "", tuple(a.name for a in node.names)))
        elif isinstance(node, ast.Call):
            func = node.func
            fname = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
            if fname in _IMPORT_FUNCS and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith("."):
                    imports.append((0, arg.value, ()))
                elif fname != "reload":
                    dynamic = True
    return imports, dynamic


def compile_and_scan(data, path):
    """``(code, imports, dynamic)`` of a source file's bytes.

    The imports are read from the bytecode (cheap); a module that mentions
    ``import_module`` / ``__import__`` is also parsed, to tell literal names
    from computed ones."""
    code = compile(data, path, "exec", dont_inherit=True)
    imports = []
    if any(hint in data for hint in _DYNAMIC_HINTS) or not scan_code(code, imports):
        imports, dynamic = scan(compile(data, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True))
        return code, imports, dynamic
    return code, imports, False


class CodeCache:
    """Compiled code of project files, by path, valid while the source's digest matches."""

    def __init__(self):
        self._by_path = {}
        self.compiled = 0
        self.reused = 0

    def get(self, path, data):
        digest = digest_of(data)
        entry = self._by_path.get(path)
        if entry is not None and entry.digest == digest:
            self.reused += 1
            return entry
        code, imports, dynamic = compile_and_scan(data, path)
        entry = Compiled(digest, code, imports, dynamic, data)
        self._by_path[path] = entry
        self.compiled += 1
        return entry

    def entry(self, path):
        """The :class:`Compiled` last executed (or patched) from ``path``, or None."""
        return self._by_path.get(path)

    def put(self, path, data, code):
        """``code`` (compiled by the caller from ``data``) is now what ``path`` holds."""
        imports = []
        dynamic = False
        if any(hint in data for hint in _DYNAMIC_HINTS) or not scan_code(code, imports):
            imports, dynamic = scan(compile(data, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True))
        entry = self._by_path[path] = Compiled(digest_of(data), code, imports, dynamic, data)
        return entry

    def clear(self):
        self._by_path.clear()


def resolve(name, is_package, imports):
    """The absolute module names ``imports`` (of module ``name``) may refer to."""
    out = set()
    package = name if is_package else name.rpartition(".")[0]
    for level, module, names in imports:
        if level:
            parts = package.split(".") if package else []
            if level - 1 > len(parts):
                continue
            base = ".".join(parts[:len(parts) - (level - 1)])
            base = (base + "." + module if module else base) if base else module
        else:
            base = module
        if not base:
            continue
        out.add(base)
        for n in names:
            if n != "*":
                out.add(base + "." + n)
    out.discard(name)
    return out


def _fingerprint_one(obj):
    try:
        n = len(obj)
        ident = id(obj)
        if n > _BIG:
            return (ident, n)
        if isinstance(obj, list) and n > _LIST_ENDS * 2:
            # a registry list grows at its end: its length and its ends, not a walk of a route
            # table of 1,000 entries at every execution of the module that holds it
            obj = obj[:_LIST_ENDS] + obj[-_LIST_ENDS:]
        values = obj.values() if isinstance(obj, dict) else obj
        total = 0
        for v in values:
            total += id(v)
            if isinstance(v, _CONTAINERS):
                total += len(v)
        if isinstance(obj, dict):
            total += sum(map(id, obj))
        return (ident, n, total)
    except Exception:
        return None


def container_keys(module):
    try:
        return tuple(k for k, v in module.__dict__.items()
                     if isinstance(v, _CONTAINERS) and not (k.startswith("__") and k.endswith("__")))
    except Exception:
        return ()


def fingerprint(module, keys=None):
    """What a module's module-level containers look like: changes when one is added to."""
    d = getattr(module, "__dict__", None)
    if not isinstance(d, dict):
        return None
    if keys is None:
        keys = container_keys(module)
    return tuple((k, _fingerprint_one(d.get(k))) for k in keys)


class Graph:
    """What each executed project module imports, and what it filled."""

    def __init__(self):
        self.deps = {}  # name -> set of module names it imports (static + run time)
        self.dynamic = set()  # names whose imports are computed at run time
        self.mutates = {}  # name -> set of module names whose containers it changed while executing
        self.files = {}  # name -> (path, mtime_ns, size, digest) of what was executed
        self.own_fp = {}  # name -> (keys, fingerprint) at the end of its own execution
        self.cache = CodeCache()
        self._lib_keys = {}  # modules we did not execute: their container globals, looked up once
        self.importers = {}  # name -> names of the modules whose deps hold it (the reverse graph)
        #: modules outside the project that project modules import (third-party: no stdlib, no bridge)
        self.libraries = set()
        self.executed = collections.deque(maxlen=20000)  # names, in execution order
        self.executed_count = 0
        self.when = {}  # name -> executed_count after its last execution
        self._tls = threading.local()

    def forget(self):
        self.importers.clear()
        self.libraries.clear()
        self.deps.clear()
        self.dynamic.clear()
        self.mutates.clear()
        self.files.clear()
        self.own_fp.clear()
        self.cache.clear()

    def _stack(self):
        stack = getattr(self._tls, "stack", None)
        if stack is None:
            stack = self._tls.stack = []
        return stack

    def _fp(self, name, module):
        own = self.own_fp.get(name)
        if own is not None:
            keys = own[0]
        else:
            keys = self._lib_keys.get(name)
            if keys is None:
                keys = self._lib_keys[name] = container_keys(module)
        if not keys:
            return ()  # no module-level container: nothing a registry could fill
        return fingerprint(module, keys)

    def execute(self, module, path):
        """Execute project ``module`` from ``path``, recording what it imports and fills."""
        name = module.__name__
        st = os.stat(path)  # before reading: a write after it shows as a change later
        with open(path, "rb") as f:
            data = f.read()
        compiled = self.cache.get(path, data)
        is_package = getattr(module, "__path__", None) is not None
        resolved = compiled.resolved
        if resolved is None or resolved[0] != name or resolved[1] != is_package:
            resolved = compiled.resolved = (name, is_package, frozenset(resolve(name, is_package, compiled.imports)))
        static = resolved[2]
        before = {}
        modules = sys.modules
        for dep in static:
            m = modules.get(dep)
            if m is not None:
                fp = self._fp(dep, m)
                if fp:  # a module without containers cannot be filled: not compared (a route list
                    before[dep] = fp  # importing 1,000 modules would cost 2,000 fingerprints)
        stack = self._stack()
        if stack:
            self.deps.setdefault(stack[-1], set()).add(name)
        stack.append(name)
        runtime = set()
        old_deps = self.deps.get(name) or ()
        self.deps[name] = runtime
        try:
            _exec_hidden(exec, compiled.code, module.__dict__)
        finally:
            stack.pop()
        if is_package:
            # a package executed again while its submodules stayed loaded: give it the
            # attributes the import system set when they were first imported
            prefix = name + "."
            for sub in [n for n in modules if n.startswith(prefix) and "." not in n[len(prefix):]]:
                child = sub[len(prefix):]
                if child not in module.__dict__ and modules.get(sub) is not None:
                    setattr(module, child, modules[sub])
        # first imports made while executing were added to ``runtime`` by their own execute()
        deps = set(static)
        deps.update(runtime)
        for v in list(module.__dict__.values()):
            try:
                if type(v).__name__ == "module":
                    deps.add(v.__name__)
                else:
                    m = getattr(v, "__module__", None)
                    if isinstance(m, str):
                        deps.add(m)
            except Exception:
                pass
        deps.discard(name)
        mutated = set()
        for dep in deps:
            m = modules.get(dep)
            if m is None:
                continue
            ref = before.get(dep)
            if ref is None and dep in runtime and dep in self.own_fp:
                ref = self.own_fp[dep][1]  # loaded while we executed: compare with its own end
            if not ref:
                continue
            if ref is not None and self._fp(dep, m) != ref:
                mutated.add(dep)
        self._link(name, old_deps, deps)
        self.deps[name] = deps
        stdlib = getattr(sys, "stdlib_module_names", ())
        for dep in deps:
            if (dep not in self.files and dep in modules and dep != name and dep.partition(".")[0] not in stdlib
                    and not dep.startswith("tornado_launcher_bridge") and dep not in sys.builtin_module_names
                    and dep not in self.libraries and _is_library(modules[dep])):
                self.libraries.add(dep)
        if mutated:
            self.mutates[name] = mutated
        else:
            self.mutates.pop(name, None)
        if compiled.dynamic:
            self.dynamic.add(name)
        else:
            self.dynamic.discard(name)
        self.files[name] = (path, st.st_mtime_ns, st.st_size, compiled.digest)
        keys = container_keys(module)
        self.own_fp[name] = (keys, fingerprint(module, keys))
        self.executed.append(name)
        self.executed_count += 1
        self.when[name] = self.executed_count

    def _link(self, name, old, new):
        if old == new:
            return  # re-executed with the same imports: the reverse graph already says so
        for dep in old:
            if dep not in new:
                users = self.importers.get(dep)
                if users is not None:
                    users.discard(name)
        for dep in new:
            users = self.importers.get(dep)
            if users is None:
                users = self.importers[dep] = set()
            users.add(name)

    def patched(self, name, module, path, data, code, st):
        """``module`` was patched in place to ``data`` (compiled to ``code``; ``st`` the file's
        stat before it was read): it now counts as executed from it; its imports are added."""
        entry = self.cache.put(path, data, code)
        deps = set(self.deps.get(name) or ())
        old = set(deps)
        deps.update(resolve(name, getattr(module, "__path__", None) is not None, entry.imports))
        deps.discard(name)
        self._link(name, old, deps)
        self.deps[name] = deps
        if entry.dynamic:
            self.dynamic.add(name)
        self.files[name] = (path, st.st_mtime_ns, st.st_size, entry.digest)

    def executed_since(self, count):
        n = self.executed_count - count
        if n <= 0:
            return []
        executed = self.executed
        if n <= 64:  # the usual reload: read the few from the right end, not the whole history
            return [executed[-i] for i in range(min(n, len(executed)), 0, -1)]
        names = list(executed)
        return names[-n:] if n <= len(names) else names

    def changed_modules(self, loaded):
        """Names in ``loaded`` (name -> module) whose file differs from what was executed.

        ``mtime_ns`` and size first; a file that differs there is read and its
        digest compared (a touch is not a change).  A module not executed by
        us gets its current file as the baseline.
        """
        changed = set()
        for name, module in loaded.items():
            rec = self.files.get(name)
            if rec is None:
                path = getattr(module, "__file__", None)
                try:
                    st = os.stat(path)
                    with open(path, "rb") as f:
                        self.files[name] = (path, st.st_mtime_ns, st.st_size, digest_of(f.read()))
                except (OSError, TypeError):
                    pass
                continue
            path, mtime, size, digest = rec
            try:
                st = os.stat(path)
            except OSError:
                changed.add(name)  # deleted
                continue
            if st.st_mtime_ns == mtime and st.st_size == size:
                continue
            try:
                with open(path, "rb") as f:
                    if digest_of(f.read()) != digest:
                        changed.add(name)
                    else:
                        self.files[name] = (path, st.st_mtime_ns, st.st_size, digest)
            except OSError:
                changed.add(name)
        return changed

    def deps_of(self, name, module):
        deps = self.deps.get(name)
        if deps is not None:
            return deps
        # loaded before the finder was installed: read its imports from the file now
        path = getattr(module, "__file__", None)
        try:
            with open(path, "rb") as f:
                data = f.read()
            _code, imports, dynamic = compile_and_scan(data, path)
        except Exception:
            return None
        if dynamic:
            self.dynamic.add(name)
        deps = resolve(name, getattr(module, "__path__", None) is not None, imports)
        self.deps[name] = deps
        return deps

    def plan(self, changed, loaded, entries=()):
        """The loaded project modules to purge when ``changed`` changed (see the module doc).

        ``loaded``: name -> module of every loaded project module.  Returns
        ``(names, why)``: ``why`` is None, or a sentence when the graph cannot
        tell (the caller then purges everything).
        """
        importers = self.importers
        for name, module in loaded.items():
            if name not in self.deps:  # not executed by us: read its imports now
                deps = self.deps_of(name, module)
                if deps is None:
                    return None, "cannot read the imports of %s" % name
                self._link(name, (), deps)
        todo = [n for n in changed if n in loaded]
        if todo:
            todo.extend(n for n in self.dynamic if n in loaded)
        todo.extend(n for n in entries if n in loaded)
        out = set()
        while todo:
            name = todo.pop()
            if name in out or name not in loaded:
                continue
            out.add(name)
            todo.extend(importers.get(name, ()))
            todo.extend(m for m in self.mutates.get(name, ()) if m in loaded)
        return out, None


graph = Graph()


class Heap:
    """Keeps the garbage collector's full passes off the reload path.

    After a start the heap (the project's modules, the libraries) is frozen
    (``gc.freeze``): the collections a reload's new objects trigger no longer
    walk it; on a loaded kernel with 1,000 project modules a full pass took
    ~100 ms.  Purged modules that were frozen are garbage the collector cannot
    see: once :data:`COLLECT_AFTER` of them piled up, :meth:`collect` (run when
    nothing waits) unfreezes, collects and freezes again.
    """

    COLLECT_AFTER = 200

    def __init__(self):
        self.frozen_garbage = 0
        self._pending = None  # the scheduled collect (one at most)

    def purged(self, n):
        self.frozen_garbage += n

    def due(self):
        return self.frozen_garbage >= self.COLLECT_AFTER

    def schedule(self, loop, delay=1.0):
        """When due, collect ``delay`` s from now on ``loop``: one collect pending at most.
        (A collect per start would queue one full pass per restart of that second, which
        then ran back to back: the loop blocked for a second or two, issue 19.)"""
        if self.due() and self._pending is None:
            self._pending = loop.call_later(delay, self.collect)

    def freeze(self):
        if gc.isenabled():
            gc.freeze()

    def collect(self):
        self._pending = None
        self.frozen_garbage = 0
        gc.unfreeze()
        gc.collect()
        self.freeze()


heap = Heap()


def widen_regex_cache(size=4096):
    """Let ``re`` keep more compiled patterns (512 in CPython): Tornado compiles each route's
    pattern again when an app is rebuilt, which with 1,000 routes missed the cache every time."""
    if isinstance(getattr(re, "_MAXCACHE", None), int) and re._MAXCACHE < size:
        re._MAXCACHE = size


def _is_library(module):
    """A real module with a file (not a namespace or a lazy proxy)."""
    return type(module).__name__ == "module" and isinstance(getattr(module, "__file__", None), str)


def _belongs(obj, names, depth=0):
    try:
        m = getattr(obj, "__module__", None)
        if isinstance(m, str) and m in names:
            return True
        func = getattr(obj, "func", None)  # functools.partial
        if func is not None and func is not obj and depth < 2 and _belongs(func, names, depth + 1):
            return True
        if isinstance(obj, tuple) and depth < 2:
            return any(_belongs(x, names, depth + 1) for x in obj[:8])
    except Exception:
        pass
    return False


def prune_libraries(purged, loaded):
    """Take the objects of ``purged`` modules out of third-party libraries' module-level containers.

    Only libraries that project modules imported (``graph.libraries``), outside
    the standard library and the bridge.  Returns ``[(library.name, count)]``.
    """
    purged = set(purged)
    if not purged:
        return []
    libs = [lib for lib in graph.libraries if lib not in loaded and lib not in purged]
    out = []
    for lib in sorted(libs):
        module = sys.modules.get(lib)
        if module is None or type(module).__name__ != "module":
            continue
        removed = 0
        for key in container_keys(module):
            obj = module.__dict__.get(key)
            try:
                if len(obj) > _BIG:
                    continue
                if isinstance(obj, list):
                    keep = [x for x in obj if not _belongs(x, purged)]
                    if len(keep) != len(obj):
                        removed += len(obj) - len(keep)
                        obj[:] = keep
                elif isinstance(obj, dict):
                    drop = [k for k, v in obj.items() if _belongs(k, purged) or _belongs(v, purged)]
                    for k in drop:
                        del obj[k]
                    removed += len(drop)
                elif isinstance(obj, set):
                    drop = [x for x in obj if _belongs(x, purged)]
                    obj.difference_update(drop)
                    removed += len(drop)
            except Exception:
                continue
        if removed:
            out.append((lib, removed))
    return out
