"""Hot patch, the application: ``reload = "patch"`` of a :class:`~.tornado_app.TornadoBridgeApp`.

:func:`try_patch` is the app's reload hook.  For the saved files it finds
their loaded modules, asks :mod:`.hotpatch` whether each change can be
applied in place, and if every one can, applies them all at once while every
loop that runs project code is paused between two callbacks (:func:`paused`):
the kernel's loop (the caller is on it: no callback of a shared app runs
meanwhile) and the loop of each threaded app of this kernel (each runs a
callback that waits until the patch is done).  A handler never runs while its
code is swapped; a coroutine already suspended in a patched function resumes
in its old code (its frame holds it) until it ends.  Then the app reports
"running" again with ``reload = {"kind": "patched", ...}``, its live-reload
pages reload, and nothing else changes: module state, connections, open
websockets stay.

When a change cannot be patched, :func:`try_patch` answers the reason and
the app reloads as ``"dependents"`` does, the reason in its log and record.

* Application (``patching.paused``): the swap (``__code__``, ``__defaults__``,
  ``__kwdefaults__``, ``__doc__``; ``setattr``/``delattr`` for added/removed) runs on the
  kernel's loop (a callback: no shared app's handler runs meanwhile) while every other running
  loop of this kernel's apps (threaded runs, scopes) sits in a callback waiting for it to finish
  (1 s for them to get there, else reload). A coroutine suspended in a patched function keeps
  its frame, so its old code, until it ends; new calls get the new code. Then ``graph.patched``
  records the new source, code and imports as executed, the app sends "running" with ``reload =
  {"kind": "patched", "patched": [names], "files"}`` and ``live.refreshed`` reloads its pages.
  Servers, websockets, module state stay. 0.2 s later (off the save-to-served path) the unfrozen
  heap is collected and frozen (``graph.Heap``): without it, at 1,000 modules the collections
  after each patch cost 3-5 ms more in the kernel; freezing at once, without the collection,
  kept the requests' cyclic garbage (+14 MB over 500 patches; now +0.1 MB).
* When the live objects may not be the running ones. ``patching.serving`` notes
  ``graph.executed_count`` each time a run begins serving; a module executed after that (a
  reload that did not start and kept the old run, a restart of another app purging shared
  modules, a first import inside a handler) is reloaded, not patched.
* The launcher: ``reload.reload_line`` makes the log line (``patched handlers.py:
  MainHandler.get in 2 ms (state kept)`` / ``reloaded handlers.py (class attribute changed):
  re-imported 3 modules; serving again in 12 ms``), ``ReloadEvent.kind`` carries it to ``status
  --json`` (``last_reload.kind``) and the window's "Last restart" column (``patched 2 ms``,
  names in its tooltip).
* The save-to-served path (issue 22: ≤ 8 ms median at any project size).
  :func:`at_once`: when no other loop runs app code (shared mode, no threaded
  app or entry scope with a loop of its own) and the app has nothing queued,
  the patch is applied inside the call that asks for it (the launcher's
  command, ``protocol.call_record``, or a cell), which is itself a callback of
  the kernel's loop: a pause as :func:`paused` makes one.  Queued instead, it
  waited for ipykernel to finish the cell and for the worker task's turn
  (~2 ms).  Threaded apps, a call from app code, anything queued: the queue.
* Nothing per save grows with the project: the saved file's module comes from
  an index kept between saves (``imports.project_modules_for_paths``), the
  names of the loaded modules are looked up one by one (``imports.Loaded``),
  and the old source's tree and statement keys are the last patch's new ones
  (:data:`_parsed`, ``hotpatch.Parsed``): one parse, one compile and one walk
  of the saved module per save.
"""

import ast
import asyncio
import gc
import os
import threading
import time
import types
import weakref

from . import hotpatch, imports, live, state
from .graph import graph, heap

PAUSE_TIMEOUT = 1.0  # seconds the other loops may take to reach a pause; else reload


class _Cache:
    """``startup_names`` of a module's source, by digest (its importers are asked on each patch)."""

    def __init__(self):
        self.by_path = {}

    def startup(self, path, data, digest, roots, tree=None):
        key = (digest, tuple(sorted(roots)))
        hit = self.by_path.get(path)
        if hit is not None and hit[0] == key:
            return hit[1]
        names = hotpatch.startup_names(tree if tree is not None else ast.parse(data, path), roots)
        self.by_path[path] = (key, names)
        return names


