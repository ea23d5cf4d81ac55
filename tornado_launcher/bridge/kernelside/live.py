"""Browser live reload: pages of an app with ``live_reload`` on reload themselves.

When an app has ``live_reload`` on, each ``tornado.web.Application`` its
servers serve gets, on its own port:

* an :class:`OutputTransform <tornado.web.OutputTransform>` (first in
  ``Application.transforms``, so before gzip) that puts one
  ``<script src="/__tornado_launcher__/live.js" ...>`` before ``</body>`` of
  HTML *documents* (``text/html`` whose body opens with ``<!doctype html``,
  ``<html``, ``<head`` or ``<body``), with the response's CSP nonce when its
  ``Content-Security-Policy`` gives one for scripts.  ``Content-Length`` is
  corrected (or dropped for a streamed body, which then goes chunked), the
  ``ETag`` gets ``-tl<generation>`` (and the client's ``If-None-Match``
  loses it again, so a page that did not change is still a 304 within one
  generation; a browser's navigation revalidating a copy without that suffix
  is answered in full).  Every other response passes byte for byte;
* two routes ahead of the app's own: :data:`SCRIPT_PATH` (the script) and
  :data:`STREAM_PATH`, a server-sent-event stream.

Each start of an app (a *run*) has a generation, ``<kernel token>.<n>``; the page carries
the generation that served it. The stream tells the page: ``hello``; ``reload`` once a newer
run of that app serves (also at once on connecting, so a page that missed the moment, or a
kernel restarted, reloads on its reconnect) or its templates or static files were refreshed
(:func:`refreshed`); ``failed`` with ``file:line: message`` when a save did not compile (the
launcher says so, :func:`report`) or the new code did not start (:func:`failed`): the page
shows an overlay and keeps its content; ``ok`` when that is over without a reload; ``off``
when live reload is switched off.

Who may use it (:class:`Client`, :meth:`Hub.admits`): the script, the stream and the
transform answer only the developer's own browser: a client on a loopback address
whose ``Host`` names this machine (``localhost``, ``127.0.0.1``, ``[::1]``) with the
app's port, or a client whose address the app's ``live_reload_hosts`` names (its
``Host`` then an IP address or a loopback name: a name could be a rebinding site's);
an ``Origin``, when sent, must be the page's own.  Any other client gets the pages
exactly as without live reload and a 403 from the two routes.  The peer address is
the socket's, never ``X-Forwarded-For`` (``xheaders``).

Streams are finished when the page must reload or when their run stops for
good, so they never hold up a drain.  The hubs (one per app name) outlive app
objects and runs; all their methods may be called from any thread: a stream
is written on the loop that serves it.

The wiring: ``Run.track_server`` hands each server to ``on_server``; a newer run serving is
``tornado_app._running`` → ``serving``; a start that failed or kept the old code (``_failed`` /
``_kept_old``) → ``failed`` with ``error_place(exc)``; a save that did not compile is known only
to the launcher: ``Session.mark_stale(app, problem)`` → the controller's ``report_problem`` →
``bridge.report_problem_code`` → ``api.report_problem_from_json``, and ``clear_stale`` says
``ok``; ``refresh_assets_from_json`` → ``refreshed``; ``_stop`` → ``stopping``. A peer in
``live_reload_hosts`` (spec data, read as ``app.spec`` at each request) may also name the remote
kernel's host (``live_reload_names``, which the controller adds from the kernel's
``remote_host``). The first refusal per address (at most ``MAX_NAMED_REFUSALS``) is one line in
the app's log (issue 21).
"""

import asyncio
import functools
import html
import ipaddress
import json
import os
import re
import socket
import threading
import urllib.parse
import weakref

import tornado.iostream
import tornado.web
from tornado.routing import PathMatches, Rule

from . import state

PREFIX = "/__tornado_launcher__/"
SCRIPT_PATH = PREFIX + "live.js"
STREAM_PATH = PREFIX + "live"
#: milliseconds the browser waits before reconnecting a stream that ended
RETRY_MS = 300
#: this kernel process's part of every generation (a restarted kernel's pages reload)
TOKEN = os.urandom(4).hex()
#: the overlay's element id in the page
OVERLAY_ID = "__tornado_launcher_overlay__"
MAX_PROBLEM = 4000
#: refused client addresses an app's log names once each (then it names no more)
MAX_NAMED_REFUSALS = 16

