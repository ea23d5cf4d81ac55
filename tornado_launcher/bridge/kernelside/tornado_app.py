"""``TornadoBridgeApp``: runs a Tornado application in this kernel, on the kernel's
loop (shared mode) or on its own thread and loop (threaded mode).

The class reads top to bottom: public API (any thread) -> command queue
(kernel loop thread: one worker task per app runs the commands in order,
bursts of file events fold into one restart) -> start (shared, threaded)
-> stop (shared, threaded).  Constructing the user's object is ``entry``'s,
tracking its servers ``servers``'/``run``'s, draining ``drain``'s.

An app given by its own entry point (``main``, ``script``, or ``app_class``
with ``port``: an Application, a subclass or a factory) runs in an
:class:`~.scope.AppScope` bound to its run (``scope.start_entry`` / ``scope.stop_entry``);
the command queue, restarts, the socket pool, the threaded toggle and the drain are the same.

A restart starts the new run *before* the old one stops (:meth:`_replace`):
the new servers get the app's pooled listening sockets (``servers.pool``) and
accept on them, then the old servers stop accepting, the old websockets get
1012, the old app's ``stop()`` runs and its connections drain in the
background.  When the new code does not start, the old run keeps serving
("serving old code", ``protocol.OLD_CODE``).

A restart never closes the port (issue 12). In an app's run, ``tornado.netutil.bind_sockets`` /
``bind_unix_socket`` (what ``listen()`` calls, whatever address the argv names) are answered by
``servers.pool``: the first run binds and the pool keeps the sockets; each server gets its own
``dup()``, so the next run's server registers its own fd on the same listen queue (in shared
mode asyncio keeps one reader per fd) and the old server's ``stop()`` closes only its own.
``TornadoBridgeApp._replace`` orders a restart (and the threaded toggle): start the new run (it
accepts at once) → ``_hand_over`` on the old run's loop (its servers ``stop_accepting`` on
pooled sockets, their answers end keep-alive, its websockets get 1012 "Service Restart"). Both
runs accept from the one listen queue until then, so from the moment the new run's first server
is registered (``Run.track_server``, before it can accept) the old run is frozen
(``drain.freeze``): its HTTP servers hold the connections they accept (the hand-over gives them
to the new run's server on the same address, ``drain.pass_held``) and end keep-alive connections
with their next answer, its websockets hold the messages they receive (``drain.hold_message``:
dropped once the 1012 is sent) and one it upgrades gets the close frame instead of the old
``open()`` (``drain.refusal``); if the new run does not start, ``drain.thaw`` lets the old run
answer what it held. Once the new code serves, the old code answers nothing new (the last answer
on an old keep-alive connection, which ends it, excepted) → report "running" → ``_halt`` the old
run (its ``stop()``, then the drain in the background: requests it accepted are answered by the
old code within ``drain_timeout``, 2 s by default; a keep-alive connection idle 50 ms is closed,
a busy one ends with its answer; long-polls, event streams and websockets still open at the
bound are cut) → release pooled addresses the new run no longer uses. Closing and rebinding
would leave the port closed 2–3 ms (refused connections); ``SO_REUSEPORT`` would spread
connections over both servers. A real stop closes the pool's sockets: the port is free when
"stopped" is sent. A socket bound outside ``bind_sockets`` is not pooled: the new start fails
with EADDRINUSE and the restart falls back to stop-then-start. When the new code does not start
(import error, exception in ``start()``), the old run keeps serving and the record is "running"
with reason ``protocol.OLD_CODE`` + ``file:line: message`` (``protocol.serves_old_code``); the
Session marks the app stale ("serving old code") and the next restart that starts swaps.
``tests/prober.py`` is the client side that counts what a reload costs clients
(``tests/integration/test_reload_prober.py``, ``benchmarks/reload_probe.py``).

In the kernel, ``TornadoBridgeApp(name, spec)`` has ``start()``, ``stop()``, ``restart()``,
``handle_watchdog_event(event)``, ``set_threaded(flag)``, ``set_live_reload(flag)``: each
returns at once; progress is reported as state records (``records``: log floods batched every 15
ms, a command's final state and the first record after a quiet spell sent at once, so the
session hears "running" when a client can see it).

Running means serving (25.5). A scoped app whose main runs but listens on nothing yet is
reported "running" once its first listening socket opens (``tornado_app.until_serving``, at most
``SERVE_WAIT`` = 5 s); ending meanwhile is its failure with its reason. After 5 s without one it
is "running" with the reason ``no listening socket within 5 s: it runs without serving (a
worker?)``: a worker legitimately serves nothing, and the control client prints the reason.
"""

import asyncio
import collections
import errno
import os
import threading
import time

import tornado.ioloop

