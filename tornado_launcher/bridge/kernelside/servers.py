"""The servers and listening sockets one run of an app opened, and what they serve.

Filled by the ``TCPServer.add_sockets`` patch while the app's code runs.
:class:`SocketPool` keeps an app's bound listening sockets across its restarts,
so the new run accepts on them before the old one stops (no moment with the
port closed).

* ``Application.listen(port)`` without an address binds ``0.0.0.0`` and ``::`` (both families
  here); the URL is ``http://localhost:PORT/`` (``[::1]`` for an IPv6-only wildcard).
  ``/etc/hosts`` here maps localhost to 127.0.0.1 only.

* Sockets however bound (18.5). ``bind_sockets`` + ``add_sockets``, ``listen()``,
  ``HTTPServer.bind/start(1)`` already go through the pool (see "A restart never closes the
  port"); ``test_process_model_b`` checks each style serves, restarts and frees its port in both
  modes. We did not reproduce the issue's "listens but never accepts" with Tornado's own calls;
  a raw ``socket.socket()`` handed to ``add_sockets`` is tracked (URLs, closed at stop) but not
  pooled: its restart is stop-then-start (EADDRINUSE fallback).

A wildcard bind's URL names ``localhost`` (``[::1]`` for an IPv6-only wildcard).
"""

import socket
import threading
import weakref


class Servers:
    """``(server, [sockets])`` pairs in the order the app opened them; iterable as such."""

    def __init__(self):
        self._entries = []

    def __iter__(self):
        return iter(self._entries)

    def track(self, server, sockets):
        for entry in self._entries:
            if entry[0] is server:
                entry[1].extend(sockets)
                return
        self._entries.append((server, list(sockets)))

    def servers(self):
        return [s for s, _ in self._entries]

    def open_sockets(self):
        return [s for _, socks in self._entries for s in socks if s.fileno() != -1]

    def public_ports(self):
        """The ports of open listening sockets bound to an address other than loopback
        (a wildcard or a specific one): reachable from another machine."""
        ports = []
        for _, socks in self._entries:
            for sock in socks:
                if sock.fileno() == -1 or sock.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                try:
                    host, port = sock.getsockname()[:2]
                except OSError:
                    continue
                if not (host.startswith("127.") or host == "::1") and port not in ports:
                    ports.append(port)
        return ports

    def urls(self):
        """URLs a browser can open for the open listening sockets: a wildcard bind
        (``app.listen(8888)``) is ``localhost``."""
        bound = []
        for server, socks in self._entries:
            scheme = "https" if getattr(server, "ssl_options", None) else "http"
            for sock in socks:
                if sock.fileno() == -1:
                    continue
                try:
                    addr = sock.getsockname()
                except OSError:
                    continue
                bound.append((scheme, sock.family, addr[0], addr[1]))
        v4_wild = {(s, p) for s, f, h, p in bound if f == socket.AF_INET and h in ("0.0.0.0", "")}
        urls = []
        for scheme, family, host, port in bound:
            if family == socket.AF_INET:
                host = "localhost" if host in ("0.0.0.0", "") else host
            elif family == socket.AF_INET6:
                if host in ("::", ""):
                    host = "localhost" if (scheme, port) in v4_wild else "[::1]"
                else:
                    host = "[%s]" % host
            else:
                continue
            url = "%s://%s:%d/" % (scheme, host, port)
            if url not in urls:
                urls.append(url)
        return urls

    def close(self):
        """Stop every server still listening.  Call on the servers' loop thread
        (or with that loop not running).  Returns how many were closed."""
        closed = 0
        for server, socks in self._entries:
            if all(s.fileno() == -1 for s in socks):
                continue
            closed += 1
            try:
                server.stop()
            except Exception:
                for s in socks:
                    try:
                        s.close()
                    except Exception:
                        pass
        return closed


class SocketPool:
    """The bound listening sockets of each app, kept across its restarts (kernel-wide).

    ``tornado.netutil.bind_sockets`` / ``bind_unix_socket`` called in an app's
    run (``listen()`` goes through them) are answered from here: the first call
    for an address binds as usual and keeps the sockets; later runs of the same
    app asking for the same address get a ``dup()`` of them, so the new server
    registers its own fd and starts accepting from the same listen queue while
    the old server still accepts.  The old server's ``stop()`` closes only its
    own fd; the queue stays open until the app really stops (:meth:`release`).
    Why not close-and-rebind: that leaves the port closed for milliseconds
    (connections refused); ``SO_REUSEPORT`` would spread them over both servers.

    Keys are what the app asked for: ``(family, address, port)`` (port 0, an
    ephemeral port, is never pooled).  Thread-safe: threaded apps bind on their
    own thread.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._bound = {}  # app name -> {key: [socket, ...]}
        self._handed = weakref.WeakSet()  # sockets given to a server (dups of pooled ones)

    def get(self, app, key, bind):
        """The sockets for ``key`` of ``app``: a dup of the pooled ones, else ``bind()``'s (kept)."""
        with self._lock:
            kept = self._bound.get(app, {}).get(key)
            if kept is not None and all(s.fileno() != -1 for s in kept):
                socks = [s.dup() for s in kept]
                self._handed.update(socks)
                return socks
        fresh = list(bind())
        with self._lock:
            old = self._bound.setdefault(app, {}).pop(key, None)
            self._bound[app][key] = fresh
            socks = [s.dup() for s in fresh]
            self._handed.update(socks)
        for s in old or ():
            _close(s)
        return socks

    def pooled(self, sock):
        """Whether ``sock`` is a server's share of a pooled listening socket."""
        return sock in self._handed

    def keys(self, app):
        with self._lock:
            return set(self._bound.get(app, {}))

    def release(self, app, keep=()):
        """Close ``app``'s pooled sockets except those under ``keep`` (the port is free once
        its servers' own fds are closed too).  Returns the keys closed."""
        with self._lock:
            bound = self._bound.get(app, {})
            gone = [k for k in bound if k not in keep]
            socks = [s for k in gone for s in bound.pop(k)]
            if not bound:
                self._bound.pop(app, None)
        for s in socks:
            _close(s)
        return gone


def _close(sock):
    try:
        sock.close()
    except Exception:
        pass


pool = SocketPool()


def stop_accepting(server):
    """Stop ``server`` accepting on its shares of pooled sockets (the new run accepts from
    the same queues): unregister and close its own fds, leave the backlog to the new run.
    Call on the server's loop thread."""
    handlers = getattr(server, "_handlers", None)
    sockets = getattr(server, "_sockets", None)
    if not isinstance(handlers, dict) or not isinstance(sockets, dict):
        return
    for fd, sock in list(sockets.items()):
        if not pool.pooled(sock):
            continue
        remove = handlers.pop(fd, None)
        if remove is not None:
            try:
                remove()
            except Exception:
                pass
        sockets.pop(fd, None)
        _close(sock)
