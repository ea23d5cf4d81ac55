"""jaffle.hcl -> typed, checked dataclasses, with ``file:line:col`` for every problem.

The file format is Jaffle's, so an existing ``jaffle.hcl`` opens unchanged:
``kernel``, ``app``, ``process``, ``job``, ``variable`` and ``logger``
blocks, Jaffle's spellings (``args`` for ``argv``, ``functions`` for
``code_blocks``) and string booleans (``"true"``, ``"1"``).  Parts we do not
run (the pytest and sphinx apps, unknown blocks) are skipped with one
warning each: a config is never refused whole for a part we skip.

``${...}`` is evaluated as Jaffle users write it (``var.name``, environment
variables, ``env()``, ``exec()``, ``fg()``/``bg()``/``reset()``, ``| trim``)
by a small parser of our own, in every string value Jaffle rendered and in
``start``, ``command`` and ``env``, which Jaffle forgot.  ``exec()`` runs its
command at load time.  Several files deep-merge in order, as in Jaffle.

Values come from pyhcl; positions come from :mod:`.positions`
because pyhcl keeps none.  Every check runs in one pass, so the user sees all
the errors at once, sorted by file and line, each a sentence naming the fix.

Nothing here raises anything but :class:`ConfigError`, whatever the input
(binary garbage, a directory, an empty file).  No Qt, no jupyter imports.
"""

from __future__ import annotations

import ast
import copy
import difflib
import json
import keyword
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from . import positions as hclpos
from .model import (
    TORNADO_CLASSES,
    WATCHDOG_CLASSES,
    AppConfig,
    Config,
    ConfigError,
    Diagnostic,
    JobConfig,
    KernelConfig,
    LoggerConfig,
    ProcessConfig,
    WatchHandler,
    is_skipped_class,
)

__all__ = [
    "Diagnostic",
    "ConfigError",
    "LoggerConfig",
    "KernelConfig",
    "WatchHandler",
    "AppConfig",
    "ProcessConfig",
    "JobConfig",
    "Config",
    "load",
    "loads",
    "check",
    "parse_variables",
    "default_clear_cache",
]


LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

#: Top-level blocks we read; any other one is skipped with a warning.
_TOP_BLOCKS = ("kernel", "app", "process", "job", "logger", "variable")

_KERNEL_KEYS = ("kernel_name", "pass_env", "python")
_APP_KEYS = ("class", "kernel", "start", "logger", "options", "disabled")
_LOGGER_KEYS = ("level", "suppress_regex", "replace_regex")
#: Jaffle logger settings we accept and do not use.
_LOGGER_IGNORED = ("name", "colors", "color", "format", "datefmt", "handlers")
_TORNADO_KEYS = ("app_class", "argv", "args", "threaded", "clear_cache")
_WATCHDOG_KEYS = ("handlers",)
_PROCESS_KEYS = ("command", "tty", "env", "logger", "disabled")
_JOB_KEYS = ("command", "logger")
_VARIABLE_KEYS = ("default", "type", "description")
#: process and job names: shown in the window's list, so printable and short
_MAX_NAME = 64
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")

_HANDLER_KEYS = (
    "watch_path",
    "patterns",
    "ignore_patterns",
    "ignore_directories",
    "case_sensitive",
    "clear_cache",
    "code_blocks",
    "functions",
    "jobs",
    "debounce",
    "throttle",
)

_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "build", "dist", "venv", "env", "site-packages"})
_SKIP_MODULES = frozenset({"setup", "conftest"})


# ---------------------------------------------------------------------------
# Public functions


PathLike = Union[str, "os.PathLike[str]"]


def load(
    path_or_paths: Union[PathLike, Sequence[PathLike]], variables: Optional[Mapping[str, Any]] = None
) -> Config:
    """Read and check the config at ``path_or_paths``.

    Several files (a list) are deep-merged in order, as Jaffle did: blocks
    and maps merge key by key, and a list or a plain value from a later file
    replaces the earlier one.  Each diagnostic names the file that supplied
    the value in question.

    ``variables`` (name -> value, e.g. from :func:`parse_variables`) set
    ``variable`` blocks' values, over their ``default`` and over
    ``J_VAR_<name>`` environment variables; strings are converted to the
    type of the variable's default.

    ``${exec('...')}`` in the file runs that command now, at load time.

    Raises :class:`ConfigError` for every problem, including a missing or
    unreadable file, a directory, and text that is not UTF-8.
    """
    paths = _path_list(path_or_paths)
    sources = []
    for path in paths:
        shown = _display(path)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise _refuse(shown, 0, "no such file: create it, or pass the path of your jaffle.hcl") from None
        except IsADirectoryError:
            raise _refuse(
                shown, 0, "is a directory, not a config file: pass the jaffle.hcl inside it"
            ) from None
        except (OSError, ValueError, TypeError) as e:
            raise _refuse(shown, 0, "cannot be read: %s" % _os_reason(e)) from None
        sources.append((data, shown, os.path.abspath(os.fspath(path))))
    return _loads(sources, variables)


def loads(
    text: Union[str, bytes], path: str = "<string>", variables: Optional[Mapping[str, Any]] = None
) -> Config:
    """Check config ``text`` as if read from ``path`` (default ``"<string>"``).

    Relative paths in the text are resolved against ``path``'s directory, or
    the current directory when ``path`` is ``"<string>"``.  ``variables`` as
    for :func:`load`.  Raises :class:`ConfigError`.
    """
    shown = _display(path)
    absolute = os.path.abspath(shown) if shown != "<string>" else os.path.join(os.getcwd(), "<string>")
    return _loads([(text, shown, absolute)], variables)


def check(
    path_or_paths: Union[PathLike, Sequence[PathLike]], variables: Optional[Mapping[str, Any]] = None
) -> Tuple[Optional[Config], List[Diagnostic]]:
    """Never raises: ``(config, warnings)`` or ``(None, errors + warnings)``."""
    try:
        config = load(path_or_paths, variables)
    except ConfigError as e:
        return None, list(e.diagnostics)
    except Exception as e:  # a bug of ours must not take the caller down
        try:
            first = _display(_path_list(path_or_paths)[0])
        except Exception:
            first = "<config>"
        return None, [Diagnostic(first, 1, 1, "internal error while checking: %r" % e)]
    return config, list(config.warnings)


def parse_variables(items: Union[str, Sequence[str]]) -> Dict[str, str]:
    """``["name=value", ...]`` (the CLI's repeatable ``--variables``) -> dict.

    Each item is exactly one ``name=value``, split at the first ``=``; the
    value may contain ``=`` and commas (``--variables 'ports=[8000, 8001]'``)
    and may be empty.  Items are not split at commas, for that reason: give
    ``--variables`` once per variable.  A later item for the same name wins.
    Values stay strings; :func:`load` converts them to each variable's type.
    Raises :class:`ConfigError` (its diagnostics' path is ``--variables``,
    line 0) for an item without ``=`` or with a bad name.
    """
    if isinstance(items, str):
        items = [items]
    out: Dict[str, str] = {}
    problems = []
    for item in items:
        name, eq, value = str(item).partition("=")
        name = name.strip()
        if not eq:
            problems.append(
                "%s has no `=`: write --variables NAME=VALUE, e.g. --variables threaded=true" % _show(item)
            )
        elif not _VAR_NAME.match(name):
            problems.append(
                "%s: %s is not a variable name (letters, digits, `_` and `-`, not starting with a digit): "
                "write --variables NAME=VALUE" % (_show(item), _show(name))
            )
        else:
            out[name] = value
    if problems:
        raise ConfigError([Diagnostic("--variables", 0, 0, p) for p in problems])
    return out


def _path_list(path_or_paths: Any) -> List[Any]:
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


