"""Drive a running launcher from outside: the control socket's server side.

One Unix socket per running config, in the user's private runtime directory
(``$XDG_RUNTIME_DIR/tornado-launcher`` when that is ours, else
``<tempdir>/tornado-launcher-<uid>``; the directory 0700, the socket 0600),
named by a hash of the config files' real paths, so ``tornado-launcher status``
finds the launcher of ``./jaffle.hcl`` as ``start`` finds the file.  A peer of
another user is refused (SO_PEERCRED), on top of the file modes.

The protocol is JSON lines.  The client sends one request::

    {"cmd": "status"}
    {"cmd": "restart" | "stop", "apps": ["web", ...]}
    {"cmd": "interrupt" | "restart-kernel", "kernel": "k"}
    {"cmd": "logs", "app": "web", "follow": false, "lines": 200}

and reads one reply ``{"ok": true|false, "error": "...", ...}``; ``logs``
sends ``{"log": {...}}`` lines and then the reply (``follow``: lines until
either side closes).  Every request maps to the Session's public methods;
the server only keeps what the session does not: recent log lines per source
and each app's last reload time.

This module and :mod:`tornado_launcher.control.client` import no Qt and, at
import time, nothing but the standard library.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import socket
import stat
import struct
import tempfile
from collections import deque
from typing import Any, Deque, Dict, Iterable, List, Optional, Sequence

log = logging.getLogger(__name__)

#: log records kept per app / kernel for ``logs APP``
LOG_LINES = 2000
#: a request line is small; anything longer is not ours
MAX_REQUEST = 64 * 1024



def _ready(state: str) -> bool:
    """The kernel has started and answers (:data:`~tornado_launcher.engine.events.KERNEL_READY`)."""
    from ..engine.events import KERNEL_READY  # here: at import time this module needs only the stdlib

    return state in KERNEL_READY

class ControlError(Exception):
    """A sentence for the user: the runtime directory or socket is not safe or usable."""


def config_key(paths: Sequence[str]) -> str:
    """The identity of a config: its files' real paths, in merge order."""
    return "\n".join(os.path.realpath(os.path.abspath(p)) for p in paths)


#: a Unix socket's path must fit in sun_path (108 bytes on Linux, 104 on macOS)
MAX_SOCKET_PATH = 100


def runtime_dir(create: bool = False) -> str:
    """The user's private directory for control sockets (0700, owned by us).

    Raises :class:`ControlError` when it exists with the wrong owner or modes."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    uid = os.getuid()
    # (a long $XDG_RUNTIME_DIR would not fit a socket's path: then the temp dir's)
    if base and os.path.isdir(base) and os.stat(base).st_uid == uid \
            and len(os.path.join(base, "tornado-launcher", "control-" + "0" * 20 + ".sock")) <= MAX_SOCKET_PATH:
        path = os.path.join(base, "tornado-launcher")
    else:
        path = os.path.join(tempfile.gettempdir(), f"tornado-launcher-{uid}")
    if create:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return path
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != uid or st.st_mode & 0o077:
        raise ControlError(
            f"{path} is not a private directory of this user (it must be a directory owned by uid {uid} "
            f"with mode 0700); remove it or fix its owner and mode (chmod 700) and try again")
    return path


def socket_path(paths: Sequence[str], create_dir: bool = False) -> str:
    digest = hashlib.sha256(config_key(paths).encode("utf-8", "surrogateescape")).hexdigest()[:20]
    return os.path.join(runtime_dir(create_dir), f"control-{digest}.sock")


def peer_uid(sock: socket.socket) -> Optional[int]:
    """The uid of the process at the other end of a Unix socket (Linux: SO_PEERCRED)."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:  # macOS / BSD
        try:
            return os.getpeereid(sock.fileno())[0]  # type: ignore[attr-defined]
        except (AttributeError, OSError):
            return None
    creds = sock.getsockopt(socket.SOL_SOCKET, opt, struct.calcsize("3i"))
    return struct.unpack("3i", creds)[1]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    return value


def _log_dict(event: Any) -> Dict[str, Any]:
    return {"time": event.time, "source": event.source, "app": event.app, "kernel": event.kernel,
            "level": event.level, "logger": event.logger, "message": event.message,
            "traceback": event.traceback, "origin": event.origin}


