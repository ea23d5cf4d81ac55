"""How config values are spelled back to the user, in messages and in strings.

``show`` quotes a value for a message, ``stringify`` turns a value into the
text an interpolation or an ``env`` entry gets (HCL's ``true``/``false``,
JSON for lists and maps), ``did_you_mean`` suggests the closest known word.
Pure functions.
"""

from __future__ import annotations

import difflib
import json
import keyword
import re
import unicodedata
from typing import Any


def show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"%s"' % (value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, dict):
        return "a block"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def stringify(value: Any) -> str:
    """A config value as text: HCL spellings for booleans, JSON for lists and maps."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def hcl_literal(value: Any) -> str:
    """``value`` as it would be written in the file."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict, str)):
        return json.dumps(value)
    return repr(value)


def did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return " (did you mean `%s`?)" % close[0] if close else ""


def fixed_name(name: str) -> str:
    """``name`` made into a Python identifier, for the "rename it, e.g. ..." of a message."""
    s = re.sub(r"\W", "_", unicodedata.normalize("NFKC", name)) or "_"
    if s[0].isdigit():
        s = "_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s


def os_reason(e: BaseException) -> str:
    return getattr(e, "strerror", None) or str(e) or type(e).__name__
