"""The index a hot patch finds the saved file's module with (``imports.project_modules_for_paths``):
the same answer as walking every loaded project module (``modules_for_paths``), also when
``sys.modules`` changed behind the index's back."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

from tornado_launcher.bridge.kernelside import imports


@pytest.fixture
def project(tmp_path):
    """A project of three modules, imported through the bridge's finder; everything undone after."""
    pkg = tmp_path / "idxpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for name in ("a", "b", "c"):
        (pkg / f"{name}.py").write_text(f"NAME = {name!r}\n")
    meta, path = list(sys.meta_path), list(sys.path)
    imports.install_finder(str(tmp_path))
    try:
        for name in ("a", "b", "c"):
            importlib.import_module(f"idxpkg.{name}")
        yield pkg
    finally:
        sys.meta_path[:], sys.path[:] = meta, path
        imports.finder.project_dir = None
        for name in [n for n in sys.modules if n == "idxpkg" or n.startswith("idxpkg.")]:
            del sys.modules[name]


def answers(paths):
    names, others, loaded = imports.project_modules_for_paths(paths)
    assert (names, others) == imports.modules_for_paths(paths, imports.loaded_project_modules())
    return names, loaded


def test_the_index_finds_what_the_walk_finds(project):
    names, loaded = answers([str(project / "b.py")])
    assert names == {"idxpkg.b"} and loaded["idxpkg.b"] is sys.modules["idxpkg.b"]
    assert "idxpkg.a" in loaded and "json" not in loaded
    assert answers([str(project / "nothing.py")])[0] == set()


def test_a_module_gone_or_replaced_behind_the_index_is_never_answered_for(project):
    assert answers([str(project / "c.py")])[0] == {"idxpkg.c"}
    # replaced in sys.modules by an object from another file, the count of modules unchanged
    other = types.ModuleType("idxpkg.c")
    other.__file__ = str(project / "a.py")
    sys.modules["idxpkg.c"] = other
    assert answers([str(project / "c.py")])[0] == set()
    del sys.modules["idxpkg.c"]
    assert answers([str(project / "c.py")])[0] == set()
    importlib.import_module("idxpkg.c")  # executed again: found again
    names, loaded = answers([str(project / "c.py")])
    assert names == {"idxpkg.c"} and loaded["idxpkg.c"] is sys.modules["idxpkg.c"]


def test_without_a_project_directory_nothing_is_a_project_module(project):
    assert answers([str(project / "a.py")])[0] == {"idxpkg.a"}
    imports.finder.project_dir = None
    names, loaded = answers([str(project / "a.py")])
    assert names == set() and "idxpkg.a" not in loaded
