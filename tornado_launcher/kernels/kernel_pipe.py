"""ipykernel's pipe for output of forked subprocesses, as the launcher meets it.

Stock ipykernel binds it to a random loopback TCP port any local user can connect
to, and prints each message without the pipe's key to the kernel's stderr (one line
each, ``Bad pipe message: %s [...]``, the format string printed as is; with fd
capture a copy also comes back as the kernel's stderr output on iopub).  So:

* kernels the launcher starts from a Python (``python -m ipykernel_launcher``, also
  a kernelspec whose argv is that) run :mod:`.bridge.boot` instead
  (:func:`boot_argv`): the pipe is an IPC socket in the private runtime directory,
  and rejected messages come as one line per interval (:data:`boot.REJECTED`);
* whatever a kernel prints about rejected messages, stock lines or ours, is counted
  by :class:`RejectedMessages` in the raw reader thread and reported as ONE warning
  per :data:`INTERVAL` under the kernel (logger :data:`PIPE_LOGGER`), never under an
  app, never one by one, never with the senders' bytes (:func:`is_rejected_line`
  also drops the iopub copies).
"""

from __future__ import annotations

import asyncio
import shlex
import threading
import time
from typing import Callable, List, Optional

from ..bridge import boot, source

#: the logger of the launcher's report about rejected pipe messages
PIPE_LOGGER = "ipykernel.pipe"
#: how stock ipykernel starts each such line
STOCK_REJECTED = "Bad pipe message:"
#: seconds between two reports of one kernel at most
INTERVAL = boot.INTERVAL
#: the stock ways to start an ipykernel from an interpreter
_STOCK_MODULES = (["-m", "ipykernel_launcher"], ["-m", "ipykernel"])


def boot_argv(argv: List[str]) -> List[str]:
    """``[python, "-m", "ipykernel_launcher", ...]`` as ``[python, "-c", <boot source>, ...]``;
    any other command line (a wrapper, another kernel) unchanged."""
    if len(argv) >= 3 and list(argv[1:3]) in _STOCK_MODULES:
        return [argv[0], "-c", source("boot")] + list(argv[3:])
    return list(argv)


def shown_argv(argv: List[str]) -> str:
    """The command line to show a user: the boot source as the ``-m ipykernel_launcher`` it stands for."""
    words = list(argv)
    if len(words) >= 3 and words[1] == "-c" and words[2] == source("boot"):
        words[1:3] = ["-m", "ipykernel_launcher"]
    return shlex.join(words)


def is_rejected_line(line: str) -> bool:
    return line.startswith(STOCK_REJECTED) or line.startswith(boot.REJECTED)


def report_text(count: int, seconds: float, private: bool) -> str:
    where = ("on the kernel's subprocess pipe (a socket in the launcher's private directory)" if private
             else "on ipykernel's pipe port (loopback TCP, for output of forked subprocesses)")
    plural = "" if count == 1 else "s"
    return (f"rejected {count:,} message{plural} {where} in {max(seconds, 0.1):.1f} s, from a process that "
            "does not hold the kernel's key; their content is not shown")


class RejectedMessages:
    """Counts one kernel's rejected pipe messages (from its raw reader threads) and reports them
    once per :data:`INTERVAL` through ``report(text)`` on the loop."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self._report = report
        self._lock = threading.Lock()
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._count = 0
        self._private = False
        self._first = self._last = 0.0
        self.total = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def take(self, line: str) -> bool:
        """Reader thread: whether ``line`` was about rejected messages (then it is counted, not shown)."""
        span = 0.0
        if line.startswith(boot.REJECTED):
            words = line[len(boot.REJECTED):].split()  # "<count> <seconds from the first to the last>"
            try:
                n, span = int(words[0]), float(words[1])
            except (IndexError, ValueError):
                n = 1
            private = True
        elif line.startswith(STOCK_REJECTED):
            n, private = 1, False
        else:
            return False
        now = time.monotonic()
        with self._lock:
            first = self._count == 0
            self._first = now - span if first else min(self._first, now - span)
            self._count += n
            self.total += n
            self._last = now
            self._private = self._private or private
        if first and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._loop.call_later, INTERVAL, self.flush)
            except RuntimeError:
                pass  # the loop is closed: the launcher is exiting
        return True

    def flush(self) -> None:
        """On the loop: report what was counted since the last report (nothing: nothing said)."""
        with self._lock:
            count, seconds, private = self._count, self._last - self._first, self._private
            self._count, self._private = 0, False
        if count:
            self._report(report_text(count, seconds, private))
