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

import asyncio
import os
from typing import TYPE_CHECKING, Callable, Optional

from PySide6.QtWidgets import QVBoxLayout, QWidget

if TYPE_CHECKING:
    from ..engine.events import KernelState
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


class ConsoleTabs(dict):
    """kernel name -> its :class:`ConsoleTab`, each a tab of ``tabs`` (after
    the log tabs).  ``connection_file(kernel)`` and ``kernel_action(kernel,
    action)`` are the window controller's and the window's."""

    def __init__(self, tabs, connection_file: Callable[[str], Optional[str]],
                 kernel_action: Callable[[str, str], object]) -> None:
        super().__init__()
        self.tabs = tabs
        self._connection_file = connection_file
        self._kernel_action = kernel_action
        #: TORNADO_LAUNCHER_OPEN_CONSOLE=1: show the first kernel's console as
        #: soon as a session opens (the frozen-app smoke test types in it)
        self.open_first = bool(os.environ.get("TORNADO_LAUNCHER_OPEN_CONSOLE"))
        tabs.currentChanged.connect(self._tab_changed)

    def tab(self, kernel: str) -> ConsoleTab:
        """The console tab of ``kernel``, added if new."""
        c = self.get(kernel)
        if c is None:
            from . import icons

            c = ConsoleTab(kernel, lambda k=kernel: self._connection_file(k),
                           interrupt=lambda k=kernel: self._kernel_action(k, "interrupt"),
                           restart=lambda k=kernel: self._kernel_action(k, "restart"), parent=self.tabs)
            self[kernel] = c
            i = self.tabs.addTab(c, icons.icon("console"), f"console: {kernel}")
            self.tabs.setTabToolTip(i, f"IPython in kernel {kernel}")
        return c

    def sync(self, kernels) -> None:
        """A tab per kernel of ``kernels`` (the first one shown if asked to)."""
        for name in kernels:
            self.tab(name)
        if self.open_first and kernels:
            self.open_first = False
            self.show(next(iter(kernels)))

    def show(self, kernel: str) -> None:
        """Bring the console of ``kernel`` to the front, with the keyboard."""
        c = self.tab(kernel)
        self.tabs.setCurrentWidget(c)
        c.activate()

    def _tab_changed(self, index: int) -> None:
        """A console's tab clicked: it attaches and takes the keyboard."""
        w = self.tabs.widget(index)
        if isinstance(w, ConsoleTab):
            w.activate()

    def kernel_state(self, event: "KernelState") -> None:
        c = self.get(event.kernel)
        if c is not None:
            c.kernel_state(event)

    def drop(self, spawn: Callable[..., object]) -> None:
        """Forget every console (their tabs are removed by the window); their
        clients are let go in tasks started with ``spawn(coro, what)``."""
        for c in self.values():
            spawn(c.close_client(), f"closing console {c.kernel}")
        self.clear()

    async def close_all(self) -> None:
        """Let every console go of its kernel (their client threads end)."""
        await asyncio.gather(*(c.close_client() for c in list(self.values())), return_exceptions=True)