SCRIPT = r"""/* tornado-launcher live reload: reloads this page when its app serves new code. */
(function () {
  "use strict";
  var me = document.currentScript;
  if (!me || window.__tornadoLauncherLive) { return; }
  var live = window.__tornadoLauncherLive = {
    app: me.getAttribute("data-app"),
    generation: me.getAttribute("data-generation"),
    state: "connecting", problem: null, connects: 0, reloading: false
  };
  var endpoint = me.getAttribute("data-endpoint");
  var OVERLAY = "%(overlay)s";
  var source = null, timer = null, delay = %(retry)d;

  function overlay(message) {
    live.problem = message;
    var box = document.getElementById(OVERLAY);
    if (!box) {
      box = document.createElement("div");
      box.id = OVERLAY;
      box.setAttribute("role", "alert");
      var s = box.style;
      s.position = "fixed"; s.left = "0"; s.top = "0"; s.right = "0"; s.bottom = "0";
      s.zIndex = "2147483647"; s.overflow = "auto"; s.boxSizing = "border-box"; s.padding = "32px";
      s.background = "rgba(24, 24, 28, 0.94)"; s.color = "#f0f0f0";
      s.font = "14px/1.5 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
      var title = document.createElement("div");
      title.style.color = "#ff7b72"; title.style.fontWeight = "bold"; title.style.marginBottom = "12px";
      title.textContent = "tornado-launcher: " + live.app + " did not reload";
      var pre = document.createElement("pre");
      pre.setAttribute("data-problem", "");
      pre.style.whiteSpace = "pre-wrap"; pre.style.margin = "0"; pre.style.font = "inherit";
      var hint = document.createElement("div");
      hint.style.marginTop = "16px"; hint.style.opacity = "0.7";
      hint.textContent = "This page is from the code that served it before. " +
        "Fix the file and save: it reloads when the app serves again.";
      box.appendChild(title); box.appendChild(pre); box.appendChild(hint);
      (document.body || document.documentElement).appendChild(box);
    }
    box.querySelector("pre[data-problem]").textContent = message;
  }

  function clear() {
    live.problem = null;
    var box = document.getElementById(OVERLAY);
    if (box && box.parentNode) { box.parentNode.removeChild(box); }
  }

  function reload() {
    if (live.reloading) { return; }
    live.reloading = true; live.state = "reloading";
    if (source) { source.close(); }
    window.location.reload();
  }

  function connect() {
    timer = null;
    live.connects += 1;
    source = new EventSource(endpoint + "?generation=" + encodeURIComponent(live.generation));
    source.addEventListener("hello", function () { live.state = "open"; delay = %(retry)d; });
    source.addEventListener("reload", reload);
    source.addEventListener("failed", function (e) { overlay(JSON.parse(e.data).message); });
    source.addEventListener("ok", clear);
    source.addEventListener("off", function () { live.state = "off"; source.close(); clear(); });
    source.onerror = function () {
      if (live.state === "off" || live.reloading) { return; }
      live.state = "reconnecting";
      // the browser reconnects a stream that ended; one it gave up on is ours to retry
      if (source.readyState === EventSource.CLOSED && timer === null) {
        timer = window.setTimeout(connect, delay);
        delay = Math.min(delay * 2, 1000);
      }
    };
  }

  connect();
})();
""" % {"overlay": OVERLAY_ID, "retry": RETRY_MS}


# ------------------------------------------------------------------ hubs
class Stream:
    """One browser's event stream: its handler, the loop that serves it, the run it reached."""

    def __init__(self, handler, loop, run, generation):
        self.handler = handler
        self.loop = loop
        self.run = run
        self.generation = generation


