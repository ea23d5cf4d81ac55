"""Stopping servers without losing a connection, and draining what they accepted.

When an app's server stops listening, connections waiting in its listen
backlog already reached the app: they are accepted and served, for a close
would reset them (:func:`accept_backlog`, :func:`close_listening`, through
libc with the GIL held).  Requests in flight are answered by the old code,
idle keep-alive connections are closed, whatever still runs
:data:`DRAIN_TIMEOUT` s later (the app's ``drain_timeout``) is cut off
(:func:`drain`).  Websockets get a close frame at once (:func:`close_websockets`:
1012 "Service Restart" on a restart, so clients reconnect to the new code) and
are cut off with the rest at the bound.
"""

import asyncio
import errno
import os
import socket
import time

import tornado.httpserver
import tornado.iostream

from .servers import pool

DRAIN_TIMEOUT = 2.0  # seconds a stopped app's accepted requests may take to finish before being cut off
FRESH_GRACE = 0.25  # seconds a just-accepted connection may take to send its first request while draining
IDLE_GRACE = 0.05  # seconds a keep-alive connection must sit idle before the drain closes it
WS_RESTART = 1012  # RFC 6455 "Service Restart": the client should reconnect
WS_GOING_AWAY = 1001  # the app stopped


class Libc:
    """libc through ctypes.PyDLL (its calls keep the GIL), loaded on first use; None where unavailable."""

    def __init__(self):
        self._loaded = False
        self._lib = None

    def get(self):
        if not self._loaded:
            self._loaded = True
            self._lib = self._load()
        return self._lib

    @staticmethod
    def _load():
        try:
            if os.name == "posix":
                import ctypes

                lib = ctypes.PyDLL(None, use_errno=True)
                lib.accept.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
                lib.accept.restype = ctypes.c_int
                lib.close.argtypes = [ctypes.c_int]
                lib.close.restype = ctypes.c_int
                lib.tl_errno = ctypes.get_errno
                return lib
        except Exception:
            pass
        return None


libc = Libc()


def peer(connection):
    try:
        return connection.getpeername()
    except OSError:
        return ("", 0)


def accept_backlog(server):
    for sock in list(getattr(server, "_sockets", {}).values()):
        if sock.fileno() == -1 or sock.gettimeout() != 0.0 or pool.pooled(sock):
            continue  # closed, blocking (accept() would wait for a client), or the next run's queue
        for _ in range(128):
            try:
                connection, address = sock.accept()
            except ConnectionAbortedError:
                continue
            except OSError:  # BlockingIOError: the backlog is empty
                break
            try:
                server._handle_connection(connection, address)
            except Exception:
                connection.close()


def close_listening(sock):
    """Close a listening socket; return the connections that were still in its backlog.

    A Python ``accept()`` lets go of the GIL: another thread may then hold it
    for milliseconds before ``close()`` runs, and a connection queued meanwhile
    would be reset by the close.  The last accepts and the close are made
    through libc with the GIL held, so that window is a few microseconds.
    """
    lib = libc.get()
    fd = sock.fileno()
    if lib is None or fd == -1 or sock.family not in (socket.AF_INET, socket.AF_INET6) \
            or sock.gettimeout() != 0.0:  # a blocking accept() with the GIL held would hang the kernel
        sock.close()
        return []
    accepted = []
    try:
        while len(accepted) < 1024:
            new_fd = lib.accept(fd, None, None)
            if new_fd < 0:
                if lib.tl_errno() in (errno.EINTR, errno.ECONNABORTED):
                    continue
                break
            accepted.append(new_fd)
        sock.detach()
        lib.close(fd)
    except Exception:
        sock.close()
    connections = []
    for new_fd in accepted:
        try:
            connection = socket.socket(fileno=new_fd)
            connection.set_inheritable(False)
            connections.append(connection)
        except Exception:
            try:
                os.close(new_fd)
            except Exception:
                pass
    return connections


def count_requests(server):
    """Count requests per HTTP connection of ``server`` (``_tl_requests`` on each), so a
    drain can tell an idle keep-alive connection from one still to send its first request."""
    if not isinstance(server, tornado.httpserver.HTTPServer) or "start_request" in vars(server):
        return
    original = server.start_request

    def start_request(server_conn, request_conn):
        try:
            server_conn._tl_requests = getattr(server_conn, "_tl_requests", 0) + 1
        except Exception:
            pass
        return original(server_conn, request_conn)

    try:
        server.start_request = start_request
    except Exception:
        pass


def waiting_for_request(conn):
    """True when an HTTP connection sits between requests: no byte of a next request has arrived.

    Reads Tornado's IOStream internals defensively: when they are not there, the
    connection counts as busy and is only closed at the drain's deadline.
    """
    stream = getattr(conn, "stream", None)
    if stream is None or stream.closed():
        return True
    if getattr(stream, "_read_regex", None) is None or getattr(stream, "_read_buffer_size", 1):
        return False  # a request is being read or answered
    sock = getattr(stream, "socket", None)
    if sock is None:
        return True
    try:
        if getattr(sock, "pending", None) is not None and sock.pending():
            return False  # TLS: decrypted bytes waiting
        return not socket.socket.recv(sock, 1, socket.MSG_PEEK)  # b"": the client hung up
    except (BlockingIOError, InterruptedError):
        return True
    except Exception:
        return False


