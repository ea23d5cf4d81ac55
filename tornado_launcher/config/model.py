"""The config's data: what a checked jaffle.hcl becomes, and how a problem is told.

Plain dataclasses (:class:`Config` and one class per block kind), the
:class:`Diagnostic` every problem is reported as, :class:`ConfigError`, and
the class names that select an app's kind.  No I/O, no logic beyond
``str()``; everything else in the package builds these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

#: Class names that mean "our TornadoBridgeApp" / "our WatchdogApp".
TORNADO_CLASSES = frozenset(
    {
        "jaffle.app.tornado.TornadoBridgeApp",
        "tornado_launcher.bridge.TornadoBridgeApp",
        "tornado_launcher.TornadoBridgeApp",
    }
)
WATCHDOG_CLASSES = frozenset(
    {"jaffle.app.watchdog.WatchdogApp", "tornado_launcher.bridge.WatchdogApp", "tornado_launcher.WatchdogApp"}
)
#: Class prefixes of Jaffle's other apps (pytest, sphinx, ...): skipped.
_JAFFLE_PREFIXES = ("jaffle.", "turret.")


def is_skipped_class(cls: Any) -> bool:
    """One of Jaffle's other apps (pytest runner, sphinx, ...)."""
    return (
        isinstance(cls, str)
        and cls.startswith(_JAFFLE_PREFIXES)
        and cls not in TORNADO_CLASSES
        and cls not in WATCHDOG_CLASSES
    )


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a config file; ``line`` and ``col`` are 1-based.

    ``line`` 0 means no place in a file (a ``--variables`` item): ``str()``
    is then ``path: message``.
    """

    path: str
    line: int
    col: int
    message: str
    severity: str = "error"  # or "warning", or "note" (what a check did not do)

    def __str__(self) -> str:
        prefix = self.severity + ": " if self.severity in ("warning", "note") else ""
        if self.line <= 0:  # about the file as a whole, or the command line
            return "%s: %s%s" % (self.path, prefix, self.message)
        return "%s:%d:%d: %s%s" % (self.path, self.line, self.col, prefix, self.message)


class ConfigError(Exception):
    """The config cannot be run.

    ``diagnostics`` lists every problem found, errors first (by line), then
    warnings; ``str(e)`` is one ``path:line:col: message`` line each.
    """

    def __init__(self, diagnostics: List[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


@dataclass
class LoggerConfig:
    """A ``logger { ... }`` block.

    ``level`` is upper-case, one of DEBUG INFO WARNING ERROR CRITICAL (the
    file may use any case, and ``warn``).  ``suppress_regex`` drops matching
    lines; ``replace_regex`` is a list of ``(from, to)`` pairs for
    ``re.sub``.  Every pattern and replacement template has been checked to
    compile.
    """

    level: str = "INFO"
    suppress_regex: List[str] = field(default_factory=list)
    replace_regex: List[Tuple[str, str]] = field(default_factory=list)


@dataclass
class KernelConfig:
    """A ``kernel "name" { ... }`` block.

    ``kernel_name`` is a Jupyter kernelspec name; ``python`` an interpreter
    (absolute, ``~`` expanded; relative paths are resolved against the
    config's directory).  At most one of the two is set; with neither, the
    kernel runs the launcher's own Python.  ``connection_file`` (absolute,
    resolved like ``python``) attaches to a kernel started elsewhere instead
    of starting one (:mod:`tornado_launcher.kernels.attached`); it excludes both.
    ``gateway_url`` starts the kernel through a Jupyter Kernel Gateway
    (:mod:`tornado_launcher.kernels.gateway`): then ``kernel_name`` is a kernelspec
    on that gateway (its default when unset) and ``gateway_token`` its auth
    token (``${KG_AUTH_TOKEN}`` reads it from the environment).
    ``remote_files``: the kernel is on another machine, so its files are
    watched (and compile-checked) in the kernel; ``remote_dir``: the
    project's directory as the kernel sees it (default: the config's).
    For a gateway kernel, ``kernel_username`` (``KERNEL_USERNAME``: default
    the local user), ``gateway_launch_timeout`` (seconds the gateway may take
    to launch it; default :data:`GATEWAY_LAUNCH_TIMEOUT`) and ``env`` (sent
    with the launch request, as Jupyter's gateway client sends it).
    ``line`` is where the block opens.
    """

    name: str
    kernel_name: Optional[str] = None
    pass_env: List[str] = field(default_factory=list)
    python: Optional[str] = None
    connection_file: Optional[str] = None
    gateway_url: Optional[str] = None
    gateway_token: Optional[str] = None
    remote_files: bool = False
    remote_dir: Optional[str] = None
    kernel_username: Optional[str] = None
    gateway_launch_timeout: float = 0.0
    env: Dict[str, str] = field(default_factory=dict)
    #: apps' ports reached here through the kernel's connection (default: a kernel on another machine)
    tunnel: bool = False
    #: the project pushed to the kernel's filesystem (``remote_dir``) at start and at each save
    sync: bool = False
    line: int = 0

    def __post_init__(self) -> None:
        if not self.gateway_launch_timeout:
            self.gateway_launch_timeout = GATEWAY_LAUNCH_TIMEOUT


#: seconds a gateway may take to launch a kernel (Enterprise Gateway schedules pods: minutes)
GATEWAY_LAUNCH_TIMEOUT = 120.0


@dataclass
class WatchHandler:
    """One entry of a WatchdogApp's ``handlers`` list.

    Defaults follow Jaffle's: ``watch_path`` is the config's directory
    (relative paths are relative to it; stored absolute); ``patterns``
    ``["*"]``; ``ignore_directories`` False; ``case_sensitive`` False, as
    watchdog's PatternMatchingEventHandler and Jaffle had it, so ``*.py``
    also matches ``A.PY``; ``clear_cache`` defaults, as in Jaffle, to the
    modules found in the config's directory (:func:`default_clear_cache`).
    ``code_blocks`` (Jaffle's docs call it ``functions``) may contain
    ``{event}``.  ``debounce``/``throttle`` are seconds (>= 0) or None when
    not given (the watcher's own default applies).  ``jobs`` are names of
    ``job`` blocks (checked to exist), to run on each matching event.
    """

    watch_path: str
    patterns: List[str] = field(default_factory=lambda: ["*"])
    ignore_patterns: List[str] = field(default_factory=list)
    ignore_directories: bool = False
    case_sensitive: bool = False
    clear_cache: List[str] = field(default_factory=list)
    code_blocks: List[str] = field(default_factory=list)
    jobs: List[str] = field(default_factory=list)
    debounce: Optional[float] = None
    throttle: Optional[float] = None
    line: int = 0


@dataclass
class AppConfig:
    """An ``app "name" { ... }`` block we can run.

    ``kind`` is ``"tornado"`` or ``"watchdog"``.  ``class_name`` is exactly as
    written; ``custom_class`` is None for our built-in classes (including
    Jaffle's names for them) and the user's dotted subclass path otherwise.
    ``options`` is the raw ``options`` block (after interpolation): a custom
    class may take keys of its own.  For tornado apps ``clear_cache``
    defaults to :func:`default_clear_cache` of the config's directory.
    """

    name: str
    kind: str
    class_name: str
    custom_class: Optional[str] = None
    kernel: str = ""
    start: Optional[str] = None
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    options: Dict[str, Any] = field(default_factory=dict)
    disabled: bool = False
    line: int = 0
    # tornado kind: exactly one of app_class / main / script (the entry point)
    app_class: Optional[str] = None
    main: Optional[str] = None  # "pkg.mod.main" or "pkg.mod:main", run as its own entry point
    script: Optional[str] = None  # absolute (written relative to the config file), run as __main__
    port: Optional[int] = None  # app_class is an Application / subclass / factory: we listen here
    address: str = "127.0.0.1"
    argv: List[str] = field(default_factory=list)
    threaded: bool = False
    clear_cache: List[str] = field(default_factory=list)
    #: seconds the old code may take to answer the requests it accepted, after a
    #: restart or stop, before its connections are closed
    drain_timeout: float = 2.0
    #: seconds a stop waits for the app to end on its own after its SIGTERM handler (or a
    #: KeyboardInterrupt in its main) ran, before what is left is closed by force
    stop_timeout: float = 5.0
    #: HTML pages of the app reload themselves in the browser after a reload
    live_reload: bool = False
    #: client addresses or networks (besides this machine's browser) live reload answers
    live_reload_hosts: List[str] = field(default_factory=list)
    #: what a reload for changed files re-imports: "dependents" (the changed modules, their
    #: importers, the app's entry module), "all" (every module of ``clear_cache``) or "patch"
    #: (the change applied to the live functions in place when that is safe, else "dependents")
    reload: str = "patch"
    # watchdog kind
    handlers: List[WatchHandler] = field(default_factory=list)


@dataclass
class ProcessConfig:
    """A ``process "name" { ... }`` block: a command run beside the apps.

    ``command`` is a shell command line (after interpolation), run in the
    config's directory.  ``env`` adds to the launcher's environment; its
    values are strings (numbers and booleans in the file are stringified:
    ``true`` -> ``"true"``).  ``logger`` filters its output like an app's.
    The name is any printable text of at most 64 characters (it is never
    code); it is unique across apps, processes and jobs.  ``line`` is where
    the block opens.
    """

    name: str
    command: str
    tty: bool = False
    env: Dict[str, str] = field(default_factory=dict)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    disabled: bool = False
    line: int = 0


@dataclass
class JobConfig:
    """A ``job "name" { command = "..." }`` block: a one-shot command, run
    by a watchdog handler's ``jobs`` (or by hand).  ``logger`` is Jaffle's
    optional per-job logger block."""

    name: str
    command: str
    line: int = 0
    logger: LoggerConfig = field(default_factory=LoggerConfig)


@dataclass
class Config:
    """A whole checked config (one file, or several merged).

    ``kernels``, ``apps``, ``processes`` and ``jobs`` keep file order;
    skipped apps are not in ``apps``.  ``variables`` holds every variable's
    final typed value (default, then ``J_VAR_name``, then the ``variables``
    argument); a variable with no default and no value given is absent.
    ``path`` and ``directory`` are the first file's; ``paths`` lists every
    file in merge order.  ``warnings`` say what was skipped or ignored.
    """

    path: str
    directory: str
    kernels: Dict[str, KernelConfig] = field(default_factory=dict)
    apps: Dict[str, AppConfig] = field(default_factory=dict)
    logger: LoggerConfig = field(default_factory=LoggerConfig)
    warnings: List[Diagnostic] = field(default_factory=list)
    source: str = ""
    processes: Dict[str, ProcessConfig] = field(default_factory=dict)
    jobs: Dict[str, JobConfig] = field(default_factory=dict)
    variables: Dict[str, Any] = field(default_factory=dict)
    paths: List[str] = field(default_factory=list)


#: A key the file does not give (or whose value was already refused): readers return it.
MISSING: Any = object()