class Hub:
    """The live-reload state of one app name: generations, the serving one, the problem, the streams."""

    def __init__(self, name):
        self.name = name
        self._lock = threading.Lock()
        self._count = 0
        self._numbers = weakref.WeakKeyDictionary()  # run -> its generation number
        self.serving = 0  # the number of the run serving now (0: none yet)
        self.problem = None  # "file:line: message" while a save did not reload
        self._streams = set()
        self._refused = set()  # what the app's log has told about refused clients

    @property
    def enabled(self):
        """Whether the app of this name has live reload on now (read at each request)."""
        return bool(getattr(state.apps.get(self.name), "live_reload", False))

    def admits(self, request):
        """Whether ``request`` comes from a client live reload answers (see :class:`Client`).
        The first refusal of each client address for each reason is told once in the app's
        log, with the way to open it (at most :data:`MAX_NAMED_REFUSALS` lines: a flood
        writes no more; nothing a client sent goes into them)."""
        app = state.apps.get(self.name)
        spec = getattr(app, "spec", None) or {}
        client = Client(request)
        why = client.refusal(networks(tuple(spec.get("live_reload_hosts") or ())),
                             [str(n).lower() for n in spec.get("live_reload_names") or ()])
        if why is not None:
            self._tell(app, client, why)
        return why is None

    def _tell(self, app, client, why):
        key = (why, str(client.peer))
        with self._lock:
            if key in self._refused or len(self._refused) >= MAX_NAMED_REFUSALS:
                return
            self._refused.add(key)
        if app is None:
            return
        if why == "address" and client.peer is None:
            text = ("live reload is off for clients on a Unix socket (a proxy, perhaps): it answers only "
                    "this machine's browser, over TCP")
        elif why == "address":
            text = ("live reload is off for %s: it answers only this machine's browser; to open it to "
                    "that address, add live_reload_hosts = [\"%s\"] to the app's options" % (client.peer, client.peer))
        elif why == "host" and not client.peer.is_loopback:
            text = ("live reload refused a request from %s whose Host header is a name (it could be another "
                    "site's, through DNS rebinding): open the app there by its IP address" % client.peer)
        elif why == "host":
            text = ("live reload refused a request from %s whose Host header is not localhost, 127.0.0.1 or "
                    "[::1] with the app's port %s (a page of another site through DNS rebinding, or a proxy): "
                    "open the app as http://localhost:%s/" % (client.peer, client.port, client.port))
        else:
            text = ("live reload refused a request from %s sent by a page of another origin than the app's"
                    % client.peer)
        app._log("WARNING", text)

    def number(self, run):
        with self._lock:
            n = self._numbers.get(run)
            if n is None:
                self._count += 1
                n = self._numbers[run] = self._count
            return n

    def generation(self, run):
        return "%s.%d" % (TOKEN, self.number(run))

    def outdated(self, generation):
        """Whether a page of ``generation`` shows older code than what serves now."""
        token, _, n = (generation or "").partition(".")
        if token != TOKEN or not n.isdigit():
            return self.serving > 0  # another kernel process (or no generation): reload once one serves
        return int(n) < self.serving

    # -- streams (called on the stream's own loop)
    def open(self, stream):
        """Register ``stream``; the events to send it at once, and whether it ends with them."""
        with self._lock:
            if self.outdated(stream.generation):
                return [("reload", {})], True
            self._streams.add(stream)
            problem = self.problem
        return ([("failed", {"message": problem})] if problem else []), False

    def close(self, stream):
        with self._lock:
            self._streams.discard(stream)

    def _send(self, events, finish=lambda stream: False):
        with self._lock:
            streams = list(self._streams)
        for stream in streams:
            end = finish(stream)
            if end:
                self.close(stream)
            try:
                stream.loop.call_soon_threadsafe(stream.handler.deliver, events, end)
            except RuntimeError:  # that loop is closed: the connection went with it
                self.close(stream)

    # -- what happened to the app (kernel loop thread, or the launcher's cell)
    def now_serving(self, run):
        n = self.number(run)
        with self._lock:
            self.serving = max(self.serving, n)
            self.problem = None
        self._send([("reload", {})], lambda s: self.outdated(s.generation))

    def set_problem(self, problem, finish=lambda stream: False):
        with self._lock:
            self.problem = problem
        self._send([("failed", {"message": problem})] if problem else [("ok", {})], finish)

    def end_run(self, run):
        """``run`` stopped for good: end its streams (the browser reconnects to the next one)."""
        self._send([], lambda s: s.run is run)

    def switch_off(self):
        self._send([("off", {})], lambda s: True)

    def reload_all(self):
        self._send([("reload", {})], lambda s: True)


hubs = {}
_hubs_lock = threading.Lock()


def hub_for(name):
    with _hubs_lock:
        hub = hubs.get(name)
        if hub is None:
            hub = hubs[name] = Hub(name)
        return hub


# ----------------------------------------------------------- who may use it
def _ip(text):
    """``text`` as an IP address (an IPv4-mapped IPv6 one as IPv4; a zone id dropped), else None."""
    try:
        ip = ipaddress.ip_address(str(text).split("%", 1)[0])
    except ValueError:
        return None
    return getattr(ip, "ipv4_mapped", None) or ip


