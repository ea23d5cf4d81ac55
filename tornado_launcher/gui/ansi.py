"""ANSI SGR escape codes to styled text segments (no Qt here).

:func:`parse` splits a string into ``(text, Style)`` segments.  SGR codes
(``ESC [ ... m``: bold, italic, underline, 16 / 256 / 24-bit colors) become
the style; every other escape sequence (cursor moves, OSC titles, ``\\r``
progress redraws...) is dropped so it never shows up as garbage.  A
:class:`Style` names colors as ints 0-15 (the terminal palette, resolved
per light/dark theme by the view) or ``"#rrggbb"`` strings.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Optional, Union

Color = Union[int, str, None]

# CSI sequences (ESC [ params intermediates final), OSC (ESC ] ... BEL/ST),
# and other two-byte escapes.
_ESCAPE = re.compile(
    r"\x1b\[([0-?]*)[ -/]*([@-~])"      # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"  # OSC
    r"|\x1b[@-Z\\-_]"                     # 2-byte
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]")


class Style(NamedTuple):
    fg: Color = None
    bg: Color = None
    bold: bool = False
    italic: bool = False
    underline: bool = False
    faint: bool = False
    inverse: bool = False


PLAIN = Style()


def _cube(n: int) -> str:
    if n < 16:
        return n  # type: ignore[return-value]
    if n >= 232:
        v = 8 + (n - 232) * 10
        return f"#{v:02x}{v:02x}{v:02x}"
    n -= 16
    steps = [0, 95, 135, 175, 215, 255]
    r, g, b = steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
    return f"#{r:02x}{g:02x}{b:02x}"


_APPLY_CACHE: dict = {}


def _apply(style: Style, params: str) -> Style:
    key = (style, params)
    hit = _APPLY_CACHE.get(key)
    if hit is None:
        hit = _apply_uncached(style, params)
        if len(_APPLY_CACHE) < 4096:
            _APPLY_CACHE[key] = hit
    return hit


def _apply_uncached(style: Style, params: str) -> Style:
    codes = [int(p) if p.isdigit() else 0 for p in params.replace(":", ";").split(";")] if params else [0]
    s = style._asdict()
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            s = PLAIN._asdict()
        elif c == 1:
            s["bold"] = True
        elif c == 2:
            s["faint"] = True
        elif c == 3:
            s["italic"] = True
        elif c == 4:
            s["underline"] = True
        elif c == 7:
            s["inverse"] = True
        elif c == 22:
            s["bold"] = s["faint"] = False
        elif c == 23:
            s["italic"] = False
        elif c == 24:
            s["underline"] = False
        elif c == 27:
            s["inverse"] = False
        elif 30 <= c <= 37:
            s["fg"] = c - 30
        elif 40 <= c <= 47:
            s["bg"] = c - 40
        elif 90 <= c <= 97:
            s["fg"] = c - 90 + 8
        elif 100 <= c <= 107:
            s["bg"] = c - 100 + 8
        elif c == 39:
            s["fg"] = None
        elif c == 49:
            s["bg"] = None
        elif c in (38, 48):
            key = "fg" if c == 38 else "bg"
            if i + 1 < len(codes) and codes[i + 1] == 5 and i + 2 < len(codes):
                s[key] = _cube(codes[i + 2] & 255)
                i += 2
            elif i + 1 < len(codes) and codes[i + 1] == 2 and i + 4 < len(codes):
                r, g, b = (max(0, min(255, v)) for v in codes[i + 2:i + 5])
                s[key] = f"#{r:02x}{g:02x}{b:02x}"
                i += 4
        i += 1
    return Style(**s)


def parse(text: str, style: Style = PLAIN) -> list[tuple[str, Style]]:
    """Split ``text`` into ``(text, style)`` segments, starting from ``style``."""
    if "\x1b" not in text:
        return [(_clean(text), style)] if text else []
    out: list[tuple[str, Style]] = []
    pos = 0
    for m in _ESCAPE.finditer(text):
        if m.start() > pos:
            out.append((_clean(text[pos:m.start()]), style))
        if m.group(2) == "m":
            style = _apply(style, m.group(1) or "")
        pos = m.end()
    if pos < len(text):
        out.append((_clean(text[pos:]), style))
    return [(t, s) for t, s in out if t]


def plain(text: str) -> str:
    """``text`` without any escape sequence."""
    return "".join(t for t, _ in parse(text))


def _clean(text: str) -> str:
    if "\r" in text:
        # a progress bar redraw: keep what the terminal would show last
        text = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))
    return _CONTROL.sub("", text)


#: xterm-ish palettes tuned for legibility on light and dark backgrounds.
LIGHT_PALETTE = ["#000000", "#b42318", "#1a7f37", "#9a6700", "#0b57d0", "#8250df", "#0f7b8a", "#6e7781",
                 "#57606a", "#d1242f", "#2da44e", "#bf8700", "#218bff", "#a475f9", "#1b9aaa", "#8c959f"]
DARK_PALETTE = ["#6e7681", "#ff7b72", "#3fb950", "#d29922", "#58a6ff", "#bc8cff", "#39c5cf", "#c9d1d9",
                "#8b949e", "#ffa198", "#56d364", "#e3b341", "#79c0ff", "#d2a8ff", "#56d4dd", "#f0f6fc"]


def resolve(color: Color, dark: bool) -> Optional[str]:
    if color is None or isinstance(color, str):
        return color
    return (DARK_PALETTE if dark else LIGHT_PALETTE)[color]
