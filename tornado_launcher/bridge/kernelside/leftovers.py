"""What a run leaves behind when it ends, taken down as a process exit would (issues 18.4, 25.3,
25.4): the hooks ``tornado_app`` calls where a run begins and ends.

``install()`` once per kernel; ``begin(run)`` before the app's code runs; ``await end(app, run)``
when the run stops (a Stop, the old run of a restart) after its own stop and servers;
``ended(app, run)`` (the same, scheduled) when it ended on its own or failed to start.  In order:
its asyncio listeners closed (``listeners``: the port is free once the pool releases it), its
child processes stopped (``children``: SIGTERM, SIGKILL after a grace; on a thread, the loop is
never blocked), its process-wide changes undone (``process_state``; on a restart they pass to the
new run, but for handlers it added again).  Each says what it did in
the app's log.  Idempotent per run.
"""

import asyncio
import weakref

from . import children, listeners, process_state, state

_ended = weakref.WeakSet()


def install(bind_sockets):
    children.install()
    listeners.install(bind_sockets)
    process_state.install()


def begin(run):
    process_state.begin(run)


async def end(app, run):
    if run in _ended:
        return
    _ended.add(run)
    loop = state.kernel.loop
    try:
        n = await listeners.close(run, loop)
        if n:
            app._log("DEBUG", "closed %d asyncio listener%s of the app" % (n, "" if n == 1 else "s"))
    except Exception as exc:
        app._log("WARNING", "closing the app's asyncio listeners failed: %r" % (exc,))
    done = loop.create_future()

    def report(stopped, killed):
        if stopped:
            app._log("WARNING" if killed else "INFO", children.sentence(stopped, killed))
        loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))
    if children.stop_in_thread(run, report) is not None:
        try:
            await asyncio.wait_for(asyncio.shield(done), children.GRACE + 5.0)
        except asyncio.TimeoutError:
            pass
    try:
        successor = app._run if app._run is not None and app._run is not run else None
        undone = process_state.hand_over(run, successor) if successor is not None else process_state.undo(run)
        if undone:
            app._log("DEBUG", "undid the app's changes to process-wide state: %s" % ", ".join(undone))
    except Exception as exc:
        app._log("WARNING", "undoing the app's process-wide changes failed: %r" % (exc,))


def hand_over(run):
    """A restart's new run serves: ``run``'s asyncio listeners stop accepting (on its loop)."""
    try:
        listeners.stop_accepting(run)
    except Exception:
        pass


def ended(app, run):
    """``end`` from a callback (the run ended on its own, or did not start)."""
    if run in _ended:
        return
    try:
        state.kernel.loop.call_soon_threadsafe(lambda: state.kernel.loop.create_task(end(app, run)))
    except RuntimeError:
        pass
