"""Text rules the launcher's views and readers share."""

import re

#: an ANSI CSI escape sequence (colors, cursor moves, ``ESC[?25l``): what
#: tracebacks and terminal output carry and plain-text views strip
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def strip_ansi(text: str) -> str:
    return ANSI.sub("", text)
