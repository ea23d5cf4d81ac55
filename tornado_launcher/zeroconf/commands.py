"""`tornado-launcher run TARGET` and `tornado-launcher init [TARGET...]`: no config file to write first.

``run`` detects what TARGET is (:mod:`tornado_launcher.zeroconf.detect`), renders the
jaffle.hcl a user would write for that one app (:mod:`tornado_launcher.zeroconf.scaffold`),
loads it in memory and runs it with the same engine as ``start``: same
printer, same control socket (named after the target's file:
``tornado-launcher status -c server.py``), Ctrl+C exits 0.  ``init`` writes
that file (every app found, or the ones named) and never overwrites one
without ``--force``.  Bad input is one line and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import os
import sys
from typing import List, Optional, Tuple

EXIT_INVALID = 2
#: exit status of `init` when jaffle.hcl exists and --force is not given
EXIT_EXISTS = 1


def _err(message: str) -> int:
    sys.stderr.write(message.rstrip() + "\n")
    return EXIT_INVALID


def _split_app_argv(argv: List[str]) -> Tuple[List[str], List[str]]:
    """Ours before the first ``--``, the app's own after it."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1:]
    return argv, []


def _run_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tornado-launcher run",
        description="Run one Tornado app in an IPython kernel, reloaded on save, without a config file.",
        epilog="TARGET: a script (server.py, run as __main__), module:function (a main, sync or async), or "
        "module:factory / module:ApplicationSubclass / module:instance (a tornado.web.Application; needs --port). "
        "Everything after -- is the app's own command line. Control it from another terminal with "
        "`tornado-launcher status -c FILE` (FILE: the script or the module's file).")
    p.add_argument("target", metavar="TARGET")
    p.add_argument("--port", type=int, metavar="N", help="where an Application (or factory) listens")
    p.add_argument("--address", metavar="A", help="the interface it listens on (default 127.0.0.1)")
    p.add_argument("--threaded", action="store_true", help="run the app on its own thread and event loop")
    p.add_argument("--no-reload", action="store_true", help="do not reload on save")
    p.add_argument("--live-reload", action="store_true", help="reload the app's HTML pages in the browser too")
    p.add_argument("--python", metavar="PATH", help="the kernel's interpreter (default: the project's .venv or "
                   "venv, else the launcher's own)")
    p.add_argument("--watch", metavar="DIR", help="reload on saves under DIR (default: the current directory)")
    p.add_argument("--gui", action="store_true", help="open the window on this app instead of running headless")
    return p


def _python(given: Optional[str], directory: str) -> Tuple[Optional[str], Optional[str]]:
    """(the kernel's interpreter, None) or (None, the error line)."""
    import shutil

    from ..kernels.interpreter import project_venv_python

    if given:
        path = os.path.expanduser(given)
        if os.sep not in path:
            found = shutil.which(path)
            if found is None:
                return None, f"--python {given}: no such program on PATH: give the interpreter's full path"
            path = found
        return os.path.abspath(path), None
    return project_venv_python(directory) or sys.executable, None


def _check_python(python: str) -> Optional[str]:
    from ..kernels.interpreter import check_python

    if python == sys.executable:
        return None  # the launcher's own: ipykernel and tornado are its dependencies
    problem = asyncio.run(check_python(python))
    return problem and problem.replace("set `python` in the kernel block to", "give --python")


def _load(text: str, directory: str):
    """The Config `text` would be as ``directory/jaffle.hcl``, or the diagnostics."""
    from ..config import ConfigError, loads
    from .scaffold import CONFIG_NAME

    try:
        return loads(text, os.path.join(directory, CONFIG_NAME)), []
    except ConfigError as e:
        return None, e.diagnostics


def plan_run(ns: argparse.Namespace, app_argv: List[str], directory: str):
    """(config, first line, hcl text) for `run`, or raises ValueError(the error line)."""
    from . import detect
    from .scaffold import Plan, render

    python, problem = _python(ns.python, directory)
    if problem:
        raise ValueError(problem)
    problem = _check_python(python)
    if problem:
        raise ValueError(problem)
    try:
        found = detect.classify(ns.target, directory, python=python, port_given=ns.port is not None)
    except detect.TargetError as e:
        raise ValueError(str(e)) from None
    if found.style == detect.APPLICATION and ns.port is None:
        port = found.port or 8888
        raise ValueError(f"{found.entry} is {_article(found.what)}, which the launcher serves: it needs a port, write "
                         f"`tornado-launcher run {ns.target} --port {port}`")
    if found.style != detect.APPLICATION and (ns.port is not None or ns.address is not None):
        flag = f"--port={ns.port}" if ns.port is not None else f"--address={ns.address}"
        raise ValueError(f"{found.entry} is {_article(found.what)}: it listens by itself, "
                         f"so --port/--address are not the launcher's to give; pass the app's own option after `--`: "
                         f"`tornado-launcher run {ns.target} -- {flag}`")
    if ns.port is not None and not 0 <= ns.port <= 65535:
        raise ValueError(f"--port {ns.port}: a port is 0 to 65535")
    watch = None
    if ns.watch:
        watch = os.path.abspath(ns.watch)
        if not os.path.isdir(watch):
            raise ValueError(f"--watch {ns.watch}: no such directory")
        if os.path.realpath(watch) == os.path.realpath(directory):
            watch = None
    plan = Plan(found, port=ns.port, address=ns.address, argv=list(app_argv), threaded=ns.threaded,
                live_reload=ns.live_reload)
    text = render([plan], directory, python=None if python == sys.executable else python, comments=False,
                  watch=watch)
    config, diags = _load(text, directory)
    if config is None:
        raise ValueError("; ".join(str(d) for d in diags))
    # the control socket (and `status -c FILE`) is named after the app's file
    config.path = found.path
    config.paths = [found.path]
    shown = os.path.relpath(found.path, directory) if found.path.startswith(directory + os.sep) else found.path
    reload = "off (--no-reload)" if ns.no_reload else f"on save under {watch or directory}"
    first = (f"run: {found.entry} is {_article(found.what)}; app {found.name!r} in a kernel of {python}, reload "
             f"{reload}; control it with `tornado-launcher status -c {shown}`")
    return config, first, text


