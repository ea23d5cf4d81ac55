"""What the launcher's cells call in the kernel: :func:`install`, :func:`create_app_from_json`,
:func:`call_from_json`, :func:`purge_from_json`.  The install cell puts these
(and the app classes) on the package ``tornado_launcher_bridge`` itself.

Payloads are JSON text (``repr(json.dumps(...))`` in the cell): nothing the
user wrote is ever formatted into code.

Also ``refresh_assets_from_json``, ``report_problem_from_json``; and Jaffle's aliases, registered
at install, so code written for Jaffle (``jaffle.app.tornado.TornadoBridgeApp``) imports.
"""

import importlib.util
import json
import os
import sys
import types
import uuid

import tornado

from .. import protocol
from . import assets, attribution, files, filewatch, hang, imports, leftovers, live, patches, state, tunnel, zmqctx
from .apps import BridgeApp, WatchdogApp
from .records import emit, format_exc, log_record, one_line, outbox
from .tornado_app import TornadoBridgeApp

#: the names the install cell exports on ``tornado_launcher_bridge``
EXPORTS = ("install", "create_app", "create_app_from_json", "call", "call_from_json", "purge_from_json",
           "refresh_assets_from_json", "report_problem_from_json", "watch_files_from_json",
           "TornadoBridgeApp", "WatchdogApp")


def create_app(name, kind, spec, namespace=None):
    """Bind ``name`` in ``namespace`` to a new bridge app; a running one of that name is stopped first."""
    protocol.validate_name(name)
    spec = dict(spec or {})
    classes = {"tornado": TornadoBridgeApp, "watchdog": WatchdogApp}
    if kind not in classes:
        raise ValueError("unknown app kind %r (expected 'tornado' or 'watchdog')" % (kind,))
    cls = classes[kind]
    old = state.apps.get(name)
    if old is None and namespace is not None and isinstance(namespace.get(name), BridgeApp):
        old = namespace.get(name)
    try:
        if spec.get("class"):
            cls = imports.import_object(spec["class"])
            if not (isinstance(cls, type) and issubclass(cls, BridgeApp)):
                raise TypeError("%s is not a subclass of TornadoBridgeApp or WatchdogApp" % spec["class"])
        app = cls(name, spec)
    except Exception as exc:
        emit(log_record(name, "ERROR", "cannot create the app: %s" % one_line(exc), traceback_text=format_exc(exc)))
        emit(protocol.state_record(name, "failed", one_line(exc), None, (), bool(spec.get("threaded"))), True)
        raise
    if old is not None and old is not app:
        app._predecessor = old
        old._retire()
    state.apps[name] = app
    if namespace is not None:
        namespace[name] = app
    attribution.update_levels()
    if old is None or old.state in ("stopped", "failed"):
        app._set_state("stopped")
    return app


def create_app_from_json(payload, namespace=None):
    data = json.loads(payload)
    create_app(data["name"], data["kind"], data.get("spec") or {}, namespace)


def call(name, method, args=()):
    app = state.apps.get(name)
    if app is None:
        raise NameError("no tornado-launcher app named %r in this kernel" % (name,))
    if not isinstance(method, str) or not method.isidentifier() or method.startswith("_"):
        raise ValueError("%r is not a public method name" % (method,))
    getattr(app, method)(*args)


def call_from_json(payload):
    data = json.loads(payload)
    call(data["name"], data["method"], data.get("args") or [])


def purge_from_json(payload):
    """A WatchdogApp handler's ``clear_cache``: drop those modules (and submodules)."""
    return imports.purge_modules(json.loads(payload)["names"])


def watch_files_from_json(payload):
    """Watch the launcher's handlers here (``remote_files``): ``{"handlers": [...], "backend"}``;
    no handlers stops watching.  Returns the backend used ("watchdog", "scan" or None)."""
    data = json.loads(payload)
    return filewatch.watch(data.get("handlers") or [], data.get("backend"))


def refresh_assets_from_json(payload):
    """Templates or static files of a running app changed: forget Tornado's caches of
    them, so the next request reads the files (no restart).  ``{"name", "paths"}``."""
    data = json.loads(payload)
    app = state.apps.get(data["name"])
    run = getattr(app, "_run", None)
    if run is None:
        return None
    loaders, hashes = assets.forget(run, [str(p) for p in data.get("paths") or ()])
    app._log("DEBUG", "reset %d template loader(s), dropped %d static file hash(es)" % (loaders, hashes))
    live.refreshed(app)  # pages with live reload show the new files
    return loaders, hashes


