#!/usr/bin/env python3
"""Render the app icon from its SVG sources into PNG, ICO and ICNS files.

    .venv/bin/python scripts/render_icons.py            # writes tornado_launcher/resources/icons/
    .venv/bin/python scripts/render_icons.py --check    # exit 1 if outputs are stale

Sources (hand-written, edit these):
  tornado_launcher/resources/icons/tornado-launcher.svg        the icon, drawn on a 256 grid
  tornado_launcher/resources/icons/tornado-launcher-small.svg  fewer, thicker bands for 16-32 px,
                                              where five bands blur together
Outputs (generated, committed so a build needs no Qt rendering step):
  tornado-launcher-<N>.png  for N in 16 24 32 48 64 128 256 512
  tornado-launcher.ico      Windows: PNG-compressed entries 16..256 (Vista+)
  tornado-launcher.icns     macOS: PNG entries 16..1024 incl. @2x variants

Rendering uses PySide6's QSvgRenderer on the offscreen platform; the ICO and
ICNS containers are written here by hand (both are a small header plus
embedded PNG data), so neither Pillow nor iconutil is needed.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ICONS = ROOT / "tornado_launcher" / "resources" / "icons"
NAME = "tornado-launcher"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
SMALL_MAX = 32  # sizes up to this use the small-size drawing
PIXEL_TOLERANCE = 2  # per channel, out of 255: renderer rounding, not a changed picture

# ICNS element types holding PNG data, by pixel size.  The @2x types carry
# the same pixels as the 1x type of twice the size.
ICNS_TYPES = (
    (b"icp4", 16), (b"icp5", 32), (b"icp6", 64), (b"ic07", 128), (b"ic08", 256),
    (b"ic09", 512), (b"ic10", 1024), (b"ic11", 32), (b"ic12", 64), (b"ic13", 256),
    (b"ic14", 512),
)


def render_png(svg: Path, size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(svg))
    if not renderer.isValid():
        raise SystemExit(f"{svg}: not a valid SVG")
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.convertToFormat(QImage.Format.Format_ARGB32).save(buf, "PNG"):
        raise SystemExit(f"could not encode {size}px PNG")
    buf.close()
    return bytes(data.data())


def make_ico(pngs: dict[int, bytes]) -> bytes:
    sizes = [s for s in ICO_SIZES if s in pngs]
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = len(header) + 16 * len(sizes)
    entries, blobs = b"", b""
    for s in sizes:
        data = pngs[s]
        # width/height 0 means 256; 32 bits per pixel; 1 plane
        entries += struct.pack("<BBBBHHII", s % 256, s % 256, 0, 0, 1, 32, len(data), offset)
        blobs += data
        offset += len(data)
    return header + entries + blobs


def make_icns(pngs: dict[int, bytes]) -> bytes:
    body = b""
    for kind, s in ICNS_TYPES:
        data = pngs[s]
        body += kind + struct.pack(">I", len(data) + 8) + data
    return b"icns" + struct.pack(">I", len(body) + 8) + body


def outputs() -> dict[Path, bytes]:
    big = ICONS / f"{NAME}.svg"
    small = ICONS / f"{NAME}-small.svg"
    if not small.exists():
        small = big
    need = set(PNG_SIZES) | set(ICO_SIZES) | {s for _, s in ICNS_TYPES}
    pngs = {s: render_png(small if s <= SMALL_MAX else big, s) for s in sorted(need)}
    out = {ICONS / f"{NAME}-{s}.png": pngs[s] for s in PNG_SIZES}
    out[ICONS / f"{NAME}.ico"] = make_ico(pngs)
    out[ICONS / f"{NAME}.icns"] = make_icns(pngs)
    return out


def _png_entries(path: Path, data: bytes) -> list[bytes]:
    """The PNG images an output holds: itself, or the entries of an ICO / ICNS container."""
    if path.suffix == ".png":
        return [data]
    if path.suffix == ".ico":
        count = struct.unpack_from("<H", data, 4)[0]
        entries = [struct.unpack_from("<II", data, 6 + 16 * i + 8) for i in range(count)]
        return [data[offset:offset + size] for size, offset in entries]
    pngs, pos = [], 8  # .icns: type, length, data
    while pos < len(data):
        length = struct.unpack_from(">I", data, pos + 4)[0]
        pngs.append(data[pos + 8:pos + length])
        pos += length
    return pngs


def _pixels(png: bytes):
    from PySide6.QtGui import QImage

    image = QImage()
    if not image.loadFromData(png):
        return None
    image = image.convertToFormat(QImage.Format.Format_ARGB32)
    return image.width(), image.height(), bytes(image.constBits())


def same_picture(path: Path, old: bytes, new: bytes) -> bool:
    """Byte-equal, or the same pixels within PIXEL_TOLERANCE per channel.

    Qt's anti-aliasing moves by one step of 255 between Qt releases (6.11.2 -> 6.11.3 changed
    about 20 pixels of 262,144 by 1), and its PNG encoder's bytes may change too: a committed
    icon is stale when its picture changed, not when the renderer's rounding did.
    """
    if old == new:
        return True
    try:
        olds, news = _png_entries(path, old), _png_entries(path, new)
    except struct.error:
        return False
    if len(olds) != len(news):
        return False
    for a, b in zip(olds, news, strict=True):
        pa, pb = _pixels(a), _pixels(b)
        if pa is None or pb is None or pa[:2] != pb[:2]:
            return False
        if any(abs(x - y) > PIXEL_TOLERANCE for x, y in zip(pa[2], pb[2], strict=True)):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether outputs are up to date")
    args = parser.parse_args(argv)

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication([sys.argv[0]])  # noqa: F841 (fonts, image plugins)

    stale = []
    for path, data in outputs().items():
        if path.exists() and same_picture(path, path.read_bytes(), data):
            continue
        stale.append(path)
        if not args.check:
            path.write_bytes(data)
            print(f"wrote {path.relative_to(ROOT)} ({len(data)} bytes)")
    if args.check:
        for p in stale:
            print(f"stale: {p.relative_to(ROOT)}")
        return 1 if stale else 0
    if not stale:
        print("icons up to date")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