class ControlServer:
    """Serves one session's control socket; ``close()`` stops it (sync, idempotent)."""

    def __init__(self, session: Any, config_paths: Sequence[str]) -> None:
        self.session = session
        self.config_paths = [os.path.realpath(os.path.abspath(p)) for p in config_paths]
        self.path: Optional[str] = None
        self._server: Optional[asyncio.AbstractServer] = None
        self._logs: Dict[str, Deque[Dict[str, Any]]] = {}
        self._last_reload: Dict[str, Dict[str, Any]] = {}
        self._followers: List[asyncio.Queue] = []
        self._writers: set = set()
        self._unsubscribe = session.subscribe(self._on_event)
        self._closed = False
        #: another launcher already serves this config (``start`` found it answering) ...
        self.another_runs = False
        #: ... and this is its pid (None: it did not say)
        self.other_pid: Optional[int] = None

    # ------------------------------------------------------------ lifetime
    async def start(self) -> bool:
        """Listen; False (with a log line) when another launcher already serves this config."""
        try:
            path = socket_path(self.config_paths, create_dir=True)
        except (ControlError, OSError) as e:
            self._say("WARNING", f"control commands are off: {e}")
            return False
        if os.path.exists(path):
            if await _answers(path):
                self.another_runs = True
                self.other_pid = await _pid_of(path)
                self._say("WARNING", f"another launcher already runs {self.config_paths[0]}; "
                          f"control commands reach that one ({path})")
                return False
            try:
                os.unlink(path)  # left by a launcher that was killed
            except FileNotFoundError:
                pass
        old = os.umask(0o177)  # the socket is born 0600: no window where others could connect
        try:
            self._server = await asyncio.start_unix_server(self._client, path=path, limit=MAX_REQUEST)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.path = path
        if self._closed:  # closed while starting
            self.close()
        return True

    def close(self) -> None:
        self._closed = True
        if self._unsubscribe is not None:
            try:
                self._unsubscribe()
            except Exception:
                pass
            self._unsubscribe = None
        for q in self._followers:
            _offer(q, None)
        if self._server is not None:
            self._server.close()
            self._server = None
            for w in list(self._writers):
                w.close()
        if self.path is not None:
            try:
                if os.path.exists(self.path):
                    os.unlink(self.path)
            except OSError:
                pass
            self.path = None

    def _say(self, level: str, message: str) -> None:
        try:
            self.session.log("launcher", level, message)
        except Exception:
            log.warning("%s", message)

    # ------------------------------------------------------------- events
    def _on_event(self, event: Any) -> None:
        kind = type(event).__name__
        if kind == "LogRecord":
            d = _log_dict(event)
            q = self._logs.get(event.source)
            if q is None:
                q = self._logs[event.source] = deque(maxlen=LOG_LINES)
            q.append(d)
            for f in self._followers:
                _offer(f, d)
        elif kind == "ReloadEvent" and event.outcome == "done":
            self._last_reload[event.app] = {"time": event.time, "path": event.path, "elapsed_ms": event.elapsed_ms,
                                            "kind": event.kind, "detail": event.detail}

    # ----------------------------------------------------------- requests
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            sock = writer.get_extra_info("socket")
            uid = peer_uid(sock) if sock is not None else None
            if uid != os.getuid():
                try:  # read its request first, so a well-behaved client reads the answer, not EPIPE
                    await asyncio.wait_for(reader.readline(), 5)
                except (asyncio.TimeoutError, ValueError, asyncio.LimitOverrunError):
                    pass
                await _send(writer, {"ok": False, "error": f"refused: the launcher runs as uid {os.getuid()}, "
                                     f"the request came from uid {uid}"})
                return
            try:
                line = await reader.readline()
                request = json.loads(line)
                if not isinstance(request, dict):
                    raise ValueError("not an object")
            except (ValueError, asyncio.LimitOverrunError):
                await _send(writer, {"ok": False, "error": "a request is one JSON object on one line"})
                return
            reply = await self._handle(request, writer)
            if reply is not None:
                await _send(writer, reply)
        except (ConnectionError, BrokenPipeError):
            pass
        except Exception as e:  # one bad request must not take the server down
            log.exception("control request failed")
            try:
                await _send(writer, {"ok": False, "error": f"the launcher failed on this request: {e!r}"})
            except Exception:
                pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def _handle(self, req: Dict[str, Any], writer: asyncio.StreamWriter) -> Optional[Dict[str, Any]]:
        cmd = req.get("cmd")
        problem = _bad_fields(req)
        if problem is not None:
            return {"ok": False, "error": problem}
        if cmd == "status":
            return self.status()
        if cmd in ("restart", "stop", "start"):
            return await self._act(cmd, req.get("apps") or [])
        if cmd in ("interrupt", "restart-kernel"):
            name = req.get("kernel")
            if name not in self.session.kernels:
                return {"ok": False, "error": f"no kernel named {name!r}; kernels: {_names(self.session.kernels)}"}
            if cmd == "restart-kernel":
                return await self._restart_kernel(name)
            k = self.session.kernels[name]
            if not _ready(k.state):  # Kernel.interrupt would do nothing: not "settled as asked"
                why = f" ({k.reason})" if k.reason else ""
                return {"ok": False, "error": f"kernel {name!r} is {k.state}{why}: there is nothing to interrupt; "
                        f"restart it with `tornado-launcher restart-kernel {name}` (or from the window), "
                        "or restart its apps"}
            try:
                await self.session.interrupt_kernel(name)
            except Exception as e:
                return {"ok": False, "error": f"interrupting kernel {name!r} failed: {e}"}
            return {"ok": True, "kernel": name}
        if cmd == "logs":
            return await self._logs_request(req, writer)
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    async def _restart_kernel(self, name: str) -> Dict[str, Any]:
        """A fresh kernel process (also one given up after too many deaths), its wanted apps started."""
        try:
            await self.session.restart_kernel(name)
        except Exception as e:
            return {"ok": False, "error": f"restarting kernel {name!r} failed: {e}"}
        k = self.session.kernels[name]
        apps = [{"name": a.name, "state": a.state, "reason": a.reason, "urls": list(a.urls)}
                for a in self.session.apps.values() if a.kernel == name]
        if not _ready(k.state):
            return {"ok": False, "kernel": name, "state": k.state, "apps": apps,
                    "error": f"kernel {name!r} is {k.state}" + (f": {k.reason}" if k.reason else "")}
        return {"ok": True, "kernel": name, "state": k.state, "pid": k.pid, "apps": apps}

    def status(self) -> Dict[str, Any]:
        apps = []
        for name, a in self.session.apps.items():
            last = self._last_reload.get(name)
            apps.append({"name": name, "kind": a.kind, "state": a.state, "reason": a.reason,
                         "urls": list(a.urls), "kernel": a.kernel or None, "threaded": a.threaded,
                         "auto_reload": a.auto_reload, "live_reload": a.live_reload, "disabled": a.disabled,
                         "stale": a.stale,
                         "elapsed_ms": a.elapsed_ms, "last_reload": last,
                         "last_reload_ms": last["elapsed_ms"] if last else None})
        kernels = [{"name": name, "state": k.state, "reason": k.reason, "pid": k.pid}
                   for name, k in self.session.kernels.items()]
        return {"ok": True, "config": self.config_paths, "pid": os.getpid(), "apps": apps, "kernels": kernels}

    async def _act(self, cmd: str, names: Iterable[str]) -> Dict[str, Any]:
        names = list(names)
        unknown = [n for n in names if n not in self.session.apps]
        if not names or unknown:
            what = f"no app named {', '.join(map(repr, unknown))}" if unknown else "no app given"
            return {"ok": False, "error": f"{what}; apps: {_names(self.session.apps)}"}
        want = "stopped" if cmd == "stop" else "running"

        async def one(name: str) -> Dict[str, Any]:
            info = self.session.apps[name]
            try:
                if cmd == "stop":
                    state = await self.session.stop_app(name)
                elif cmd == "start" or info.state in ("stopped",):
                    state = await self.session.start_app(name)
                else:
                    state = await self.session.restart_app(name)
            except Exception as e:
                return {"name": name, "ok": False, "state": info.state, "reason": str(e) or repr(e)}
            info = self.session.apps.get(name, info)
            got = state.state if state is not None else info.state
            reason = (state.reason if state is not None else None) or info.reason
            if state is None and got != want:
                reason = reason or f"did not settle within {getattr(self.session, 'settle_timeout', 30):g} s"
            ok = got == want or (info.kind == "job" and cmd != "stop" and got != "failed")
            return {"name": name, "ok": ok, "state": got, "reason": reason, "urls": list(info.urls)}

        results = await asyncio.gather(*(one(n) for n in names))
        return {"ok": all(r["ok"] for r in results), "apps": list(results)}

    async def _logs_request(self, req: Dict[str, Any], writer: asyncio.StreamWriter) -> Optional[Dict[str, Any]]:
        name = req.get("app")
        if name not in self.session.apps and name not in self.session.kernels and name != "launcher":
            return {"ok": False, "error": f"no app or kernel named {name!r}; apps: {_names(self.session.apps)}"}
        lines = req.get("lines")
        past = list(self._logs.get(name, ()))
        if isinstance(lines, int) and lines >= 0:
            past = past[-lines:] if lines else []
        queue: Optional[asyncio.Queue] = None
        if req.get("follow"):
            queue = asyncio.Queue(maxsize=LOG_LINES)
            self._followers.append(queue)
        try:
            for d in past:
                writer.write((json.dumps({"log": d}) + "\n").encode())
            await writer.drain()
            if queue is None:
                return {"ok": True}
            while True:
                d = await queue.get()
                if d is None:  # the launcher is closing
                    return {"ok": True, "closed": True}
                if d["source"] == name:
                    writer.write((json.dumps({"log": d}) + "\n").encode())
                    await writer.drain()
        finally:
            if queue is not None and queue in self._followers:
                self._followers.remove(queue)