def default_clear_cache(directory: str) -> List[str]:
    """Top-level module names found in ``directory``, sorted.

    Packages are directories with an ``__init__.py``; modules are ``*.py``
    files.  Skipped: hidden entries, ``__pycache__``, ``node_modules``,
    ``build``, ``dist``, virtualenvs (``venv``, ``env``, any directory with a
    ``pyvenv.cfg``), ``setup.py`` and ``conftest.py``.  This is what Jaffle
    got from ``setuptools.find_packages()`` (plus plain modules), without
    needing setuptools.  An unreadable directory gives ``[]``.
    """
    names = set()
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if name.startswith(".") or name in _SKIP_DIRS:
            continue
        try:
            if entry.is_dir():
                if os.path.exists(os.path.join(entry.path, "pyvenv.cfg")):
                    continue
                if name.isidentifier() and os.path.isfile(os.path.join(entry.path, "__init__.py")):
                    names.add(name)
            elif name.endswith(".py") and entry.is_file():
                stem = name[:-3]
                if stem.isidentifier() and stem not in _SKIP_MODULES:
                    names.add(stem)
        except OSError:
            continue
    return sorted(names)


# ---------------------------------------------------------------------------
# Reading


def _display(path: Any) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        return str(path)


def _os_reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__


def _loads(
    sources: List[Tuple[Union[str, bytes], str, str]], variables: Optional[Mapping[str, Any]]
) -> Config:
    """``sources`` are (text or bytes, path as shown, absolute path), in merge order."""
    texts = []
    for data, shown, absolute in sources:
        if isinstance(data, (bytes, bytearray)):
            text = _decode(bytes(data), shown)
        else:
            text = str(data)
            if text.startswith("\ufeff"):
                text = text[1:]
        nul = text.find("\x00")
        if nul >= 0:
            raise _refuse(shown, hclpos.linecol(text, nul), _BINARY)
        texts.append((text, shown, absolute))
    order = {shown: i for i, (_, shown, _) in reversed(list(enumerate(texts)))}
    config, diags = _Checker(texts, variables).run()
    if config is None or any(d.severity == "error" for d in diags):
        raise ConfigError(_sorted(diags, order))
    config.warnings = _sorted(diags, order)
    return config


def _decode(data: bytes, shown: str) -> str:
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
        raise _refuse(shown, where, _BINARY)
    raise _refuse(shown, where, "is not UTF-8 text (byte 0x%02x here): save the file as UTF-8" % data[bad])


_BINARY = "contains a NUL byte: this looks like a binary file, not a jaffle.hcl"


def _refuse(shown: str, where: Any, message: str) -> ConfigError:
    """A ConfigError with one diagnostic; ``where`` is (line, col) or 0 for the file as a whole (1:1)."""
    line, col = where or (1, 1)
    return ConfigError([Diagnostic(shown, line, col, message)])


def _sorted(diags: List[Diagnostic], order: Optional[Dict[str, int]] = None) -> List[Diagnostic]:
    """Unique, errors first, then by file (in merge order), line and column."""
    order = order or {}
    seen = set()
    unique = []
    for d in diags:
        if d not in seen:
            seen.add(d)
            unique.append(d)
    return sorted(unique, key=lambda d: (d.severity != "error", order.get(d.path, -1), d.line, d.col))


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


def _pyhcl_error(text: str, e: BaseException) -> Tuple[int, str]:
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
    elif hasattr(e, "pos") and isinstance(getattr(e, "pos"), int):  # json.JSONDecodeError
        offset = e.pos  # type: ignore[attr-defined]
        msg = getattr(e, "msg", msg)
    msg = msg.split("; expected")[0]
    msg = re.sub(r"\b[A-Z]{3,}\b", lambda t: _PYHCL_TOKENS.get(t.group(), t.group().lower()), msg)
    return offset, "syntax error: " + msg[:1].lower() + msg[1:]


_local = threading.local()


def _pyhcl_loads(text: str) -> Any:
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


# ---------------------------------------------------------------------------
# Checking

_MISSING = object()

# ---------------------------------------------------------------------------
# Interpolation: `${...}` in string values, as Jaffle rendered them with Mako,
# but evaluated by a small parser of our own (no template engine runs code).

#: seconds an `${exec('...')}` may take at load time
EXEC_TIMEOUT = 10.0
#: the functions `${...}` may call, and the filters after `|`
FUNCTIONS = ("env", "exec", "fg", "bg", "reset", "var")
FILTERS = ("trim",)
_COLOR_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


class _InterpError(Exception):
    """A `${...}` that cannot be evaluated; the message is a whole sentence."""


def _template(s: str) -> List[Any]:
    """Split a string value into literal text (str) and expressions ((text,)).

    ``$${`` is a literal ``${``.  Quotes inside ``${...}`` may hold braces.
    """
    parts: List[Any] = []
    buf: List[str] = []
    i, n = 0, len(s)
    while i < n:
        if s.startswith("$${", i):
            buf.append("${")
            i += 3
            continue
        if s.startswith("${", i):
            j, depth, quote = i + 2, 1, ""
            while j < n:
                c = s[j]
                if quote:
                    if c == "\\":
                        j += 1
                    elif c == quote:
                        quote = ""
                elif c in "'\"":
                    quote = c
                elif c == "{":
                    depth += 1
                elif c == "}":
                    depth -= 1
                    if not depth:
                        break
                j += 1
            if j >= n:
                raise _InterpError(
                    "`${` is never closed with `}`: close it, or write `$${` for a literal `${`"
                )
            if buf:
                parts.append("".join(buf))
                buf = []
            parts.append((s[i + 2 : j],))
            i = j + 1
            continue
        buf.append(s[i])
        i += 1
    if buf:
        parts.append("".join(buf))
    return parts


_EXPR_TOKEN = re.compile(
    r"""\s*(?:(?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|(?P<num>-?\d+(?:\.\d+)?)"""
    r"""|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[.(),|]))"""
)


def _parse_expr(text: str) -> Any:
    """``${...}``'s inside -> a tree of tuples; raises _InterpError.

    expr := atom ("|" filter)* ; atom := string | number | name("." name)* ["(" [expr ("," expr)*] ")"]
    """
    toks: List[Tuple[str, Any]] = []
    i = 0
    stripped = text.rstrip()
    while i < len(stripped):
        m = _EXPR_TOKEN.match(stripped, i)
        if not m or m.end() == i:
            raise _InterpError("`${%s}` cannot be read at %s" % (text, _show(stripped[i:].strip())))
        kind = m.lastgroup
        value: Any = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "num":
            value = float(value) if "." in value else int(value)
        toks.append((kind, value))
        i = m.end()
    if not toks:
        raise _InterpError("`${}` is empty: write `${var.name}`, or `$${}` for the text itself")
    pos = [0]

    def peek() -> Tuple[str, Any]:
        return toks[pos[0]] if pos[0] < len(toks) else ("end", None)

    def take(kind: str, value: Any = None) -> Any:
        t = peek()
        if t[0] != kind or (value is not None and t[1] != value):
            found = "the end" if t[0] == "end" else _show(t[1]) if t[0] != "op" else "`%s`" % t[1]
            raise _InterpError(
                "`${%s}` cannot be read: expected %s, found %s"
                % (text, "`%s`" % value if value else "a name", found)
            )
        pos[0] += 1
        return t[1]

    def expr() -> Any:
        node = atom()
        while peek() == ("op", "|"):
            pos[0] += 1
            node = ("filter", node, take("name"))
        return node

    def atom() -> Any:
        kind, value = peek()
        if kind in ("str", "num"):
            pos[0] += 1
            return ("lit", value)
        names = [take("name")]
        while peek() == ("op", "."):
            pos[0] += 1
            names.append(take("name"))
        if peek() != ("op", "("):
            return ("name", names)
        pos[0] += 1
        args = []
        if peek() != ("op", ")"):
            args.append(expr())
            while peek() == ("op", ","):
                pos[0] += 1
                args.append(expr())
        take("op", ")")
        return ("call", names, args)

    tree = expr()
    if pos[0] != len(toks):
        kind, value = toks[pos[0]]
        raise _InterpError(
            "`${%s}` cannot be read: unexpected %s after the expression"
            % (text, "`%s`" % value if kind == "op" else _show(value))
        )
    return tree


def _color(fn: str, color: Any) -> str:
    """``fg('red')`` / ``bg('bright_blue')`` / ``fg(208)``: an ANSI SGR sequence."""
    base = 30 if fn == "fg" else 40
    text = _stringify(color).strip().lower().replace("-", "_").replace(" ", "_")
    if text.isdigit():
        n = int(text)
        if n <= 255:
            return "\x1b[%d;5;%dm" % (base + 8, n)
    bright = text.startswith("bright_")
    name = text[7:] if bright else text
    if name in _COLOR_NAMES:
        return "\x1b[%dm" % (base + (60 if bright else 0) + _COLOR_NAMES.index(name))
    raise _InterpError(
        "%s(%s): unknown color: use one of %s, bright_ before any of them (bright_red), or 0-255"
        % (fn, _show(color), ", ".join(_COLOR_NAMES))
    )


