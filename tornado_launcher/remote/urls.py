"""The URLs of apps in a kernel on another machine, as a browser here reaches them.

The bridge reports the URLs an app serves as its kernel's machine sees them (a loopback name).
For a kernel on another host (its ``remote_host``: an attached kernel's connection file's tcp
``ip`` unless loopback or a wildcard, a gateway URL's host) :func:`remote_urls` puts that host in
the URLs of the ports the app binds beyond loopback (the state record's ``public_ports``, from
the kernel side's ``Servers.public_ports``); a loopback ``remote_host`` (a tunnel, forwarded
container ports) leaves the URLs as the bridge says them; :func:`shown_urls` also says once per app and
port, in the log, that one listening only on that machine's loopback needs a tunnel. A kernel
block with ``tunnel = true`` is reached through the kernel's connection instead (tunnel.py):
its URLs name the local listening ports.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional
from urllib.parse import urlsplit, urlunsplit

from ..engine.events import Event, LogRecord


def is_loopback(host: Optional[str]) -> bool:
    return not host or host == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")


def remote_urls(urls: tuple, public_ports: tuple, host: Optional[str]) -> tuple:
    """``urls`` of an app in a kernel on ``host``: those on a port bound beyond loopback with
    ``host`` instead of the bridge's loopback name; the others (only on that machine's
    loopback) as they are. Unchanged when ``host`` is itself loopback (a tunnel, a
    forwarded container port: the user forwards the app's port the same way)."""
    if is_loopback(host):
        return tuple(urls)
    name = f"[{host}]" if ":" in host else host
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.port in public_ports and is_loopback(parts.hostname):
            url = urlunsplit((parts.scheme, f"{name}:{parts.port}", parts.path, "", ""))
        out.append(url)
    return tuple(out)


def shown_urls(kernel: str, rec: Dict[str, Any], host: Optional[str], hinted: set,
               on_event: Callable[[Event], None]) -> tuple:
    """A state record's URLs for kernel ``kernel`` on ``host`` (None: this machine): with that
    host where the app listens beyond loopback (:func:`remote_urls`); once per app and port
    (``hinted``) a log line says when one listens only on that machine's loopback."""
    urls = rec["urls"]
    if is_loopback(host) or not urls:
        return urls
    public = rec.get("public_ports") or ()
    if rec["state"] == "running":
        for url in urls:
            port = urlsplit(url).port
            if port not in public and (rec["app"], port) not in hinted:
                hinted.add((rec["app"], port))
                on_event(LogRecord(
                    kernel, rec["app"], "WARNING",
                    f"{url} listens only on the loopback of {host}, the kernel's machine: reach it "
                    f"through a tunnel (`ssh -L {port}:127.0.0.1:{port} {host}`, then "
                    f"http://127.0.0.1:{port}/ here), or make the app listen on 0.0.0.0",
                    logger="tornado_launcher", origin="launcher"))
    return remote_urls(urls, public, host)
