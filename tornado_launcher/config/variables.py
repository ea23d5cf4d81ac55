"""``variable`` blocks and the values given for them.

A variable is typed by its ``default`` (or its ``type``); a value given as
``J_VAR_<name>`` in the environment, then through ``--variables NAME=VALUE``
(:func:`parse_variables`), overrides the default and is converted to the
variable's type.  The result feeds :class:`~.interpolate.Environment`.
"""

from __future__ import annotations

import json
import os
import re
from typing import TYPE_CHECKING, Any, Dict, Mapping, Sequence, Union

from .model import MISSING, ConfigError, Diagnostic
from .source import pyhcl_loads
from .text import did_you_mean, hcl_literal, show, stringify

if TYPE_CHECKING:
    from .fields import Fields

_VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*\Z")
_VARIABLE_KEYS = ("default", "type", "description")


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
                "%s has no `=`: write --variables NAME=VALUE, e.g. --variables threaded=true" % show(item)
            )
        elif not _VAR_NAME.match(name):
            problems.append(
                "%s: %s is not a variable name (letters, digits, `_` and `-`, not starting with a digit): "
                "write --variables NAME=VALUE" % (show(item), show(name))
            )
        else:
            out[name] = value
    if problems:
        raise ConfigError([Diagnostic("--variables", 0, 0, p) for p in problems])
    return out


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


def type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "map"
    return "string"


def coerce(text: Any, vtype: str) -> Any:
    """A variable's value given as text (env, --variables) -> its type; ValueError if it is not one."""
    if vtype != "string" and type_of(text) == vtype and not isinstance(text, str):
        return text  # given typed by a program
    if vtype == "string":
        return stringify(text)
    s = stringify(text).strip()
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
            value = pyhcl_loads("v = " + s).get("v")
        except Exception:
            raise ValueError(s) from None
    if not isinstance(value, want):
        raise ValueError(s)
    return value


def read_variables(raw: Any, fields: "Fields", overrides: Mapping[str, Any]) -> Dict[str, Any]:
    """``variable "name" { default = ... }``, typed by its default (or ``type``).

    Values given as ``J_VAR_name`` environment variables, then as the
    ``variables`` argument (the CLI's ``--variables``), override the
    default; they are strings, converted to the variable's type.  Returns
    name -> value (``MISSING`` for a variable with no value); problems go to
    ``fields.report``.
    """
    variables: Dict[str, Any] = {}
    raw = raw if isinstance(raw, dict) else {}
    for name, body in raw.items():
        name = str(name)
        path = ("variable", name)
        if not isinstance(body, dict):
            variables[name] = MISSING
            continue
        fields.keys(body, path, _VARIABLE_KEYS, 'variable "%s"' % name, lenient=True)
        default = body.get("default", MISSING)
        if isinstance(default, str) and "${" in default:  # not evaluated: it would reach the apps as text
            fields.report.error(
                path + ("default",),
                "the `default` of variable `%s` is %s, but a variable's default is not interpolated (the apps "
                "would get this text as written): write the value itself, and set it from outside with "
                "J_VAR_%s=... or --variables %s=..., or write the `${...}` where the value is used"
                % (name, hcl_literal(default), name, name),
                "value",
            )
            default = MISSING
        vtype = variable_type(fields, name, body, default, path)
        value = default
        given = [("the environment variable J_VAR_%s" % name, os.environ.get("J_VAR_%s" % name))]
        given.append(("--variables %s=..." % name, overrides.get(name)))
        for source, text in given:
            if text is None:
                continue
            try:
                value = coerce(text, vtype)
            except ValueError:
                where = path + ("default",) if "default" in body else path
                fields.report.error(
                    where,
                    "variable `%s` is %s%s, but %s gives %s: %s"
                    % (
                        name,
                        _TYPE_WORDS[vtype][0],
                        "" if default is MISSING else " (its default is %s)" % hcl_literal(default),
                        source,
                        show(str(text)),
                        _TYPE_WORDS[vtype][1],
                    ),
                    "value" if "default" in body else "label",
                )
                value = default
                break
        variables[name] = value
    for name in overrides:
        if name not in raw:
            fields.report.file_diagnostic(
                '--variables gives `%s`, which no `variable` block defines%s: add `variable "%s" '
                "{ default = ... }` to the file, or drop it" % (name, did_you_mean(name, raw), name)
            )
    return variables


def variable_type(fields: "Fields", name: str, body: dict, default: Any, path: tuple) -> str:
    declared = body.get("type", MISSING)
    vtype = type_of(default) if default is not MISSING else "string"
    if declared is MISSING:
        return vtype
    t = _TYPE_NAMES.get(str(declared).lower()) if isinstance(declared, str) else None
    if t is None:
        fields.report.error(
            path + ("type",),
            "`type` of variable `%s` must be one of %s, not %s"
            % (name, ", ".join(sorted(set(_TYPE_NAMES))), show(declared)),
            "value",
        )
        return vtype
    if default is not MISSING and t != vtype and not (t == "number" and vtype == "number"):
        fields.report.error(
            path + ("default",),
            "the `default` of variable `%s` is %s, but its `type` says %s: make them agree"
            % (name, _TYPE_WORDS[vtype][0], _TYPE_WORDS[t][0]),
            "value",
        )
    return t
