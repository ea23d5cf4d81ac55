"""The command line: ``tornado-launcher [gui|start|check] [CONFIG]``.

* ``tornado-launcher [gui] [CONFIG]`` opens the window;
* ``tornado-launcher start [CONFIG]`` runs headless until Ctrl+C / SIGTERM;
* ``tornado-launcher check [--exec] [CONFIG]`` validates: exit 0 runnable, 2 not;
  it runs no ``${exec()}`` command unless given ``--exec``.  ``start`` runs
  the same validation first and exits 2 with the same sentences;
* ``tornado-launcher run TARGET`` / ``init [TARGET...]``: one app without a config, and
  writing one (:mod:`tornado_launcher.zeroconf.commands`);
* ``--version``.

The window needs a display: without one, ``gui`` says so in one line (exit 2).
CONFIG defaults to ``./jaffle.hcl``.  Qt is imported only for the window.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import List, Optional

from . import __version__

COMMANDS = ("gui", "start", "check")
#: handled by control_client.py (kept here so `cli` stays import-light)
CONTROL_COMMANDS = ("status", "restart", "stop", "interrupt", "restart-kernel", "logs")
#: handled by zeroconf.py: `run TARGET`, `init [TARGET...]`
ZEROCONF_COMMANDS = ("run", "init")
DEFAULT_CONFIG = "jaffle.hcl"
EXIT_INVALID = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tornado-launcher",
        description="Run Tornado apps inside IPython kernels, from a jaffle.hcl.",
        epilog="Commands: gui (default) opens the window; start runs headless until Ctrl+C; "
        "run TARGET runs one app without a config (run -h); init writes a jaffle.hcl for the apps found here; "
        "check validates the config (exit 0 runnable, 2 not). CONFIG defaults to ./jaffle.hcl. "
        "A running launcher: status [--json], restart APP..., stop APP..., interrupt KERNEL, restart-kernel KERNEL, "
        "logs APP [-f] "
        "(each with -c CONFIG; exit 0 done, 1 failed, 3 none running). install-desktop [--user] adds the "
        "menu entry and .hcl association.",
    )
    p.add_argument("--version", action="version", version=f"tornado-launcher {__version__}")
    p.add_argument("command", nargs="?", choices=COMMANDS, help=argparse.SUPPRESS)
    p.add_argument("config", nargs="*", metavar="CONFIG",
                   help="path to jaffle.hcl (default: ./jaffle.hcl); several files are deep-merged in order")
    p.add_argument("--no-reload", action="store_true", help="start with auto-reload off for every app")
    p.add_argument("--variables", action="append", metavar="NAME=VALUE", default=[],
                   help="override a `variable` block (repeatable); typed by the variable's default")
    p.add_argument("--allow-second", action="store_true",
                   help="start: run even when another launcher already runs this config (by default start "
                   "refuses with exit 2 and names that launcher's pid)")
    p.add_argument("--exec", action="store_true", dest="run_exec",
                   help="check: also run the config's ${exec('...')} commands (without it, check runs "
                   "nothing and says which it did not run; start and the window always run them)")
    return p


def parse_args(argv: List[str]) -> argparse.Namespace:
    # `tornado-launcher CONFIG` means `gui CONFIG`: put the command in front.
    if argv and not argv[0].startswith("-") and argv[0] not in COMMANDS:
        argv = ["gui"] + argv
    ns = _parser().parse_intermixed_args(argv)  # options before or after the config paths
    ns.command = ns.command or "gui"
    return ns


def _print_diagnostics(diags, stream=None) -> None:
    stream = stream or sys.stderr
    for d in diags:
        stream.write(f"{d}\n")


def _load_args(paths: List[str], variables: List[str]):
    """(the config argument for load/check, the variables dict) or raises ConfigError."""
    from .config import parse_variables

    return (paths[0] if len(paths) == 1 else paths), parse_variables(variables)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def _validate(paths: List[str], variables: List[str], *, allow_exec: bool, show_warnings: bool):
    """The one validation `check` and `start` share, before anything starts:
    the config (every problem at its file:line:col, kernelspecs included),
    then each kernel's interpreter.  Returns the Config, or None after
    printing the errors and the `not runnable` line."""
    from .config import ConfigError, check

    def _installed_kernelspecs() -> List[str]:  # asked only when a kernel names one
        from .kernels.kernel import installed_kernelspecs
        return installed_kernelspecs()

    path = paths[0] if len(paths) == 1 else " + ".join(paths)
    try:
        target, values = _load_args(paths, list(variables))
    except ConfigError as e:
        _print_diagnostics(e.diagnostics)
        return None, []
    config, diags = check(target, values, allow_exec=allow_exec, kernelspecs=_installed_kernelspecs)
    errors = [d for d in diags if d.severity == "error"]
    if config is None or errors:
        _print_diagnostics(diags)
        sys.stderr.write(f"{path}: {_plural(len(errors), 'error')}; not runnable\n")
        return None, diags
    if show_warnings:
        _print_diagnostics(diags)
    problems = asyncio.run(_kernel_problems(config))
    if problems and not show_warnings:
        _print_diagnostics(diags)  # refused: the warnings will not reach the session's log
    for line in problems:
        sys.stderr.write(f"{line}\n")
    if problems:
        sys.stderr.write(f"{path}: {_plural(len(problems), 'error')}; not runnable\n")
        return None, diags
    return config, diags


def cmd_check(paths: List[str], variables: List[str] = (), run_exec: bool = False) -> int:
    path = paths[0] if len(paths) == 1 else " + ".join(paths)
    config, diags = _validate(paths, list(variables), allow_exec=run_exec, show_warnings=True)
    if config is None:
        return EXIT_INVALID
    warns = len([d for d in diags if d.severity == "warning"])
    notes = len(diags) - warns
    tail = f" ({_plural(warns, 'warning')})" if warns else ""
    if notes:
        tail += f"; {notes} exec() command{'s' if notes != 1 else ''} not run (--exec runs them)"
    counts = [(len(config.kernels), "kernel"), (len(config.apps), "app"),
              (len(config.processes), "process"), (len(config.jobs), "job")]
    what = ", ".join(f"{n} {word}{'' if n == 1 else ('es' if word == 'process' else 's')}"
                     for n, word in counts if n or word in ("kernel", "app"))
    sys.stdout.write(f"{path}: OK, {what}{tail}\n")
    return 0


async def _kernel_problems(config) -> List[str]:
    """Each kernel's interpreter must exist and have ipykernel and tornado."""
    from .kernels import interpreter

    out = []
    for name, k in config.kernels.items():
        if k.connection_file or k.gateway_url:
            continue  # attached to a running kernel: its Python is checked by the bridge's hello
        if k.kernel_name and not (interpreter.is_frozen() and k.kernel_name in ("python3", "python")):
            continue  # a kernelspec: jupyter_client resolves it at start
        try:
            python = interpreter.find_python(config.directory, k.python)
        except interpreter.InterpreterError as e:
            problem = str(e)
        else:
            if not interpreter.is_frozen() and python == sys.executable:
                continue  # the launcher's own Python has both: they are its dependencies
            problem = await interpreter.check_python(python, interpreter.child_env())
        if problem:
            out.append(f"{config.path}:{k.line or 1}:1: kernel {name!r}: {problem}")
    return out


