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
        """The URLs the open listening sockets serve (wildcard addresses as loopback)."""
        urls = []
        for server, socks in self._entries:
            scheme = "https" if getattr(server, "ssl_options", None) else "http"
            for sock in socks:
                if sock.fileno() == -1:
                    continue
                try:
                    addr = sock.getsockname()
                except OSError:
                    continue
                if sock.family == socket.AF_INET:
                    host = addr[0]
                    if host in ("0.0.0.0", ""):
                        host = "127.0.0.1"
                elif sock.family == socket.AF_INET6:
                    host = addr[0]
                    if host in ("::", ""):
                        host = "127.0.0.1" if any(
                            s.family == socket.AF_INET and s.fileno() != -1 and s.getsockname()[1] == addr[1]
                            for _, ss in self._entries for s in ss) else "[::1]"
                    else:
                        host = "[%s]" % host
                else:
                    continue
                url = "%s://%s:%d/" % (scheme, host, addr[1])
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
