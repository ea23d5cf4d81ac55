"""The tunnel's cost: an app in a gateway kernel reached through the kernel's connection.

    .venv/bin/python benchmarks/tunnel.py            # 300 GETs, a 50 MB download
    .venv/bin/python benchmarks/tunnel.py --quick    # 50 GETs, 10 MB

A real Jupyter Kernel Gateway on 127.0.0.1, a kernel block with ``tunnel = true``, one
small Tornado app in it. Side by side: a small GET straight to the app's port (what a user
on the kernel's machine, or an ``ssh -L``, would see) and through the tunnel's local port;
then the download's throughput through the tunnel. Targets (issue 24): under 5 ms added
median latency, at least 20 MB/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import child_env, free_port, machine_line, median, p90, quiet_engine_logging, run_script, table  # noqa: E402

APP = '''
import os
import tornado.web

BLOB = os.urandom(1 << 20)

class Hello(tornado.web.RequestHandler):
    def get(self):
        self.write("hello")

class Blob(tornado.web.RequestHandler):
    async def get(self):
        for _ in range(int(self.get_argument("mb", "1"))):
            self.write(BLOB)
            await self.flush()

def make_app():
    return tornado.web.Application([(r"/", Hello), (r"/blob", Blob)])
'''

HCL = '''
kernel "gw" {{
  gateway_url = "{url}"
  tunnel      = true
}}

app "web" {{
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "gw"
  options {{
    app_class = "bench_tunnel.make_app"
    port      = {port}
  }}
}}
'''


def start_gateway(root: Path) -> tuple:
    port = free_port()
    env = child_env()
    env["JUPYTER_RUNTIME_DIR"] = str(root / "runtime")
    proc = subprocess.Popen([sys.executable, "-m", "kernel_gateway", "--KernelGatewayApp.ip=127.0.0.1",
                             f"--KernelGatewayApp.port={port}"], cwd=root, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api", timeout=2).close()
            return proc, url
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the kernel gateway did not start")
            time.sleep(0.2)


async def get_ms(port: int) -> float:
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    data = await reader.read()
    writer.close()
    assert data.endswith(b"hello"), data[-200:]
    return (time.perf_counter() - t0) * 1000


async def download_mb_s(port: int, mb: int) -> float:
    t0 = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET /blob?mb={mb} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode())
    total = 0
    while True:
        chunk = await reader.read(1 << 20)
        if not chunk:
            break
        total += len(chunk)
    writer.close()
    seconds = time.perf_counter() - t0
    assert total > mb << 20, total
    return mb / seconds


async def measure(args) -> None:
    from tornado_launcher.config import load
    from tornado_launcher.engine.events import AppState
    from tornado_launcher.engine.session import Session

    quiet_engine_logging()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        proc, url = start_gateway(root)
        try:
            port = free_port()
            (root / "bench_tunnel.py").write_text(APP)
            (root / "jaffle.hcl").write_text(HCL.format(url=url, port=port))
            session = Session(load(root / "jaffle.hcl"), auto_reload=False)
            running = asyncio.get_running_loop().create_future()
            session.subscribe(lambda e: isinstance(e, AppState) and e.state == "running" and not running.done()
                              and running.set_result(e))
            await session.start()
            try:
                state = await asyncio.wait_for(running, 60)
                local = urlsplit(state.urls[0]).port
                for p in (port, local):  # warm both paths
                    for _ in range(10):
                        await get_ms(p)
                direct, tunnelled = [], []
                for _ in range(args.gets):
                    direct.append(await get_ms(port))
                    tunnelled.append(await get_ms(local))
                speed = await download_mb_s(local, args.mb)
                direct_speed = await download_mb_s(port, args.mb)
            finally:
                await session.shutdown()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(15)
    print(machine_line())
    print(f"{args.gets} small GETs (new connection each), {args.mb} MB download; Kernel Gateway on loopback\n")
    print(table(["path", "GET median", "GET p90", "download"], [
        ["straight to the app's port", f"{median(direct):.2f} ms", f"{p90(direct):.2f} ms",
         f"{direct_speed:.0f} MB/s"],
        ["through the tunnel", f"{median(tunnelled):.2f} ms", f"{p90(tunnelled):.2f} ms", f"{speed:.0f} MB/s"],
    ]))
    added = median(tunnelled) - median(direct)
    print(f"\nadded by the tunnel: {added:.2f} ms median (target < 5 ms); "
          f"download {speed:.0f} MB/s (target >= 20 MB/s)")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    args.gets, args.mb = (50, 10) if args.quick else (300, 50)
    socket.setdefaulttimeout(30)
    return run_script(measure, args, needs=("kernel_gateway",), why="the gateway the kernel runs behind")


if __name__ == "__main__":
    raise SystemExit(main())
