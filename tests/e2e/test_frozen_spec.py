"""Checks on launcher.spec and the icon files that need no frozen build.

They catch, on every test run, the two ways the frozen app drifts from the
source tree: the window starts using a Qt module the spec leaves out (the
frozen app alone would fail, with an ImportError), or someone edits the icon
SVG without re-rendering the PNG/ICO/ICNS files the build ships.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "launcher.spec"


def spec_list(name: str) -> list[str]:
    """A literal list assigned at the spec's top level."""
    tree = ast.parse(SPEC.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found in launcher.spec")


def test_launcher_uses_no_qt_module_the_spec_excludes():
    excluded = set(spec_list("QT_UNUSED"))
    used: dict[str, set[str]] = {}
    pattern = re.compile(r"PySide6\.(Qt\w+)|from PySide6 import \(?([\w, \n]+)")
    for path in (ROOT / "tornado_launcher").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for m in pattern.finditer(text):
            names = [m.group(1)] if m.group(1) else re.findall(r"Qt\w+", m.group(2))
            for n in names:
                used.setdefault(n, set()).add(str(path.relative_to(ROOT)))
    clash = {m: sorted(files) for m, files in used.items() if m in excluded}
    assert not clash, (
        f"launcher.spec excludes Qt modules the launcher imports: {clash}; "
        "remove them from QT_UNUSED in launcher.spec"
    )


def test_spec_never_bundles_ipykernel():
    # Bundled, ipykernel would make jupyter_client offer a "python3"
    # kernelspec whose argv is the frozen app itself (jupyter_client.kernelspec
    # adds it when `from ipykernel.kernelspec import RESOURCES` works).  IPython
    # itself is bundled: qtconsole (the console tab) imports it at load, and
    # IPython alone brings no kernelspec; its terminal shell stays out.
    tree = ast.parse(SPEC.read_text())
    excludes: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
            if getattr(target, "id", None) == "excludes":
                try:
                    excludes += ast.literal_eval(node.value)
                except ValueError:
                    pass
    assert "ipykernel" in excludes and "IPython.terminal" in excludes
    assert "IPython" not in excludes and "pygments" not in excludes  # qtconsole's


def test_spec_bundles_the_qt_modules_the_console_loads():
    # qtconsole imports QtSvg and QtPrintSupport at load; qtpy also tries
    # QtDataVisualization, QtOpenGL and QtOpenGLWidgets, each under
    # try/except, so those may stay excluded.
    optional = {"QtDataVisualization", "QtOpenGL", "QtOpenGLWidgets"}
    code = ("import sys; import tornado_launcher.gui.console; "
            "print(' '.join(sorted(m.split('.')[1] for m in sys.modules if m.startswith('PySide6.Qt'))))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    loaded = set(r.stdout.split())
    assert {"QtSvg", "QtPrintSupport", "QtWidgets"} <= loaded
    clash = sorted((loaded - optional) & set(spec_list("QT_UNUSED")))
    assert not clash, f"launcher.spec excludes Qt modules the console loads: {clash}"


def test_icons_are_rendered_from_the_svg():
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    r = subprocess.run([sys.executable, str(ROOT / "scripts" / "render_icons.py"), "--check"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, (
        f"tornado_launcher/resources/icons is stale: run `python scripts/render_icons.py`\n{r.stdout}{r.stderr}"
    )


def test_desktop_entry():
    text = (ROOT / "tornado_launcher" / "resources" / "tornado-launcher.desktop").read_text()
    assert text.startswith("[Desktop Entry]\n")
    keys = dict(line.split("=", 1) for line in text.splitlines()[1:] if "=" in line)
    assert keys["Type"] == "Application"
    assert keys["Exec"] == "tornado-launcher %f"
    assert keys["Icon"] == "tornado-launcher"
    assert keys["Categories"].endswith(";") and "Development" in keys["Categories"]
    assert keys["MimeType"] == "text/x-hcl;"
    assert (ROOT / "tornado_launcher" / "resources" / "icons" / "tornado-launcher.svg").is_file()


def test_spec_collects_every_bridge_source(tmp_path, monkeypatch):
    # The frozen app reads the kernel-side sources as data under sys._MEIPASS: lay out
    # the spec's data entries for the bridge as PyInstaller would and read them back.
    import shutil

    from tornado_launcher import bridge

    text = SPEC.read_text()
    start, end = text.index("datas = []"), text.index("for sub in (")
    scope = {"os": os, "PKG": str(ROOT / "tornado_launcher"), "ROOT": str(ROOT)}
    exec(text[text.index("def tree("):text.index("datas = []")], scope)
    exec(text[start:end], scope)
    for src, dest in scope["datas"]:
        (tmp_path / dest).mkdir(parents=True, exist_ok=True)
        shutil.copy(src, tmp_path / dest)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    monkeypatch.setattr(bridge, "_source_cache", {})
    monkeypatch.setattr(bridge, "__file__", str(tmp_path / "nowhere" / "__init__.py"))
    import importlib.resources

    def no_resources(*args, **kwargs):
        raise ModuleNotFoundError("frozen")

    monkeypatch.setattr(importlib.resources, "files", no_resources)
    shipped = bridge.sources()
    assert [name for name, _, _ in shipped][0] == "protocol"
    for name, _, source in shipped:
        assert source == (ROOT / "tornado_launcher" / "bridge").joinpath(*bridge._relpath(name)).read_text()
    # and the kernels' boot program (kernel_pipe.boot_argv)
    assert bridge.source("boot") == (ROOT / "tornado_launcher" / "bridge" / "boot.py").read_text()