from .. import protocol
from . import assets, attribution, entry, imports, leftovers, live, options, patching, ports, state, zmqctx
from . import drain as draining
from . import scope as scope_runs
from .appprocess import describe_exit, exit_status
from .apps import BridgeApp
from .graph import graph, heap, prune_libraries
from .mainthread import ContractMain
from .records import format_exc, one_line
from .run import Run
from .servers import pool, stop_accepting

STOP_TIMEOUT = 5.0  # seconds an app's stop() may take before its servers are closed by force


class EntryPoints:
    """The part of :class:`TornadoBridgeApp` about its entry point: ``main`` ("pkg.mod:main"),
    ``script`` ("/abs/server.py") or ``app_class`` with ``port`` (and ``address``, default
    127.0.0.1) for an Application, a subclass or a factory run in a :class:`scope.AppScope`;
    else the contract class."""

    def _init_entry_points(self):
        self.main = self.spec.get("main")
        self.script = self.spec.get("script")
        self.port = self.spec.get("port")
        self.address = self.spec.get("address")

    def entry_point(self):
        """The :class:`entry.Entry` this app starts from, None for a contract ``app_class``."""
        if self.main:
            return entry.Entry.main(self.main)
        if self.script:
            return entry.Entry.script(self.script)
        if self.port is not None and self.app_class:
            return entry.Entry.application(self.app_class, self.port, self.address)
        return None

    def _entry_modules(self, loaded):
        """The loaded modules the app's entry points live in (re-executed on every reload)."""
        out = []
        for key in ("app_class", "main", "factory"):
            dotted = self.spec.get(key)
            if not isinstance(dotted, str):
                continue
            parts = dotted.replace(":", ".").split(".")
            for i in range(len(parts), 0, -1):
                name = ".".join(parts[:i])
                if name in loaded:
                    out.append(name)
                    break
        return out

    async def _start_by_entry_point(self, run):
        """Start ``run`` the way the app's entry point says; the exception (None: it serves)."""
        leftovers.begin(run)
        exc = await self._enter(run)
        if exc is not None:
            leftovers.ended(self, run)  # what it started before it failed
        return exc

    async def _enter(self, run):
        try:
            entry_point = self.entry_point()
        except Exception as exc:
            return exc
        if entry_point is not None:
            exc = await scope_runs.start_entry(self, run, entry_point)
            return exc if exc is not None else await until_serving(run, self)
        options.forget_unloaded(None)  # a contract app's define()s are the kernel's: drop the purged ones
        if self.threaded:
            return await self._start_threaded(run)
        return await self._start_shared(run)

    async def _halt_scoped(self, run, drain):
        await scope_runs.stop_entry(self, run, drain)
        if not run.assets_forgotten:
            forget_assets(run)
        await leftovers.end(self, run)  # its listeners, children, process-wide changes
        return True

    def _entry_ended(self, run, outcome):
        """The app ended on its own (its main returned or raised, it exited, it stopped its loop)."""
        if self._run is not run or run.stop_requested or outcome is None or outcome.requested:
            return
        self._run = None
        self.app = None
        leftovers.ended(self, run)
        state.kernel.loop.create_task(run.scope.end_threads())  # what its process's exit would end
        pool.release(self.name)  # its pooled listening sockets: the port is free
        self._flush_prints()
        if outcome.error is not None:
            self._log("ERROR", "the app ended: %s" % outcome.reason, format_exc(outcome.error))
            self._set_state("failed", reason=outcome.reason)
        else:
            self._log("INFO", "the app ended: %s" % outcome.reason)
            self._set_state("stopped", reason=outcome.reason)


def stop_timeout(spec):
    """The app's ``stop_timeout``: seconds a stop waits after its SIGTERM (scope.py), None: the default."""
    stop = spec.get("stop_timeout")
    return None if stop is None else max(0.0, float(stop))


class ProcessEnds:
    """The part of :class:`TornadoBridgeApp` about how a contract app ends as a process would
    (issue 25): an exit from one of its callbacks, the bound on its ``stop()``."""

    def _stop_wait(self):
        """Seconds a contract app's ``stop()`` may take: the app's ``stop_timeout``."""
        return STOP_TIMEOUT if self.stop_timeout is None else self.stop_timeout

    def _contract_exit(self, run, exc):
        """A contract app's callback raised SystemExit / KeyboardInterrupt (on its loop): the
        app ends, as its own process would, never the kernel."""
        state.kernel.call(self._submit, "exited", (run, exc))

    def _contract_main_ended(self, run, error):
        """A contract app's ``start()`` returned (or raised) in shared mode with no stop requested:
        it stopped its own loop.  An exit ends the app; else the log says so."""
        if isinstance(error, (SystemExit, KeyboardInterrupt)):
            self._contract_exit(run, error)
        elif error is not None:
            self._log("ERROR", "start() raised %s after its loop returned" % one_line(error), format_exc(error))
        else:
            self._log("INFO", "start() returned: the app stopped its loop")

    async def _do_exited(self, arg, t0):
        run, exc = arg
        if self._run is not run or run.stop_requested:
            return
        reason = describe_exit(exc)
        self._log("ERROR" if exit_status(exc) else "INFO", "the app ended: %s" % reason)
        await self._stop(drain=False)
        self._set_state("failed" if exit_status(exc) else "stopped", reason=reason)


