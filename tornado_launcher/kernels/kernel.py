"""One IPython kernel: start it, run cells in it, route what it says, notice it die.

:class:`Kernel` wraps jupyter_client's ``AsyncKernelManager`` and
``AsyncKernelClient`` on the caller's asyncio loop (plain asyncio for the
headless mode, qasync under the window; the code is the same).

What it guarantees:

* IPC transport with socket files and the connection file in a private runtime
  directory (mode 0700): no kernel listens on TCP for us, and a kernel started
  in the project's directory and a launcher started elsewhere still meet.
  (ipykernel's own subprocess-output pipe is a loopback TCP port in stock
  ipykernel: the kernels we start from a Python run ``bridge/boot.py``, whose
  pipe is an IPC socket there too; rejected pipe messages are counted and
  reported once per interval, see :mod:`.kernel_pipe`.)
* Everything the kernel says becomes an event from :mod:`tornado_launcher.engine.events`:
  structured records from the bridge's comm, cell output, and the process's raw
  stdout/stderr (crash output that never reaches iopub), read by two threads.
* Death is an event, not a poll: a thread blocks in ``Popen.wait()`` and hands
  the exit to the loop. The owner decides whether to restart (the session's
  crash-loop guard).

Thread-safety: every public method must be called on the loop thread. The
reader and waiter threads only call ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections import deque
from typing import Any, Callable, Dict, List, Optional

import zmq
from jupyter_client.kernelspec import KernelSpec, KernelSpecManager, NoSuchKernel
from jupyter_client.manager import AsyncKernelManager

from ..bridge import protocol
from ..engine.events import KERNEL_READY, AppState, Event, KernelState, KernelStateName, LogRecord, LoopBlocked
from ..terminal.backlog import Backlog
from ..text import strip_ansi
from . import interpreter
from .comms import BridgeComms
from .heartbeat import HeartbeatWatch
from .kernel_pipe import PIPE_LOGGER, RejectedMessages, boot_argv, shown_argv
from .streams import StreamLines

log = logging.getLogger(__name__)



#: Seconds a kernel gets to exit after a shutdown request: jupyter_client
#: sends SIGTERM at half of it and SIGKILL at the end (its default is 5 s,
#: too long for a Ctrl+C that must be done in 5 s with a hung kernel).
SHUTDOWN_TIMEOUT = 2.0
#: Seconds to wait for the reader threads once the process is gone (a child
#: the kernel forked may still hold its pipes: the threads are daemons).
READER_JOIN_TIMEOUT = 1.0

#: times a cell of ours is sent again after the kernel aborted it unrun
ABORTED_RETRIES = 3


def describe_error(reply: Dict[str, Any]) -> str:
    """A failed execute reply as a sentence: ``ZeroDivisionError: division by
    zero``, never ``None: None`` (an ``aborted`` reply has no error name)."""
    ename, evalue = reply.get("ename"), reply.get("evalue")
    if ename:
        return f"{ename}: {evalue}" if evalue else str(ename)
    if reply.get("status") == "aborted":
        return ("the kernel skipped this cell because another cell sent to it just before (typed in "
                "a console, perhaps) raised an error; try again")
    return f"the kernel answered {reply.get('status') or 'nothing'!r} without naming an error; see the kernel's log"



#: interpreters already found to have ipykernel and tornado, in this process
_CHECKED: set = set()


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _join_all(threads: list, timeout: float) -> None:
    """Join threads within ``timeout`` seconds in all (runs in a worker thread)."""
    import time

    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))


# ------------------------------------------------------ runtime directories
#: prefix of the private runtime directories in the temp directory
RUNTIME_PREFIX = "tl-"
#: file in each runtime directory naming its launcher: ``"<pid> <start time>"``
RUNTIME_OWNER_FILE = "launcher.pid"


def _process_start_time(pid: int) -> Optional[str]:
    """The kernel's start time of ``pid`` (clock ticks since boot, Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def make_runtime_dir() -> str:
    """A private (0700) directory for connection files and IPC sockets.

    It names its owner (pid and start time) so that a later launcher can
    remove it once this one is gone, even if it was killed outright; those of
    launchers already gone are removed first.
    """
    remove_stale_runtime_dirs()
    path = tempfile.mkdtemp(prefix=RUNTIME_PREFIX)
    os.chmod(path, 0o700)
    with open(os.path.join(path, RUNTIME_OWNER_FILE), "w") as f:
        f.write(f"{os.getpid()} {_process_start_time(os.getpid()) or '-'}\n")
    return path


