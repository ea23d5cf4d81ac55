"""From a config's merged data to a checked :class:`~.model.Config`: one reader per block kind.

:func:`check_sources` is the one pass: each file is parsed and its shape
checked (:mod:`.source`), the files are merged (:mod:`.merge`), variables
are read (:mod:`.variables`) and every ``${...}`` evaluated
(:mod:`.interpolate`); then the table :data:`BLOCKS` says which reader of
:class:`BlockReader` turns each ``job``, ``process``, ``kernel`` and ``app``
block into its dataclass, in that order (handlers name jobs, apps name
kernels).  Apps' options, watchdog handlers and loggers have readers of
their own.  Every check runs, so the user sees all the errors at once.
"""

from __future__ import annotations

import ipaddress
import keyword
import os
import re
import unicodedata
from typing import Any, Callable, Collection, Dict, List, Mapping, NamedTuple, Optional, Tuple, Union

from ..bridge.protocol import LEVEL_NAMES, is_identifier, is_project_dir, parse_entry_path, reserved_name
from . import remote
from .fields import Fields
from .interpolate import EXEC_TIMEOUT, Environment, interpolate
from .merge import merge
from .model import (
    MISSING,
    TORNADO_CLASSES,
    WATCHDOG_CLASSES,
    AppConfig,
    Config,
    Diagnostic,
    JobConfig,
    KernelConfig,
    LoggerConfig,
    ProcessConfig,
    WatchHandler,
    is_skipped_class,
)
from .positions import Reporter, Source
from .source import TOP_BLOCKS, check_top_items, drop_inner_duplicates, parse, report_duplicates
from .text import did_you_mean, fixed_name, show
from .variables import read_variables

_KERNEL_KEYS = ("kernel_name", "pass_env", "python", "connection_file", "gateway_url", "gateway_token",
                "remote_files", "remote_dir", "kernel_username", "gateway_launch_timeout", "env", "tunnel", "sync")
_APP_KEYS = ("class", "kernel", "start", "logger", "options", "disabled")
_LOGGER_KEYS = ("level", "suppress_regex", "replace_regex")
#: Jaffle logger settings we accept and do not use.
_LOGGER_IGNORED = ("name", "colors", "color", "format", "datefmt", "handlers")
_TORNADO_KEYS = ("app_class", "main", "script", "port", "address", "argv", "args", "threaded", "clear_cache",
                 "drain_timeout", "stop_timeout", "live_reload", "live_reload_hosts", "reload")
#: the keys that say how an app starts: exactly one per tornado app
_ENTRY_KEYS = ("app_class", "main", "script")
#: what a TornadoBridgeApp's reload for changed files purges (``AppConfig.reload``)
RELOAD_MODES = ("dependents", "all", "patch")
_WATCHDOG_KEYS = ("handlers",)
_PROCESS_KEYS = ("command", "tty", "env", "logger", "disabled")
_JOB_KEYS = ("command", "logger")
#: process and job names: shown in the window's list, so printable and short
_MAX_NAME = 64

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

_SKIP_MODULES = frozenset({"setup", "conftest"})


