"""A kernel process started here: the provisioner of every kernel block without
``connection_file`` or ``gateway_url``.

:class:`ProcessProvisioner` runs the kernel through jupyter_client's ``AsyncKernelManager``
(whose own provisioner, ``LocalProvisioner`` or a kernelspec's, makes the process), on the
caller's asyncio loop (plain asyncio headless, qasync under the window; the code is the same):

* which kernel: a Jupyter kernelspec (``kernel_name``, kernelspecs.py), or a given interpreter
  (``python``, the project's venv, the launcher's own: interpreter.py) through a spec of our own
  (``kernelspecs.FixedSpecManager``), checked once per process for ipykernel and tornado;
* IPC transport with socket files and the connection file in the session's private runtime
  directory (runtime_dir.py, mode 0700): no kernel listens on TCP for us. (ipykernel's own
  subprocess-output pipe is a loopback TCP port in stock ipykernel: the kernels we start from a
  Python run ``bridge/boot.py``, whose pipe is an IPC socket there too; rejected pipe messages
  are counted and reported once per interval, see kernel_pipe.py);
* the process's raw stdout/stderr (crash output that never reaches iopub) read by two threads
  into the kernel's log; its last stderr lines say why a start failed;
* death is an event, not a poll: a thread blocks in ``Popen.wait()`` and hands the exit to the
  loop (``KernelConnection._died``);
* stop: a shutdown request, SIGTERM at half of :data:`SHUTDOWN_TIMEOUT`, SIGKILL at its end;
  ``kill_now`` SIGKILLs the process group; ``interrupt`` is the manager's (a signal, or an
  ``interrupt_request`` when the kernelspec asks for messages). A restart is a fresh process.

Shutdown, measured (issue 13): jupyter_client's ``shutdown_kernel()`` sends SIGINT first, then a
shutdown request, waits ``shutdown_wait_time / 2``, sends SIGTERM, waits again, then SIGKILLs the
process group (SIGKILL also ends a SIGSTOPped kernel). Its default 5 s plus the session's former
7 s app stop made a Ctrl+C take 9.8 s (a hung loop) and 12.9 s (a stopped kernel); with
:data:`SHUTDOWN_TIMEOUT` and the session's ``APP_STOP_TIMEOUT``, 2.8 s and 3.7 s.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading
import time
from collections import deque
from typing import Any, Dict, Optional

from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager

from ..engine.events import LogRecord
from . import interpreter
from .connection import KernelStartError, Provisioner
from .kernel_pipe import boot_argv, shown_argv
from .kernelspecs import FixedSpecManager, missing_kernelspec, uses_kernelspec

log = logging.getLogger(__name__)

#: Seconds a kernel gets to exit after a shutdown request: jupyter_client
#: sends SIGTERM at half of it and SIGKILL at the end (its default is 5 s,
#: too long for a Ctrl+C that must be done in 5 s with a hung kernel).
SHUTDOWN_TIMEOUT = 2.0
#: Seconds to wait for the reader threads once the process is gone (a child
#: the kernel forked may still hold its pipes: the threads are daemons).
READER_JOIN_TIMEOUT = 1.0

#: interpreters already found to have ipykernel and tornado, in this process
_CHECKED: set = set()


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _join_all(threads: list, timeout: float) -> None:
    """Join threads within ``timeout`` seconds in all (runs in a worker thread)."""
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))


class ProcessProvisioner(Provisioner):
    """A kernel process of ours, started in ``cwd`` with its files in ``runtime_dir``."""

    def __init__(self, *, cwd: str, runtime_dir: str, kernel_name: Optional[str] = None,
                 python: Optional[str] = None, env: Optional[Dict[str, str]] = None,
                 startup_timeout: float = 60.0) -> None:
        self.cwd = cwd
        self.runtime_dir = runtime_dir
        self.kernel_name = kernel_name
        self.python = python
        #: the kernel block's ``env``, added to the process's environment
        self.env = dict(env or {})
        self.startup_timeout = startup_timeout
        self.km: Optional[AsyncKernelManager] = None
        #: this process's raw-output readers and exit waiter (they end with it)
        self._threads: list = []
        #: the process's last stderr lines (a kernel that dies while starting says why there)
        self._last_err: deque = deque(maxlen=5)

    @property
    def connection_file(self) -> Optional[str]:
        km = self.km
        return km.connection_file if km is not None else None

    # ------------------------------------------------------------------ start
    async def _make_manager(self) -> AsyncKernelManager:
        """Choose the interpreter or kernelspec and build the manager."""
        name = self.kernel.name
        kw: Dict[str, Any] = {}
        if uses_kernelspec(self.kernel_name) and not self.python:
            problem = missing_kernelspec(name, self.kernel_name)
            if problem:
                raise KernelStartError(problem)
            kw["kernel_name"] = self.kernel_name
        else:
            try:
                python = interpreter.find_python(self.cwd, self.python)
            except interpreter.InterpreterError as e:
                raise KernelStartError(f"kernel {name!r}: {e}") from None
            if python not in _CHECKED:
                # The launcher's own (unfrozen) Python has ipykernel and tornado:
                # they are its dependencies. Others are probed once per process.
                if interpreter.is_frozen() or not _same_file(python, sys.executable):
                    problem = await interpreter.check_python(python, interpreter.child_env())
                    if problem:
                        raise KernelStartError(f"kernel {name!r}: {problem}")
                _CHECKED.add(python)
            spec = KernelSpec(
                argv=boot_argv(interpreter.kernel_argv(python)),  # its subprocess pipe private
                display_name=f"tornado-launcher ({python})",
                language="python",
                metadata={"debugger": False},
            )
            kw["kernel_name"] = "tornado-launcher"
            kw["kernel_spec_manager"] = FixedSpecManager(spec)
        if sys.platform == "win32":
            # ZeroMQ has no ipc transport on Windows: loopback TCP there.
            km = AsyncKernelManager(transport="tcp", ip="127.0.0.1", **kw)
        else:
            km = AsyncKernelManager(transport="ipc", **kw)
            # An absolute ipc prefix: the default relative "kernel-ipc" resolves
            # against each process's cwd, so kernel and launcher would not meet.
            km.ip = os.path.join(self.runtime_dir, name)
        km.connection_file = os.path.join(self.runtime_dir, f"{name}.json")
        if "kernel_spec_manager" not in kw and km.kernel_spec is not None:
            km.kernel_spec.argv = boot_argv(km.kernel_spec.argv)  # a stock ipykernel spec: as ours
        # The kernel is ours; jupyter_client's polling restarter stays off: we
        # learn of death from the process itself.
        km.autorestart = False
        km.shutdown_wait_time = SHUTDOWN_TIMEOUT
        return km

    async def launch(self, restart: bool) -> None:
        """Start the process and the client; open the channels once the kernel answers."""
        kernel = self.kernel
        self._last_err.clear()
        try:
            self.km = km = await self._make_manager()
            env = interpreter.child_env()
            env.setdefault("PYTHONUNBUFFERED", "1")
            env.update(self.env)
            await km.start_kernel(cwd=self.cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        except KernelStartError:
            raise
        except Exception as e:  # noqa: BLE001 - reported as a sentence
            raise KernelStartError(f"kernel {kernel.name!r} could not start: {e}") from e
        proc = km.provisioner.process  # type: ignore[union-attr]
        kernel.pid = proc.pid
        gen = kernel._gen
        self._threads = [
            threading.Thread(target=self._read_raw, args=(stream, level), daemon=True,
                             name=f"tl-kernel-{kernel.name}-raw")
            for stream, level in ((proc.stdout, "INFO"), (proc.stderr, "WARNING"))
        ]
        self._threads.append(threading.Thread(target=self._wait_process, args=(proc, gen), daemon=True,
                                              name=f"tl-kernel-{kernel.name}-wait"))
        for t in self._threads:
            t.start()
        kernel._reads_raw = True
        kc = km.client()
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=self.startup_timeout)
        except RuntimeError:
            code = proc.poll()
            # We stop it ourselves: not a death for the owner's restart guard.
            kernel._expect_exit = True
            try:
                kc.stop_channels()
            except Exception:  # noqa: BLE001
                pass
            await self.stop(now=True, restart=False)  # joins the readers: the last stderr lines are in
            raise KernelStartError(self._start_failure(code, km)) from None
        kernel._open_zmq(kc)

    def _start_failure(self, code: Optional[int], km: AsyncKernelManager) -> str:
        """The sentence for a kernel that ended or stayed silent before answering kernel_info."""
        spec = getattr(km, "kernel_spec", None)
        words = list(spec.argv if spec else ())
        if "{connection_file}" in words:  # run by hand, the kernel writes its own connection file
            i = words.index("{connection_file}")
            del words[i - 1 if i and words[i - 1] in ("-f", "--f") else i:i + 1]
        argv = shown_argv(words)
        name = self.kernel.name
        if code is not None:
            last = f": {self._last_err[-1]}" if self._last_err else ""
            return (f"kernel {name!r} exited with status {code} while starting{last}. "
                    f"Run `{argv}` in a terminal to see the whole error.")
        return (f"kernel {name!r} started but did not answer within {self.startup_timeout:g} s, "
                f"so it was stopped. Run `{argv}` in a terminal to see where it hangs.")

    # ------------------------------------------------------------- raw output
    def _read_raw(self, stream: Any, level: str) -> None:
        """Thread: forward the process's own stdout/stderr lines to the loop."""
        kernel = self.kernel
        loop = kernel._loop
        assert loop is not None
        try:
            for raw in iter(stream.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line and not kernel.rejected.take(line):  # rejected pipe messages: counted only
                    loop.call_soon_threadsafe(self._raw_line, line, level)
        except (OSError, ValueError, RuntimeError):
            pass  # stream closed, or the loop is gone at exit

    def _raw_line(self, line: str, level: str) -> None:
        if level == "WARNING":
            self._last_err.append(line)
        # lines of a previous process (its last words) are still worth showing
        self.kernel._on_event(LogRecord(self.kernel.name, None, level, line, logger="kernel", origin="raw"))

    def _wait_process(self, proc: subprocess.Popen, gen: int) -> None:
        """Thread: block until the kernel process ends, then tell the loop."""
        code = proc.wait()
        try:
            loop = self.kernel._loop
            assert loop is not None
            loop.call_soon_threadsafe(self._process_ended, code, gen)
        except RuntimeError:
            pass  # loop closed: we are exiting anyway

    def _process_ended(self, code: int, gen: int) -> None:
        """On the loop: the process of generation ``gen`` exited (a start still waiting for
        kernel_info notices by itself and says why)."""
        if code is not None and code < 0:
            import signal

            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with status {code}"
        self.kernel._died(f"kernel process {self.kernel.pid} {how}", gen)

    # ------------------------------------------------------------- the end
    async def stop(self, *, now: bool, restart: bool) -> bool:
        km, self.km = self.km, None
        if km is not None:
            try:
                if km.has_kernel:
                    await km.shutdown_kernel(now=now)
                else:
                    await km.cleanup_resources()
            except Exception as e:  # noqa: BLE001
                log.debug("kernel %s: shutdown: %s", self.kernel.name, e)
                try:
                    await km.shutdown_kernel(now=True)
                except Exception:  # noqa: BLE001
                    pass
        # The process is gone, so its pipes are at EOF: the threads end now.
        # Join them (off the loop) so none calls into a loop being closed.
        threads, self._threads = self._threads, []
        if threads:
            await asyncio.get_running_loop().run_in_executor(None, _join_all, threads, READER_JOIN_TIMEOUT)
        return km is not None

    async def interrupt(self) -> None:
        if self.km is not None:
            await self.km.interrupt_kernel()

    def kill_now(self) -> None:
        """SIGKILL the kernel's process group at once."""
        proc = getattr(getattr(self.km, "provisioner", None), "process", None)
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