class TornadoBridgeApp(ProcessEnds, EntryPoints, BridgeApp):
    """Runs a Tornado application class in this kernel, on the kernel's loop or its own thread.

    ``spec``: ``{"app_class": "pkg.mod.Cls", "argv": [...], "threaded": bool,
    "clear_cache": [...] or None, "drain_timeout": seconds (default 2), "live_reload": bool,
    "reload": "dependents" | "all" | "patch", "logger": {"level", "suppress_regex", "replace_regex"}}``.
    ``clear_cache`` None means: every module loaded from the project directory;
    it is the most a restart purges.  ``reload`` "dependents" (the default): a
    reload for changed files purges only the changed modules, the modules
    that import them (transitively) and the app's entry module (see
    ``graph``); "all": every module of ``clear_cache``; "patch": in place if it can (``patching``).
    Entry points other than a contract class (``main``, ``script``, ``port``): :class:`EntryPoints`.

    Subclass and override :meth:`make_app` to construct an application class
    that does not follow the usual contract.
    """

    kind = "tornado"

    def __init__(self, name, spec=None, **kwargs):
        super().__init__(name, spec, **kwargs)
        self.app_class = self.spec.get("app_class")
        self._init_entry_points()
        self.argv = [str(a) for a in (self.spec.get("argv") or self.spec.get("args") or [])]
        clear = self.spec.get("clear_cache")
        self.clear_cache = None if clear is None else [str(c) for c in clear]
        timeout = self.spec.get("drain_timeout")
        #: seconds the old run's accepted requests may take after a restart or stop
        self.drain_timeout = draining.DRAIN_TIMEOUT if timeout is None else max(0.0, float(timeout))
        self.stop_timeout = stop_timeout(self.spec)
        self.live_reload = bool(self.spec.get("live_reload", False))
        self.reload_mode = {"all": "all", "patch": "patch"}.get(self.spec.get("reload"), "dependents")
        self._reload_info = None  # what the current start purged (the "reload" of its running record)
        self.app = None  # the Tornado application object of the current run
        self._run = None
        self._pending = collections.deque()
        self._worker = None
        self._predecessor = None
        self._adopted_logger = None

    # -- public API: each returns at once; progress comes as state records
    def start(self):
        """Start the app (no-op when already starting or running)."""
        self._submit("start")

    def stop(self):
        """Stop the app; its port is free once the "stopped" record is sent."""
        self._submit("stop")

    def restart(self):
        """Stop, purge ``clear_cache`` modules, start.  Works after a failed start."""
        self._submit("restart")

    def handle_watchdog_event(self, event=None):
        """Restart for a file change (Jaffle's WatchdogApp contract).

        ``event``: a watchdog event or the launcher's dict (``src_path``,
        ``dest_path``, ...).  The log names the file that changed: for a move
        (an editor's atomic save renames a temporary file over the original)
        that is ``dest_path``; paths inside the project are shown relative to it.
        """
        self._submit("reload", (event_path(event), event_paths(event)))

    def set_threaded(self, flag):
        """Switch between the shared loop and an own thread; restarts a running app."""
        self._submit("set_threaded", bool(flag))

    def set_live_reload(self, flag):
        """Switch browser live reload (see ``live``) on or off; a running app keeps running."""
        self._submit("set_live_reload", bool(flag))

    def make_app(self, cls):
        """Construct the application: traitlets-style ``cls()`` + ``initialize(argv)``, else ``cls(argv)``."""
        return entry.make_app(cls, self.argv)

    # -- command queue (kernel loop thread only)
    def _submit(self, cmd, arg=None):
        t0 = time.perf_counter()
        state.kernel.call(self._enqueue, cmd, arg, t0)

    def _enqueue(self, cmd, arg, t0):
        last = self._pending[-1][0] if self._pending else None
        if cmd == "reload" and last == "reload":
            # a burst of file events: the reload already queued serves them all
            queued = self._pending[-1][1]
            queued[1].extend(p for p in arg[1] if p not in queued[1])
            return
        if (cmd == "reload" and last == "restart") or (cmd == "restart" and last == "restart"):
            return  # the full restart already queued serves it
        if cmd == "reload" and (arg := patching.at_once(self, arg, t0)) is None:
            return  # patched in place at once, in the caller's callback (patching.at_once)
        self._pending.append((cmd, arg, t0))
        if self._worker is None:
            self._worker = state.kernel.loop.create_task(self._work())

    async def _work(self):
        try:
            if self._predecessor is not None:
                try:
                    await self._predecessor._idle()
                except Exception:
                    pass
                self._predecessor = None
            while self._pending:
                cmd, arg, t0 = self._pending.popleft()
                try:
                    await getattr(self, "_do_" + cmd)(arg, t0)
                except Exception as exc:  # a bug of ours: say so, keep the kernel going
                    self._log("ERROR", "tornado-launcher bridge error during %s: %s" % (cmd, one_line(exc)),
                              format_exc(exc))
        finally:
            self._worker = None

    def _retire(self):
        # the app that takes this name starts once the port is free, not after the drain
        self._submit("stop", "no-drain")

    def _idle(self):
        if self._worker is None:
            return super()._idle()
        return asyncio.shield(self._worker)

    async def _do_start(self, arg, t0):
        if self.state in ("running", "starting"):
            self._set_state(self.state, urls=self._run.urls() if self._run else ())
            return
        if self.state == "failed":
            self._purge()  # the user fixed the code and pressed start: do not serve the cached modules
        await self._start(t0)

    async def _do_stop(self, arg, t0):
        if self._run is not None:
            await self._stop(drain=arg != "no-drain")
        else:
            self._set_state("stopped")  # also when already stopped: whoever waits for it settles

    async def _do_restart(self, arg, t0):
        self._purge()
        await self._replace(t0, self.threaded)

    async def _do_reload(self, arg, t0):
        path, paths, *why = arg  # why: the reason patching.at_once refused the patch, when it tried
        why = why[0] if why else await patching.try_patch(self, paths, t0) if self.reload_mode == "patch" else ""
        if why is None:
            return  # patched in place (patching.py); else reloaded as "dependents", saying why
        self._log("INFO", "%s changed: restarting%s" % (path, " (%s)" % why if why else ""))
        if self.reload_mode == "all" or self.state == "failed":
            await self._do_restart(None, t0)
            return
        partial = self._purge(paths, fallback=why or None)
        await self._replace(t0, self.threaded, retry_full=partial)

    async def _do_set_threaded(self, flag, t0):
        if flag == self.threaded:
            self._set_state(self.state, urls=self._run.urls() if self._run else ())
            return
        if self._run is not None:
            await self._replace(t0, flag)
        else:
            self.threaded = flag
            self._set_state(self.state)

    async def _do_set_live_reload(self, flag, t0):
        if flag != self.live_reload:
            self.live_reload = flag
            live.switched(self, flag)
        self._set_state(self.state, urls=self._run.urls() if self._run else ())

    def _purge(self, paths=None, note=None, fallback=None):
        """Drop modules before a start; True if only a part was dropped.

        ``paths`` None: every module of ``clear_cache`` (or of the project).
        Else the files that changed: only what they invalidate (``graph.plan``),
        within ``clear_cache``; a full purge where the graph cannot tell.
        """
        _t = time.perf_counter()
        loaded = imports.loaded_project_modules()
        names = None
        if paths is not None:
            changed, others = imports.modules_for_paths(paths, loaded)
            if others:
                note = "%s is not a Python module" % event_path({"src_path": others[0]})
            else:
                changed |= graph.changed_modules(loaded)
                names, why = graph.plan(changed, loaded, self._entry_modules(loaded))
                if why:
                    note = why
                    names = None
        partial = names is not None
        if not partial:
            names = self.clear_cache if self.clear_cache is not None else list(loaded)
        elif self.clear_cache is not None:
            names = [n for n in names if imports.matches(n, self.clear_cache)]
        purged = imports.purge_modules(sorted(names), submodules=not partial)
        heap.purged(len(purged))
        pruned = prune_libraries([n for n in purged if n in loaded], loaded)
        self._reload_info = {"purged": len(purged), "mode": "dependents" if partial else "all", "note": note,
                             "mark": graph.executed_count, "kind": "reloaded", "fallback": fallback}
        if note:
            self._log("INFO", "%s: purging every module" % (note,))
        if purged:
            self._log("DEBUG", "purged %d modules in %.1f ms: %s" % (
                len(purged), (time.perf_counter() - _t) * 1000.0, ", ".join(sorted(purged)[:20])))
        for lib, n in pruned:
            self._log("DEBUG", "took %d objects of purged modules out of library %s" % (n, lib))
        return partial

    # -- start
    async def _start(self, t0, report=True):
        """Start a new run; return ``(run, exc)`` (``exc`` None once it serves).
        ``report``: send its "running"/"failed" (a restart decides itself)."""
        if self._reload_info is None:
            self._reload_info = {"purged": 0, "mode": self.reload_mode, "note": None, "mark": graph.executed_count}
        self._set_state("starting")
        run = Run(self, self.threaded)
        self._run = run
        attribution.update_levels()
        exc = await self._start_by_entry_point(run)
        if report:
            self._report(run, exc, t0)
        return run, exc

    def _report(self, run, exc, t0):
        """"running", or "failed" once the port is free (the pooled sockets closed first,
        so whoever hears "failed" may bind the port at once)."""
        if exc is None:
            self._running(run, t0)
            pool.release(self.name, keep=run.pool_keys)
        else:
            pool.release(self.name)
            self._failed(run, exc)

    async def _replace(self, t0, threaded, retry_full=False):
        """Restart (in ``threaded`` mode): the new run serves before the old one stops.
        ``retry_full``: only a part of the modules was purged; if the new run does not
        start, purge them all and try once more."""
        old = self._run
        if old is None:
            self.threaded = threaded
            if not retry_full:
                await self._start(t0)
                return
            run, exc = await self._start_or_retry(t0)
            self._report(run, exc, t0)
            return
        was = self.threaded
        self.threaded = threaded
        forget_assets(old)  # the new run reads the templates and static files afresh
        self._outgoing = old  # read by Run.track_server: once the new run may accept, old websockets hold
        run, exc = await (self._start_or_retry(t0) if retry_full else self._start(t0, report=False))
        self._outgoing = None
        if exc is not None and isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            # bound outside tornado's bind_sockets (not pooled): the old order, stop then start
            self._run = old
            draining.thaw(old)  # what it held since the new run listened: its own to answer
            await self._halt(old, drain=False, code=draining.WS_RESTART)
            self._run = None
            self._purge()
            run, exc = await self._start(t0, report=False)
            old = None
        if exc is not None:
            if old is None:
                pool.release(self.name)
                self._failed(run, exc)
                return
            self._kept_old(old, was, exc)
            return
        if old is not None:
            await hand_over(old, run)
        self._running(run, t0)
        if old is not None:
            await self._halt(old, drain=False, code=None)  # websockets got their 1012 in the hand-over
        pool.release(self.name, keep=run.pool_keys)

    async def _start_or_retry(self, t0):
        """Start after a partial purge; if that fails, purge everything and start once more."""
        run, exc = await self._start(t0, report=False)
        if exc is not None and not (isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE):
            self._flush_prints()
            self._log("WARNING", "the partial reload did not start (%s): retrying once with a full purge"
                      % one_line(exc), format_exc(exc))
            self._purge(note="the partial reload did not start (%s)" % one_line(exc))
            run, exc = await self._start(t0, report=False)
        return run, exc

    def _kept_old(self, old, was_threaded, exc):
        """The new code did not start: the old run keeps serving on the same sockets."""
        self._reload_info = None
        self._run = old
        draining.thaw(old)  # it answers again, what it held first
        self.threaded = was_threaded
        self.app = old.obj
        pool.release(self.name, keep=old.pool_keys)
        self._flush_prints()
        where = error_place(exc)
        live.failed(self, None, where)
        self._log("ERROR", "restart failed, still serving the previous code: %s" % where, format_exc(exc))
        self._set_state("running", reason=protocol.OLD_CODE + where, urls=old.urls(), assets=self._assets(old))

    # -- start, shared mode: the app on the kernel's loop
    async def _start_shared(self, run):
        run.loop = state.kernel.loop
        run.io_loop = tornado.ioloop.IOLoop.current()
        run.main = ContractMain(run)  # its start() blocks in IOLoop.start() on a thread of its own
        run.main.on_end = lambda error: self._contract_main_ended(run, error)
        try:
            run.in_ctx(run.main.start, lambda: entry.construct_and_start(self, run))
        except (Exception, SystemExit, KeyboardInterrupt) as exc:
            run.close_servers()
            return exc
        # let callbacks start() scheduled run before we look at the servers
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        return None

    # -- start, threaded mode: the app on its own thread and loop
    async def _start_threaded(self, run):
        run.started_fut = state.kernel.loop.create_future()
        run.released_fut = state.kernel.loop.create_future()
        run.ended_fut = state.kernel.loop.create_future()
        thread = threading.Thread(target=run.ctx.copy().run, args=(self._thread_main, run),
                                  name="tornado-launcher:%s" % self.name, daemon=True)
        thread._tl_bridge_run = run
        run.thread = thread
        thread.start()
        what = await asyncio.shield(run.started_fut)
        if what == "serving":
            run.released_fut.add_done_callback(lambda _f: self._thread_ended(run))
            return None
        return run.error or RuntimeError("the app's thread ended before serving")

    def _thread_main(self, run):
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        run.loop = loop
        try:
            run.io_loop = tornado.ioloop.IOLoop.current()
            try:
                entry.construct_and_start(self, run)
                if not run.loop_started and not run.stop_requested:
                    # start() returned without running the loop: serve until stopped
                    run.loop_started = True
                    run.bridge_runs_loop = True
                    loop.call_soon(run.on_serving)
                    loop.run_forever()
            except (Exception, SystemExit) as exc:
                run.error = exc
        finally:
            try:
                run.close_servers()
            except Exception:
                pass
            if draining.has_connections(run):
                # the port is free: a restart may start the next app while this thread
                # answers what the old app accepted
                run._resolve(run.started_fut, run.released_fut)
                try:
                    draining.drain_thread_loop(run, self)
                except Exception:
                    pass
            # else nothing to drain: finish at once (the kernel hears of it when the
            # loop is closed, so no second thread competes for the GIL with the next start)
            try:
                draining.cancel_tasks(loop)
            except Exception:
                pass
            run.loop_closing = True
            try:
                run.io_loop.close(all_fds=run.close_all_fds) if run.io_loop is not None else loop.close()
            except Exception:
                try:
                    loop.close()
                except Exception:
                    pass
            asyncio.set_event_loop(None)
            run._resolve(run.started_fut, run.released_fut, run.ended_fut)

    def _thread_ended(self, run):
        # the app's thread ended while we believed it running (it stopped itself or crashed)
        if self._run is run and not run.stop_requested:
            self._run = None
            leftovers.ended(self, run)
            pool.release(self.name)  # nothing serves: free the port
            self._flush_prints()
            if run.error is not None:
                self._failed(run, run.error, "the app's loop ended with an error")
            else:
                self._set_state("stopped", reason="the app's loop ended")

    def _running(self, run, t0):
        info, self._reload_info = self._reload_info, None
        reload = None
        if info is not None:
            names = graph.executed_since(info.pop("mark"))
            info["reimported"] = len(names)
            info["modules"] = names[:protocol.RELOAD_MODULES_SHOWN]
            reload = info
        self._set_state("running", getattr(run, "no_socket", None), round((time.perf_counter() - t0) * 1000.0, 3),
                        run.urls(), assets=self._assets(run), reload=reload, public_ports=run.public_ports())
        live.serving(self, run)
        patching.serving(self, run)
        if info is not None and info["reimported"] > 20:
            # after a start that imported much, look at the new files now rather than at the next save
            state.kernel.loop.call_later(0.05, warm_up)
        heap.freeze()
        heap.schedule(state.kernel.loop)

    def _report_urls(self, run):
        if self._run is run and self.state == "running":
            self._set_state("running", urls=run.urls(), assets=self._assets(run), public_ports=run.public_ports())

    def _assets(self, run):
        try:
            return assets.directories(run)
        except Exception:
            return None

    def _failed(self, run, exc, what="start failed"):
        if self._run is run:
            self._run = None
        self._flush_prints()
        self._reload_info = None
        live.failed(self, run, error_place(exc))
        reason = ports.explain(exc) or one_line(exc)  # a port in use: which one, and who holds it
        self._log("ERROR", "%s: %s" % (what, reason), format_exc(exc))
        self._set_state("failed", reason=reason)

    # -- stop
    async def _stop(self, drain=True):
        """Stop the current run; its port is free when this returns (the pooled sockets closed).

        ``drain``: also wait (at most ``drain_timeout`` s) until the requests the
        app accepted are answered and its connections closed.
        """
        run = self._run
        self._set_state("stopping")
        live.stopping(self, run)
        await self._halt(run, drain, code=draining.WS_GOING_AWAY)
        if self._run is run:
            self._run = None
        self.app = None
        pool.release(self.name)
        self._flush_prints()
        self._set_state("stopped")

    async def _halt(self, run, drain, code):
        """Stop one run (no state records): its app's ``stop()``, its servers closed, its
        connections drained in the background; ``drain``: wait for that drain.
        ``code``: close its websockets with it first (None: already done)."""
        run.stop_requested = True
        if code is not None and not run.threaded:
            run.in_ctx(draining.close_websockets, run, code, "the app stopped")
        elif code is not None:
            try:
                run.loop.call_soon_threadsafe(draining.close_websockets, run, code, "the app stopped",
                                              context=run.ctx.copy())
            except RuntimeError:
                pass
        if run.scope is not None:
            return await self._halt_scoped(run, drain)
        if run.threaded:
            released = await self._stop_threaded(run)
        else:
            await self._stop_shared(run)
            released = True
            run.drain_task = state.kernel.loop.create_task(
                draining.drain(run.servers.servers(), self, self.drain_timeout, run))
        run.in_ctx(run.proc.run_atexit, self._log)  # what its code registered with atexit, once
        end_run(run)
        if drain and released:
            waiter = run.drained()
            if waiter is not None:
                try:
                    await asyncio.wait_for(waiter, self.drain_timeout + 2.0)
                except (asyncio.TimeoutError, Exception):
                    pass
            # the thread said it is done; let it also have ended when "stopped" is sent
            deadline = time.monotonic() + 0.2
            while run.thread is not None and run.thread.is_alive() and time.monotonic() < deadline:
                await asyncio.sleep(0.001)
        await leftovers.end(self, run)  # its listeners, children, process-wide changes
        return released

    # -- stop, per mode (the drain itself is drain.py's)
    async def _stop_shared(self, run):
        deadline = time.monotonic() + self._stop_wait()
        raised = await self._stop_shared_servers(run)
        if run.main is not None:
            if raised:
                run.main.loop_stopped()  # as in threaded mode: a stop() that raised stops its loop
            await run.main.end(deadline, self._log)  # its start() returns: what follows IOLoop.start() ran

    async def _stop_shared_servers(self, run):
        fifo = state.kernel.loop.create_future()
        raised = False
        if run.obj is not None:
            try:
                run.in_ctx(run.obj.stop)
            except Exception as exc:
                raised = True
                self._log("ERROR", "stop() raised %s" % one_line(exc), format_exc(exc))
        # FIFO after the callback the app's stop() added: when ours runs, theirs ran
        run.io_loop.add_callback(lambda: fifo.done() or fifo.set_result(None))
        timeout = self._stop_wait()
        deadline = time.monotonic() + timeout
        try:
            await asyncio.wait_for(asyncio.shield(fifo), timeout)
        except asyncio.TimeoutError:
            pass
        if raised:
            n = run.close_servers()
            if n:
                self._log("WARNING", "closed %d server(s) of the app after its stop() raised" % n)
            return True
        while not (run.stop_reached or not run.open_sockets()) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        if run.stop_reached or not run.open_sockets():
            run.close_servers()  # servers its stop() forgot
            return False
        n = run.close_servers()
        self._log("WARNING", "stop() did not finish within %g s: closed %d server(s) by force" % (timeout, n))
        return False

    async def _stop_threaded(self, run):
        def call_stop():
            try:
                if run.obj is not None:
                    run.obj.stop()
                else:
                    run.loop.stop()
            except Exception as exc:
                self._log("ERROR", "stop() raised %s" % one_line(exc), format_exc(exc))
                run.loop.stop()
                return
            # the bridge runs this loop (start() returned, or was a coroutine): its stop()
            # closed the servers but does not stop the loop, as in shared mode that is done
            run.loop.call_soon(stop_loop_when_closed)

        def stop_loop_when_closed():
            if run.bridge_runs_loop and not run.open_sockets():
                run.loop.stop()

        if not run.released_fut.done():
            try:
                run.loop.call_soon_threadsafe(call_stop, context=run.ctx.copy())
            except RuntimeError:
                pass  # loop already closed
            try:
                await asyncio.wait_for(asyncio.shield(run.released_fut), self._stop_wait())
                return True
            except asyncio.TimeoutError:
                pass

            def force():
                run.close_servers()
                run.loop.stop()
            try:
                run.loop.call_soon_threadsafe(force)
            except RuntimeError:
                pass
            try:
                await asyncio.wait_for(asyncio.shield(run.released_fut), 1.0)
                self._log("WARNING", "stop() did not finish within %g s: stopped its loop by force" % self._stop_wait())
                return True
            except asyncio.TimeoutError:
                pass
            # the app's thread is stuck in blocking code: free the port and leave it
            for sock in run.open_sockets():
                try:
                    sock.close()
                except Exception:
                    pass
            self._log("WARNING", "stop() did not finish and the app's thread is blocked: "
                                 "closed its sockets, abandoned the thread")
            return False
        return True

    # -- logging helpers
    def _flush_prints(self):
        attribution.flush_prints(self)

    def _logger_names(self):
        names = []
        for dotted in (self.app_class, self.main):
            if isinstance(dotted, str) and "." in dotted:
                names.append(dotted.split(".", 1)[0])
        if self._adopted_logger:
            names.append(self._adopted_logger)
        return names


