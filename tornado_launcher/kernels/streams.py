"""Cell output on iopub (``stream`` messages) as whole log lines.

:class:`StreamLines` is the part of :class:`~tornado_launcher.kernels.kernel.Kernel` that turns the
kernel's ``stream`` messages into :class:`~tornado_launcher.engine.events.LogRecord` lines. A chunk
may end inside a line (ipykernel flushes what its fd capture read): the rest of the line comes
with the next chunk, or the piece is shown alone after :data:`PARTIAL_LINE_WAIT`. ipykernel's
own lines about rejected pipe messages (its fd capture sends them here too) are counted by the
kernel's :class:`~tornado_launcher.kernels.kernel_pipe.RejectedMessages`, never shown, so a stranger's
bytes cannot land under an app. It uses the kernel's ``name``, ``rejected``, ``_reads_raw`` and
``_on_event``, and keeps ``_partial`` / ``_partial_serial``.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Dict, Optional

from ..engine.events import LogRecord
from .kernel_pipe import is_rejected_line

#: seconds a line of cell output without its newline waits for the rest before it is shown alone
PARTIAL_LINE_WAIT = 0.3


class StreamLines:
    """iopub ``stream`` chunks → whole lines in the log of the app (or kernel) they belong to."""

    _partial: Dict[str, Any]

    def _init_streams(self) -> None:
        #: stream text after its last newline, per stream name: (text, serial)
        self._partial = {}
        self._partial_serial = itertools.count()

    def _flush_streams(self) -> None:
        """A dead process's unfinished lines, shown alone (a new start begins clean)."""
        for name, (text, _) in list(self._partial.items()):
            self._stream_lines(name, None, text)
        self._partial.clear()

    def _handle_stream(self, msg: Any, content: Any, route: Any) -> None:
        text = content.get("text", "")
        if route is not None and route.get("capture") is not None:
            route["capture"][content.get("name", "stdout")].append(text)
            return
        app = route.get("app") if route else None
        name = content.get("name", "stdout")
        text = self._partial.pop(name, ("", 0))[0] + text
        text, _, tail = text.rpartition("\n") if not text.endswith("\n") else (text, "", "")
        if tail:
            serial = next(self._partial_serial)
            self._partial[name] = (tail, serial)
            asyncio.get_running_loop().call_later(PARTIAL_LINE_WAIT, self._flush_partial, name, app, serial)
        self._stream_lines(name, app, text)

    def _flush_partial(self, name: str, app: Optional[str], serial: int) -> None:
        tail = self._partial.get(name)
        if tail is not None and tail[1] == serial:
            del self._partial[name]
            self._stream_lines(name, app, tail[0])

    def _stream_lines(self, name: str, app: Optional[str], text: str) -> None:
        level = "WARNING" if name == "stderr" else "INFO"
        for line in text.splitlines():
            if is_rejected_line(line):
                if not self._reads_raw:  # type: ignore[attr-defined] # else the raw reader counted it
                    self.rejected.bind(asyncio.get_running_loop())  # type: ignore[attr-defined]
                    self.rejected.take(line)  # type: ignore[attr-defined]
            elif line.strip():
                self._on_event(LogRecord(self.name, app, level, line,  # type: ignore[attr-defined]
                                         logger=name, origin=name))