def _run_exec(command: str, cwd: str) -> str:
    """``${exec('...')}``: run at load time (no shell: split like a shell
    would, as Jaffle did), stdout without its trailing newline."""
    import shlex
    import subprocess

    shown = "exec(%s)" % _show(command)
    try:
        argv = shlex.split(command, posix=os.name != "nt")
    except ValueError as e:
        raise _InterpError("%s cannot be split into words: %s" % (shown, e)) from None
    if not argv:
        raise _InterpError("%s has no command: write e.g. exec('git rev-parse HEAD')" % shown)
    try:
        r = subprocess.run(
            argv,
            cwd=cwd if os.path.isdir(cwd) else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=EXEC_TIMEOUT,
        )
    except FileNotFoundError:
        raise _InterpError(
            "%s: command `%s` not found: install it, or fix the name (no shell runs it)" % (shown, argv[0])
        ) from None
    except subprocess.TimeoutExpired:
        raise _InterpError(
            "%s did not finish within %g s: it runs while the config loads" % (shown, EXEC_TIMEOUT)
        ) from None
    except (OSError, ValueError) as e:
        raise _InterpError("%s cannot run: %s" % (shown, _os_reason(e))) from None
    if r.returncode != 0:
        err = [l.strip() for l in r.stderr.decode("utf-8", "replace").splitlines() if l.strip()]
        raise _InterpError(
            "%s failed with exit status %d%s"
            % (shown, r.returncode, ": " + err[-1] if err else " (no error output)")
        )
    return r.stdout.decode("utf-8", "replace").rstrip("\r\n")


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return " (did you mean `%s`?)" % close[0] if close else ""


def _fixed_name(name: str) -> str:
    s = re.sub(r"\W", "_", name) or "_"
    if s[0].isdigit():
        s = "_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s


def _is_dotted(name: str) -> bool:
    parts = name.split(".")
    return len(parts) >= 2 and all(p.isidentifier() and not keyword.iskeyword(p) for p in parts)


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"%s"' % (value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, dict):
        return "a block"
    if isinstance(value, list):
        return "a list"
    return repr(value)


#: `type = "..."` spellings (Jaffle's are Python's) -> our type names
_TYPE_NAMES = {
    "bool": "bool",
    "boolean": "bool",
    "int": "number",
    "float": "number",
    "number": "number",
    "str": "string",
    "string": "string",
    "list": "list",
    "dict": "map",
    "map": "map",
}
#: type -> (what it is, how to give one)
_TYPE_WORDS = {
    "bool": ("a bool", "use true, false, 1, 0, yes or no"),
    "number": ("a number", "use digits such as 8000 or 0.5"),
    "string": ("a string", "any text will do"),
    "list": ("a list", 'use JSON or HCL such as ["a", "b"]'),
    "map": ("a map", 'use JSON or HCL such as {"key": "value"}'),
}


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "string"


def _coerce(text: Any, vtype: str) -> Any:
    """A variable's value given as text (env, --variables) -> its type; ValueError if it is not one."""
    if vtype != "string" and _type_of(text) == vtype and not isinstance(text, str):
        return text  # given typed by a program
    if vtype == "string":
        return _stringify(text)
    s = _stringify(text).strip()
    if vtype == "bool":
        low = s.lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(s)
    if vtype == "number":
        try:
            return int(s)
        except ValueError:
            f = float(s)  # raises ValueError
            if f != f or f in (float("inf"), float("-inf")):
                raise ValueError(s) from None
            return f
    want = list if vtype == "list" else dict
    try:
        value = json.loads(s)
    except ValueError:
        try:
            value = _pyhcl_loads("v = " + s).get("v")
        except Exception:
            raise ValueError(s) from None
    if not isinstance(value, want):
        raise ValueError(s)
    return value


def _hcl_literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict, str)):
        return json.dumps(value)
    return repr(value)


_FUNCTION_EXAMPLES = {
    "env": "env('NAME', 'default')",
    "exec": "exec('git rev-parse HEAD') | trim",
    "fg": "fg('red')",
    "bg": "bg('blue')",
    "reset": "reset()",
    "var": "var('name', 'default')",
}


