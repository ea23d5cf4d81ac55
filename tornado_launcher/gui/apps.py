"""The app list and the kernel list: table models and their views.

Rows mirror ``session.apps`` / ``session.kernels`` and are updated from
``AppState`` / ``KernelState`` events.  The views never call the session:
they emit ``action_requested`` / ``toggle_requested`` and the window decides.
"""

from __future__ import annotations

import time as _time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QTableView,
    QToolButton,
    QWidget,
)

from . import icons
from .logview import format_time, is_dark

if TYPE_CHECKING:
    from ..engine.status import AppInfo, KernelInfo


APP_STATE_LABELS = {
    "stopped": "stopped",
    "starting": "starting…",
    "running": "running",
    "stopping": "stopping…",
    "failed": "failed",
    "stale": "stale: serving old code",
    "not responding": "not responding",
}
KERNEL_STATE_LABELS = {
    "starting": "starting…",
    "idle": "idle",
    "busy": "busy",
    "dead": "dead",
    "restarting": "restarting…",
    "stopped": "stopped",
    "not responding": "not responding",
}
BADGE_COLORS = {  # (light, dark)
    "stopped": ("#6e7781", "#6e7681"),
    "starting": ("#0969da", "#1f6feb"),
    "restarting": ("#0969da", "#1f6feb"),
    "running": ("#1a7f37", "#238636"),
    "idle": ("#1a7f37", "#238636"),
    "busy": ("#8250df", "#8957e5"),
    "stopping": ("#9a6700", "#9e6a03"),
    "stale": ("#bc4c00", "#db6d28"),
    "failed": ("#cf222e", "#da3633"),
    "dead": ("#cf222e", "#da3633"),
    "not responding": ("#953800", "#bd561d"),
}
#: states whose reason is shown in the URL column (why, at a glance)
_SHOW_REASON = ("failed", "stale", "not responding")


@dataclass
class AppRow:
    name: str
    kernel: str = ""
    kind: str = "tornado"
    state: str = "stopped"
    reason: Optional[str] = None
    urls: tuple = ()
    elapsed_ms: Optional[float] = None
    restarted_at: Optional[float] = None
    threaded: bool = False
    auto_reload: bool = True
    live_reload: bool = False
    disabled: bool = False
    #: what the last start re-imported, one line per fact (the "Last restart" tooltip)
    last_reload: Optional[str] = None
    #: "patched" (applied in place), "reloaded" (a ``reload = "patch"`` app fell back), else None
    reload_kind: Optional[str] = None

    @classmethod
    def from_info(cls, info: "AppInfo") -> "AppRow":
        return cls(name=info.name, kernel=info.kernel, kind=info.kind, state=info.state or "stopped",
                   reason=info.reason, urls=tuple(info.urls), elapsed_ms=info.elapsed_ms,
                   threaded=info.threaded, auto_reload=info.auto_reload, live_reload=info.live_reload,
                   disabled=info.disabled)


@dataclass
class KernelRow:
    name: str
    state: str = "starting"
    pid: Optional[int] = None
    reason: Optional[str] = None
    since: float = field(default_factory=_time.time)

    @classmethod
    def from_info(cls, info: "KernelInfo") -> "KernelRow":
        return cls(name=info.name, state=info.state or "starting", pid=info.pid)


class BadgeDelegate(QStyledItemDelegate):
    """Paints a state as a colored rounded badge."""

    def paint(self, painter: QPainter, option, index):
        state = index.data(Qt.ItemDataRole.UserRole)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        dark = is_dark(option.palette)
        color = QColor(BADGE_COLORS.get(state, BADGE_COLORS["stopped"])[1 if dark else 0])
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        fm = painter.fontMetrics()
        w = fm.horizontalAdvance(text) + 14
        h = fm.height() + 4
        r = option.rect
        rect = QRectF(r.x() + 4, r.y() + (r.height() - h) / 2, min(w, r.width() - 8), h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRoundedRect(rect, h / 2, h / 2)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter,
                         fm.elidedText(text, Qt.TextElideMode.ElideRight, int(rect.width()) - 8))
        painter.restore()

    def sizeHint(self, option, index):
        base = super().sizeHint(option, index)
        return QSize(base.width() + 24, max(base.height(), option.fontMetrics.height() + 8))