#: the fields a request may carry, and their types (a request is data from outside: checked first)
_FIELDS = {"cmd": (str,), "apps": (list,), "app": (str,), "kernel": (str,), "follow": (bool,),
           "lines": (int, type(None))}


def _bad_fields(req: Dict[str, Any]) -> Optional[str]:
    """Why a request's fields have the wrong types (a sentence), or None."""
    for key, types in _FIELDS.items():
        if key in req and not isinstance(req[key], types) or (types == (int, type(None)) and isinstance(
                req.get(key), bool)):
            want = {"apps": "a list of app names", "follow": "true or false", "lines": "a number or null"}.get(
                key, "a string")
            return f"bad request: {key!r} must be {want}, not {json.dumps(req[key])[:80]}"
    if "apps" in req and not all(isinstance(n, str) for n in req["apps"]):
        return "bad request: 'apps' must be a list of app names (strings)"
    return None


def _offer(q: asyncio.Queue, item: Any) -> None:
    """Queue ``item`` for a follower; one that fell behind (``logs -f | less``, paused) loses its
    oldest lines instead of the launcher's memory growing."""
    try:
        q.put_nowait(item)
    except asyncio.QueueFull:
        q.get_nowait()
        q.put_nowait(item)


def _names(d: Dict[str, Any]) -> str:
    return ", ".join(d) or "(none)"


