"""Hot patch, the analysis: can a saved module be applied to its live objects in place?

:func:`analyze` compares the module's source as it was executed (or last
patched) with the saved one, statement by statement (``ast``, positions
ignored), at the module level and in every class body, and answers a
:class:`Plan` (what to swap, bind and delete) or raises :class:`Refused` with
the reason a reload is needed.  Nothing of the new source is executed: the
new functions' code objects are taken from the compiled module, default
values must be constants (``ast.literal_eval``).

Patched: a changed body (or constant defaults) of a function or method,
whatever wraps it (decorators that keep ``__wrapped__`` or a closure cell,
``staticmethod`` / ``classmethod`` / ``property``); a function added to a
module or a method to a class (decorated at most with a known safe decorator);
a method removed.  Everything else is refused (when in doubt, reload): a
changed module-level or class-level statement other than a ``def`` (a
constant, a route table, an import, a class attribute), changed bases,
metaclass or decorators, a changed signature or closure shape (free
variables: the ``__class__`` cell of ``super()``), a function that becomes a
coroutine or generator, a function that runs when the module is imported or
the app starts (a fresh start would call the new code; a patch would not),
an added class, a removed function or class, a special method added or
removed.

* The analysis (``hotpatch.Analysis``, nothing of the new source is executed). The old source is
  the bytes the module was executed (or last patched) from, kept on its ``graph.CodeCache``
  entry. Both are parsed; the module body and each class body are compared: statements other
  than ``def``/``class`` must be equal (``ast.dump`` without positions) and in the same order
  relative to the definitions both have; a class must keep its bases, keywords and decorators; a
  function its decorators, signature (defaults aside), kind (plain/generator/coroutine: code
  flags) and free variables (``co_freevars``: the ``__class__`` cell of ``super()``, closures).
  New defaults must be constants (``ast.literal_eval``). The new code object of each function is
  taken from the compiled module by ``(co_qualname, co_firstlineno)`` (the first decorator's
  line: property getter and setter share a qualname). The live function is found from the
  module's or class's ``__dict__`` entry through what wraps it: ``__wrapped__``
  (``functools.wraps``, ``tornado.web.authenticated``, ``gen.coroutine``), closure cells (a
  decorator without ``wraps``), ``__func__`` (staticmethod/classmethod), ``fget/fset/fdel``,
  ``partial.func``; matched by qualname, old first line and file (a cache in front of it,
  ``lru_cache``, is cleared with the swap). Aliases (``get = _impl``, ``from x import f`` in
  another module) are the same object. Added: a function (module) or method (class), built from
  its code object (``__class__`` cell = the class), constant defaults, no annotations, and at
  most the decorators ``staticmethod``, ``classmethod``, ``property``,
  ``tornado.web.authenticated/addslash/removeslash``, ``tornado.gen.coroutine``. Removed: a
  method (not a module function: another module may import it). Refused: special methods added
  or removed, classes added or removed.
* What runs at import or start is not patched. A fresh start would call the new code; a patch
  would not. ``startup_names`` collects what the module-level and class-level statements call (a
  statement that calls nothing, such as ``ROUTES = [(r"/", Main)]`` or ``get = _impl``, calls
  nothing), decorators, bases, the constructors of classes named there, and transitively the
  bodies of the functions reached, for the module, its importers (transitively, at most 200) and
  the app's entry points (``app_class``: every method of the class; ``main``/``factory``: that
  function). Methods of ``RequestHandler`` subclasses run per request only and are always
  patchable.
"""

import ast
import types

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_KIND_FLAGS = 0x20 | 0x80 | 0x100 | 0x200  # generator, coroutine, iterable coroutine, async generator
#: the constructor methods a class named at startup runs
_CONSTRUCTORS = ("__init__", "__new__", "__post_init__", "__init_subclass__", "__set_name__", "__call__")
MAX_IMPORTERS = 200


class Refused(Exception):
    """The change cannot be patched; ``str()`` is the reason, short ("class attribute changed")."""