_startup = _Cache()
#: path -> (digest, hotpatch.Parsed) of the source a patched module now runs: the next save of
#: it compares against that without parsing it again (nor keying its statements)
_parsed = {}


def _old_parsed(path, entry):
    hit = _parsed.get(path)
    if hit is not None and hit[0] == entry.digest:
        return hit[1]
    try:
        return hotpatch.Parsed(ast.parse(entry.data, path))
    except SyntaxError:
        raise hotpatch.Refused("the running code could not be read") from None


def _entry_roots(app, loaded):
    """module name -> the names the app starts from in it (``"@Cls"``: every method of Cls)."""
    out = {}
    for key in ("app_class", "main", "factory"):
        dotted = app.spec.get(key)
        if not isinstance(dotted, str):
            continue
        if ":" in dotted:
            mod, _, attr = dotted.partition(":")
        else:
            mod, _, attr = dotted.rpartition(".")
        if mod in loaded:
            first = attr.split(".")[0]
            out.setdefault(mod, set()).update((first, "@" + first))
    return out


def _importers(name, limit):
    seen = set()
    todo = [name]
    while todo:
        n = todo.pop()
        for user in graph.importers.get(n, ()):
            if user not in seen:
                seen.add(user)
                if len(seen) > limit:
                    return None
                todo.append(user)
    seen.discard(name)
    return seen


def _startup_names(name, loaded, roots, tree=None):
    """What runs at import or start, from ``name``'s own source (``tree``: parsed) and its importers'."""
    users = _importers(name, hotpatch.MAX_IMPORTERS)
    if users is None:
        raise hotpatch.Refused("imported by more than %d modules" % hotpatch.MAX_IMPORTERS)
    names = set()
    for mod in [name] + sorted(users):
        if mod not in loaded:
            continue
        rec = graph.files.get(mod)
        entry = graph.cache.entry(rec[0]) if rec else None
        if entry is None or entry.data is None or entry.digest != rec[3]:
            raise hotpatch.Refused("the source %s was executed from is not known" % mod)
        names |= _startup.startup(rec[0], entry.data, entry.digest, roots.get(mod, ()), tree if mod == name else None)
    for mod, r in roots.items():  # the entry module's start path, when it does not import this one
        if mod not in users and mod != name and mod in loaded:
            rec = graph.files.get(mod)
            entry = graph.cache.entry(rec[0]) if rec else None
            if entry is not None and entry.data is not None:
                names |= _startup.startup(rec[0], entry.data, entry.digest, r)
    return names


def _handler_base():
    try:
        import tornado.web
        return tornado.web.RequestHandler
    except Exception:
        return None


_serving = {}  # app name -> (weak reference to its run, graph.executed_count when it began serving)


def serving(app, run):
    """``run`` of ``app`` serves now (its "running" record): the modules executed so far are its."""
    _serving[app.name] = (weakref.ref(run), graph.executed_count)


