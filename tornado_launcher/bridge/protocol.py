"""What the launcher and the in-kernel bridge must agree on, in one place.

This module is imported by the launcher (``kernels/connection.py``, ``config``, the
session) *and* shipped into every kernel as part of the bridge's source, so it
uses only the standard library and imports nothing of the launcher.

It holds the comm target, the module name the bridge lives under in the
kernel, the record kinds and their fields (with the encoders the kernel side
uses and the decoder ``kernels/connection.py`` uses), the log levels, the rule for app
names, and the log line rules (``suppress_regex`` / ``replace_regex``) that
both sides apply.

Records travel on the comm :data:`COMM_TARGET`: its ``comm_open`` and every
``comm_msg`` carry ``content["data"] == {"events": [record, ...]}`` (see
:func:`batch`), in order.  Attribute by the data, never by the message's
parent header (that is whatever cell ran last).  The kinds::

    {"type": "hello", "pid": int, "python": str, "tornado": str, "kernel": str,
     "bridge": int, "project_dir": str,                      # at install (in comm_open)
     "commands": str | None}   # the comm id (this comm's) that takes commands, see below
    {"type": "log", "app": str | None, "level": "INFO", "logger": "tornado.access",
     "message": str, "time": float, "traceback": str | None,
     "origin": "bridge" | "stdout" | "stderr"}
    {"type": "state", "app": str, "state": "stopped|starting|running|stopping|failed",
     "reason": str | None, "elapsed_ms": float | None, "urls": [str], "threaded": bool,
     "template_paths": [str], "static_paths": [str],   # absolute dirs, when running
     "reload": None | {"reimported": int, "modules": [str], "purged": int,
                       "mode": "dependents" | "all", "note": str | None}}

    {"type": "hang", "loop": "<kernel>" | app name, "apps": [str], "blocked": bool,
     "seconds": float, "where": str | None}   # a loop stopped beating / beats again

``app`` None in a log record is the kernel's own log.  A ``hang`` record
with ``blocked`` true says the loop ``loop`` (:data:`KERNEL_LOOP` for the
kernel's own, else a threaded app's) has not run for ``seconds`` and is stuck
at ``where`` (``"pkg/mod.py:31 in get"``); ``apps`` are the apps held up.
The next one for that loop, ``blocked`` false, says it ran again after
``seconds`` (``where``: why, when it ended instead).

Also: a ``state`` record carries ``public_ports`` (the ports of ``urls`` bound beyond loopback,
for a remote kernel's URLs) and, after a hot patch, ``reload = {"kind": "patched", "patched":
[names], "files"}``; ``{"type": "files", "handler", "changes": [[event_type, src, dest,
is_dir]], "errors": [[path, line, message]]}`` is the in-kernel watcher's (``remote_files``).
The kernel side encodes with ``hello_record`` / ``log_record`` / ``state_record`` / ``batch``;
``kernels/connection.py`` decodes with ``decode`` (defaults for missing fields, unknown kinds
dropped); ``engine.events.LEVELS`` is ``LEVELS``.

Commands go the other way on the same comm (a ``comm_msg`` from the launcher to the
hello's ``commands`` id): ``{"call": {"name": app, "method": str, "args": [...]}}``
calls a public method of an app, as a cell ``<app>.<method>(*args)`` would, without
ipykernel's execute path (a cell costs the kernel's loop ~2 ms before and after the
call; a comm message ~0.3 ms): the launcher's reloads (:func:`call_record`).  A
command has no reply: its effect is the app's next state record.  One that fails is
said in the app's log.
"""

import builtins
import keyword
import os
import re
import unicodedata

#: bumped when a record's fields or a cell's entry point change meaning
BRIDGE_VERSION = 1
#: the oldest Python the bridge runs on (the launcher's own floor, pyproject's requires-python)
MIN_PYTHON = (3, 10)
#: how an install cell that refuses (Python too old, no tornado, another bridge) starts its sentence
INSTALL_REFUSED = "tornado-launcher bridge:"
#: target name of the comm the bridge opens in the kernel
COMM_TARGET = "tornado_launcher.events"
#: target name of the comm that relays TCP connections to apps on the kernel's machine (``kernelside.tunnel``)
TUNNEL_TARGET = "tornado_launcher.tunnel"
#: target name of the comm that writes the project's files in a kernel elsewhere (``kernelside.files``)
FILES_TARGET = "tornado_launcher.files"
#: the name the bridge is registered under in the kernel's ``sys.modules``
MODULE_NAME = "tornado_launcher_bridge"

