"""The safety corpus of ``reload = "patch"``: kinds of edits, each a small package and one save.

Each :class:`Edit` names the files of a package (``h.py`` is the usual
handler module; ``routes.py`` defaults to serving ``h.ROUTES``), the edit
(``(file, old text, new text)`` replacements made in one save), the outcome
(``"patched"`` or a part of the reason for a reload) and the requests whose
answers must equal those of a fresh start of the edited code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Tuple

HEAD = '''\
import asyncio, dataclasses, enum, functools
import tornado.gen
import tornado.web
'''


@dataclass
class Edit:
    id: str
    h: str  # the handler module's body (HEAD is put before it)
    edits: List[Tuple[str, str, str]]  # (file, old, new), one save
    expect: str  # "patched", or a part of the reason of the reload
    requests: List[str] = field(default_factory=lambda: ["/"])
    files: Dict[str, str] = field(default_factory=dict)  # more modules of the package
    fresh: bool = True  # compare with a fresh start of the edited code (False: the edit does not start)


def main(body, extra=""):
    return ('class Main(tornado.web.RequestHandler):\n' + body + extra
            + '\n\nROUTES = [(r"/", Main)]\n')


CASES = [
    Edit("get-body", main('    def get(self):\n        self.write("v1")\n'),
         [("h.py", '"v1"', '"v2"')], "patched"),
    Edit("post-body", main('    def post(self):\n        self.write("p1:" + self.request.body.decode())\n'),
         [("h.py", '"p1:"', '"p2:"')], "patched", ["POST /"]),
    Edit("prepare-body", main('    def prepare(self):\n        self.tag = "a"\n\n'
                              '    def get(self):\n        self.write(self.tag)\n'),
         [("h.py", 'self.tag = "a"', 'self.tag = "b"')], "patched"),
    Edit("initialize-body", 'class Main(tornado.web.RequestHandler):\n'
         '    def initialize(self, word):\n        self.word = word + "1"\n\n'
         '    def get(self):\n        self.write(self.word)\n\n\nROUTES = [(r"/", Main, {"word": "w"})]\n',
         [("h.py", 'word + "1"', 'word + "2"')], "patched"),
    Edit("async-get", main('    async def get(self):\n        await asyncio.sleep(0)\n        self.write("a1")\n'),
         [("h.py", '"a1"', '"a2"')], "patched"),
    Edit("gen-coroutine", main('    @tornado.gen.coroutine\n    def get(self):\n'
                               '        yield tornado.gen.sleep(0)\n        self.write("g1")\n'),
         [("h.py", '"g1"', '"g2"')], "patched"),
    Edit("authenticated", main('    def get_current_user(self):\n        return "ann"\n\n'
                               '    @tornado.web.authenticated\n    def get(self):\n'
                               '        self.write("hello " + self.current_user)\n'),
         [("h.py", '"hello "', '"bye "')], "patched"),
    Edit("wraps-decorator", 'def logged(fn):\n    @functools.wraps(fn)\n    def wrapper(*a, **k):\n'
         '        return fn(*a, **k)\n    return wrapper\n\n\n'
         + main('    @logged\n    def get(self):\n        self.write("w1")\n'),
         [("h.py", '"w1"', '"w2"')], "patched"),
    Edit("closure-decorator", 'def plain(fn):\n    def wrapper(*a, **k):\n        return fn(*a, **k)\n'
         '    return wrapper\n\n\n' + main('    @plain\n    def get(self):\n        self.write("c1")\n'),
         [("h.py", '"c1"', '"c2"')], "patched"),
    Edit("property-getter", 'class Box:\n    @property\n    def value(self):\n        return "pg1"\n\n\n'
         + main('    def get(self):\n        self.write(Box().value)\n'),
         [("h.py", '"pg1"', '"pg2"')], "patched"),
    Edit("property-setter", 'class Box:\n    @property\n    def value(self):\n        return self._v\n\n'
         '    @value.setter\n    def value(self, v):\n        self._v = v + "1"\n\n\n'
         + main('    def get(self):\n        b = Box()\n        b.value = "s"\n        self.write(b.value)\n'),
         [("h.py", 'v + "1"', 'v + "2"')], "patched"),
    Edit("classmethod", 'class Box:\n    @classmethod\n    def make(cls):\n        return cls.__name__ + "1"\n\n\n'
         + main('    def get(self):\n        self.write(Box.make())\n'),
         [("h.py", '+ "1"', '+ "2"')], "patched"),
    Edit("staticmethod", main('    @staticmethod\n    def word():\n        return "st1"\n\n'
                              '    def get(self):\n        self.write(self.word())\n'),
         [("h.py", '"st1"', '"st2"')], "patched"),
    Edit("module-function", 'def helper():\n    return "f1"\n\n\n'
         + main('    def get(self):\n        self.write(helper())\n'),
         [("h.py", '"f1"', '"f2"')], "patched"),
    Edit("default-constant", 'def helper(x="d1"):\n    return x\n\n\n'
         + main('    def get(self):\n        self.write(helper())\n'),
         [("h.py", '"d1"', '"d2"')], "patched"),
    Edit("kwonly-default", 'def helper(*, x="k1"):\n    return x\n\n\n'
         + main('    def get(self):\n        self.write(helper())\n'),
         [("h.py", '"k1"', '"k2"')], "patched"),
    Edit("default-computed", 'def helper(x=len("ab")):\n    return str(x)\n\n\n'
         + main('    def get(self):\n        self.write(helper())\n'),
         [("h.py", 'len("ab")', 'len("abc")')], "not a constant"),
    Edit("function-added", main('    def get(self):\n        self.write("n1")\n'),
         [("h.py", 'class Main', 'def extra():\n    return "n2"\n\n\nclass Main'), ("h.py", '"n1"', 'extra()')],
         "patched"),
    Edit("method-added", main('    def get(self):\n        self.write("m1")\n'),
         [("h.py", '        self.write("m1")\n', '        self.write(self.more())\n\n'
           '    def more(self):\n        return "m2"\n')], "patched"),
    Edit("verb-added", main('    def get(self):\n        self.write("v1")\n'),
         [("h.py", '        self.write("v1")\n', '        self.write("v1")\n\n'
           '    def post(self):\n        self.write("posted")\n')], "patched", ["/", "POST /"]),
    Edit("method-removed", main('    def get(self):\n        self.write("r1")\n\n'
                                '    def post(self):\n        self.write("posted")\n'),
         [("h.py", '\n    def post(self):\n        self.write("posted")\n', '')], "patched", ["/", "POST /"]),
    Edit("class-alias", 'class Main(tornado.web.RequestHandler):\n    def _impl(self):\n        self.write("al1")\n\n'
         '    get = _impl\n\n\nROUTES = [(r"/", Main)]\n',
         [("h.py", '"al1"', '"al2"')], "patched"),
    Edit("module-alias", 'def helper():\n    return "ma1"\n\n\nother = helper\n\n\n'
         + main('    def get(self):\n        self.write(other() + helper())\n'),
         [("h.py", '"ma1"', '"ma2"')], "patched"),
    Edit("from-import-copy", 'from .util import fmt\n\n\n' + main('    def get(self):\n        self.write(fmt())\n'),
         [("util.py", '"u1"', '"u2"')], "patched", files={"util.py": 'def fmt():\n    return "u1"\n'}),
    Edit("super-kept", 'class Base(tornado.web.RequestHandler):\n    def word(self):\n        return "b"\n\n\n'
         'class Main(Base):\n    def word(self):\n        return super().word() + "1"\n\n'
         '    def get(self):\n        self.write(self.word())\n\n\nROUTES = [(r"/", Main)]\n',
         [("h.py", '+ "1"', '+ "2"')], "patched"),
    Edit("super-added", 'class Base(tornado.web.RequestHandler):\n    def word(self):\n        return "b"\n\n\n'
         'class Main(Base):\n    def word(self):\n        return "1"\n\n'
         '    def get(self):\n        self.write(self.word())\n\n\nROUTES = [(r"/", Main)]\n',
         [("h.py", 'return "1"', 'return super().word() + "2"')], "closure"),
    Edit("inner-closure", main('    def get(self):\n        x = "i1"\n\n        def inner():\n            return x\n'
                               '        self.write(inner())\n'),
         [("h.py", '"i1"', '"i2"')], "patched"),
    Edit("factory-at-import", 'def make(p):\n    def f():\n        return p + "1"\n    return f\n\n\n'
         'greet = make("x")\n\n\n' + main('    def get(self):\n        self.write(greet())\n'),
         [("h.py", 'p + "1"', 'p + "2"')], "runs when the module is imported"),
    Edit("constant", 'WORD = "c1"\n\n\n' + main('    def get(self):\n        self.write(WORD)\n'),
         [("h.py", '"c1"', '"c2"')], "module-level statement changed"),
    Edit("import-added", main('    def get(self):\n        self.write("i")\n'),
         [("h.py", 'import asyncio', 'import asyncio, json')], "module-level statement changed"),
    Edit("route-table", main('    def get(self):\n        self.write("rt")\n'),
         [("h.py", '(r"/", Main)]', '(r"/", Main), (r"/x", Main)]')], "module-level statement changed", ["/", "/x"]),
    Edit("class-attribute", 'class Main(tornado.web.RequestHandler):\n    label = "ca1"\n\n'
         '    def get(self):\n        self.write(self.label)\n\n\nROUTES = [(r"/", Main)]\n',
         [("h.py", '"ca1"', '"ca2"')], "class attribute changed"),
    Edit("bases", 'class Mixin:\n    def word(self):\n        return "mx"\n\n\n'
         'class Main(tornado.web.RequestHandler):\n    def get(self):\n'
         '        self.write(getattr(self, "word", lambda: "none")())\n'
         '\n\nROUTES = [(r"/", Main)]\n',
         [("h.py", 'class Main(tornado.web.RequestHandler)', 'class Main(Mixin, tornado.web.RequestHandler)')],
         "bases"),
    Edit("class-decorator", 'def tag(cls):\n    cls.tag = "t"\n    return cls\n\n\n'
         + main('    def get(self):\n        self.write(getattr(self, "tag", "none"))\n'),
         [("h.py", 'class Main(', '@tag\nclass Main(')], "decorators of class"),
    Edit("method-decorator", 'def loud(fn):\n    @functools.wraps(fn)\n    def w(self):\n        fn(self)\n'
         '        self.write("!")\n    return w\n\n\n' + main('    def get(self):\n        self.write("md")\n'),
         [("h.py", '    def get(self)', '    @loud\n    def get(self)')], "decorators of"),
    Edit("signature", 'def helper(a):\n    return a\n\n\n'
         + main('    def get(self):\n        self.write(helper("s"))\n'),
         [("h.py", 'def helper(a):\n    return a', 'def helper(a, b="2"):\n    return a + b')], "signature"),
    Edit("became-async", main('    def get(self):\n        self.write("ba1")\n'),
         [("h.py", '    def get(self):\n        self.write("ba1")',
           '    async def get(self):\n        self.write("ba2")')],
         "async def"),
    Edit("became-generator", 'def items():\n    return ["g1"]\n\n\n'
         + main('    def get(self):\n        self.write(",".join(items()))\n'),
         [("h.py", 'return ["g1"]', 'yield "g2"')], "generator"),
    Edit("enum-method", 'class Color(enum.Enum):\n    RED = "r"\n\n'
         '    def describe(self):\n        return "e1" + self.value\n\n\n'
         + main('    def get(self):\n        self.write(Color.RED.describe())\n'),
         [("h.py", '"e1"', '"e2"')], "patched"),
    Edit("enum-member", 'class Color(enum.Enum):\n    RED = "r"\n\n\n'
         + main('    def get(self):\n        self.write(",".join(c.value for c in Color))\n'),
         [("h.py", 'RED = "r"', 'RED = "r"\n    BLUE = "b"')], "class attribute changed"),
    Edit("dataclass-method", '@dataclasses.dataclass\nclass Item:\n    name: str = "x"\n\n'
         '    def label(self):\n        return "dc1-" + self.name\n\n\n'
         + main('    def get(self):\n        self.write(Item().label() + repr(Item()))\n'),
         [("h.py", '"dc1-"', '"dc2-"')], "patched"),
    Edit("dataclass-field", '@dataclasses.dataclass\nclass Item:\n    name: str = "x"\n\n\n'
         + main('    def get(self):\n        self.write(repr(Item()))\n'),
         [("h.py", 'name: str = "x"', 'name: str = "x"\n    size: int = 2')], "class attribute changed"),
    Edit("nested-class", 'class Outer:\n    class Inner:\n        def word(self):\n            return "nc1"\n\n\n'
         + main('    def get(self):\n        self.write(Outer.Inner().word())\n'),
         [("h.py", '"nc1"', '"nc2"')], "patched"),
    Edit("lambda-table", 'ACTIONS = {"a": lambda: "l1"}\n\n\n'
         + main('    def get(self):\n        self.write(ACTIONS["a"]())\n'),
         [("h.py", '"l1"', '"l2"')], "module-level statement changed"),
    Edit("isinstance", 'class Model:\n    def word(self):\n        return "is1"\n\n\nSTORE = [Model()]\n\n\n'
         + main('    def get(self):\n        self.write("%s %s" % (isinstance(STORE[0], Model), STORE[0].word()))\n'),
         [("h.py", '"is1"', '"is2"')], "patched"),
    Edit("class-added", main('    def get(self):\n        self.write("k1")\n'),
         [("h.py", 'class Main', 'class Extra:\n    pass\n\n\nclass Main')], "class Extra was added"),
    Edit("function-removed", 'def unused():\n    return 1\n\n\n'
         + main('    def get(self):\n        self.write("fr")\n'),
         [("h.py", 'def unused():\n    return 1\n\n\n', '')], "was removed"),
    Edit("runs-at-import", 'def compute():\n    return "ri1"\n\n\nVALUE = compute()\n\n\n'
         + main('    def get(self):\n        self.write(VALUE)\n'),
         [("h.py", '"ri1"', '"ri2"')], "runs when the module is imported"),
    Edit("runs-at-start", main('    def get(self):\n        self.write("rs")\n'),
         [("routes.py", 'return h.ROUTES', 'return h.ROUTES + [(r"/extra", h.Main)]')],
         "runs when the module is imported or the app starts", ["/", "/extra"]),
    Edit("syntax-error", main('    def get(self):\n        self.write("se1")\n'),
         [("h.py", 'self.write("se1")', 'self.write("se2"')], "SyntaxError", fresh=False),
    Edit("docstring", main('    def get(self):\n        """Doc one."""\n        self.write(self.get.__doc__)\n'),
         [("h.py", 'Doc one.', 'Doc two.')], "patched"),
    Edit("comment-only", main('    def get(self):\n        # one\n        self.write("co")\n'),
         [("h.py", '# one', '# two')], "patched"),
    Edit("lines-moved", 'def helper():\n    return "lm"\n\n\n'
         + main('    def get(self):\n        self.write(helper() + str(helper.__code__.co_firstlineno))\n'),
         [("h.py", 'def helper', '# a comment\n\n\ndef helper')], "patched"),
    Edit("special-added", 'class Model:\n    def word(self):\n        return 1\n\n\n'
         + main('    def get(self):\n        self.write(str(Model() == Model()))\n'),
         [("h.py", 'class Model:\n', 'class Model:\n    def __eq__(self, other):\n        return True\n\n')],
         "special method"),
    Edit("safe-decorator-added", main('    def get_current_user(self):\n        return "u"\n\n'
                                      '    def get(self):\n        self.write("sd")\n'),
         [("h.py", '        self.write("sd")\n', '        self.write("sd")\n\n    @tornado.web.authenticated\n'
           '    def post(self):\n        self.write("auth " + self.current_user)\n')], "patched", ["/", "POST /"]),
    Edit("unknown-decorator-added", 'def mark(fn):\n    return fn\n\n\n'
         + main('    def get(self):\n        self.write("ud")\n'),
         [("h.py", '        self.write("ud")\n', '        self.write("ud")\n\n    @mark\n'
           '    def post(self):\n        self.write("p")\n')], "decorator", ["/", "POST /"]),
    Edit("two-files-patched", 'from .util import fmt\n\n\n'
         + main('    def get(self):\n        self.write(fmt() + "h1")\n'),
         [("util.py", '"u1"', '"u2"'), ("h.py", '"h1"', '"h2"')], "patched",
         files={"util.py": 'def fmt():\n    return "u1"\n'}),
    Edit("two-files-one-refused", 'from .util import fmt, WORD\n\n\n'
         + main('    def get(self):\n        self.write(fmt() + WORD + "h1")\n'),
         [("util.py", 'WORD = "w1"', 'WORD = "w2"'), ("h.py", '"h1"', '"h2"')], "module-level statement changed",
         files={"util.py": 'WORD = "w1"\n\n\ndef fmt():\n    return "u1"\n'}),
    Edit("conditional-def", 'if True:\n    def helper():\n        return "cd1"\n\n\n'
         + main('    def get(self):\n        self.write(helper())\n'),
         [("h.py", '"cd1"', '"cd2"')], "module-level statement changed"),
    Edit("global-counter-fn", 'COUNT = [0]\n\n\ndef bump():\n    COUNT[0] += 1\n    return "gc1"\n\n\n'
         + main('    def get(self):\n        self.write(bump())\n'),
         [("h.py", '"gc1"', '"gc2"')], "patched"),
    Edit("not-imported", main('    def get(self):\n        self.write("ni")\n'),
         [("spare.py", 'X = 1', 'X = 2')], "not imported yet", files={"spare.py": 'X = 1\n'}),
    Edit("imported-inside-handler",
         main('    def get(self):\n        from . import lazy\n        self.write(lazy.word())\n'),
         [("lazy.py", '"lz1"', '"lz2"')], "executed again after the app started",
         files={"lazy.py": 'def word():\n    return "lz1"\n'}),
    Edit("lru-cache", '@functools.lru_cache(maxsize=None)\ndef config():\n    return "lc1"\n\n\n'
         + main('    def get(self):\n        self.write(config())\n'),
         [("h.py", '"lc1"', '"lc2"')], "patched"),
    Edit("cached-property", 'class Box:\n    @functools.cached_property\n'
         '    def value(self):\n        return "cp1"\n\n\n'
         'BOX = Box()\n\n\n' + main('    def get(self):\n        self.write(BOX.value)\n'),
         [("h.py", '"cp1"', '"cp2"')], "not found"),
    Edit("websocket-on-message", 'import tornado.websocket\n\n\nclass Echo(tornado.websocket.WebSocketHandler):\n'
         '    def on_message(self, m):\n        self.write_message("e1:" + m)\n\n\n'
         + main('    def get(self):\n        self.write("ws")\n').replace('ROUTES = [(r"/", Main)]',
                                                                           'ROUTES = [(r"/", Main), (r"/ws", Echo)]'),
         [("h.py", '"e1:"', '"e2:"')], "patched", ["/", "WS /ws"]),
]