class Plan:
    """What a patch of one module does: ``actions`` applied in order by :func:`apply`;
    ``changes`` the names shown ("MainHandler.get")."""

    def __init__(self, module, path):
        self.module = module
        self.path = path
        self.actions = []
        self.changes = []
        self.code_object = None  # the new source's module code (kept by graph.CodeCache)
        self.parsed = None  # the new source's Parsed

    def apply(self):
        for action in self.actions:
            kind = action[0]
            if kind == "code":
                _, fn, code, defaults, kwdefaults, doc = action
                fn.__code__ = code
                if defaults is not _KEEP:
                    fn.__defaults__ = defaults
                if kwdefaults is not _KEEP:
                    fn.__kwdefaults__ = kwdefaults
                if doc is not _KEEP:
                    fn.__doc__ = doc
            elif kind == "set":
                _, owner, name, value = action
                setattr(owner, name, value)
            elif kind == "del":
                _, owner, name = action
                delattr(owner, name)
            elif kind == "call":  # a cache in front of a patched function: its results are the old code's
                action[1]()


_KEEP = object()


def _key(node, memo=None):
    """A structural key of ``node`` (an AST node, a list of them, or a field's value): equal
    keys for equal trees, positions ignored (what ``ast.dump(node, annotate_fields=False,
    include_attributes=False)`` compares, as tuples).  ``memo``: id(statement) -> its key, for
    statements of a tree kept alive as long as the memo (:class:`Parsed`)."""
    if isinstance(node, ast.AST):
        if memo is not None and isinstance(node, ast.stmt):
            key = memo.get(id(node))
            if key is None:
                key = memo[id(node)] = (type(node).__name__,) + tuple([_key(getattr(node, f, None), memo)
                                                                        for f in node._fields])
            return key
        return (type(node).__name__,) + tuple([_key(getattr(node, f, None), memo) for f in node._fields])
    if type(node) is list:
        return tuple([_key(x, memo) for x in node])
    if node is None or type(node) is str:
        return node
    return (type(node).__name__, repr(node))


class Parsed:
    """A module's source parsed once, with the keys (:func:`_key`) and line numbers of its
    statements computed as asked and kept: a patched module's new source is the next save's
    old one, so its side of the next comparison costs nothing (``patching`` keeps it)."""

    def __init__(self, tree):
        self.tree = tree
        self.keys = {}  # id(statement) -> _key
        self.lines = {}  # id(definition) -> the line numbers of its nodes

    def key(self, node):
        return _key(node, self.keys)

    def lines_of(self, node):
        out = self.lines.get(id(node))
        if out is None:
            out = self.lines[id(node)] = [getattr(n, "lineno", None) for n in ast.walk(node)]
        return out


def _first_line(node):
    lines = [d.lineno for d in getattr(node, "decorator_list", ())]
    return min(lines + [node.lineno])


def code_objects(code, out=None):
    """``(qualname, first line) -> code`` of the functions and class bodies defined at module
    level and in class bodies (a function's inner code travels with it)."""
    if out is None:
        out = {}
    for const in code.co_consts:
        if type(const) is types.CodeType:
            out[(const.co_qualname, const.co_firstlineno)] = const
            if not (const.co_flags & 0x02):  # CO_NEWLOCALS: a function; a class body has none
                code_objects(const, out)
    return out


def identifiers(nodes):
    """Every name and attribute name mentioned in ``nodes``."""
    out = set()
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Name):
                out.add(node.id)
            elif isinstance(node, ast.Attribute):
                out.add(node.attr)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    out.add((alias.asname or alias.name).partition(".")[0])
    return out


_ACTIVE = (ast.Call, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.Await, ast.Yield,
           ast.YieldFrom)
_INERT_STATEMENTS = (ast.Assign, ast.AnnAssign, ast.Expr, ast.Pass, ast.Global, ast.Nonlocal)


def _calls(nodes):
    """The names mentioned in ``nodes`` if they call anything (a table of names calls nothing)."""
    nodes = [n for n in nodes if n is not None]
    if any(isinstance(x, _ACTIVE) for n in nodes for x in ast.walk(n)):
        return identifiers(nodes)
    return set()


