"""Imports for the project: fresh source every time, purging, dotted paths.

:data:`finder` is first on ``sys.meta_path`` once :func:`install_finder` gave
it the project directory: the project's modules are compiled from source on
every import (no stale ``.pyc``), dependencies keep their cache.
:func:`purge_modules` drops modules (and submodules) before a restart.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

from ..protocol import is_project_dir

#: the bridge's own package ("tornado_launcher_bridge" in a kernel): never purged
_OWN = __name__.rpartition(".")[0].rpartition(".")[0]


def _is_own(name):
    return name == _OWN or name.startswith(_OWN + ".")


def norm(path):
    return os.path.normcase(os.path.realpath(path))


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Compiles from the source file on every import and writes no bytecode."""

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        return self.source_to_code(self.get_data(path), path)

    def set_data(self, *args, **kwargs):
        pass


class _FreshSourceFinder(importlib.abc.MetaPathFinder):
    """First on sys.meta_path: modules under the project directory skip the .pyc cache.

    Python validates a .pyc by the source's mtime in whole seconds and its
    size: two quick edits of the same length would serve stale code.
    Dependencies outside the project (and venvs inside it) keep their cache.
    """

    def __init__(self, project_dir):
        self.project_dir = norm(project_dir) if project_dir else None
        self._excluded = {}

    def _is_project_file(self, path):
        path = norm(path)
        root = self.project_dir
        if not path.startswith(root.rstrip(os.sep) + os.sep):
            return False
        directory = os.path.dirname(path)
        while len(directory) > len(root):
            cached = self._excluded.get(directory)
            if cached is None:
                cached = not is_project_dir(directory)
                self._excluded[directory] = cached
            if cached:
                return False
            directory = os.path.dirname(directory)
        return True

    def find_spec(self, fullname, path=None, target=None):
        # Only ever answer for the project's own source files; for anything
        # else return None so the usual finders (builtins, frozen, setuptools'
        # shims, editable installs) resolve it exactly as before.
        if self.project_dir is None or fullname in sys.builtin_module_names:
            return None
        try:
            if importlib.machinery.FrozenImporter.find_spec(fullname) is not None:
                return None
        except Exception:
            pass
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or not spec.has_location or not spec.origin:
            return None
        origin = spec.origin
        if not origin.endswith(".py") or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
            return None
        if not self._is_project_file(origin):
            return None
        origin = os.path.abspath(origin)
        loader = _FreshSourceLoader(fullname, origin)
        return importlib.util.spec_from_file_location(
            fullname, origin, loader=loader,
            submodule_search_locations=spec.submodule_search_locations)


finder = _FreshSourceFinder(None)


def install_finder(project_dir):
    """Point the finder at ``project_dir``, first on sys.meta_path; the directory on sys.path."""
    if not project_dir:
        return
    finder.project_dir = norm(project_dir)
    finder._excluded.clear()
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
    sys.meta_path.insert(0, finder)
    if not any(p and os.path.isdir(p) and norm(p) == norm(project_dir) for p in sys.path) \
            and not ("" in sys.path and norm(os.getcwd()) == norm(project_dir)):
        sys.path.append(project_dir)


def project_modules():
    if finder.project_dir is None:
        return []
    names = []
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if _is_own(name) or not path or not isinstance(path, str):
            continue
        try:
            if finder._is_project_file(path):
                names.append(name)
        except Exception:
            pass
    return names


def purge_modules(names):
    purged = []
    for name in names:
        for mod in list(sys.modules):
            if (mod == name or mod.startswith(name + ".")) and not _is_own(mod):
                sys.modules.pop(mod, None)
                purged.append(mod)
    importlib.invalidate_caches()
    return purged


def import_object(dotted):
    if not isinstance(dotted, str) or "." not in dotted:
        raise ImportError("%r is not a dotted path like 'package.module.ClassName'" % (dotted,))
    module_name, _, attr = dotted.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        # maybe a nested attribute: pkg.mod.Outer.Inner
        if "." not in module_name or exc.name != module_name:
            raise
        try:
            return getattr(import_object(module_name), attr)
        except Exception:
            raise exc from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ImportError("module %r has no attribute %r" % (module_name, attr)) from None