def remove_runtime_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _owner_alive(pid: int, started: str) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's: not ours to judge
    now = _process_start_time(pid)
    # the pid runs: it is our launcher unless it is known to have started later
    return started == "-" or now is None or now == started


def remove_stale_runtime_dirs(base: Optional[str] = None) -> List[str]:
    """Remove runtime directories whose launcher is gone; return their paths.

    Only directories that are ours: named ``tl-*``, real directories (not
    symlinks) owned by this user, holding a well-formed owner file whose
    process is not running (or is another process under a reused pid).  A
    directory without an owner file (being created, or from an older version)
    is left alone.
    """
    base = base or tempfile.gettempdir()
    removed: List[str] = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for name in names:
        if not name.startswith(RUNTIME_PREFIX):
            continue
        path = os.path.join(base, name)
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or (uid is not None and st.st_uid != uid):
                continue
            with open(os.path.join(path, RUNTIME_OWNER_FILE)) as f:
                pid_text, started = f.read().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if pid == os.getpid() or _owner_alive(pid, started):
            continue
        remove_runtime_dir(path)
        removed.append(path)
    return removed


def uses_kernelspec(kernel_name: Optional[str]) -> bool:
    """Whether a kernel block's ``kernel_name`` is looked up as a Jupyter kernelspec
    (the frozen app runs "python3"/"python" with the project's Python instead)."""
    return bool(kernel_name) and not (interpreter.is_frozen() and kernel_name in ("python3", "python"))


def installed_kernelspecs() -> List[str]:
    """The names a ``kernel_name`` may use here: what config's ``kernelspecs=`` wants,
    so that ``check``, ``start`` and the window refuse an unknown one before starting."""
    names = list(KernelSpecManager().find_kernel_specs())
    if interpreter.is_frozen():
        names += ["python3", "python"]
    return names


def is_loopback(host: Optional[str]) -> bool:
    return not host or host == "localhost" or host.startswith("127.") or host in ("::1", "[::1]")


def remote_urls(urls: tuple, public_ports: tuple, host: Optional[str]) -> tuple:
    """``urls`` of an app in a kernel on ``host``: those on a port bound beyond loopback with
    ``host`` instead of the bridge's loopback name; the others (only on that machine's
    loopback) as they are. Unchanged when ``host`` is itself loopback (a tunnel, a
    forwarded container port: the user forwards the app's port the same way)."""
    if is_loopback(host):
        return tuple(urls)
    from urllib.parse import urlsplit, urlunsplit

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
        from urllib.parse import urlsplit

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


class KernelStartError(Exception):
    """A kernel could not be started; ``str()`` is a sentence for the user."""


class _FixedSpecManager(KernelSpecManager):
    """A kernelspec manager that knows exactly one spec: ours.

    Used when the kernel must run a given interpreter (the config's
    ``python``, the project's venv, or the launcher's own Python) rather than
    a kernelspec installed in the user's Jupyter paths.
    """

    def __init__(self, spec: KernelSpec, **kw: Any) -> None:
        super().__init__(**kw)
        self._spec = spec

    def get_kernel_spec(self, kernel_name: str) -> KernelSpec:  # noqa: D401
        return self._spec

    def find_kernel_specs(self) -> Dict[str, str]:
        return {}