def plan(app, paths):
    """``(plans, reads)`` for the saved ``paths``, or :class:`hotpatch.Refused`.
    ``reads``: ``(name, module, path, data, stat)`` to record once applied; ``already``:
    ``(path, names)`` of the files the last patch (of this or another app) already applied."""
    if not hasattr(types.CodeType, "co_qualname"):
        raise hotpatch.Refused("hot patch needs Python 3.11 or newer in the kernel")
    if app._run is None or app.state != "running":
        raise hotpatch.Refused("the app is not running")
    began = _serving.get(app.name)
    if began is None or began[0]() is not app._run:
        raise hotpatch.Refused("the running code is not the last start's")
    names, others, loaded = imports.project_modules_for_paths(paths)
    if others:
        raise hotpatch.Refused("%s is not a Python module" % os.path.basename(others[0]))
    known = {imports.norm(getattr(loaded[n], "__file__", "") or "") for n in names}
    script = app.spec.get("script")
    if isinstance(script, str) and any(isinstance(p, str) and imports.norm(p) == imports.norm(script) for p in paths):
        raise hotpatch.Refused("the app's script changed (it runs as __main__)")
    for p in paths:
        if isinstance(p, str) and p.endswith(".py") and os.path.isfile(p) and imports.norm(p) not in known:
            raise hotpatch.Refused("%s is not imported yet" % os.path.basename(p))
    roots = _entry_roots(app, loaded)
    base = _handler_base()
    plans, reads, already = [], [], []
    for name in sorted(names):
        module = loaded[name]
        rec = graph.files.get(name)
        if rec is None:
            raise hotpatch.Refused("%s was not imported by the launcher" % name)
        if graph.when.get(name, 0) > began[1]:
            # executed again after the app began serving (a reload that did not start, another
            # app's start, an import inside a handler): the app may hold the module's older objects
            raise hotpatch.Refused("%s was executed again after the app started" % name)
        path = rec[0]
        entry = graph.cache.entry(path)
        if entry is None or entry.data is None or entry.digest != rec[3]:
            raise hotpatch.Refused("the source %s was executed from is not known" % name)
        try:
            st = os.stat(path)
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            raise hotpatch.Refused("%s cannot be read" % os.path.basename(path)) from None
        if data == entry.data:
            # saved unchanged, the second event of one save, or patched by another app's reload
            done = _applied.get(path)
            if done is not None and done[0] == entry.digest:
                already.append((path, done[1]))
            continue
        old = _old_parsed(path, entry)
        startup = _startup_names(name, loaded, roots, old.tree)
        p = hotpatch.analyze(module, path, entry.data, data, startup, base, old)
        plans.append(p)
        reads.append((name, module, path, data, st))
    return plans, reads, already


_applied = {}  # path -> (digest, the names its last patch changed): another app's save of it says them too


def _other_loops():
    """The running loops, other than the kernel's, of this kernel's apps (threaded runs, scopes)."""
    out = []
    kernel_loop = state.kernel.loop
    for app in list(state.apps.values()):
        run = getattr(app, "_run", None)
        if run is None:
            continue
        for loop in (getattr(run, "loop", None), getattr(getattr(run, "scope", None), "loop", None)):
            if (loop is not None and loop is not kernel_loop and loop not in out and not loop.is_closed()
                    and loop.is_running()):
                out.append(loop)
    return out


async def paused(fn, timeout=PAUSE_TIMEOUT):
    """Run ``fn()`` on the kernel's loop while every other app loop waits between two callbacks;
    False (``fn`` not run) when one did not pause within ``timeout``."""
    loops = _other_loops()
    if not loops:
        fn()
        return True
    release = threading.Event()
    arrived = {"n": 0}
    all_there = state.kernel.loop.create_future()
    lock = threading.Lock()

    def hold():
        with lock:
            arrived["n"] += 1
            if arrived["n"] == len(loops):
                state.kernel.loop.call_soon_threadsafe(lambda: all_there.done() or all_there.set_result(True))
        release.wait(timeout + 1.0)

    try:
        for loop in loops:
            loop.call_soon_threadsafe(hold)
        await asyncio.wait_for(asyncio.shield(all_there), timeout)
    except (asyncio.TimeoutError, RuntimeError):
        release.set()
        return False
    try:
        fn()
    finally:
        release.set()
    return True


def shown(path):
    """``path`` relative to the project directory when inside it (as the log names files)."""
    project = state.kernel.settings.get("project_dir")
    if project:
        try:
            rel = os.path.relpath(imports.norm(path), imports.norm(project))
            if not rel.startswith(".."):
                return rel
        except ValueError:
            pass
    return path


_lock = []  # one asyncio.Lock (made on the kernel's loop): one patch at a time, kernel-wide


def at_once(app, arg, t0, show=shown):
    """The reload command ``arg`` (``(path, paths)``) of ``app`` patched at once, inside the
    caller's callback on the kernel's loop (the cell or comm message that asked for it), rather
    than in the app's command queue after it: None when patched (the "running" record sent);
    ``(path, paths, reason)`` when refused (the queued reload needs no second analysis); ``arg``
    as it was when the patch must wait for the queue (:func:`try_patch`).

    Only when that callback is a pause as :func:`paused` makes one: no other loop runs the
    code of an app of this kernel (no threaded app, no entry scope with a loop of its own), the
    caller is no app's code (a handler that asks for its own reload gets the queue), no patch
    is under way, the app has no command queued or running and no predecessor to wait for."""
    if (app.reload_mode != "patch" or app._pending or app._worker is not None or app._predecessor is not None
            or state.current_run.get() is not None or state.current_scope() is not None
            or (_lock and _lock[0].locked()) or _other_loops()):
        return arg
    why = _patch(app, arg[1], t0, show, None)
    return None if why is None else (arg[0], arg[1], why)


