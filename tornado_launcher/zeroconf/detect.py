"""What a user's app is, read from its source: the detection behind `run`, `init` and Open folder.

Qt-free and without running the user's code where the source can tell:
each file is parsed with :mod:`ast` and its top-level names classified --
a script with a ``__main__`` block, a ``main`` function (sync or async), a
function returning a ``tornado.web.Application`` (a factory), a class
deriving from it (followed through the project's own modules), an instance
of it.  Only when the source cannot tell (a base class or a value from an
installed package) is the module imported, in a subprocess of the kernel's
interpreter (:func:`probe`), never in the launcher.

The app's own default port is read the same way: ``define("port",
default=8888)``, ``add_argument("--port", default=8888)``, ``listen(8888)``
or ``PORT = 8888``.

:func:`classify` reads one target (``server.py``, ``pkg.mod:name``,
``pkg.mod.name``, ``pkg.mod``) and raises :class:`TargetError` (one line
naming the file and what to write) when it is missing or ambiguous;
:func:`find_apps` lists the apps of a directory.
"""

from __future__ import annotations

import ast
import json
import keyword
import os
import subprocess
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Tuple

from ..bridge.protocol import NON_PROJECT_DIRS, is_project_dir

#: the styles an app starts in (the config's entry keys: script / main / app_class + port)
SCRIPT, MAIN, APPLICATION = "script", "main", "application"
#: files larger than this are not read (a generated or vendored file, not an app)
MAX_FILE = 1_000_000
#: how deep `find_apps` looks below the directory, and how many files it reads at most
MAX_DEPTH, MAX_FILES = 4, 2000
#: seconds the import probe may take
PROBE_TIMEOUT = 30.0
_SKIP_FILES = frozenset({"setup.py", "conftest.py", "noxfile.py", "fabfile.py", "manage.py"})
_SKIP_DIRS = frozenset({"tests", "test", "docs", "doc", "examples", "migrations"}) | NON_PROJECT_DIRS
_MAIN_NAMES = ("main", "run", "serve", "start", "run_server", "start_server")
_FACTORY_NAMES = ("make_app", "create_app", "make_application", "create_application", "app_factory",
                  "get_app", "get_application", "build_app", "application_factory")
_APPLICATION = "tornado.web.Application"


class TargetError(Exception):
    """A target that cannot be run: ``str()`` is one sentence naming the file and what to write."""


@dataclass
class Found:
    """One app: how it starts, where, and its own default port."""

    name: str  #: the app's name in the config (an identifier)
    style: str  #: SCRIPT / MAIN / APPLICATION
    entry: str  #: a script's path as given (relative to the directory when inside it), or "module:attr"
    path: str  #: the file, absolute
    what: str  #: how the launcher reads it, for the first line ("a script, run as __main__")
    port: Optional[int] = None  #: the app's own default port, if the source gives one
    port_from: str = ""  #: where that port is written ("define(\"port\", default=8888)")
    #: the port is an option of the app's own (tornado.options / argparse): ``--port=N`` sets it
    port_option: bool = False
    line: int = 0


# ---------------------------------------------------------------------------
# one module's source


def _dotted(node: ast.AST) -> Optional[str]:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _last_name(func: ast.AST) -> str:
    """``listen`` for ``x.listen`` / ``make().listen`` / ``listen``."""
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _is_main_test(node: ast.AST) -> bool:
    """``if __name__ == "__main__":`` (either order)."""
    if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare) and len(node.test.ops) == 1
            and isinstance(node.test.ops[0], ast.Eq)):
        return False
    sides = [node.test.left, node.test.comparators[0]]
    return (any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))


def _int(node: Optional[ast.AST]) -> Optional[int]:
    if isinstance(node, ast.Constant) and isinstance(node.value, int) and not isinstance(node.value, bool) \
            and 0 < node.value < 65536:
        return node.value
    return None


