"""The console tab of one kernel, with the console itself built on demand.

qtconsole (and the IPython, pygments and QtSvg/QtPrintSupport it imports)
takes a few hundred milliseconds to import.  The window shows a console tab
per kernel from the moment a config is open, but most sessions never type in
one: this tab is a plain container, and :mod:`tornado_launcher.gui.console`
is imported, and its :class:`~tornado_launcher.gui.console.ConsoleWidget`
built, only when the tab is first shown or activated.  Until then the
kernel's state changes need no forwarding: the console attaches to the
kernel's current connection file when it is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtWidgets import QVBoxLayout, QWidget

if TYPE_CHECKING:
    from ..events import KernelState
    from .console import ConnectionFile, ConsoleWidget


class ConsoleTab(QWidget):
    """Holds the :class:`ConsoleWidget` of ``kernel`` once it is needed."""

    def __init__(self, kernel: str, connection_file: "ConnectionFile", *,
                 interrupt: Optional[Callable[[], object]] = None,
                 restart: Optional[Callable[[], object]] = None, parent=None) -> None:
        super().__init__(parent)
        self.kernel = kernel
        self._args = (connection_file, interrupt, restart)
        self._console: Optional["ConsoleWidget"] = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    @property
    def built(self) -> bool:
        """Whether the console exists (qtconsole imported)."""
        return self._console is not None

    @property
    def console(self) -> "ConsoleWidget":
        """The console, built (and qtconsole imported) on first use."""
        if self._console is None:
            from .console import ConsoleWidget

            connection_file, interrupt, restart = self._args
            self._console = ConsoleWidget(self.kernel, connection_file, interrupt=interrupt,
                                          restart=restart, parent=self)
            self.layout().addWidget(self._console)
        return self._console

    def activate(self) -> None:
        """The user wants this console: build it, attach, take the keyboard."""
        c = self.console
        c.activate()
        c._control.setFocus()

    def showEvent(self, event):  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.activate()

    def kernel_state(self, event: "KernelState") -> None:
        if self._console is not None:
            self._console.kernel_state(event)

    async def close_client(self) -> None:
        if self._console is not None:
            await self._console.close_client()
