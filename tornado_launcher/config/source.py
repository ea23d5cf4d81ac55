"""One config file: from a path to text, to pyhcl's values plus our positions.

Reading (a missing file, a directory, an unreadable one), decoding (UTF-8,
a BOM, binary garbage), parsing (pyhcl for the values, :mod:`.positions` for
where they are and for better syntax errors, pyhcl's own errors mapped to
``line:col``) and the problems one file shows on its own: its top-level
shape and keys or blocks written twice.  Everything here reports through a
:class:`~.positions.Reporter` or raises :class:`~.model.ConfigError`.
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import threading
from typing import Any, List, Optional, Tuple, Union

from . import positions as hclpos
from .model import ConfigError, Diagnostic
from .positions import Reporter, Source
from .text import did_you_mean, os_reason

#: Top-level blocks we read; any other one is skipped with a warning.
TOP_BLOCKS = ("kernel", "app", "process", "job", "logger", "variable")

BINARY = "contains a NUL byte: this looks like a binary file, not a jaffle.hcl"

#: The largest config file read, in bytes.  pyhcl's lexer takes about 0.8 s
#: per MB (measured: 1 MB 0.8 s, 4 MB 3.1 s, 20 MB 13.7 s), and a real
#: jaffle.hcl is a few KB: a larger file is refused before it is read.
MAX_SIZE = 1024 * 1024


def display(path: Any) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        return str(path)


def path_list(path_or_paths: Any) -> List[Any]:
    if isinstance(path_or_paths, (str, bytes, os.PathLike)):
        return [path_or_paths]
    try:
        paths = list(path_or_paths)
    except TypeError:
        return [path_or_paths]
    if not paths:
        raise ConfigError(
            [Diagnostic("<config>", 0, 0, "no config file given: pass the path of your jaffle.hcl")]
        )
    return paths


def read(path: Any, max_size: int = MAX_SIZE) -> Tuple[bytes, str, str]:
    """(bytes, path as shown, absolute path) of one file; ConfigError with the fix when it cannot be
    read or is over ``max_size`` bytes (refused before reading it: pyhcl would take seconds)."""
    shown = display(path)
    try:
        # O_NONBLOCK: opening a FIFO nobody writes must not hang; it is refused below at once
        with os.fdopen(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as f:
            st = os.fstat(f.fileno())
            if stat.S_ISDIR(st.st_mode):
                raise IsADirectoryError(path)
            if not stat.S_ISREG(st.st_mode):
                kind = "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
                raise refuse(shown, 0, "is %s, not a config file: pass the path of a jaffle.hcl file "
                             "(save the text to a file first)" % kind)
            size = st.st_size
            if size > max_size:
                raise too_large(shown, size, max_size)
            data = f.read(max_size + 1)  # a pipe or /proc file has no size until read
            if len(data) > max_size:
                raise too_large(shown, None, max_size)
    except ConfigError:
        raise
    except FileNotFoundError:
        raise refuse(shown, 0, "no such file: create it, or pass the path of your jaffle.hcl") from None
    except IsADirectoryError:
        raise refuse(shown, 0, "is a directory, not a config file: pass the jaffle.hcl inside it") from None
    except (OSError, ValueError, TypeError) as e:
        raise refuse(shown, 0, "cannot be read: %s" % os_reason(e)) from None
    return data, shown, os.path.abspath(os.fspath(path))


def megabytes(size: int) -> str:
    return "%.1f MB" % (size / 1e6) if size >= 100_000 else "%d bytes" % size


def too_large(shown: str, size: Optional[int], max_size: int) -> ConfigError:
    """The refusal of a file over ``max_size`` (``size`` None: more than that, size unknown)."""
    return refuse(
        shown,
        0,
        "is %s, over the limit of %s for a config file (config.MAX_SIZE): a jaffle.hcl is a few KB, "
        "so keep large data in a file your app reads"
        % ("larger than that" if size is None else megabytes(size), megabytes(max_size)),
    )


def to_text(data: Union[str, bytes], shown: str, absolute: str, max_size: int = MAX_SIZE) -> Source:
    """Decoded, BOM dropped, refused if binary or over ``max_size`` bytes."""
    if len(data) > max_size // 4:  # a str: its size as the file it would be
        size = len(data) if isinstance(data, (bytes, bytearray)) else len(str(data).encode("utf-8", "surrogatepass"))
        if size > max_size:
            raise too_large(shown, size, max_size)
    if isinstance(data, (bytes, bytearray)):
        text = decode(bytes(data), shown)
    else:
        text = str(data)
        if text.startswith("\ufeff"):
            text = text[1:]
    if "\r" in text:  # Windows (CR LF) and old Mac (CR only) line ends read as LF: same lines, same columns
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    nul = text.find("\x00")
    if nul >= 0:
        raise refuse(shown, hclpos.linecol(text, nul), BINARY)
    return Source(text, shown, absolute)


def decode(data: bytes, shown: str) -> str:
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    bad = data.find(b"\x00")  # binary: say so rather than "not UTF-8"
    try:
        if bad < 0:
            return data.decode("utf-8")
    except UnicodeDecodeError as e:
        bad = e.start
    prefix = data[:bad].decode("utf-8", "replace")
    where = hclpos.linecol(prefix, len(prefix))
    if data[bad] == 0:
        raise refuse(shown, where, BINARY)
    raise refuse(shown, where, "is not UTF-8 text (byte 0x%02x here): save the file as UTF-8" % data[bad])


def refuse(shown: str, where: Any, message: str) -> ConfigError:
    """A ConfigError with one diagnostic; ``where`` is (line, col) or 0 for the file as a whole (1:1)."""
    line, col = where or (1, 1)
    return ConfigError([Diagnostic(shown, line, col, message)])


_PYHCL_TOKENS = {
    "RIGHTBRACE": "`}`",
    "LEFTBRACE": "`{`",
    "RIGHTBRACKET": "`]`",
    "LEFTBRACKET": "`[`",
    "RIGHTPAREN": "`)`",
    "LEFTPAREN": "`(`",
    "EQUAL": "`=`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "PERIOD": "`.`",
    "STRING": "a string",
    "IDENTIFIER": "a name",
    "NUMBER": "a number",
    "FLOAT": "a number",
    "BOOL": "true/false",
}


#: the longest number Python converts (sys.int_info.default_max_str_digits)
_MAX_DIGITS = getattr(sys.int_info, "default_max_str_digits", 4300) or 4300


def pyhcl_error(text: str, e: BaseException) -> Tuple[int, str]:
    """(offset, message) from a pyhcl exception.

    pyhcl says "Line L, column C, index I" (lexer: I is the offset) or
    "Line L, column C" where C is in fact the parser's absolute offset.
    """
    msg = str(e)
    offset = len(text)
    m = re.match(r"Line \d+, column (\d+)(?:, index (\d+))?: (.*)", msg, re.S)
    if m:
        offset = int(m.group(2) or m.group(1))
        msg = m.group(3)
    elif isinstance(getattr(e, "pos", None), int):  # json.JSONDecodeError
        offset = e.pos  # type: ignore[attr-defined]
        msg = getattr(e, "msg", msg)
    digits = re.search(r"[0-9]{%d,}" % _MAX_DIGITS, text) if "integer string conversion" in msg else None
    if digits is not None:  # Python's int() limit, met inside pyhcl's lexer: say where, in our words
        return digits.start(), ("a number of %d digits: numbers in a config have at most %d digits"
                                % (len(digits.group()), _MAX_DIGITS))
    msg = msg.split("; expected")[0]
    msg = re.sub(r"\b[A-Z]{3,}\b", lambda t: _PYHCL_TOKENS.get(t.group(), t.group().lower()), msg)
    return offset, "syntax error: " + msg[:1].lower() + msg[1:]


_local = threading.local()


def pyhcl_loads(text: str) -> Any:
    """``hcl.loads`` minus its cost: pyhcl builds a new yacc parser on every
    call (about 45 ms); one per thread is reused here (ply parsers reset
    their state on each parse but are not thread-safe).  Like ``hcl.loads``,
    text starting with ``{`` is JSON; unlike it, blank text is ``{}``.
    """
    if text.lstrip().startswith("{"):
        return json.loads(text)
    parser = getattr(_local, "parser", None)
    if parser is None:
        from hcl.parser import HclParser

        parser = _local.parser = HclParser()
    return parser.parse(text)


def parse(src: Source, index: int, report: Reporter) -> Tuple[Any, Optional[Tuple[int, str]]]:
    """(data, None), or (None, (offset, message)) when the file does not parse.

    pyhcl for values, our scanner for positions (stored in ``src.pos``) and
    better errors.
    """
    scan_error: Optional[hclpos.HclSyntaxError] = None
    try:
        src.pos = hclpos.scan(src.text)
    except hclpos.HclSyntaxError as e:
        scan_error = e
    except Exception:  # the scanner only adds precision: never fatal
        src.pos = None
    try:
        data = pyhcl_loads(src.text)
    except RecursionError:
        return None, (0, "the file is nested too deeply to read")
    except Exception as e:
        if scan_error is not None:
            return None, (scan_error.offset, scan_error.message)
        return None, list_hint(src, e) or pyhcl_error(src.text, e)
    if scan_error is not None:
        # pyhcl accepted it, but not as the author meant (e.g. a missing
        # `=` that made `kernel "py"` a block): refuse with our reason.
        return None, (scan_error.offset, scan_error.message)
    for start, end in src.pos.multiline_strings if src.pos is not None else ():
        report.error_at(
            start,
            "string runs over several lines (to line %d); "
            "if that is meant, write it as a heredoc: <<EOF ... EOF"
            % hclpos.linecol(src.text, end, src.starts)[0],
            "warning",
            index,
        )
    return data, None


def list_hint(src: Source, e: BaseException) -> Optional[Tuple[int, str]]:
    """pyhcl cannot read true/false in a list, nor a number after a
    string; our scanner can, so say what to change instead of pyhcl's
    "unexpected `]`"."""
    if src.pos is None:
        return None
    offset, _ = pyhcl_error(src.text, e)
    inside = [l for l in src.pos.lists if l[0] <= offset <= l[1]]
    if not inside:
        return None
    _, _, elements = max(inside, key=lambda l: l[0])
    seen_string = False
    for start, kind in elements:
        if kind == "BOOL" or (kind == "NUMBER" and seen_string):
            return start, (
                "this list cannot be read: pyhcl accepts no true/false in a list, nor a number after a "
                'string; write the value in quotes, e.g. "%s"'
                % src.text[start:].split(",")[0].split("]")[0].strip()
            )
        seen_string = seen_string or kind == "STRING"
    return None


def drop_inner_duplicates(src: Source) -> List[tuple]:
    """Inside a block that is itself repeated, repeated keys are only a
    consequence of pyhcl merging the two: keep the block's report alone.
    Returns the key paths assigned twice (their values are not checked)."""
    if src.pos is None:
        return []
    blocks = {p for p, _, dup in src.pos.duplicates if dup.kind == "block"}
    src.pos.duplicates = [
        d for d in src.pos.duplicates if not any(d[0][:n] in blocks for n in range(1, len(d[0])))
    ]
    return [p for p, _, dup in src.pos.duplicates if dup.kind == "assign"]


def check_top_items(src: Source, report: Reporter) -> None:
    """The shape of each top-level item: named blocks, an unnamed `logger`; others skipped (warning)."""
    if src.pos is None:
        return
    examples = {
        "app": 'app "web" { ... }',
        "kernel": 'kernel "py_kernel" { ... }',
        "process": 'process "frontend" { command = "yarn start" }',
        "job": 'job "lint" { command = "flake8" }',
    }
    for item in src.pos.top:
        if item.key in examples:
            if item.is_object:
                continue  # `app = { web = {...} }`, or the JSON form
            if not item.is_block:
                report.error_at(
                    item.key_offset,
                    "`%s` must be a block with a name: %s" % (item.key, examples[item.key]),
                )
            elif len(item.labels) != 1:
                report.error_at(
                    item.key_offset,
                    "%s `%s` block takes exactly one name in quotes, found %d: %s"
                    % (
                        "an" if item.key == "app" else "a",
                        item.key,
                        len(item.labels),
                        examples[item.key],
                    ),
                )
        elif item.key == "logger":
            if not (item.is_block or item.is_object) or item.labels:
                report.error_at(
                    item.key_offset,
                    "the top-level `logger` must be a block without a name: logger { ... }",
                )
        elif item.key == "variable":
            if not item.is_block or len(item.labels) != 1:
                report.error_at(
                    item.key_offset,
                    'a `variable` block takes exactly one name: variable "name" { default = ... }',
                    "warning",
                )
        else:
            what = item.key + "".join(' "%s"' % l for l in item.labels)
            msg = "unknown top-level %s `%s` skipped%s; tornado-launcher reads %s" % (
                "block" if item.is_block else "setting",
                what,
                did_you_mean(item.key, TOP_BLOCKS),
                ", ".join("`%s`" % k for k in TOP_BLOCKS),
            )
            report.error_at(item.key_offset, msg, "warning")


def report_duplicates(src: Source, report: Reporter, skipped: set) -> None:
    """Blocks defined twice, keys set twice in one block (pyhcl merges them silently); not in skipped apps."""
    if src.pos is None:
        return
    for path, first, dup in src.pos.duplicates:
        if path[0] not in ("app", "kernel", "logger", "process", "job", "variable"):
            continue
        if path[0] == "app" and len(path) > 1 and path[1] in skipped:
            continue
        first_line = hclpos.linecol(src.text, first.key, src.starts)[0]
        if len(path) == 2 and path[0] in ("app", "kernel", "process", "job", "variable"):
            report.error_at(
                dup.label if dup.label is not None else dup.key,
                '%s "%s" is defined twice (first at line %d): rename or remove one'
                % (path[0], path[1], first_line),
            )
        else:
            report.error_at(
                dup.key,
                "`%s` is set twice in the same block (first at line %d): keep one"
                % (path[-1], first_line),
            )