@functools.lru_cache(maxsize=64)
def networks(hosts):
    """The app's ``live_reload_hosts`` (addresses or networks, checked by the config) as networks."""
    out = []
    for host in hosts:
        try:
            out.append(ipaddress.ip_network(str(host), strict=False))
        except ValueError:
            pass
    return tuple(out)


def _host_and_port(text, scheme):
    """``("localhost", 8888)`` from a Host header (or an origin's netloc); None if malformed."""
    text = (text or "").strip().lower()
    if not text or any(c in text for c in "/@?# \t"):
        return None
    host, port = text, None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        host, rest = text[1:end], text[end + 1:]
        if rest:
            if not rest.startswith(":") or not rest[1:].isdigit():
                return None
            port = int(rest[1:])
    elif ":" in text:
        host, _, digits = text.rpartition(":")
        if not digits.isdigit() or ":" in host:
            return None
        port = int(digits)
    if port is None:
        port = 443 if scheme == "https" else 80
    return host.rstrip("."), port


def _loopback_name(host):
    ip = _ip(host)
    return host == "localhost" or (ip is not None and ip.is_loopback)


class Client:
    """Who sent one request, from its socket (never from ``X-Forwarded-*``: ``xheaders``
    would let any client claim an address), its ``Host`` and its ``Origin``."""

    def __init__(self, request):
        self.peer = self.port = None
        conn = getattr(request, "connection", None)
        stream = getattr(conn, "stream", None)
        sock = getattr(stream, "socket", None)
        try:
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                self.peer = _ip(sock.getpeername()[0])
                self.port = sock.getsockname()[1]
        except OSError:
            pass
        self.scheme = "https" if isinstance(stream, tornado.iostream.SSLIOStream) else "http"
        headers = request.headers
        self.host = headers.get("Host")
        self.origin = headers.get("Origin")

    def refusal(self, allowed=(), names=()):
        """None when live reload may answer; else why not: "address", "host" or "origin".
        ``allowed``: networks of clients beyond loopback; ``names``: host names such a client
        may send as ``Host`` (a remote kernel's host, which the launcher shows in its URLs)."""
        if self.peer is None:
            return "address"  # a Unix socket (behind a proxy, perhaps): no address to trust
        loopback = self.peer.is_loopback
        if not loopback and not any(self.peer in net for net in allowed
                                    if net.version == self.peer.version):
            return "address"
        host = _host_and_port(self.host, self.scheme)
        if host is None:
            return "host"
        if loopback:
            if not _loopback_name(host[0]) or host[1] != self.port:
                return "host"
        elif not (_loopback_name(host[0]) or _ip(host[0]) is not None or host[0] in names):
            return "host"  # another name: it could be a rebinding site's (port forwarding may change the port)
        if self.origin is not None:
            parts = urllib.parse.urlsplit(self.origin.strip())
            if parts.scheme != self.scheme or parts.path not in ("", "/") \
                    or _host_and_port(parts.netloc, parts.scheme) != host:
                return "origin"
        return None


# ------------------------------------------------------------ the routes
def _event(kind, data):
    return "event: %s\ndata: %s\n\n" % (kind, json.dumps(data))


class _QuietHandler(tornado.web.RequestHandler):
    def _log(self):
        pass  # the launcher's own plumbing stays out of the app's access log

    def prepare(self):
        hub = self._hub()
        if hub is None or not hub.admits(self.request):
            self.set_status(403)
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("live reload answers only the developer's own browser on this machine "
                        "(or the addresses in the app's live_reload_hosts)\n")

    def _hub(self):
        att = getattr(self.application, "_tl_live", None)
        return att.hub if att is not None else None


