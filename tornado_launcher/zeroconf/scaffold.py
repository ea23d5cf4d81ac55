"""The jaffle.hcl for detected apps: the text `init` and Open folder write, and the one `run` loads.

`run` does not build a :class:`~tornado_launcher.config.Config` by hand: it
renders the jaffle.hcl a user would write for that one app and loads it with
:func:`tornado_launcher.config.loads`, so it runs exactly what that file
would.  Values are written as HCL strings (:func:`hcl_string`: quotes and
backslashes escaped, ``${`` written ``$${``), never pasted as code.
Qt-free; used by :mod:`tornado_launcher.zeroconf.commands` and the window.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import List, Optional

from .detect import APPLICATION, Found, app_name

CONFIG_NAME = "jaffle.hcl"
#: the port an Application without one of its own gets (then 8889, ...)
DEFAULT_PORT = 8888


def hcl_string(value: str) -> str:
    """``value`` as an HCL string literal that reads back as ``value`` (no interpolation)."""
    return json.dumps(value, ensure_ascii=False).replace("${", "$${")


def hcl_list(values: List[str]) -> str:
    return "[" + ", ".join(hcl_string(v) for v in values) + "]"


@dataclass
class Plan:
    """One app block to write."""

    found: Found
    port: Optional[int] = None  #: APPLICATION: where the launcher listens for it
    address: Optional[str] = None
    argv: List[str] = field(default_factory=list)
    threaded: bool = False
    live_reload: bool = False
    note: str = ""  #: a comment about the port

    @property
    def name(self) -> str:
        return self.found.name

    @property
    def kernel(self) -> str:
        return f"{self.found.name}_kernel"


def plan_apps(found: List[Found]) -> List[Plan]:
    """``init``'s plans: each app on its own default port where it has one, no two on the same port
    (an Application gets ``port``; an app whose port is an option of its own gets ``--port=N``)."""
    taken = {f.port for f in found if f.port and not f.port_option and f.style != APPLICATION}
    plans = []
    for f in found:
        plan = Plan(f)
        if f.style == APPLICATION or f.port_option:
            port = f.port or DEFAULT_PORT
            while port in taken:
                port += 1
            taken.add(port)
            if f.style == APPLICATION:
                plan.port = port
                plan.note = f"the launcher listens on {port}" + (f" ({f.port_from})" if f.port_from else "")
            else:
                plan.argv = [f"--port={port}"]
                plan.note = f"serves on {port}" + (f" (its default: {f.port_from})" if port == f.port else
                                                   f" (its default {f.port} is another app's here)")
        elif f.port:
            plan.note = f"serves on {f.port} ({f.port_from})"
        plans.append(plan)
    return plans


def _rel_path(path: str, directory: str) -> str:
    try:
        rel = os.path.relpath(path, directory)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def render(plans: List[Plan], directory: str, *, python: Optional[str] = None, comments: bool = True,
           watch: Optional[str] = None) -> str:
    """The jaffle.hcl for ``plans`` in ``directory``.

    ``python``: the kernels' interpreter (written relative to the directory when inside it);
    ``comments``: `init`'s explanations and the common options, commented out;
    ``watch``: another directory to reload from (a WatchdogApp on it) instead of the config's own."""
    directory = os.path.abspath(directory)
    out: List[str] = []
    if comments:
        out += [f"# jaffle.hcl for {os.path.basename(directory) or directory}, written by `tornado-launcher init`.",
                "#   tornado-launcher start   runs it in this terminal (Ctrl+C stops)",
                "#   tornado-launcher         opens it in the window;  tornado-launcher check   checks it",
                "# Each app runs in its own IPython kernel.  Saving a *.py file under this directory",
                "# restarts the apps in milliseconds (the kernel stays; changed modules are re-imported).",
                ""]
    names = {p.name for p in plans}
    for plan in plans:
        f = plan.found
        out.append(f'kernel "{plan.kernel}" {{')
        if python:
            out.append(f"  python = {hcl_string(_rel_path(python, directory))}")
        elif comments:
            out.append('  # python = ".venv/bin/python"   # the kernel\'s interpreter (with ipykernel and tornado);')
            out.append("  #                                # default: the launcher's own")
        out.append("}")
        out.append("")
        if comments:
            out.append(f"# {f.entry}: {f.what}" + (f"; {plan.note}" if plan.note else ""))
        out.append(f'app "{plan.name}" {{')
        out.append('  class  = "jaffle.app.tornado.TornadoBridgeApp"')
        out.append(f'  kernel = "{plan.kernel}"')
        out.append("")
        out.append("  options {")
        if f.style == "script":
            out.append(f"    script = {hcl_string(_rel_path(f.path, directory))}")
        elif f.style == "main":
            out.append(f"    main = {hcl_string(f.entry)}")
        else:
            out.append(f"    app_class = {hcl_string(f.entry)}")
            out.append(f"    port = {plan.port}")
            if plan.address is not None:
                out.append(f"    address = {hcl_string(plan.address)}")
        if plan.argv:
            tail = "   # the app's own command line" if comments else ""
            out.append(f"    argv = {hcl_list(plan.argv)}{tail}")
        elif comments:
            out.append('    # argv = ["--debug"]   # the app\'s own command line (tornado.options, argparse)')
        for key, value, text in (
                ("threaded", plan.threaded, "its own thread and event loop: a blocking handler stalls only it"),
                ("live_reload", plan.live_reload, "its HTML pages reload in the browser after each reload")):
            if value:
                out.append(f"    {key} = true")
            elif comments:
                out.append(f"    # {key} = true   # {text}")
        if comments:
            out.append('    # reload = "all"   # a save re-imports every project module '
                       '(default: what the change touches)')
        out.append("  }")
        out.append("}")
        out.append("")
    if watch and plans:
        watcher = app_name("watch", tuple(names))
        blocks = hcl_list([f"{p.name}.handle_watchdog_event({{event}})" for p in plans])
        out += [f'app "{watcher}" {{',
                '  class  = "jaffle.app.watchdog.WatchdogApp"',
                f'  kernel = "{plans[0].kernel}"',
                "  options {",
                "    handlers = [{",
                f"      watch_path         = {hcl_string(os.path.abspath(watch))}",
                '      patterns           = ["*.py"]',
                "      ignore_directories = true",
                f"      code_blocks        = {blocks}",
                "    }]",
                "  }",
                "}",
                ""]
    return "\n".join(out).rstrip("\n") + "\n"


def summary(plans: List[Plan]) -> List[str]:
    """One line per app, for `init`'s output and the window's list."""
    lines = []
    for p in plans:
        where = f", port {p.port}" if p.port else (f", {p.argv[0]}" if p.argv else "")
        lines.append(f"{p.name}: {p.found.entry} ({p.found.what}{where})")
    return lines