async def hand_over(old, new):
    """The new run serves: the old servers stop accepting on the pooled sockets (the
    queue is the new run's now) and pass what they held since the new run listened to it
    (``drain.pass_held``), the old websockets get 1012.  On the old run's loop."""
    def on_old_loop():
        for server in old.servers.servers():
            try:
                stop_accepting(server)
                # from now on an old answer ends its keep-alive connection
                server.conn_params.no_keep_alive = True
            except Exception:
                pass
        leftovers.hand_over(old)  # its asyncio listeners too
        draining.close_websockets(old, draining.WS_RESTART, "the app restarted: reconnect for the new code")
        draining.pass_held(old, new)

    if not old.threaded:
        old.in_ctx(on_old_loop)
        return
    done = state.kernel.loop.create_future()

    def then_tell():
        try:
            on_old_loop()
        finally:
            state.kernel.loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))
    try:
        old.loop.call_soon_threadsafe(then_tell, context=old.ctx.copy())
        await asyncio.wait_for(asyncio.shield(done), 1.0)
    except (RuntimeError, asyncio.TimeoutError):
        pass  # its loop is gone or blocked: its stop closes what is left


SERVE_WAIT = 5.0  # seconds an app from its own entry point may take to open its first listening socket


async def until_serving(run, app):
    """An app whose main runs but listens on nothing yet (it binds after an await): "running"
    waits for its first listening socket, at most ``SERVE_WAIT`` s; it ending meanwhile is its
    failure.  After that it runs without one (a worker): noted in ``run.no_socket``."""
    scope = run.scope
    if not run.open_sockets() and not scope.ended.done():
        # its first server, or its end, whichever comes first (the wrappers are not cancelled:
        # that would cancel the run's own futures)
        await asyncio.wait({asyncio.wrap_future(run.bound), asyncio.wrap_future(scope.ended)},
                           timeout=SERVE_WAIT, return_when=asyncio.FIRST_COMPLETED)
    if scope.ended.done():
        outcome = scope.ended.result()
        if outcome.error is not None and not isinstance(outcome.error, SystemExit):
            return outcome.error
        return RuntimeError("%s before serving" % outcome.reason)
    if not run.open_sockets():
        run.no_socket = "no listening socket within %g s: it runs without serving (a worker?)" % SERVE_WAIT
        app._log("INFO", run.no_socket)
    return None


