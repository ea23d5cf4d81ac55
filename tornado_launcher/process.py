"""`process` blocks: a command beside the apps (a front-end dev server, a worker).

A :class:`Process` runs one shell command in its own process group, streams
its output line by line as :class:`~tornado_launcher.events.LogRecord` events
and reports its state as :class:`~tornado_launcher.events.AppState` events, so
views show it like an app: start, stop, restart, log, exit status.

* ``tty=True`` runs it on a pseudo-terminal, so tools that color their output
  or insist on a terminal behave as in a shell.
* Stop sends SIGTERM to the whole group, then SIGKILL after ``stop_timeout``.
* If the launcher itself is killed, Linux delivers SIGTERM to the command
  (``PR_SET_PDEATHSIG``), so nothing is left behind by a crash either.

Thread-safety: public methods on the loop thread.  One reader thread and one
waiter thread per run; they only call ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, Optional

from .events import AppState, Event, LogRecord

#: status shells use for "command not found" / "found but not executable"
_NOT_FOUND, _NOT_EXECUTABLE = 127, 126


def _pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: best effort
        pass


class Process:
    """One command; start/stop/restart; output and state as events."""

    def __init__(
        self,
        name: str,
        command: str,
        *,
        cwd: str,
        on_event: Callable[[Event], None],
        env: Optional[Dict[str, str]] = None,
        tty: bool = False,
        stop_timeout: float = 5.0,
    ) -> None:
        self.name = name
        self.command = command
        self.cwd = cwd
        self.env = env
        self.tty = tty
        self.stop_timeout = stop_timeout
        self._on_event = on_event
        self.state = "stopped"
        self.pid: Optional[int] = None
        self.returncode: Optional[int] = None
        self._proc: Optional[subprocess.Popen] = None
        self._exited: Optional[asyncio.Future] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stopping = False
        self._started_at = 0.0

    # ----------------------------------------------------------------- events
    def _state(self, state: str, reason: Optional[str] = None, elapsed_ms: Optional[float] = None) -> None:
        self.state = state
        self._on_event(AppState(self.name, "", state, reason, elapsed_ms))

    def _log(self, level: str, message: str, origin: str = "launcher") -> None:
        self._on_event(LogRecord("", self.name, level, message, logger=self.name, origin=origin))

    # ------------------------------------------------------------------ start
    async def start(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self._loop = loop = asyncio.get_running_loop()
        self._stopping = False
        self.returncode = None
        self._state("starting")
        t0 = time.perf_counter()
        env = dict(self.env if self.env is not None else os.environ)
        master = slave = None
        kwargs: dict = dict(cwd=self.cwd, env=env, stdin=subprocess.DEVNULL)
        if sys.platform == "win32":
            argv = self.command
            kwargs.update(shell=True, creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
        else:
            argv = ["/bin/sh", "-c", self.command]
            kwargs.update(start_new_session=True, preexec_fn=_pdeathsig)
        if self.tty and sys.platform != "win32":
            import pty

            master, slave = pty.openpty()
            env.setdefault("TERM", "xterm-256color")
            kwargs.update(stdin=slave, stdout=slave, stderr=slave)
        else:
            kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            proc = subprocess.Popen(argv, **kwargs)
        except OSError as e:
            for fd in (master, slave):
                if fd is not None:
                    os.close(fd)
            self._state("failed", f"cannot run {self.command!r}: {e.strerror or e}")
            return
        if slave is not None:
            os.close(slave)
        self._proc = proc
        self.pid = proc.pid
        self._exited = loop.create_future()
        self._started_at = time.monotonic()
        if master is not None:
            reader = threading.Thread(target=self._read_pty, args=(master,), daemon=True)
        else:
            reader = threading.Thread(target=self._read_pipe, args=(proc.stdout,), daemon=True)
        reader.name = f"tl-process-{self.name}-out"
        reader.start()
        threading.Thread(target=self._wait, args=(proc, reader), daemon=True,
                         name=f"tl-process-{self.name}-wait").start()
        self._state("running", elapsed_ms=(time.perf_counter() - t0) * 1000.0)

    # ----------------------------------------------------------------- output
    def _emit_line(self, line: str) -> None:
        if line.strip():
            self._on_event(LogRecord("", self.name, "INFO", line, logger=self.name, origin="stdout"))

    def _forward(self, text: str) -> None:
        assert self._loop is not None
        for line in text.splitlines():
            try:
                self._loop.call_soon_threadsafe(self._emit_line, line.rstrip("\r"))
            except RuntimeError:
                return

    def _read_pipe(self, stream) -> None:  # thread
        try:
            for raw in iter(stream.readline, b""):
                self._forward(raw.decode("utf-8", "replace"))
        except (OSError, ValueError):
            pass

    def _read_pty(self, fd: int) -> None:  # thread
        pending = b""
        try:
            while True:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:  # EIO: the terminal's last writer is gone
                    break
                if not chunk:
                    break
                pending += chunk
                if b"\n" in pending:
                    done, pending = pending.rsplit(b"\n", 1)
                    self._forward(done.decode("utf-8", "replace"))
            if pending:
                self._forward(pending.decode("utf-8", "replace"))
        finally:
            os.close(fd)

    # ------------------------------------------------------------------- exit
    def _wait(self, proc: subprocess.Popen, reader: threading.Thread) -> None:  # thread
        code = proc.wait()
        reader.join(2.0)  # let the last lines out first
        try:
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._ended, proc, code)
        except RuntimeError:
            pass

    def _ended(self, proc: subprocess.Popen, code: int) -> None:
        if proc is not self._proc:
            return
        self.returncode = code
        if self._exited is not None and not self._exited.done():
            self._exited.set_result(code)
        if self._stopping:
            self._state("stopped", f"stopped (exit status {code})")
            return
        word = self.command.strip().split()[0] if self.command.strip() else self.command
        if code == _NOT_FOUND:
            self._state("failed", f"command not found: {word} (exit status 127); check `command` and PATH")
        elif code == _NOT_EXECUTABLE:
            self._state("failed", f"{word} is not executable (exit status 126)")
        elif code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            self._state("failed", f"killed by {name}")
        elif code == 0:
            self._state("stopped", "exited with status 0")
        else:
            self._state("failed", f"exited with status {code}")

    # ------------------------------------------------------------------- stop
    async def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after ``stop_timeout``; waits for the exit."""
        proc = self._proc
        if proc is None or self._exited is None or self._exited.done():
            if self.state not in ("stopped", "failed"):
                self._state("stopped")
            return
        self._stopping = True
        self._state("stopping")
        deadline = time.monotonic() + self.stop_timeout
        self._signal(proc, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self._exited), self.stop_timeout)
            # The leader is gone; the rest of its group (a pipeline, a dev
            # server's workers) got the same SIGTERM and may still be exiting.
            # They are not our children, so no exit event reaches us: check the
            # group with a short backoff until the same deadline.
            delay = 0.005
            while self._group_alive(proc) and time.monotonic() < deadline:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.2)
            if self._group_alive(proc):
                raise asyncio.TimeoutError
        except asyncio.TimeoutError:
            self._log("WARNING", f"did not stop within {self.stop_timeout:g} s of SIGTERM: killing it")
            self._signal(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
            await asyncio.shield(self._exited)

    @staticmethod
    def _group_alive(proc: subprocess.Popen) -> bool:
        """Whether any member of the command's process group still runs.

        On Linux, zombies do not count: orphaned members are reaped by init,
        which may take a while in containers, and they hold nothing anymore.
        """
        if sys.platform == "win32":
            return False
        pgid = proc.pid
        if sys.platform.startswith("linux") and os.path.isdir("/proc"):
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        fields = f.read().rsplit(b")", 1)[1].split()
                except OSError:
                    continue
                # fields: state, ppid, pgrp, ...
                if int(fields[2]) == pgid and fields[0] != b"Z":
                    return True
            return False
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _signal(self, proc: subprocess.Popen, sig: int) -> None:
        try:
            if sys.platform == "win32":
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True)
            else:
                os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    async def restart(self) -> None:
        await self.stop()
        await self.start()


def describe(command: str) -> str:
    """A short form of a command for titles."""
    try:
        return " ".join(shlex.split(command)[:3])
    except ValueError:
        return command[:40]
