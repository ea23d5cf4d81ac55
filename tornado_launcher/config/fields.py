"""Typed readers for one key of a block, each reporting its own error.

:class:`Fields` reads a key as a string, a boolean (Jaffle's ``"true"`` too),
a list of strings, seconds, a nested block or a regular expression, checks
that code compiles (reporting the error at its line inside the file), and
refuses unknown keys with the closest valid one.  A reader that refuses a
value reports it and returns ``MISSING`` (or the default), so one mistake is
reported once and does not cascade.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Dict, Optional

from .model import MISSING
from .positions import Reporter
from .text import did_you_mean, show, stringify

#: an environment variable's name
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


#: the longest a delay in seconds (debounce, throttle, drain_timeout, ...) may be
MAX_SECONDS = 3600


class Fields:
    """Readers over a :class:`~.positions.Reporter`.

    ``skip_paths`` are key paths whose value is not to be read (a key set
    twice in one file, an interpolation that failed: reported already);
    ``interpolated`` are those whose text came from ``${...}`` (their code
    positions no longer match the file).
    """

    def __init__(self, report: Reporter, skip_paths: Optional[set] = None, interpolated: Optional[set] = None) -> None:
        self.report = report
        self.skip_paths = skip_paths if skip_paths is not None else set()
        self.interpolated = interpolated if interpolated is not None else set()

    def keys(
        self, body: dict, path: tuple, known: tuple, what: str, ignored: tuple = (), lenient: bool = False
    ) -> None:
        """Unknown keys are errors (warnings when ``lenient``); ``ignored`` ones warn."""
        for key in body:
            if key in known:
                continue
            if key in ignored:
                self.report.warn(
                    path + (key,),
                    "`%s` in %s is a Jaffle setting tornado-launcher does not use: ignored" % (key, what),
                )
                continue
            msg = "unknown key `%s` in %s%s; valid keys: %s" % (
                key,
                what,
                did_you_mean(key, known),
                ", ".join(k for k in known),
            )
            (self.report.warn if lenient else self.report.error)(path + (key,), msg)

    def get(self, body: dict, path: tuple, key: str) -> Any:
        if key not in body or path + (key,) in self.skip_paths:
            return MISSING
        return body[key]

    def string(self, body: dict, path: tuple, key: str, what: str) -> Any:
        v = self.get(body, path, key)
        if v is MISSING:
            return v
        if not isinstance(v, str):
            self.report.error(
                path + (key,), "`%s` %s must be a string in quotes, not %s" % (key, what, show(v)), "value"
            )
            return MISSING
        return v

    def integer(self, body: dict, path: tuple, key: str, low: int, high: int, example: str) -> Any:
        """An integer from ``low`` to ``high`` (a bool or a float is not one); MISSING if absent or wrong."""
        v = self.get(body, path, key)
        if v is MISSING:
            return v
        if isinstance(v, str) and v.strip().isdigit():
            v = int(v.strip())  # "${PORT}" interpolates to a string
        if isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high:
            self.report.error(
                path + (key,),
                "`%s` must be a whole number from %d to %d such as `%s = %s`, not %s"
                % (key, low, high, key, example, show(v)),
                "value",
            )
            return MISSING
        return v

    def boolean(self, body: dict, path: tuple, key: str, default: bool) -> bool:
        v = self.get(body, path, key)
        if v is MISSING:
            return default
        if isinstance(v, bool):
            return v
        # Jaffle reads these strings as booleans (they come from ${var.x}).
        if isinstance(v, str) and v.strip().lower() in ("true", "1", "false", "0"):
            return v.strip().lower() in ("true", "1")
        self.report.error(path + (key,), "`%s` must be true or false, not %s" % (key, show(v)), "value")
        return default

    def strings(self, body: dict, path: tuple, key: str, example: str) -> Any:
        v = self.get(body, path, key)
        if v is MISSING:
            return v
        if not isinstance(v, list):
            self.report.error(
                path + (key,),
                "`%s` must be a list of strings, not %s: write `%s = %s`" % (key, show(v), key, example),
                "value",
            )
            return MISSING
        out, ok = [], True
        for i, item in enumerate(v):
            if isinstance(item, str):
                out.append(item)
            else:
                ok = False
                self.report.error(
                    path + (key, i),
                    "`%s` must hold only strings in quotes, not %s" % (key, show(item)),
                    "value",
                )
        return out if ok else MISSING

    def seconds(self, body: dict, path: tuple, key: str) -> Optional[float]:
        v = self.get(body, path, key)
        if v is MISSING:
            return None
        if isinstance(v, str):
            try:
                v = float(v)
            except ValueError:
                pass
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v < 0:
            self.report.error(
                path + (key,),
                "`%s` must be a number of seconds >= 0, e.g. 0.5, not %s" % (key, show(v)),
                "value",
            )
            return None
        if float(v) > MAX_SECONDS:  # also inf (1e309): a save would then never reload, silently
            self.report.error(
                path + (key,),
                "`%s` = %s is more than %d seconds (an hour): nothing would happen for that long; "
                "use a few seconds at most, e.g. 0.5" % (key, "infinity" if v == float("inf") else show(v),
                                                           MAX_SECONDS),
                "value",
            )
            return None
        return float(v)

    def environment(self, body: dict, path: tuple, example: str) -> Dict[str, str]:
        """An ``env { NAME = "value" }`` block: names checked, values strings (numbers, bools spelled)."""
        out: Dict[str, str] = {}
        env = self.block(body, path, "env", example)
        if env is MISSING:
            return out
        for key, value in env.items():
            kp = path + ("env", key)
            if kp in self.skip_paths:
                continue
            if not ENV_NAME.match(str(key)):
                self.report.error(
                    kp,
                    "`env` name %s is not an environment variable name "
                    "(letters, digits and `_`, not starting with a digit)" % show(str(key)),
                )
            elif isinstance(value, (dict, list)) or value is None:
                self.report.error(
                    kp,
                    '`env` values are strings, numbers or true/false, not %s: `%s = "..."`'
                    % (show(value), key),
                    "value",
                )
            else:
                out[str(key)] = stringify(value)
        return out

    def block(self, body: dict, path: tuple, key: str, example: str) -> Any:
        v = body.get(key, MISSING)
        if v is MISSING:
            return v
        if not isinstance(v, dict):
            self.report.error(path + (key,), "`%s` must be a block: %s" % (key, example), "key")
            return MISSING
        return v

    def regex(self, pattern: str, path: tuple) -> Optional["re.Pattern[str]"]:
        try:
            return re.compile(pattern)
        except (re.error, RecursionError, OverflowError) as e:
            self.report.error(path, "regular expression %s does not compile: %s" % (show(pattern), e), "value")
            return None

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
            self.report.error(path, "%s cannot be compiled: %s" % (what, e), "value")

    def code_error(self, path: tuple, code: str, what: str, e: SyntaxError) -> None:
        file_index = self.report.index_of(path)
        pos = self.report.sources[file_index].pos
        loc = pos.locs.get(tuple(path)) if pos is not None else None
        msg = "%s does not compile: %s" % (what, e.msg)
        if loc is None or loc.text_start < 0 or not e.lineno or tuple(path) in self.interpolated:
            self.report.error(path, msg, "value")
            return
        lines = code.split("\n")
        lineno = min(max(e.lineno, 1), len(lines))
        index = sum(len(l) + 1 for l in lines[: lineno - 1]) + max((e.offset or 1) - 1, 0)
        index = min(index, len(code))
        offset = loc.offset_in_value(index)
        if offset is None:
            self.report.error(path, msg, "value")
        else:
            self.report.error_at(offset, msg, src=file_index)