class ScriptHandler(_QuietHandler):
    def get(self):
        self.set_header("Content-Type", "application/javascript; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.write(SCRIPT)


class StreamHandler(_QuietHandler):
    """``GET /__tornado_launcher__/live?generation=G``: the page's event stream."""

    def initialize(self, attachment):
        self.attachment = attachment
        self._closed = None
        self._stream = None

    def compute_etag(self):
        return None

    async def get(self):
        hub = self.attachment.hub
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Accel-Buffering", "no")
        if not hub.enabled:
            self.write(_event("off", {}))
            return
        self._closed = asyncio.Event()
        self._stream = Stream(self, asyncio.get_running_loop(), self.attachment.run,
                              self.get_query_argument("generation", ""))
        self.write("retry: %d\n\n" % RETRY_MS)
        self.write(_event("hello", {"app": hub.name, "generation": self.attachment.generation}))
        events, end = hub.open(self._stream)
        for kind, data in events:
            self.write(_event(kind, data))
        if end:
            return
        try:
            await self.flush()
            await self._closed.wait()
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            hub.close(self._stream)

    def deliver(self, events, finish):
        """On this stream's loop: write ``events``; end the response if ``finish``."""
        if self._closed is None or self._closed.is_set():
            return
        try:
            for kind, data in events:
                self.write(_event(kind, data))
            if events:
                self.flush().add_done_callback(_ignore)
        except Exception:
            finish = True
        if finish:
            self._closed.set()

    def on_connection_close(self):
        if self._closed is not None:
            self._closed.set()


def _ignore(fut):
    if not fut.cancelled():
        fut.exception()


# ---------------------------------------------------------- the transform
_NONCE = re.compile(r"'nonce-([A-Za-z0-9+/_=-]+)'")
_DOCUMENT = (b"<!doctype html", b"<html", b"<head", b"<body")
_BODY_END = b"</body"
#: what a browser's navigation to a page says it fetches (``Sec-Fetch-Dest``)
_PAGE_DESTINATIONS = ("document", "iframe", "frame")


def script_nonce(headers):
    """The nonce the response's Content-Security-Policy allows scripts with, else None."""
    for policy in headers.get_list("Content-Security-Policy"):
        directives = {}
        for part in policy.split(";"):
            words = part.split()
            if words:
                directives.setdefault(words[0].lower(), " ".join(words[1:]))
        for name in ("script-src-elem", "script-src", "default-src"):
            if name in directives:
                m = _NONCE.search(directives[name])
                if m:
                    return m.group(1)
                break
    return None


def script_tag(attachment, nonce=None):
    attrs = [("src", SCRIPT_PATH), ("data-tornado-launcher", "live"), ("data-app", attachment.hub.name),
             ("data-generation", attachment.generation), ("data-endpoint", STREAM_PATH)]
    if nonce:
        attrs.append(("nonce", nonce))
    text = "<script %s></script>" % " ".join('%s="%s"' % (k, html.escape(v, quote=True)) for k, v in attrs)
    return text.encode("ascii", "xmlcharrefreplace")


def is_document(headers, chunk):
    """A ``text/html`` response (not compressed, an ASCII-compatible charset) that opens an HTML document."""
    ctype = str(headers.get("Content-Type", "")).lower()
    main, _, params = ctype.partition(";")
    if main.strip() != "text/html" or headers.get("Content-Encoding", "identity").lower() != "identity":
        return False
    if "utf-16" in params or "utf-32" in params:
        return False
    head = chunk[:2048].lower()
    return any(marker in head for marker in _DOCUMENT)


class LiveTransform(tornado.web.OutputTransform):
    """Puts the live-reload script into HTML documents; leaves every other response alone.

    A subclass per Application carries its :class:`Attachment` (the
    transform is made per request from the class alone).
    """

    attachment = None

    def __init__(self, request):
        att = self.attachment
        self._active = False
        self._tail = b""
        self._tag = b""
        self._etag_matched = False
        # a client live reload does not answer gets the page as the app wrote it
        self._skip = att is None or request.method == "HEAD" or not att.hub.enabled \
            or not att.hub.admits(request)
        if self._skip:
            return
        self._suffix = "-tl" + att.generation
        headers = request.headers
        inm = headers.get("If-None-Match")
        if inm and self._suffix + '"' in inm:
            # the page's ETag as the app made it: the app's own check decides about the 304
            headers["If-None-Match"] = inm.replace(self._suffix + '"', '"')
            self._etag_matched = True
        elif headers.get("Sec-Fetch-Dest") in _PAGE_DESTINATIONS:
            # the browser revalidates a page it keeps without this generation's script (one
            # from before live reload was on): answer it in full, not with a 304
            for name in ("If-None-Match", "If-Modified-Since"):
                if name in headers:
                    del headers[name]

    def _mark_etag(self, headers):
        etag = headers.get("Etag")
        if etag:
            etag = str(etag)
            headers["Etag"] = etag[:-1] + self._suffix + '"' if etag.endswith('"') else etag + self._suffix

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if self._skip:
            return status_code, headers, chunk
        if status_code == 304:
            if self._etag_matched:
                self._mark_etag(headers)
            return status_code, headers, chunk
        if status_code < 200 or status_code in (204, 205) or 300 <= status_code < 400 \
                or not is_document(headers, chunk):
            return status_code, headers, chunk
        self._tag = script_tag(self.attachment, script_nonce(headers))
        self._mark_etag(headers)
        self._active = True
        if "Content-Length" in headers and not finishing:
            del headers["Content-Length"]  # a streamed body grows: chunked instead
        chunk = self._insert(chunk, finishing)
        if "Content-Length" in headers:
            headers["Content-Length"] = str(len(chunk))
        return status_code, headers, chunk

    def transform_chunk(self, chunk, finishing):
        if not self._active:
            return chunk
        return self._insert(chunk, finishing)

    def _insert(self, chunk, finishing):
        data = self._tail + chunk
        self._tail = b""
        at = data.lower().rfind(_BODY_END)
        if at >= 0:
            self._active = False
            return data[:at] + self._tag + data[at:]
        if finishing:
            self._active = False
            return data + self._tag
        keep = len(_BODY_END) - 1  # "</body" may be split over two chunks
        self._tail = data[-keep:]
        return data[:-keep]


# ----------------------------------------------------- attaching to an app
class Attachment:
    """What one Application's transform and routes need: the hub, the run, its generation."""

    def __init__(self, hub, run):
        self.hub = hub
        self.run = run
        self.generation = hub.generation(run)


def attach(run, server):
    """Give the Application ``server`` serves the live-reload transform and routes (once)."""
    application = getattr(server, "request_callback", None)
    if not isinstance(application, tornado.web.Application):
        app = run.app
        if not getattr(app, "_live_warned", False):
            app._live_warned = True
            app._log("WARNING", "live_reload: a server of this app does not serve a tornado.web.Application "
                     "(%s): its pages are not reloaded" % type(application).__name__)
        return
    hub = hub_for(run.app.name)
    att = getattr(application, "_tl_live", None)
    if att is not None:
        if att.run is not run:  # the same Application object served by a new run
            att.run = run
            att.generation = hub.generation(run)
        return
    att = Attachment(hub, run)
    transform = type("LiveReloadTransform", (LiveTransform,), {"attachment": att})
    application.transforms = [transform] + [t for t in application.transforms
                                            if not issubclass(t, LiveTransform)]
    router = application.default_router
    for path, handler, kwargs in ((STREAM_PATH, StreamHandler, {"attachment": att}),
                                  (SCRIPT_PATH, ScriptHandler, None)):
        router.rules.insert(0, router.process_rule(Rule(PathMatches(re.escape(path) + "$"), handler, kwargs)))
    application._tl_live = att


# ------------------------------------------------------ hooks of the app
def on_server(run, server):
    """A run opened ``server`` (``Run.track_server``)."""
    if getattr(run.app, "live_reload", False):
        attach(run, server)


def serving(app, run):
    """``run`` of ``app`` serves (its "running" record): outdated pages reload."""
    hub = hubs.get(app.name)
    if hub is not None and app.live_reload:
        hub.now_serving(run)


def failed(app, run, problem):
    """The new code did not start (``problem``: ``file:line: message``): pages show it; the
    streams of ``run`` (the failed one, or None) and of stopped runs end."""
    if app.live_reload:
        hub_for(app.name).set_problem(
            str(problem)[:MAX_PROBLEM], lambda s: s.run is run or bool(getattr(s.run, "stop_requested", True)))


def stopping(app, run):
    """``run`` stops for good (not within a restart: nothing follows that its pages wait for)."""
    hub = hubs.get(app.name)
    if hub is not None:
        hub.end_run(run)


def refreshed(app):
    """Templates or static files of ``app`` changed and are served without a restart: its pages reload."""
    hub = hubs.get(app.name)
    if hub is not None and getattr(app, "live_reload", False):
        hub.reload_all()


def switched(app, flag):
    """Live reload of ``app`` switched on or off while it may be running."""
    run = app._run
    if flag:
        if run is not None:
            for server in run.servers.servers():
                attach(run, server)
            if app.state == "running":
                hub_for(app.name).now_serving(run)
    else:
        hub = hubs.get(app.name)
        if hub is not None:
            hub.switch_off()


def report(name, problem):
    """The launcher's word: a save of app ``name`` did not compile (``problem``), or that is over (None)."""
    app = state.apps.get(name)
    if app is None or not getattr(app, "live_reload", False):
        return
    hub_for(name).set_problem(None if problem is None else str(problem)[:MAX_PROBLEM])
