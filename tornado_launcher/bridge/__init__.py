"""The launcher's side of the in-kernel bridge: the cells that install it and drive apps.

The bridge itself runs INSIDE the kernel: ``protocol.py`` and the modules of
``kernelside/`` next to this file are sent as source text (they are package
data in a PyInstaller bundle too), in the order of
``kernelside.MODULES``, and executed there as submodules of the package
``tornado_launcher_bridge``.  This module only builds cells, with the
standard library.  Every value from the config travels as a JSON string
literal (``repr(json.dumps(...))``) that the cell ``json.loads``; nothing the
user wrote is formatted into code.

Run each cell with ``store_history=False`` (they are plumbing, not the user's
history).  Records come back on the comm :data:`protocol.COMM_TARGET`, in the
formats :mod:`.protocol` defines and decodes, from one sender thread in the
kernel: log records are batched (one message per ~15 ms during a flood; the
first after a quiet spell goes at once), a settled state (``running``,
``failed``, ``stopped``) is sent at once with what is queued before it, and a
restart's transitional states ride along with its final one.

Printed lines become records only in an app's context; the rest stays
ordinary cell output.  Every command on an app
(start/stop/restart/handle_watchdog_event/set_threaded) ends in a state
record, even when it changed nothing, so a caller can wait for it.

Restarts and stops never drop a request the old app accepted: its listen
backlog is accepted before the socket closes, requests in flight are answered
by the old code, idle keep-alive connections are closed, and whatever still
runs 2 s later is cut off.  A restart starts the new app as soon as the old
port is free (the old app drains in the background); a stop's ``stopped``
comes after the drain.

The cells: ``install_cells(settings)`` install the bridge (idempotent), open the comm
``protocol.COMM_TARGET``, install log routing, the autoreload guard and the fresh-source import
hook for the project directory; ``create_app_code(name, kind, spec)`` binds ``name`` in the
kernel's namespace to a bridge app. App names are validated identifiers
(``protocol.validate_name``, the one rule both sides apply), so the only user text in these
cells is data; the ``start`` code of an app block is user code and runs as written.

How the kernel side is shipped: the sources are the real files ``bridge/protocol.py`` and
``bridge/kernelside/*.py``, carried as one zlib-compressed JSON list ``[name, is_package,
source]`` in the order of ``kernelside.MODULES`` (protocol first); each is executed as a real
module object registered in ``sys.modules`` under ``tornado_launcher_bridge``, with its own
``linecache`` entry so tracebacks show the right file and line. The modules import each other
relatively, so the same text imports unchanged in the launcher: each module can be read and
tested on its own, and there is no second copy (one namespace was rejected: the modules' globals
would clash and nothing would show which module uses which). The package exposes
``api.EXPORTS``, all the cells call. The packed sources travel in as many cells as
``CELL_BUDGET`` (48,000 characters) needs: each cell stays under 64 KiB, where pyzmq would send
zero-copy and start a GC thread in both processes (asserted in
``test_bridge.py::test_cells_carry_values_as_data``); all but the last cell put their part in
the kernel variable ``__tornado_launcher_parts`` (the first anew), the last joins them, removes
the variable and installs (``test_session.py`` starts a session with a small budget, so the
split path runs for real). ``source(name)`` / ``sources()`` read the files from a source tree, a
wheel or the PyInstaller bundle (``launcher.spec`` collects them as data;
``tests/e2e/test_frozen_spec.py`` reads them back from the spec's layout).

The install cell checks the far side first (one sentence each, prefixed
``protocol.INSTALL_REFUSED``, shown by the session as is): Python older than
``protocol.MIN_PYTHON``, no ``tornado`` in the kernel's Python, or a bridge of another
``BRIDGE_VERSION`` already installed in the kernel (an attached kernel outlives launchers:
"restart the kernel, so that this launcher installs its own").
"""

from __future__ import annotations

import json
import os
import sys

from . import protocol
from .kernelside import MODULES
from .protocol import COMM_TARGET, MODULE_NAME, validate_name

__all__ = ["COMM_TARGET", "MODULE_NAME", "source", "sources", "install_cells", "create_app_code", "call_code",
           "purge_code", "refresh_assets_code", "report_problem_code", "watch_code", "validate_name"]

KINDS = ("tornado", "watchdog")

_source_cache: dict[str, str] = {}


def _relpath(name: str) -> list[str]:
    """``"kernelside.records"`` -> ``["kernelside", "records.py"]``; a package -> its ``__init__.py``."""
    parts = name.split(".")
    if name in _PACKAGES:
        return parts + ["__init__.py"]
    return parts[:-1] + [parts[-1] + ".py"]


_PACKAGES = ("kernelside",)