async def _send(writer: asyncio.StreamWriter, obj: Dict[str, Any]) -> None:
    writer.write((json.dumps(obj, default=_plain) + "\n").encode())
    await writer.drain()


async def _answers(path: str) -> bool:
    try:
        _, w = await asyncio.wait_for(asyncio.open_unix_connection(path), 2)
    except (OSError, asyncio.TimeoutError):
        return False
    w.close()
    return True


async def _pid_of(path: str) -> Optional[int]:
    """The pid the launcher at ``path`` reports in its status (None if it does not say)."""
    try:
        r, w = await asyncio.wait_for(asyncio.open_unix_connection(path, limit=1 << 24), 2)
    except (OSError, asyncio.TimeoutError):
        return None
    try:
        w.write(b'{"cmd": "status"}\n')
        reply = json.loads(await asyncio.wait_for(r.readline(), 5))
        pid = reply.get("pid") if isinstance(reply, dict) else None
        return pid if isinstance(pid, int) else None
    except (OSError, ValueError, asyncio.TimeoutError, asyncio.LimitOverrunError):
        return None
    finally:
        w.close()


def serve(session: Any, config_paths: Sequence[str]) -> ControlServer:
    """Start serving ``session``'s control socket in the background (call on the loop
    thread, e.g. from the window); returns the server, whose ``close()`` stops it."""
    server = ControlServer(session, config_paths)
    spawn = getattr(session, "spawn", None)
    if spawn is not None:
        spawn(server.start(), "control socket")
    else:
        asyncio.ensure_future(server.start())
    return server
