"""The rules of the house (ARCHITECTURE.md), checked on the source itself.

Each rule here was once broken by a module that grew into a hall; these tests
keep the rooms the size of one concept and the layers pointing one way.
"""

import ast
import os
import re
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "tornado_launcher"
MAX_MODULE_LINES = 1000
MAX_CLASS_LINES = 600


def _modules():
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        name = ".".join(rel.parts)
        if name.endswith(".__init__"):
            name = name[: -len(".__init__")]
        out[name] = path
    return out


MODULES = _modules()


def _package_imports(name, path, statements):
    """Package modules the import statements among ``statements`` (of module ``name``) name."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in statements:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - (node.level - 1)]
                mod = ".".join(parts + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULES]
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(mod)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {m for m in found if m in MODULES and m != name}


def _imports(name, path):
    """Package modules ``name`` imports at module level (TYPE_CHECKING blocks aside)."""
    return _package_imports(name, path, ast.parse(path.read_text(encoding="utf-8")).body)


def test_no_import_cycle_between_the_package_modules():
    cycles = _cycles({name: _imports(name, path) for name, path in MODULES.items()})
    assert not cycles, f"import cycles: {cycles}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_classes_stay_one_concept_in_size(name):
    text = MODULES[name].read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{name} has grown past {MAX_MODULE_LINES} lines: split it by concept"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.ClassDef):
            size = node.end_lineno - node.lineno + 1
            assert size <= MAX_CLASS_LINES, f"{name}.{node.name} is {size} lines: split it by concept"


def test_the_comm_target_is_spelled_in_one_module():
    spelled = [name for name, path in MODULES.items()
               if re.search(r"""["']tornado_launcher\.events["']""", path.read_text(encoding="utf-8"))]
    assert spelled == ["tornado_launcher.bridge.protocol"]


def test_qt_is_imported_only_under_gui():
    offenders = []
    for name, path in MODULES.items():
        if name.startswith("tornado_launcher.gui") or name == "tornado_launcher.cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            mods = ([a.name for a in node.names] if isinstance(node, ast.Import)
                    else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{name}: {m}" for m in mods if m.split(".")[0] in ("PySide6", "qtpy", "qasync", "qtconsole")]
    assert not offenders, offenders


def test_kernel_side_imports_only_stdlib_tornado_and_itself():
    import sys

    # ipykernel and what it depends on (comm, traitlets) are there in every kernel
    allowed = set(sys.stdlib_module_names) | {"tornado", "comm", "ipykernel", "traitlets"}
    # pyzmq, ipykernel's own dependency: the kernel's boot program builds its IOPub pipe with it
    own = {"tornado_launcher.bridge.boot": {"zmq"}}
    side = {n: p for n, p in MODULES.items()
            if n.startswith("tornado_launcher.bridge.") and n != "tornado_launcher.bridge"}
    # optional: imported inside a function, under `except ImportError` (the in-kernel watcher
    # uses watchdog where the kernel's Python has it, else scans)
    optional = {"tornado_launcher.bridge.kernelside.filewatch": {"watchdog"}}
    bad = []
    for name, path in side.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        guarded = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Try) and any(
                    isinstance(h.type, ast.Name) and h.type.id == "ImportError" for h in node.handlers):
                guarded |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
        ok = allowed | optional.get(name, set())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                mods = [node.module or ""]
            else:
                continue
            for m in mods:
                top = m.split(".")[0]
                if top in allowed or top in own.get(name, ()) or (top in ok and id(node) in guarded
                                                                   and node.col_offset > 0):
                    continue
                bad.append(f"{name}: {m}")
    assert not bad, f"kernel-side modules may import only the stdlib, tornado and each other: {bad}"


def test_no_sleep_on_the_launcher_side():
    # the launcher runs one event loop per process: a time.sleep there freezes it
    side = {n: p for n, p in MODULES.items() if not n.startswith("tornado_launcher.bridge")}
    bad = [n for n, p in side.items() if re.search(r"\btime\.sleep\(", p.read_text(encoding="utf-8"))]
    assert not bad, bad


_SPAWNERS = {"Popen", "run", "call", "check_call", "check_output", "create_subprocess_exec",
             "create_subprocess_shell"}


def test_children_get_child_env():
    # In the desktop app os.environ holds PyInstaller's library paths: every child
    # process is given interpreter.child_env() (or an environment built from it).
    bad = []
    for name, path in MODULES.items():
        if name.startswith("tornado_launcher.bridge."):
            continue  # runs inside the kernel, where the environment is the kernel's own
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                fn = node.func
                called = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
                owner = getattr(fn.value, "id", "") if isinstance(fn, ast.Attribute) else ""
                spawns = (owner == "subprocess" and called in _SPAWNERS) or \
                    (owner == "asyncio" and called.startswith("create_subprocess"))
                # ``**kwargs`` built by the caller counts as given (process.py builds env there)
                if spawns and not any(k.arg in ("env", None) for k in node.keywords):
                    bad.append(f"{name}:{node.lineno}")
    assert not bad, f"child processes get interpreter.child_env(): {bad}"


if os.name != "posix":  # pragma: no cover - the suite runs on Linux
    pytestmark = pytest.mark.skip("POSIX layout")


def _typing_imports(name, path):
    """Package modules ``name`` imports under ``if TYPE_CHECKING:`` (for annotations only)."""
    guarded = [imp for node in ast.parse(path.read_text(encoding="utf-8")).body
               if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for imp in node.body]
    return _package_imports(name, path, guarded)


def _cycles(graph):
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return cycles


def test_no_import_cycle_even_for_type_checking():
    graph = {name: _imports(name, path) | _typing_imports(name, path) for name, path in MODULES.items()}
    cycles = _cycles(graph)
    assert not cycles, (f"import cycles through `if TYPE_CHECKING:` imports: {cycles}; type the lower module "
                        "against a Protocol (api.py) or move the record it names below both")


def test_architecture_names_every_module():
    """ARCHITECTURE.md is the map: each module of the package is named in it (``kernelside/x.py``,
    ``gui/x.py``; a top-level or config module as `` `x.py` `` when no other module has that name)."""
    text = (PKG.parent / "ARCHITECTURE.md").read_text(encoding="utf-8")
    paths = [p for p in sorted(PKG.rglob("*.py"))
             if p.name != "__init__.py" and "resources" not in p.relative_to(PKG).parts]  # resources: the demo
    names = {}
    for p in paths:
        names.setdefault(p.name, []).append(p)
    missing = []
    for p in paths:
        rel = p.relative_to(PKG).as_posix()
        forms = [rel, f"{p.parent.name}/{p.name}"] + ([f"`{p.name}`"] if len(names[p.name]) == 1 else [])
        if not any(re.search(r"(?<![\w/.])" + re.escape(f), text) for f in forms):
            missing.append(rel)
    assert not missing, f"ARCHITECTURE.md does not name these modules (one line each in its tables): {missing}"
