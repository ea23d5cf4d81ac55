"""The terminal output of ``tornado-launcher start``: never blocks the loop, never crashes it.

:class:`Output` is the file-like object the headless printer writes to.  The
loop only appends lines to a bounded buffer; one writer thread does the
blocking ``os.write`` calls on the file descriptor.  So:

* a reader that does not read (a paused ``| less``, a full pipe): the writer
  thread waits in ``write``, the loop does not; once :data:`MAX_PENDING`
  characters are waiting, the OLDEST waiting lines are dropped and counted,
  and when the writer catches up it prints ``[N lines not shown: the output
  was not read fast enough]`` in their place.  Memory stays bounded and what
  is shown catches up with the present (latency bounded by the buffer);
* a reader that went away (``start | head -3``): the first ``EPIPE`` ends the
  output for good, silently (no traceback per line), and file descriptor 1
  is pointed at ``/dev/null`` so nothing later (the interpreter's own flush
  at exit) fails on it either.  The launcher goes on and shuts down cleanly;
* a flood: the same bound; the figures are in ``benchmarks/print_flood.py``.

No ``O_NONBLOCK`` on the descriptor: a terminal's open file is shared with
the shell that started us, which would inherit the flag.
"""

from __future__ import annotations

import collections
import errno
import os
import threading
from typing import Deque, Optional

#: characters of lines waiting to be written before the oldest are dropped (~1 MB)
MAX_PENDING = 1 << 20
#: seconds :meth:`Output.close` waits for the waiting lines to be written
CLOSE_TIMEOUT = 1.0


class Output:
    """A line sink on file descriptor ``fd`` written by a thread; see the module's text."""

    def __init__(self, fd: int = 1, *, max_pending: int = MAX_PENDING) -> None:
        self.fd = fd
        self.max_pending = max_pending
        self.dropped = 0  # lines dropped so far (all time)
        self.broken = False  # the reader went away
        self._pending: Deque[str] = collections.deque()
        self._size = 0
        self._unsaid = 0  # dropped lines not yet announced
        self._cond = threading.Condition()
        self._closed = False
        self._idle = True
        self._thread = threading.Thread(target=self._run, name="tornado-launcher output", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ loop side
    def write(self, text: str) -> int:
        """Queue ``text`` (whole lines) for writing; never blocks on the reader."""
        if self.broken or self._closed or not text:
            return len(text)
        with self._cond:
            self._pending.append(text)
            self._size += len(text)
            while self._size > self.max_pending and len(self._pending) > 1:
                old = self._pending.popleft()
                self._size -= len(old)
                n = old.count("\n") or 1
                self._unsaid += n
                self.dropped += n
            self._cond.notify()
        return len(text)

    def flush(self) -> None:
        """Nothing to do: the writer thread writes as soon as it can."""

    def isatty(self) -> bool:
        try:
            return os.isatty(self.fd)
        except OSError:
            return False

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Let the writer finish what waits for at most ``timeout`` s, then stop taking lines."""
        with self._cond:
            self._cond.wait_for(lambda: self.broken or (not self._pending and self._idle), timeout)
            self._closed = True
            self._cond.notify()

    # ---------------------------------------------------------- thread side
    def _next(self) -> Optional[str]:
        with self._cond:
            self._idle = True
            self._cond.notify_all()
            self._cond.wait_for(lambda: self._pending or self._closed)
            if not self._pending:
                return None
            self._idle = False
            text = self._pending.popleft()
            self._size -= len(text)
            if self._unsaid:
                text = f"[{self._unsaid} lines not shown: the output was not read fast enough]\n" + text
                self._unsaid = 0
            return text

    def _run(self) -> None:
        while True:
            text = self._next()
            if text is None:
                return
            data = text.encode("utf-8", "replace")
            try:
                while data:
                    n = os.write(self.fd, data)
                    data = data[n:]
            except OSError as e:
                if e.errno in (errno.EPIPE, errno.EBADF, errno.EIO):
                    self._broke()
                    return
                raise

    def _broke(self) -> None:
        """The reader is gone: drop everything from now on, and keep the descriptor harmless."""
        with self._cond:
            self.broken = True
            self._pending.clear()
            self._size = 0
            self._cond.notify_all()
        try:
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, self.fd)
            os.close(null)
        except OSError:
            pass
