"""Process-level start of the window: QApplication, the qasync loop, signals."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from typing import Optional

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from . import icons
from .settings import APPLICATION, ORGANIZATION, Settings

log = logging.getLogger(__name__)


def make_app(argv=None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("tornado-launcher")
    app.setDesktopFileName("tornado-launcher")
    app.setWindowIcon(icons.app_icon())
    app.setQuitOnLastWindowClosed(False)  # the window quits itself after shutdown
    return app


def _loader_for(config_path: Optional[str], overlays, variables):
    """The config loader: the command line's overlays and variables apply to its own file only."""
    from ..config import load

    if not config_path or not (overlays or variables):
        return load
    own = os.path.realpath(config_path)

    def loader(path: str):
        if os.path.realpath(path) == own:
            return load([path, *overlays] if overlays else path, variables or None)
        return load(path)

    return loader


class FileOpenFilter(QObject):
    """macOS hands a double-clicked .hcl to a running app as a FileOpen event,
    not as an argument: open it like one dropped on the window."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self._window = window

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.FileOpen:
            path = event.file()
            if path:
                self._window.spawn(self._window.open_config(path), "open config")
                return True
        return False


async def _main(config_path: Optional[str], settings: Settings, auto_reload: bool = True,
                loader=None, generated=None) -> int:
    from .window import MainWindow

    loop = asyncio.get_running_loop()
    window = MainWindow(settings, auto_reload=auto_reload, **({"loader": loader} if loader else {}))
    finished = loop.create_future()
    window.shutdown_finished.connect(lambda: finished.done() or finished.set_result(0))
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, window.close)
        except (NotImplementedError, RuntimeError, ValueError):  # Windows
            pass
    file_open = FileOpenFilter(window)
    QApplication.instance().installEventFilter(file_open)
    window.show()
    if generated:
        name, text, directory = generated
        window.spawn(window.controller.open_generated(name, text, directory), "run")
    elif config_path:
        window.spawn(window.open_config(config_path), "open config")
    code = await finished
    window.deleteLater()
    return code


def _run_on_qasync(app: QApplication, coro) -> int:
    """Run ``coro`` on a qasync loop, without qasync.run's global policy.

    On Python < 3.12 ``qasync.run`` installs an event loop *policy* that makes
    every new loop a Qt loop -- also the loops jupyter_client's heartbeat
    thread creates, which then fail ("QApplication::exec: Must be called from
    the main thread").  A loop factory touches only this loop.
    """
    import qasync

    factory = lambda: qasync.QEventLoop(app)  # noqa: E731
    if hasattr(asyncio, "Runner"):  # 3.11+
        with asyncio.Runner(loop_factory=factory) as runner:
            return runner.run(coro)
    loop = factory()  # pragma: no cover - Python 3.10
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(coro)
    finally:
        loop.close()
        asyncio.set_event_loop(None)


def run(config_path: Optional[str] = None, *, auto_reload: bool = True, settings_path: Optional[str] = None,
        overlays=None, variables=None, generated=None) -> int:
    from ._compat import MainThreadGC

    app = make_app()
    settings = Settings(settings_path)
    collector = MainThreadGC()  # Qt objects must die on the GUI thread
    # Python only runs signal handlers between bytecodes: a periodic no-op
    # keeps Ctrl+C responsive while Qt sits in C++.
    keepalive = QTimer()
    keepalive.start(250)
    keepalive.timeout.connect(lambda: None)
    try:
        loader = _loader_for(config_path, list(overlays or ()), dict(variables or {}))
        return _run_on_qasync(app, _main(config_path, settings, auto_reload, loader, generated))
    except KeyboardInterrupt:
        return 130
    finally:
        keepalive.stop()
        settings.sync()
        collector.stop()