def _stringify(value: Any) -> str:
    """A config value as text: HCL spellings for booleans, JSON for lists and maps."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


class _Source:
    """One config file: its text, where it is, and (after parsing) its positions."""

    def __init__(self, text: str, shown: str, absolute: str) -> None:
        self.text = text
        self.shown = shown
        self.absolute = absolute
        self.directory = os.path.dirname(absolute)
        self.pos: Optional[hclpos.Positions] = None
        self.starts = hclpos.line_starts(text)


class _Checker:
    """One pass over one config (one file, or several merged): builds the
    Config and collects diagnostics.

    Parsing, syntax, top-level shape and duplicate keys are checked file by
    file (``use(i)`` selects the file); the rest runs on the merged data,
    where ``origin`` says which file supplied each key path, so that every
    diagnostic names that file and its line.
    """

    def __init__(
        self, sources: List[Tuple[str, str, str]], overrides: Optional[Mapping[str, Any]] = None
    ) -> None:
        self.sources = [_Source(*src) for src in sources]
        self.path = self.sources[0].absolute
        self.directory = self.sources[0].directory
        #: key path -> index of the file that supplied its value (blocks: the first file that opened them)
        self.origin: Dict[tuple, int] = {}
        self.diags: List[Diagnostic] = []
        self.skip_paths: set = set()
        self.variables: Dict[str, Any] = {}
        self.overrides: Dict[str, Any] = dict(overrides or {})
        self.job_names: set = set()
        self.interpolated: set = set()
        self.exec_cache: Dict[Tuple[str, str], str] = {}
        self.skipped_apps: set = set()
        self._clear_cache: Optional[List[str]] = None
        self.use(0)

    def use(self, index: int) -> None:
        """Make file ``index`` the current one for the per-file checks."""
        src = self.sources[index]
        self.cur = index
        self.text, self.shown, self.pos, self.starts = src.text, src.shown, src.pos, src.starts

    # -- reporting ---------------------------------------------------------

    def locate(self, path: tuple) -> Tuple[int, Optional[hclpos.Loc]]:
        """(file index, Loc of the nearest located parent) of a key path."""
        p = tuple(path)
        q = p
        while q and q not in self.origin:
            q = q[:-1]
        index = self.origin.get(q, self.cur)
        pos = self.sources[index].pos
        while p and pos is not None:
            loc = pos.locs.get(p)
            if loc is not None:
                return index, loc
            p = p[:-1]
        return index, None

    def where(self, path: tuple, part: str = "key") -> Tuple[int, int, int]:
        """(file index, line, col) of a key path; falls back to the nearest parent."""
        index, loc = self.locate(path)
        if loc is None:
            return index, 1, 1
        off = {"key": loc.key, "value": loc.value}.get(part, loc.key)
        if part == "label" and loc.label is not None:
            off = loc.label
        src = self.sources[index]
        line, col = hclpos.linecol(src.text, off, src.starts)
        return index, line, col

    def at(self, path: tuple, part: str = "key") -> Tuple[int, int]:
        """(line, col) of a key path, in the file that supplied it."""
        return self.where(path, part)[1:]

    def line(self, path: tuple) -> int:
        return self.at(path)[0]

    def place(self, path: tuple, seen_from: tuple) -> str:
        """ "line N" for ``path``, or "other.hcl:N" when another file than ``seen_from``'s holds it."""
        index, line, _ = self.where(path)
        if index == self.where(seen_from)[0]:
            return "line %d" % line
        return "%s:%d" % (self.sources[index].shown, line)

    def dir_of(self, path: tuple) -> str:
        """The directory of the file that supplied ``path``: relative paths are relative to it."""
        return self.sources[self.locate(path)[0]].directory

    def error(self, path: tuple, message: str, part: str = "key") -> None:
        index, line, col = self.where(path, part)
        self.diags.append(Diagnostic(self.sources[index].shown, line, col, message))

    def warn(self, path: tuple, message: str, part: str = "key") -> None:
        index, line, col = self.where(path, part)
        self.diags.append(Diagnostic(self.sources[index].shown, line, col, message, "warning"))

    def error_at(self, offset: int, message: str, severity: str = "error", src: Optional[int] = None) -> None:
        source = self.sources[self.cur if src is None else src]
        line, col = hclpos.linecol(source.text, offset, source.starts)
        self.diags.append(Diagnostic(source.shown, line, col, message, severity))

    # -- the pass ------------------------------------------------------------

    def run(self) -> Tuple[Optional[Config], List[Diagnostic]]:
        datas = []
        failed = False
        for index in range(len(self.sources)):
            self.use(index)
            data, failure = self.parse()
            self.sources[index].pos = self.pos
            if failure is not None:
                self.error_at(*failure)
                failed = True
                continue
            if not isinstance(data, dict):
                self.error_at(0, 'the file must contain blocks such as `app "web" { ... }`')
                failed = True
                continue
            if self.pos is not None:
                # Inside a block that is itself repeated, repeated keys are only
                # a consequence of pyhcl merging the two: report the block alone.
                blocks = {p for p, _, dup in self.pos.duplicates if dup.kind == "block"}
                self.pos.duplicates = [
                    d for d in self.pos.duplicates if not any(d[0][:n] in blocks for n in range(1, len(d[0])))
                ]
                self.skip_paths |= {(index, p) for p, _, dup in self.pos.duplicates if dup.kind == "assign"}
            self.check_top_items()
            datas.append((index, data))
        if failed:
            return None, self.diags
        self.use(0)
        data = self.merge(datas)
        # a key repeated in one file is skipped when that file supplied the merged value
        self.skip_paths = {p for i, p in self.skip_paths if self.origin.get(p) == i}
        config = Config(
            path=self.path,
            directory=self.directory,
            source=self.text,
            paths=[src.absolute for src in self.sources],
        )
        if not data and all(src.pos is None or not src.pos.top for src in self.sources):
            self.error_at(
                0,
                'the file is empty: add a `kernel "py_kernel" {}` block and an `app` block '
                "(see the TornadoBridgeApp example)",
            )
            return config, self.diags
        self.check_top_items()
        self.read_variables(data.get("variable"))
        if isinstance(data.get("app"), dict):
            self.skipped_apps = {
                (name,)
                for name, body in data["app"].items()
                if isinstance(body, dict) and is_skipped_class(body.get("class"))
            }
        data = self.interpolate(data, ())
        config.variables = {k: v for k, v in self.variables.items() if v is not _MISSING}
        jobs_raw = data.get("job")
        if isinstance(jobs_raw, dict):
            self.job_names = {str(n) for n in jobs_raw}
            for name, body in jobs_raw.items():
                if self.is_stray(("job", name)):
                    continue
                j = self.job(str(name), body)
                if j is not None:
                    config.jobs[j.name] = j
        processes_raw = data.get("process")
        if isinstance(processes_raw, dict):
            for name, body in processes_raw.items():
                if self.is_stray(("process", name)):
                    continue
                pr = self.process(str(name), body)
                if pr is not None:
                    config.processes[pr.name] = pr
        kernels_raw = data.get("kernel")
        if isinstance(kernels_raw, dict):
            for name, body in kernels_raw.items():
                if self.is_stray(("kernel", name)):
                    continue
                k = self.kernel(str(name), body)
                if k is not None:
                    config.kernels[k.name] = k
        # The reference page's examples have no `kernel` block at all: a file
        # without any runs each named kernel as a default one (warning).  A
        # file that defines kernels gets an error for a name it lacks (typo).
        defined = (
            set(kernels_raw) if isinstance(kernels_raw, dict) else (None if kernels_raw is None else set())
        )
        skipped: set = set()
        apps_raw = data.get("app")
        if isinstance(apps_raw, dict):
            for name, body in apps_raw.items():
                if self.is_stray(("app", name)):
                    continue
                a = self.app(str(name), body, defined, skipped)
                if a is not None:
                    config.apps[a.name] = a
        if defined is None:
            for a in config.apps.values():
                if a.kernel and a.kernel not in config.kernels:
                    path = ("app", a.name, "kernel")
                    self.check_name("kernel", a.kernel, path, "value")
                    self.warn(
                        path,
                        'kernel "%s" is not defined: it runs as a default kernel (the launcher\'s Python); '
                        'add `kernel "%s" {}` to set it up' % (a.kernel, a.kernel),
                        "value",
                    )
                    config.kernels[a.kernel] = KernelConfig(name=a.kernel, line=self.line(path))
        if isinstance(data.get("logger"), dict):
            config.logger = self.logger(data["logger"], ("logger",), top=True)
        self.report_duplicates(skipped)
        self.check_shared_names(config)
        if not config.apps and not config.processes and not any(d.severity == "error" for d in self.diags):
            self.warn((), "no app or process to run: add an `app` block with a TornadoBridgeApp")
        return config, self.diags

    def merge(self, datas: List[Tuple[int, dict]]) -> dict:
        """Jaffle's deep merge: maps merge key by key; anything else from a
        later file (lists included) replaces the earlier value.  Records
        ``origin`` for every key path."""
        merged: Dict[str, Any] = {}
        for index, data in datas:
            self.merge_into(merged, data, (), index)
        return merged

    def merge_into(self, into: dict, new: dict, path: tuple, index: int) -> None:
        for key, value in new.items():
            p = path + (key,)
            if isinstance(value, dict) and isinstance(into.get(key), dict):
                self.merge_into(into[key], value, p, index)
            else:
                into[key] = copy.deepcopy(value)
                self.mark(value, p, index)

    def mark(self, value: Any, path: tuple, index: int) -> None:
        self.origin[path] = index
        if isinstance(value, dict):
            for k, v in value.items():
                self.mark(v, path + (k,), index)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.mark(v, path + (i,), index)

    def parse(self) -> Tuple[Any, Optional[Tuple[int, str]]]:
        """pyhcl for values, our scanner for positions and better errors."""
        scan_error: Optional[hclpos.HclSyntaxError] = None
        try:
            self.pos = hclpos.scan(self.text)
        except hclpos.HclSyntaxError as e:
            scan_error = e
        except Exception:  # the scanner only adds precision: never fatal
            self.pos = None
        try:
            data = _pyhcl_loads(self.text)
        except RecursionError:
            return None, (0, "the file is nested too deeply to read")
        except Exception as e:
            if scan_error is not None:
                return None, (scan_error.offset, scan_error.message)
            return None, self.list_hint(e) or _pyhcl_error(self.text, e)
        if scan_error is not None:
            # pyhcl accepted it, but not as the author meant (e.g. a missing
            # `=` that made `kernel "py"` a block): refuse with our reason.
            return None, (scan_error.offset, scan_error.message)
        for start, end in self.pos.multiline_strings if self.pos is not None else ():
            self.error_at(
                start,
                "string runs over several lines (to line %d); "
                "if that is meant, write it as a heredoc: <<EOF ... EOF"
                % hclpos.linecol(self.text, end, self.starts)[0],
                "warning",
            )
        return data, None

    def list_hint(self, e: BaseException) -> Optional[Tuple[int, str]]:
        """pyhcl cannot read true/false in a list, nor a number after a
        string; our scanner can, so say what to change instead of pyhcl's
        "unexpected `]`"."""
        if self.pos is None:
            return None
        offset, _ = _pyhcl_error(self.text, e)
        inside = [l for l in self.pos.lists if l[0] <= offset <= l[1]]
        if not inside:
            return None
        _, _, elements = max(inside, key=lambda l: l[0])
        seen_string = False
        for start, kind in elements:
            if kind == "BOOL" or (kind == "NUMBER" and seen_string):
                return start, (
                    "this list cannot be read: pyhcl accepts no true/false in a list, nor a number after a "
                    'string; write the value in quotes, e.g. "%s"'
                    % self.text[start:].split(",")[0].split("]")[0].strip()
                )
            seen_string = seen_string or kind == "STRING"
        return None

    def is_stray(self, path: tuple) -> bool:
        """A name pyhcl made from a block that had no label (reported already)."""
        pos = self.sources[self.locate(path)[0]].pos
        if pos is None:
            return False
        loc = pos.locs.get(tuple(path))
        if loc is None or loc.kind == "block":
            return False
        parent = pos.locs.get(tuple(path[:-1]))
        return loc.kind == "group" or (parent is not None and parent.kind == "block")

    def check_top_items(self) -> None:
        if self.pos is None:
            return
        examples = {
            "app": 'app "web" { ... }',
            "kernel": 'kernel "py_kernel" { ... }',
            "process": 'process "frontend" { command = "yarn start" }',
            "job": 'job "lint" { command = "flake8" }',
        }
        for item in self.pos.top:
            if item.key in examples:
                if item.is_object:
                    continue  # `app = { web = {...} }`, or the JSON form
                if not item.is_block:
                    self.error_at(
                        item.key_offset,
                        "`%s` must be a block with a name: %s" % (item.key, examples[item.key]),
                    )
                elif len(item.labels) != 1:
                    self.error_at(
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
                    self.error_at(
                        item.key_offset,
                        "the top-level `logger` must be a block without a name: logger { ... }",
                    )
            elif item.key == "variable":
                if not item.is_block or len(item.labels) != 1:
                    self.error_at(
                        item.key_offset,
                        'a `variable` block takes exactly one name: variable "name" { default = ... }',
                        "warning",
                    )
            else:
                what = item.key + "".join(' "%s"' % l for l in item.labels)
                msg = "unknown top-level %s `%s` skipped%s; tornado-launcher reads %s" % (
                    "block" if item.is_block else "setting",
                    what,
                    _did_you_mean(item.key, _TOP_BLOCKS),
                    ", ".join("`%s`" % k for k in _TOP_BLOCKS),
                )
                self.error_at(item.key_offset, msg, "warning")

    # -- interpolation ---------------------------------------------------------

    def read_variables(self, raw: Any) -> None:
        """``variable "name" { default = ... }``, typed by its default (or ``type``).

        Values given as ``J_VAR_name`` environment variables, then as the
        ``variables`` argument (the CLI's ``--variables``), override the
        default; they are strings, converted to the variable's type.
        """
        raw = raw if isinstance(raw, dict) else {}
        for name, body in raw.items():
            name = str(name)
            path = ("variable", name)
            if not isinstance(body, dict):
                self.variables[name] = _MISSING
                continue
            self.keys(body, path, _VARIABLE_KEYS, 'variable "%s"' % name, lenient=True)
            default = body.get("default", _MISSING)
            vtype = self.variable_type(name, body, default, path)
            value = default
            given = [("the environment variable J_VAR_%s" % name, os.environ.get("J_VAR_%s" % name))]
            given.append(("--variables %s=..." % name, self.overrides.get(name)))
            for source, text in given:
                if text is None:
                    continue
                try:
                    value = _coerce(text, vtype)
                except ValueError:
                    where = path + ("default",) if "default" in body else path
                    self.error(
                        where,
                        "variable `%s` is %s%s, but %s gives %s: %s"
                        % (
                            name,
                            _TYPE_WORDS[vtype][0],
                            "" if default is _MISSING else " (its default is %s)" % _hcl_literal(default),
                            source,
                            _show(str(text)),
                            _TYPE_WORDS[vtype][1],
                        ),
                        "value" if "default" in body else "label",
                    )
                    value = default
                    break
            self.variables[name] = value
        for name in self.overrides:
            if name not in raw:
                self.diags.append(
                    Diagnostic(
                        self.sources[0].shown,
                        0,
                        0,
                        '--variables gives `%s`, which no `variable` block defines%s: add `variable "%s" '
                        "{ default = ... }` to the file, or drop it" % (name, _did_you_mean(name, raw), name),
                    )
                )

    def variable_type(self, name: str, body: dict, default: Any, path: tuple) -> str:
        declared = body.get("type", _MISSING)
        vtype = _type_of(default) if default is not _MISSING else "string"
        if declared is _MISSING:
            return vtype
        t = _TYPE_NAMES.get(str(declared).lower()) if isinstance(declared, str) else None
        if t is None:
            self.error(
                path + ("type",),
                "`type` of variable `%s` must be one of %s, not %s"
                % (name, ", ".join(sorted(set(_TYPE_NAMES))), _show(declared)),
                "value",
            )
            return vtype
        if default is not _MISSING and t != vtype and not (t == "number" and vtype == "number"):
            self.error(
                path + ("default",),
                "the `default` of variable `%s` is %s, but its `type` says %s: make them agree"
                % (name, _TYPE_WORDS[vtype][0], _TYPE_WORDS[t][0]),
                "value",
            )
        return t

    def interpolate(self, value: Any, path: tuple) -> Any:
        """Every string value, everywhere but in ``variable`` blocks and skipped apps.

        A value that is exactly one ``${...}`` takes the result's type (a
        bool variable gives a bool); inside a longer string the result is
        text.  A failure is an error at the value, which is then skipped by
        the type checks (no cascade).
        """
        if isinstance(value, dict):
            if path == ():  # variables are not interpolated; unknown blocks are skipped
                return {
                    k: self.interpolate(v, (k,))
                    for k, v in value.items()
                    if k in _TOP_BLOCKS and k != "variable"
                }
            return {k: self.interpolate(v, path + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.interpolate(v, path + (i,)) for i, v in enumerate(value)]
        if not isinstance(value, str) or "${" not in value:
            return value
        if path[:1] == ("app",) and path[1:2] in self.skipped_apps:
            return value  # parts we skip are not ours to complain about
        try:
            parts = _template(value)
            results = [
                p if isinstance(p, str) else self.evaluate(_parse_expr(p[0]), p[0], path) for p in parts
            ]
        except (_InterpError, RecursionError) as e:
            message = str(e) if isinstance(e, _InterpError) else "this `${...}` is nested too deeply to read"
            self.skip_paths.add(tuple(path))
            self.error(path, message, "value")
            return value
        self.interpolated.add(tuple(path))
        if len(parts) == 1 and not isinstance(parts[0], str):
            return results[0]
        return "".join(_stringify(r) for r in results)

    def evaluate(self, node: Any, text: str, path: tuple) -> Any:
        kind = node[0]
        if kind == "lit":
            return node[1]
        if kind == "filter":
            if node[2] not in FILTERS:
                raise _InterpError(
                    "`${%s}`: unknown filter `%s`%s; filters: %s"
                    % (text, node[2], _did_you_mean(node[2], FILTERS), ", ".join(FILTERS))
                )
            return _stringify(self.evaluate(node[1], text, path)).strip()  # trim
        names = node[1]
        if kind == "name":
            if names[0] == "var" and len(names) == 2:
                return self.variable(names[1], text, path)
            if len(names) == 1 and names[0] in FUNCTIONS:
                raise _InterpError(
                    "`${%s}`: `%s` is a function: call it, e.g. `${%s}`"
                    % (text, names[0], _FUNCTION_EXAMPLES[names[0]])
                )
            if len(names) == 1 and names[0] in os.environ:
                return os.environ[names[0]]
            name = ".".join(names)
            if len(names) == 1:
                raise _InterpError(
                    "`${%s}`: `%s` is not a set environment variable nor a function: set it, write "
                    "`${env('%s', 'default')}` for a default, or `${var.%s}` for a `variable` block"
                    % (text, name, name, name)
                )
            raise _InterpError(
                "`${%s}`: unknown name `%s`; names are var.NAME, environment variables and the functions %s"
                % (text, name, ", ".join(FUNCTIONS))
            )
        fn = ".".join(names)
        args = [self.evaluate(a, text, path) for a in node[2]]
        arity = {"env": (1, 2), "exec": (1, 1), "fg": (1, 1), "bg": (1, 1), "reset": (0, 0), "var": (1, 2)}
        if fn not in arity:
            raise _InterpError(
                "`${%s}`: unknown function `%s`%s; functions: %s"
                % (text, fn, _did_you_mean(fn, FUNCTIONS), ", ".join(FUNCTIONS))
            )
        lo, hi = arity[fn]
        if not lo <= len(args) <= hi:
            raise _InterpError(
                "`${%s}`: `%s` takes %s, e.g. `${%s}`"
                % (
                    text,
                    fn,
                    (
                        "no argument"
                        if hi == 0
                        else "%d or %d arguments" % (lo, hi) if lo != hi else "1 argument"
                    ),
                    _FUNCTION_EXAMPLES[fn],
                )
            )
        if fn == "env":
            return os.environ.get(_stringify(args[0]), _stringify(args[1]) if len(args) > 1 else "")
        if fn == "exec":
            command = _stringify(args[0])
            key = (command, self.dir_of(path))
            if key not in self.exec_cache:
                self.exec_cache[key] = _run_exec(*key)
            return self.exec_cache[key]
        if fn in ("fg", "bg"):
            return _color(fn, args[0])
        if fn == "reset":
            return "\x1b[0m"
        # var('name', default): Jaffle's form for a variable that may be undefined
        name = _stringify(args[0])
        if name in self.variables and self.variables[name] is not _MISSING:
            return self.variables[name]
        if len(args) > 1:
            return args[1]
        return self.variable(name, text, path)

    def variable(self, name: str, text: str, path: tuple) -> Any:
        if name not in self.variables:
            raise _InterpError(
                '`${%s}` uses variable `%s`, which is not defined: add `variable "%s" { default = ... }`%s'
                % (text.strip(), name, name, _did_you_mean(name, self.variables))
            )
        value = self.variables[name]
        if value is _MISSING:
            raise _InterpError(
                "variable `%s` has no `default`: give it one, set the environment variable J_VAR_%s, "
                "or pass --variables %s=VALUE" % (name, name, name)
            )
        return value

    # -- value readers: each reports its own error and returns _MISSING ------

    def keys(
        self, body: dict, path: tuple, known: tuple, what: str, ignored: tuple = (), lenient: bool = False
    ) -> None:
        """Unknown keys are errors (warnings when ``lenient``); ``ignored`` ones warn."""
        for key in body:
            if key in known:
                continue
            if key in ignored:
                self.warn(
                    path + (key,),
                    "`%s` in %s is a Jaffle setting tornado-launcher does not use: ignored" % (key, what),
                )
                continue
            msg = "unknown key `%s` in %s%s; valid keys: %s" % (
                key,
                what,
                _did_you_mean(key, known),
                ", ".join(k for k in known),
            )
            (self.warn if lenient else self.error)(path + (key,), msg)

    def get(self, body: dict, path: tuple, key: str) -> Any:
        if key not in body or path + (key,) in self.skip_paths:
            return _MISSING
        return body[key]

    def string(self, body: dict, path: tuple, key: str, what: str) -> Any:
        v = self.get(body, path, key)
        if v is _MISSING:
            return v
        if not isinstance(v, str):
            self.error(
                path + (key,), "`%s` %s must be a string in quotes, not %s" % (key, what, _show(v)), "value"
            )
            return _MISSING
        return v

    def boolean(self, body: dict, path: tuple, key: str, default: bool) -> bool:
        v = self.get(body, path, key)
        if v is _MISSING:
            return default
        if isinstance(v, bool):
            return v
        # Jaffle reads these strings as booleans (they come from ${var.x}).
        if isinstance(v, str) and v.strip().lower() in ("true", "1", "false", "0"):
            return v.strip().lower() in ("true", "1")
        self.error(path + (key,), "`%s` must be true or false, not %s" % (key, _show(v)), "value")
        return default

    def strings(self, body: dict, path: tuple, key: str, example: str) -> Any:
        v = self.get(body, path, key)
        if v is _MISSING:
            return v
        if not isinstance(v, list):
            self.error(
                path + (key,),
                "`%s` must be a list of strings, not %s: write `%s = %s`" % (key, _show(v), key, example),
                "value",
            )
            return _MISSING
        out, ok = [], True
        for i, item in enumerate(v):
            if isinstance(item, str):
                out.append(item)
            else:
                ok = False
                self.error(
                    path + (key, i),
                    "`%s` must hold only strings in quotes, not %s" % (key, _show(item)),
                    "value",
                )
        return out if ok else _MISSING

    def seconds(self, body: dict, path: tuple, key: str) -> Optional[float]:
        v = self.get(body, path, key)
        if v is _MISSING:
            return None
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                pass
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0:
            self.error(
                path + (key,),
                "`%s` must be a number of seconds >= 0, e.g. 0.5, not %s" % (key, _show(v)),
                "value",
            )
            return None
        return float(v)

    def block(self, body: dict, path: tuple, key: str, example: str) -> Any:
        v = body.get(key, _MISSING)
        if v is _MISSING:
            return v
        if not isinstance(v, dict):
            self.error(path + (key,), "`%s` must be a block: %s" % (key, example), "key")
            return _MISSING
        return v

    def compiles(self, code: str, path: tuple, what: str, event: bool = False) -> None:
        """Report a syntax error at its line inside the file.

        The code runs as an IPython cell, so top-level ``await`` is fine and
        ``%magic`` / ``!shell`` lines are not checked.  ``{event}`` (Jaffle
        puts the event's dict literal there) is checked as an empty dict of
        the same width, so columns stay right.
        """
        source = code.replace("{event}", "{     }") if event else code
        source = re.sub(r"(?m)^([ \t]*)[%!].*$", r"\1pass", source)
        try:
            compile(source, "<%s>" % what, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
        except SyntaxError as e:
            self.code_error(path, code, what, e)
        except (ValueError, RecursionError, MemoryError, OverflowError) as e:
            self.error(path, "%s cannot be compiled: %s" % (what, e), "value")

    def code_error(self, path: tuple, code: str, what: str, e: SyntaxError) -> None:
        file_index = self.locate(path)[0]
        pos = self.sources[file_index].pos
        loc = pos.locs.get(tuple(path)) if pos is not None else None
        msg = "%s does not compile: %s" % (what, e.msg)
        if loc is None or loc.text_start < 0 or not e.lineno or tuple(path) in self.interpolated:
            self.error(path, msg, "value")
            return
        lines = code.split("\n")
        lineno = min(max(e.lineno, 1), len(lines))
        index = sum(len(l) + 1 for l in lines[: lineno - 1]) + max((e.offset or 1) - 1, 0)
        index = min(index, len(code))
        offset = loc.offset_in_value(index)
        if offset is None:
            self.error(path, msg, "value")
        else:
            self.error_at(offset, msg, src=file_index)

    # -- blocks ------------------------------------------------------------------

    def check_name(self, kind: str, name: str, path: tuple, part: str = "label") -> None:
        if name.isidentifier() and not keyword.iskeyword(name):
            return
        why = "is a Python keyword" if keyword.iskeyword(name) else "is not a Python identifier"
        role = (
            "the name becomes a variable in the kernel"
            if kind == "app"
            else "kernel names follow the rule of app names, as Jaffle's do"
        )
        self.error(
            path,
            '%s name "%s" %s (%s): rename it, e.g. "%s"' % (kind, name, why, role, _fixed_name(name)),
            part,
        )

    def kernel(self, name: str, body: Any) -> Optional[KernelConfig]:
        path = ("kernel", name)
        self.check_name("kernel", name, path)
        if not isinstance(body, dict):
            self.error(
                path, 'kernel "%s" must be a block: kernel "%s" { kernel_name = "python3" }' % (name, name)
            )
            return None
        self.keys(body, path, _KERNEL_KEYS, 'kernel "%s"' % name)
        k = KernelConfig(name=name, line=self.line(path))
        kernel_name = self.string(body, path, "kernel_name", "(a Jupyter kernelspec name)")
        if kernel_name is not _MISSING:
            k.kernel_name = kernel_name or None
        pass_env = self.strings(body, path, "pass_env", '["PATH", "HOME"]')
        if pass_env is not _MISSING:
            k.pass_env = pass_env
        python = self.string(body, path, "python", "(a path to a Python interpreter)")
        if python is not _MISSING and python:
            p = os.path.expanduser(python)
            p = os.path.normpath(p if os.path.isabs(p) else os.path.join(self.dir_of(path + ("python",)), p))
            k.python = p
            if k.kernel_name:
                self.error(
                    path + ("python",),
                    'kernel "%s" sets both `kernel_name` and `python`: '
                    "keep one (a kernelspec, or an interpreter)" % name,
                )
            elif not os.path.exists(p):
                self.warn(
                    path + ("python",),
                    "`python` %s does not exist (resolved to %s)" % (_show(python), p),
                    "value",
                )
        return k

    def check_label(self, kind: str, name: str, path: tuple) -> bool:
        """Process and job names: shown in the window, never code."""
        fix = 'e.g. %s "frontend"' % kind
        if not name.strip():
            self.error(path, "a %s name cannot be empty: %s" % (kind, fix), "label")
        elif not name.isprintable():
            self.error(
                path,
                "%s name %s holds a control character: use printable text, %s" % (kind, _show(name), fix),
                "label",
            )
        elif len(name) > _MAX_NAME:
            self.error(
                path,
                "%s name %s is %d characters long: keep it to %d" % (kind, _show(name), len(name), _MAX_NAME),
                "label",
            )
        else:
            return True
        return False

    def command(self, body: dict, path: tuple, what: str, example: str) -> Any:
        command = self.string(body, path, "command", "(a command line)")
        if command is _MISSING:
            if "command" not in body:
                self.error(path, '%s needs `command = "%s"`: the command to run' % (what, example), "label")
            return _MISSING
        if not command.strip():
            self.error(
                path + ("command",),
                '`command` of %s is empty: e.g. `command = "%s"`' % (what, example),
                "value",
            )
            return _MISSING
        return command

    def process(self, name: str, body: Any) -> Optional[ProcessConfig]:
        path = ("process", name)
        what = 'process "%s"' % name
        if not isinstance(body, dict):
            self.error(path, '%s must be a block: process "%s" { command = "yarn start" }' % (what, name))
            return None
        self.check_label("process", name, path)
        self.keys(body, path, _PROCESS_KEYS, what)
        p = ProcessConfig(name=name, command="", line=self.line(path))
        command = self.command(body, path, what, "yarn start")
        if command is not _MISSING:
            p.command = command
        p.tty = self.boolean(body, path, "tty", False)
        p.disabled = self.boolean(body, path, "disabled", False)
        env = self.block(body, path, "env", 'env { NODE_ENV = "development" }')
        if env is not _MISSING:
            for key, value in env.items():
                kp = path + ("env", key)
                if kp in self.skip_paths:
                    continue
                if not _ENV_NAME.match(str(key)):
                    self.error(
                        kp,
                        "`env` name %s is not an environment variable name "
                        "(letters, digits and `_`, not starting with a digit)" % _show(str(key)),
                    )
                elif isinstance(value, (dict, list)) or value is None:
                    self.error(
                        kp,
                        '`env` values are strings, numbers or true/false, not %s: `%s = "..."`'
                        % (_show(value), key),
                        "value",
                    )
                else:
                    p.env[str(key)] = _stringify(value)
        logger = self.block(body, path, "logger", 'logger { level = "info" }')
        if logger is not _MISSING:
            p.logger = self.logger(logger, path + ("logger",))
        return p

    def job(self, name: str, body: Any) -> Optional[JobConfig]:
        path = ("job", name)
        what = 'job "%s"' % name
        if not isinstance(body, dict):
            self.error(path, '%s must be a block: job "%s" { command = "flake8" }' % (what, name))
            return None
        self.check_label("job", name, path)
        self.keys(body, path, _JOB_KEYS, what)
        j = JobConfig(name=name, command="", line=self.line(path))
        command = self.command(body, path, what, "flake8")
        if command is not _MISSING:
            j.command = command
        logger = self.block(body, path, "logger", 'logger { level = "info" }')
        if logger is not _MISSING:
            j.logger = self.logger(logger, path + ("logger",))
        return j

    def check_shared_names(self, config: Config) -> None:
        """Apps, processes and jobs share one list in the window: one name each."""
        entries = [(a.line, "app", a.name) for a in config.apps.values()]
        entries += [(p.line, "process", p.name) for p in config.processes.values()]
        entries += [(j.line, "job", j.name) for j in config.jobs.values()]
        seen: Dict[str, str] = {}
        order = {(k, n): self.where((k, n)) for _, k, n in entries}
        for _, kind, name in sorted(entries, key=lambda e: order[e[1:]]):
            if name in seen:
                first_kind = seen[name]
                self.error(
                    (kind, name),
                    '%s "%s" has the same name as %s "%s" at %s: apps, processes and jobs share one '
                    "list, so rename one"
                    % (kind, name, first_kind, name, self.place((first_kind, name), (kind, name))),
                    "label",
                )
            else:
                seen[name] = kind

    def app(self, name: str, body: Any, kernels: Optional[set], skipped: set) -> Optional[AppConfig]:
        path = ("app", name)
        if not isinstance(body, dict):
            self.error(
                path, 'app "%s" must be a block: app "%s" { class = "...", kernel = "..." }' % (name, name)
            )
            return None
        cls = self.string(body, path, "class", "(a dotted class name)")
        if cls is _MISSING:
            if "class" not in body:
                self.error(
                    path,
                    'app "%s" needs `class = "jaffle.app.tornado.TornadoBridgeApp"` (or your subclass)'
                    % name,
                    "label",
                )
            return None
        options_raw = body.get("options")
        custom: Optional[str] = None
        if cls in TORNADO_CLASSES:
            kind = "tornado"
        elif cls in WATCHDOG_CLASSES:
            kind = "watchdog"
        elif is_skipped_class(cls):
            skipped.add(name)
            self.warn(
                path,
                'app "%s" (line %d) uses %s, which tornado-launcher does not run: skipped'
                % (name, self.line(path), cls),
            )
            return None
        elif not _is_dotted(cls):
            self.error(
                path + ("class",),
                "`class` must be a dotted path such as `jaffle.app.tornado.TornadoBridgeApp` "
                "or `myproj.bridge.MyBridge`, not %s" % _show(cls),
                "value",
            )
            return None
        else:
            custom = cls
            kind = "watchdog" if isinstance(options_raw, dict) and "handlers" in options_raw else "tornado"
        self.check_name("app", name, path)
        self.keys(body, path, _APP_KEYS, 'app "%s"' % name)
        app = AppConfig(name=name, kind=kind, class_name=cls, custom_class=custom, line=self.line(path))

        kernel = self.string(body, path, "kernel", "(the name of a kernel block)")
        if kernel is _MISSING:
            if "kernel" not in body:
                example = sorted(kernels)[0] if kernels else "py_kernel"
                self.error(path, 'app "%s" needs `kernel = "%s"`' % (name, example), "label")
        else:
            app.kernel = kernel
            if kernels is not None and kernel not in kernels:
                self.error(
                    path + ("kernel",),
                    'app "%s" uses kernel "%s", which is not defined%s: add `kernel "%s" {}` to the file'
                    % (name, kernel, _did_you_mean(kernel, kernels), kernel),
                    "value",
                )
        start = self.string(body, path, "start", "(Python code)")
        if start is not _MISSING:
            app.start = start
            self.compiles(start, path + ("start",), 'the `start` code of app "%s"' % name)
        app.disabled = self.boolean(body, path, "disabled", False)
        logger = self.block(body, path, "logger", 'logger { level = "info" }')
        if logger is not _MISSING:
            app.logger = self.logger(logger, path + ("logger",))
        options = self.block(body, path, "options", 'options { app_class = "pkg.module.App" }')
        options = {} if options is _MISSING else options
        app.options = dict(options)
        opath = path + ("options",)
        if kind == "tornado":
            self.tornado_options(app, options, opath)
        else:
            self.watchdog_options(app, options, opath)
        return app

    def tornado_options(self, app: AppConfig, options: dict, path: tuple) -> None:
        what = 'the options of app "%s"' % app.name
        if app.custom_class is None:
            self.keys(options, path, _TORNADO_KEYS, what)
        app_class = self.string(options, path, "app_class", "(a dotted class name)")
        if app_class is _MISSING:
            if "app_class" not in options:
                self.error(
                    path,
                    'app "%s" needs `options { app_class = "my_module.app.ExampleApp" }`: '
                    "the Tornado application class" % app.name,
                    "label",
                )
        elif not _is_dotted(app_class):
            self.error(
                path + ("app_class",),
                "`app_class` must be a fully qualified class name such as `my_module.app.ExampleApp`, not %s"
                % _show(app_class),
                "value",
            )
        else:
            app.app_class = app_class
        if "argv" in options and "args" in options:
            self.error(
                path + ("args",),
                "`argv` and `args` are the same setting (`args` is Jaffle's spelling): keep one",
            )
        for key in ("argv", "args"):
            argv = self.strings(options, path, key, '["--port=8888"]')
            if argv is not _MISSING:
                app.argv = argv
                break
        app.threaded = self.boolean(options, path, "threaded", False)
        clear = self.strings(options, path, "clear_cache", '["my_module"]')
        app.clear_cache = self.default_clear() if clear is _MISSING else clear
        for i, module in enumerate(app.clear_cache if clear is not _MISSING else []):
            if not _is_module(module):
                self.error(
                    path + ("clear_cache", i),
                    "`clear_cache` holds module names such as `my_module`, not %s" % _show(module),
                    "value",
                )

    def default_clear(self) -> List[str]:
        if self._clear_cache is None:
            self._clear_cache = default_clear_cache(self.directory)
        return list(self._clear_cache)

    def watchdog_options(self, app: AppConfig, options: dict, path: tuple) -> None:
        if app.custom_class is None:
            self.keys(options, path, _WATCHDOG_KEYS, 'the options of app "%s"' % app.name)
        handlers = self.get(options, path, "handlers")
        if handlers is _MISSING:
            self.warn(path[:-1], 'app "%s" has no `handlers`: it watches nothing' % app.name, "label")
            return
        if isinstance(handlers, dict):
            handlers = [handlers]
        if not isinstance(handlers, list):
            self.error(
                path + ("handlers",),
                '`handlers` must be a list of blocks: handlers = [{ patterns = ["*.py"] }]',
                "value",
            )
            return
        for i, h in enumerate(handlers):
            hp = path + ("handlers", i)
            if not isinstance(h, dict):
                self.error(
                    hp,
                    "each handler must be a block in braces: "
                    '{ patterns = ["*.py"], code_blocks = [...] }, not %s' % _show(h),
                    "value",
                )
                continue
            handler = self.handler(app, h, hp)
            app.handlers.append(handler)

    def handler(self, app: AppConfig, h: dict, path: tuple) -> WatchHandler:
        what = 'handler %d of app "%s"' % (path[-1] + 1, app.name)
        self.keys(h, path, _HANDLER_KEYS, what)
        handler = WatchHandler(watch_path=self.directory, line=self.line(path), clear_cache=[])
        wp = self.string(h, path, "watch_path", "(a directory)")
        if wp is not _MISSING:
            p = os.path.expanduser(wp)
            base = self.dir_of(path + ("watch_path",))
            handler.watch_path = os.path.normpath(p if os.path.isabs(p) else os.path.join(base, p))
            if not os.path.isdir(handler.watch_path):
                self.warn(
                    path + ("watch_path",),
                    "`watch_path` %s is not a directory (resolved to %s)" % (_show(wp), handler.watch_path),
                    "value",
                )
        for key, example in (("patterns", '["*.py"]'), ("ignore_patterns", '["*/tests/*"]'), ("jobs", "[]")):
            v = self.strings(h, path, key, example)
            if v is not _MISSING:
                setattr(handler, key, v)
        for i, job in enumerate(handler.jobs):
            if job not in self.job_names:
                self.error(
                    path + ("jobs", i),
                    '%s runs job "%s", which is not defined%s: add `job "%s" { command = "..." }`'
                    % (what, job, _did_you_mean(job, self.job_names), job),
                    "value",
                )
        handler.ignore_directories = self.boolean(h, path, "ignore_directories", False)
        handler.case_sensitive = self.boolean(h, path, "case_sensitive", False)
        clear = self.strings(h, path, "clear_cache", '["my_module"]')
        handler.clear_cache = self.default_clear() if clear is _MISSING else clear
        if "code_blocks" in h and "functions" in h:
            self.error(
                path + ("functions",),
                "`code_blocks` and `functions` are the same setting (the reference's spelling): keep one",
            )
        for key in ("code_blocks", "functions"):
            blocks = self.strings(h, path, key, '["my_app.handle_watchdog_event({event})"]')
            if blocks is not _MISSING:
                handler.code_blocks = blocks
                for i, code in enumerate(blocks):
                    self.compiles(code, path + (key, i), "code block %d of %s" % (i + 1, what), event=True)
                break
        handler.debounce = self.seconds(h, path, "debounce")
        handler.throttle = self.seconds(h, path, "throttle")
        return handler

    def logger(self, body: dict, path: tuple, top: bool = False) -> LoggerConfig:
        what = "the top-level logger" if top else 'the logger of app "%s"' % path[1]
        self.keys(body, path, _LOGGER_KEYS, what, ignored=_LOGGER_IGNORED, lenient=top)
        config = LoggerConfig()
        level = self.get(body, path, "level")
        if level is not _MISSING:
            norm = level.strip().upper() if isinstance(level, str) else None
            norm = "WARNING" if norm == "WARN" else norm
            if norm in LEVELS:
                config.level = norm
            else:
                self.error(
                    path + ("level",),
                    "`level` must be one of debug, info, warning, error, critical, not %s" % _show(level),
                    "value",
                )
        suppress = self.strings(body, path, "suppress_regex", '["^\\\\s*$"]')
        if suppress is not _MISSING:
            for i, pattern in enumerate(suppress):
                if self.regex(pattern, path + ("suppress_regex", i)) is not None:
                    config.suppress_regex.append(pattern)
        replace = self.get(body, path, "replace_regex")
        if replace is not _MISSING:
            if isinstance(replace, dict):
                replace = [replace]
            if not isinstance(replace, list):
                self.error(
                    path + ("replace_regex",),
                    '`replace_regex` must be a list of { from = "...", to = "..." } blocks',
                    "value",
                )
                replace = []
            for i, item in enumerate(replace):
                ip = path + ("replace_regex", i)
                if not isinstance(item, dict):
                    self.error(
                        ip,
                        'each `replace_regex` entry must be a block: { from = "...", to = "..." }, not %s'
                        % _show(item),
                        "value",
                    )
                    continue
                self.keys(item, ip, ("from", "to"), "a `replace_regex` entry")
                frm, to = item.get("from"), item.get("to")
                if not isinstance(frm, str) or not isinstance(to, str):
                    missing = "from" if not isinstance(frm, str) else "to"
                    self.error(
                        ip + ((missing,) if missing in item else ()),
                        'a `replace_regex` entry needs `%s = "..."` (a string)' % missing,
                        "value",
                    )
                    continue
                compiled = self.regex(frm, ip + ("from",))
                if compiled is None:
                    continue
                try:
                    compiled.sub(to, "")
                except (re.error, IndexError) as e:
                    self.error(
                        ip + ("to",), "`to` %s is not a valid replacement: %s" % (_show(to), e), "value"
                    )
                    continue
                config.replace_regex.append((frm, to))
        return config

    def regex(self, pattern: str, path: tuple) -> Optional["re.Pattern[str]"]:
        try:
            return re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as e:
            self.error(path, "regular expression %s does not compile: %s" % (_show(pattern), e), "value")
            return None

    def report_duplicates(self, skipped: set) -> None:
        for index in range(len(self.sources)):
            self.use(index)
            self.report_file_duplicates(skipped)
        self.use(0)

    def report_file_duplicates(self, skipped: set) -> None:
        if self.pos is None:
            return
        for path, first, dup in self.pos.duplicates:
            if path[0] not in ("app", "kernel", "logger", "process", "job", "variable"):
                continue
            if path[0] == "app" and len(path) > 1 and path[1] in skipped:
                continue
            first_line = hclpos.linecol(self.text, first.key, self.starts)[0]
            if len(path) == 2 and path[0] in ("app", "kernel", "process", "job", "variable"):
                self.error_at(
                    dup.label if dup.label is not None else dup.key,
                    '%s "%s" is defined twice (first at line %d): rename or remove one'
                    % (path[0], path[1], first_line),
                )
            else:
                self.error_at(
                    dup.key,
                    "`%s` is set twice in the same block (first at line %d): keep one"
                    % (path[-1], first_line),
                )


def _is_module(name: str) -> bool:
    return bool(name) and all(p.isidentifier() for p in name.split("."))
