"""Open folder: the apps found in a project folder, and what to do with them.

Shows a :class:`~tornado_launcher.gui.controller.FolderPlan` (the apps
`tornado-launcher init` would write, and the jaffle.hcl itself) and offers
to write it and run it, to run it without writing it, or -- when the folder
has a jaffle.hcl already -- to open that one.  The choice is
:attr:`FolderDialog.choice` (``"write"``, ``"run"``, ``"open"`` or None)
when :meth:`wait` returns.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Optional

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QPlainTextEdit, QPushButton, QVBoxLayout

from .controller import FolderPlan


class FolderDialog(QDialog):
    WRITE, RUN, OPEN = "write", "run", "open"

    def __init__(self, plan: FolderPlan, parent=None) -> None:
        super().__init__(parent)
        self.plan = plan
        self.choice: Optional[str] = None
        self.setWindowTitle(f"Open folder {plan.directory}")
        self.resize(760, 560)
        layout = QVBoxLayout(self)
        self.title = QLabel(self)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.apps = QListWidget(self)
        self.apps.setMaximumHeight(140)
        self.preview = QPlainTextEdit(self)
        self.preview.setReadOnly(True)
        self.preview.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(self)
        self.write_button = QPushButton("&Write jaffle.hcl and run", self)
        self.run_button = QPushButton("&Run without writing", self)
        self.open_button = QPushButton("&Open the existing jaffle.hcl", self)
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        for b in (self.write_button, self.run_button, self.open_button):
            buttons.addButton(b, QDialogButtonBox.ButtonRole.AcceptRole)
        self.write_button.clicked.connect(lambda: self._choose(self.WRITE))
        self.run_button.clicked.connect(lambda: self._choose(self.RUN))
        self.open_button.clicked.connect(lambda: self._choose(self.OPEN))
        self.cancel_button.clicked.connect(self.reject)
        layout.addWidget(self.apps)
        layout.addWidget(self.preview, 1)
        layout.addWidget(buttons)
        self._fill()

    def _fill(self) -> None:
        plan = self.plan
        for line in plan.apps:
            self.apps.addItem(line)
        self.preview.setPlainText(plan.text or "\n".join(plan.skipped))
        runnable = not plan.error
        self.run_button.setEnabled(runnable)
        self.open_button.setVisible(plan.exists)
        self.write_button.setEnabled(runnable and not plan.exists)
        if plan.exists:
            self.write_button.setToolTip("The folder has a jaffle.hcl: it is never overwritten "
                                         "(`tornado-launcher init --force` replaces it after showing the difference)")
        if plan.error:
            self.title.setText(plan.error)
            self.apps.hide()
        else:
            n = len(plan.apps)
            self.title.setText(
                f"{n} app{'s' if n != 1 else ''} found in {plan.directory}. The jaffle.hcl below runs "
                f"{'them' if n != 1 else 'it'}, each in its own kernel, reloaded on save"
                + (" (the folder has its own jaffle.hcl already)." if plan.exists else "."))
        default = self.open_button if plan.exists else (self.write_button if runnable else self.cancel_button)
        default.setDefault(True)
        default.setFocus()

    def _choose(self, choice: str) -> None:
        self.choice = choice
        self.accept()

    async def wait(self) -> Optional[str]:
        """Show the dialog (window-modal, without a nested event loop) and return the choice."""
        fut = asyncio.get_running_loop().create_future()
        self.finished.connect(lambda _code: fut.done() or fut.set_result(self.choice))
        self.open()
        return await fut


def dropped_path(mime) -> Optional[str]:
    """A dropped .hcl (opened as a config), else a dropped folder or .py file (Open folder)."""
    if not mime.hasUrls():
        return None
    local = [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]
    for path in local:
        if path.endswith(".hcl"):
            return path
    for path in local:
        if path.endswith(".py") or Path(path).is_dir():
            return path
    return None


async def open_folder(window, path: str) -> Optional[str]:
    """Open folder on ``window`` (a MainWindow): detect the apps of the folder (or the one .py file)
    as `init` does, show them with the jaffle.hcl for them, then write it and run it, run it
    without writing it, or open the folder's own jaffle.hcl.  Returns the choice (None: cancelled)."""
    controller = window.controller
    window.begin_busy(f"Looking for Tornado apps in {path}…")
    try:
        plan = await controller.plan_folder(path)
    finally:
        window.end_busy()
    dialog = window.folder_dialog = FolderDialog(plan, window)
    try:
        choice = await dialog.wait()
    finally:
        window.folder_dialog = None
        dialog.deleteLater()
    if choice == FolderDialog.WRITE:
        await controller.write_and_open(plan)
    elif choice == FolderDialog.RUN:
        await controller.run_folder(plan)
    elif choice == FolderDialog.OPEN:
        await window.open_config(plan.config_path)
    return choice
