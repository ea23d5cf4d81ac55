"""What the benchmarks share: the measured app, a bare HTTP probe, process hygiene, tables.

Everything is real and local: projects are written to temporary directories,
ports come from the OS (127.0.0.1 only), requests are plain HTTP/1.0 over
loopback, one new connection per probe (so a restarted server is seen as soon
as it accepts).  Every loop is bounded by a timeout.

The app is one small Tornado app in two flavours, so the in-kernel numbers can
be set against the alternatives on the same code:

* ``plain``: tornado only;
* ``pandas``: its handler module imports pandas at module level (and builds a
  tiny DataFrame), as a real dashboard would.  Process-based restarts pay that
  import every time; an in-kernel restart re-imports only the project's own
  modules.

Each response is ``"<MESSAGE> boot=<id> rows=<n>"``: ``MESSAGE`` is what an
edit changes, ``boot`` is random per App instance (a new server is recognisable
whether or not modules were re-imported).
"""

from __future__ import annotations

import asyncio
import datetime
import os
import platform
import signal
import socket
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PYTHON = sys.executable

# ------------------------------------------------------------------ the app

WEB_PY = '''\
"""The measured app: the reference's start/stop contract, argv in __init__."""
import binascii
import os
import sys

import tornado.httpserver
import tornado.ioloop
import tornado.web

from benchapp import handlers


class App:
    def __init__(self, argv):
        opts = dict(a[2:].split("=", 1) if "=" in a else (a[2:], "1") for a in argv if a.startswith("--"))
        self.port = int(opts["port"])
        self.debug = opts.get("debug") == "1"
        self.boot = binascii.hexlify(os.urandom(6)).decode()

    def start(self):
        web = tornado.web.Application([(r"/", handlers.Main)], boot=self.boot, debug=self.debug)
        self.http_server = tornado.httpserver.HTTPServer(web)
        self.http_server.listen(self.port, address="127.0.0.1")
        self.io_loop = tornado.ioloop.IOLoop.current()
        self.io_loop.start()

    def stop(self):
        def _stop():
            self.http_server.stop()
            self.io_loop.stop()
        self.io_loop.add_callback(_stop)


def main(argv=None):
    try:
        App(sys.argv[1:] if argv is None else argv).start()
    except KeyboardInterrupt:
        pass
'''

HANDLERS_PY = '''\
import tornado.web
{heavy_import}
MESSAGE = {message!r}


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s boot=%s rows=%d" % (MESSAGE, self.settings["boot"], {rows}))
'''

HEAVY_IMPORT = 'import pandas as pd\n\nFRAME = pd.DataFrame({"x": [1, 2, 3]})\n'

SERVE_PY = '''\
# The app as a plain process: python serve.py --port=N [--debug]
from benchapp.web import main

main()
'''

#: the same app started by ``python -c`` (cwd = the project; sys.path[0] is "")
PYTHON_C = "from benchapp.web import main; main()"


def handlers_source(message: str, heavy: bool) -> str:
    return HANDLERS_PY.format(
        heavy_import=HEAVY_IMPORT if heavy else "",
        message=message,
        rows="len(FRAME)" if heavy else "0",
    )


def write_project(root: Path, *, heavy: bool, message: str = "v0", hcl: str = "") -> Path:
    """The project on disk: ``benchapp/{__init__,web,handlers}.py``, ``serve.py``, ``jaffle.hcl``."""
    (root / "benchapp").mkdir(parents=True, exist_ok=True)
    (root / "benchapp" / "__init__.py").write_text("")
    (root / "benchapp" / "web.py").write_text(WEB_PY)
    (root / "benchapp" / "handlers.py").write_text(handlers_source(message, heavy))
    (root / "serve.py").write_text(SERVE_PY)
    if hcl:
        (root / "jaffle.hcl").write_text(hcl)
    return root


def app_hcl(port: int, *, threaded: bool, watchdog: bool = False, name: str = "web") -> str:
    """One TornadoBridgeApp (and, for auto-reload, a Jaffle-style WatchdogApp restarting it)."""
    wd = ""
    if watchdog:
        wd = f'''
app "watchdog" {{
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "py_kernel"
  options {{
    handlers = [
      {{
        patterns           = ["*.py"]
        ignore_directories = true
        code_blocks        = ["{name}.handle_watchdog_event({{event}})"]
      }},
    ]
  }}
}}
'''
    return f'''
kernel "py_kernel" {{}}
{wd}
app "{name}" {{
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  start  = "{name}.start()"
  options {{
    app_class   = "benchapp.web.App"
    argv        = ["--port={port}"]
    threaded    = {"true" if threaded else "false"}
    clear_cache = ["benchapp"]
  }}
}}
'''


def child_env() -> Dict[str, str]:
    """Environment of the plain-process alternatives.

    ``PYTHONDONTWRITEBYTECODE``: edits come 0.5 s apart and keep the file's
    size, and a ``.pyc`` is validated by whole-second mtime + size, so a
    written ``.pyc`` could serve the previous edit.  Only the project's three
    tiny modules are affected (site-packages' ``.pyc`` files are still read).
    """
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONSTARTUP", None)
    return env


