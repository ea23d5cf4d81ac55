"""The live-reload pieces on their own: the transform, the CSP nonce, the generations.
(Over real HTTP in a kernel: tests/integration/test_live_reload.py; in a browser: tests/e2e.)"""

import ipaddress
import socket
from types import SimpleNamespace

import pytest
from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from tornado_launcher.bridge.kernelside import live, state


class App(SimpleNamespace):
    def _log(self, level, message):
        self.logged.append((level, message))


@pytest.fixture
def attachment(monkeypatch):
    monkeypatch.setitem(state.apps, "web", App(live_reload=True, spec={}, logged=[]))
    monkeypatch.setitem(live.hubs, "web", live.Hub("web"))
    return live.Attachment(live.hubs["web"], object.__new__(type("Run", (), {})))


@pytest.fixture(scope="module")
def loopback():
    """A real TCP connection on 127.0.0.1: the server's end, as a request's stream holds it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        yield conn
        conn.close()
        client.close()


class Peer:
    """A socket's two addresses (a client on another machine cannot connect in a unit test;
    tests/integration/test_live_access.py does that from a network namespace)."""

    def __init__(self, peer, port=8888):
        self.family = socket.AF_INET6 if ":" in peer else socket.AF_INET
        self._peer, self._port = peer, port

    def getpeername(self):
        return (self._peer, 40000)

    def getsockname(self):
        return ("0.0.0.0", self._port)


def request(method="GET", sock=None, **headers):
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    if sock is None:
        sock = _LOOPBACK[0]
        headers.setdefault("Host", "127.0.0.1:%d" % sock.getsockname()[1])
    version = "HTTP/1.1" if "Host" in headers else "HTTP/1.0"  # 1.1 requires a Host
    req = HTTPServerRequest(start_line=RequestStartLine(method, "/", version), headers=HTTPHeaders(headers))
    req.connection = SimpleNamespace(stream=SimpleNamespace(socket=sock))
    return req


_LOOPBACK = []


@pytest.fixture(autouse=True)
def _loopback_for_requests(loopback):
    _LOOPBACK[:] = [loopback]


def transform(att, method="GET", req=None):
    cls = type("T", (live.LiveTransform,), {"attachment": att})
    return cls(req or request(method))


def html_headers(length=None, **more):
    h = HTTPHeaders({"Content-Type": "text/html; charset=UTF-8"})
    if length is not None:
        h["Content-Length"] = str(length)
    for k, v in more.items():
        h[k.replace("_", "-")] = v
    return h


PAGE = b"<!DOCTYPE html><html><body><p>hi</p></BODY></html>"


def test_one_chunk_document_gets_the_tag_before_body_and_its_length(attachment):
    t = transform(attachment)
    status, headers, chunk = t.transform_first_chunk(200, html_headers(len(PAGE), Etag='"abc"'), PAGE, True)
    tag = live.script_tag(attachment)
    assert chunk == PAGE.replace(b"</BODY>", tag + b"</BODY>")
    assert headers["Content-Length"] == str(len(chunk))
    assert headers["Etag"] == f'"abc-tl{attachment.generation}"'
    assert tag.startswith(b'<script src="/__tornado_launcher__/live.js" data-tornado-launcher="live" data-app="web"')


def test_streamed_document_split_inside_the_closing_tag(attachment):
    t = transform(attachment)
    status, headers, first = t.transform_first_chunk(200, html_headers(999), b"<html><body>one</bo", False)
    assert "Content-Length" not in headers  # it grows: chunked
    rest = t.transform_chunk(b"dy></html>", False) + t.transform_chunk(b"", True)
    assert first + rest == b"<html><body>one" + live.script_tag(attachment) + b"</body></html>"


def test_document_without_body_end_gets_the_tag_at_its_end(attachment):
    t = transform(attachment)
    _, _, first = t.transform_first_chunk(200, html_headers(), b"<html><p>a", False)
    assert first + t.transform_chunk(b"b", True) == b"<html><p>ab" + live.script_tag(attachment)


@pytest.mark.parametrize("status,headers,chunk", [
    (200, HTTPHeaders({"Content-Type": "application/json"}), b'{"a": "<html><body></body></html>"}'),
    (200, HTTPHeaders({"Content-Type": "text/html"}), b"<p>a fragment</p>"),
    (200, HTTPHeaders({"Content-Type": "text/html", "Content-Encoding": "gzip"}), b"\x1f\x8b<html>"),
    (200, HTTPHeaders({"Content-Type": "text/html; charset=utf-16"}), "<html><body></body>".encode("utf-16")),
    (302, HTTPHeaders({"Content-Type": "text/html", "Location": "/x"}), b"<html><body></body></html>"),
    (204, HTTPHeaders({"Content-Type": "text/html"}), b""),
])
def test_everything_else_passes_untouched(attachment, status, headers, chunk):
    before = (status, dict(headers.get_all()), chunk)
    t = transform(attachment)
    out_status, out_headers, out = t.transform_first_chunk(status, headers, chunk, False)
    assert (out_status, dict(out_headers.get_all()), out + t.transform_chunk(b"tail", True)) == \
        (before[0], before[1], chunk + b"tail")


def test_if_none_match_of_this_generation_lets_the_app_answer_304(attachment):
    suffixed = f'"abc-tl{attachment.generation}"'
    req = request(If_None_Match=suffixed)
    t = transform(attachment, req=req)
    assert req.headers["If-None-Match"] == '"abc"'  # what the app issued: its own check matches
    _, headers, _ = t.transform_first_chunk(304, HTTPHeaders({"Etag": '"abc"'}), b"", True)
    assert headers["Etag"] == suffixed
    other = request(If_None_Match='"abc-tlold.1"')
    transform(attachment, req=other)
    assert other.headers["If-None-Match"] == '"abc-tlold.1"'  # another generation: no 304


def test_a_page_cached_without_the_script_is_answered_in_full_to_a_browser(attachment):
    # a navigation (Sec-Fetch-Dest: document) revalidating a copy from before live reload was on
    nav = request(If_None_Match='"abc"', If_Modified_Since="Tue, 01 Dec 2026 10:00:00 GMT",
                  Sec_Fetch_Dest="document")
    transform(attachment, req=nav)
    assert "If-None-Match" not in nav.headers and "If-Modified-Since" not in nav.headers
    # anything else (a script, a fetch of JSON, a client that is no browser) keeps its 304
    for req in (request(If_None_Match='"abc"', Sec_Fetch_Dest="script"), request(If_None_Match='"abc"')):
        transform(attachment, req=req)
        assert req.headers["If-None-Match"] == '"abc"'


def test_head_and_switched_off_pass_untouched(attachment):
    for t in (transform(attachment, method="HEAD"),):
        assert t.transform_first_chunk(200, html_headers(len(PAGE)), PAGE, True)[2] == PAGE
    state.apps["web"].live_reload = False
    assert transform(attachment).transform_first_chunk(200, html_headers(len(PAGE)), PAGE, True)[2] == PAGE


@pytest.mark.parametrize("policies,nonce", [
    (["default-src 'self'; script-src 'self' 'nonce-AbC+/9=='"], "AbC+/9=="),
    (["default-src 'nonce-d1'"], "d1"),
    (["script-src-elem 'self'; script-src 'nonce-x'"], None),  # script-src-elem rules <script> and has none
    (["img-src *", "script-src 'strict-dynamic' 'nonce-two'"], "two"),
    (["script-src 'nonce-<bad>'"], None),
    ([], None),
])
def test_script_nonce(policies, nonce):
    headers = HTTPHeaders()
    for p in policies:
        headers.add("Content-Security-Policy", p)
    assert live.script_nonce(headers) == nonce


def test_nonce_goes_on_the_tag_escaped(attachment):
    assert b' nonce="r4nd0m"' in live.script_tag(attachment, "r4nd0m")


def test_generations_tell_outdated_pages():
    hub = live.Hub("web")
    first, second = object.__new__(type("Run", (), {})), object.__new__(type("Run", (), {}))
    g1, g2 = hub.generation(first), hub.generation(second)
    assert g1 != g2 and hub.generation(first) == g1
    assert not hub.outdated(g1)  # nothing serves yet
    hub.serving = hub.number(second)
    assert hub.outdated(g1) and not hub.outdated(g2)
    assert hub.outdated("deadbeef.9")  # another kernel process's page
    assert hub.outdated("")


def _refusal(peer, host, origin=None, hosts=(), port=8888, names=()):
    headers = {"Host": host} if host is not None else {}
    if origin is not None:
        headers["Origin"] = origin
    return live.Client(request(sock=Peer(peer, port), **headers)).refusal(live.networks(tuple(hosts)), names)


@pytest.mark.parametrize("peer,host,origin,hosts,why", [
    ("127.0.0.1", "localhost:8888", None, (), None),
    ("127.0.0.1", "127.0.0.1:8888", "http://127.0.0.1:8888", (), None),
    ("::1", "[::1]:8888", "http://[::1]:8888", (), None),
    ("::ffff:127.0.0.1", "LOCALHOST:8888", None, (), None),  # a dual-stack socket's IPv4 client
    ("127.0.0.1", "localhost:9999", None, (), "host"),  # another port: not this app's page
    ("127.0.0.1", "evil.example:8888", None, (), "host"),  # DNS rebinding
    ("127.0.0.1", "localhost.evil.example:8888", None, (), "host"),
    ("127.0.0.1", None, None, (), "host"),
    ("127.0.0.1", "localhost:8888", "http://evil.example", (), "origin"),
    ("127.0.0.1", "localhost:8888", "null", (), "origin"),
    ("127.0.0.1", "localhost:8888", "https://localhost:8888", (), "origin"),  # another scheme
    ("127.0.0.1", "localhost:8888", "http://localhost:8889", (), "origin"),
    ("10.200.0.2", "10.200.0.1:8888", None, (), "address"),
    ("10.200.0.2", "10.200.0.1:8888", None, ("10.200.0.2",), None),
    ("10.200.0.2", "10.200.0.1:8888", None, ("10.200.0.0/30",), None),
    ("10.200.0.2", "localhost:18888", None, ("10.200.0.2",), None),  # through a port forward
    ("10.200.0.2", "devbox.example:8888", None, ("10.200.0.2",), "host"),  # a name: maybe a rebinding site's
    ("10.200.0.2", "10.200.0.1:8888", "http://evil.example", ("10.200.0.2",), "origin"),
    ("10.200.0.6", "10.200.0.1:8888", None, ("10.200.0.2",), "address"),
    ("fe80::1%eth0", "[fe80::2]:8888", None, ("fe80::/64",), None),
])
def test_who_live_reload_answers(peer, host, origin, hosts, why):
    assert _refusal(peer, host, origin, hosts) == why


def test_a_remote_kernels_host_name_is_a_named_clients_host_too():
    # a gateway / attached kernel on kg.example: the launcher shows http://kg.example:8888/
    assert _refusal("10.200.0.2", "kg.example:8888", hosts=("10.200.0.2",), names=("kg.example",)) is None
    assert _refusal("10.200.0.2", "kg.example:8888", hosts=("10.200.0.2",)) == "host"
    assert _refusal("10.200.0.3", "kg.example:8888", hosts=("10.200.0.2",), names=("kg.example",)) == "address"
    assert _refusal("127.0.0.1", "kg.example:8888", names=("kg.example",)) == "host"  # loopback: loopback names


def test_a_unix_socket_client_is_refused(attachment):
    class Unix:
        family = socket.AF_UNIX

    assert live.Client(request(sock=Unix(), Host="localhost")).refusal() == "address"
    assert not attachment.hub.admits(request(sock=Unix(), Host="localhost"))
    assert state.apps["web"].logged == [("WARNING", "live reload is off for clients on a Unix socket (a proxy, "
                                                    "perhaps): it answers only this machine's browser, over TCP")]
    assert live.Client(request()).peer == ipaddress.ip_address("127.0.0.1")


def test_a_refused_client_gets_the_page_untouched_and_the_log_says_so_once(attachment):
    app = state.apps["web"]
    for _ in range(3):
        req = request(sock=Peer("10.200.0.2"), Host="10.200.0.1:8888")
        _, headers, chunk = transform(attachment, req=req).transform_first_chunk(
            200, html_headers(len(PAGE), Etag='"abc"'), PAGE, True)
        assert chunk == PAGE and headers["Etag"] == '"abc"' and headers["Content-Length"] == str(len(PAGE))
    assert len(app.logged) == 1 and 'live_reload_hosts = ["10.200.0.2"]' in app.logged[0][1]
    # one line per refused address, at most MAX_NAMED_REFUSALS in all: a flood writes no more
    for i in range(3, 3 + 2 * live.MAX_NAMED_REFUSALS):
        transform(attachment, req=request(sock=Peer("10.200.1.%d" % i), Host="10.200.0.1:8888"))
    assert len(app.logged) == live.MAX_NAMED_REFUSALS
    app.spec = {"live_reload_hosts": ["10.200.0.2"]}
    req = request(sock=Peer("10.200.0.2"), Host="10.200.0.1:8888")
    assert transform(attachment, req=req).transform_first_chunk(200, html_headers(len(PAGE)), PAGE, True)[2] != PAGE


def test_the_log_says_how_to_open_the_page_for_a_refused_host(attachment):
    app = state.apps["web"]
    app.spec = {"live_reload_hosts": ["10.200.0.2"]}
    assert not attachment.hub.admits(request(sock=Peer("10.200.0.2"), Host="devbox.example:8888"))
    assert not attachment.hub.admits(request(sock=Peer("127.0.0.1"), Host="evil.example:8888"))
    assert not attachment.hub.admits(request(sock=Peer("127.0.0.1"), Host="localhost:8888", Origin="http://x.example"))
    (named, rebound, origin) = [m for _, m in app.logged]
    assert "Host header is a name" in named and "by its IP address" in named
    assert "open the app as http://localhost:8888/" in rebound
    assert "another origin" in origin and "x.example" not in origin  # nothing a client wrote goes in the log
