"""What issue 21's checks cost: a kernel started through bridge/boot.py (its subprocess pipe on
a private IPC socket) beside stock ``python -m ipykernel_launcher``, and live reload's access
check (``live.Hub.admits``) per request beside a Tornado request's own cost.

Run:  python benchmarks/security_costs.py [--starts N] [--quick]

Kernel start: ``Kernel.start()`` to ready (kernel_info answered), the two command lines
alternated so the machine's load falls on both.  Access check: ``Hub.admits`` on a real
loopback connection's request, and a GET of a small page on a loopback Tornado server
(the request it is added to), both timed over many calls.
Floor: the boot adds no more than 10 % to the median start; the check costs under 5 % of a request.
"""

from __future__ import annotations

import argparse
import socket
import sys
import time
import timeit
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median, ms, run_script, table  # noqa: E402

from tornado_launcher.bridge.kernelside import live, state  # noqa: E402
from tornado_launcher.kernels import kernel as kernel_module  # noqa: E402
from tornado_launcher.kernels import kernel_pipe  # noqa: E402
from tornado_launcher.kernels.kernel import Kernel, make_runtime_dir, remove_runtime_dir  # noqa: E402


async def kernel_start(boot: bool) -> float:
    kernel_module.boot_argv = kernel_pipe.boot_argv if boot else (lambda argv: list(argv))
    runtime = make_runtime_dir()
    k = Kernel("k", cwd=str(Path.cwd()), runtime_dir=runtime, on_event=lambda e: None, on_death=lambda r: None)
    try:
        t0 = time.perf_counter()
        await k.start()
        return (time.perf_counter() - t0) * 1000
    finally:
        await k.shutdown()
        remove_runtime_dir(runtime)
        kernel_module.boot_argv = kernel_pipe.boot_argv


class _App(SimpleNamespace):
    def _log(self, level, message):
        pass


def admits_us(calls: int) -> float:
    """Microseconds per ``Hub.admits`` of a loopback client's request."""
    from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

    state.apps["bench"] = _App(live_reload=True, spec={"live_reload_hosts": ["192.168.1.0/24"]})
    hub = live.Hub("bench")
    with socket.create_server(("127.0.0.1", 0)) as server:
        client = socket.create_connection(server.getsockname())
        conn, _ = server.accept()
        with client, conn:
            req = HTTPServerRequest(start_line=RequestStartLine("GET", "/", "HTTP/1.1"),
                                    headers=HTTPHeaders({"Host": "localhost:%d" % conn.getsockname()[1]}))
            req.connection = SimpleNamespace(stream=SimpleNamespace(socket=conn))
            assert hub.admits(req)
            return timeit.timeit(lambda: hub.admits(req), number=calls) / calls * 1e6


async def request_us(calls: int) -> float:
    """Microseconds per GET of a small page on a loopback Tornado server (one keep-alive client)."""
    import tornado.httpclient
    import tornado.httpserver
    import tornado.web

    class Page(tornado.web.RequestHandler):
        def get(self):
            self.write("<!doctype html><html><body>hi</body></html>")

    sock = socket.create_server(("127.0.0.1", 0))
    sock.setblocking(False)
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Page)]))
    server.add_sockets([sock])
    client = tornado.httpclient.AsyncHTTPClient(force_instance=True)
    url = "http://127.0.0.1:%d/" % sock.getsockname()[1]
    try:
        await client.fetch(url)
        t0 = time.perf_counter()
        for _ in range(calls):
            await client.fetch(url)
        return (time.perf_counter() - t0) / calls * 1e6
    finally:
        client.close()
        server.stop()


async def main(args) -> int:
    starts = 2 if args.quick else args.starts
    boot, stock = [], []
    for _ in range(starts):
        stock.append(await kernel_start(False))
        boot.append(await kernel_start(True))
    calls = 2000 if args.quick else 20000
    check, request = admits_us(calls), await request_us(calls // 20)
    print(table(["what", "median", "runs"], [
        ["kernel start, stock `python -m ipykernel_launcher` (TCP pipe port)", ms(median(stock)), str(starts)],
        ["kernel start, through bridge/boot.py (IPC pipe, no TCP port)", f"**{ms(median(boot))}**", str(starts)],
        ["a small GET on loopback Tornado (client + server)", f"{request:.0f} µs", str(calls // 20)],
        ["live reload's access check per request (`Hub.admits`)", f"**{check:.1f} µs**", str(calls)],
    ]))
    ok = median(boot) <= 1.1 * median(stock) and check <= 0.05 * request
    quick = " (--quick: does not count)" if args.quick else ""
    print(f"\nverdict: {'PASS' if ok else 'FAIL'}: boot {ms(median(boot))} vs stock {ms(median(stock))} "
          f"(floor +10 %); check {check:.1f} µs = {100 * check / request:.1f} % of a request (floor 5 %){quick}")
    return 0 if ok else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--starts", type=int, default=10)
    p.add_argument("--quick", action="store_true")
    sys.exit(run_script(main, p.parse_args()))