def close_websockets(run, code, reason):
    """Send a close frame to every open websocket ``run``'s handlers accepted; one they
    upgrade later is closed with the same frame instead of opening (:func:`refusal`), and the
    messages held meanwhile (:func:`hold_message`) are dropped: the old code answers no more.
    Call on the loop that serves them; :func:`drain` cuts off those still open at its bound."""
    run.ws_closing = (code, reason)
    for handler in list(getattr(run, "websockets", ())):
        proto = getattr(handler, "ws_connection", None)
        if proto is None:
            continue
        run.closing_websockets.append(proto)
        try:
            handler.close(code, reason)
        except Exception:
            pass
    wake_held(run)


def refusal(run):
    """The (code, reason) a websocket upgraded now in ``run`` is closed with before its
    ``open()`` runs (None: it opens): its run was closed, or a successor run accepts."""
    if run.ws_closing is not None:
        return run.ws_closing
    if run.frozen:
        return (WS_RESTART, "the app restarts: reconnect for the new code")
    return None


# -- a successor run may accept: the old run answers nothing that came after
def freeze(run):
    """A run that replaces ``run`` may accept from now on (any thread).  Until the hand-over
    (or :func:`thaw`): ``run``'s websockets hold the messages they get (:func:`hold_message`),
    its HTTP servers hold the connections they accept (the hand-over passes them to the new
    run, :func:`pass_held`) and end keep-alive connections with their next answer."""
    if run.frozen:
        return
    for server in run.servers.servers():
        params = getattr(server, "conn_params", None)
        if params is not None and server not in run.keep_alive:
            run.keep_alive[server] = params.no_keep_alive
            params.no_keep_alive = True
    run.frozen = True


def holds(run, server):
    """Whether a connection ``server`` (of ``run``) accepts now waits for the hand-over."""
    return run.frozen and not run.handed_over and isinstance(server, tornado.httpserver.HTTPServer)


def hold_message(run, proto, opcode, data, handle):
    """A message for a websocket of ``run`` while frozen: wait, then drop it if the hand-over
    closed the websocket, else ``handle`` it (the successor did not start: :func:`thaw`).
    Returns the awaitable tornado's frame loop waits on, so the next frame is read after it."""

    async def held():
        while run.frozen and not run.handed_over and not proto.is_closing():
            wake = asyncio.get_running_loop().create_future()
            run.ws_held.append(wake)
            await wake
        if proto.is_closing():
            return  # 1012 sent (or the client left): no answer from the old code
        result = handle(proto, opcode, data)
        if result is not None:
            await result

    return asyncio.ensure_future(held())


def wake_held(run):
    """Let the held messages of ``run`` look again (on the loop that serves its websockets)."""
    held, run.ws_held = run.ws_held, []
    for fut in held:
        if not fut.done():
            fut.set_result(None)


def successor_server(successor, connection):
    """The HTTP server of ``successor`` listening where ``connection`` was accepted, or None."""
    try:
        local = connection.getsockname()
    except OSError:
        return None
    for server in successor.servers.servers():
        if not isinstance(server, tornado.httpserver.HTTPServer):
            continue
        for sock in list(getattr(server, "_sockets", {}).values()):
            try:
                name = sock.getsockname()
            except OSError:
                continue
            if sock.family != connection.family:
                continue
            if name == local or (sock.family in (socket.AF_INET, socket.AF_INET6)
                                 and name[1] == local[1] and name[0] in ("0.0.0.0", "::", "")):
                return server
    return None


def pass_held(run, successor):
    """The hand-over (on ``run``'s loop, its servers no longer accepting): the connections
    they held go to ``successor``'s server on the same address (on its loop), else the old code
    answers them.  Held websocket messages are dropped (their websockets got the close frame)."""
    run.handed_over = True
    held, run.held_connections = run.held_connections, []
    for handle, server, connection, address in held:
        target = successor_server(successor, connection) if successor is not None else None
        try:
            if target is None:
                run.in_ctx(handle, server, connection, address)
            elif successor.loop is run.loop:
                successor.in_ctx(handle, target, connection, address)
            else:
                successor.loop.call_soon_threadsafe(handle, target, connection, address, context=successor.ctx.copy())
        except Exception:
            connection.close()
    wake_held(run)