def default_clear_cache(directory: str) -> List[str]:
    """Top-level module names found in ``directory``, sorted.

    Packages are directories with an ``__init__.py``; modules are ``*.py``
    files.  Skipped: hidden entries, directories that hold no project code
    (``protocol.NON_PROJECT_DIRS``: ``__pycache__``, ``node_modules``,
    ``build``, ``dist``, ``site-packages``, virtualenvs: ``venv`` or any
    directory with a ``pyvenv.cfg``), ``setup.py`` and ``conftest.py``.  This is what Jaffle
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
        if name.startswith("."):
            continue
        try:
            if entry.is_dir():
                if not is_project_dir(entry.path):
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


def missing_path(path: str, want: str) -> Optional[str]:
    """Why ``path`` is not a usable ``want`` ("file" or "directory"), or None when it is."""
    import errno
    import stat

    try:
        st = os.stat(path)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "is a symlink loop"
        if e.errno in (errno.ENOENT, errno.ENOTDIR):
            return "does not exist"
        return "cannot be read (%s)" % (e.strerror or e)
    if want == "directory" and not stat.S_ISDIR(st.st_mode):
        return "is not a directory"
    if want == "file" and stat.S_ISDIR(st.st_mode):
        return "is a directory, not an interpreter"
    return None


def is_dotted(name: str) -> bool:
    """``pkg.module.Class``: two or more parts, each one that could name an app (identifier, no keyword)."""
    parts = name.split(".")
    return len(parts) >= 2 and all(is_identifier(p) for p in parts)


def is_module(name: str) -> bool:
    """A module name for ``clear_cache``: dotted identifiers.  A keyword part is
    accepted (a file ``class.py`` can be imported with importlib and purged)."""
    return bool(name) and all(p.isidentifier() for p in name.split("."))


class BlockReader(Fields):
    """The readers of ``kernel``, ``process``, ``job`` and ``app`` blocks,
    apps' options, watchdog handlers and loggers.

    ``directory`` is the first file's (``clear_cache``'s default and
    ``watch_path``'s default); ``job_names`` the jobs handlers may name;
    ``kernels`` the kernel names defined (None when the file defines no
    kernel block at all: then each named kernel runs as a default one);
    ``skipped`` collects the apps whose class we do not run.
    """

    def __init__(self, report: Reporter, skip_paths: set, interpolated: set, directory: str) -> None:
        super().__init__(report, skip_paths, interpolated)
        self.directory = directory
        self.job_names: set = set()
        self.kernels: Optional[set] = None
        self.skipped: set = set()
        #: the kernelspec names installed (None: not checked), see :func:`check_sources`
        self.kernelspecs: Union[None, Collection[str], Callable[[], Collection[str]]] = None
        self._clear_cache: Optional[List[str]] = None

    def check_name(self, kind: str, name: str, path: tuple, part: str = "label") -> None:
        if is_identifier(name):
            why = reserved_name(name)
            if why and (kind == "app" or why.startswith("is %d characters" % len(name))):
                self.report.error(path, '%s name "%s" %s: rename it' % (kind, name[:40] + (
                    "..." if len(name) > 40 else ""), why), part)
            return
        normal = unicodedata.normalize("NFKC", name) if isinstance(name, str) else name
        if normal != name and is_identifier(normal):
            self.report.error(
                path,
                '%s name "%s" is not how Python spells it: Python reads it as "%s" (NFKC), so the kernel '
                'would know it by another name: rename it "%s"' % (kind, name, normal, normal),
                part,
            )
            return
        why = "is a Python keyword" if keyword.iskeyword(name) else "is not a Python identifier"
        role = (
            "the name becomes a variable in the kernel"
            if kind == "app"
            else "kernel names follow the rule of app names, as Jaffle's do"
        )
        self.report.error(
            path,
            '%s name "%s" %s (%s): rename it, e.g. "%s"' % (kind, name, why, role, fixed_name(name)),
            part,
        )

    def kernel(self, name: str, body: Any) -> Optional[KernelConfig]:
        path = ("kernel", name)
        self.check_name("kernel", name, path)
        if not isinstance(body, dict):
            self.report.error(
                path, 'kernel "%s" must be a block: kernel "%s" { kernel_name = "python3" }' % (name, name)
            )
            return None
        self.keys(body, path, _KERNEL_KEYS, 'kernel "%s"' % name)
        k = KernelConfig(name=name, line=self.report.where(path).line)
        remote.gateway(self, body, path, k)
        kernel_name = self.string(body, path, "kernel_name", "(a Jupyter kernelspec name)")
        if kernel_name is not MISSING:
            k.kernel_name = kernel_name or None
            if k.gateway_url:
                pass  # a kernelspec on the gateway: the gateway knows its own
            elif callable(self.kernelspecs):  # asked only when a kernel names a kernelspec
                self.kernelspecs = self.kernelspecs()
            if k.kernel_name and not k.gateway_url and self.kernelspecs is not None \
                    and k.kernel_name not in self.kernelspecs:
                self.report.error(
                    path + ("kernel_name",),
                    'kernel "%s" uses the Jupyter kernelspec "%s", which is not installed%s (installed: %s): '
                    "install it (`jupyter kernelspec list` shows them), or give the kernel block "
                    '`python = "/path/to/python"` instead'
                    % (name, k.kernel_name, did_you_mean(k.kernel_name, self.kernelspecs),
                       ", ".join(sorted(self.kernelspecs)) or "none"),
                    "value",
                )
        pass_env = self.strings(body, path, "pass_env", '["PATH", "HOME"]')
        if pass_env is not MISSING:
            k.pass_env = pass_env
        python = self.string(body, path, "python", "(a path to a Python interpreter)")
        if python is not MISSING and python:
            p = os.path.expanduser(python)
            base = self.report.directory_of(path + ("python",))
            p = os.path.normpath(p if os.path.isabs(p) else os.path.join(base, p))
            k.python = p
            if k.kernel_name:
                self.report.error(
                    path + ("python",),
                    'kernel "%s" sets both `kernel_name` and `python`: '
                    "keep one (a kernelspec, or an interpreter)" % name,
                )
            else:
                problem = missing_path(p, "file")
                if problem:
                    self.report.error(
                        path + ("python",),
                        "`python` %s %s (resolved to %s): fix the path, or remove `python` to run the "
                        "launcher's own Python" % (show(python), problem, p),
                        "value",
                    )
        remote.connection_file(self, body, path, k)
        remote.remote(self, body, path, k)
        return k

    def check_label(self, kind: str, name: str, path: tuple) -> bool:
        """Process and job names: shown in the window, never code."""
        fix = 'e.g. %s "frontend"' % kind
        if not name.strip():
            self.report.error(path, "a %s name cannot be empty: %s" % (kind, fix), "label")
        elif not name.isprintable():
            self.report.error(
                path,
                "%s name %s holds a control character: use printable text, %s" % (kind, show(name), fix),
                "label",
            )
        elif len(name) > _MAX_NAME:
            self.report.error(
                path,
                "%s name %s is %d characters long: keep it to %d" % (kind, show(name), len(name), _MAX_NAME),
                "label",
            )
        else:
            return True
        return False

    def command(self, body: dict, path: tuple, what: str, example: str) -> Any:
        command = self.string(body, path, "command", "(a command line)")
        if command is MISSING:
            if "command" not in body:
                self.report.error(path, '%s needs `command = "%s"`: the command to run' % (what, example), "label")
            return MISSING
        if not command.strip():
            self.report.error(
                path + ("command",),
                '`command` of %s is empty: e.g. `command = "%s"`' % (what, example),
                "value",
            )
            return MISSING
        return command

    def process(self, name: str, body: Any) -> Optional[ProcessConfig]:
        path = ("process", name)
        what = 'process "%s"' % name
        if not isinstance(body, dict):
            self.report.error(path, '%s must be a block: process "%s" { command = "yarn start" }' % (what, name))
            return None
        self.check_label("process", name, path)
        self.keys(body, path, _PROCESS_KEYS, what)
        p = ProcessConfig(name=name, command="", line=self.report.where(path).line)
        command = self.command(body, path, what, "yarn start")
        if command is not MISSING:
            p.command = command
        p.tty = self.boolean(body, path, "tty", False)
        p.disabled = self.boolean(body, path, "disabled", False)
        p.env.update(self.environment(body, path, 'env { NODE_ENV = "development" }'))
        logger = self.block(body, path, "logger", 'logger { level = "info" }')
        if logger is not MISSING:
            p.logger = self.logger(logger, path + ("logger",))
        return p

    def job(self, name: str, body: Any) -> Optional[JobConfig]:
        path = ("job", name)
        what = 'job "%s"' % name
        if not isinstance(body, dict):
            self.report.error(path, '%s must be a block: job "%s" { command = "flake8" }' % (what, name))
            return None
        self.check_label("job", name, path)
        self.keys(body, path, _JOB_KEYS, what)
        j = JobConfig(name=name, command="", line=self.report.where(path).line)
        command = self.command(body, path, what, "flake8")
        if command is not MISSING:
            j.command = command
        logger = self.block(body, path, "logger", 'logger { level = "info" }')
        if logger is not MISSING:
            j.logger = self.logger(logger, path + ("logger",))
        return j

    def app(self, name: str, body: Any) -> Optional[AppConfig]:
        kernels, skipped = self.kernels, self.skipped
        path = ("app", name)
        if not isinstance(body, dict):
            self.report.error(
                path, 'app "%s" must be a block: app "%s" { class = "...", kernel = "..." }' % (name, name)
            )
            return None
        cls = self.string(body, path, "class", "(a dotted class name)")
        if cls is MISSING:
            if "class" not in body:
                self.report.error(
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
            self.report.warn(
                path,
                'app "%s" (line %d) uses %s, which tornado-launcher does not run: skipped'
                % (name, self.report.where(path).line, cls),
            )
            return None
        elif not is_dotted(cls):
            self.report.error(
                path + ("class",),
                "`class` must be a dotted path such as `jaffle.app.tornado.TornadoBridgeApp` "
                "or `myproj.bridge.MyBridge`, not %s" % show(cls),
                "value",
            )
            return None
        else:
            custom = cls
            kind = "watchdog" if isinstance(options_raw, dict) and "handlers" in options_raw else "tornado"
        self.check_name("app", name, path)
        self.keys(body, path, _APP_KEYS, 'app "%s"' % name)
        app = AppConfig(name=name, kind=kind, class_name=cls, custom_class=custom, line=self.report.where(path).line)

        kernel = self.string(body, path, "kernel", "(the name of a kernel block)")
        if kernel is MISSING:
            if "kernel" not in body:
                example = sorted(kernels)[0] if kernels else "py_kernel"
                self.report.error(path, 'app "%s" needs `kernel = "%s"`' % (name, example), "label")
        else:
            app.kernel = kernel
            if kernels is not None and kernel not in kernels:
                self.report.error(
                    path + ("kernel",),
                    'app "%s" uses kernel "%s", which is not defined%s: add `kernel "%s" {}` to the file'
                    % (name, kernel, did_you_mean(kernel, kernels), kernel),
                    "value",
                )
        start = self.string(body, path, "start", "(Python code)")
        if start is not MISSING:
            app.start = start
            self.compiles(start, path + ("start",), 'the `start` code of app "%s"' % name)
        app.disabled = self.boolean(body, path, "disabled", False)
        logger = self.block(body, path, "logger", 'logger { level = "info" }')
        if logger is not MISSING:
            app.logger = self.logger(logger, path + ("logger",))
        options = self.block(body, path, "options", 'options { app_class = "pkg.module.App" }')
        options = {} if options is MISSING else options
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
        self.entry_point(app, options, path)
        if "argv" in options and "args" in options:
            self.report.error(
                path + ("args",),
                "`argv` and `args` are the same setting (`args` is Jaffle's spelling): keep one",
            )
        for key in ("argv", "args"):
            argv = self.strings(options, path, key, '["--port=8888"]')
            if argv is not MISSING:
                app.argv = argv
                break
        app.threaded = self.boolean(options, path, "threaded", False)
        app.live_reload = self.boolean(options, path, "live_reload", False)
        hosts = self.strings(options, path, "live_reload_hosts", '["192.168.1.20"]')
        if hosts is not MISSING:
            app.live_reload_hosts = self.client_networks(hosts, path + ("live_reload_hosts",))
        drain = self.seconds(options, path, "drain_timeout")
        if drain is not None:
            app.drain_timeout = drain
        stop = self.seconds(options, path, "stop_timeout")
        if stop is not None:
            app.stop_timeout = stop
        mode = self.string(options, path, "reload", '(what a save re-imports)')
        if mode is not MISSING:
            if mode in RELOAD_MODES:
                app.reload = mode
            else:
                self.report.error(
                    path + ("reload",),
                    '`reload` is "dependents" (re-import what a change invalidates), "all" '
                    '(re-import every module of `clear_cache`) or "patch" (apply a change to the running '
                    'code in place when it is safe, else "dependents"), not %s' % show(mode),
                    "value",
                )
        clear = self.strings(options, path, "clear_cache", '["my_module"]')
        app.clear_cache = self.default_clear() if clear is MISSING else clear
        for i, module in enumerate(app.clear_cache if clear is not MISSING else []):
            if not is_module(module):
                self.report.error(
                    path + ("clear_cache", i),
                    "`clear_cache` holds module names such as `my_module`, not %s" % show(module),
                    "value",
                )

    def client_networks(self, hosts: list, path: tuple) -> list:
        """``live_reload_hosts``: IP addresses or networks (``192.168.1.0/24``), never names."""
        out = []
        for i, host in enumerate(hosts):
            try:
                out.append(str(ipaddress.ip_network(host.strip(), strict=False)))
            except ValueError:
                self.report.error(
                    path + (i,),
                    "`live_reload_hosts` holds the IP addresses (or networks) of the clients that may use "
                    'live reload, such as "192.168.1.20" or "192.168.1.0/24", not %s' % show(host),
                    "value",
                )
        return out

    def entry_point(self, app: AppConfig, options: dict, path: tuple) -> None:
        """``app_class`` / ``main`` / ``script`` (exactly one), and ``port`` / ``address``."""
        given = [k for k in _ENTRY_KEYS if k in options]
        if not given:
            self.report.error(
                path,
                'app "%s" needs one of `app_class = "my_module.app.ExampleApp"`, `main = "my_module.main"` '
                'or `script = "server.py"` in its options: how the app starts' % app.name,
                "label",
            )
        for extra in given[1:]:
            self.report.error(
                path + (extra,),
                'app "%s" gives both `%s` and `%s`: keep one entry point' % (app.name, given[0], extra),
            )
        port = self.integer(options, path, "port", 0, 65535, "8888")
        if port is not MISSING:
            app.port = port
        address = self.string(options, path, "address", "(an interface such as \"127.0.0.1\")")
        if address is not MISSING:
            app.address = address
            if "port" not in options:
                self.report.error(path + ("address",), "`address` goes with `port`: add `port = 8888` or remove it")
        app_class = self.string(options, path, "app_class", "(a dotted class name)")
        if app_class is not MISSING:
            ok = is_dotted(app_class) or ("port" in options and parse_entry_path(app_class) is not None)
            if not ok:
                self.report.error(
                    path + ("app_class",),
                    "`app_class` must be a fully qualified class name such as `my_module.app.ExampleApp`, not %s"
                    % show(app_class),
                    "value",
                )
            else:
                app.app_class = app_class
        main = self.string(options, path, "main", "(a dotted function name)")
        if main is not MISSING:
            if parse_entry_path(main) is None:
                self.report.error(
                    path + ("main",),
                    "`main` must name a function such as `my_module.main` or `my_module:main`, not %s" % show(main),
                    "value",
                )
            else:
                app.main = main.strip()
        script = self.string(options, path, "script", "(a file relative to the config file)")
        if script is not MISSING:
            base = self.report.directory_of(path + ("script",))
            full = os.path.normpath(os.path.join(base, os.path.expanduser(script)))
            if not script.strip():
                self.report.error(path + ("script",), '`script` must name a Python file such as "server.py"', "value")
            elif not os.path.isfile(full):
                self.report.error(
                    path + ("script",),
                    "`script` %s does not exist (looked for %s): give a path relative to the config file"
                    % (show(script), full),
                    "value",
                )
            else:
                app.script = full
        if "port" in options and "app_class" not in options and (main is not MISSING or script is not MISSING):
            self.report.error(
                path + ("port",),
                "`port` is for an `app_class` that is a tornado.web.Application (or a function returning one): "
                "a `main` or `script` listens itself, remove `port`",
            )

    def default_clear(self) -> List[str]:
        if self._clear_cache is None:
            self._clear_cache = default_clear_cache(self.directory)
        return list(self._clear_cache)

    def watchdog_options(self, app: AppConfig, options: dict, path: tuple) -> None:
        if app.custom_class is None:
            self.keys(options, path, _WATCHDOG_KEYS, 'the options of app "%s"' % app.name)
        handlers = self.get(options, path, "handlers")
        if handlers is MISSING:
            self.report.warn(path[:-1], 'app "%s" has no `handlers`: it watches nothing' % app.name, "label")
            return
        if isinstance(handlers, dict):
            handlers = [handlers]
        if not isinstance(handlers, list):
            self.report.error(
                path + ("handlers",),
                '`handlers` must be a list of blocks: handlers = [{ patterns = ["*.py"] }]',
                "value",
            )
            return
        for i, h in enumerate(handlers):
            hp = path + ("handlers", i)
            if not isinstance(h, dict):
                self.report.error(
                    hp,
                    "each handler must be a block in braces: "
                    '{ patterns = ["*.py"], code_blocks = [...] }, not %s' % show(h),
                    "value",
                )
                continue
            handler = self.handler(app, h, hp)
            app.handlers.append(handler)

    def handler(self, app: AppConfig, h: dict, path: tuple) -> WatchHandler:
        what = 'handler %d of app "%s"' % (path[-1] + 1, app.name)
        self.keys(h, path, _HANDLER_KEYS, what)
        handler = WatchHandler(watch_path=self.directory, line=self.report.where(path).line, clear_cache=[])
        wp = self.string(h, path, "watch_path", "(a directory)")
        if wp is not MISSING:
            p = os.path.expanduser(wp)
            base = self.report.directory_of(path + ("watch_path",))
            handler.watch_path = os.path.normpath(p if os.path.isabs(p) else os.path.join(base, p))
            problem = missing_path(handler.watch_path, "directory")
            if problem:
                self.report.error(
                    path + ("watch_path",),
                    "`watch_path` %s %s (resolved to %s): the handler watches a directory, so create it "
                    "or fix the path" % (show(wp), problem, handler.watch_path),
                    "value",
                )
        for key, example in (("patterns", '["*.py"]'), ("ignore_patterns", '["*/tests/*"]'), ("jobs", "[]")):
            v = self.strings(h, path, key, example)
            if v is not MISSING:
                setattr(handler, key, v)
        for i, job in enumerate(handler.jobs):
            if job not in self.job_names:
                self.report.error(
                    path + ("jobs", i),
                    '%s runs job "%s", which is not defined%s: add `job "%s" { command = "..." }`'
                    % (what, job, did_you_mean(job, self.job_names), job),
                    "value",
                )
        handler.ignore_directories = self.boolean(h, path, "ignore_directories", False)
        handler.case_sensitive = self.boolean(h, path, "case_sensitive", False)
        clear = self.strings(h, path, "clear_cache", '["my_module"]')
        handler.clear_cache = self.default_clear() if clear is MISSING else clear
        if "code_blocks" in h and "functions" in h:
            self.report.error(
                path + ("functions",),
                "`code_blocks` and `functions` are the same setting (the reference's spelling): keep one",
            )
        for key in ("code_blocks", "functions"):
            blocks = self.strings(h, path, key, '["my_app.handle_watchdog_event({event})"]')
            if blocks is not MISSING:
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
        if level is not MISSING:
            norm = level.strip().upper() if isinstance(level, str) else None
            norm = "WARNING" if norm == "WARN" else norm
            if norm in LEVEL_NAMES:
                config.level = norm
            else:
                self.report.error(
                    path + ("level",),
                    "`level` must be one of debug, info, warning, error, critical, not %s" % show(level),
                    "value",
                )
        suppress = self.strings(body, path, "suppress_regex", '["^\\\\s*$"]')
        if suppress is not MISSING:
            for i, pattern in enumerate(suppress):
                if self.regex(pattern, path + ("suppress_regex", i)) is not None:
                    config.suppress_regex.append(pattern)
        replace = self.get(body, path, "replace_regex")
        if replace is not MISSING:
            if isinstance(replace, dict):
                replace = [replace]
            if not isinstance(replace, list):
                self.report.error(
                    path + ("replace_regex",),
                    '`replace_regex` must be a list of { from = "...", to = "..." } blocks',
                    "value",
                )
                replace = []
            for i, item in enumerate(replace):
                ip = path + ("replace_regex", i)
                if not isinstance(item, dict):
                    self.report.error(
                        ip,
                        'each `replace_regex` entry must be a block: { from = "...", to = "..." }, not %s'
                        % show(item),
                        "value",
                    )
                    continue
                self.keys(item, ip, ("from", "to"), "a `replace_regex` entry")
                frm, to = item.get("from"), item.get("to")
                if not isinstance(frm, str) or not isinstance(to, str):
                    missing = "from" if not isinstance(frm, str) else "to"
                    self.report.error(
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
                    self.report.error(
                        ip + ("to",), "`to` %s is not a valid replacement: %s" % (show(to), e), "value"
                    )
                    continue
                config.replace_regex.append((frm, to))
        return config


class BlockKind(NamedTuple):
    """One row of :data:`BLOCKS`: blocks ``kind "name" {...}`` are read by ``read`` into ``Config.<field>``."""

    kind: str
    read: Callable[[BlockReader, str, Any], Any]
    field: str


#: In this order: handlers check the job names, apps the kernel names.
BLOCKS = (
    BlockKind("job", BlockReader.job, "jobs"),
    BlockKind("process", BlockReader.process, "processes"),
    BlockKind("kernel", BlockReader.kernel, "kernels"),
    BlockKind("app", BlockReader.app, "apps"),
)


def exec_call(command: str) -> str:
    """``exec('touch x')``: a command as the file would call it, for a message."""
    if len(command) > 60:
        command = command[:57] + "..."
    return "exec(%s)" % ("'%s'" % command if "'" not in command else show(command))


def is_stray(report: Reporter, path: tuple) -> bool:
    """A name pyhcl made from a block that had no label (reported already)."""
    pos = report.sources[report.index_of(path)].pos
    if pos is None:
        return False
    loc = pos.locs.get(tuple(path))
    if loc is None or loc.kind == "block":
        return False
    parent = pos.locs.get(tuple(path[:-1]))
    return loc.kind == "group" or (parent is not None and parent.kind == "block")


def check_shared_names(report: Reporter, config: Config) -> None:
    """Apps, processes and jobs share one list in the window: one name each."""
    entries = [(a.line, "app", a.name) for a in config.apps.values()]
    entries += [(p.line, "process", p.name) for p in config.processes.values()]
    entries += [(j.line, "job", j.name) for j in config.jobs.values()]
    seen: Dict[str, str] = {}
    order = {(k, n): report.where((k, n)) for _, k, n in entries}
    for _, kind, name in sorted(entries, key=lambda e: order[e[1:]]):
        if name in seen:
            first_kind = seen[name]
            report.error(
                (kind, name),
                '%s "%s" has the same name as %s "%s" at %s: apps, processes and jobs share one '
                "list, so rename one"
                % (kind, name, first_kind, name, report.ref((first_kind, name), (kind, name))),
                "label",
            )
        else:
            seen[name] = kind


def check_sources(
    sources: List[Source],
    overrides: Optional[Mapping[str, Any]] = None,
    exec_timeout: float = EXEC_TIMEOUT,
    *,
    allow_exec: bool = True,
    kernelspecs: Union[None, Collection[str], Callable[[], Collection[str]]] = None,
) -> Tuple[Optional[Config], List[Diagnostic]]:
    """One pass over one config (one file, or several merged): the Config, or None, and every diagnostic.

    Parsing, syntax, top-level shape and duplicate keys are checked file by
    file; the rest runs on the merged data, where the reporter's ``origin``
    says which file supplied each key path, so that every diagnostic names
    that file and its line.

    ``allow_exec`` False: ``exec()`` commands are not run; each value that
    has one is checked for form only and gets a note saying so.
    ``kernelspecs``: the Jupyter kernelspec names this machine has, or a
    function returning them, called only if a kernel names one (None: not
    checked); a ``kernel_name`` not among them is an error.
    """
    report = Reporter(sources)
    twice = set()  # (file index, key path) of keys set twice in one file
    datas = []
    failed = False
    for index, src in enumerate(sources):
        report.use(index)
        data, failure = parse(src, index, report)
        if failure is not None:
            report.error_at(*failure)
            failed = True
            continue
        if not isinstance(data, dict):
            report.error_at(0, 'the file must contain blocks such as `app "web" { ... }`')
            failed = True
            continue
        twice |= {(index, p) for p in drop_inner_duplicates(src)}
        check_top_items(src, report)
        datas.append((index, data))
    if failed:
        return None, report.diagnostics
    report.use(0)
    data = merge(datas, report.origin)
    # a key repeated in one file is skipped when that file supplied the merged value
    skip_paths = {p for i, p in twice if report.origin.get(p) == i}
    first = sources[0]
    config = Config(
        path=first.absolute, directory=first.directory, source=first.text, paths=[s.absolute for s in sources]
    )
    if not data and all(src.pos is None or not src.pos.top for src in sources):
        report.error_at(
            0,
            'the file is empty: add a `kernel "py_kernel" {}` block and an `app` block '
            "(see the TornadoBridgeApp example)",
        )
        return config, report.diagnostics
    interpolated: set = set()
    reader = BlockReader(report, skip_paths, interpolated, first.directory)
    reader.kernelspecs = kernelspecs
    variables = read_variables(data.get("variable"), reader, overrides or {})
    apps = data.get("app")
    skipped_apps = set()
    if isinstance(apps, dict):
        skipped_apps = {
            (name,) for name, body in apps.items() if isinstance(body, dict) and is_skipped_class(body.get("class"))
        }

    def refuse(path: tuple, message: str) -> None:
        skip_paths.add(tuple(path))  # no type check of a value that could not be evaluated
        report.error(path, message, "value")

    def not_run(path: tuple, written: str, commands: List[str]) -> None:
        skip_paths.add(tuple(path))  # its value is unknown: checked for form only
        index = report.index_of(path)
        pos = report.sources[index].pos
        loc = pos.locs.get(tuple(path)) if pos is not None else None
        start = 0
        for command in commands:
            found = written.find("exec", start)
            start = found + 1 if found >= 0 else start
            offset = loc.offset_in_value(found) if loc is not None and found >= 0 else None
            message = "%s not run (pass --exec to run it)" % exec_call(command)
            if offset is None:
                report.note(path, message, "value")
            else:
                report.error_at(offset, message, "note", index)

    env = Environment(
        variables=variables, directory=first.directory, exec_timeout=exec_timeout, allow_exec=allow_exec
    )
    # variables are not interpolated; unknown blocks are skipped (warned about already)
    data = {k: v for k, v in data.items() if k in TOP_BLOCKS and k != "variable"}
    data = interpolate(
        data,
        env,
        report.directory_of,
        refuse,
        lambda path: path[:1] == ("app",) and path[1:2] in skipped_apps,  # parts we skip are not ours
        interpolated,
        on_skipped=not_run,
    )
    config.variables = {k: v for k, v in variables.items() if v is not MISSING}

    if isinstance(data.get("job"), dict):
        reader.job_names = {str(n) for n in data["job"]}
    # The reference page's examples have no `kernel` block at all: a file
    # without any runs each named kernel as a default one (warning).  A
    # file that defines kernels gets an error for a name it lacks (typo).
    kernels_raw = data.get("kernel")
    reader.kernels = (
        set(kernels_raw) if isinstance(kernels_raw, dict) else (None if kernels_raw is None else set())
    )
    for block in BLOCKS:
        raw = data.get(block.kind)
        if not isinstance(raw, dict):
            continue
        into = getattr(config, block.field)
        for name, body in raw.items():
            if is_stray(report, (block.kind, name)):
                continue
            item = block.read(reader, str(name), body)
            if item is not None:
                into[item.name] = item
    if reader.kernels is None:
        for a in config.apps.values():
            if a.kernel and a.kernel not in config.kernels:
                path = ("app", a.name, "kernel")
                reader.check_name("kernel", a.kernel, path, "value")
                report.warn(
                    path,
                    'kernel "%s" is not defined: it runs as a default kernel (the launcher\'s Python); '
                    'add `kernel "%s" {}` to set it up' % (a.kernel, a.kernel),
                    "value",
                )
                config.kernels[a.kernel] = KernelConfig(name=a.kernel, line=report.where(path).line)
    if isinstance(data.get("logger"), dict):
        config.logger = reader.logger(data["logger"], ("logger",), top=True)
    for index, src in enumerate(sources):
        report.use(index)
        report_duplicates(src, report, reader.skipped)
    report.use(0)
    check_shared_names(report, config)
    if not config.apps and not config.processes and not any(d.severity == "error" for d in report.diagnostics):
        report.warn((), "no app or process to run: add an `app` block with a TornadoBridgeApp")
    return config, report.diagnostics