def end_run(run):
    """A contract run is over (its stop() returned): the zmq contexts its code made are destroyed,
    Tornado's template/static caches of it dropped."""
    zmqctx.close_for(run)
    if not run.assets_forgotten:
        forget_assets(run)


def forget_assets(run):
    """Tornado's template/static caches outlive the app: the next start reads the files."""
    run.assets_forgotten = True
    try:
        assets.forget(run)
    except Exception:
        pass


def error_place(exc):
    """``file:line: Type: message`` for why a start failed: the innermost frame in the
    project (else the innermost), or a SyntaxError's own place; paths relative to the project."""
    filename, line = getattr(exc, "filename", None), getattr(exc, "lineno", None)
    if not (isinstance(exc, SyntaxError) and filename and line):
        inner = own = None
        project = state.kernel.settings.get("project_dir")
        root = imports.norm(project) if project else None
        tb = exc.__traceback__
        while tb is not None:
            name = tb.tb_frame.f_code.co_filename
            inner = (name, tb.tb_lineno)
            if root and os.path.isabs(name) and imports.norm(name).startswith(root + os.sep):
                own = inner
            tb = tb.tb_next
        filename, line = own or inner or (None, None)
    if not filename:
        return one_line(exc)
    return "%s:%s: %s" % (event_path({"src_path": filename}), line, one_line(exc))


