"""The servers and listening sockets one run of an app opened, and what they serve.

Filled by the ``TCPServer.add_sockets`` patch while the app's code runs.
This is the place a socket handed over across restarts will be kept.
"""

import socket


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
