"""``${...}`` in string values: Jaffle's templates, evaluated by a small parser of our own.

Jaffle rendered string values with Mako; no template engine runs here.
:func:`template` splits a string into text and expressions, :func:`parse_expr`
reads one expression (names, calls, ``|`` filters), :func:`evaluate` computes
it in an explicit :class:`Environment` (the variables' values, the cache of
``exec()`` results, the directory commands run in, and whether ``exec()``
may run at all), and :func:`interpolate` walks a whole config's data.
Errors are :class:`InterpError`, whose message is a whole sentence.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Tuple

from ..kernels.interpreter import child_env
from .model import MISSING
from .text import did_you_mean, os_reason, show, stringify

#: seconds an `${exec('...')}` may take at load time
EXEC_TIMEOUT = 10.0
#: the functions `${...}` may call, and the filters after `|`
FUNCTIONS = ("env", "exec", "fg", "bg", "reset", "var")
FILTERS = ("trim",)
_COLOR_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")


class InterpError(Exception):
    """A `${...}` that cannot be evaluated; the message is a whole sentence."""


def template(s: str) -> List[Any]:
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
                raise InterpError(
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


def parse_expr(text: str) -> Any:
    """``${...}``'s inside -> a tree of tuples; raises InterpError.

    expr := atom ("|" filter)* ; atom := string | number | name("." name)* ["(" [expr ("," expr)*] ")"]
    """
    toks: List[Tuple[str, Any]] = []
    i = 0
    stripped = text.rstrip()
    while i < len(stripped):
        m = _EXPR_TOKEN.match(stripped, i)
        if not m or m.end() == i:
            raise InterpError("`${%s}` cannot be read at %s" % (text, show(stripped[i:].strip())))
        kind = m.lastgroup
        value: Any = m.group(kind)
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        elif kind == "num":
            value = float(value) if "." in value else int(value)
        toks.append((kind, value))
        i = m.end()
    if not toks:
        raise InterpError("`${}` is empty: write `${var.name}`, or `$${}` for the text itself")
    pos = [0]

    def peek() -> Tuple[str, Any]:
        return toks[pos[0]] if pos[0] < len(toks) else ("end", None)

    def take(kind: str, value: Any = None) -> Any:
        t = peek()
        if t[0] != kind or (value is not None and t[1] != value):
            found = "the end" if t[0] == "end" else show(t[1]) if t[0] != "op" else "`%s`" % t[1]
            raise InterpError(
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
        raise InterpError(
            "`${%s}` cannot be read: unexpected %s after the expression"
            % (text, "`%s`" % value if kind == "op" else show(value))
        )
    return tree


def color(fn: str, color: Any) -> str:
    """``fg('red')`` / ``bg('bright_blue')`` / ``fg(208)``: an ANSI SGR sequence."""
    base = 30 if fn == "fg" else 40
    text = stringify(color).strip().lower().replace("-", "_").replace(" ", "_")
    if text.isdigit():
        n = int(text)
        if n <= 255:
            return "\x1b[%d;5;%dm" % (base + 8, n)
    bright = text.startswith("bright_")
    name = text[7:] if bright else text
    if name in _COLOR_NAMES:
        return "\x1b[%dm" % (base + (60 if bright else 0) + _COLOR_NAMES.index(name))
    raise InterpError(
        "%s(%s): unknown color: use one of %s, bright_ before any of them (bright_red), or 0-255"
        % (fn, show(color), ", ".join(_COLOR_NAMES))
    )


def run_exec(command: str, cwd: str, timeout: float = EXEC_TIMEOUT) -> str:
    """``${exec('...')}``: run at load time (no shell: split like a shell
    would, as Jaffle did), stdout without its trailing newline."""
    import shlex
    import subprocess

    shown = "exec(%s)" % show(command)
    try:
        argv = shlex.split(command, posix=os.name != "nt")
    except ValueError as e:
        raise InterpError("%s cannot be split into words: %s" % (shown, e)) from None
    if not argv:
        raise InterpError("%s has no command: write e.g. exec('git rev-parse HEAD')" % shown)
    try:
        r = subprocess.run(
            argv,
            cwd=cwd if os.path.isdir(cwd) else None,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            timeout=timeout,
            env=child_env(),
        )
    except FileNotFoundError:
        raise InterpError(
            "%s: command `%s` not found: install it, or fix the name (no shell runs it)" % (shown, argv[0])
        ) from None
    except subprocess.TimeoutExpired:
        raise InterpError(
            "%s did not finish within %g s: it runs while the config loads" % (shown, timeout)
        ) from None
    except (OSError, ValueError) as e:
        raise InterpError("%s cannot run: %s" % (shown, os_reason(e))) from None
    if r.returncode != 0:
        err = [l.strip() for l in r.stderr.decode("utf-8", "replace").splitlines() if l.strip()]
        raise InterpError(
            "%s failed with exit status %d%s"
            % (shown, r.returncode, ": " + err[-1] if err else " (no error output)")
        )
    return r.stdout.decode("utf-8", "replace").rstrip("\r\n")


_FUNCTION_EXAMPLES = {
    "env": "env('NAME', 'default')",
    "exec": "exec('git rev-parse HEAD') | trim",
    "fg": "fg('red')",
    "bg": "bg('blue')",
    "reset": "reset()",
    "var": "var('name', 'default')",
}
#: how many arguments each function takes: (at least, at most)
_ARITY = {"env": (1, 2), "exec": (1, 1), "fg": (1, 1), "bg": (1, 1), "reset": (0, 0), "var": (1, 2)}


@dataclass
class Environment:
    """What a ``${...}`` sees.

    ``variables``: name -> value of every ``variable`` block (``MISSING``
    for one with no default and no value given).  ``directory``: where
    ``exec()`` commands run unless :func:`evaluate` is given another one
    (the directory of the file that holds the value).  ``exec_cache``:
    (command, directory) -> output, so a command runs once per load.
    ``allow_exec``: False evaluates ``exec(...)`` to ``""`` without running
    it and records the command in ``skipped_exec`` (for a check that must
    not run anything).  Environment variables are read from ``os.environ``
    when evaluated.
    """

    variables: Dict[str, Any] = field(default_factory=dict)
    directory: str = "."
    exec_cache: Dict[Tuple[str, str], str] = field(default_factory=dict)
    allow_exec: bool = True
    exec_timeout: float = EXEC_TIMEOUT
    skipped_exec: List[Tuple[str, str]] = field(default_factory=list)


def evaluate(node: Any, text: str, env: Environment, directory: Optional[str] = None) -> Any:
    """The value of a :func:`parse_expr` tree; ``text`` is the expression, for messages."""
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "filter":
        if node[2] not in FILTERS:
            raise InterpError(
                "`${%s}`: unknown filter `%s`%s; filters: %s"
                % (text, node[2], did_you_mean(node[2], FILTERS), ", ".join(FILTERS))
            )
        return stringify(evaluate(node[1], text, env, directory)).strip()  # trim
    names = node[1]
    if kind == "name":
        if names[0] == "var" and len(names) == 2:
            return _variable(env, names[1], text)
        if len(names) == 1 and names[0] in FUNCTIONS:
            raise InterpError(
                "`${%s}`: `%s` is a function: call it, e.g. `${%s}`"
                % (text, names[0], _FUNCTION_EXAMPLES[names[0]])
            )
        if len(names) == 1 and names[0] in os.environ:
            return os.environ[names[0]]
        name = ".".join(names)
        if len(names) == 1:
            raise InterpError(
                "`${%s}`: `%s` is not a set environment variable nor a function: set it, write "
                "`${env('%s', 'default')}` for a default, or `${var.%s}` for a `variable` block"
                % (text, name, name, name)
            )
        raise InterpError(
            "`${%s}`: unknown name `%s`; names are var.NAME, environment variables and the functions %s"
            % (text, name, ", ".join(FUNCTIONS))
        )
    fn = ".".join(names)
    args = [evaluate(a, text, env, directory) for a in node[2]]
    if fn not in _ARITY:
        raise InterpError(
            "`${%s}`: unknown function `%s`%s; functions: %s"
            % (text, fn, did_you_mean(fn, FUNCTIONS), ", ".join(FUNCTIONS))
        )
    lo, hi = _ARITY[fn]
    if not lo <= len(args) <= hi:
        raise InterpError(
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
        return os.environ.get(stringify(args[0]), stringify(args[1]) if len(args) > 1 else "")
    if fn == "exec":
        command = stringify(args[0])
        key = (command, env.directory if directory is None else directory)
        if key not in env.exec_cache:
            if not env.allow_exec:
                env.skipped_exec.append(key)
                return ""
            env.exec_cache[key] = run_exec(key[0], key[1], env.exec_timeout)
        return env.exec_cache[key]
    if fn in ("fg", "bg"):
        return color(fn, args[0])
    if fn == "reset":
        return "\x1b[0m"
    # var('name', default): Jaffle's form for a variable that may be undefined
    name = stringify(args[0])
    if name in env.variables and env.variables[name] is not MISSING:
        return env.variables[name]
    if len(args) > 1:
        return args[1]
    return _variable(env, name, text)


def _variable(env: Environment, name: str, text: str) -> Any:
    if name not in env.variables:
        raise InterpError(
            '`${%s}` uses variable `%s`, which is not defined: add `variable "%s" { default = ... }`%s'
            % (text.strip(), name, name, did_you_mean(name, env.variables))
        )
    value = env.variables[name]
    if value is MISSING:
        raise InterpError(
            "variable `%s` has no `default`: give it one, set the environment variable J_VAR_%s, "
            "or pass --variables %s=VALUE" % (name, name, name)
        )
    return value


def render(value: str, env: Environment, directory: Optional[str] = None) -> Any:
    """A string with ``${...}`` in it, evaluated.

    A value that is exactly one ``${...}`` takes the result's type (a bool
    variable gives a bool); inside a longer string the result is text.
    Raises :class:`InterpError` or RecursionError.
    """
    parts = template(value)
    results = [p if isinstance(p, str) else evaluate(parse_expr(p[0]), p[0], env, directory) for p in parts]
    if len(parts) == 1 and not isinstance(parts[0], str):
        return results[0]
    return "".join(stringify(r) for r in results)


def interpolate(
    value: Any,
    env: Environment,
    directory_of: Callable[[tuple], str],
    on_error: Callable[[tuple, str], None],
    keep: Callable[[tuple], bool],
    interpolated: set,
    path: tuple = (),
    on_skipped: Optional[Callable[[tuple, str, List[str]], None]] = None,
) -> Any:
    """``value`` (a config's data) with every string's ``${...}`` evaluated, as a new tree.

    ``directory_of(path)`` says where ``exec()`` runs for the value at
    ``path``; ``keep(path)`` True leaves a value as written (parts we skip
    are not ours to complain about).  A failure is reported with
    ``on_error(path, message)`` and the value stays as written; the path of
    every evaluated value is added to ``interpolated``.  With
    ``env.allow_exec`` False, ``on_skipped(path, value as written, commands)``
    is told of each value whose ``exec()`` commands were not run.
    """
    if isinstance(value, dict):
        return {
            k: interpolate(v, env, directory_of, on_error, keep, interpolated, path + (k,), on_skipped)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            interpolate(v, env, directory_of, on_error, keep, interpolated, path + (i,), on_skipped)
            for i, v in enumerate(value)
        ]
    if not isinstance(value, str) or "${" not in value or keep(path):
        return value
    skipped = len(env.skipped_exec)
    try:
        result = render(value, env, directory_of(path))
    except (InterpError, RecursionError) as exc:
        error = exc
        if len(env.skipped_exec) > skipped and on_skipped is not None:
            # a `${...}` calling a command not run is checked for form only; the others in full
            problem = _problem_without_exec(value, env, directory_of(path))
            if problem is None:
                on_skipped(path, value, [command for command, _ in env.skipped_exec[skipped:]])
                return value
            error = InterpError(problem)
        on_error(path, str(error) if isinstance(error, InterpError) else "this `${...}` is nested too deeply to read")
        return value
    interpolated.add(tuple(path))
    if len(env.skipped_exec) > skipped and on_skipped is not None:
        on_skipped(path, value, [command for command, _ in env.skipped_exec[skipped:]])
    return result


def _calls_exec(node: Any) -> bool:
    if node[0] == "call":
        return node[1] == ["exec"] or any(_calls_exec(a) for a in node[2])
    return node[0] == "filter" and _calls_exec(node[1])


def _problem_without_exec(value: str, env: Environment, directory: str) -> Optional[str]:
    """The first problem of ``value`` that is not for want of an ``exec()``'s output:
    every ``${...}`` must read; those that call no ``exec()`` must evaluate."""
    try:
        for part in template(value):
            if isinstance(part, str):
                continue
            tree = parse_expr(part[0])
            if not _calls_exec(tree):
                evaluate(tree, part[0], env, directory)
    except InterpError as e:
        return str(e)
    except RecursionError:
        return "this `${...}` is nested too deeply to read"
    return None