class Module:
    """One parsed file: its top-level names, imports, ``__main__`` block and default port."""

    def __init__(self, path: str, tree: ast.Module, module: Optional[str] = None) -> None:
        self.path = path
        self.tree = tree
        self.module = module
        self.top: Dict[str, ast.AST] = {}
        #: local name -> the dotted name it was imported as ("web" -> "tornado.web")
        self.imports: Dict[str, str] = {}
        self.main_block: Optional[ast.If] = None
        #: the launcher's Python cannot parse it (the kernel's, newer, can): only the probe can tell
        self.opaque = False
        self.imports_tornado = False
        for node in tree.body:
            self._top(node)
        self.port, self.port_from, self.port_option = self._port()

    @classmethod
    def read(cls, path: str, module: Optional[str] = None) -> "Module":
        """Parse ``path``; :class:`SyntaxError` (with ``filename``, ``lineno``) when it does not compile,
        :class:`OSError` when it cannot be read."""
        if os.path.getsize(path) > MAX_FILE:
            raise OSError(f"{path} is over {MAX_FILE // 1_000_000} MB")
        with open(path, "rb") as f:
            source = f.read()
        return cls(path, ast.parse(source, filename=path), module)

    def _top(self, node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.top[node.name] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    self.top[t.id] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            self.top[node.target.id] = node
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "tornado":
                    self.imports_tornado = True
                local = a.asname or a.name.split(".")[0]
                self.imports[local] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom):
            base = "." * node.level + (node.module or "")
            if (node.module or "").split(".")[0] == "tornado" and not node.level:
                self.imports_tornado = True
            for a in node.names:
                if a.name != "*":
                    self.imports[a.asname or a.name] = f"{base}.{a.name}" if node.module else base + a.name
                    self.top.setdefault(a.asname or a.name, node)
        elif _is_main_test(node):
            self.main_block = node
        elif isinstance(node, (ast.If, ast.Try)):  # imports under `try:` / `if TYPE_CHECKING:`
            inner = list(node.body) + list(node.orelse)
            for handler in getattr(node, "handlers", ()):
                inner += handler.body
            for child in inner:
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    self._top(child)

    def resolve(self, dotted: str) -> str:
        """A name as this module spells it -> the dotted name it stands for (``web.Application`` ->
        ``tornado.web.Application``); names of its own stay as they are."""
        head, _, rest = dotted.partition(".")
        if head in self.imports:
            full = self.imports[head]
            return f"{full}.{rest}" if rest else full
        return dotted

    def _port(self) -> Tuple[Optional[int], str, bool]:
        """The app's own default port: (port, where, settable by ``--port=N``)."""
        found: Dict[str, Tuple[int, str, bool]] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                last = _last_name(node.func)
                args = node.args
                kw = {k.arg: k.value for k in node.keywords if k.arg}
                if last == "define" and args and isinstance(args[0], ast.Constant) and args[0].value == "port":
                    port = _int(kw.get("default", args[1] if len(args) > 1 else None))
                    if port:
                        found.setdefault("define", (port, f'define("port", default={port})', True))
                elif last == "add_argument" and "--port" in [getattr(a, "value", None) for a in args]:
                    port = _int(kw.get("default"))
                    if port:
                        found.setdefault("argparse", (port, f'add_argument("--port", default={port})', True))
                elif last in ("listen", "bind_sockets", "bind"):
                    port = _int(args[0] if args else kw.get("port"))
                    if port:
                        found.setdefault("listen", (port, f"{last}({port})", False))
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and node.targets[0].id.upper() in ("PORT", "DEFAULT_PORT", "HTTP_PORT"):
                port = _int(node.value)
                if port:
                    found.setdefault("constant", (port, f"{node.targets[0].id} = {port}", False))
        for key in ("define", "argparse", "listen", "constant"):
            if key in found:
                return found[key]
        return None, "", False

    # ----------------------------------------------------------- names
    def functions(self) -> List[ast.AST]:
        return [n for n in self.top.values() if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


# ---------------------------------------------------------------------------
# finding the project's modules


def module_file(dotted: str, directory: str) -> Optional[str]:
    """``pkg.mod`` -> ``directory/pkg/mod.py`` (or ``.../mod/__init__.py``), if the project has it."""
    parts = dotted.split(".")
    if not all(p.isidentifier() for p in parts):
        return None
    base = os.path.join(directory, *parts)
    for candidate in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(candidate):
            return candidate
    return None


def _absolute(module: Module, dotted: str) -> str:
    """A relative import (``.models.Base``) as an absolute dotted name, from ``module.module``."""
    if not dotted.startswith("."):
        return dotted
    level = len(dotted) - len(dotted.lstrip("."))
    package = (module.module or "").split(".")
    if not os.path.basename(module.path) == "__init__.py":
        package = package[:-1]
    package = package[: len(package) - (level - 1)] if level > 1 else package
    rest = dotted[level:]
    return ".".join([p for p in package if p] + ([rest] if rest else []))


class Reader:
    """Reads the project's modules (each parsed once) and classifies their names."""

    def __init__(self, directory: str, python: Optional[str] = None, env: Optional[Dict[str, str]] = None) -> None:
        self.directory = os.path.abspath(directory)
        self.python = python
        self.env = env
        self._modules: Dict[str, Optional[Module]] = {}

    def module(self, dotted: str) -> Optional[Module]:
        """The project's module ``dotted``, parsed; None when it is not a file of the project."""
        if dotted not in self._modules:
            path = module_file(dotted, self.directory)
            mod = None
            if path:
                try:
                    mod = Module.read(path, dotted)
                except (SyntaxError, OSError, ValueError):
                    mod = None
            self._modules[dotted] = mod
        return self._modules[dotted]

    def _split(self, dotted: str) -> Tuple[Optional[Module], str]:
        """``pkg.mod.Name`` -> (the module pkg.mod, "Name"), the longest module prefix the project has."""
        parts = dotted.split(".")
        for i in range(len(parts) - 1, 0, -1):
            mod = self.module(".".join(parts[:i]))
            if mod is not None:
                return mod, ".".join(parts[i:])
        return None, dotted

    # ------------------------------------------------------ classification
    def is_application_class(self, module: Module, name: str, depth: int = 0) -> Optional[bool]:
        """True / False for a class of ``module``, None when the source cannot tell."""
        if f"{module.module}.{name}" == _APPLICATION:
            return True
        node = module.top.get(name)
        if isinstance(node, ast.ImportFrom) or (node is None and name in module.imports):
            return self.is_application_name(_absolute(module, module.imports.get(name, name)), depth + 1)
        if not isinstance(node, ast.ClassDef):
            return False
        unknown = False
        for base in node.bases:
            dotted = _dotted(base)
            if dotted is None:
                unknown = True
                continue
            full = module.resolve(dotted)
            if full == dotted and "." not in dotted and dotted in module.top:
                verdict = self.is_application_class(module, dotted, depth + 1) if depth < 20 else None
            else:
                verdict = self.is_application_name(_absolute(module, full), depth + 1)
            if verdict:
                return True
            unknown = unknown or verdict is None
        return None if unknown else False

    def is_application_name(self, full: str, depth: int) -> Optional[bool]:
        if full == _APPLICATION:
            return True
        if full.startswith("tornado.") or full in ("object", "dict", "Exception") or depth > 20:
            return False
        mod, attr = self._split(full)
        if mod is None or "." in attr:
            return None
        return self.is_application_class(mod, attr, depth)

    def returns_application(self, module: Module, fn: ast.AST) -> Optional[bool]:
        """A function's body read for what it does: True it returns an Application (a factory),
        False it serves itself (a main), None the source does not say."""
        if isinstance(fn, ast.AsyncFunctionDef):
            return False
        ann = fn.returns
        if ann is not None and "Application" in ast.unparse(ann):
            return True
        builds = serves = returns = False
        for node in _walk_own(fn):
            if isinstance(node, ast.Call):
                name = _dotted(node.func) or ""
                last = _last_name(node.func)
                if last in ("listen", "start", "run", "run_forever", "run_until_complete", "wait", "serve_forever",
                            "parse_command_line", "bind_sockets", "add_sockets", "start_server"):
                    serves = True
                full = module.resolve(name) if name else ""
                if full == _APPLICATION or (name and "." not in name and name in module.top
                                            and self.is_application_class(module, name)):
                    builds = True
            elif isinstance(node, ast.Return) and node.value is not None and not (
                    isinstance(node.value, ast.Constant) and node.value.value is None):
                returns = True
        if builds and returns and not serves:
            return True
        if serves:
            return False
        return None

    def classify_name(self, module: Module, attr: str, *, port_given: bool,
                      depth: int = 0) -> Tuple[str, str]:
        """(style, what) for ``attr`` of ``module``; raises TargetError when it cannot run."""
        rel = _rel(module.path, self.directory)
        node = module.top.get(attr)
        if node is None:
            raise TargetError(f"{rel} has no top-level `{attr}`{_found_names(module)}")
        if isinstance(node, ast.ImportFrom):
            full = _absolute(module, module.imports.get(attr, attr))
            mod, name = self._split(full)
            if mod is not None and "." not in name and depth < 10:
                return self.classify_name(mod, name, port_given=port_given, depth=depth + 1)
            return self._probe(module, attr)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if isinstance(node, ast.AsyncFunctionDef):
                return MAIN, f"async function {attr}(), run as the app's main"
            verdict = self.returns_application(module, node)
            if verdict is None:
                verdict = True if attr in _FACTORY_NAMES else (False if attr in _MAIN_NAMES else port_given)
            if verdict:
                return APPLICATION, f"function {attr}() returning a tornado.web.Application"
            return MAIN, f"function {attr}(), run as the app's main"
        if isinstance(node, ast.ClassDef):
            verdict = self.is_application_class(module, attr)
            if verdict is None:
                return self._probe(module, attr)
            if not verdict:
                raise TargetError(f"{rel}:{node.lineno}: `{attr}` is a class but not a tornado.web.Application "
                                  f"subclass: give the function that starts the app (`{_mod(module)}:main`) or "
                                  f"an Application factory (`{_mod(module)}:make_app --port 8888`)")
            return APPLICATION, f"tornado.web.Application subclass {attr}"
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            value = node.value
            if isinstance(value, ast.Call):
                name = _dotted(value.func) or ""
                full = module.resolve(name)
                if full == _APPLICATION:
                    return APPLICATION, f"tornado.web.Application instance {attr}"
                if name in module.top and "." not in name:
                    target = module.top[name]
                    if isinstance(target, ast.ClassDef) and self.is_application_class(module, name):
                        return APPLICATION, f"tornado.web.Application instance {attr}"
                    if isinstance(target, ast.FunctionDef) and self.returns_application(module, target):
                        return APPLICATION, f"tornado.web.Application instance {attr} (made by {name}())"
            return self._probe(module, attr)
        raise TargetError(f"{rel} has no top-level `{attr}`{_found_names(module)}")

    # ------------------------------------------------------------- probing
    def _probe(self, module: Module, attr: str) -> Tuple[str, str]:
        """Import the module in the kernel's interpreter to see what ``attr`` is."""
        rel = _rel(module.path, self.directory)
        result = probe(self.python, module.module or "", attr, self.directory, self.env)
        kind = result.get("kind")
        if kind == "error":
            raise TargetError(f"{rel}: importing {module.module} to see what `{attr}` is failed "
                              f"({result.get('error')}): fix that, or run the app's script "
                              "(`tornado-launcher run server.py`)")
        if kind == "application_class":
            return APPLICATION, f"tornado.web.Application subclass {attr}"
        if kind == "application":
            return APPLICATION, f"tornado.web.Application instance {attr}"
        if kind == "coroutine_function":
            return MAIN, f"async function {attr}(), run as the app's main"
        if kind == "function":
            return MAIN, f"function {attr}(), run as the app's main"
        raise TargetError(f"{rel}: `{attr}` is {result.get('type', 'not a function')}, not a main function nor "
                          f"a tornado.web.Application: write `{_mod(module)}:main` (a function that starts the "
                          f"app) or `{_mod(module)}:make_app --port 8888`")


def _walk_own(fn: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of functions and classes nested in it."""
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                stack.append(child)


def _rel(path: str, directory: str) -> str:
    try:
        rel = os.path.relpath(path, directory)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _mod(module: Module) -> str:
    return module.module or os.path.splitext(os.path.basename(module.path))[0]


def _found_names(module: Module) -> str:
    names = [n for n, node in module.top.items()
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not n.startswith("_")]
    if not names:
        return ": give a function or an Application defined in it (`module:main`)"
    return f" (it defines {', '.join(names[:6])}{', ...' if len(names) > 6 else ''}): write `{_mod(module)}:NAME` " \
           "with one of them"


# ---------------------------------------------------------------------------
# the import probe (a subprocess of the kernel's interpreter)

_PROBE = r"""
import inspect, json, sys
sys.path.insert(0, sys.argv[3])
out = {}
try:
    import importlib
    if sys.argv[1] == "--spec":
        import importlib.util
        spec = importlib.util.find_spec(sys.argv[2])
        out = {"kind": "spec", "origin": getattr(spec, "origin", None) if spec else None}
    else:
        obj = importlib.import_module(sys.argv[1])
        for part in sys.argv[2].split("."):
            obj = getattr(obj, part)
        import tornado.web
        if isinstance(obj, type) and issubclass(obj, tornado.web.Application):
            out["kind"] = "application_class"
        elif isinstance(obj, tornado.web.Application):
            out["kind"] = "application"
        elif inspect.iscoroutinefunction(obj):
            out["kind"] = "coroutine_function"
        elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
            out["kind"] = "function"
        else:
            out["kind"] = "other"
            out["type"] = "a %s" % type(obj).__name__
except BaseException as exc:
    out = {"kind": "error", "error": "%s: %s" % (type(exc).__name__, exc)}
sys.stdout.write("\nTL-DETECT " + json.dumps(out) + "\n")
"""


def probe(python: Optional[str], module: str, attr: str, directory: str,
          env: Optional[Dict[str, str]] = None) -> dict:
    """What ``module.attr`` is, found by importing it in ``python`` (a subprocess, in ``directory``).
    ``attr`` ``"--spec"`` as ``module``: where the module's file is (``{"origin": ...}``)."""
    import sys

    from ..kernels.interpreter import child_env

    argv = [python or sys.executable, "-c", _PROBE, module, attr, directory]
    try:
        r = subprocess.run(argv, cwd=directory, env=child_env(env), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {"kind": "error", "error": f"importing it took over {PROBE_TIMEOUT:g} s"}
    except OSError as exc:
        return {"kind": "error", "error": f"{argv[0]} could not start: {exc.strerror or exc}"}
    for line in reversed(r.stdout.splitlines()):
        if line.startswith("TL-DETECT "):
            try:
                return json.loads(line[len("TL-DETECT "):])
            except ValueError:
                break
    last = (r.stderr.strip().splitlines() or [f"exit status {r.returncode}"])[-1]
    return {"kind": "error", "error": last}


# ---------------------------------------------------------------------------
# one target (`run TARGET`, `init TARGET`)


def app_name(text: str, taken: Tuple[str, ...] = ()) -> str:
    """An app name (an identifier the config accepts) from a file stem or module name."""
    name = "".join(c if (c.isalnum() and c.isascii()) or c == "_" else "_" for c in text).strip("_") or "app"
    if name[0].isdigit() or keyword.iskeyword(name):
        name = "app_" + name
    base, n = name, 2
    while name in taken:
        name = f"{base}_{n}"
        n += 1
    return name


def _syntax_error(exc: SyntaxError, directory: str) -> TargetError:
    where = _rel(exc.filename or "?", directory)
    col = f":{exc.offset}" if exc.offset else ""
    return TargetError(f"{where}:{exc.lineno or 1}{col}: {exc.msg} (the file does not compile): fix it and run again")


_COMPILES = "import sys; compile(open(sys.argv[1], 'rb').read(), sys.argv[1], 'exec')"


def _compiles_in(python: Optional[str], path: str) -> bool:
    """True when ``path`` compiles in ``python`` though not in the launcher's (a newer Python's syntax)."""
    import sys

    if not python or os.path.abspath(python) == os.path.abspath(sys.executable):
        return False
    from ..kernels.interpreter import child_env

    try:
        return subprocess.run([python, "-c", _COMPILES, path], env=child_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=PROBE_TIMEOUT).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _opaque(path: str, module: Optional[str] = None) -> Module:
    """A file only the kernel's Python can read: no names known (the probe tells)."""
    mod = Module(path, ast.Module(body=[], type_ignores=[]), module)
    mod.opaque = True
    return mod


def _calls_at_top(mod: Module) -> bool:
    """Whether the module's top level calls anything as a statement (``app.listen(8888)``,
    ``IOLoop.current().start()``, ``asyncio.run(main())``): run as a script, that may start the app."""
    return any(isinstance(n, ast.Expr) and isinstance(n.value, (ast.Call, ast.Await)) for n in mod.tree.body)


def _script(path: str, shown: str, directory: str, python: Optional[str] = None,
            port_given: bool = False) -> Found:
    try:
        mod = Module.read(path)
    except SyntaxError as exc:
        if _compiles_in(python, path):
            return Found(app_name(os.path.splitext(os.path.basename(path))[0]), SCRIPT, shown, path,
                         "a script, run as __main__")
        raise _syntax_error(exc, directory) from None
    except (OSError, ValueError) as exc:
        raise TargetError(f"{shown} cannot be read ({exc}): give the path of the app's script") from None
    what = "a script, run as __main__"
    if mod.main_block is None and not _calls_at_top(mod):
        # only definitions: `python file.py` would start nothing; its main or factory would
        rel = os.path.relpath(path, directory)
        parts = rel[:-3].split(os.sep) if rel.endswith(".py") and not rel.startswith("..") else []
        if parts and all(p.isidentifier() for p in parts):
            mod.module = ".".join(parts)
            if candidates(Reader(directory, python), mod):
                return _whole_module(Reader(directory, python), mod, port_given)
        raise TargetError(f"{shown} only defines things (no `if __name__ == \"__main__\":` block, no call at its "
                          "top level, no `main` or Application factory): nothing in it starts an app; give the "
                          "script that does, or `module:function`")
    return Found(app_name(os.path.splitext(os.path.basename(path))[0]), SCRIPT, shown, path, what,
                 mod.port, mod.port_from, mod.port_option, 1)


def classify(target: str, directory: str, *, python: Optional[str] = None, port_given: bool = False,
             env: Optional[Dict[str, str]] = None) -> Found:
    """What ``target`` is: a script path, ``module:attr``, ``module.attr`` or ``module``.

    Raises :class:`TargetError` (one line: the file and what to write)."""
    directory = os.path.abspath(directory)
    text = target.strip()
    looks_like_path = text.endswith(".py") or os.sep in text or (os.altsep and os.altsep in text) \
        or os.path.isfile(os.path.join(directory, text))
    if looks_like_path and ":" not in text:
        path = os.path.abspath(os.path.join(directory, os.path.expanduser(text)))
        if os.path.isdir(path):
            return _one_of(find_apps(path, python=python), path if text.rstrip("/\\") in ("", ".") else text)
        if not os.path.isfile(path):
            raise TargetError(f"{text}: no such file (looked for {path}): give the path of the app's script "
                              "(`tornado-launcher run server.py`) or its module and function (`app:main`)")
        return _script(path, _rel(path, directory), directory, python, port_given)
    if os.path.isdir(os.path.join(directory, text)) and not module_file(text, directory):
        folder = os.path.normpath(os.path.join(directory, text))
        return _one_of(find_apps(folder, python=python), folder if text in ("", ".") else text)
    reader = Reader(directory, python, env)
    if ":" in text:
        modname, _, attr = text.partition(":")
        if modname.endswith(".py"):  # path/to/app.py:main -> path.to.app:main
            rel = os.path.relpath(os.path.abspath(os.path.join(directory, modname)), directory)
            modname = rel[:-3].replace(os.sep, ".") if not rel.startswith("..") else modname
        if not modname or not attr or not all(p.isidentifier() for p in modname.split(".") + attr.split(".")):
            raise TargetError(f"{text!r} is not `module:function`: write e.g. `tornado-launcher run app:main` "
                              "or the script's path (`tornado-launcher run server.py`)")
        module = _load_module(reader, modname, text, directory)
        return _found(reader, module, attr, port_given)
    parts = text.split(".")
    if not all(p.isidentifier() for p in parts):
        raise TargetError(f"{text!r} is neither a file nor a module: give the app's script "
                          "(`tornado-launcher run server.py`) or `module:function` (`app:main`)")
    # the longest prefix that is a file of the project, else (asking the kernel's Python) one installed
    split = next((i for i in range(len(parts), 0, -1) if module_file(".".join(parts[:i]), directory)), None)
    if split is None:
        for i in range(len(parts), 0, -1):
            try:
                module = _load_module(reader, ".".join(parts[:i]), text, directory)
            except TargetError:
                if i == 1:
                    raise
                continue
            split = i
            break
    else:
        module = _load_module(reader, ".".join(parts[:split]), text, directory)
    attr = ".".join(parts[split:])
    if attr:
        return _found(reader, module, attr, port_given)
    return _whole_module(reader, module, port_given)


def _load_module(reader: Reader, modname: str, target: str, directory: str) -> Module:
    path = module_file(modname, directory)
    if path is None:
        origin = probe(reader.python, "--spec", modname, directory, reader.env).get("origin")
        if not origin or not os.path.isfile(origin) or not origin.endswith(".py"):
            raise TargetError(f"{target}: no module `{modname}` in {directory} (looked for "
                              f"{modname.replace('.', os.sep)}.py): run from the project's directory, or give the "
                              "script's path (`tornado-launcher run server.py`)")
        path = origin
    try:
        return Module.read(path, modname)
    except SyntaxError as exc:
        if _compiles_in(reader.python, path):
            return _opaque(path, modname)
        raise _syntax_error(exc, directory) from None
    except (OSError, ValueError) as exc:
        raise TargetError(f"{_rel(path, directory)} cannot be read ({exc})") from None


def _found(reader: Reader, module: Module, attr: str, port_given: bool) -> Found:
    if "." in attr or module.opaque:  # Class.method and the like, a newer Python's syntax: the probe tells
        style, what = reader._probe(module, attr)
    else:
        style, what = reader.classify_name(module, attr, port_given=port_given)
    node = module.top.get(attr)
    return Found(app_name(module.module.rsplit(".", 1)[-1] if module.module else attr), style,
                 f"{module.module}:{attr}", module.path, what, module.port, module.port_from,
                 module.port_option, getattr(node, "lineno", 0))


def candidates(reader: Reader, module: Module) -> List[Tuple[str, str, str]]:
    """(attr, style, what) of the names in ``module`` that can start an app, read from source only:
    a ``main``, factories, Application instances, then Application subclasses."""
    out: List[Tuple[str, str, str]] = []
    for name, node in module.top.items():
        if name.startswith("_") or isinstance(node, ast.ImportFrom):
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            verdict = reader.returns_application(module, node)
            if name == "main" and not verdict:
                out.append((name, MAIN, f"{'async ' if isinstance(node, ast.AsyncFunctionDef) else ''}function "
                                        f"{name}(), run as the app's main"))
            elif verdict or (verdict is None and name in _FACTORY_NAMES):
                out.append((name, APPLICATION, f"function {name}() returning a tornado.web.Application"))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(node.value, ast.Call):
            full = module.resolve(_dotted(node.value.func) or "")
            callee = module.top.get(full)
            if full == _APPLICATION or (isinstance(callee, ast.ClassDef) and reader.is_application_class(module, full)):
                out.append((name, APPLICATION, f"tornado.web.Application instance {name}"))
    if not out:
        for name, node in module.top.items():
            if (isinstance(node, ast.ClassDef) and not name.startswith("_")
                    and reader.is_application_class(module, name)):
                out.append((name, APPLICATION, f"tornado.web.Application subclass {name}"))
    order = {MAIN: 0, APPLICATION: 1}
    return sorted(out, key=lambda c: order[c[1]])


def _whole_module(reader: Reader, module: Module, port_given: bool) -> Found:
    """``run app`` (a module): its one way in, or an error listing them."""
    rel = _rel(module.path, reader.directory)
    if module.opaque:
        raise TargetError(f"{rel} uses syntax the launcher's Python cannot read: name the function that starts "
                          f"the app, `tornado-launcher run {module.module}:main`")
    found = candidates(reader, module)
    mains = [c for c in found if c[1] == MAIN]
    pick = mains[:1] if mains else (found if len(found) == 1 else [])
    if pick:
        attr, style, what = pick[0]
        return Found(app_name(module.module.rsplit(".", 1)[-1]), style, f"{module.module}:{attr}", module.path,
                     what, module.port, module.port_from, module.port_option, getattr(module.top[attr], "lineno", 0))
    if module.main_block is not None:
        return _script(module.path, rel, reader.directory)
    if not found:
        raise TargetError(f"{rel} has no `main` function, Application factory or `if __name__ == \"__main__\":` "
                          f"block: write `tornado-launcher run {module.module}:NAME` with the function that starts "
                          "the app")
    names = " or ".join(f"`{module.module}:{c[0]}`" for c in found)
    raise TargetError(f"{rel} has several ways in: write `tornado-launcher run` with {names}")


def _one_of(found: List[Found], text: str) -> Found:
    if len(found) == 1:
        return found[0]
    if not found:
        raise TargetError(f"{text}: no Tornado app found there (a script with an `if __name__ == \"__main__\":` "
                          "block that imports tornado, or a module with `main` or an Application factory): "
                          "give the app's script or `module:function`")
    raise TargetError(f"{text} holds {len(found)} apps ({', '.join(f.entry for f in found)}): "
                      f"write `tornado-launcher run {found[0].entry}` with the one to run, or "
                      "`tornado-launcher init` for a jaffle.hcl that runs them all")


# ---------------------------------------------------------------------------
# a directory (`init`, Open folder)


def _py_files(directory: str) -> Iterator[Tuple[str, List[str]]]:
    """(path, module parts relative to directory) of each candidate file, sorted, depth-limited."""
    count = 0
    for root, dirs, files in os.walk(directory):
        rel = os.path.relpath(root, directory)
        parts = [] if rel == "." else rel.split(os.sep)
        dirs[:] = sorted(d for d in dirs if not d.startswith((".", "_")) and d not in _SKIP_DIRS
                         and len(parts) < MAX_DEPTH and is_project_dir(os.path.join(root, d)))
        for name in sorted(files):
            if not name.endswith(".py") or name in _SKIP_FILES or name.startswith(("test_", ".")) \
                    or name.endswith("_test.py") or name in ("__init__.py", "__main__.py"):
                continue
            count += 1
            if count > MAX_FILES:
                return
            yield os.path.join(root, name), parts + [name[:-3]]


def find_apps(directory: str, *, python: Optional[str] = None,
              skipped: Optional[List[str]] = None) -> List[Found]:
    """The Tornado apps in ``directory`` as ``init`` writes them, read from source only.

    A script with a ``__main__`` block that imports tornado; else a module
    (importing tornado) with a ``main``, an Application factory or instance.
    A module a found script imports is part of that app, not one more.
    ``skipped`` (if given) gets one line per file that does not compile."""
    directory = os.path.abspath(directory)
    reader = Reader(directory, python)
    scripts: List[Found] = []
    modules: List[Tuple[Found, str]] = []
    imported: set = set()
    taken: List[str] = []
    for path, parts in _py_files(directory):
        try:
            mod = Module.read(path, ".".join(parts) if all(p.isidentifier() for p in parts) else None)
        except SyntaxError as exc:
            if skipped is not None:
                skipped.append(str(_syntax_error(exc, directory)))
            continue
        except (OSError, ValueError):
            continue
        if not mod.imports_tornado:
            continue
        rel = _rel(path, directory)
        if mod.main_block is not None:
            imported.update(_absolute(mod, v).split(".")[0] for v in mod.imports.values())
            imported.update(_absolute(mod, v).rsplit(".", 1)[0] for v in mod.imports.values())
            name = app_name(parts[-1], tuple(taken))
            taken.append(name)
            scripts.append(Found(name, SCRIPT, rel, path, "a script, run as __main__", mod.port, mod.port_from,
                                 mod.port_option, 1))
            continue
        if mod.module is None:
            continue
        found = candidates(reader, mod)
        if not found:
            continue
        attr, style, what = found[0]
        modules.append((Found(parts[-1], style, f"{mod.module}:{attr}", path, what, mod.port, mod.port_from,
                              mod.port_option, getattr(mod.top[attr], "lineno", 0)), mod.module))
    out = list(scripts)
    for f, module in modules:
        if module in imported:
            continue
        f.name = app_name(f.name, tuple(taken))
        taken.append(f.name)
        out.append(f)
    return out

