"""Listeners outside Tornado's HTTP server (issue 25.3): ``asyncio.start_server``,
``loop.create_server``, ``loop.create_unix_server`` opened by an app.

In an app's run, ``create_server(host, port)`` (what ``start_server`` calls) binds through the
app's :data:`servers.pool`, as Tornado's ``bind_sockets`` does: the first run binds and the pool
keeps the sockets, each run's server gets a ``dup()`` (``sock=``; several addresses, e.g. a
wildcard's IPv4 and IPv6, go into one ``asyncio.Server``), so a restart's new server accepts on
the same listen queue before the old one closes: no refused connection.  A ``sock=`` the app
made, a port 0 and ``create_unix_server`` are not pooled (asyncio itself replaces a stale Unix
socket file on the next bind).  Every such ``asyncio.Server`` is noted for the run and closed at
its end (:func:`close`), on its own loop; ``pool.release`` then frees the port.

Facts this relies on:

* ``loop.create_server(sock=...)`` accepts a dup of a pooled listening socket; asyncio's
  ``Server.close()`` on 3.11 closes the listening sockets only (accepted transports go on).
"""

import asyncio
import asyncio.base_events
import socket
import threading
import weakref

from .attribution import attributed_run
from .servers import pool


class Listeners:
    """The asyncio servers of each run (weak by run); thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.runs = weakref.WeakKeyDictionary()
        self.applied = False
        self.create_server = None
        self.create_unix_server = None
        self.bind_sockets = None

    def note(self, run, loop, server):
        with self.lock:
            self.runs.setdefault(run, []).append((loop, server))

    def take(self, run):
        with self.lock:
            return self.runs.pop(run, [])


listeners = Listeners()


def _bind(port, host, family, backlog, reuse_port):
    kwargs = {"backlog": backlog}
    if reuse_port:
        kwargs["reuse_port"] = True
    return listeners.bind_sockets(port, host or None, family, **kwargs)


async def _create_server(self, protocol_factory, host=None, port=None, *, family=socket.AF_UNSPEC,
                         flags=socket.AI_PASSIVE, sock=None, backlog=100, ssl=None, reuse_address=None,
                         reuse_port=None, **kwargs):
    run = attributed_run()
    pooled = (run is not None and sock is None and port and listeners.bind_sockets is not None
              and (host is None or isinstance(host, str)))
    if not pooled:
        server = await listeners.create_server(
            self, protocol_factory, host, port, family=family, flags=flags, sock=sock, backlog=backlog, ssl=ssl,
            reuse_address=reuse_address, reuse_port=reuse_port, **kwargs)
    else:
        key = ("asyncio", int(family), host or "", int(port))
        run.pool_keys.add(key)
        socks = pool.get(run.app.name, key, lambda: _bind(int(port), host, family, backlog, reuse_port))
        start_serving = kwargs.pop("start_serving", True)
        server = await listeners.create_server(self, protocol_factory, sock=socks[0], backlog=backlog, ssl=ssl,
                                               start_serving=False, **kwargs)
        for extra in socks[1:]:
            extra.setblocking(False)
            server._sockets.append(extra)
        if start_serving:
            server._start_serving()
            await asyncio.sleep(0)
    if run is not None:
        listeners.note(run, self, server)
    return server


async def _create_unix_server(self, protocol_factory, path=None, **kwargs):
    server = await listeners.create_unix_server(self, protocol_factory, path, **kwargs)
    run = attributed_run()
    if run is not None:
        listeners.note(run, self, server)
    return server


def _close_one(loop, server):
    try:
        server.close()
    except Exception:
        for sock in list(getattr(server, "_sockets", None) or ()):
            try:
                sock.close()
            except Exception:
                pass


def stop_accepting(run):
    """A restart's new run serves: ``run``'s asyncio servers on this thread's loop stop listening
    (their shares of pooled sockets: the queue is the new run's).  Connections they accepted go on."""
    try:
        current = asyncio.get_running_loop()
    except RuntimeError:
        current = None
    with listeners.lock:
        entries = list(listeners.runs.get(run, ()))
    for loop, server in entries:
        if loop is current:
            _close_one(loop, server)


async def close(run, kernel_loop):
    """Close ``run``'s asyncio servers on their loops (a closed loop: their sockets directly).
    Returns how many were open."""
    entries = listeners.take(run)
    n = 0
    for loop, server in entries:
        if not server.is_serving() and not getattr(server, "_sockets", None):
            continue
        n += 1
        if loop is kernel_loop or loop.is_closed() or not loop.is_running():
            _close_one(loop, server)
            if loop.is_closed():
                for sock in list(getattr(server, "_sockets", None) or ()):
                    try:
                        sock.close()
                    except Exception:
                        pass
            continue
        done = kernel_loop.create_future()

        def on_loop(server=server, loop=loop, done=done):
            try:
                _close_one(loop, server)
            finally:
                kernel_loop.call_soon_threadsafe(lambda: done.done() or done.set_result(None))
        try:
            loop.call_soon_threadsafe(on_loop)
            await asyncio.wait_for(done, 1.0)
        except (RuntimeError, asyncio.TimeoutError):
            for sock in list(getattr(server, "_sockets", None) or ()):
                try:
                    sock.close()
                except Exception:
                    pass
    return n


def install(bind_sockets):
    """Wrap asyncio's server factories (once per kernel); ``bind_sockets``: Tornado's original."""
    if listeners.applied:
        return
    listeners.applied = True
    listeners.bind_sockets = bind_sockets
    base = asyncio.base_events.BaseEventLoop
    listeners.create_server = base.create_server
    base.create_server = _create_server
    try:
        from asyncio import unix_events
        unix = unix_events._UnixSelectorEventLoop
        listeners.create_unix_server = unix.create_unix_server
        unix.create_unix_server = _create_unix_server
    except (ImportError, AttributeError):
        pass