def report_problem_from_json(payload):
    """The launcher's word on app ``name``'s last save: ``problem`` (``file:line: message``, it did
    not compile; the app serves the previous code) or None (it serves the current code again).
    Pages of an app with live reload on show it (see ``live``); otherwise a no-op."""
    data = json.loads(payload)
    live.report(data["name"], data.get("problem"))


def _register_aliases():
    """Let code written for Jaffle (``jaffle.app.tornado.TornadoBridgeApp``) import."""
    def available(name):
        try:
            return importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            return False

    def package(name):
        mod = types.ModuleType(name)
        mod.__path__ = []
        mod.__package__ = name
        sys.modules[name] = mod
        return mod

    if "jaffle" not in sys.modules and not available("jaffle"):
        jaffle = package("jaffle")
        app = package("jaffle.app")
        jaffle.app = app
        tornado_mod = types.ModuleType("jaffle.app.tornado")
        tornado_mod.TornadoBridgeApp = TornadoBridgeApp
        watchdog_mod = types.ModuleType("jaffle.app.watchdog")
        watchdog_mod.WatchdogApp = WatchdogApp
        sys.modules["jaffle.app.tornado"] = app.tornado = tornado_mod
        sys.modules["jaffle.app.watchdog"] = app.watchdog = watchdog_mod
    if "tornado_launcher" not in sys.modules and not available("tornado_launcher"):
        tl = package("tornado_launcher")
        bridge = types.ModuleType("tornado_launcher.bridge")
        bridge.TornadoBridgeApp = TornadoBridgeApp
        bridge.WatchdogApp = WatchdogApp
        sys.modules["tornado_launcher.bridge"] = tl.bridge = bridge


def _hello():
    settings = state.kernel.settings
    return protocol.hello_record(os.getpid(), sys.executable, tornado.version,
                                 settings.get("kernel"), settings.get("project_dir"),
                                 commands=outbox.comm.comm_id if outbox.comm is not None else _COMMANDS[0])


_COMMANDS = [None]  # the events comm's id while it is being opened (its hello names it)


def on_command(msg):
    """A command from the launcher on the events comm (``protocol.call_record``): called here,
    in ipykernel's comm dispatch on the kernel's loop; a failure is said in the app's log."""
    data = (msg.get("content") or {}).get("data") or {}
    command = data.get("call") if isinstance(data, dict) else None
    if not isinstance(command, dict):
        return
    name = command.get("name")
    try:
        call(name, command.get("method"), command.get("args") or [])
    except Exception as exc:
        emit(log_record(name if name in state.apps else None, "ERROR", "tornado-launcher: the launcher's %s of %r "
                        "failed: %s" % (command.get("method"), name, one_line(exc)), traceback_text=format_exc(exc)))


def install(settings=None):
    """Set the bridge up in this kernel (idempotent: a second call updates settings, says hello again)."""
    kernel = state.kernel
    kernel.settings.update(dict(settings or {}))
    imports.install_finder(kernel.settings.get("project_dir"))
    if kernel.installed:
        if outbox.comm is not None:
            emit(_hello(), True)
        return
    kernel.bind_loop()
    patches.apply()
    leftovers.install(patches.patches.bind_sockets)
    zmqctx.install()
    patches.guard_loop(kernel.loop)
    attribution.install_routing()
    try:
        import comm as _comm_mod

        _COMMANDS[0] = uuid.uuid4().hex
        outbox.comm = _comm_mod.create_comm(target_name=protocol.COMM_TARGET, data=protocol.batch([_hello()]),
                                            comm_id=_COMMANDS[0])
        outbox.comm.on_msg(on_command)
        tunnel.relay.open(_comm_mod)
        files.files.open(_comm_mod)
    except Exception as exc:
        outbox.comm = None
        sys.__stderr__.write("tornado-launcher: cannot open the events comm: %s\n" % exc)
    outbox.start_sender()
    hang.monitor.start()
    _register_aliases()
    kernel.installed = True