#: record kinds and the fields each carries besides "type"
HELLO = "hello"
LOG = "log"
STATE = "state"
HANG = "hang"
#: the ``loop`` of a hang record about the kernel's own loop (not an app name: those are identifiers)
KERNEL_LOOP = "<kernel>"
#: file changes seen by a watcher running in the kernel (``remote_files``), compile-checked there
FILES = "files"
FIELDS = {
    HELLO: ("pid", "python", "tornado", "kernel", "bridge", "project_dir", "commands"),
    LOG: ("app", "level", "logger", "message", "time", "traceback", "origin"),
    STATE: ("app", "state", "reason", "elapsed_ms", "urls", "threaded", "template_paths", "static_paths",
            "reload", "public_ports"),
    HANG: ("loop", "apps", "blocked", "seconds", "where"),
    FILES: ("handler", "changes", "errors"),
}
#: the states an app reports; "starting" and "stopping" are transitional
APP_STATES = ("stopped", "starting", "running", "stopping", "failed")
SETTLED_STATES = ("stopped", "running", "failed")
#: the ``reason`` of a "running" state record starts with this when a restart's new code did
#: not start and the previous run keeps serving ("serving old code"); then ``file:line: message``
OLD_CODE = "serving old code: "


def serves_old_code(state, reason):
    """Whether a state record says: running, but the previous code (the new one did not start)."""
    return state == "running" and isinstance(reason, str) and reason.startswith(OLD_CODE)
#: where a log record came from in the kernel
ORIGINS = ("bridge", "stdout", "stderr")

#: log level names and numbers (those of :mod:`logging`)
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
LEVEL_NAMES = tuple(LEVELS)


def level_number(name, default=20):
    """The number of level ``name`` (``"INFO"`` -> 20); ``default`` for an unknown name."""
    return LEVELS.get(name, default)


def is_identifier(name):
    """True if ``name`` can be a variable in the kernel: an identifier, not a keyword, and
    spelled as Python reads it (NFKC-normalised: Python reads ``ﬁx`` as ``fix``)."""
    return (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)
            and unicodedata.normalize("NFKC", name) == name)


def parse_entry_path(text):
    """``"pkg.mod:func"`` / ``"pkg.mod.func"`` -> ``(module, attribute path, explicit)``, None if
    malformed: the one rule for an app's ``main`` (and ``app_class`` with ``port``).

    ``explicit`` is True for the ``:`` form (no guessing where the module ends).
    """
    if not isinstance(text, str) or not text.strip():
        return None
    text = text.strip()
    if ":" in text:
        module, _, attr = text.partition(":")
        explicit = True
    else:
        module, _, attr = text.rpartition(".")
        explicit = False
    parts = module.split(".") + attr.split(".")
    if not module or not attr or not all(is_identifier(p) for p in parts):
        return None
    return module, attr, explicit


#: an app or kernel name is at most this long (it prefixes every log line)
MAX_NAME_LENGTH = 64
#: names IPython puts in the kernel's namespace; an app named so would replace them
_IPYTHON_NAMES = frozenset(("In", "Out", "get_ipython", "exit", "quit", "display"))
_IPYTHON_PRIVATE = re.compile(r"_+|_i+|_i?\d+|_(?:ih|oh|dh|ii|iii)")


def reserved_name(name):
    """Why ``name`` (an identifier) cannot name an app, or None: too long, or it would shadow
    something of the kernel's namespace (a dunder like ``__builtins__``, a builtin, IPython's names)."""
    if len(name) > MAX_NAME_LENGTH:
        return "is %d characters long; a name is at most %d" % (len(name), MAX_NAME_LENGTH)
    if name.startswith("__") and name.endswith("__"):
        return "is a dunder name: as a variable in the kernel it would replace Python's own %s" % name
    if name in dir(builtins) or name in _IPYTHON_NAMES or _IPYTHON_PRIVATE.fullmatch(name):
        return "would shadow the kernel's %r (a builtin or IPython's own)" % name
    return None