# ---------------------------------------------------------------- ports, HTTP


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def http_get(port: int, timeout: float = 1.0) -> Tuple[int, str]:
    """``(status, body)`` of ``GET /`` on a new connection; 599 when nothing answers."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
        writer.write(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        data = await asyncio.wait_for(reader.read(), timeout)
    except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
        return 599, type(e).__name__
    finally:
        if writer is not None:
            writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    try:
        status = int(head.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 599, "bad response"
    return status, body.decode("utf-8", "replace")


def boot_of(body: str) -> Optional[str]:
    for part in body.split():
        if part.startswith("boot="):
            return part[5:]
    return None


class PollTimeout(RuntimeError):
    pass


#: a probe that gets no answer within this long counts as "hung" (the server
#: accepted the connection and never answered or closed it)
PROBE_TIMEOUT = 1.0


async def poll(port: int, accept: Callable[[int, str], bool], *, timeout: float = 30.0,
               interval: float = 0.002) -> Tuple[float, str, int, int]:
    """Probe until ``accept(status, body)``.

    Returns (perf_counter of that answer, its body, probes sent, probes that
    hung for :data:`PROBE_TIMEOUT`).  A tight, bounded client loop, one
    connection at a time as a single browser tab would: probe, sleep
    ``interval`` seconds, again, for at most ``timeout`` seconds.
    """
    deadline = time.perf_counter() + timeout
    tries = hung = 0
    last: Tuple[int, str] = (0, "")
    while True:
        tries += 1
        status, body = await http_get(port, PROBE_TIMEOUT)
        now = time.perf_counter()
        if accept(status, body):
            return now, body, tries, hung
        if status == 599 and body == "TimeoutError":
            hung += 1
        last = (status, body[:120])
        if now > deadline:
            raise PollTimeout(f"port {port}: no acceptable answer within {timeout} s (last: {last})")
        await asyncio.sleep(interval)


#: the separate-process probe (:class:`Prober`): blocking sockets, one new connection per request
PROBER_PY = r'''
import socket, sys, time

def get(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=1.0)
    try:
        s.sendall(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        chunks = []
        while True:
            b = s.recv(65536)
            if not b:
                break
            chunks.append(b)
    finally:
        s.close()
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body.decode("utf-8", "replace")

for line in sys.stdin:
    port, interval, timeout, prefix = line.rstrip("\n").split(" ", 3)
    port, interval, timeout = int(port), float(interval), float(timeout)
    deadline = time.perf_counter() + timeout
    tries = 0
    while True:
        tries += 1
        try:
            status, body = get(port)
        except (OSError, ValueError, IndexError):
            status, body = 599, ""
        now = time.perf_counter()
        if status == 200 and body.startswith(prefix):
            print("ok %r %d" % (now, tries), flush=True)
            break
        if now > deadline:
            print("timeout %r %d" % (now, tries), flush=True)
            break
        if interval > 0:
            time.sleep(interval)
'''


class Prober:
    """A probe in a process of its own, as a browser is: not on the measured launcher's loop
    (:func:`poll` is), so neither slows the other down.  :meth:`start` makes it probe
    ``GET /`` (a new connection each time, HTTP/1.0) every ``interval`` seconds until an
    answer's body starts with ``prefix``; :meth:`result` is then the ``time.perf_counter()``
    of that answer (``CLOCK_MONOTONIC`` on Linux: the same clock in every process) and the
    number of probes.  Start it *before* the save: the answers before it are old ones."""

    def __init__(self, interval: float = 0.001) -> None:
        self.interval = interval
        self.proc: Optional[asyncio.subprocess.Process] = None

    async def __aenter__(self) -> "Prober":
        self.proc = await asyncio.create_subprocess_exec(
            PYTHON, "-c", PROBER_PY, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            env=child_env())
        return self

    async def __aexit__(self, *exc) -> None:
        if self.proc is not None:
            self.proc.stdin.close()
            await end_process(self.proc)

    def start(self, port: int, prefix: str, timeout: float) -> None:
        assert " " not in str(port) and "\n" not in prefix
        self.proc.stdin.write(f"{port} {self.interval!r} {timeout!r} {prefix}\n".encode())

    async def result(self) -> Tuple[float, int]:
        """(perf_counter of the first accepted answer, probes sent); PollTimeout when none came."""
        line = (await self.proc.stdout.readline()).decode().split()
        if not line:
            raise PollTimeout("the probe process ended")
        if line[0] != "ok":
            raise PollTimeout(f"no acceptable answer within the probe's timeout ({line[2]} probes)")
        return float(line[1]), int(line[2])


def is_200(status: int, body: str) -> bool:
    return status == 200


def new_boot(old: Optional[str]) -> Callable[[int, str], bool]:
    return lambda status, body: status == 200 and boot_of(body) not in (None, old)


# ------------------------------------------------------------------ processes


async def spawn(args: Sequence[str], cwd: Path, env: Optional[Dict[str, str]] = None,
                log_path: Optional[Path] = None) -> asyncio.subprocess.Process:
    out = open(log_path, "ab") if log_path else asyncio.subprocess.DEVNULL
    try:
        return await asyncio.create_subprocess_exec(
            *args, cwd=str(cwd), env=env or child_env(),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out)
    finally:
        if log_path:
            out.close()


async def end_process(proc: asyncio.subprocess.Process, sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Signal one process we started (by its pid), wait; SIGKILL it if it lingers."""
    if proc.returncode is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except asyncio.TimeoutError:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
            await proc.wait()