class Kernel(BridgeComms, StreamLines, HeartbeatWatch):
    """A kernel process plus the client that talks to it.

    ``on_event`` receives every event (on the loop thread); ``on_death`` is
    called with a reason when the process ends without being asked to.
    """

    #: after its death the session waits for it to come back (an attached or gateway kernel)
    reattaches = False

    def __init__(
        self,
        name: str,
        *,
        cwd: str,
        runtime_dir: str,
        on_event: Callable[[Event], None],
        on_death: Callable[[str], None],
        kernel_name: Optional[str] = None,
        python: Optional[str] = None,
        startup_timeout: float = 60.0,
        env: Optional[Dict[str, str]] = None,
    ) -> None:
        self.name = name
        #: the kernel block's ``env``: added to a local kernel's environment, sent with a gateway launch
        self.env = dict(env or {})
        self.cwd = cwd
        self.runtime_dir = runtime_dir
        self.kernel_name = kernel_name
        self.python = python
        self.startup_timeout = startup_timeout
        self._on_event = on_event
        self._on_death = on_death
        self.state: KernelStateName = KernelStateName.STOPPED
        self.pid: Optional[int] = None
        self._km: Optional[AsyncKernelManager] = None
        self._kc: Any = None
        self._tasks: list = []
        #: this process's raw-output readers and exit waiter (they end with it)
        self._threads: list = []
        self._pending: Dict[str, asyncio.Future] = {}
        self._routes: Dict[str, Dict[str, Any]] = {}
        self._expect_exit = False
        #: the process's last stderr lines (a kernel that dies while starting says why there)
        self._last_err: deque = deque(maxlen=5)
        #: messages ipykernel's pipe rejected, counted by the raw readers, reported per interval
        self.rejected = RejectedMessages(self._report_rejected)
        #: whether the process's own stdout/stderr are read here (not for attached/gateway kernels)
        self._reads_raw = False
        self._init_streams()
        self._generation = itertools.count(1)
        self._gen = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        #: the bridge's last ``hello`` record (pid, python, tornado, bridge version, project_dir)
        self.hello: Optional[Dict[str, Any]] = None
        #: the host of a kernel on another machine (None: this one); its apps' URLs name it
        self.remote_host: Optional[str] = None
        self._hinted: set = set()
        #: who hears the ``files`` records of a watcher in the kernel (the Reloader, ``remote_files``)
        self.on_files: Optional[Callable[[Dict[str, Any]], None]] = None
        #: handlers of the bridge's other comms, by target (comms.py)
        self._init_comms()
        #: apps on the kernel's machine reached through its connection (``tunnel``; tunnel.py)
        self.tunnel: Any = None
        #: the project pushed to the kernel's filesystem (``sync``; sync.py)
        self.sync: Any = None
        #: heartbeat: missed pings in a row, when it was reported silent (monotonic), the recheck
        self._hb_missed = 0
        self._silent_since: Optional[float] = None
        self._hb_timer: Optional[asyncio.TimerHandle] = None
        #: log records that arrive too late are dropped and counted (backlog.py)
        self._backlog = Backlog()

    @property
    def connection_file(self) -> Optional[str]:
        """The running process's connection file (what ``jupyter console
        --existing`` takes: the console tab attaches with it), or None."""
        km = self._km
        return km.connection_file if km is not None and self.state in KERNEL_READY else None

    # ------------------------------------------------------------------ start
    def _set_state(self, state: str, reason: Optional[str] = None) -> None:
        self.state = KernelStateName(state)
        if state in KERNEL_READY and self._silent_since is not None:
            return  # still "not responding" for the views until the heartbeat answers
        self._on_event(KernelState(self.name, state, reason, self.pid))

    @property
    def responding(self) -> bool:
        """False while the kernel's heartbeat does not answer (a stopped or wedged process)."""
        return self._silent_since is None

    def _log(self, level: str, message: str, origin: str = "launcher") -> None:
        self._on_event(LogRecord(self.name, None, level, message, logger="tornado_launcher", origin=origin))

    async def _make_manager(self) -> AsyncKernelManager:
        """Choose the interpreter or kernelspec and build the manager."""
        kw: Dict[str, Any] = {}
        if uses_kernelspec(self.kernel_name) and not self.python:
            try:
                KernelSpecManager().get_kernel_spec(self.kernel_name)
            except NoSuchKernel:
                names = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
                raise KernelStartError(
                    f"kernel {self.name!r}: no Jupyter kernelspec named {self.kernel_name!r} "
                    f"(installed: {names}). Install it, or give the kernel block "
                    f"`python = \"/path/to/python\"` instead."
                ) from None
            kw["kernel_name"] = self.kernel_name
        else:
            try:
                python = interpreter.find_python(self.cwd, self.python)
            except interpreter.InterpreterError as e:
                raise KernelStartError(f"kernel {self.name!r}: {e}") from None
            if python not in _CHECKED:
                # The launcher's own (unfrozen) Python has ipykernel and tornado:
                # they are its dependencies. Others are probed once per process.
                if interpreter.is_frozen() or not _same_file(python, sys.executable):
                    problem = await interpreter.check_python(python, interpreter.child_env())
                    if problem:
                        raise KernelStartError(f"kernel {self.name!r}: {problem}")
                _CHECKED.add(python)
            spec = KernelSpec(
                argv=boot_argv(interpreter.kernel_argv(python)),  # its subprocess pipe private
                display_name=f"tornado-launcher ({python})",
                language="python",
                metadata={"debugger": False},
            )
            kw["kernel_name"] = "tornado-launcher"
            kw["kernel_spec_manager"] = _FixedSpecManager(spec)
        if sys.platform == "win32":
            # ZeroMQ has no ipc transport on Windows: loopback TCP there.
            km = AsyncKernelManager(transport="tcp", ip="127.0.0.1", **kw)
        else:
            km = AsyncKernelManager(transport="ipc", **kw)
            # An absolute ipc prefix: the default relative "kernel-ipc" resolves
            # against each process's cwd, so kernel and launcher would not meet.
            km.ip = os.path.join(self.runtime_dir, self.name)
        km.connection_file = os.path.join(self.runtime_dir, f"{self.name}.json")
        if "kernel_spec_manager" not in kw and km.kernel_spec is not None:
            km.kernel_spec.argv = boot_argv(km.kernel_spec.argv)  # a stock ipykernel spec: as ours
        # The kernel is ours; jupyter_client's polling restarter stays off: we
        # learn of death from the process itself.
        km.autorestart = False
        km.shutdown_wait_time = SHUTDOWN_TIMEOUT
        return km

    async def start(self) -> None:
        """Start the process and the client; wait until the kernel answers."""
        self._loop = asyncio.get_running_loop()
        self.rejected.bind(self._loop)
        self._flush_streams()
        self._gen = next(self._generation)
        self._set_state("starting")
        self._expect_exit = False
        self._last_err.clear()
        try:
            self._km = km = await self._make_manager()
            env = interpreter.child_env()
            env.setdefault("PYTHONUNBUFFERED", "1")
            env.update(self.env)
            await km.start_kernel(
                cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
            )
        except KernelStartError as e:
            self._set_state("dead", str(e))
            raise
        except Exception as e:  # noqa: BLE001 - reported as a sentence
            msg = f"kernel {self.name!r} could not start: {e}"
            self._set_state("dead", msg)
            raise KernelStartError(msg) from e
        proc = km.provisioner.process  # type: ignore[union-attr]
        self.pid = proc.pid
        gen = self._gen
        self._threads = [
            threading.Thread(target=self._read_raw, args=(stream, level), daemon=True,
                             name=f"tl-kernel-{self.name}-raw")
            for stream, level in ((proc.stdout, "INFO"), (proc.stderr, "WARNING"))
        ]
        self._threads.append(threading.Thread(target=self._wait_process, args=(proc, gen), daemon=True,
                                              name=f"tl-kernel-{self.name}-wait"))
        for t in self._threads:
            t.start()
        self._reads_raw = True
        self._kc = kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=self.startup_timeout)
        except RuntimeError:
            code = proc.poll()
            # We stop it ourselves: not a death for the owner's restart guard.
            self._expect_exit = True
            await self._teardown(now=True)  # joins the readers: the last stderr lines are in
            msg = self._start_failure(code, km)
            self._set_state("dead", msg)
            raise KernelStartError(msg) from None
        self._tasks = [
            asyncio.ensure_future(self._iopub_loop(kc)),
            asyncio.ensure_future(self._shell_loop(kc)),
        ]
        self._watch_heartbeat(kc, gen)
        self._set_state("idle")

    def _start_failure(self, code: Optional[int], km: AsyncKernelManager) -> str:
        """The sentence for a kernel that ended or stayed silent before answering kernel_info."""
        spec = getattr(km, "kernel_spec", None)
        words = list(spec.argv if spec else ())
        if "{connection_file}" in words:  # run by hand, the kernel writes its own connection file
            i = words.index("{connection_file}")
            del words[i - 1 if i and words[i - 1] in ("-f", "--f") else i:i + 1]
        argv = shown_argv(words)
        if code is not None:
            last = f": {self._last_err[-1]}" if self._last_err else ""
            return (f"kernel {self.name!r} exited with status {code} while starting{last}. "
                    f"Run `{argv}` in a terminal to see the whole error.")
        return (f"kernel {self.name!r} started but did not answer within {self.startup_timeout:g} s, "
                f"so it was stopped. Run `{argv}` in a terminal to see where it hangs.")

    # ------------------------------------------------------------- raw output
    def _read_raw(self, stream: Any, level: str) -> None:
        """Thread: forward the process's own stdout/stderr lines to the loop."""
        loop = self._loop
        assert loop is not None
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line and not self.rejected.take(line):  # rejected pipe messages: counted only
                    loop.call_soon_threadsafe(self._raw_line, line, level)
        except (OSError, ValueError, RuntimeError):
            pass  # stream closed, or the loop is gone at exit

    def _raw_line(self, line: str, level: str) -> None:
        if level == "WARNING":
            self._last_err.append(line)
        # lines of a previous process (its last words) are still worth showing
        self._on_event(LogRecord(self.name, None, level, line, logger="kernel", origin="raw"))

    def _report_rejected(self, text: str) -> None:
        self._on_event(LogRecord(self.name, None, "WARNING", text, logger=PIPE_LOGGER, origin="raw"))

    def _wait_process(self, proc: subprocess.Popen, gen: int) -> None:
        """Thread: block until the kernel process ends, then tell the loop."""
        code = proc.wait()
        try:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._process_ended, code, gen)
        except RuntimeError:
            pass  # loop closed: we are exiting anyway

    def _process_ended(self, code: int, gen: int) -> None:
        if gen != self._gen or self._expect_exit:
            return
        if self.state == "starting":
            return  # start() is still waiting for kernel_info: it notices and says why
        if code is not None and code < 0:
            import signal

            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        reason = f"kernel process {self.pid} {how}"
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result({"status": "error", "ename": "KernelDied", "evalue": reason, "traceback": []})
        self._pending.clear()
        self._set_state("dead", reason)
        self._on_death(reason)

    # ---------------------------------------------------------------- routing
    def _rearm_shell(self) -> None:
        """After a send on the shell socket: wake the reader for replies the send may have hidden.

        A zmq socket's FD is edge-triggered: any operation on the socket (a send too) takes in
        the socket's pending commands, and with them the FD's readable edge for a reply that
        had just arrived.  pyzmq's asyncio socket re-checks ``EVENTS`` after its own sends, but
        jupyter_client's ``Session.send`` sends on a plain shadow of it, which that socket never
        sees: the reply then sits unread while :meth:`_shell_loop` waits for an edge that never
        comes (the kernel idle, every cell waiting for its reply).  Reading ``EVENTS`` through
        the asyncio socket is pyzmq's own re-arm: it schedules the reader if a message waits.
        """
        kc = self._kc
        socket = getattr(getattr(kc, "shell_channel", None), "socket", None)
        if socket is None or socket.closed:
            return
        try:
            socket.get(zmq.EVENTS)
        except zmq.ZMQError:
            pass  # closing: the shell loop ends with the channel

    def _foreign(self, msg: Any) -> bool:
        """A message from another kernel process than ours (an attached kernel run again): its
        channels stop being read. Ours are never foreign: the process is ours."""
        return False

    async def _shell_loop(self, kc: Any) -> None:
        while True:
            try:
                msg = await kc.get_shell_msg()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - channel closed during teardown
                return
            if self._foreign(msg):
                return
            parent = msg.get("parent_header", {}).get("msg_id")
            fut = self._pending.pop(parent, None)
            if fut is not None and not fut.done():
                fut.set_result(msg["content"])

    async def _iopub_loop(self, kc: Any) -> None:
        while True:
            try:
                msg = await kc.get_iopub_msg()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001
                return
            try:
                self._handle(msg)
            except Exception:  # noqa: BLE001 - one bad message must not stop routing
                log.exception("kernel %s: could not handle %s", self.name, msg.get("msg_type"))

    #: cell output another client (the console tab) asked for is that client's to show
    _OUTPUT = frozenset({"stream", "error", "execute_result", "display_data"})

    def _handle(self, msg: Dict[str, Any]) -> None:
        if msg["msg_type"] in self._OUTPUT and self._kc is not None:
            session = (msg.get("parent_header") or {}).get("session")
            if session and session != self._kc.session.session:
                return
        handler = getattr(self, f"_handle_{msg['msg_type']}", None)
        if handler is not None:
            handler(msg, msg["content"], self._routes.get(msg.get("parent_header", {}).get("msg_id")))

    def _handle_status(self, msg: Any, content: Any, route: Any) -> None:
        parent = msg.get("parent_header") or {}
        if parent.get("msg_type") == "comm_msg" and self._kc is not None \
                and parent.get("session") == self._kc.session.session:
            return  # our comm traffic (the tunnel's bytes) is not the kernel being busy
        state = content.get("execution_state")
        if state == "idle" and route is not None and not route["idle"].done():
            route["idle"].set_result(None)
        if state in KERNEL_READY and self.state in KERNEL_READY and state != self.state:
            self._set_state(state)

    def _handle_error(self, msg: Any, content: Any, route: Any) -> None:
        tb = "\n".join(content.get("traceback", []))
        if route is not None and route.get("capture") is not None:
            route["capture"]["traceback"].append(tb)
            return
        app = route.get("app") if route else None
        summary = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
        what = route.get("what") if route else None
        if what:
            summary = f"{what} failed: {summary}"
        self._on_event(LogRecord(self.name, app, "ERROR", summary, logger="cell", traceback=strip_ansi(tb),
                                 origin="cell"))

    def _handle_execute_result(self, msg: Any, content: Any, route: Any) -> None:
        text = content.get("data", {}).get("text/plain", "")
        if route is not None and route.get("capture") is not None:
            route["capture"]["result"].append(text)

    _handle_display_data = _handle_execute_result

    def _handle_comm_open(self, msg: Any, content: Any, route: Any) -> None:
        if content.get("target_name") == protocol.COMM_TARGET:
            self._handle_records(content.get("data") or {})
        else:
            self._route_comm_open(content)

    def _handle_comm_msg(self, msg: Any, content: Any, route: Any) -> None:
        if self._route_comm_msg(content):
            return
        behind = self._backlog.behind(msg.get("header"))
        self._handle_records(content.get("data") or {}, behind)
        if not behind:
            said = self._backlog.said()
            if said is not None:
                self._on_event(LogRecord(self.name, None, "WARNING", said, logger="tornado_launcher",
                                         origin="launcher"))

    def _handle_records(self, data: Dict[str, Any], behind: bool = False) -> None:
        for rec in protocol.decode(data):
            kind = rec["type"]
            if kind == protocol.LOG and behind and not str(rec["message"]).startswith("tornado-launcher: "):
                self._backlog.dropped += 1  # (the bridge's own notes, e.g. its drop count, are kept)
            elif kind == protocol.LOG:
                self._on_event(LogRecord(
                    self.name, rec["app"], rec["level"], rec["message"], logger=rec["logger"],
                    time=rec["time"], traceback=rec["traceback"], origin=rec["origin"],
                ))
            elif kind == protocol.STATE:
                self._on_event(AppState(
                    rec["app"], self.name, rec["state"], rec["reason"],
                    rec["elapsed_ms"], self._shown_urls(rec), rec["threaded"],
                    template_paths=rec["template_paths"], static_paths=rec["static_paths"], reload=rec["reload"],
                ))
            elif kind == protocol.HANG:
                self._on_event(LoopBlocked(self.name, rec["loop"], rec["apps"], rec["blocked"],
                                           rec["seconds"], rec["where"]))
            elif kind == protocol.HELLO:
                self._handle_hello(rec)
            elif kind == protocol.FILES and self.on_files is not None:
                self.on_files(rec)

    def _shown_urls(self, rec: Dict[str, Any]) -> tuple:
        """The URLs a state record's app serves, as a browser here reaches them (:func:`shown_urls`;
        through the kernel's connection when it has a ``tunnel``)."""
        if self.tunnel is not None and rec["urls"] and rec["state"] == "running":
            return self.tunnel.local_urls(rec["urls"])
        return shown_urls(self.name, rec, self.remote_host, self._hinted, self._on_event)

    def _handle_hello(self, rec: Dict[str, Any]) -> None:
        """The bridge says who it is (at each install): kept in ``self.hello``."""
        self.hello = rec

    # -------------------------------------------------------------- execution
    async def execute(
        self,
        code: str,
        *,
        app: Optional[str] = None,
        what: Optional[str] = None,
        capture: bool = False,
        timeout: Optional[float] = None,
        store_history: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """Run ``code`` as a cell; return its reply content.

        Output goes to ``app``'s log (or the kernel's) unless ``capture`` is
        true, in which case the reply dict also has ``stdout``, ``stderr``,
        ``result`` and ``traceback`` (for the console).  ``what`` names the
        action in error messages ("start code of app 'web'").
        """
        if self._kc is None or self.state not in KERNEL_READY:
            return {"status": "error", "ename": "KernelNotRunning",
                    "evalue": f"kernel {self.name!r} is {self.state}", "traceback": []}
        loop = asyncio.get_running_loop()
        route: Dict[str, Any] = {"app": app, "what": what, "capture": None, "idle": loop.create_future()}
        if capture:
            route["capture"] = {"stdout": [], "stderr": [], "result": [], "traceback": []}
        if store_history is None:
            store_history = capture  # the console's cells are the user's history; plumbing is not
        for attempt in range(ABORTED_RETRIES):
            reply = await self._execute_once(code, route, store_history, timeout)
            # ipykernel aborts every queued request, whoever sent it, after a
            # cell with stop_on_error fails (a console's, say): ours never ran, so send it again
            if (reply.get("status") != "aborted" or self._kc is None or self.state not in KERNEL_READY
                    or attempt == ABORTED_RETRIES - 1):
                break
            log.info("kernel %s: %s was aborted unrun after another client's error; sending it again",
                     self.name, what or "a cell")
            self._aborted(app, what, again=True)
            route["idle"] = loop.create_future()
        if reply.get("status") == "aborted":
            self._aborted(app, what, again=False)  # the reply stays "aborted": describe_error() says why
        if capture:
            cap = route["capture"]
            reply = dict(reply)
            reply["stdout"] = "".join(cap["stdout"])
            reply["stderr"] = "".join(cap["stderr"])
            reply["result"] = "\n".join(cap["result"]) or None
            reply["traceback"] = "\n".join(cap["traceback"]) or None
        return reply

    def _aborted(self, app: Optional[str], what: Optional[str], *, again: bool) -> None:
        """An "aborted" reply is never silence: the log says the cell did not run, and why."""
        why = ("the kernel aborted it unrun because a cell queued before it raised (sent by another "
               "client with stop_on_error)")
        self._on_event(LogRecord(
            self.name, app, "WARNING" if again else "ERROR",
            f"{what or 'a cell'} did not run: {why}; " + ("sending it again" if again else
                                                           f"gave up after {ABORTED_RETRIES} tries"),
            logger="cell", origin="launcher"))

    async def _execute_once(self, code: str, route: Dict[str, Any], store_history: bool,
                            timeout: Optional[float]) -> Dict[str, Any]:
        loop = asyncio.get_running_loop()
        # stop_on_error=False: an error in our cell must not abort the cells
        # other clients (a console) have queued in the kernel
        msg_id = self._kc.execute(code, silent=False, store_history=store_history, allow_stdin=False,
                                  stop_on_error=False)
        self._rearm_shell()
        fut = loop.create_future()
        self._pending[msg_id] = fut
        self._routes[msg_id] = route
        try:
            reply = await asyncio.wait_for(fut, timeout) if timeout else await fut
            # The cell's output on iopub ends with its "idle" status, which may
            # trail the shell reply: wait for it so output is complete and in order.
            if reply.get("ename") != "KernelDied":
                try:
                    await asyncio.wait_for(asyncio.shield(route["idle"]), 5.0)
                except asyncio.TimeoutError:
                    pass
        finally:
            self._pending.pop(msg_id, None)
            # late iopub output (after idle is impossible, but cheap to allow)
            loop.call_later(1.0, self._routes.pop, msg_id, None)
        return reply

    async def interrupt(self) -> None:
        if self._km is not None and self.state in KERNEL_READY:
            await self._km.interrupt_kernel()

    # --------------------------------------------------------------- shutdown
    def _stop_routing(self) -> None:
        """Cancel the reader tasks and every cell still waiting for its reply."""
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        self._pending.clear()

    async def _teardown(self, now: bool) -> None:
        if self._hb_timer is not None:
            self._hb_timer.cancel()
            self._hb_timer = None
        self._silent_since = None
        self._stop_routing()
        if self._kc is not None:
            try:
                self._kc.stop_channels()
            except Exception:  # noqa: BLE001
                pass
            self._kc = None
        km, self._km = self._km, None
        if km is not None:
            try:
                if km.has_kernel:
                    await km.shutdown_kernel(now=now)
                else:
                    await km.cleanup_resources()
            except Exception as e:  # noqa: BLE001
                log.debug("kernel %s: shutdown: %s", self.name, e)
                try:
                    await km.shutdown_kernel(now=True)
                except Exception:  # noqa: BLE001
                    pass
        # The process is gone, so its pipes are at EOF: the threads end now.
        # Join them (off the loop) so none calls into a loop being closed.
        threads, self._threads = self._threads, []
        if threads:
            await asyncio.get_running_loop().run_in_executor(None, _join_all, threads, READER_JOIN_TIMEOUT)

    async def shutdown(self, now: bool = False) -> None:
        """Stop the kernel process and release its files. Idempotent."""
        self._expect_exit = True
        if self._km is None and self._kc is None:
            if self.state != "dead":
                self._set_state("stopped")
            return
        await self._teardown(now=now)
        self._set_state("stopped")

    def kill_now(self) -> None:
        """SIGKILL the kernel's process group at once (a second Ctrl+C). Synchronous."""
        self._expect_exit = True
        proc = getattr(getattr(self._km, "provisioner", None), "process", None)
        if proc is None or proc.poll() is not None:
            return
        try:
            if sys.platform != "win32":
                os.killpg(os.getpgid(proc.pid), 9)
            else:
                proc.kill()
        except OSError:
            try:
                proc.kill()
            except OSError:
                pass

    async def restart(self) -> None:
        """A fresh process (after death, or on the user's request)."""
        self._expect_exit = True
        await self._teardown(now=True)
        self._set_state("restarting")
        await self.start()
