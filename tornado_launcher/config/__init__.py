"""jaffle.hcl -> typed, checked dataclasses, with ``file:line:col`` for every problem.

The file format is Jaffle's, so an existing ``jaffle.hcl`` opens unchanged:
``kernel``, ``app``, ``process``, ``job``, ``variable`` and ``logger``
blocks, Jaffle's spellings (``args`` for ``argv``, ``functions`` for
``code_blocks``) and string booleans (``"true"``, ``"1"``).  Parts we do not
run (the pytest and sphinx apps, unknown blocks) are skipped with one
warning each: a config is never refused whole for a part we skip.

``${...}`` is evaluated as Jaffle users write it (``var.name``, environment
variables, ``env()``, ``exec()``, ``fg()``/``bg()``/``reset()``, ``| trim``)
by a small parser of our own, in every string value Jaffle rendered and in
``start``, ``command`` and ``env``, which Jaffle forgot.  ``exec()`` runs its
command at load time.  Several files deep-merge in order, as in Jaffle.

Values come from pyhcl; positions come from :mod:`.positions`
because pyhcl keeps none.  Every check runs in one pass, so the user sees all
the errors at once, sorted by file and line, each a sentence naming the fix.

Nothing here raises anything but :class:`ConfigError`, whatever the input
(binary garbage, a directory, an empty file).  No Qt, no jupyter imports.

The package, one concept per module: :mod:`.model` (the dataclasses,
:class:`Diagnostic`, :class:`ConfigError`), :mod:`.source` (one file: read,
decode, parse, its shape), :mod:`.positions` (where things are, and the
:class:`~.positions.Reporter` every diagnostic goes through), :mod:`.merge`,
:mod:`.variables`, :mod:`.interpolate`, :mod:`.fields` (typed readers of one
key) and :mod:`.validate` (one reader per block kind, and the one pass).
This module is the public face: :func:`load`, :func:`loads`, :func:`check`.

``exec()`` runs with a bound (``EXEC_TIMEOUT``, 10 s), so views load configs off the event loop
(``asyncio.to_thread``). A ``Diagnostic(path, line, col, message, severity)`` reads
``path:line:col: message`` (a warning: ``path:line:col: warning: message``); ``Config.warnings``
holds what was skipped (unsupported classes and blocks) and the notes. Everything other modules
use is imported from this package itself; the submodules are its inside.

Inside, one pass (``validate.check_sources``): each file is parsed (``source.parse``: pyhcl for
values, ``positions.scan`` for places) and its shape checked; files merge (``merge.merge``,
which fills the reporter's ``origin``: key path → the file that supplied it);
``variables.read_variables``; every string's ``${...}`` is evaluated
(``interpolate.interpolate``); then the table ``validate.BLOCKS`` (job, process, kernel, app: in
that order, since handlers name jobs and apps name kernels) drives one ``BlockReader`` method
per block kind. Why this shape (against issue 9's proposal):

* Positions and reporting are one module: a diagnostic is "key path → the file that supplied it
  → line:col", so the ``Reporter`` (``where(path, part)``, ``ref(path, seen_from)`` for "line N"
  / "other.hcl:N", ``directory_of(path)``, ``error``/``warn``/``error_at``) sits next to the
  scanner whose ``Loc``s it reads; it replaced five near-synonyms (``locate``, ``where``,
  ``at``, ``line``, ``place``). ``positions.Source`` (one file's text and places) lives there
  too, below ``source.py``.
* ``variables.py`` is split from ``interpolate.py``: typing and coercing
  ``J_VAR_*``/``--variables`` values is a concept of its own; interpolation only reads the
  result through its ``Environment``.
* ``fields.py`` is split from ``validate.py``: the typed readers of one key (string, bool, list
  of strings, seconds, block, regex, code that must compile) are shared by every block reader;
  ``BlockReader(Fields)`` holds the block kinds only; ``remote.py``'s readers take a ``Fields``.
* ``interpolate.Environment(variables, directory, exec_cache, allow_exec=True, exec_timeout)``
  is explicit; with ``allow_exec=False`` an ``exec()`` evaluates to ``""`` without running and
  is recorded in ``env.skipped_exec``; ``interpolate(..., on_skipped=)`` hears of each value
  that had one.
* What ``start`` would refuse is an error here, at its ``file:line:col``: a ``watch_path`` or
  ``python`` that does not exist (or loops, or is the wrong kind of file), an unknown
  kernelspec, a name Python reads as another. ``cli._validate`` is the one validation ``check``
  and ``start`` share (config, then each kernel's interpreter), so ``start`` exits 2 with
  ``check``'s lines before anything starts; the window's loader passes the same
  ``kernel.installed_kernelspecs``.
* App names must not shadow the kernel's own (``protocol.reserved_name``: dunders, builtins,
  IPython's ``In``/``Out``/``_i1``...; both sides apply it) and are at most
  ``protocol.MAX_NAME_LENGTH`` (64). ``fields.seconds`` refuses over ``MAX_SECONDS`` (3600, so
  ``inf``); ``source.read`` refuses a non-regular file (a FIFO is opened ``O_NONBLOCK``: no
  hang) and ``to_text`` reads CR and CRLF line ends as LF; a variable's ``default`` with ``${``
  is refused.
* App and kernel names and dotted class paths follow ``bridge.protocol.is_identifier`` (an
  identifier, not a keyword, NFKC-normalised as Python reads it); logger levels are
  ``protocol.LEVEL_NAMES``. ``clear_cache`` module names keep their own rule (``is_module``:
  keywords allowed). Config validates ``suppress_regex``/``replace_regex``; applying them is
  ``protocol.LineFilter``'s.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Collection, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .interpolate import EXEC_TIMEOUT, FILTERS, FUNCTIONS
from .model import (
    TORNADO_CLASSES,
    WATCHDOG_CLASSES,
    AppConfig,
    Config,
    ConfigError,
    Diagnostic,
    JobConfig,
    KernelConfig,
    LoggerConfig,
    ProcessConfig,
    WatchHandler,
)
from .source import MAX_SIZE, display, path_list, read, to_text
from .validate import check_sources, default_clear_cache
from .variables import parse_variables

__all__ = [
    "Diagnostic",
    "ConfigError",
    "LoggerConfig",
    "KernelConfig",
    "WatchHandler",
    "AppConfig",
    "ProcessConfig",
    "JobConfig",
    "Config",
    "load",
    "loads",
    "check",
    "parse_variables",
    "default_clear_cache",
    "MAX_SIZE",
    "EXEC_TIMEOUT",
    "FILTERS",
    "FUNCTIONS",
    "TORNADO_CLASSES",
    "WATCHDOG_CLASSES",
]

PathLike = Union[str, "os.PathLike[str]"]


def load(
    path_or_paths: Union[PathLike, Sequence[PathLike]],
    variables: Optional[Mapping[str, Any]] = None,
    *,
    allow_exec: bool = True,
    kernelspecs: Union[None, Collection[str], Callable[[], Collection[str]]] = None,
) -> Config:
    """Read and check the config at ``path_or_paths``.

    Several files (a list) are deep-merged in order, as Jaffle did: blocks
    and maps merge key by key, and a list or a plain value from a later file
    replaces the earlier one.  Each diagnostic names the file that supplied
    the value in question.

    ``variables`` (name -> value, e.g. from :func:`parse_variables`) set
    ``variable`` blocks' values, over their ``default`` and over
    ``J_VAR_<name>`` environment variables; strings are converted to the
    type of the variable's default.

    ``${exec('...')}`` in the file runs that command now, at load time;
    with ``allow_exec=False`` it does not: each value holding one is
    checked for form only, and a ``note`` diagnostic in ``warnings`` names
    the command not run (``check`` without ``--exec``).

    ``kernelspecs``: the Jupyter kernelspec names installed, or a function
    returning them, called only when a kernel has a ``kernel_name`` (the
    caller asks jupyter_client; this package does not import it); a
    ``kernel_name`` not among them is an error.  None: not checked.

    Raises :class:`ConfigError` for every problem, including a missing or
    unreadable file, a directory, text that is not UTF-8 and a file over
    :data:`MAX_SIZE` bytes (refused before it is read).
    """
    # MAX_SIZE is read here, at each load, so that it stays a setting of this module
    sources = [read(path, MAX_SIZE) for path in path_list(path_or_paths)]
    return _loads(sources, variables, allow_exec=allow_exec, kernelspecs=kernelspecs)


def loads(
    text: Union[str, bytes],
    path: str = "<string>",
    variables: Optional[Mapping[str, Any]] = None,
    *,
    allow_exec: bool = True,
    kernelspecs: Union[None, Collection[str], Callable[[], Collection[str]]] = None,
) -> Config:
    """Check config ``text`` as if read from ``path`` (default ``"<string>"``).

    Relative paths in the text are resolved against ``path``'s directory, or
    the current directory when ``path`` is ``"<string>"``.  ``variables``,
    ``allow_exec`` and ``kernelspecs`` as for :func:`load`.  Raises :class:`ConfigError`.
    """
    shown = display(path)
    absolute = os.path.abspath(shown) if shown != "<string>" else os.path.join(os.getcwd(), "<string>")
    return _loads([(text, shown, absolute)], variables, allow_exec=allow_exec, kernelspecs=kernelspecs)


def check(
    path_or_paths: Union[PathLike, Sequence[PathLike]],
    variables: Optional[Mapping[str, Any]] = None,
    *,
    allow_exec: bool = True,
    kernelspecs: Union[None, Collection[str], Callable[[], Collection[str]]] = None,
) -> Tuple[Optional[Config], List[Diagnostic]]:
    """Never raises: ``(config, warnings)`` or ``(None, errors + warnings)``; arguments as for :func:`load`."""
    try:
        config = load(path_or_paths, variables, allow_exec=allow_exec, kernelspecs=kernelspecs)
    except ConfigError as e:
        return None, list(e.diagnostics)
    except Exception as e:  # a bug of ours must not take the caller down
        try:
            first = display(path_list(path_or_paths)[0])
        except Exception:
            first = "<config>"
        return None, [Diagnostic(first, 1, 1, "internal error while checking: %r" % e)]
    return config, list(config.warnings)


def _loads(
    sources: List[Tuple[Union[str, bytes], str, str]],
    variables: Optional[Mapping[str, Any]],
    *,
    allow_exec: bool = True,
    kernelspecs: Union[None, Collection[str], Callable[[], Collection[str]]] = None,
) -> Config:
    """``sources`` are (text or bytes, path as shown, absolute path), in merge order."""
    texts = [to_text(*src, max_size=MAX_SIZE) for src in sources]
    order = {src.shown: i for i, src in reversed(list(enumerate(texts)))}
    # EXEC_TIMEOUT is read here, at each load, so that it stays a setting of this module
    config, diags = check_sources(
        texts, variables, exec_timeout=EXEC_TIMEOUT, allow_exec=allow_exec, kernelspecs=kernelspecs
    )
    if config is None or any(d.severity == "error" for d in diags):
        raise ConfigError(_sorted(diags, order))
    config.warnings = _sorted(diags, order)
    return config


def _sorted(diags: List[Diagnostic], order: Optional[Dict[str, int]] = None) -> List[Diagnostic]:
    """Unique, errors first, then by file (in merge order), line and column."""
    order = order or {}
    seen = set()
    unique = []
    for d in diags:
        if d not in seen:
            seen.add(d)
            unique.append(d)
    return sorted(unique, key=lambda d: (d.severity != "error", order.get(d.path, -1), d.line, d.col))