def source(name: str = "kernelside") -> str:
    """The text of one shipped module (``"protocol"``, ``"kernelside.api"``, ...), from a
    source tree, a wheel, or a PyInstaller bundle (which collects them as data)."""
    cached = _source_cache.get(name)
    if cached is not None:
        return cached
    rel = _relpath(name)
    text = None
    try:
        from importlib.resources import files

        text = files(__name__).joinpath(*rel).read_text(encoding="utf-8")
    except Exception:
        candidates = [os.path.join(os.path.dirname(os.path.abspath(__file__)), *rel)]
        meipass = getattr(sys, "_MEIPASS", None)
        if meipass:
            candidates.append(os.path.join(meipass, "tornado_launcher", "bridge", *rel))
        for path in candidates:
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                break
    if text is None:
        raise FileNotFoundError(
            f"tornado_launcher/bridge/{'/'.join(rel)} is missing from this installation: "
            "reinstall tornado-launcher (a PyInstaller build must collect it as data)")
    _source_cache[name] = text
    return text


def sources() -> list[tuple[str, bool, str]]:
    """``(name, is_package, text)`` of every module the install cell ships, in execution order."""
    return [(name, name in _PACKAGES, source(name)) for name in MODULES]


def _literal(value) -> str:
    """A Python string literal holding ``value`` as JSON."""
    return repr(json.dumps(value))


_INSTALL_TEMPLATE = '''\
def __tornado_launcher_install(settings_json, packed):
    import base64, json, linecache, sys, types, zlib
    if sys.version_info < %(min_python)r:
        raise RuntimeError("%(prefix)s this kernel runs Python %%s at %%s, the bridge needs %(min_python_text)s or "
                           "newer: run the kernel with a newer Python" %% (sys.version.split()[0], sys.executable))
    try:
        import tornado
    except ImportError:
        raise RuntimeError("%(prefix)s this kernel's Python (%%s) has no tornado: run `%%s -m pip install "
                           "tornado` where the kernel runs, then restart it"
                           %% (sys.executable, sys.executable)) from None
    mod = sys.modules.get("tornado_launcher_bridge")
    if mod is None or not hasattr(mod, "install"):
        modules = json.loads(zlib.decompress(base64.b64decode(packed)).decode("utf-8"))
        mod = types.ModuleType("tornado_launcher_bridge")
        mod.__file__ = "<tornado-launcher bridge>"
        mod.__path__ = []
        mod.__package__ = "tornado_launcher_bridge"
        sys.modules["tornado_launcher_bridge"] = mod
        try:
            for name, is_package, source in modules:
                full = "tornado_launcher_bridge." + name
                parent, _, leaf = full.rpartition(".")
                filename = "<tornado-launcher bridge: %%s>" %% name
                linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
                sub = types.ModuleType(full)
                sub.__file__ = filename
                sub.__package__ = full if is_package else parent
                if is_package:
                    sub.__path__ = []
                sys.modules[full] = sub
                setattr(sys.modules[parent], leaf, sub)
                exec(compile(source, filename, "exec"), sub.__dict__)
            api = sys.modules["tornado_launcher_bridge.kernelside.api"]
            for name in api.EXPORTS:
                setattr(mod, name, getattr(api, name))
        except BaseException:
            for name in [n for n in sys.modules if n.split(".")[0] == "tornado_launcher_bridge"]:
                del sys.modules[name]
            raise
    have = getattr(sys.modules.get("tornado_launcher_bridge.protocol"), "BRIDGE_VERSION", None)
    if have != %(version)d:
        raise RuntimeError("%(prefix)s this kernel already runs the bridge of another tornado-launcher version "
                           "(bridge %%s, this launcher's is %(version)d): restart the kernel, so that this "
                           "launcher installs its own" %% (have,))
    mod.install(json.loads(settings_json))
try:
    __tornado_launcher_install(%(settings)s, %(source)s)
finally:
    del __tornado_launcher_install
'''

_PRELUDE = '''\
import sys as __tornado_launcher_sys
try:
    __tornado_launcher_bridge = __tornado_launcher_sys.modules["tornado_launcher_bridge"]
except KeyError:
    raise RuntimeError("the tornado-launcher bridge is not installed in this kernel") from None
finally:
    del __tornado_launcher_sys
try:
'''


#: characters of packed source one install cell carries: a cell stays well under
#: 64 KiB, the message size from which pyzmq sends zero-copy and starts a
#: garbage-collector thread (and its sockets) in the launcher and in the kernel
#: for the rest of their lives
CELL_BUDGET = 48_000

_PART = "__tornado_launcher_parts%s[%s]\n"


