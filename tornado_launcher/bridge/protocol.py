"""What the launcher and the in-kernel bridge must agree on, in one place.

This module is imported by the launcher (``kernel.py``, ``config``, the
session) *and* shipped into every kernel as part of the bridge's source, so it
uses only the standard library and imports nothing of the launcher.

It holds the comm target, the module name the bridge lives under in the
kernel, the log levels, the rule for app names, and the log line rules
(``suppress_regex`` / ``replace_regex``) that both sides apply.
"""

import keyword
import re

#: bumped when a record's fields or a cell's entry point change meaning
BRIDGE_VERSION = 1
#: target name of the comm the bridge opens in the kernel
COMM_TARGET = "tornado_launcher.events"
#: the name the bridge is registered under in the kernel's ``sys.modules``
MODULE_NAME = "tornado_launcher_bridge"

#: log level names and numbers (those of :mod:`logging`)
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
LEVEL_NAMES = tuple(LEVELS)


def level_number(name, default=20):
    """The number of level ``name`` (``"INFO"`` -> 20); ``default`` for an unknown name."""
    return LEVELS.get(name, default)


def is_identifier(name):
    """True if ``name`` can be a variable in the kernel: an identifier, not a keyword."""
    return isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)


def validate_name(name):
    """Return ``name`` if it can name an app in the kernel, else raise ValueError with the fix."""
    if not is_identifier(name):
        raise ValueError(
            "app name %r is not a Python identifier: use letters, digits and '_' "
            "and do not start with a digit" % (name,))
    return name


class LineFilter:
    """A logger block's ``suppress_regex`` and ``replace_regex`` applied to one line.

    ``suppress``: patterns; a line any of them matches is dropped.
    ``replace``: ``(pattern, replacement)`` pairs applied in order; only the
    matched part is rewritten.  A replacement that fails on a line (a group
    it names is missing) leaves that line as it was.
    """

    __slots__ = ("suppress", "replace")

    def __init__(self, suppress=(), replace=()):
        self.suppress = [re.compile(p) for p in suppress]
        self.replace = [(re.compile(a), b) for a, b in replace]

    def __bool__(self):
        return bool(self.suppress or self.replace)

    def apply(self, line):
        """The line as it should be shown, or None when it is suppressed."""
        for pattern in self.suppress:
            if pattern.search(line):
                return None
        for pattern, to in self.replace:
            try:
                line = pattern.sub(to, line)
            except (re.error, IndexError):
                pass
        return line
