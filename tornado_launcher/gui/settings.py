"""What the window remembers between runs, over QSettings.

Everything goes through :class:`Settings`, which takes the storage location
explicitly: the window never opens the user's real settings in a test.  The
location is, in order: the ``path`` argument, ``$TORNADO_LAUNCHER_SETTINGS``
(an ini file; the e2e test and the screenshot script use it), else the
platform's native store for organization ``tornado-launcher``.

Per-config values (each app's threaded / auto-reload / live-reload toggles) are keyed by a
short hash of the config file's absolute path, so two projects with an app of
the same name do not share toggles.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "tornado-launcher"
APPLICATION = "tornado-launcher"
MAX_RECENT = 10
DEFAULT_MAX_LINES = 10_000
#: the per-app switches remembered per config (gui.controller.TOGGLES)
APP_TOGGLES = ("threaded", "auto_reload", "live_reload")


def _config_key(config_path: str) -> str:
    absolute = str(Path(config_path).expanduser().resolve())
    return hashlib.sha1(absolute.encode("utf-8")).hexdigest()[:16]


def _to_bool(value, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on")


class Settings:
    def __init__(self, path: Optional[str] = None):
        path = path or os.environ.get("TORNADO_LAUNCHER_SETTINGS")
        if path:
            self.qsettings = QSettings(str(path), QSettings.Format.IniFormat)
        else:
            self.qsettings = QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                                       ORGANIZATION, APPLICATION)

    @property
    def location(self) -> str:
        return self.qsettings.fileName()

    def sync(self) -> None:
        self.qsettings.sync()

    # -- recent configs ---------------------------------------------------
    def recent_configs(self, existing_only: bool = True) -> list[str]:
        value = self.qsettings.value("recent/configs", [])
        if isinstance(value, str):
            value = [value]
        items = [str(v) for v in (value or []) if v]
        if existing_only:
            items = [p for p in items if Path(p).is_file()]
        return items

    def add_recent_config(self, path: str) -> None:
        path = str(Path(path).expanduser().resolve())
        items = [p for p in self.recent_configs(existing_only=False) if p != path]
        items.insert(0, path)
        self.qsettings.setValue("recent/configs", items[:MAX_RECENT])
        self.qsettings.setValue("recent/last", path)

    def clear_recent_configs(self) -> None:
        self.qsettings.setValue("recent/configs", [])

    def last_config(self) -> Optional[str]:
        value = self.qsettings.value("recent/last")
        return str(value) if value else None

    # -- per-config app toggles --------------------------------------------
    def app_toggles(self, config_path: str, app: str) -> dict:
        """``{"threaded": bool, "auto_reload": bool, "live_reload": bool}`` with only the keys stored."""
        base = f"configs/{_config_key(config_path)}/apps/{app}/"
        out = {}
        for key in APP_TOGGLES:
            value = self.qsettings.value(base + key)
            if value is not None:
                out[key] = _to_bool(value, False)
        return out

    def set_app_toggle(self, config_path: str, app: str, key: str, value: bool) -> None:
        assert key in APP_TOGGLES, key
        self.qsettings.setValue(f"configs/{_config_key(config_path)}/path",
                                str(Path(config_path).expanduser().resolve()))
        self.qsettings.setValue(f"configs/{_config_key(config_path)}/apps/{app}/{key}", bool(value))

    # -- window -----------------------------------------------------------
    def window_state(self, key: str) -> Optional[QByteArray]:
        value = self.qsettings.value(f"window/{key}")
        return value if isinstance(value, QByteArray) else None

    def set_window_state(self, key: str, value: QByteArray) -> None:
        self.qsettings.setValue(f"window/{key}", value)

    # -- log views --------------------------------------------------------
    def max_lines(self) -> int:
        try:
            return max(100, int(self.qsettings.value("logs/max_lines", DEFAULT_MAX_LINES)))
        except (TypeError, ValueError):
            return DEFAULT_MAX_LINES

    def set_max_lines(self, value: int) -> None:
        self.qsettings.setValue("logs/max_lines", int(value))