def _proc_table() -> Dict[int, Tuple[int, str, str]]:
    """pid -> (ppid, state, command line) for every process we can read."""
    table = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read().decode("utf-8", "replace")
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except OSError:
            continue
        rest = stat.rsplit(")", 1)[1].split()
        table[int(d)] = (int(rest[1]), rest[0], cmd)
    return table


def descendants(root: Optional[int] = None) -> List[Tuple[int, str]]:
    """Live (non-zombie) descendants of ``root`` (default: this process): [(pid, cmdline)]."""
    root = os.getpid() if root is None else root
    table = _proc_table()
    out = []
    for pid, (ppid, state, cmd) in table.items():
        if state == "Z":
            continue
        seen = set()
        p = ppid
        while p in table and p not in seen:
            if p == root:
                out.append((pid, cmd))
                break
            seen.add(p)
            p = table[p][0]
    return sorted(out)


def check_no_children() -> bool:
    """Print whether any process we started is still alive; end such leftovers by pid."""
    left = []
    for _ in range(50):  # give exiting processes up to 5 s
        left = descendants()
        if not left:
            break
        time.sleep(0.1)
    if not left:
        print("\nChild processes left: none.")
        return True
    print("\nChild processes left (a bug; ending them now):")
    for pid, cmd in left:
        print(f"  {pid}: {cmd[:160]}")
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return False


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def thread_count(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise RuntimeError(f"no Threads line for {pid}")


# ------------------------------------------------------------------ figures


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def p90(xs: Sequence[float]) -> float:
    """Nearest-rank 90th percentile."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-0.9 * len(s) // 1)) - 1))
    return s[k]


def ms(x: float) -> str:
    if x >= 10000:
        return f"{x / 1000:.1f} s"
    if x >= 100:
        return f"{x:.0f} ms"
    return f"{x:.1f} ms"


def secs(x_ms: float) -> str:
    return f"{x_ms / 1000:.2f} s"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def machine_line() -> str:
    import tornado

    try:
        import pandas
        pd = f", pandas {pandas.__version__}"
    except ImportError:  # a benchmark that does not measure the pandas app
        pd = ""

    try:
        import ipykernel
        ipk = ipykernel.__version__
    except Exception:  # noqa: BLE001
        ipk = "?"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return (f"{datetime.datetime.now().strftime('%Y-%m-%d %H:%M')} · {platform.system()} "
            f"{platform.machine()}, {os.cpu_count()} cores, load avg {load} at start (machine shared "
            f"with other jobs) · Python {platform.python_version()}, tornado {tornado.version}, "
            f"ipykernel {ipk}{pd}")


def quiet_engine_logging() -> None:
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")


#: where each optional module a benchmark may need comes from
OPTIONAL = {"pandas": "bench", "watchfiles": "bench"}


def pip_install_command(extra: str) -> str:
    """The command that installs ``extra`` into the Python running this script."""
    venv = ROOT / ".venv"
    if Path(sys.prefix).resolve() == venv.resolve():
        return f".venv/bin/pip install -e '.[{extra}]'"
    return f"{sys.executable} -m pip install -e '{ROOT}[{extra}]'"


def missing_modules(modules: Sequence[str]) -> List[str]:
    """Those of ``modules`` this Python cannot import (found without importing them)."""
    import importlib.util

    missing = []
    for name in modules:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            missing.append(name)
    return missing


def require(modules: Sequence[str], why: str = "") -> None:
    """Exit with status 2 and one sentence naming the ``pip install`` to run when an
    optional module the benchmark needs is missing (never a traceback)."""
    missing = missing_modules(modules)
    if not missing:
        return
    script = Path(sys.argv[0]).resolve()
    try:
        script = script.relative_to(ROOT)
    except ValueError:
        pass
    extras = sorted({OPTIONAL.get(m, "bench") for m in missing})
    commands = " and ".join(f"`{pip_install_command(e)}`" for e in extras)
    names = ", ".join(missing)
    print(f"{script} needs {names}{(' (' + why + ')') if why else ''}, which is not installed: "
          f"run {commands} first, then run it again.", file=sys.stderr)
    sys.exit(2)


def run_script(main, args, needs: Sequence[str] = (), why: str = "") -> int:
    """Run a benchmark's ``async main(args)``; exit status 1 on a poll timeout
    or if any child process was left behind, 2 (with the ``pip install`` to run)
    when a module in ``needs`` is missing."""
    import asyncio

    require(needs, why)
    rc = 1
    try:
        rc = asyncio.run(main(args))
    except PollTimeout as e:
        print(f"\nFAILED: {e}", file=sys.stderr)
    finally:
        if not check_no_children():
            rc = 1
    return rc
