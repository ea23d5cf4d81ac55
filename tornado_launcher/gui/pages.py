"""The welcome page (no config yet) and the config error panel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from . import editor, icons, paths

if TYPE_CHECKING:
    from ..config import Diagnostic



class WelcomePage(QWidget):
    """Open a config, one of the recent ones, or the demo."""

    #: a path, or "" for "show the open dialog"
    open_requested = Signal(str)
    #: "Open folder…": find the apps of a project folder (no jaffle.hcl needed)
    open_folder_requested = Signal()
    clear_recent_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        logo = QLabel(self)
        logo.setPixmap(icons.app_icon().pixmap(QSize(72, 72)))
        title = QLabel("tornado-launcher", self)
        f = QFont(title.font())
        f.setPointSizeF(f.pointSizeF() * 1.8)
        f.setBold(True)
        title.setFont(f)
        subtitle = QLabel("Run Tornado apps inside IPython kernels, restart them in milliseconds.\n"
                          "Open a project folder to find its apps and run them, or a jaffle.hcl "
                          "(or drop either, or a .py file, on this window).", self)
        subtitle.setWordWrap(True)
        subtitle.setAlignment(Qt.AlignmentFlag.AlignCenter)

        self.open_button = QPushButton(icons.icon("open"), "Open config…", self)
        self.open_button.clicked.connect(lambda: self.open_requested.emit(""))
        self.folder_button = QPushButton(icons.icon("open"), "Open folder…", self)
        self.folder_button.setToolTip("Find the Tornado apps in a project folder: write a jaffle.hcl for them, "
                                      "or run them without one")
        self.folder_button.clicked.connect(self.open_folder_requested.emit)
        self.folder_button.setDefault(True)
        self.demo_button = QPushButton(icons.icon("start"), "Open demo", self)
        self.demo_path = paths.demo_config()
        self.demo_button.setEnabled(self.demo_path is not None)
        self.demo_button.setToolTip(str(self.demo_path) if self.demo_path else "This build ships no demo")
        self.demo_button.clicked.connect(lambda: self.demo_path and self.open_requested.emit(str(self.demo_path)))

        self.recent_label = QLabel("Recent configs", self)
        self.recent_list = QListWidget(self)
        self.recent_list.setMaximumHeight(220)
        self.recent_list.itemActivated.connect(self._activated)
        self.recent_list.itemClicked.connect(self._activated)
        self.clear_button = QPushButton("Clear list", self)
        self.clear_button.setFlat(True)
        self.clear_button.clicked.connect(self.clear_recent_requested.emit)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.demo_button)
        buttons.addStretch(1)
        recent_head = QHBoxLayout()
        recent_head.addWidget(self.recent_label)
        recent_head.addStretch(1)
        recent_head.addWidget(self.clear_button)

        column = QVBoxLayout()
        column.addStretch(1)
        column.addWidget(logo, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(title, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(subtitle)
        column.addSpacing(12)
        column.addLayout(buttons)
        column.addSpacing(18)
        column.addLayout(recent_head)
        column.addWidget(self.recent_list)
        column.addStretch(2)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addLayout(column, 3)
        outer.addStretch(1)

    def set_recent(self, items: Sequence[str]) -> None:
        self.recent_list.clear()
        for path in items:
            p = Path(path)
            item = QListWidgetItem(f"{p.parent.name}/{p.name}    —    {p.parent}")
            item.setData(Qt.ItemDataRole.UserRole, str(p))
            item.setToolTip(str(p))
            self.recent_list.addItem(item)
        visible = bool(items)
        for w in (self.recent_label, self.recent_list, self.clear_button):
            w.setVisible(visible)

    def recent_paths(self) -> list[str]:
        return [self.recent_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.recent_list.count())]

    def _activated(self, item: QListWidgetItem) -> None:
        self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole))


class ConfigErrorPanel(QFrame):
    """Shows config diagnostics as ``path:line:col: message`` with an
    "Open in editor" button per diagnostic.  Used as a full page (nothing
    running) and as a banner above a session that keeps running."""

    retry_requested = Signal()
    dismissed = Signal()

    def __init__(self, *, banner: bool, parent=None):
        super().__init__(parent)
        self.banner = banner
        self.setObjectName("ConfigErrorPanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#ConfigErrorPanel { border: 1px solid #cf222e; border-radius: 6px; }")
        self.title = QLabel(self)
        f = QFont(self.title.font())
        f.setBold(True)
        self.title.setFont(f)
        self.title.setWordWrap(True)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rows = QVBoxLayout()
        self.retry_button = QPushButton(icons.icon("reread"), "Re-read config", self)
        self.retry_button.clicked.connect(self.retry_requested.emit)
        self.dismiss_button = QPushButton("Dismiss" if banner else "Back", self)
        self.dismiss_button.clicked.connect(self.dismissed.emit)
        actions = QHBoxLayout()
        actions.addStretch(1)
        actions.addWidget(self.retry_button)
        actions.addWidget(self.dismiss_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(self.rows)
        layout.addLayout(actions)
        if not banner:
            layout.addStretch(1)
        self.messages: list[str] = []
        self.open_buttons: list[QPushButton] = []

    def show_diagnostics(self, title: str, diagnostics: "Sequence[Diagnostic]") -> None:
        while self.rows.count():
            item = self.rows.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.title.setText(title)
        self.messages = []
        self.open_buttons = []
        self.snippets: list[str] = []
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for d in diagnostics:
            text = str(d)
            self.messages.append(text)
            warning = d.severity == "warning"
            row = QWidget(self)
            h = QHBoxLayout(row)
            h.setContentsMargins(0, 2, 0, 2)
            icon = QLabel("⚠" if warning else "✖", row)
            icon.setStyleSheet("color: #9a6700;" if warning else "color: #cf222e;")
            h.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
            col = QVBoxLayout()
            label = QLabel(text, row)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            col.addWidget(label)
            path, line = d.path, (d.line if d.line > 0 else None)
            snippet = source_snippet(path, line, d.col) if path and line else ""
            self.snippets.append(snippet)
            if snippet:
                code = QLabel(snippet, row)
                code.setFont(mono)
                code.setTextFormat(Qt.TextFormat.PlainText)
                code.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                col.addWidget(code)
            h.addLayout(col, 1)
            if path:
                b = QPushButton("Open in editor", row)
                b.setToolTip(f"{path}" + (f", line {line}" if line else ""))
                b.clicked.connect(lambda _=False, p=str(path), n=line: editor.open_file(p, n))
                h.addWidget(b, 0, Qt.AlignmentFlag.AlignTop)
                self.open_buttons.append(b)
            self.rows.addWidget(row)
        self.show()


def source_snippet(path, line: Optional[int], col: Optional[int] = None, context: int = 1) -> str:
    """The lines around ``line`` of ``path`` with a caret under ``col``, or ""."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read(1_000_000).splitlines()
    except OSError:
        return ""
    if not line or line > len(lines):
        return ""
    out = []
    width = len(str(min(len(lines), line + context)))
    for n in range(max(1, line - context), min(len(lines), line + context) + 1):
        marker = ">" if n == line else " "
        out.append(f"{marker}{n:>{width}} | {lines[n - 1].expandtabs(4)}")
        if n == line and col and col > 0:
            out.append(" " * (width + 4 + col - 1) + "^")
    return "\n".join(out)
