"""Which Python runs the kernels, and with which environment.

Kernels always run in the *user's* Python: the one that has their project's
dependencies.  For a pip-installed launcher that is simply the launcher's own
interpreter (``sys.executable``).  In a frozen (PyInstaller) app
``sys.executable`` is the app itself, so starting ``sys.executable -m
ipykernel_launcher`` would open a second window; the frozen app looks for a
real interpreter instead (:func:`find_python`), checks that it can run a
kernel (:func:`check_python`) and starts it with the environment the user's
shell would have given it (:func:`child_env`), not the one PyInstaller's
bootloader and runtime hooks rewrote for the app.

Nothing here imports Qt or jupyter_client; every function is safe to call
from any thread except :func:`check_python`, a coroutine for the running loop.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence

__all__ = [
    "InterpreterError",
    "is_frozen",
    "find_python",
    "check_python",
    "child_env",
    "kernel_argv",
    "pip_install_hint",
    "CHECK_TIMEOUT",
]

#: Seconds :func:`check_python` waits for the interpreter to answer.  A cold
#: import of ipykernel from a network home directory can take several seconds.
CHECK_TIMEOUT = 20.0

_WINDOWS = sys.platform.startswith("win")

# Variables the PyInstaller bootloader sets for its own processes.  Any other
# ``_PYI_*`` variable is dropped too (the prefix is reserved by PyInstaller).
_BOOTLOADER_VARS = ("_MEIPASS2", "PYINSTALLER_RESET_ENVIRONMENT")

# Library search path variables the bootloader rewrites, saving the user's
# value under ``<NAME>_ORIG`` (Linux: LD_LIBRARY_PATH, AIX: LIBPATH; macOS
# builds may touch DYLD_LIBRARY_PATH).
_LIBRARY_PATH_VARS = ("LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH", "LIBPATH")

# Set by the Qt runtime hook to the bundle's own Qt; in a kernel they would
# make a user's PySide6/PyQt (e.g. a matplotlib Qt backend) load our plugins.
_QT_VARS = ("QT_PLUGIN_PATH", "QT_QPA_PLATFORM_PLUGIN_PATH", "QML2_IMPORT_PATH")

# Probe run inside the candidate interpreter.  It imports (rather than
# merely finds) each module so that a broken install is caught here, not at
# kernel start, and prints one JSON line.
_PROBE = r"""
import json, sys
out = {"python": sys.version.split()[0], "executable": sys.executable, "missing": {}, "versions": {}}
for name in ("ipykernel", "tornado"):
    try:
        mod = __import__(name)
    except Exception as exc:
        out["missing"][name] = "%s: %s" % (type(exc).__name__, exc)
    else:
        out["versions"][name] = str(getattr(mod, "__version__", getattr(mod, "version", "?")))
