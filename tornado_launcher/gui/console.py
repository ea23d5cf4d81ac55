"""A console per kernel: one input line with history over ``session.execute``.

Deliberately small (no qtconsole): type Python, press Enter, read stdout,
stderr, the result and the traceback (IPython's colors kept) below.  Inputs
run one after another in the order typed; the loop is never blocked.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QTextCursor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from . import ansi, icons
from .logview import Formats, LogText, insert_ansi, is_dark, parse_href
from . import editor

log = logging.getLogger(__name__)

Execute = Callable[[str, str], Awaitable[dict]]


class HistoryLineEdit(QLineEdit):
    """A line edit with shell-like Up/Down history."""

    submitted = Signal(str)

    def __init__(self, parent=None, max_history: int = 500):
        super().__init__(parent)
        self.history: list[str] = []
        self.max_history = max_history
        self._pos = 0
        self._draft = ""
        self.returnPressed.connect(self._submit)

    def _submit(self) -> None:
        code = self.text()
        if not code.strip():
            return
        if not self.history or self.history[-1] != code:
            self.history.append(code)
            del self.history[:-self.max_history]
        self._pos = len(self.history)
        self._draft = ""
        self.clear()
        self.submitted.emit(code)

    def keyPressEvent(self, event):
        key = event.key()
        if key == Qt.Key.Key_Up and self.history:
            if self._pos == len(self.history):
                self._draft = self.text()
            self._pos = max(0, self._pos - 1)
            self.setText(self.history[self._pos])
            return
        if key == Qt.Key.Key_Down and self.history:
            self._pos = min(len(self.history), self._pos + 1)
            self.setText(self.history[self._pos] if self._pos < len(self.history) else self._draft)
            return
        super().keyPressEvent(event)


class ConsoleWidget(QWidget):
    def __init__(self, kernel: str, execute: Execute, interrupt: Callable[[], None] = None, parent=None):
        super().__init__(parent)
        self.kernel = kernel
        self._execute = execute
        self._interrupt = interrupt
        self._lock = asyncio.Lock()
        self._tasks: set = set()
        self._running = 0

        self.output = LogText(self)
        self.output.setMaximumBlockCount(5000)
        self.output.link_activated.connect(self._open_link)
        self.input = HistoryLineEdit(self)
        self.input.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.input.setPlaceholderText(f"Python in kernel {kernel}: e.g. the app object by its name; Up/Down for history")
        self.input.submitted.connect(self.submit)
        self.busy = QLabel("", self)
        interrupt_btn = QToolButton(self)
        interrupt_btn.setIcon(icons.icon("interrupt"))
        interrupt_btn.setToolTip("Interrupt the kernel")
        interrupt_btn.setAutoRaise(True)
        interrupt_btn.clicked.connect(lambda: self._interrupt and self._interrupt())
        clear_btn = QToolButton(self)
        clear_btn.setIcon(icons.icon("clear"))
        clear_btn.setToolTip("Clear the output")
        clear_btn.setAutoRaise(True)
        clear_btn.clicked.connect(self.output.clear)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel(">>>", self))
        row.addWidget(self.input, 1)
        row.addWidget(self.busy)
        row.addWidget(interrupt_btn)
        row.addWidget(clear_btn)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.output, 1)
        layout.addLayout(row)
        self.setFocusProxy(self.input)

    def _formats(self) -> Formats:
        return Formats(is_dark(self.palette()), self.output.font())

    def write(self, text: str, fg=None, bold: bool = False) -> None:
        if not text:
            return
        formats = self._formats()
        cursor = QTextCursor(self.output.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        if not self.output.document().isEmpty():
            cursor.insertBlock()
        if bold:
            cursor.insertText(text.rstrip("\n"), formats.get(ansi.Style(bold=True), fg))
        else:
            insert_ansi(cursor, text, formats, fg)
        sb = self.output.verticalScrollBar()
        sb.setValue(sb.maximum())

    def submit(self, code: str) -> asyncio.Future:
        self._running += 1  # counted now, so "running" is true until the reply is shown
        self.busy.setText("running…")
        task = asyncio.ensure_future(self._run(code))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def running(self) -> int:
        return self._running

    async def _run(self, code: str) -> dict:
        try:
            async with self._lock:
                self.write(">>> " + code.replace("\n", "\n... "), bold=True)
                try:
                    reply = await self._execute(self.kernel, code)
                except Exception as exc:  # kernel gone, session closed...
                    reply = {"status": "error", "stdout": "", "stderr": "", "result": None,
                             "traceback": f"{type(exc).__name__}: {exc}"}
                dark = is_dark(self.palette())
                self.write(reply.get("stdout") or "")
                self.write(reply.get("stderr") or "", "#ff7b72" if dark else "#cf222e")
                if reply.get("result") is not None:
                    self.write(str(reply["result"]))
                if reply.get("status") == "error" and reply.get("traceback"):
                    self.write(reply["traceback"], "#ff7b72" if dark else "#cf222e")
                return reply
        finally:
            self._running -= 1
            if not self._running:
                self.busy.setText("")

    def _open_link(self, href: str) -> None:
        target = parse_href(href)
        if target:
            editor.open_file(*target)
