"""One start of one app: its servers, its loop, its thread, its context."""

import asyncio
import concurrent.futures
import contextvars
import weakref

from . import live, state
from .appprocess import AppProcess
from .drain import count_requests, freeze
from .servers import Servers


class Run:
    """One start of one app.  Every callable of the app runs in :attr:`ctx`, where
    :data:`state.current_run` is this run (that is how logs and servers find it)."""

    def __init__(self, app, threaded):
        self.app = app
        self.threaded = threaded
        self.servers = Servers()
        self.pool_keys = set()  # the pooled addresses (servers.pool) this run bound
        self.websockets = weakref.WeakSet()  # WebSocketHandlers made in this run
        self.assets_forgotten = False  # its template/static caches were dropped (assets.forget)
        self.closing_websockets = []  # their protocols once sent a close frame (drain cuts them off)
        self.frozen = False  # a successor run may accept: hold what comes in (drain.freeze)
        self.handed_over = False  # its servers stopped accepting for a successor (what they held was passed on)
        self.ws_closing = None  # (code, reason) its websockets were closed with; a later one is refused with it
        self.ws_held = []  # futures the held websocket messages wait on (on this run's loop)
        self.held_connections = []  # (handle, server, connection, address) its servers accepted while frozen
        self.keep_alive = {}  # server -> its no_keep_alive before the freeze
        self.obj = None
        self.scope = None  # an app started from its own entry point: its scope.AppScope
        self.main = None  # a contract app in shared mode: the mainthread.ContractMain its start() runs on
        self.loop = None
        self.io_loop = None
        self.thread = None
        self.loop_started = False
        self.bridge_runs_loop = False  # threaded: the app's start() returned; the bridge runs its loop
        self.stop_reached = False
        self.stop_requested = False
        self.error = None
        self.started_fut = None
        self.released_fut = None  # threaded: set once its listening sockets are closed (port free)
        self.ended_fut = None  # threaded: set once its thread is done (drained, loop closed)
        self.drain_task = None  # shared: the drain of its connections on the kernel's loop
        self.loop_closing = False
        self.close_all_fds = False
        self.bound = concurrent.futures.Future()  # set at its first tracked server (tornado_app.until_serving)
        self.proc = AppProcess(app.name)  # its signals, atexit, singletons (an entry point's: its scope's)
        self.proc.on_exit = lambda exc: app._contract_exit(self, exc)  # a contract app's exit ends it
        self.ctx = contextvars.copy_context()
        self.ctx.run(state.current_run.set, self)

    def in_ctx(self, fn, *args):
        return self.ctx.copy().run(fn, *args)

    def track_server(self, server, sockets):
        server._tl_bridge_run = self
        outgoing = getattr(self.app, "_outgoing", None)
        if outgoing is not None and outgoing is not self:
            # this run may accept from now on: the run it replaces answers nothing new until
            # the hand-over (or the restart fails: drain.thaw)
            freeze(outgoing)
        count_requests(server)
        self.servers.track(server, sockets)
        if not self.bound.done():
            self.bound.set_result(None)
        live.on_server(self, server)
        if self.app._run is self and self.app.state == "running":
            # a server started after "running" was reported: tell the new URLs
            state.kernel.call(self.app._report_urls, self)

    def open_sockets(self):
        return self.servers.open_sockets()

    def urls(self):
        return self.servers.urls()

    def public_ports(self):
        return self.servers.public_ports()

    def close_servers(self):
        return self.servers.close()

    def on_serving(self):
        # called on the app's own loop once it runs (threaded mode)
        fut = self.started_fut
        state.kernel.loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result("serving"))

    def _resolve(self, *futs):
        def resolve():
            for fut in futs:
                if not fut.done():
                    fut.set_result("ended")
        try:
            state.kernel.loop.call_soon_threadsafe(resolve)
        except RuntimeError:
            pass  # the kernel's loop is closing

    def drained(self):
        """An awaitable done once this run's accepted connections are served or closed."""
        if self.threaded:
            return asyncio.shield(self.ended_fut) if self.ended_fut is not None else None
        return asyncio.shield(self.drain_task) if self.drain_task is not None else None
