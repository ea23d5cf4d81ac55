"""servers.SocketPool: an app's listening sockets stay bound across its runs (issue 12).

The pool is kernel-side code; it imports in the launcher unchanged, so it is
tested here on real loopback sockets without a kernel.
"""

import socket

import tornado.netutil

from tornado_launcher.bridge.kernelside.servers import SocketPool, stop_accepting


def bind(port=0):
    return tornado.netutil.bind_sockets(port, "127.0.0.1", socket.AF_INET)


def test_second_run_gets_the_same_bound_socket_and_release_frees_the_port():
    pool = SocketPool()
    calls = []

    def binder():
        calls.append(1)
        return bind()

    first = pool.get("web", (2, "127.0.0.1", 1), binder)
    port = first[0].getsockname()[1]
    second = pool.get("web", (2, "127.0.0.1", 1), binder)
    assert len(calls) == 1  # bound once
    assert second[0].fileno() != first[0].fileno()  # each server its own fd ...
    assert second[0].getsockname()[1] == port  # ... on the same listen queue
    assert pool.pooled(first[0]) and pool.pooled(second[0])
    first[0].close()  # the old server's stop closes only its own fd: the port stays open
    with socket.create_connection(("127.0.0.1", port), timeout=2) as client:
        conn, _ = second[0].accept()
        conn.close()
    assert client is not None
    second[0].close()
    assert pool.keys("web") == {(2, "127.0.0.1", 1)}
    assert pool.release("web") == [(2, "127.0.0.1", 1)]
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    assert refused and pool.keys("web") == set()


def test_release_keeps_what_the_current_run_uses_and_apps_are_apart():
    pool = SocketPool()
    a = pool.get("web", ("a",), bind)
    b = pool.get("web", ("b",), bind)
    other = pool.get("api", ("a",), bind)
    assert other[0].getsockname() != a[0].getsockname()
    assert pool.release("web", keep={("a",)}) == [("b",)]
    assert pool.keys("web") == {("a",)} and pool.keys("api") == {("a",)}
    for s in a + b + other:
        s.close()
    pool.release("web")
    pool.release("api")


def test_stop_accepting_leaves_the_queue_to_the_next_server():
    from tornado.tcpserver import TCPServer

    pool = SocketPool()
    import tornado_launcher.bridge.kernelside.servers as servers
    saved, servers.pool = servers.pool, pool
    try:
        old_socks = pool.get("web", ("k",), bind)
        server = TCPServer()
        server._sockets = {s.fileno(): s for s in old_socks}
        removed = []
        server._handlers = {s.fileno(): (lambda: removed.append(1)) for s in old_socks}
        stop_accepting(server)
        assert removed == [1] and server._sockets == {} and old_socks[0].fileno() == -1
        new = pool.get("web", ("k",), bind)
        assert new[0].fileno() != -1  # the queue is still bound
        new[0].close()
        pool.release("web")
    finally:
        servers.pool = saved