def thaw(run):
    """The successor did not start: ``run`` answers again, what it held first.  From the kernel's loop."""
    def on_its_loop():
        run.frozen = False
        for server, was in run.keep_alive.items():
            server.conn_params.no_keep_alive = was
        run.keep_alive = {}
        held, run.held_connections = run.held_connections, []
        for handle, server, connection, address in held:
            try:
                run.in_ctx(handle, server, connection, address)
            except Exception:
                connection.close()
        wake_held(run)
    if not run.threaded or run.loop is None:  # shared: we are on its loop (the kernel's)
        on_its_loop()
        return
    try:
        run.loop.call_soon_threadsafe(on_its_loop)
    except RuntimeError:  # its loop is closed: nothing waits on it
        run.frozen = False
        for _handle, _server, connection, _address in run.held_connections:
            connection.close()
        run.held_connections = []


def open_websockets(run):
    out = []
    for proto in getattr(run, "closing_websockets", ()):
        stream = getattr(proto, "stream", None)
        if stream is not None and not stream.closed():
            out.append(stream)
    return out


async def drain(servers, app=None, timeout=DRAIN_TIMEOUT, run=None):
    """Let the connections of stopped HTTP servers finish; close each as soon as it is idle.

    Runs on the loop that serves those connections.  Requests already read are
    answered (by the old code); a keep-alive connection's next answer ends it
    ("Connection: close"), one idle for :data:`IDLE_GRACE` s is closed (closing
    one the instant its client sends would lose that request); a just-accepted
    connection gets :data:`FRESH_GRACE` seconds to send its request; whatever
    still runs after ``timeout`` seconds is cut off, ``run``'s closing
    websockets included.  Returns how many connections were cut off.
    """
    servers = [s for s in servers if isinstance(s, tornado.httpserver.HTTPServer)]
    for server in servers:
        try:
            server.conn_params.no_keep_alive = True  # answers from now on end their connection
        except Exception:
            pass
    deadline = time.monotonic() + timeout
    idle_since = {}
    while True:
        conns = [c for s in servers for c in list(getattr(s, "_connections", ()))]
        websockets = open_websockets(run)
        if not conns and not websockets:
            return 0
        now = time.monotonic()
        if now >= deadline:
            break
        for conn in conns:
            if waiting_for_request(conn):
                since = idle_since.setdefault(conn, now)
                grace = IDLE_GRACE if getattr(conn, "_tl_requests", 0) >= 1 else FRESH_GRACE
                if now - since >= grace:
                    conn.stream.close()
            else:
                idle_since.pop(conn, None)
        await asyncio.sleep(0.005)
    for stream in [c.stream for c in conns] + websockets:
        try:
            stream.close()
        except Exception:
            pass
    await asyncio.sleep(0)  # let their serving loops end
    cut = len(conns) + len(websockets)
    if app is not None:
        app._log("WARNING", "closed %d connection(s) still busy %g s after the app stopped" % (cut, timeout))
    return cut


def has_connections(run):
    """Whether the stopped app's own loop still has connections (HTTP or any IOStream)."""
    for server, _ in run.servers:
        if getattr(server, "_connections", None):
            return True
    for _fileobj, handler in list(getattr(run.io_loop, "handlers", {}).values()):
        if isinstance(getattr(handler, "__self__", None), tornado.iostream.BaseIOStream):
            return True
    return False

def cancel_tasks(loop, timeout=1.0):
    """Cancel the tasks still pending on an app's stopped loop and run it until they
    unwound (``timeout`` s at most): the end of a threaded run's or scope's own loop."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending:
        loop.run_until_complete(asyncio.wait(pending, timeout=timeout))


def drain_thread_loop(run, app):
    """On the app's own thread, its loop stopped: serve or close what it accepted, bounded."""
    loop = run.loop
    if loop is None or loop.is_closed():
        return
    timeout = getattr(app, "drain_timeout", DRAIN_TIMEOUT)
    task = loop.create_task(drain(run.servers.servers(), app, timeout, run))
    deadline = time.monotonic() + timeout + 1.0
    while not task.done() and time.monotonic() < deadline:
        try:
            loop.run_until_complete(task)
        except RuntimeError:
            continue  # something stopped the loop again (a late stop()): keep draining
        except Exception:
            break
    # streams no HTTPServer tracks (websockets, raw TCPServer connections): close them
    # while the loop still runs, so their close callbacks run in the old app
    streams = []
    for _fileobj, handler in list(getattr(run.io_loop, "handlers", {}).values()):
        owner = getattr(handler, "__self__", None)
        if isinstance(owner, tornado.iostream.BaseIOStream) and owner not in streams:
            streams.append(owner)
    for stream in streams:
        try:
            stream.close()
        except Exception:
            pass
    try:
        loop.run_until_complete(asyncio.sleep(0.01 if streams else 0))
    except Exception:
        pass
    # what else is registered on the app's private loop is the app's: close its sockets
    # (plain int fds may be owned elsewhere: those are only unregistered)
    for fileobj, _handler in list(getattr(run.io_loop, "handlers", {}).values()):
        if isinstance(fileobj, socket.socket):
            try:
                fileobj.close()
            except Exception:
                pass