async def try_patch(app, paths, t0, show=shown):
    """Patch ``app``'s saved ``paths`` in place; None when done (its "running" record sent),
    else the reason a reload is needed.

    One at a time: every app with auto-reload gets the same save, and the second finds the
    module already patched ("no change") rather than applying the same plan twice."""
    if not _lock:
        _lock.append(asyncio.Lock())
    async with _lock[0]:
        pause = paused if _other_loops() else None
        why = _patch(app, paths, t0, show, pause)
        return await why if asyncio.iscoroutine(why) else why


def _patch(app, paths, t0, show, pause):
    """The analysis, then (``pause`` None: the caller's callback is the pause) the patch applied
    and reported; with ``pause``, a coroutine that applies it within ``pause(fn)``."""
    try:
        plans, reads, already = plan(app, paths)
    except hotpatch.Refused as exc:
        return str(exc)
    except Exception as exc:  # a bug of ours must not cost the user the save: reload
        return "the patch analysis failed (%s: %s)" % (type(exc).__name__, exc)
    t1 = time.perf_counter()

    def apply_all():
        for p in plans:
            p.apply()

    if pause is not None and plans:
        async def paused_then_done():
            try:
                ok = await pause(apply_all)
            except Exception as exc:  # applied in part: the reload that follows makes it whole
                return "applying the patch failed (%s: %s)" % (type(exc).__name__, exc)
            if not ok:
                return "an app's loop did not pause within %g s" % PAUSE_TIMEOUT
            return _done(app, paths, t0, t1, plans, reads, already, show)
        return paused_then_done()
    if plans:
        try:
            apply_all()
        except Exception as exc:
            return "applying the patch failed (%s: %s)" % (type(exc).__name__, exc)
    return _done(app, paths, t0, t1, plans, reads, already, show)


def _done(app, paths, t0, t1, plans, reads, already, show):
    """The patch is applied: the graph learns the new sources, the app says "running" with it."""
    for (name, module, path, data, st), p in zip(reads, plans, strict=True):
        graph.patched(name, module, path, data, p.code_object, st)
        digest = graph.cache.entry(path).digest
        _applied[path] = (digest, list(p.changes))
        _parsed[path] = (digest, p.parsed)
    done = [(p.path, p.changes) for p in plans] + already
    changes = [c for _path, names in done for c in names]
    files = [os.path.basename(path) for path, _names in done]
    took = (time.perf_counter() - t0) * 1000.0
    where = ", ".join(show(path) for path, _names in done) or (show(paths[0]) if paths else "?")
    # the launcher's line says "patched X: names in N ms (state kept)", N from the save
    app._log("INFO", "%s changed: patched in place: %s (applied in %.1f ms)" % (
        where, ", ".join(changes) or "no change", (time.perf_counter() - t1) * 1000.0))
    run = app._run
    info = {"kind": "patched", "mode": "patch", "patched": changes[:60], "files": files, "reimported": 0,
            "modules": [], "purged": 0, "note": None}
    app._set_state("running", elapsed_ms=round(took, 3), urls=run.urls(), assets=app._assets(run),
                   reload=info, public_ports=run.public_ports())
    live.refreshed(app)
    _settle_heap_soon()
    return None


_settling = []


def _settle_heap_soon(delay=0.2):
    """After a patch, off the save-to-served path: collect what is not frozen, then freeze it
    (as after a start, ``graph.Heap``), so the next patches' collections do not walk what this
    one and the requests since left.  Collected first: frozen cyclic garbage would stay."""
    if _settling:
        return
    heap.purged(1)

    def settle():
        _settling.clear()
        gc.collect()
        heap.freeze()
        if heap.due():
            heap.collect()
    _settling.append(state.kernel.loop.call_later(delay, settle))
