"""Log views: bounded, batched, colored, searchable, with clickable tracebacks.

Records arrive one by one from the session (possibly thousands a second).
:meth:`LogView.append` only queues them; a :class:`LogHub` timer flushes every
view every ``interval_ms`` (50 ms), and a view that is not visible keeps its
queue until it is shown.  Both the queue and the document are bounded to
``max_lines`` (``QPlainTextEdit.setMaximumBlockCount``), so a flood costs at
most one bounded render per tick and never freezes the window -- qtconsole's
recipe.

A line reads ``12:34:56.789 INFO  [app] message``; the ``[app]`` column only
in the merged view.  Level sets the default color, ANSI SGR codes in the text
override it (see :mod:`.ansi`).  ``File "/x/y.py", line 12`` becomes a link
that opens the file at that line in the user's editor.
"""

from __future__ import annotations

import re
import time as _time
import zlib
from collections import deque
from pathlib import Path
from typing import Iterable, Optional

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QGuiApplication,
    QKeySequence,
    QPalette,
    QShortcut,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..engine.events import LogRecord
from . import ansi, editor, icons

#: ``File "/x/y.py", line 12`` (Python tracebacks, also IPython's).
TRACEBACK_FILE = re.compile(r'File "([^"]+)", line (\d+)')

LEVEL_COLORS = {  # (light, dark)
    "DEBUG": ("#6e7781", "#8b949e"),
    "INFO": ("#1a7f37", "#3fb950"),
    "WARNING": ("#9a6700", "#d29922"),
    "ERROR": ("#cf222e", "#ff7b72"),
    "CRITICAL": ("#a40e26", "#ffa198"),
}
FILTER_LEVELS = [("All levels", 0), ("INFO and up", 20), ("WARNING and up", 30), ("ERROR and up", 40)]
SOURCE_COLORS = [(0x0b57d0, 0x58a6ff), (0x8250df, 0xbc8cff), (0x0f7b8a, 0x39c5cf),
                 (0xbf3989, 0xf778ba), (0x953800, 0xffa657), (0x1a7f37, 0x56d364)]


def is_dark(palette: Optional[QPalette] = None) -> bool:
    if palette is None:
        app = QGuiApplication.instance()
        if app is None:
            return False
        palette = app.palette()
    return palette.color(QPalette.ColorRole.Base).lightness() < 128


_second_cache: list = [None, ""]


def format_time(t: float) -> str:
    """``HH:MM:SS.mmm`` in local time (the HH:MM:SS part cached per second)."""
    sec = int(t)
    if _second_cache[0] != sec:
        lt = _time.localtime(sec)
        _second_cache[:] = [sec, f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}"]
    return f"{_second_cache[1]}.{int((t - sec) * 1000):03d}"


def href_for(path: str, line: int) -> str:
    return f"file-line:{line}:{path}"


def parse_href(href: str) -> Optional[tuple[str, int]]:
    if not href.startswith("file-line:"):
        return None
    _, line, path = href.split(":", 2)
    return path, int(line)


class Formats:
    """QTextCharFormat cache for one palette."""

    def __init__(self, dark: bool, font: QFont):
        self.dark = dark
        self.font = font
        self._cache: dict = {}

    def get(self, style: ansi.Style, default_fg: Optional[str] = None, href: Optional[str] = None) -> QTextCharFormat:
        key = (style, default_fg, href)
        fmt = self._cache.get(key)
        if fmt is not None:
            return fmt
        fmt = QTextCharFormat()
        fg = ansi.resolve(style.fg, self.dark) or default_fg
        bg = ansi.resolve(style.bg, self.dark)
        if style.inverse:
            fg, bg = (bg or ("#0d1117" if self.dark else "#ffffff")), (fg or ("#c9d1d9" if self.dark else "#24292f"))
        if fg:
            color = QColor(fg)
            if style.faint:
                color.setAlphaF(0.6)
            fmt.setForeground(color)
        if bg:
            fmt.setBackground(QColor(bg))
        if style.bold:
            fmt.setFontWeight(QFont.Weight.Bold)
        if style.italic:
            fmt.setFontItalic(True)
        if style.underline:
            fmt.setFontUnderline(True)
        if href:
            fmt.setAnchor(True)
            fmt.setAnchorHref(href)
            fmt.setFontUnderline(True)
            fmt.setForeground(QColor("#58a6ff" if self.dark else "#0b57d0"))
            fmt.setToolTip("Open in editor")
        if len(self._cache) < 4096:
            self._cache[key] = fmt
        return fmt