def warm_up():
    """Fill the caches a reload reads (which loaded modules are the project's, their real
    paths, their files' stat baselines) while nothing waits for them."""
    try:
        loaded = imports.loaded_project_modules()
        imports.modules_for_paths((), loaded)
        graph.changed_modules(loaded)
    except Exception:
        pass


def event_paths(event):
    """Every file a file event (or the launcher's dict, with its ``paths``) says changed."""
    if event is None:
        return []
    get = event.get if isinstance(event, dict) else (lambda k: getattr(event, k, None))
    out = []
    # a move (an atomic save) is about its destination: the source is the editor's temporary file
    for p in [get("dest_path") or get("src_path")] + list(get("paths") or []):
        if p:
            try:
                p = os.fsdecode(p)
            except Exception:
                continue
            if p not in out:
                out.append(p)
    return out


def event_path(event):
    """The path a file event is about, for the log: the destination of a move, else the source."""
    if event is None:
        return None
    if isinstance(event, dict):
        path = event.get("dest_path") or event.get("src_path") or event.get("path")
    else:
        path = getattr(event, "dest_path", None) or getattr(event, "src_path", None)
    if not path:
        return str(event)
    try:
        path = os.fsdecode(path)
    except Exception:
        return str(path)
    project = state.kernel.settings.get("project_dir")
    if project and os.path.isabs(path):
        try:
            for p, root in ((os.path.abspath(path), os.path.abspath(project)),
                            (imports.norm(path), imports.norm(project))):  # the project dir may be a symlink
                if os.path.commonpath([p, root]) == root:
                    return os.path.relpath(p, root)
        except ValueError:
            pass  # another drive (Windows)
    return path