class _RowsModel(QAbstractTableModel):
    """A table of named rows (apps or kernels), updated in place by events.

    Subclasses name their columns in ``HEADERS``.
    """

    HEADERS: list = []

    def __init__(self, parent=None):
        super().__init__(parent)
        self.rows: list = []

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):
        return len(self.HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def set_rows(self, rows: list) -> None:
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def row_of(self, name: str) -> int:
        for i, r in enumerate(self.rows):
            if r.name == name:
                return i
        return -1

    def get(self, name: str):
        i = self.row_of(name)
        return self.rows[i] if i >= 0 else None

    def _row_for(self, name: str, make):
        """``(index, row)`` of the row named ``name``, appended (``make()``) if new."""
        i = self.row_of(name)
        if i < 0:
            i = len(self.rows)
            self.beginInsertRows(QModelIndex(), i, i)
            self.rows.append(make())
            self.endInsertRows()
        return i, self.rows[i]


def describe_reload(reload: dict) -> str:
    """``"re-imported 3 modules: acme.handlers, acme.routes, acme.app"`` (and why it was all of them),
    ``"patched handlers.py: Main.get (state kept)"``, or why a ``reload = "patch"`` app reloaded instead."""
    if reload.get("kind") == "patched":
        files = ", ".join(reload.get("files") or ())
        return (f"patched {files}: " if files else "patched: ") + (
            ", ".join(reload.get("patched") or ()) or "no change") + " (state kept)"
    n = reload.get("reimported") or 0
    names = list(reload.get("modules") or ())
    text = f"re-imported {n} module{'' if n == 1 else 's'}"
    if names:
        text += ": " + ", ".join(names) + (", …" if n > len(names) else "")
    if reload.get("mode") == "all" and reload.get("note"):
        text += f"\nall of them: {reload['note']}"
    if reload.get("fallback"):
        text = f"reloaded ({reload['fallback']}): " + text
    return text


class AppsModel(_RowsModel):
    NAME, KERNEL, STATUS, ACTIONS, URL, ELAPSED, THREADED, AUTO, LIVE = range(9)
    HEADERS = ["App", "Kernel", "Status", "", "URL", "Last restart", "Threaded", "Auto-reload", "Live reload"]
    #: the checkbox columns and the toggle each one is
    TOGGLE_COLUMNS = {THREADED: "threaded", AUTO: "auto_reload", LIVE: "live_reload"}

    #: (app name, "threaded" | "auto_reload" | "live_reload", value)
    toggle_requested = Signal(str, str, bool)

    # -- feeding ----------------------------------------------------------
    def update_from_event(self, ev) -> AppRow:
        i, row = self._row_for(ev.app, lambda: AppRow(name=ev.app, kernel=ev.kernel))
        row.kernel = ev.kernel or row.kernel
        row.state = ev.state
        row.reason = ev.reason
        if ev.urls or ev.state in ("stopped", "failed"):
            row.urls = tuple(ev.urls)
        if ev.elapsed_ms is not None:
            row.elapsed_ms = ev.elapsed_ms
            row.restarted_at = ev.time
            row.reload_kind = None
        if getattr(ev, "reload", None):
            row.last_reload = describe_reload(ev.reload)
            kind = ev.reload.get("kind")
            row.reload_kind = kind if kind == "patched" or ev.reload.get("fallback") else None
        row.threaded = bool(ev.threaded)
        row.auto_reload = bool(ev.auto_reload)
        row.live_reload = bool(getattr(ev, "live_reload", False))
        self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))
        return row

    def set_value(self, name: str, key: str, value) -> None:
        i = self.row_of(name)
        if i >= 0:
            setattr(self.rows[i], key, value)
            self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))

    # -- Qt model API -------------------------------------------------------

    def flags(self, index):
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() in self.TOGGLE_COLUMNS:
            # only Tornado apps run in a mode and reload; watchdogs, processes and jobs do not
            if self.rows[index.row()].kind != "tornado":
                return Qt.ItemFlag.ItemIsSelectable
            return base | Qt.ItemFlag.ItemIsUserCheckable
        return base

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        col = index.column()
        R = Qt.ItemDataRole
        if role == R.DisplayRole:
            if col == self.NAME:
                return row.name + (" (disabled)" if row.disabled and row.state == "stopped" else "")
            if col == self.KERNEL:
                return row.kernel
            if col == self.STATUS:
                return APP_STATE_LABELS.get(row.state, row.state)
            if col == self.URL:
                if row.state == "not responding" and row.reason:
                    return row.reason.splitlines()[0]  # its URL would not answer: say where it is stuck
                if row.urls:
                    return row.urls[0]
                if row.state in _SHOW_REASON and row.reason:
                    return row.reason.splitlines()[0]  # why, at a glance (full text in the tooltip)
                return "" if row.kind == "tornado" else "—"
            if col == self.ELAPSED:
                if row.elapsed_ms is None:
                    return ""
                return f"{row.reload_kind + ' ' if row.reload_kind else ''}{row.elapsed_ms:.0f} ms"
            if col == self.THREADED:
                return ("own thread" if row.threaded else "shared loop") if row.kind == "tornado" else "—"
            if col in (self.AUTO, self.LIVE) and row.kind != "tornado":
                return "—"
            return None
        if role == R.UserRole:
            return row.state if col == self.STATUS else row.name
        if role == R.CheckStateRole:
            if col == self.THREADED and row.kind == "tornado":
                return Qt.CheckState.Checked if row.threaded else Qt.CheckState.Unchecked
            if col in (self.AUTO, self.LIVE) and row.kind == "tornado":
                on = row.auto_reload if col == self.AUTO else row.live_reload
                return Qt.CheckState.Checked if on else Qt.CheckState.Unchecked
            return None
        if role == R.ToolTipRole:
            if col == self.STATUS:
                return row.reason or APP_STATE_LABELS.get(row.state, row.state)
            if col == self.URL and row.urls:
                return "Open in the browser:\n" + "\n".join(row.urls)
            if col == self.URL and row.reason:
                return row.reason
            if col == self.ELAPSED and row.restarted_at:
                text = f"request to serving, at {format_time(row.restarted_at)}"
                return text + ("\n" + row.last_reload if row.last_reload else "")
            if col == self.THREADED:
                return ("Run the app's IOLoop in its own thread (unchecked: on the kernel's loop). "
                        "Changing it restarts a running app.")
            if col == self.AUTO:
                return "Restart the app when its files change"
            if col == self.LIVE:
                return ("Reload the app's pages in the browser once it serves new code; show what "
                        "broke when a save does not start")
            if col == self.NAME:
                return f"{row.name} ({row.kind} app in kernel {row.kernel})"
        if role == R.ForegroundRole and col == self.URL and row.urls and row.state != "not responding":
            return QColor("#58a6ff") if is_dark() else QColor("#0b57d0")
        if role == R.ForegroundRole and col == self.URL and row.state in _SHOW_REASON and row.reason:
            return QColor("#ff7b72") if is_dark() else QColor("#cf222e")
        if role == R.FontRole and col == self.URL and row.urls and row.state != "not responding":
            f = QFont()
            f.setUnderline(True)
            return f
        if role == R.FontRole and col == self.NAME:
            f = QFont()
            f.setBold(True)
            return f
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole):
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid():
            return False
        col = index.column()
        if col not in self.TOGGLE_COLUMNS:
            return False
        checked = (value == Qt.CheckState.Checked or value == Qt.CheckState.Checked.value or value is True)
        row = self.rows[index.row()]
        if row.kind != "tornado":
            return False
        key = self.TOGGLE_COLUMNS[col]
        if getattr(row, key) == checked:
            return True
        setattr(row, key, checked)
        self.dataChanged.emit(index, index)
        self.toggle_requested.emit(row.name, key, checked)
        return True