def insert_ansi(cursor: QTextCursor, text: str, formats: "Formats", default_fg: Optional[str] = None) -> None:
    """Insert ``text`` (ANSI colors, newlines, traceback file links) at ``cursor``."""
    for segment, style in ansi.parse(text.rstrip("\n")):
        lines = segment.split("\n")
        for i, line in enumerate(lines):
            if i:
                cursor.insertBlock()
            if not line:
                continue
            if 'File "' in line:
                pos = 0
                for m in TRACEBACK_FILE.finditer(line):
                    if m.start() > pos:
                        cursor.insertText(line[pos:m.start()], formats.get(style, default_fg))
                    cursor.insertText(m.group(0), formats.get(style, default_fg, href_for(m.group(1), int(m.group(2)))))
                    pos = m.end()
                if pos < len(line):
                    cursor.insertText(line[pos:], formats.get(style, default_fg))
            else:
                cursor.insertText(line, formats.get(style, default_fg))


class LogText(QPlainTextEdit):
    """The read-only text area; clicks on traceback links open the editor."""

    link_activated = Signal(str)
    find_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setUndoRedoEnabled(False)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.viewport().setMouseTracking(True)
        self._press_anchor = ""

    def keyPressEvent(self, event):
        if event.matches(QKeySequence.StandardKey.Find):
            self.find_requested.emit()
            return
        super().keyPressEvent(event)

    def mousePressEvent(self, event):
        self._press_anchor = self.anchorAt(event.position().toPoint())
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event):
        super().mouseReleaseEvent(event)
        anchor = self.anchorAt(event.position().toPoint())
        if anchor and anchor == self._press_anchor and not self.textCursor().hasSelection():
            self.link_activated.emit(anchor)
        self._press_anchor = ""

    def mouseMoveEvent(self, event):
        super().mouseMoveEvent(event)
        if self.anchorAt(event.position().toPoint()):
            self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.viewport().setCursor(Qt.CursorShape.IBeamCursor)


class FindBar(QWidget):
    def __init__(self, view: "LogView"):
        super().__init__(view)
        self.view = view
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Find (Enter: next, Shift+Enter: previous, Esc: close)")
        self.edit.setClearButtonEnabled(True)
        self.case = QCheckBox("Match case", self)
        self.count = QLabel("", self)
        prev_btn = QToolButton(self, text="▲", toolTip="Previous match (Shift+Enter)")
        next_btn = QToolButton(self, text="▼", toolTip="Next match (Enter)")
        close_btn = QToolButton(self, text="✕", toolTip="Close (Esc)")
        for w in (QLabel("Find:", self), self.edit, prev_btn, next_btn, self.case, self.count, close_btn):
            layout.addWidget(w)
        self.edit.textChanged.connect(lambda _=None: view.find(self.edit.text(), highlight_only=False))
        self.edit.returnPressed.connect(lambda: view.find(self.edit.text()))
        self.case.toggled.connect(lambda _=None: view.find(self.edit.text(), highlight_only=False))
        prev_btn.clicked.connect(lambda: view.find(self.edit.text(), backward=True))
        next_btn.clicked.connect(lambda: view.find(self.edit.text()))
        close_btn.clicked.connect(self.close_bar)

    def keyPressEvent(self, event):
        if event.key() == Qt.Key.Key_Escape:
            self.close_bar()
            return
        if (event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
                and event.modifiers() & Qt.KeyboardModifier.ShiftModifier):
            self.view.find(self.edit.text(), backward=True)
            return
        super().keyPressEvent(event)

    def close_bar(self):
        self.hide()
        self.view.text.setExtraSelections([])
        self.view.text.setFocus()