def _run_at_definition(node):
    """Names the statement defining ``node`` may call when it runs (not its body)."""
    out = set()
    for dec in node.decorator_list:
        if isinstance(dec, ast.Attribute) and dec.attr in ("setter", "getter", "deleter"):
            continue  # @prop.setter: property's own method
        out |= identifiers([dec])  # the decorator itself is called with the function
    if isinstance(node, ast.ClassDef):
        out |= identifiers(node.bases + [k.value for k in node.keywords])
    else:
        a = node.args
        out |= _calls(a.defaults + a.kw_defaults)
        out |= _calls([x.annotation for x in a.posonlyargs + a.args + a.kwonlyargs + [a.vararg, a.kwarg]
                       if x is not None] + [node.returns])
    return out


def _run_by_statement(stmt):
    """Names a module- or class-level statement other than a def may call when it runs."""
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return set()
    if isinstance(stmt, _INERT_STATEMENTS):
        return _calls([stmt])
    return identifiers([stmt])


def startup_names(tree, roots=()):
    """The names of the functions and methods of ``tree`` that may run when the module is
    imported (or, with ``roots``, when the app starts from them): what its module-level and
    class-level statements call, and, transitively, what those functions' bodies mention."""
    defs = []  # (name, node, owner class node or None)
    seen = set()

    def collect(body, owner):
        for stmt in body:
            if isinstance(stmt, _FUNCS):
                defs.append((stmt.name, stmt, owner))
                seen.update(_run_at_definition(stmt))
            elif isinstance(stmt, ast.ClassDef):
                defs.append((stmt.name, stmt, owner))
                seen.update(_run_at_definition(stmt))
                collect(stmt.body, stmt)
            else:
                seen.update(_run_by_statement(stmt))

    collect(tree.body, None)
    seen.update(roots)
    done = set()
    changed = True
    while changed:
        changed = False
        for name, node, owner in defs:
            if id(node) in done:
                continue
            hit = name in seen
            if isinstance(node, _FUNCS) and owner is not None and owner.name in seen and name in _CONSTRUCTORS:
                hit = True
            if isinstance(node, _FUNCS) and owner is not None and ("@" + owner.name) in seen:
                hit = True  # every method of an entry class
            if hit and isinstance(node, _FUNCS):
                done.add(id(node))
                seen.update(identifiers(node.body))
                seen.add(name)
                changed = True
    return seen


def _signature(node):
    a = node.args
    shape = ast.arguments(posonlyargs=a.posonlyargs, args=a.args, vararg=a.vararg, kwonlyargs=a.kwonlyargs,
                          kw_defaults=[None if d is None else ast.Constant(0) for d in a.kw_defaults],
                          kwarg=a.kwarg, defaults=[ast.Constant(0) for _ in a.defaults])
    return _key(shape), _key(node.returns)


def _constants(nodes, what):
    try:
        return tuple(ast.literal_eval(n) for n in nodes)
    except Exception:
        raise Refused("a default value of %s is not a constant" % what) from None


def _defaults(node, what):
    """``(defaults, kwdefaults)`` of a new def's statement, constants only."""
    a = node.args
    defaults = _constants(a.defaults, what) or None
    kw = {}
    for arg, d in zip(a.kwonlyargs, a.kw_defaults, strict=True):
        if d is not None:
            kw[arg.arg] = _constants([d], what)[0]
    return defaults, (kw or None)


def _functions_in(obj, depth=0, seen=None):
    """The function objects reachable from ``obj`` through what wraps them."""
    if seen is None:
        seen = set()
    if obj is None or id(obj) in seen or depth > 8:
        return
    seen.add(id(obj))
    if isinstance(obj, types.FunctionType):
        yield obj
        for cell in obj.__closure__ or ():
            try:
                inner = cell.cell_contents
            except ValueError:
                continue
            if callable(inner) and not isinstance(inner, type):
                yield from _functions_in(inner, depth + 1, seen)
    if isinstance(obj, (staticmethod, classmethod, types.MethodType)):
        yield from _functions_in(obj.__func__, depth + 1, seen)
    elif isinstance(obj, property):
        for part in (obj.fget, obj.fset, obj.fdel):
            yield from _functions_in(part, depth + 1, seen)
    try:
        wrapped = obj.__dict__.get("__wrapped__") if hasattr(obj, "__dict__") else None
    except Exception:
        wrapped = None
    if wrapped is not None:
        yield from _functions_in(wrapped, depth + 1, seen)
    func = getattr(obj, "func", None) if type(obj).__name__ == "partial" else None
    if func is not None:
        yield from _functions_in(func, depth + 1, seen)


