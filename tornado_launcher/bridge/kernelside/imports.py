"""Imports for the project: fresh source every time, purging, dotted paths.

:data:`finder` is first on ``sys.meta_path`` once :func:`install_finder` gave
it the project directory: the project's modules are executed from their
current source on every import (no stale ``.pyc``; the code compiled from a
given content is kept by ``graph``, so re-executing an unchanged module does
not compile it again), dependencies keep their cache.  ``graph`` records
what each one imports.  :func:`purge_modules` drops modules (and submodules)
before a restart; :func:`modules_for_paths` maps changed files to modules.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

from ..protocol import is_project_dir
from .graph import graph, widen_regex_cache

#: the bridge's own package ("tornado_launcher_bridge" in a kernel): never purged
_OWN = __name__.rpartition(".")[0].rpartition(".")[0]


def _is_own(name):
    return name == _OWN or name.startswith(_OWN + ".")


def norm(path):
    return os.path.normcase(os.path.realpath(path))


class _FreshSourceLoader(importlib.machinery.SourceFileLoader):
    """Executes the source file's current content on every import; writes no bytecode.

    The code object comes from ``graph.cache`` (keyed by the content's
    digest); ``graph`` records the module's imports as it executes.
    """

    def get_code(self, fullname):
        path = self.get_filename(fullname)
        return graph.cache.get(path, self.get_data(path)).code

    def exec_module(self, module):
        graph.execute(module, self.get_filename(module.__name__))

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
        self._files = {}  # path as given -> whether it is a project file

    def _is_project_file(self, path):
        known = self._files.get(path)
        if known is None:
            known = self._files[path] = self._is_project_path(path)
        return known

    def _is_project_path(self, path):
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
    finder._files.clear()
    widen_regex_cache()
    if finder in sys.meta_path:
        sys.meta_path.remove(finder)
    sys.meta_path.insert(0, finder)
    if not any(p and os.path.isdir(p) and norm(p) == norm(project_dir) for p in sys.path) \
            and not ("" in sys.path and norm(os.getcwd()) == norm(project_dir)):
        sys.path.append(project_dir)


class _Known:
    """The loaded project modules' names, kept up to date without walking ``sys.modules`` (2,500
    entries with a 1,000-module project) on every reload: the modules the finder executed since
    the last look are added; ``sys.modules`` is walked again only when its size says that some
    other module came or went (a library imported for the first time, a module deleted by hand)."""

    def __init__(self):
        self.names = set()
        self.size = -1  # len(sys.modules) at the last look, less what purge_modules took out since
        self.mark = 0  # graph.executed_count at the last look
        self.project_dir = None

    def scan(self):
        names = set()
        for name, module in list(sys.modules.items()):
            path = getattr(module, "__file__", None)
            if _is_own(name) or not path or not isinstance(path, str):
                continue
            try:
                if finder._is_project_file(path):
                    names.add(name)
            except Exception:
                pass
        self.names = names
        self.project_dir = finder.project_dir


_known = _Known()


def _refresh():
    """Bring ``_known.names`` up to date (see :class:`_Known`); False without a project directory."""
    if finder.project_dir is None:
        return False
    modules = sys.modules
    executed = graph.executed_since(_known.mark)
    if _known.project_dir != finder.project_dir or len(modules) != _known.size + len(executed):
        _known.scan()
    else:
        _known.names.update(executed)
    _known.mark = graph.executed_count
    _known.size = len(modules)
    return True


def loaded_project_modules():
    """name -> module of every loaded module whose file is in the project."""
    if not _refresh():
        return {}
    modules = sys.modules
    out = {}
    for name in _known.names:
        module = modules.get(name)
        if module is not None:
            out[name] = module
    return out


class Loaded:
    """The loaded project modules as :func:`loaded_project_modules` answers them, looked up one
    name at a time (``in``, ``[]``, ``get``): what a hot patch asks of a few modules, without
    building the dict of all of them (1,000 entries with a 1,000-module project) per save."""

    def __init__(self):
        self.names = _known.names if _refresh() else frozenset()

    def get(self, name, default=None):
        module = sys.modules.get(name) if name in self.names else None
        return default if module is None else module

    def __contains__(self, name):
        return self.get(name) is not None

    def __getitem__(self, name):
        module = self.get(name)
        if module is None:
            raise KeyError(name)
        return module


def project_modules():
    return list(loaded_project_modules())


_norms = {}  # a module file as given -> norm() of it


def _norm_file(module):
    path = module.__file__
    real = _norms.get(path)
    if real is None:
        real = _norms[path] = norm(path)
    return real


def modules_for_paths(paths, loaded):
    """``(names, others)``: the modules in ``loaded`` whose file is one of ``paths``, and
    the paths that are no Python source (data a module may read: the graph cannot know)."""
    by_file = {}
    for name, module in loaded.items():
        try:
            by_file[_norm_file(module)] = name
        except Exception:
            pass
    return _lookup(paths, by_file)


class _FileIndex:
    """norm(file) -> module name of the loaded project modules, made again only when their names
    change (``_known``): :func:`project_modules_for_paths` then costs the same at any project size."""

    def __init__(self):
        self.key = None
        self.by_file = {}


_index = _FileIndex()


def project_modules_for_paths(paths):
    """``(names, others, loaded)``: :func:`modules_for_paths` of the loaded project modules
    (``loaded``: a :class:`Loaded`), from an index kept between calls.  Each name found is checked
    against ``sys.modules`` (the module there now, its file): an index entry never answers for a
    module that left or was replaced."""
    loaded = Loaded()
    key = (finder.project_dir, id(loaded.names), len(loaded.names), _known.mark, _known.size)
    if _index.key != key:
        by_file = {}
        for name in loaded.names:
            module = sys.modules.get(name)
            if module is not None:
                try:
                    by_file[_norm_file(module)] = name
                except Exception:
                    pass
        _index.by_file, _index.key = by_file, key
    names, others = _lookup(paths, _index.by_file)
    wanted = {norm(p) for p in paths if isinstance(p, str) and p}
    for name in names:
        try:
            ok = _norm_file(loaded[name]) in wanted
        except Exception:
            ok = False
        if not ok:  # the index is behind sys.modules: answer as modules_for_paths would
            _index.key = None
            names, others = modules_for_paths(paths, loaded_project_modules())
            break
    return names, others, loaded


def _lookup(paths, by_file):
    names, others = set(), []
    for path in paths:
        if not isinstance(path, str) or not path:
            continue
        name = by_file.get(norm(path))
        if name is not None:
            names.add(name)
        elif not path.endswith((".py", ".pyc")) and os.path.isfile(path):
            others.append(path)  # (a temporary file gone by now is not one)
    return names, others


def matches(name, prefixes):
    """Whether module ``name`` is one of ``prefixes`` or inside one (``clear_cache``'s rule)."""
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def purge_modules(names, submodules=True):
    """Drop ``names`` (and, with ``submodules``, what is inside them) from ``sys.modules``;
    the purged names.

    A purged submodule is also taken off its parent package when that stays
    loaded: ``from pkg import sub`` reads the attribute first and would get
    the old module.
    """
    purged = []
    for name in names:
        # without submodules only ``name`` itself: no walk of sys.modules per name
        for mod in (list(sys.modules) if submodules else [name] if name in sys.modules else []):
            if (mod == name or (submodules and mod.startswith(name + "."))) and not _is_own(mod):
                module = sys.modules.pop(mod, None)
                if module is not None:
                    _known.size -= 1
                purged.append(mod)
                parent, _, child = mod.rpartition(".")
                owner = sys.modules.get(parent) if parent else None
                if owner is not None and module is not None and getattr(owner, child, None) is module:
                    try:
                        delattr(owner, child)
                    except Exception:
                        pass
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