print("TL-PROBE " + json.dumps(out))
"""


class InterpreterError(Exception):
    """No usable Python was found.  ``str(exc)`` is a sentence for the user."""


def is_frozen() -> bool:
    """True when running inside a PyInstaller (or similar) frozen app."""
    return bool(getattr(sys, "frozen", False))


# ---------------------------------------------------------------------------
# child environment


def _bundle_roots() -> list[str]:
    """Directories that belong to the frozen bundle (empty when not frozen).

    ``sys._MEIPASS`` is the bundle's data/library directory: ``<app>/_internal``
    for a onedir build, ``Foo.app/Contents/Frameworks`` for a macOS app.  Its
    parent is the bundle too in those two layouts (never a shared directory
    such as ``/usr/bin``, which could hold a symlink to the executable).
    """
    meipass = getattr(sys, "_MEIPASS", None)
    if not is_frozen() or not meipass:
        return []
    root = os.path.normpath(os.path.abspath(meipass))
    roots = [root]
    if os.path.basename(root) in ("_internal", "Frameworks"):
        parent = os.path.dirname(root)
        if parent and parent != os.path.dirname(parent):
            roots.append(parent)
    return roots


def _inside(path: str, roots: Sequence[str]) -> bool:
    if not path:
        return False
    norm = os.path.normcase(os.path.normpath(os.path.abspath(path)))
    for root in roots:
        r = os.path.normcase(root)
        if norm == r or norm.startswith(r.rstrip(os.sep) + os.sep):
            return True
    return False


def _strip_bundle_entries(value: str, roots: Sequence[str]) -> str | None:
    """``value`` without its path-list entries inside the bundle.

    Returns ``value`` unchanged (the same string) when nothing was inside,
    ``None`` when every entry was.
    """
    parts = value.split(os.pathsep)
    kept = [p for p in parts if not (os.path.isabs(p) and _inside(p, roots))]
    if len(kept) == len(parts):
        return value
    kept = [p for p in kept if p]
    return os.pathsep.join(kept) if kept else None


def child_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for kernels and other child processes.

    ``base`` defaults to ``os.environ``; the result is always a new dict.

    When not frozen this is a plain copy.  In a frozen app it undoes what
    PyInstaller did to the environment for the app's own sake:

    * ``LD_LIBRARY_PATH`` (and ``DYLD_LIBRARY_PATH``, ``LIBPATH``) get the
      user's value back from ``<NAME>_ORIG``, or lose the bundle's entries
      (dropped when nothing else is left); the ``*_ORIG`` copies are removed.
      Otherwise the user's Python would load the bundle's libssl, libz,
      libpython...
    * the bootloader's private variables (``_MEIPASS2``, ``_PYI_*``,
      ``PYINSTALLER_RESET_ENVIRONMENT``) are removed;
    * ``QT_PLUGIN_PATH``, ``QT_QPA_PLATFORM_PLUGIN_PATH`` and
      ``QML2_IMPORT_PATH`` are removed when they point into the bundle;
    * any other variable (``PATH`` on Windows, ``PYTHONPATH``, ``PYTHONHOME``,
      ...) loses path entries that point into the bundle, and is dropped if
      nothing else is left.  A user's own ``PYTHONPATH`` is kept: the kernel
      should see what the user's shell would give it.
    """
    env = dict(os.environ if base is None else base)
    roots = _bundle_roots()
    if not roots:
        return env

    for name in _LIBRARY_PATH_VARS:
        orig_name = name + "_ORIG"
        if orig_name in env:
            orig = env.pop(orig_name)
            if orig:
                env[name] = orig
            else:
                env.pop(name, None)

    for name in list(env):
        if name.startswith("_PYI_") or name in _BOOTLOADER_VARS:
            del env[name]

    for name in _QT_VARS:
        value = env.get(name)
        if value is not None and any(_inside(p, roots) for p in value.split(os.pathsep) if p):
            del env[name]

    for name, value in list(env.items()):
        stripped = _strip_bundle_entries(value, roots)
        if stripped is None:
            del env[name]
        elif stripped is not value:
            env[name] = stripped
    return env


# ---------------------------------------------------------------------------
# discovery


def _venv_python(venv_dir: str) -> str | None:
    if _WINDOWS:
        candidates = [os.path.join(venv_dir, "Scripts", "python.exe")]
    else:
        candidates = [os.path.join(venv_dir, "bin", "python"), os.path.join(venv_dir, "bin", "python3")]
    for c in candidates:
        if _is_executable(c):
            return c
    return None


def _is_executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def _is_store_alias(path: str) -> bool:
    """Windows' ``python.exe`` App Execution Alias opens the Microsoft Store."""
    return _WINDOWS and "windowsapps" in os.path.normcase(path)