def _caches(obj):
    """``cache_clear`` of the caches wrapping ``obj`` (``functools.lru_cache`` / ``cache``)."""
    out = []
    for _ in range(8):
        clear = getattr(obj, "cache_clear", None)
        if callable(clear):
            out.append(clear)
        inner = getattr(obj, "__func__", None)
        if inner is None:
            try:
                inner = obj.__dict__.get("__wrapped__")
            except Exception:
                inner = None
        if inner is None:
            break
        obj = inner
    return out


def find_function(obj, qualname, first_line, path):
    """The live function object of the ``def`` at ``qualname`` / ``first_line`` reachable from ``obj``."""
    for fn in _functions_in(obj):
        code = fn.__code__
        if code.co_qualname == qualname and code.co_firstlineno == first_line and code.co_filename == path:
            return fn
    return None


def _safe_decorators():
    import tornado.gen
    import tornado.web
    return (staticmethod, classmethod, property, tornado.web.authenticated, tornado.web.addslash,
            tornado.web.removeslash, tornado.gen.coroutine)


def _dotted(node):
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


class Analysis:
    """One module's comparison: see the module docstring."""

    def __init__(self, module, path, old_source, new_source, startup=frozenset(), handler_base=None, old=None):
        self.module = module
        self.path = path
        self.startup = startup
        self.handler_base = handler_base
        try:
            self.new = Parsed(ast.parse(new_source, path))
            self.new_code = compile(self.new.tree, path, "exec", dont_inherit=True)
        except SyntaxError as exc:
            raise Refused("syntax error at line %s" % exc.lineno) from None
        try:
            self.old = old if old is not None else Parsed(ast.parse(old_source, path))
        except SyntaxError:
            raise Refused("the running code could not be read") from None
        self.codes = code_objects(self.new_code)
        self.plan = Plan(module, path)

    def run(self):
        self._body(self.old.tree.body, self.new.tree.body, self.module, "", is_class=False, request_time=False)
        self.plan.code_object = self.new_code
        self.plan.parsed = self.new
        return self.plan

    def _same(self, old, new):
        """Whether ``old`` (of the old tree) and ``new`` (of the new) are the same, positions ignored."""
        return self.old.key(old) == self.new.key(new)

    def _positions_same(self, old, new):
        if _first_line(old) != _first_line(new) or getattr(old, "end_lineno", None) != getattr(new, "end_lineno", None):
            return False
        # a line moved inside the definition changes its code's line table: compare lines of every node
        return self.old.lines_of(old) == self.new.lines_of(new)

    def _first_difference(self, old, new):
        for o, n in zip(old, new, strict=False):  # the shorter one's end: the rest is the difference
            if not self._same(o, n):
                return getattr(n, "lineno", None)
        if len(old) != len(new):
            rest = (new[len(old):] or old[len(new):])
            return getattr(rest[0], "lineno", None)
        return None

    # -- one body (the module's, a class's)
    def _body(self, old, new, owner, prefix, is_class, request_time):
        where = "class attribute changed" if is_class else "module-level statement changed"
        old_defs = {}
        new_defs = {}
        for body, defs in ((old, old_defs), (new, new_defs)):
            for stmt in body:
                if isinstance(stmt, _DEFS):
                    defs.setdefault(stmt.name, []).append(stmt)
        common = set(old_defs) & set(new_defs)
        # the statements other than defs, and the order of the defs both have, must not move
        shape_old = [("def", s.name) if isinstance(s, _DEFS) else self.old.key(s) for s in old
                     if not isinstance(s, _DEFS) or s.name in common]
        shape_new = [("def", s.name) if isinstance(s, _DEFS) else self.new.key(s) for s in new
                     if not isinstance(s, _DEFS) or s.name in common]
        if shape_old != shape_new:
            if [x for x in shape_old if x[0] != "def"] != [x for x in shape_new if x[0] != "def"]:
                line = self._first_difference(old, new)
                raise Refused(where + (" (line %d)" % line if line and not is_class else ""))
            raise Refused("definitions moved around other statements")
        bound = set()
        for stmt in new:
            if not isinstance(stmt, _DEFS):
                bound.update(_bound_names(stmt))
        for name in sorted(set(old_defs) | set(new_defs)):
            olds, news = old_defs.get(name, []), new_defs.get(name, [])
            qual = prefix + name
            if name in bound and not self._same(olds, news):
                raise Refused("%s is also assigned by another statement" % qual)
            if len(olds) != len(news):
                if not news and len(olds) == 1 and is_class and isinstance(olds[0], _FUNCS):
                    self._removed(owner, olds[0], qual)
                    continue
                if not olds and len(news) == 1 and isinstance(news[0], _FUNCS):
                    self._added(owner, news[0], prefix, is_class)
                    continue
                if not news:
                    raise Refused("%s was removed" % qual)
                if not olds and isinstance(news[0], ast.ClassDef):
                    raise Refused("class %s was added" % qual)
                raise Refused("the definitions named %s changed" % qual)
            for o, n in zip(olds, news, strict=True):
                if isinstance(o, ast.ClassDef) or isinstance(n, ast.ClassDef):
                    self._class(owner, o, n, qual, request_time)
                else:
                    self._function(owner, o, n, qual, request_time, is_class)

    def _class(self, owner, old, new, qual, request_time):
        if not (isinstance(old, ast.ClassDef) and isinstance(new, ast.ClassDef)):
            raise Refused("%s changed between a class and a function" % qual)
        if not self._same(old.bases, new.bases):
            raise Refused("the bases of class %s changed" % qual)
        if not self._same(old.keywords, new.keywords):
            raise Refused("the metaclass or class keywords of %s changed" % qual)
        if not self._same(old.decorator_list, new.decorator_list):
            raise Refused("the decorators of class %s changed" % qual)
        if self._same(old.body, new.body) and self._positions_same(old, new):
            return
        cls = _get(owner, old.name)
        if not isinstance(cls, type) or cls.__qualname__ != qual:
            raise Refused("class %s is not the object the module holds under that name" % qual)
        if self.handler_base is not None and issubclass(cls, self.handler_base):
            request_time = True  # Tornado calls a handler's methods per request, never at start
        self._body(old.body, new.body, cls, qual + ".", is_class=True, request_time=request_time)

    def _function(self, owner, old, new, qual, request_time, is_class):
        if type(old) is not type(new):
            raise Refused("%s changed between async def and def" % qual)
        if not self._same(old.decorator_list, new.decorator_list):
            raise Refused("the decorators of %s changed" % qual)
        if _signature(old) != _signature(new):
            raise Refused("the signature of %s changed" % qual)
        same_body = self._same(old.body, new.body)
        same_defaults = self._same(old.args, new.args)
        if same_body and same_defaults and self._positions_same(old, new):
            return
        changed = not (same_body and same_defaults)
        if not changed:
            try:  # only its lines moved: new line numbers for tracebacks, when it can be done
                self._swap(owner, old, new, qual, True)
            except Refused:
                pass
            return
        if not request_time and new.name in self.startup:
            raise Refused("%s runs when the module is imported or the app starts" % qual)
        self._swap(owner, old, new, qual, same_defaults)
        self.plan.changes.append(qual)

    def _swap(self, owner, old, new, qual, same_defaults):
        code = self.codes.get((qual, _first_line(new)))
        if code is None:
            raise Refused("the new code of %s was not found" % qual)
        live = _get(owner, old.name)  # a class's __dict__ entry: staticmethod, property, ...
        fn = find_function(live, qual, _first_line(old), self.path)
        if fn is None:
            raise Refused("the function object of %s was not found (wrapped beyond reach)" % qual)
        if fn.__code__.co_freevars != code.co_freevars:
            raise Refused("the closure of %s changed (free variables: %s)" % (
                qual, ", ".join(code.co_freevars) or "none"))
        if (fn.__code__.co_flags & _KIND_FLAGS) != (code.co_flags & _KIND_FLAGS):
            raise Refused("%s changed between a plain function, a generator and a coroutine" % qual)
        defaults = kwdefaults = _KEEP
        if not same_defaults:
            defaults, kwdefaults = _defaults(new, qual)
        doc = _KEEP
        new_doc = ast.get_docstring(new, clean=False)
        if new_doc != ast.get_docstring(old, clean=False):
            doc = new_doc
        self.plan.actions.append(("code", fn, code, defaults, kwdefaults, doc))
        for clear in _caches(live):
            self.plan.actions.append(("call", clear))

    def _added(self, owner, node, prefix, is_class):
        qual = prefix + node.name
        if is_class and node.name.startswith("__") and node.name.endswith("__"):
            raise Refused("special method %s was added" % qual)
        if not is_class and node.name in self.startup:
            raise Refused("%s runs when the module is imported" % qual)
        code = self.codes.get((qual, _first_line(node)))
        if code is None:
            raise Refused("the new code of %s was not found" % qual)
        if code.co_freevars and not (is_class and code.co_freevars == ("__class__",)):
            raise Refused("the new %s needs a closure" % qual)
        closure = (types.CellType(owner),) if code.co_freevars else None
        defaults, kwdefaults = _defaults(node, qual)
        a = node.args
        if node.returns or any(x.annotation is not None for x in a.posonlyargs + a.args + a.kwonlyargs):
            raise Refused("the new %s has annotations" % qual)  # evaluated at def time: not guessed
        fn = types.FunctionType(code, self.module.__dict__, node.name, defaults, closure)
        fn.__kwdefaults__ = kwdefaults
        fn.__qualname__ = qual
        obj = fn
        if node.decorator_list:
            safe = _safe_decorators()
            for dec in reversed(node.decorator_list):
                if not _dotted(dec):
                    raise Refused("the new %s has a decorator that must be called" % qual)
                try:
                    value = eval(compile(ast.Expression(dec), self.path, "eval"), self.module.__dict__)
                except Exception:
                    raise Refused("a decorator of the new %s is not known" % qual) from None
                if not any(value is s for s in safe):
                    raise Refused("the new %s has decorator %s" % (qual, ast.unparse(dec)))
                obj = value(obj)
        if is_class:
            self.plan.actions.append(("set", owner, node.name, obj))
        else:
            self.plan.actions.append(("set", self.module, node.name, obj))
        self.plan.changes.append(qual + " (new)")

    def _removed(self, cls, node, qual):
        if node.name.startswith("__") and node.name.endswith("__"):
            raise Refused("special method %s was removed" % qual)
        if node.name not in cls.__dict__:
            raise Refused("%s is not in its class any more" % qual)
        self.plan.actions.append(("del", cls, node.name))
        self.plan.changes.append(qual + " (removed)")


def _get(owner, name):
    if isinstance(owner, types.ModuleType):
        return owner.__dict__.get(name)
    return owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)




def _bound_names(stmt):
    out = set()
    for node in ast.walk(stmt):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                out.add((alias.asname or alias.name).partition(".")[0])
        elif isinstance(node, _DEFS):
            out.add(node.name)
        elif isinstance(node, ast.Global):
            out.update(node.names)
    return out


def analyze(module, path, old_source, new_source, startup=frozenset(), handler_base=None, old=None):
    """The :class:`Plan` that turns ``module`` (executed from ``old_source``) into ``new_source``,
    or :class:`Refused`.  ``startup``: names that run at import or start (:func:`startup_names`
    of this module, its importers and the entry modules); ``handler_base``: the class whose
    subclasses' methods run per request only (``tornado.web.RequestHandler``); ``old``: the
    :class:`Parsed` of ``old_source`` when it is at hand (the plan's ``parsed`` is the new one's)."""
    return Analysis(module, path, old_source, new_source, startup, handler_base, old).run()
