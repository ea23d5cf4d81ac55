"""`process` blocks: a command beside the apps (a front-end dev server, a worker).

A :class:`Process` runs one shell command in its own process group, streams
its output line by line as :class:`~tornado_launcher.engine.events.LogRecord` events
and reports its state as :class:`~tornado_launcher.engine.events.AppState` events, so
views show it like an app: start, stop, restart, log, exit status.

* ``tty=True`` runs it on a pseudo-terminal, so tools that color their output
  or insist on a terminal behave as in a shell.
* Stop sends SIGTERM to the whole group, then SIGKILL after ``stop_timeout``.
* If the launcher itself dies (even by SIGKILL), the whole group is SIGKILLed
  at once by its guard: a ``/bin/sh`` that leads the group and blocks reading
  a pipe whose write end only the launcher holds.  ``PR_SET_PDEATHSIG`` alone
  is not enough: it reaches ``sh`` only, and dash forks even for a single
  command.  See :class:`_Guard`.

Thread-safety: public methods on the loop thread.  One reader thread and one
waiter thread per run; they only call ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, Optional

from .events import AppState, AppStateName, Event, LogRecord

#: status shells use for "command not found" / "found but not executable"
_NOT_FOUND, _NOT_EXECUTABLE = 127, 126


def _pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - not Linux: best effort
        pass


#: The guard's script.  It ignores the signals a stop sends to the group (so
#: it outlives the members it guards), blocks in ``read`` on its stdin (the
#: read end of a pipe), and when ``read`` returns (EOF: every holder of the
#: write end, i.e. the launcher, is gone or let go) it SIGKILLs its own process
#: group, itself included.  ``kill 0`` names the caller's own group, which
#: cannot be an unrelated reused id: the guard is a member while it runs.
_GUARD_SCRIPT = "trap '' HUP INT TERM QUIT; read _ ; kill -KILL 0"


class _Guard:
    """The leader of a command's process group that kills the group when the launcher goes.

    POSIX only.  ``/bin/sh`` (not ``sys.executable``, which in the frozen app
    is the app itself).  The write end of its pipe is non-inheritable, so no
    other child of the launcher holds it: it closes exactly when the launcher
    exits, however that happens, or when :meth:`release` closes it.
    """

    def __init__(self, cwd: str, env: Dict[str, str]) -> None:
        read_end, self._write_end = os.pipe()  # both O_CLOEXEC
        try:
            self.proc = subprocess.Popen(
                ["/bin/sh", "-c", _GUARD_SCRIPT], stdin=read_end, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, cwd=cwd, env=env,
                # A group of its own, in the launcher's session: setpgid lets
                # the command join a group only within its own session.
                process_group=0,
            )
        except BaseException:
            os.close(self._write_end)
            raise
        finally:
            os.close(read_end)
        self.pgid = self.proc.pid

    def release(self) -> None:
        """Let the guard go: it SIGKILLs what is left of its group, itself included.

        A daemon thread reaps it, so it leaves no zombie either.
        """
        if self._write_end is not None:
            os.close(self._write_end)
            self._write_end = None
            threading.Thread(target=self.proc.wait, daemon=True, name="tl-process-guard-reap").start()

    async def ended(self, timeout: float) -> None:
        """Release the guard and reap it (off the loop), at most ``timeout`` seconds."""
        self.release()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(None, self.proc.wait), timeout)
        except asyncio.TimeoutError:
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
        self.state: AppStateName = AppStateName.STOPPED
        self.pid: Optional[int] = None
        self.returncode: Optional[int] = None
        self._proc: Optional[subprocess.Popen] = None
        self._exited: Optional[asyncio.Future] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stopping = False
        self._started_at = 0.0
        self._guard: Optional[_Guard] = None
        #: the command's process group (the guard's pid on POSIX)
        self.pgid: Optional[int] = None

    # ----------------------------------------------------------------- events
    def _state(self, state: str, reason: Optional[str] = None, elapsed_ms: Optional[float] = None) -> None:
        self.state = AppStateName(state)
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
        guard = None
        if sys.platform == "win32":
            argv = self.command
            kwargs.update(shell=True, creationflags=subprocess.CREATE_NEW_PROCESS_GROUP)
        else:
            argv = ["/bin/sh", "-c", self.command]
            try:
                guard = _Guard(self.cwd, env)
            except OSError as e:
                self._state("failed", f"cannot run {self.command!r}: /bin/sh: {e.strerror or e}")
                return
            kwargs.update(process_group=guard.pgid, preexec_fn=_pdeathsig)
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
            if guard is not None:
                await guard.ended(self.stop_timeout)
            self._state("failed", f"cannot run {self.command!r}: {e.strerror or e}")
            return
        if slave is not None:
            os.close(slave)
        self._proc = proc
        self._guard = guard
        self.pid = proc.pid
        self.pgid = guard.pgid if guard is not None else proc.pid
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
        if not self._stopping and self._guard is not None:
            # Ended by itself: what it left running in its group goes with it.
            self._guard.release()
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
    async def stop(self, timeout: Optional[float] = None) -> None:
        """SIGTERM to the group, SIGKILL after ``timeout`` (default ``stop_timeout``); waits for the exit.

        The group's guard goes last, so a launcher killed during the stop
        still takes the group with it.
        """
        try:
            await self._stop(self.stop_timeout if timeout is None else timeout)
        finally:
            guard, self._guard = self._guard, None
            if guard is not None:
                await guard.ended(1.0)

    async def _stop(self, timeout: float) -> None:
        proc = self._proc
        if proc is None or self._exited is None or self._exited.done():
            if self.state not in ("stopped", "failed"):
                self._state("stopped")
            return
        self._stopping = True
        self._state("stopping")
        deadline = time.monotonic() + timeout
        self._signal(proc, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self._exited), timeout)
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
            self._log("WARNING", f"did not stop within {timeout:g} s of SIGTERM: killing it")
            self._signal(proc, getattr(signal, "SIGKILL", signal.SIGTERM))
            await asyncio.shield(self._exited)

    def _group_alive(self, proc: subprocess.Popen) -> bool:
        """Whether any member of the command's process group (but its guard) still runs.

        On Linux, zombies do not count: orphaned members are reaped by init,
        which may take a while in containers, and they hold nothing anymore.
        """
        if sys.platform == "win32":
            return False
        pgid = self.pgid or proc.pid
        guard = self._guard.pgid if self._guard is not None else None
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
                if int(fields[2]) == pgid and fields[0] != b"Z" and int(entry) != guard:
                    return True
            return False
        if guard is not None:  # no /proc: the leader's exit is all we can know
            return proc.poll() is None
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def _signal(self, proc: subprocess.Popen, sig: int) -> None:
        try:
            if sys.platform == "win32":
                subprocess.run(["taskkill", "/F", "/T", "/PID", str(proc.pid)], capture_output=True, env=self.env)
            else:
                os.killpg(self.pgid or proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_now(self) -> None:
        """SIGKILL the whole group, guard included, at once (a second Ctrl+C). Synchronous."""
        if self._proc is not None and self._proc.poll() is None:
            self._stopping = True
            self._signal(self._proc, getattr(signal, "SIGKILL", signal.SIGTERM))
        if self._guard is not None:
            self._guard.release()

    async def restart(self) -> None:
        await self.stop()
        await self.start()