class _Buttons(QWidget):
    def __init__(self, specs, parent=None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(2, 0, 2, 0)
        layout.setSpacing(2)
        self.buttons: dict[str, QToolButton] = {}
        for key, icon_name, tip in specs:
            b = QToolButton(self)
            b.setIcon(icons.icon(icon_name))
            b.setToolTip(tip)
            b.setAccessibleName(tip)
            b.setAutoRaise(True)
            b.setObjectName(key)
            layout.addWidget(b)
            self.buttons[key] = b
        layout.addStretch(1)


class _RowButtonsView(QTableView):
    """A table whose rows carry a strip of action buttons in one column.

    Subclasses say which buttons a row has (:meth:`_button_specs`) and when
    each is enabled (:meth:`_enable`); clicks come out as
    ``action_requested(row name, action)``.
    """

    action_requested = Signal(str, str)
    ACTIONS_COLUMN = 0

    def _watch(self, model) -> None:
        self._rows_model = model
        self._buttons: dict[str, _Buttons] = {}
        model.modelReset.connect(self._install_buttons)
        model.rowsInserted.connect(lambda *a: self._install_buttons())
        model.dataChanged.connect(lambda *a: self._update_buttons())

    def _button_specs(self, row) -> list:  # (key, icon, tooltip)
        raise NotImplementedError

    def _enable(self, row, buttons: dict) -> None:
        raise NotImplementedError

    def _install_buttons(self) -> None:
        self._buttons.clear()
        for i, row in enumerate(self._rows_model.rows):
            w = _Buttons(self._button_specs(row), self)
            for key, b in w.buttons.items():
                b.clicked.connect(lambda _=False, n=row.name, k=key: self.action_requested.emit(n, k))
            self.setIndexWidget(self._rows_model.index(i, self.ACTIONS_COLUMN), w)
            self._buttons[row.name] = w
        self._update_buttons()

    def _update_buttons(self) -> None:
        for row in self._rows_model.rows:
            w = self._buttons.get(row.name)
            if w is not None:
                self._enable(row, w.buttons)

    def buttons(self, name: str) -> dict[str, QToolButton]:
        return self._buttons[name].buttons


class AppsView(_RowButtonsView):
    """Apps table; per row Start / Stop / Restart buttons."""

    ACTIONS_COLUMN = AppsModel.ACTIONS

    #: (app name, "start" | "stop" | "restart")
    action_requested = Signal(str, str)
    url_activated = Signal(str)

    def __init__(self, model: AppsModel, parent=None):
        super().__init__(parent)
        self.setModel(model)
        self.apps_model = model
        self.setItemDelegateForColumn(AppsModel.STATUS, BadgeDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setAlternatingRowColors(True)
        self.setMouseTracking(True)
        header = self.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(AppsModel.URL, QHeaderView.ResizeMode.Stretch)
        for col, width in ((AppsModel.NAME, 110), (AppsModel.KERNEL, 90), (AppsModel.STATUS, 180),
                           (AppsModel.ELAPSED, 90), (AppsModel.THREADED, 115), (AppsModel.AUTO, 95),
                           (AppsModel.LIVE, 95),
                           (AppsModel.ACTIONS, 120)):
            self.setColumnWidth(col, width)
        self.clicked.connect(self._on_clicked)
        self._watch(model)

    def _button_specs(self, row) -> list:
        return [("start", "start", f"Start {row.name}"), ("stop", "stop", f"Stop {row.name}"),
                ("restart", "restart", f"Restart {row.name} (Ctrl+R)"),
                ("interrupt", "interrupt", f"Interrupt {row.name}: an exception where its loop is blocked "
                                           f"(kernel {row.kernel})")]

    def _enable(self, row, buttons: dict) -> None:
        s = row.state
        buttons["start"].setEnabled(s in ("stopped", "failed"))
        buttons["stop"].setEnabled(s in ("running", "starting", "stale", "failed", "not responding"))
        buttons["restart"].setEnabled(s in ("running", "stale", "failed", "stopped", "not responding"))
        # only when there is something to interrupt: its loop is blocked
        buttons["interrupt"].setEnabled(s == "not responding" and row.kind == "tornado")


    def selected_apps(self) -> list[str]:
        rows = sorted({i.row() for i in self.selectionModel().selectedRows()})
        return [self.apps_model.rows[r].name for r in rows if r < len(self.apps_model.rows)]

    def _on_clicked(self, index) -> None:
        if index.column() == AppsModel.URL:
            row = self.apps_model.rows[index.row()]
            if row.urls:
                self.url_activated.emit(row.urls[0])

    def mouseMoveEvent(self, event):
        super().mouseMoveEvent(event)
        index = self.indexAt(event.position().toPoint())
        link = index.isValid() and index.column() == AppsModel.URL and bool(self.apps_model.rows[index.row()].urls)
        self.viewport().setCursor(Qt.CursorShape.PointingHandCursor if link else Qt.CursorShape.ArrowCursor)


class KernelsModel(_RowsModel):
    NAME, STATUS, ACTIONS, PID = range(4)
    HEADERS = ["Kernel", "State", "", "PID"]

    def update_from_event(self, ev) -> KernelRow:
        i, row = self._row_for(ev.kernel, lambda: KernelRow(name=ev.kernel))
        row.state = ev.state
        row.reason = ev.reason
        if ev.pid is not None or ev.state in ("dead", "stopped"):
            row.pid = ev.pid if ev.pid is not None else row.pid
        row.since = ev.time
        self.dataChanged.emit(self.index(i, 0), self.index(i, self.columnCount() - 1))
        return row


    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.rows):
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == self.NAME:
                return row.name
            if col == self.STATUS:
                return KERNEL_STATE_LABELS.get(row.state, row.state)
            if col == self.PID:
                if row.state == "dead" and row.reason:
                    return row.reason.splitlines()[0]
                return str(row.pid) if row.pid else ""
        if role == Qt.ItemDataRole.UserRole:
            return row.state if col == self.STATUS else row.name
        if role == Qt.ItemDataRole.ToolTipRole and col == self.STATUS:
            return (row.reason or KERNEL_STATE_LABELS.get(row.state, row.state)) + f" (since {format_time(row.since)})"
        if role == Qt.ItemDataRole.FontRole and col == self.NAME:
            f = QFont()
            f.setBold(True)
            return f
        return None


class KernelsView(_RowButtonsView):
    ACTIONS_COLUMN = KernelsModel.ACTIONS

    #: (kernel name, "restart" | "interrupt" | "console")
    action_requested = Signal(str, str)

    def __init__(self, model: KernelsModel, parent=None):
        super().__init__(parent)
        self.setModel(model)
        self.kernels_model = model
        self.setItemDelegateForColumn(KernelsModel.STATUS, BadgeDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setShowGrid(False)
        header = self.horizontalHeader()
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col, width in ((KernelsModel.NAME, 110), (KernelsModel.STATUS, 130), (KernelsModel.ACTIONS, 92)):
            self.setColumnWidth(col, width)
        self._watch(model)

    def _button_specs(self, row) -> list:
        return [("restart", "restart", f"Restart kernel {row.name} (its apps start again)"),
                ("interrupt", "interrupt", f"Interrupt kernel {row.name} (KeyboardInterrupt in the running cell; "
                                           "an exception where a handler blocks its loop)"),
                ("console", "console", f"Open the console of kernel {row.name}")]

    def _enable(self, row, buttons: dict) -> None:
        buttons["restart"].setEnabled(row.state not in ("restarting", "starting"))
        buttons["interrupt"].setEnabled(row.state in ("busy", "idle", "not responding"))