def validate_name(name):
    """Return ``name`` if it can name an app in the kernel, else raise ValueError with the fix."""
    if is_identifier(name) and reserved_name(name):
        raise ValueError("app name %r %s: rename it" % (name[:80], reserved_name(name)))
    if not is_identifier(name):
        normal = unicodedata.normalize("NFKC", name) if isinstance(name, str) else name
        if normal != name and is_identifier(normal):
            raise ValueError("app name %r is not how Python spells it: Python reads it as %r (NFKC): "
                             "rename it %r" % (name, normal, normal))
        raise ValueError(
            "app name %r is not a Python identifier: use letters, digits and '_' "
            "and do not start with a digit" % (name,))
    return name


#: Directories that hold no project code, whatever they contain: dependencies,
#: caches and build output.  The import hook keeps the ``.pyc`` cache for
#: modules under them, ``clear_cache``'s default skips them, and the watcher
#: never looks inside.  A directory holding ``pyvenv.cfg`` (a virtualenv,
#: whatever its name) counts too: see :func:`is_project_dir`.
NON_PROJECT_DIRS = frozenset({
    "__pycache__", "site-packages", "dist-packages", "__pypackages__",
    "node_modules", ".venv", "venv", "build", "dist",
})


def is_project_dir(path):
    """False for a directory that holds no project code (:data:`NON_PROJECT_DIRS`, a virtualenv)."""
    return (os.path.basename(os.path.normpath(path)) not in NON_PROJECT_DIRS
            and not os.path.isfile(os.path.join(path, "pyvenv.cfg")))


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


# ---------------------------------------------------------------------------
# records: encoders (kernel side) and the decoder (launcher side)


def hello_record(pid, python, tornado, kernel, project_dir, commands=None):
    """The record the bridge sends at install: who is on the other end; ``commands``: the
    id of the comm that takes commands (:func:`call_record`), None when it takes none."""
    return {"type": HELLO, "pid": pid, "python": python, "tornado": tornado, "kernel": kernel,
            "bridge": BRIDGE_VERSION, "project_dir": project_dir, "commands": commands}


def call_record(name, method, *args):
    """A command (the ``data`` of a ``comm_msg`` to the hello's ``commands`` comm): call
    ``<name>.<method>(*args)`` in the kernel, args as JSON data."""
    validate_name(name)
    if not isinstance(method, str) or not method.isidentifier() or method.startswith("_"):
        raise ValueError("%r is not a public method name" % (method,))
    return {"call": {"name": name, "method": method, "args": list(args)}}


def log_record(app, level, message, logger, time, traceback=None, origin="bridge"):
    """One log line (or multi-line record); ``app`` None for the kernel's own log."""
    return {"type": LOG, "app": app, "level": level, "logger": logger, "message": message,
            "time": time, "traceback": traceback, "origin": origin}


#: at most this many module names travel in a state record's ``reload["modules"]``
RELOAD_MODULES_SHOWN = 30


def state_record(app, state, reason=None, elapsed_ms=None, urls=(), threaded=False,
                 template_paths=(), static_paths=(), reload=None, public_ports=()):
    """An app's state; every command on an app ends in one, even when it changed nothing.
    ``template_paths`` / ``static_paths``: where a running app's templates and static
    files are (the launcher watches them).  ``public_ports``: the ports of ``urls`` bound
    beyond loopback (the launcher shows a remote kernel's URLs with its host).

    ``reload`` (with "running" after a start): what the start re-imported:
    ``reimported`` (how many project modules were executed), ``modules``
    (their names, the first :data:`RELOAD_MODULES_SHOWN`), ``purged`` (how many
    modules were dropped before it), ``mode`` ("dependents": the changed
    modules and their importers; "all": every project module or
    ``clear_cache``) and ``note`` (why a partial reload became a full one);
    ``kind``: "patched" (``reload = "patch"`` applied the change in place: ``patched``
    names the functions, ``files`` the modules; nothing was re-imported) or
    "reloaded" (``fallback``: why a ``"patch"`` app reloaded instead, else None).
    """
    return {"type": STATE, "app": app, "state": state, "reason": reason,
            "elapsed_ms": elapsed_ms, "urls": list(urls), "threaded": threaded,
            "template_paths": list(template_paths), "static_paths": list(static_paths), "reload": reload,
            "public_ports": list(public_ports)}