def _common_locations() -> list[str]:
    if _WINDOWS:
        found: list[str] = []
        for base in (os.environ.get("LOCALAPPDATA"), os.environ.get("ProgramFiles")):
            if not base:
                continue
            pattern = os.path.join(base, "Programs", "Python", "Python3*", "python.exe")
            if base == os.environ.get("ProgramFiles"):
                pattern = os.path.join(base, "Python3*", "python.exe")
            found.extend(sorted(glob.glob(pattern), key=_version_key, reverse=True))
        return found
    home = os.path.expanduser("~")
    return [
        "/opt/homebrew/bin/python3",
        "/usr/local/bin/python3",
        "/Library/Frameworks/Python.framework/Versions/Current/bin/python3",
        os.path.join(home, ".pyenv", "shims", "python3"),
        os.path.join(home, ".local", "bin", "python3"),
        # Last: on macOS this may be the Command Line Tools stub.
        "/usr/bin/python3",
    ]


def _version_key(path: str) -> tuple[int, ...]:
    """``...\\Python312\\python.exe`` -> (3, 12) so the newest sorts first."""
    digits = "".join(ch for ch in os.path.basename(os.path.dirname(path)) if ch.isdigit())
    if len(digits) >= 2:
        return (int(digits[0]), int(digits[1:]))
    return (0,)


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def project_venv_python(directory: str) -> str | None:
    """The interpreter of the project's own virtualenv in ``directory`` (``.venv``, then ``venv``;
    ``bin/python`` or ``Scripts\\python.exe``), if there is one and it is not the running program.
    (A venv's ``python`` is a symlink to its base interpreter, which may be the launcher's own
    too: only the frozen app compares the files; otherwise the paths, as the site-packages differ.)"""
    me = sys.executable
    for name in (".venv", "venv"):
        found = _venv_python(os.path.join(os.path.abspath(directory), name))
        if found and not (_same_file(found, me) if is_frozen() else os.path.abspath(found) == os.path.abspath(me)):
            return found
    return None


def find_python(config_dir: str, explicit: str | None = None) -> str:
    """The interpreter kernels of the project in ``config_dir`` should run in.

    In order:

    1. ``explicit`` (the kernel block's ``python``, already absolute), as is:
       :func:`check_python` reports if it is missing or unusable;
    2. when not frozen, ``sys.executable``: the launcher's own Python, the
       one a pip install put the launcher in;
    3. when frozen, the project's own virtualenv next to the config
       (``.venv`` or ``venv``; ``bin/python`` or ``Scripts\\python.exe``),
       then the first ``python3``/``python`` on ``PATH`` (the user's ``PATH``,
       see :func:`child_env`), then common install locations, because an app
       started from the macOS Finder gets a minimal ``PATH``.

    The frozen app itself is never returned.  Raises :class:`InterpreterError`
    when nothing is found.
    """
    if explicit:
        return explicit
    if not is_frozen():
        return sys.executable

    me = sys.executable
    config_dir = os.path.abspath(config_dir)
    found = project_venv_python(config_dir)
    if found:
        return found

    path = child_env().get("PATH", "")
    names = ("python.exe", "python3.exe") if _WINDOWS else ("python3", "python")
    for name in names:
        found = shutil.which(name, path=path)
        if found and not _is_store_alias(found) and not _same_file(found, me):
            return os.path.abspath(found)

    for candidate in _common_locations():
        if _is_executable(candidate) and not _same_file(candidate, me):
            return candidate

    venvs = " or ".join(os.path.join(config_dir, n) for n in (".venv", "venv"))
    raise InterpreterError(
        "No Python interpreter was found to run the kernels (looked in "
        f"{venvs}, on PATH and in the usual install locations): install "
        "Python 3 with `pip install ipykernel tornado`, or set `python` in "
        "the kernel block of jaffle.hcl to its full path."
    )


# ---------------------------------------------------------------------------
# checking


def _quote(path: str) -> str:
    if _WINDOWS:
        return f'"{path}"' if (" " in path or "&" in path) else path
    return shlex.quote(path)


def pip_install_hint(python: str, packages: Sequence[str] = ("ipykernel", "tornado")) -> str:
    """The command that installs ``packages`` into ``python``."""
    return f"{_quote(python)} -m pip install {' '.join(packages)}"


