"""The main window: welcome page, config errors, and a running session.

The window is only a view.  It builds the widgets and wires their signals to
a :class:`~tornado_launcher.gui.controller.WindowController` (Qt-free: config
loading and re-reading, diagnostics, toggle replay, which Session call a
button makes), runs the controller's coroutines as tasks on the shared
qasync loop (errors shown, never blocking), and renders the session's
events, dispatched by type in ``_handle_<EventType>`` methods as qtconsole
does.  It implements the controller's
:class:`~tornado_launcher.gui.controller.WindowView`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Callable, List, Optional

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QProgressBar,
    QSplitter,
    QStackedWidget,
    QSystemTrayIcon,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ..config import Diagnostic
from ..engine.api import SessionAPI
from ..engine.events import AppState, KernelState, LogRecord, ReloadEvent, SessionState
from . import editor, folder, icons
from .apps import AppRow, AppsModel, AppsView, KernelRow, KernelsModel, KernelsView
from .console_tab import ConsoleTabs
from .controller import WindowController, default_loader, default_session_factory
from .logview import LogHub, LogView
from .pages import ConfigErrorPanel, WelcomePage
from .settings import Settings

log = logging.getLogger(__name__)


async def engine_threads_done(timeout: float = 3.0) -> bool:
    """Wait until the kernels' reader/waiter threads (``tl-kernel-*``) have
    ended.  They hand their last lines to the loop with
    ``call_soon_threadsafe``; qasync's version has no "closed" check, so the
    loop must outlive them or a late call can land in a loop being torn down.
    """
    import threading

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(t.name.startswith("tl-kernel-") and t.is_alive() for t in threading.enumerate()):
            await asyncio.sleep(0)  # deliver what they queued last
            return True
        await asyncio.sleep(0.02)
    return False


#: the fields of a session row the apps table copies on each update
_ROW_KEYS = ("state", "reason", "urls", "elapsed_ms", "threaded", "auto_reload", "live_reload", "disabled",
             "kernel", "kind")
#: Settings > Log views: minimum, maximum and step of the lines kept per view
_LINES_RANGE = (100, 1_000_000, 1000)


def _with_keys(tip: str, shortcut) -> str:
    """The tooltip, with the shortcut as this platform writes it: ``Open a jaffle.hcl (Ctrl+O)``."""
    return tip + (f" ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
                  if shortcut else "")


class MainWindow(QMainWindow):
    WELCOME, ERROR, SESSION = range(3)
    folder_dialog = None  # Open folder's dialog while it is shown

    #: emitted once everything is stopped and the window may go away
    shutdown_finished = Signal()

    def __init__(self, settings: Settings, *, loader: Callable = default_loader,
                 session_factory: Callable = default_session_factory, flush_interval_ms: int = 50,
                 auto_reload: bool = True):
        super().__init__()
        self.settings = settings
        self.controller = WindowController(self, settings, loader=loader, session_factory=session_factory,
                                           auto_reload=auto_reload)
        self._tasks: set = set()
        self._closed = False
        self._busy_ops = 0
        self.notifications: list[tuple[str, str]] = []
        self.errors: list[str] = []
        self.max_lines = settings.max_lines()

        self.setWindowTitle("tornado-launcher")
        self.setWindowIcon(icons.app_icon())
        self.setAcceptDrops(True)
        self.resize(1180, 780)

        self.hub = LogHub(flush_interval_ms, self)
        self.log_views: dict = {}

        self._build_pages()
        self._build_actions()
        self._build_status()
        self._build_tray()
        self._restore_window()
        self.show_welcome()

    @property
    def session(self) -> Optional[SessionAPI]:
        """The running session (the controller's), or None."""
        return self.controller.session

    @property
    def config_path(self) -> Optional[str]:
        return self.controller.config_path

    @property
    def _closing(self) -> bool:
        return self.controller.closing

    # ------------------------------------------------------------------ UI
    def _build_pages(self) -> None:
        self.stack = QStackedWidget(self)
        self.welcome = WelcomePage(self)
        self.welcome.open_requested.connect(self._welcome_open)
        self.welcome.open_folder_requested.connect(self.open_folder_dialog)
        self.welcome.clear_recent_requested.connect(self._clear_recent)
        self.error_page = ConfigErrorPanel(banner=False, parent=self)
        self.error_page.retry_requested.connect(
            lambda: self.config_path and self.spawn(self.open_config(self.config_path), "open config"))
        self.error_page.dismissed.connect(self.show_welcome)

        self.session_page = QWidget(self)
        self.banner = ConfigErrorPanel(banner=True, parent=self.session_page)
        self.banner.retry_requested.connect(lambda: self.spawn(self.reread_config(), "re-read config"))
        self.banner.dismissed.connect(self.banner.hide)
        self.banner.hide()
        self.apps_model = AppsModel(self)
        self.apps_model.toggle_requested.connect(self.set_app_toggle)
        self.apps_view = AppsView(self.apps_model, self.session_page)
        self.apps_view.action_requested.connect(self.app_action)
        self.apps_view.url_activated.connect(lambda url: editor.open_url(url))
        self.apps_view.clicked.connect(self._app_selected)
        self.kernels_model = KernelsModel(self)
        self.kernels_view = KernelsView(self.kernels_model, self.session_page)
        self.kernels_view.action_requested.connect(self.kernel_action)
        self.kernels_view.clicked.connect(self._kernel_selected)
        self.tabs = QTabWidget(self.session_page)
        self.tabs.setDocumentMode(True)
        self.tabs.setUsesScrollButtons(True)
        #: kernel -> its console tab (qtconsole built on first show: gui/console_tab.py)
        self.consoles = ConsoleTabs(self.tabs, self.controller.connection_file, self.kernel_action)
        self.merged = self._new_log_view("all", "All", show_source=True)
        self.tabs.addTab(self.merged, "All")

        self.splitter = QSplitter(Qt.Orientation.Vertical, self.session_page)
        self.splitter.addWidget(self.apps_view)
        self.splitter.addWidget(self.kernels_view)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 6)
        self.splitter.setSizes([220, 90, 420])
        layout = QVBoxLayout(self.session_page)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)

        self.stack.addWidget(self.welcome)
        self.stack.addWidget(self.error_page)
        self.stack.addWidget(self.session_page)
        self.setCentralWidget(self.stack)

    def _action(self, text, slot, shortcut=None, icon_name=None, tip=None) -> QAction:
        a = QAction(text, self)
        if icon_name:
            a.setIcon(icons.icon(icon_name))
            a.setData(icon_name)
        if shortcut:
            a.setShortcut(QKeySequence(shortcut))
            a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if tip:
            a.setToolTip(_with_keys(tip, shortcut))
            a.setStatusTip(tip)
        a.triggered.connect(lambda _=False: slot())
        self.addAction(a)
        return a

    def _build_actions(self) -> None:
        A, Std = self._action, QKeySequence.StandardKey
        self.open_action = A("&Open config…", self.open_dialog, Std.Open, "open", "Open a jaffle.hcl")
        self.open_folder_action = A("Open &folder…", self.open_folder_dialog, "Ctrl+Shift+O", "open",
                                    "Find the Tornado apps in a project folder and run them")
        self.reread_action = A("Re-&read config", lambda: self.spawn(self.reread_config(), "re-read config"), "F5",
                               "reread", "Read the config again and apply what changed")
        self.close_config_action = A("&Close config", lambda: self.spawn(self.close_config(), "close config"),
                                     None, None, "Stop everything and go back to the welcome page")
        self.start_all_action = A("&Start all", lambda: self.all_action("start"), None, "start_all", "Start every app")
        self.stop_all_action = A("S&top all", lambda: self.all_action("stop"), None, "stop_all", "Stop every app")
        self.restart_all_action = A("Restart &all", lambda: self.all_action("restart"),
                                    "Ctrl+Shift+R", "restart_all", "Restart every app")
        self.restart_selected_action = A("&Restart selected", self.restart_selected, "Ctrl+R", "restart",
                                         "Restart the selected apps")
        self.quit_action = A("&Quit", self.close, Std.Quit, "quit", "Stop apps and kernels, then quit")
        self.quit_action.setShortcuts([QKeySequence("Ctrl+Q")] + ([QKeySequence(QKeySequence.StandardKey.Quit)]
                                      if QKeySequence(QKeySequence.StandardKey.Quit) != QKeySequence("Ctrl+Q") else []))
        self.find_action = A("&Find in log", self._find_in_log, None, "search",
                             "Find text in the current log view (Ctrl+F)")

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open_action)
        file_menu.addAction(self.open_folder_action)
        self.recent_menu = QMenu("Open &recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        self.demo_action = A("Open &demo", lambda: self.welcome.demo_path and self.spawn(
            self.open_config(str(self.welcome.demo_path)), "open demo"), None, None, "Open the bundled demo project")
        self.demo_action.setEnabled(self.welcome.demo_path is not None)
        file_menu.addAction(self.demo_action)
        file_menu.addAction(self.reread_action)
        file_menu.addAction(self.close_config_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        apps_menu = menu.addMenu("&Apps")
        for a in (self.start_all_action, self.stop_all_action, self.restart_all_action, self.restart_selected_action):
            apps_menu.addAction(a)
        view_menu = menu.addMenu("&View")
        view_menu.addAction(self.find_action)
        self.max_lines_action = A("&Lines kept per log…", self._ask_max_lines, None, None,
                                  "How many lines each log view keeps (older ones are dropped)")
        view_menu.addAction(self.max_lines_action)

        tb = QToolBar("Main", self)
        tb.setObjectName("main-toolbar")
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.setMovable(False)
        for a in (self.open_action, self.reread_action):
            tb.addAction(a)
        tb.addSeparator()
        for a in (self.start_all_action, self.stop_all_action, self.restart_all_action):
            tb.addAction(a)
        self.addToolBar(tb)
        self.toolbar = tb
        self._update_actions()

    def _build_status(self) -> None:
        self.state_label = QLabel("", self)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(140)
        self.progress.setMaximumHeight(14)
        self.progress.hide()
        self.statusBar().addPermanentWidget(self.progress)
        self.statusBar().addPermanentWidget(self.state_label)

    def _build_tray(self) -> None:
        self.tray = None
        if QSystemTrayIcon.isSystemTrayAvailable():
            self.tray = QSystemTrayIcon(icons.app_icon(), self)
            self.tray.setToolTip("tornado-launcher")
            self.tray.activated.connect(lambda *_: (self.showNormal(), self.raise_(), self.activateWindow()))
            self.tray.show()

    def _restore_window(self) -> None:
        geometry = self.settings.window_state("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        splitter = self.settings.window_state("splitter")
        if splitter is not None:
            self.splitter.restoreState(splitter)

    def save_window(self) -> None:
        self.settings.set_window_state("geometry", self.saveGeometry())
        self.settings.set_window_state("splitter", self.splitter.saveState())
        self.settings.sync()

    def _update_actions(self) -> None:
        has = self.session is not None
        for a in (self.reread_action, self.start_all_action, self.stop_all_action, self.restart_all_action,
                  self.restart_selected_action, self.close_config_action):
            a.setEnabled(has and not self._closing)
        self.open_action.setEnabled(not self._closing)

    def changeEvent(self, event):
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._refresh_icons()

    def _refresh_icons(self) -> None:
        """Icons are drawn in the palette's text color: redraw them for a
        light/dark switch."""
        icons.clear_cache()
        for a in self.actions():
            if a.data():
                a.setIcon(icons.icon(a.data()))
        self.apps_view._install_buttons()
        self.kernels_view._install_buttons()
        for view in self.log_views.values():
            view.refresh_icons()

    # --------------------------------------------------------------- tasks
    def spawn(self, coro, what: str = "") -> asyncio.Task:
        """Run ``coro`` on the loop; an exception is shown, never lost."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task) -> None:
            self._tasks.discard(t)
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                self.report_error(f"{what or 'action'} failed: {type(exc).__name__}: {exc}", exc)

        task.add_done_callback(done)
        return task

    def report_error(self, message: str, exc: Optional[BaseException] = None) -> None:
        import traceback as tb
        self.errors.append(message)
        log.error("%s", message, exc_info=exc)
        self.statusBar().showMessage(message, 10_000)
        text = "".join(tb.format_exception(type(exc), exc, exc.__traceback__)) if exc is not None else None
        self.merged.append(LogRecord(kernel="launcher", app=None, level="ERROR", message=message,
                                     traceback=text, origin="launcher"))

    def begin_busy(self, message: str) -> None:
        self._busy_ops += 1
        self.statusBar().showMessage(message)
        self.progress.show()

    def end_busy(self, message: str = "") -> None:
        self._busy_ops = max(0, self._busy_ops - 1)
        if not self._busy_ops:
            self.progress.hide()
            if message:
                self.statusBar().showMessage(message, 5000)
            else:
                self.statusBar().clearMessage()

    # ------------------------------------------------------------- configs
    def show_welcome(self) -> None:
        self.welcome.set_recent(self.settings.recent_configs())
        self.stack.setCurrentIndex(self.WELCOME)
        self.setWindowTitle("tornado-launcher")

    def _welcome_open(self, path: str) -> None:
        if path:
            self.spawn(self.open_config(path), "open config")
        else:
            self.open_dialog()

    def _clear_recent(self) -> None:
        self.settings.clear_recent_configs()
        self.welcome.set_recent([])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        items = self.settings.recent_configs()
        for path in items:
            a = self.recent_menu.addAction(path)
            a.triggered.connect(lambda _=False, p=path: self.spawn(self.open_config(p), "open config"))
        if not items:
            self.recent_menu.addAction("(none)").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list").triggered.connect(self._clear_recent)

    def open_dialog(self) -> None:
        start = str(Path(self.config_path).parent) if self.config_path else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, "Open config", start, "Jaffle configs (*.hcl);;All files (*)")
        if path:
            self.spawn(self.open_config(path), "open config")

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open folder", str(Path(self.config_path or "x").parent))
        if path:
            self.spawn(self.open_folder(path), "open folder")

    async def open_folder(self, path: str) -> Optional[str]:
        """Open folder (a folder or a .py file): :func:`.folder.open_folder`; returns the choice."""
        return await folder.open_folder(self, path)

    # The config lifecycle is the controller's; these run it as the window's tasks.
    async def open_config(self, path: str) -> bool:
        """Load ``path`` and run it (see :meth:`WindowController.open_config`)."""
        return await self.controller.open_config(path)

    async def reread_config(self) -> bool:
        """F5: apply the file again, or show its errors while the apps keep running."""
        return await self.controller.reread_config()

    async def close_config(self) -> None:
        await self.controller.close_config()

    async def close_session(self) -> None:
        await self.controller.close_session()

    # ------------------------------------------------- WindowView (controller)
    def show_error_page(self, path: str, title: str, diagnostics: List[Diagnostic]) -> None:
        self.error_page.show_diagnostics(title, diagnostics)
        self.stack.setCurrentIndex(self.ERROR)
        self.setWindowTitle(f"{Path(path).name} (error) — tornado-launcher")

    def show_banner(self, title: str, diagnostics: List[Diagnostic]) -> None:
        self.banner.show_diagnostics(title, diagnostics)

    def hide_banner(self) -> None:
        self.banner.hide()

    def session_opened(self, path: str) -> None:
        self.banner.hide()
        unwritten = " (no config file)" if self.controller.generated else ""
        self.setWindowTitle(f"{Path(path).parent.name}/{Path(path).name}{unwritten} — tornado-launcher")
        self._clear_session_views()
        self.sync_rows()
        self.stack.setCurrentIndex(self.SESSION)
        self._update_actions()

    def session_closed(self) -> None:
        self._update_actions()

    # ------------------------------------------------------- session views
    def _new_log_view(self, key, title: str, show_source: bool = False) -> LogView:
        view = LogView(title, show_source=show_source, max_lines=self.max_lines, parent=self)
        self.log_views[key] = view
        self.hub.add(view)
        return view

    def _clear_session_views(self) -> None:
        while self.tabs.count() > 1:
            w = self.tabs.widget(1)
            self.tabs.removeTab(1)
            if isinstance(w, LogView):
                self.hub.remove(w)
            w.deleteLater()
        self.log_views = {"all": self.merged}
        self.consoles.drop(self.spawn)
        self.merged.clear()
        self.apps_model.set_rows([])
        self.kernels_model.set_rows([])

    def app_log(self, name: str) -> LogView:
        view = self.log_views.get(("app", name))
        if view is None:
            view = self._new_log_view(("app", name), f"app {name}")
            # apps first, then kernels, then consoles
            index = 1 + sum(1 for k in self.log_views if isinstance(k, tuple) and k[0] == "app") - 1
            self.tabs.insertTab(index, view, name)
        return view

    def kernel_log(self, name: str) -> LogView:
        view = self.log_views.get(("kernel", name))
        if view is None:
            view = self._new_log_view(("kernel", name), f"kernel {name}")
            index = self.tabs.indexOf(next(iter(self.consoles.values()))) if self.consoles else self.tabs.count()
            self.tabs.insertTab(index, view, f"kernel: {name}")
            self.tabs.setTabToolTip(index, f"Raw output of kernel {name}")
        return view

    def sync_rows(self) -> None:
        """Add/remove rows and tabs to match ``session.apps`` / ``session.kernels``."""
        s = self.session
        if s is None:
            return
        apps = dict(s.apps)
        old = {r.name: r for r in self.apps_model.rows}
        rows = []
        for name, info in apps.items():
            row = AppRow.from_info(info)
            prev = old.get(name)
            if prev is not None and row.restarted_at is None:
                row.restarted_at = prev.restarted_at
                if row.elapsed_ms is None:
                    row.elapsed_ms = prev.elapsed_ms
            rows.append(row)
        if [r.name for r in rows] != list(old):
            self.apps_model.set_rows(rows)
        else:
            for row in rows:
                for key in _ROW_KEYS:
                    self.apps_model.set_value(row.name, key, getattr(row, key))
        kernels = dict(s.kernels)
        krows = [KernelRow.from_info(k) for k in kernels.values()]
        if [r.name for r in krows] != [r.name for r in self.kernels_model.rows]:
            self.kernels_model.set_rows(krows)
        for name in apps:
            self.app_log(name)
        for name in kernels:
            self.kernel_log(name)
        self.consoles.sync(kernels)
        for key in [k for k in self.log_views if isinstance(k, tuple) and k[0] == "app" and k[1] not in apps]:
            view = self.log_views.pop(key)
            self.hub.remove(view)
            self.tabs.removeTab(self.tabs.indexOf(view))
            view.deleteLater()

    # ----------------------------------------------------------- events
    def on_event(self, event) -> None:
        handler = getattr(self, "_handle_" + type(event).__name__, None)
        if handler is not None:
            try:
                handler(event)
            except Exception:
                log.exception("rendering %r failed", event)

    def _handle_LogRecord(self, rec: LogRecord) -> None:
        self.merged.append(rec)
        if rec.app is not None:
            self.app_log(rec.app).append(rec)
        else:
            self.kernel_log(rec.kernel).append(rec)

    def _handle_AppState(self, ev: AppState) -> None:
        if self.session is not None and ev.app not in self.session.apps:
            # removed by a re-read config: drop its row (after the session settles)
            QTimer.singleShot(0, self.sync_rows)
            return
        self.apps_model.update_from_event(ev)
        if ev.state == "failed":
            self.notify(f"{ev.app} failed", ev.reason or f"App {ev.app} failed; see its log.")
        if ev.state == "running" and ev.elapsed_ms is not None:
            self.statusBar().showMessage(f"{ev.app} serving after {ev.elapsed_ms:.0f} ms", 5000)

    def _handle_KernelState(self, ev: KernelState) -> None:
        self.kernels_model.update_from_event(ev)
        self.consoles.kernel_state(ev)
        if ev.state == "dead":
            self.notify(f"kernel {ev.kernel} died", ev.reason or f"Kernel {ev.kernel} died.")

    def _handle_ReloadEvent(self, ev: ReloadEvent) -> None:
        name = Path(ev.path).name
        if ev.outcome == "done":
            ms = f" in {ev.elapsed_ms:.0f} ms" if ev.elapsed_ms is not None else ""
            self.statusBar().showMessage(f"{ev.app}: reloaded {name}{ms}", 5000)
        elif ev.outcome == "refused":
            what = "did not compile" if ev.stage == "compile" else f"failed when it ran ({ev.detail})"
            self.statusBar().showMessage(f"{ev.app}: {name} {what}; still serving the old code", 10_000)
        elif ev.outcome == "skipped":
            self.statusBar().showMessage(f"{ev.app}: {name} changed ({ev.detail or 'not reloaded'})", 5000)
        elif ev.outcome == "reloading":
            self.statusBar().showMessage(f"{ev.app}: {name} changed, reloading…", 3000)

    def _handle_SessionState(self, ev: SessionState) -> None:
        self.state_label.setText(f"session: {ev.state}")
        self.state_label.setToolTip(ev.reason or "")

    def notify(self, title: str, message: str) -> None:
        """A desktop notification, only when the window is not focused."""
        if self.isActiveWindow() and QGuiApplication.applicationState() == Qt.ApplicationState.ApplicationActive:
            return
        self.notifications.append((title, message))
        if self.tray is not None and QSystemTrayIcon.supportsMessages():
            self.tray.showMessage(title, message, QSystemTrayIcon.MessageIcon.Warning, 8000)

    # ---------------------------------------------------------- commands
    def _app_selected(self, current) -> None:
        if current.isValid() and current.row() < len(self.apps_model.rows):
            view = self.log_views.get(("app", self.apps_model.rows[current.row()].name))
            if view is not None:
                self.tabs.setCurrentWidget(view)

    def _kernel_selected(self, current) -> None:
        if current.isValid() and current.row() < len(self.kernels_model.rows):
            view = self.log_views.get(("kernel", self.kernels_model.rows[current.row()].name))
            if view is not None:
                self.tabs.setCurrentWidget(view)

    def app_action(self, name: str, action: str) -> Optional[asyncio.Task]:
        call = self.controller.app_action(name, action)
        return None if call is None else self.spawn(call, f"{action} {name}")

    def kernel_action(self, name: str, action: str) -> Optional[asyncio.Task]:
        if action == "console":
            return self.consoles.show(name)
        call = self.controller.kernel_action(name, action)
        return None if call is None else self.spawn(call, f"{action} kernel {name}")

    def all_action(self, action: str) -> asyncio.Task:
        return self.spawn(self.controller.all_action(action), f"{action} all")

    def restart_selected(self) -> None:
        names = self.apps_view.selected_apps()
        if not names:
            current = self.apps_view.currentIndex()
            if current.isValid():
                names = [self.apps_model.rows[current.row()].name]
        if not names:
            self.statusBar().showMessage("Select an app to restart (Ctrl+Shift+R restarts all)", 4000)
        for name in names:
            self.app_action(name, "restart")

    def set_app_toggle(self, name: str, key: str, value: bool) -> Optional[asyncio.Task]:
        call = self.controller.set_toggle(name, key, value)
        return None if call is None else self.spawn(call, f"{key.replace('_', ' ')} of {name}")

    def _ask_max_lines(self) -> None:
        from PySide6.QtWidgets import QInputDialog
        value, ok = QInputDialog.getInt(self, "Log views", "Lines kept per log view:", self.max_lines, *_LINES_RANGE)
        if ok:
            self.set_max_lines(value)

    def set_max_lines(self, value: int) -> None:
        self.max_lines = int(value)
        self.settings.set_max_lines(self.max_lines)
        for view in self.log_views.values():
            view.set_max_lines(self.max_lines)

    def _find_in_log(self) -> None:
        w = self.tabs.currentWidget()
        if isinstance(w, LogView):
            w.show_find()

    # ------------------------------------------------------ drag and drop
    @staticmethod
    def _hcl_from_mime(mime) -> Optional[str]:
        return folder.dropped_path(mime)  # a .hcl, else a folder or a .py file

    def dragEnterEvent(self, event):
        if self._hcl_from_mime(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        self.dragEnterEvent(event)

    def dropEvent(self, event):
        path = self._hcl_from_mime(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.spawn((self.open_config if path.endswith(".hcl") else self.open_folder)(path), "open")

    # ----------------------------------------------------------- closing
    def closeEvent(self, event):
        if self._closed:
            event.accept()
            return
        event.ignore()
        if not self._closing:
            self.controller.closing = True
            # show at once that quitting is under way; the stop is awaited
            self.begin_busy("Stopping apps and kernels…" if self.session is not None else "Quitting…")
            self.spawn(self._shutdown_and_close(), "quit")

    async def _shutdown_and_close(self) -> None:
        self.save_window()
        self._update_actions()
        self.centralWidget().setEnabled(False)
        try:
            await self.consoles.close_all()
            await asyncio.wait_for(self.close_session(), timeout=60)
            await engine_threads_done(timeout=3.0)
        except Exception as exc:
            log.error("shutdown failed: %s", exc)
        finally:
            for t in list(self._tasks):
                if t is not asyncio.current_task():
                    t.cancel()
            self.hub.timer.stop()
            self._closed = True
            if self.tray is not None:
                self.tray.hide()
            self.close()
            self.shutdown_finished.emit()

    @property
    def closed(self) -> bool:
        return self._closed