def hang_record(loop, apps, blocked, seconds, where=None):
    """Loop ``loop`` is blocked (``blocked``) at ``where`` for ``seconds``, or runs again after ``seconds``."""
    return {"type": HANG, "loop": loop, "apps": list(apps), "blocked": bool(blocked),
            "seconds": seconds, "where": where}


def files_record(handler, changes, errors=()):
    """One batch of file changes of watch handler ``handler`` (an index the launcher gave):
    ``changes`` as ``[event_type, src_path, dest_path, is_directory]``, ``errors`` as
    ``[path, line, message]`` for the changed Python files that do not compile."""
    return {"type": FILES, "handler": handler, "changes": [list(c) for c in changes],
            "errors": [list(e) for e in errors]}


def batch(records):
    """The ``data`` of one comm message carrying ``records`` in order."""
    return {"events": records}


def decode(data):
    """The records in one comm message's ``data``, each a dict with every field of its kind.

    Missing or null fields get their defaults (level "INFO", message "",
    logger "", time 0.0, origin "bridge", state "stopped", urls ()); a state
    record without an app and a record of an unknown kind are left out.
    """
    out = []
    for rec in (data or {}).get("events", ()):
        kind = rec.get("type")
        if kind == LOG:
            out.append({"type": LOG, "app": rec.get("app"),
                        "level": str(rec.get("level", "INFO")).upper(),
                        "message": str(rec.get("message", "")), "logger": rec.get("logger") or "",
                        "time": rec.get("time") or 0.0, "traceback": rec.get("traceback"),
                        "origin": rec.get("origin") or "bridge"})
        elif kind == STATE and rec.get("app"):
            out.append({"type": STATE, "app": rec["app"], "state": rec.get("state", "stopped"),
                        "reason": rec.get("reason"), "elapsed_ms": rec.get("elapsed_ms"),
                        "urls": tuple(rec.get("urls") or ()), "threaded": bool(rec.get("threaded")),
                        "template_paths": tuple(rec.get("template_paths") or ()),
                        "static_paths": tuple(rec.get("static_paths") or ()),
                        "reload": rec.get("reload") if isinstance(rec.get("reload"), dict) else None,
                        "public_ports": tuple(p for p in rec.get("public_ports") or () if isinstance(p, int))})
        elif kind == HANG and rec.get("loop"):
            out.append({"type": HANG, "loop": rec["loop"], "apps": tuple(rec.get("apps") or ()),
                        "blocked": bool(rec.get("blocked")), "seconds": float(rec.get("seconds") or 0.0),
                        "where": rec.get("where")})
        elif kind == HELLO:
            out.append({"type": HELLO, **{k: rec.get(k) for k in FIELDS[HELLO]}})
        elif kind == FILES and isinstance(rec.get("handler"), int):
            changes = [(str(c[0]), str(c[1]), c[2] if c[2] is None else str(c[2]), bool(c[3]))
                       for c in rec.get("changes") or () if isinstance(c, list) and len(c) == 4]
            errors = [(str(e[0]), int(e[1] or 1), str(e[2]))
                      for e in rec.get("errors") or () if isinstance(e, list) and len(e) == 3]
            out.append({"type": FILES, "handler": rec["handler"], "changes": changes, "errors": errors})
    return out


def compile_errors(paths):
    """``[path, line, message]`` for each Python file in ``paths`` that does not compile.

    The one compile check of a save, on either side: the launcher runs it before
    a reload (in a worker thread, or on its loop when the files are a few KiB:
    ``engine.reload.INLINE_CHECK_BYTES``), a kernel that watches its own files
    runs it in its watcher thread.  A file deleted or unreadable
    since the event is skipped: the import will tell.
    """
    errors = []
    for path in paths:
        try:
            with open(path, "rb") as f:
                source = f.read()
        except OSError:
            continue
        try:
            compile(source, path, "exec", dont_inherit=True)
        except SyntaxError as e:
            errors.append([path, e.lineno or 1, e.msg or str(e)])
        except ValueError as e:  # null bytes
            errors.append([path, 1, str(e)])
    return errors