def _parse_probe(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("TL-PROBE "):
            try:
                return json.loads(line[len("TL-PROBE "):])
            except ValueError:
                return None
    return None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else ""


async def _run(argv: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run ``argv`` without blocking the loop; raise TimeoutError on timeout.

    Uses asyncio's subprocess support; loops without it (a Qt/qasync loop on
    Windows may lack it) fall back to a worker thread.
    """
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
        )
    except NotImplementedError:
        def blocking() -> tuple[int, str, str]:
            r = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=timeout
            )
            return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")

        try:
            return await asyncio.to_thread(blocking)
        except subprocess.TimeoutExpired as exc:
            raise TimeoutError from exc

    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except (asyncio.TimeoutError, asyncio.CancelledError):
        if proc.returncode is None:
            try:
                proc.kill()
            except ProcessLookupError:
                pass
            await proc.wait()
        raise
    return proc.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


async def check_python(python: str, env: Mapping[str, str] | None = None) -> str | None:
    """Check that ``python`` can run a kernel: it starts and imports
    ``ipykernel`` and ``tornado``.

    ``env`` defaults to ``os.environ``; either way it goes through
    :func:`child_env`, so the check sees what the kernel will see.

    Returns ``None`` when it can, otherwise a sentence that names the
    interpreter and the fix, for example ``/p/.venv/bin/python lacks
    ipykernel: run `/p/.venv/bin/python -m pip install ipykernel tornado`, or
    set `python` in the kernel block to an interpreter that has them.``
    Never raises for a bad interpreter and never blocks the event loop
    (runs for at most :data:`CHECK_TIMEOUT` seconds).
    """
    if not os.path.isabs(python):
        resolved = shutil.which(python, path=child_env(env).get("PATH"))
        if resolved is None:
            return (
                f"The Python interpreter {python!r} was not found: set `python` in the "
                "kernel block to the full path of an interpreter that has ipykernel and tornado."
            )
        python = resolved
    if not os.path.exists(python):
        return (
            f"The Python interpreter {python} does not exist: set `python` in the kernel "
            "block to the full path of an interpreter that has ipykernel and tornado."
        )
    if os.path.isdir(python) or not os.access(python, os.X_OK):
        return (
            f"{python} is not an executable program: set `python` in the kernel block "
            "to the full path of a Python interpreter (for a virtualenv, its bin/python)."
        )

    argv = [python, "-c", _PROBE]
    try:
        code, out, err = await _run(argv, child_env(env), CHECK_TIMEOUT)
    except (TimeoutError, asyncio.TimeoutError):  # distinct types on Python 3.10
        return (
            f"{python} did not answer within {CHECK_TIMEOUT:.0f} s while importing ipykernel "
            f"and tornado: try `{_quote(python)} -c \"import ipykernel, tornado\"` in a terminal "
            "to see what it waits for."
        )
    except OSError as exc:
        return (
            f"{python} could not be started ({exc.strerror or exc}): set `python` in the kernel "
            "block to a working Python interpreter."
        )

    info = _parse_probe(out)
    if info is None:
        detail = _last_line(err) or _last_line(out) or f"exit status {code}"
        return (
            f"{python} failed to run ({detail}): check that it is a working Python 3 "
            "interpreter, or set `python` in the kernel block to another one."
        )
    missing = list(info.get("missing", {}))
    if missing:
        what = " and ".join(missing)
        broken = [
            f"{m} ({msg})" for m, msg in info["missing"].items()
            if not msg.startswith(("ModuleNotFoundError", "ImportError: No module"))
        ]
        if broken:
            return (
                f"{python} cannot import {', '.join(broken)}: run "
                f"`{pip_install_hint(python, ('--force-reinstall', 'ipykernel', 'tornado'))}`."
            )
        return (
            f"{python} lacks {what}: run `{pip_install_hint(python)}`, or set `python` in "
            "the kernel block to an interpreter that has them."
        )
    return None


def kernel_argv(python: str) -> list[str]:
    """The kernel command line for ``python``, jupyter_client style."""
    return [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