def install_cells(settings: dict) -> list[str]:
    """The cells that install the bridge (idempotent) with ``settings``, to run in order.

    ``settings``: ``{"kernel": "<kernel name>", "project_dir": "/abs/dir"}``.
    The install opens the comm; its ``comm_open`` data already holds the
    ``hello`` record.  A second install only updates the settings and sends
    ``hello`` again.  The packed source travels in as many cells as
    :data:`CELL_BUDGET` needs: all but the last put their part in the kernel
    variable ``__tornado_launcher_parts`` (the first one anew), the last
    joins them, removes the variable and installs.
    """
    settings = dict(settings)
    if settings.get("project_dir"):
        settings["project_dir"] = os.path.abspath(settings["project_dir"])
    packed = _packed_source()
    parts = [packed[i:i + CELL_BUDGET] for i in range(0, len(packed), CELL_BUDGET)] or [""]
    cells = [_PART % (" = " if i == 0 else " += ", repr(part)) for i, part in enumerate(parts[:-1])]
    joined = repr(parts[-1]) if len(parts) == 1 else \
        "''.join(globals().pop('__tornado_launcher_parts')) + %r" % parts[-1]
    cells.append(_INSTALL_TEMPLATE % {"settings": _literal(settings), "source": joined,
                                      "version": protocol.BRIDGE_VERSION, "prefix": protocol.INSTALL_REFUSED,
                                      "min_python": protocol.MIN_PYTHON,
                                      "min_python_text": ".".join(map(str, protocol.MIN_PYTHON))})
    return cells


def _packed_source() -> str:
    """``sources()`` as JSON, compressed, base64 (split over cells by :func:`install_cells`)."""
    import base64
    import zlib

    return base64.b64encode(zlib.compress(json.dumps(sources()).encode("utf-8"), 9)).decode("ascii")


def create_app_code(name: str, kind: str, spec: dict) -> str:
    """A cell binding ``name`` in the kernel's namespace to a new bridge app.

    ``kind``: "tornado" (TornadoBridgeApp) or "watchdog" (WatchdogApp);
    ``spec["class"]``: None, or the dotted path of a user's subclass.  An app
    of that name that is running is stopped first; the new one's commands
    wait for that stop.
    """
    validate_name(name)
    if kind not in KINDS:
        raise ValueError(f"unknown app kind {kind!r}: expected one of {', '.join(KINDS)}")
    payload = _literal({"name": name, "kind": kind, "spec": spec})
    return (_PRELUDE
            + f"    __tornado_launcher_bridge.create_app_from_json({payload}, globals())\n"
            + "finally:\n    del __tornado_launcher_bridge\n")


def purge_code(names) -> str:
    """A cell removing ``names`` and their submodules from the kernel's ``sys.modules``
    (a WatchdogApp handler's ``clear_cache``); the names travel as JSON data."""
    payload = _literal({"names": [str(n) for n in names]})
    return (_PRELUDE
            + f"    __tornado_launcher_bridge.purge_from_json({payload})\n"
            + "finally:\n    del __tornado_launcher_bridge\n")


def refresh_assets_code(name: str, paths) -> str:
    """A cell that makes app ``name`` serve the current ``paths`` (templates or static
    files it uses) on the next request, without a restart; paths travel as JSON data."""
    validate_name(name)
    payload = _literal({"name": name, "paths": [str(p) for p in paths]})
    return (_PRELUDE
            + f"    __tornado_launcher_bridge.refresh_assets_from_json({payload})\n"
            + "finally:\n    del __tornado_launcher_bridge\n")


def watch_code(handlers, backend=None) -> str:
    """A cell that makes the kernel watch ``handlers`` itself (``remote_files``), replacing
    what it watched; ``[]`` stops it.  Each handler: ``{"handler", "root", "patterns",
    "ignore_patterns", "case_sensitive", "ignore_directories"}``, as JSON data.
    ``backend``: None (watchdog if there, else a scan), "watchdog" or "scan"."""
    payload = _literal({"handlers": list(handlers), "backend": backend})
    return (_PRELUDE
            + f"    __tornado_launcher_bridge.watch_files_from_json({payload})\n"
            + "finally:\n    del __tornado_launcher_bridge\n")


def report_problem_code(name: str, problem: "str | None") -> str:
    """A cell telling app ``name``'s live-reload pages that its last save did not reload
    (``problem``: ``file:line: message``) or that this is over (None); both as JSON data."""
    validate_name(name)
    payload = _literal({"name": name, "problem": None if problem is None else str(problem)})
    return (_PRELUDE
            + f"    __tornado_launcher_bridge.report_problem_from_json({payload})\n"
            + "finally:\n    del __tornado_launcher_bridge\n")


def call_code(name: str, method: str, *args) -> str:
    """A cell calling ``<name>.<method>(*args)`` in the kernel, args as JSON data."""
    validate_name(name)
    if not isinstance(method, str) or not method.isidentifier() or method.startswith("_"):
        raise ValueError(f"{method!r} is not a public method name")
    payload = _literal({"name": name, "method": method, "args": list(args)})
    return (_PRELUDE
            + f"    __tornado_launcher_bridge.call_from_json({payload})\n"
            + "finally:\n    del __tornado_launcher_bridge\n")


def __getattr__(name):
    # ``from tornado_launcher.bridge import TornadoBridgeApp`` inside a kernel
    # (a user's subclass) gets the class of the running bridge.
    if name in ("TornadoBridgeApp", "WatchdogApp"):
        mod = sys.modules.get(MODULE_NAME)
        if mod is None:
            from .kernelside import api as mod  # not installed: a standalone copy
        return getattr(mod, name)
    raise AttributeError(name)
