"""Vector icons, drawn in the theme's text color so they suit light and dark.

The SVG sources live here as strings (no package data to forget in a wheel or
a PyInstaller bundle).  ``currentColor`` is replaced by the palette's text
color and each icon is rendered at several sizes times the device pixel
ratio, so it stays sharp on high-DPI screens.  Call :func:`clear_cache` when
the palette changes.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from . import paths

_HEAD = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" '
         'stroke-width="2" stroke-linecap="round" stroke-linejoin="round">')
_SVG = {
    "open": '<path d="M3 7a2 2 0 0 1 2-2h4l2 2h8a2 2 0 0 1 2 2v8a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2z"/>',
    "reread": ('<path d="M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z"/><path d="M14 3v5h5"/>'
               '<path d="M9 14a3 3 0 1 0 1-2.2"/><path d="M9 10v2h2"/>'),
    "start": '<path d="M7 4.5v15l12-7.5z" fill="#2da44e" stroke="#2da44e"/>',
    "stop": '<rect x="5.5" y="5.5" width="13" height="13" rx="2" fill="#cf222e" stroke="#cf222e"/>',
    "restart": '<path d="M20 12a8 8 0 1 1-2.34-5.66"/><path d="M20 4v5h-5"/>',
    "start_all": ('<path d="M4 5v14l8-7z" fill="#2da44e" stroke="#2da44e"/>'
                  '<path d="M12 5v14l8-7z" fill="#2da44e" stroke="#2da44e"/>'),
    "stop_all": ('<rect x="3" y="7" width="8" height="10" rx="1.5" fill="#cf222e" stroke="#cf222e"/>'
                 '<rect x="13" y="7" width="8" height="10" rx="1.5" fill="#cf222e" stroke="#cf222e"/>'),
    "restart_all": '<path d="M19 12a7 7 0 1 1-2-4.95"/><path d="M19 3v5h-5"/><path d="M12 9v6M9 12h6"/>',
    "interrupt": '<path d="M13 2 4 14h7l-1 8 9-12h-7z"/>',
    "clear": '<path d="M4 7h16M10 11v6M14 11v6M6 7l1 12a2 2 0 0 0 2 2h6a2 2 0 0 0 2-2l1-12M9 7V4h6v3"/>',
    "copy": ('<rect x="9" y="9" width="11" height="11" rx="2"/>'
             '<path d="M5 15H4a1 1 0 0 1-1-1V4a1 1 0 0 1 1-1h10a1 1 0 0 1 1 1v1"/>'),
    "save": '<path d="M12 3v12M7 10l5 5 5-5M4 19h16"/>',
    "follow": '<path d="M12 4v14M6 12l6 6 6-6M5 21h14"/>',
    "search": '<circle cx="11" cy="11" r="7"/><path d="m20 20-4-4"/>',
    "console": '<rect x="3" y="4" width="18" height="16" rx="2"/><path d="m7 9 3 3-3 3M12 15h5"/>',
    "quit": '<path d="M10 4H5a1 1 0 0 0-1 1v14a1 1 0 0 0 1 1h5M15 8l4 4-4 4M19 12H9"/>',
}

#: The application icon, also written to resources/icons/tornado-launcher.svg.
APP_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">
  <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
    <stop offset="0" stop-color="#2b7de9"/><stop offset="1" stop-color="#1746a2"/></linearGradient></defs>
  <rect x="2" y="2" width="60" height="60" rx="14" fill="url(#g)"/>
  <g fill="none" stroke="#ffffff" stroke-linecap="round" stroke-width="5">
    <path d="M12 15h40"/><path d="M16 25h30"/><path d="M22 35h20"/><path d="M27 45h12"/><path d="M31 54h5"/>
  </g>
</svg>
"""

_SIZES = (16, 20, 24, 32, 48, 64)
_cache: dict[str, QIcon] = {}


def clear_cache() -> None:
    _cache.clear()


def _text_color() -> QColor:
    app = QGuiApplication.instance()
    if app is None:
        return QColor("#333333")
    return app.palette().color(QPalette.ColorRole.WindowText)


def _render(svg: bytes, size: int, dpr: float) -> QPixmap:
    renderer = QSvgRenderer(QByteArray(svg))
    px = max(1, round(size * dpr))
    pixmap = QPixmap(px, px)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, px, px))
    painter.end()
    pixmap.setDevicePixelRatio(dpr)
    return pixmap


def _icon_from_svg(svg: bytes) -> QIcon:
    app = QGuiApplication.instance()
    dpr = app.devicePixelRatio() if app is not None else 1.0
    icon = QIcon()
    for size in _SIZES:
        for ratio in {1.0, max(1.0, dpr), 2.0}:
            icon.addPixmap(_render(svg, size, ratio))
    return icon


def icon(name: str) -> QIcon:
    """A themed toolbar icon by name (see ``_SVG``)."""
    cached = _cache.get(name)
    if cached is not None:
        return cached
    body = _SVG[name].replace("currentColor", _text_color().name())
    svg = (_HEAD.replace("currentColor", _text_color().name()) + body + "</svg>").encode()
    result = _cache[name] = _icon_from_svg(svg)
    return result


def app_icon() -> QIcon:
    cached = _cache.get("__app__")
    if cached is not None:
        return cached
    big = paths.icon_file("tornado-launcher.svg")
    small = paths.icon_file("tornado-launcher-small.svg") or big  # simplified drawing for tiny sizes
    big_data = big.read_bytes() if big else APP_SVG.encode()
    small_data = small.read_bytes() if small else big_data
    icon_ = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256):
        icon_.addPixmap(_render(small_data if size <= 24 else big_data, size, 1.0))
    _cache["__app__"] = icon_
    return icon_