class LogView(QWidget):
    """One log pane: a toolbar (level, find, follow, clear, copy, save) over the text."""

    def __init__(self, title: str, *, show_source: bool = False, max_lines: int = 10_000, parent=None):
        super().__init__(parent)
        self.title = title
        self.show_source = show_source
        self.max_lines = max_lines
        self.min_level = 0
        self._records: deque = deque(maxlen=max_lines)
        self._pending: deque = deque(maxlen=max_lines)
        self._dropped = 0
        self._follow = True
        self._inserting = False
        self._formats: Optional[Formats] = None

        self.text = LogText(self)
        self.text.setMaximumBlockCount(max_lines)
        self.text.link_activated.connect(self._open_link)
        self.text.find_requested.connect(self.show_find)
        self.text.verticalScrollBar().valueChanged.connect(self._on_scrolled)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        self.level_combo = QComboBox(self)
        for label, value in FILTER_LEVELS:
            self.level_combo.addItem(label, value)
        self.level_combo.setToolTip("Show only records at this level or above")
        self.level_combo.currentIndexChanged.connect(lambda _i: self.set_min_level(self.level_combo.currentData()))
        self.follow_button = self._tool("follow", "Follow", "Keep the newest line in view (pause to read)",
                                        checkable=True)
        self.follow_button.setChecked(True)
        self.follow_button.toggled.connect(self.set_follow)
        self.find_button = self._tool("search", "Find", "Find text (Ctrl+F)")
        self.find_button.clicked.connect(self.show_find)
        self.clear_button = self._tool("clear", "Clear", "Clear this view")
        self.clear_button.clicked.connect(self.clear)
        self.copy_button = self._tool("copy", "Copy", "Copy the selection, or everything when nothing is selected")
        self.copy_button.clicked.connect(self.copy)
        self.save_button = self._tool("save", "Save…", "Save this view to a text file")
        self.save_button.clicked.connect(self._save_dialog)
        bar.addWidget(self.level_combo)
        bar.addStretch(1)
        for b in (self.find_button, self.follow_button, self.clear_button, self.copy_button, self.save_button):
            bar.addWidget(b)

        self.find_bar = FindBar(self)
        self.find_bar.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(self.find_bar)
        layout.addWidget(self.text, 1)

        sc = QShortcut(QKeySequence.StandardKey.Find, self)
        sc.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        sc.activated.connect(self.show_find)

    def refresh_icons(self) -> None:
        for b in (self.find_button, self.follow_button, self.clear_button, self.copy_button, self.save_button):
            b.setIcon(icons.icon(b.property("icon_name")))

    def set_max_lines(self, value: int) -> None:
        """Keep ``value`` lines from now on (the newest ones when shrinking)."""
        self.max_lines = int(value)
        self._records = deque(self._records, maxlen=self.max_lines)
        self._pending = deque(self._pending, maxlen=self.max_lines)
        self.text.setMaximumBlockCount(self.max_lines)

    def _tool(self, icon_name: str, text: str, tip: str, checkable: bool = False) -> QToolButton:
        b = QToolButton(self)
        b.setProperty("icon_name", icon_name)
        b.setIcon(icons.icon(icon_name))
        b.setText(text)
        b.setToolTip(tip)
        b.setAutoRaise(True)
        b.setCheckable(checkable)
        b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        return b

    # -- feeding ----------------------------------------------------------
    def append(self, record: LogRecord) -> None:
        """Queue a record; it is drawn on the next flush.  Cheap: O(1)."""
        self._records.append(record)
        if record.levelno >= self.min_level:
            if len(self._pending) == self._pending.maxlen:
                self._dropped += 1
            self._pending.append(record)

    def extend(self, records: Iterable[LogRecord]) -> None:
        for r in records:
            self.append(r)

    @property
    def pending(self) -> int:
        return len(self._pending)

    def flush(self, force: bool = False, limit: Optional[int] = None) -> int:
        """Draw queued records (at most ``limit``, oldest first); returns how
        many.  Hidden views wait until shown unless ``force``."""
        if not self._pending or (not force and not self.isVisible()):
            return 0
        if limit is None or limit >= len(self._pending):
            records = list(self._pending)
            self._pending.clear()
        else:
            records = [self._pending.popleft() for _ in range(limit)]
        dropped, self._dropped = self._dropped, 0
        if dropped and len(records) >= self.max_lines:
            # leave room for the "skipped" notice within the block limit
            cut = len(records) - self.max_lines + 1
            records, dropped = records[cut:], dropped + cut
        self._render(records, dropped)
        return len(records)

    def showEvent(self, event):
        super().showEvent(event)
        QTimer.singleShot(0, self.flush)

    # -- drawing ----------------------------------------------------------
    def _fmt(self) -> Formats:
        dark = is_dark(self.palette())
        if self._formats is None or self._formats.dark != dark:
            self._formats = Formats(dark, self.text.font())
        return self._formats

    def _render(self, records: list, dropped: int = 0) -> None:
        formats = self._fmt()
        dark = formats.dark
        doc = self.text.document()
        cursor = QTextCursor(doc)
        cursor.movePosition(QTextCursor.MoveOperation.End)
        first = doc.isEmpty()
        self._inserting = True
        cursor.beginEditBlock()
        try:
            dim = formats.get(ansi.Style(fg=8))
            if dropped:
                if not first:
                    cursor.insertBlock()
                first = False
                cursor.insertText(f"… {dropped} older lines skipped to keep up …", dim)
            for rec in records:
                level_color = LEVEL_COLORS.get(rec.level, LEVEL_COLORS["INFO"])[1 if dark else 0]
                msg_color = level_color if rec.levelno >= 30 or rec.levelno < 20 else None
                if not first:
                    cursor.insertBlock()
                first = False
                cursor.insertText(format_time(rec.time) + " ", dim)
                cursor.insertText(f"{rec.level:<8} ", formats.get(ansi.Style(bold=True), level_color))
                if self.show_source:
                    c = SOURCE_COLORS[zlib.crc32(rec.source.encode()) % len(SOURCE_COLORS)][1 if dark else 0]
                    cursor.insertText(f"[{rec.source}] ", formats.get(ansi.PLAIN, f"#{c:06x}"))
                text = rec.message
                if rec.traceback:
                    text = text.rstrip("\n") + "\n" + rec.traceback.rstrip("\n")
                insert_ansi(cursor, text, formats, msg_color)
        finally:
            cursor.endEditBlock()
            self._inserting = False
        if self._follow:
            self.scroll_to_end()

    def rerender(self) -> None:
        """Redraw from the kept records (after a filter or palette change)."""
        self.text.clear()
        self._pending.clear()
        self._dropped = 0
        self._formats = None
        keep = [r for r in self._records if r.levelno >= self.min_level]
        if keep:
            self._render(keep)

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange and self._formats is not None \
                and self._formats.dark != is_dark(self.palette()):
            self.rerender()

    # -- toolbar actions ---------------------------------------------------
    def set_min_level(self, levelno: int) -> None:
        levelno = int(levelno or 0)
        if levelno == self.min_level:
            return
        self.min_level = levelno
        idx = self.level_combo.findData(levelno)
        if idx >= 0 and idx != self.level_combo.currentIndex():
            self.level_combo.setCurrentIndex(idx)
        self.rerender()

    def set_follow(self, follow: bool) -> None:
        self._follow = bool(follow)
        if self.follow_button.isChecked() != self._follow:
            self.follow_button.setChecked(self._follow)
        if self._follow:
            self.scroll_to_end()

    @property
    def following(self) -> bool:
        return self._follow

    def scroll_to_end(self) -> None:
        sb = self.text.verticalScrollBar()
        self._inserting = True
        sb.setValue(sb.maximum())
        self._inserting = False

    def _on_scrolled(self, value: int) -> None:
        if self._inserting:
            return
        at_end = value >= self.text.verticalScrollBar().maximum()
        if at_end != self._follow:
            self.set_follow(at_end)

    def clear(self) -> None:
        self._records.clear()
        self._pending.clear()
        self._dropped = 0
        self.text.clear()

    def plain_text(self) -> str:
        return self.text.toPlainText()

    def copy(self) -> None:
        cursor = self.text.textCursor()
        text = cursor.selection().toPlainText() if cursor.hasSelection() else self.plain_text()
        QGuiApplication.clipboard().setText(text)

    def save_to(self, path: str) -> None:
        self.flush(force=True)
        Path(path).write_text(self.plain_text() + "\n", encoding="utf-8")

    def _save_dialog(self) -> None:
        name = self.title.replace(" ", "-").replace(":", "")
        path, _ = QFileDialog.getSaveFileName(self, "Save log", f"{name}.log", "Log files (*.log *.txt);;All files (*)")
        if path:
            self.save_to(path)

    def show_find(self) -> None:
        self.find_bar.show()
        self.find_bar.edit.setFocus()
        self.find_bar.edit.selectAll()

    def find(self, needle: str, backward: bool = False, highlight_only: bool = False) -> bool:
        """Move to the next (or previous) match, wrapping; highlight all matches."""
        self.flush(force=True)
        flags = QTextDocument.FindFlag(0)
        if backward:
            flags |= QTextDocument.FindFlag.FindBackward
        if self.find_bar.case.isChecked():
            flags |= QTextDocument.FindFlag.FindCaseSensitively
        self._highlight_all(needle, flags & ~QTextDocument.FindFlag.FindBackward)
        if not needle:
            return False
        if highlight_only is False and not backward and self.text.textCursor().hasSelection() \
                and self.sender() is self.find_bar.edit:
            # typing: search from the start of the current match so it grows in place
            c = self.text.textCursor()
            c.setPosition(c.selectionStart())
            self.text.setTextCursor(c)
        found = self.text.find(needle, flags)
        if not found:
            c = self.text.textCursor()
            c.movePosition(QTextCursor.MoveOperation.End if backward else QTextCursor.MoveOperation.Start)
            self.text.setTextCursor(c)
            found = self.text.find(needle, flags)
        if found:
            self.set_follow(False)
        return found

    def _highlight_all(self, needle: str, flags) -> None:
        selections = []
        if needle:
            doc = self.text.document()
            fmt = QTextCharFormat()
            fmt.setBackground(QColor("#bb8009" if is_dark(self.palette()) else "#fff8c5"))
            cursor = doc.find(needle, 0, flags)
            while not cursor.isNull() and len(selections) < 2000:
                sel = QTextEdit.ExtraSelection()
                sel.cursor = cursor
                sel.format = fmt
                selections.append(sel)
                cursor = doc.find(needle, cursor, flags)
        self.text.setExtraSelections(selections)
        more = "+" if len(selections) >= 2000 else ""
        self.find_bar.count.setText(f"{len(selections)}{more} matches" if needle else "")
        self.match_count = len(selections)

    def _open_link(self, href: str) -> None:
        target = parse_href(href)
        if target:
            editor.open_file(*target)


class LogHub(QObject):
    """Flushes every registered view on one timer.

    A tick draws at most ``chunk`` records per view, then yields to the event
    loop (a zero-delay continuation) before the next chunk: under a flood the
    drawing is spread over many short slices, so input, timers and the
    session's own callbacks never wait behind one long render.
    """

    def __init__(self, interval_ms: int = 50, parent=None, chunk: int = 200):
        super().__init__(parent)
        self.views: list[LogView] = []
        self.chunk = chunk
        self._continuing = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.flush)
        self.timer.start()

    def add(self, view: LogView) -> LogView:
        self.views.append(view)
        return view

    def remove(self, view: LogView) -> None:
        if view in self.views:
            self.views.remove(view)

    def flush(self) -> None:
        more = False
        for view in list(self.views):
            try:
                view.flush(limit=self.chunk)
                more = more or (view.pending > 0 and view.isVisible())
            except RuntimeError:  # deleted C++ object
                self.remove(view)
        if more and not self._continuing:
            self._continuing = True
            QTimer.singleShot(0, self._continue)

    def _continue(self) -> None:
        self._continuing = False
        self.flush()