def _article(what: str) -> str:
    return what if what.startswith(("a ", "an ")) else ("an " if what[0] in "aeiou" else "a ") + what


def cmd_run(argv: List[str]) -> int:
    ours, app_argv = _split_app_argv(argv)
    ns = _run_parser().parse_args(ours)
    directory = os.getcwd()
    try:
        config, first, text = plan_run(ns, app_argv, directory)
    except ValueError as e:
        return _err(str(e))
    if ns.gui:
        from ..cli import no_display

        problem = no_display()
        if problem:
            return _err(problem)
        sys.stdout.write(first + "\n")
        sys.stdout.flush()
        os.environ.setdefault("QT_API", "pyside6")
        from .. import gui

        return gui.run(None, auto_reload=not ns.no_reload, generated=(config.path, text, directory))
    sys.stdout.write(first + "\n")
    sys.stdout.flush()
    from ..terminal import headless

    try:
        return asyncio.run(headless.run(config, auto_reload=not ns.no_reload))
    except KeyboardInterrupt:  # a second Ctrl+C during shutdown
        return 130


# ---------------------------------------------------------------------------
# init


def _init_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tornado-launcher init",
        description="Write a jaffle.hcl for the project in the current directory: the Tornado apps found "
        "(or the TARGETs named, as `run` reads them), each with its entry point and port.")
    p.add_argument("targets", nargs="*", metavar="TARGET")
    p.add_argument("--force", action="store_true", help="replace an existing jaffle.hcl (the difference is shown)")
    return p


def init_text(directory: str, targets: List[str] = (), *, python: Optional[str] = None,
              skipped: Optional[List[str]] = None):
    """(plans, hcl text) for the project in ``directory``; raises ValueError(the error line)."""
    from ..kernels.interpreter import project_venv_python
    from . import detect
    from .scaffold import plan_apps, render

    directory = os.path.abspath(directory)
    python = python or project_venv_python(directory)
    if targets:
        found, taken = [], []
        for t in targets:
            try:
                f = detect.classify(t, directory, python=python)
            except detect.TargetError as e:
                raise ValueError(str(e)) from None
            f.name = detect.app_name(f.name, tuple(taken))
            taken.append(f.name)
            found.append(f)
    else:
        found = detect.find_apps(directory, python=python, skipped=skipped)
        if not found:
            raise ValueError(f"no Tornado app found in {directory} (a script with an `if __name__ == \"__main__\":` "
                             "block that imports tornado, or a module with a `main` or an Application factory): "
                             "name it, e.g. `tornado-launcher init server.py` or `tornado-launcher init app:main`")
    plans = plan_apps(found)
    text = render(plans, directory, python=python)
    config, diags = _load(text, directory)
    if config is None:  # never write what `check` refuses
        raise ValueError("; ".join(str(d) for d in diags))
    return plans, text


def cmd_init(argv: List[str]) -> int:
    from .scaffold import CONFIG_NAME, summary

    ns = _init_parser().parse_args(argv)
    directory = os.getcwd()
    path = os.path.join(directory, CONFIG_NAME)
    skipped: List[str] = []
    try:
        plans, text = init_text(directory, ns.targets, skipped=skipped)
    except ValueError as e:
        return _err(str(e))
    for line in skipped:
        sys.stderr.write(f"skipped {line}\n")
    old = None
    if os.path.exists(path):
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                old = f.read()
        except OSError as e:
            return _err(f"{CONFIG_NAME} exists and cannot be read ({e.strerror}): not replaced")
        if not ns.force:
            sys.stderr.write(f"{CONFIG_NAME} already exists: not overwritten. `tornado-launcher init --force` "
                             "replaces it (after showing the difference); `tornado-launcher start` runs it.\n")
            return EXIT_EXISTS
        if old == text:
            sys.stdout.write(f"{CONFIG_NAME} is already what init writes: unchanged\n")
            return 0
        sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True),
                                                   f"{CONFIG_NAME} (before)", f"{CONFIG_NAME} (new)"))
    write_config(path, text)
    what = "replaced" if old is not None else "wrote"
    sys.stdout.write(f"{what} {CONFIG_NAME}: {len(plans)} app{'s' if len(plans) != 1 else ''}\n")
    for line in summary(plans):
        sys.stdout.write(f"  {line}\n")
    sys.stdout.write("next: `tornado-launcher start` runs them here (Ctrl+C stops), "
                     "`tornado-launcher` opens them in the window\n")
    from ..kernels.interpreter import project_venv_python

    venv = project_venv_python(directory)
    problem = _check_python(venv) if venv else None
    if problem:  # the project's venv is written as the kernels' python: `check` will say the same
        sys.stderr.write(f"note: the kernels run the project's {os.path.relpath(venv, directory)}, but {problem}\n")
    return 0


def write_config(path: str, text: str) -> None:
    """Write ``text`` to ``path`` whole (a temporary file renamed over it)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, path)