def _reload(paths: List[str], variables: List[str]):
    """A saved edit, read as `start` read the config: ``check``'s ``(config, diagnostics)``."""
    from .config import ConfigError, check
    from .kernels.kernel import installed_kernelspecs

    try:
        target, values = _load_args(paths, variables)
    except ConfigError as e:
        return None, list(e.diagnostics)
    return check(target, values, kernelspecs=installed_kernelspecs)


def cmd_start(paths: List[str], auto_reload: bool, variables: List[str] = (), allow_second: bool = False) -> int:
    from .terminal import headless

    # the validation `check` does, so that a config `check` passes is one `start` starts
    config, _ = _validate(paths, list(variables), allow_exec=True, show_warnings=False)
    if config is None:
        return EXIT_INVALID
    # warnings reach the terminal through the session's log, once
    try:
        return asyncio.run(headless.run(config, auto_reload=auto_reload, allow_second=allow_second,
                                        reload_config=lambda: _reload(paths, list(variables))))
    except KeyboardInterrupt:  # a second Ctrl+C during shutdown
        return 130


#: QT_QPA_PLATFORM values that need no display server
_HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb", "vkkhrdisplay")


def no_display() -> Optional[str]:
    """The line to print when the window cannot open for want of a display (else None): Linux and
    the BSDs with neither DISPLAY nor WAYLAND_DISPLAY and no display-less Qt platform chosen."""
    if sys.platform == "darwin" or sys.platform.startswith("win"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip()
    if platform in _HEADLESS_PLATFORMS:
        return None
    if os.environ.get("DISPLAY") and platform != "wayland":
        return None
    if os.environ.get("WAYLAND_DISPLAY") and platform != "xcb":
        return None
    return ("tornado-launcher: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set): "
            "run headless with `tornado-launcher start [jaffle.hcl]`, or `tornado-launcher run server.py` "
            "for one app without a config")


def cmd_gui(paths: List[str], auto_reload: bool, variables: List[str] = ()) -> int:
    from .config import ConfigError, parse_variables

    problem = no_display()
    if problem:
        sys.stderr.write(problem + "\n")
        return EXIT_INVALID

    try:
        values = parse_variables(list(variables))
    except ConfigError as e:
        _print_diagnostics(e.diagnostics)
        return EXIT_INVALID
    os.environ.setdefault("QT_API", "pyside6")
    from . import gui

    path = paths[0] if paths else None
    return gui.run(path, auto_reload=auto_reload, overlays=paths[1:], variables=values)


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # --- control commands (status/restart/stop/interrupt/logs) and install-desktop: own parsers
    if argv and argv[0] in CONTROL_COMMANDS:
        from .control import client as control_client
        return control_client.main(argv)
    if argv and argv[0] == "install-desktop":
        from . import desktop
        return desktop.main(argv[1:])
    if argv and argv[0] in ZEROCONF_COMMANDS:  # run / init: no config file (zeroconf.py)
        from .zeroconf import commands as zeroconf
        return zeroconf.cmd_run(argv[1:]) if argv[0] == "run" else zeroconf.cmd_init(argv[1:])
    # ---
    ns = parse_args(argv)
    if ns.command == "check":
        return cmd_check(ns.config or [DEFAULT_CONFIG], ns.variables, ns.run_exec)
    if ns.command == "start":
        return cmd_start(ns.config or [DEFAULT_CONFIG], not ns.no_reload, ns.variables, ns.allow_second)
    paths = list(ns.config)
    if not paths and os.path.exists(DEFAULT_CONFIG):
        paths = [DEFAULT_CONFIG]
    return cmd_gui(paths, not ns.no_reload, ns.variables)


def gui_main() -> int:
    """Entry point of the windowed launcher (no console on Windows)."""
    args = sys.argv[1:]
    return main(args if args and args[0] in COMMANDS + ZEROCONF_COMMANDS else ["gui"] + args)


if __name__ == "__main__":
    raise SystemExit(main())
