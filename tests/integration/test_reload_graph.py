"""Reloads that re-import only what a change invalidates, and the cases where that is risky.

Each case is a small package on disk, served by a real kernel over real HTTP;
files are edited and the app reloaded through ``handle_watchdog_event`` (the
call a save makes), in ``reload = "dependents"`` (shared and threaded) and
``reload = "all"``.  The answer after each edit must be the new code's only:
no stale object, no duplicate registration.
"""

from __future__ import annotations

import itertools
import textwrap

import pytest

from tests.integration.test_bridge import BridgeKernel, free_port, http_get, make_project

pytestmark = pytest.mark.timeout(180)

MODES = [("dependents", False), ("dependents", True), ("all", False)]
IDS = ["dependents-shared", "dependents-threaded", "all-shared"]

WEB = '''\
import os, sys
import tornado.web

LIBS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "site-packages", "PKG")
if LIBS not in sys.path:
    sys.path.insert(0, LIBS)

from . import routes


class App:
    def __init__(self, argv):
        self.port = int(argv[0])

    def start(self):
        self.server = tornado.web.Application(routes.table()).listen(self.port, "127.0.0.1")

    def stop(self):
        self.server.stop()
'''

_counter = itertools.count()


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    k = BridgeKernel(make_project(tmp_path_factory.mktemp("graph")))
    yield k
    k.shutdown()


class Case:
    """One package ``name`` in the kernel's project, its app, edits and reloads."""

    def __init__(self, k, files, mode, threaded):
        self.k = k
        self.name = "g%d_%s" % (next(_counter), mode)
        self.root = k.project_dir / self.name
        self.mode = mode
        files = dict(files)
        files.setdefault("__init__.py", "")
        files["web.py"] = WEB
        for rel, text in files.items():
            self.write(rel, text)
        self.port = free_port()
        k.create(self.name, self.name + ".web.App", [str(self.port)], threaded=threaded,
                 clear_cache=[self.name], reload=mode)
        self.started = k.start_and_wait(self.name)

    def path(self, rel):
        return self.root / rel

    def write(self, rel, text):
        p = self.path(rel) if not rel.startswith("/") else self.k.project_dir / rel[1:].replace("PKG", self.name)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text).replace("PKG", self.name))

    def edit(self, rel, text, *, expect="running"):
        """Write ``rel`` and reload the app as a save of that file does; the running record."""
        self.write(rel, text)
        m = self.k.mark()
        self.k.call(self.name, "handle_watchdog_event", {"event_type": "modified", "src_path": str(self.path(rel)),
                                                         "dest_path": None, "is_directory": False})
        r = self.k.wait_state(self.name, ("running", "failed"), m)
        assert r["state"] == expect, (r, [x["message"] for x in self.k.logs(m, self.name)])
        return r

    def get(self, path="/"):
        return http_get("http://127.0.0.1:%d%s" % (self.port, path))

    def reimported(self, record):
        return {n.rpartition(".")[2] for n in record["reload"]["modules"] if n.startswith(self.name + ".")}

    def stop(self):
        self.k.stop_and_wait(self.name)


@pytest.mark.parametrize("mode,threaded", MODES, ids=IDS)
def test_registry_in_unchanged_module_has_no_duplicate_or_stale_entries(kernel, mode, threaded):
    registry = '''\
        ROUTES = []

        def route(path):
            def deco(cls):
                ROUTES.append((path, cls))
                return cls
            return deco
        '''
    handler = '''\
        import tornado.web
        from .registry import route

        @route("{path}")
        class H(tornado.web.RequestHandler):
            def get(self):
                self.write("{body}")
        '''
    routes = '''\
        import tornado.web
        from . import registry, h_a, h_b

        class Count(tornado.web.RequestHandler):
            def get(self):
                self.write(",".join(sorted(p for p, _ in registry.ROUTES)))

        def table():
            return list(registry.ROUTES) + [("/n", Count)]
        '''
    c = Case(kernel, {"registry.py": registry, "h_a.py": handler.format(path="/a", body="a1"),
                      "h_b.py": handler.format(path="/b", body="b1"), "routes.py": routes}, mode, threaded)
    assert c.get("/a") == (200, "a1") and c.get("/n") == (200, "/a,/b")
    c.edit("h_a.py", handler.format(path="/a", body="a2"))
    assert c.get("/a") == (200, "a2"), [x["message"] for x in kernel.logs(0, c.name)]
    assert c.get("/b") == (200, "b1")
    assert c.get("/n") == (200, "/a,/b")  # not "/a,/a,/b"
    c.edit("h_a.py", handler.format(path="/a2", body="a3"))
    assert c.get("/a2") == (200, "a3") and c.get("/a")[0] == 404  # the old route is gone
    assert c.get("/n") == (200, "/a2,/b")
    c.stop()


@pytest.mark.parametrize("mode,threaded", MODES, ids=IDS)
def test_isinstance_across_modules_and_unchanged_modules_stay_loaded(kernel, mode, threaded):
    files = {
        "models.py": '''\
            class User:
                VERSION = "1"
            ''',
        "store.py": '''\
            from .models import User
            USERS = [User()]
            ''',
        "other.py": '''\
            VALUE = "other"
            ''',
        "routes.py": '''\
            import tornado.web
            from . import store, other
            from .models import User

            class Show(tornado.web.RequestHandler):
                def get(self):
                    self.write("%s %s %s" % (isinstance(store.USERS[0], User), User.VERSION, other.VALUE))

            def table():
                return [("/", Show)]
            ''',
    }
    c = Case(kernel, files, mode, threaded)
    assert c.get() == (200, "True 1 other")
    r = c.edit("models.py", files["models.py"].replace('"1"', '"2"'))
    assert c.get() == (200, "True 2 other")
    done = c.reimported(r)
    assert {"models", "store", "routes", "web"} <= done
    if mode == "dependents":
        assert "other" not in done and "__init__" not in done and r["reload"]["mode"] == "dependents"
        assert r["reload"]["reimported"] == 4, r["reload"]
    else:
        assert "other" in done and r["reload"]["mode"] == "all"
    c.stop()


@pytest.mark.parametrize("mode,threaded", MODES, ids=IDS)
def test_from_import_bindings_and_package_reexports(kernel, mode, threaded):
    files = {
        "config.py": 'GREETING = "hi1"\n',
        "sub/__init__.py": "from .impl import make\n",
        "sub/impl.py": 'def make():\n    return "m1"\n',
        "sub/other.py": 'VALUE = "o1"\n',
        "routes.py": '''\
            import tornado.web
            import PKG.sub.other
            from .config import GREETING
            from .sub import make

            class Show(tornado.web.RequestHandler):
                def get(self):
                    self.write(GREETING + " " + make() + " " + PKG.sub.other.VALUE)

            def table():
                return [("/", Show)]
            ''',
    }
    c = Case(kernel, files, mode, threaded)
    assert c.get() == (200, "hi1 m1 o1")
    c.edit("config.py", 'GREETING = "hi2"\n')
    assert c.get() == (200, "hi2 m1 o1")
    r = c.edit("sub/impl.py", 'def make():\n    return "m2"\n')
    assert c.get() == (200, "hi2 m2 o1")
    if mode == "dependents":
        assert c.reimported(r) == {"impl", "sub", "routes", "web"}
    # the package's __init__ changes: its unchanged submodule stays loaded and is still reachable
    r = c.edit("sub/__init__.py", "from .impl import make\nEXTRA = 1\n")
    assert c.get() == (200, "hi2 m2 o1")
    if mode == "dependents":
        assert c.reimported(r) == {"sub", "routes", "web"}
    c.edit("sub/other.py", 'VALUE = "o2"\n')
    assert c.get() == (200, "hi2 m2 o2")
    c.stop()


@pytest.mark.parametrize("mode,threaded", MODES, ids=IDS)
def test_circular_imports_and_imports_inside_functions(kernel, mode, threaded):
    files = {
        "a.py": '''\
            from . import b

            def fa():
                return "a1" + b.fb()
            ''',
        "b.py": '''\
            from . import a

            def fb():
                return "b1"

            def fab():
                return a.fa()
            ''',
        "helper.py": 'VALUE = "f1"\n',
        "routes.py": '''\
            import tornado.web
            from . import b

            class Show(tornado.web.RequestHandler):
                def get(self):
                    from .helper import VALUE
                    self.write(b.fab() + " " + VALUE)

            def table():
                return [("/", Show)]
            ''',
    }
    c = Case(kernel, files, mode, threaded)
    assert c.get() == (200, "a1b1 f1")
    c.edit("a.py", files["a.py"].replace("a1", "a2"))
    assert c.get() == (200, "a2b1 f1")
    c.edit("b.py", files["b.py"].replace("b1", "b2"))
    assert c.get() == (200, "a2b2 f1")
    r = c.edit("helper.py", 'VALUE = "f2"\n')
    assert c.get() == (200, "a2b2 f2")
    if mode == "dependents":
        assert c.reimported(r) == {"helper", "routes", "web"} or c.reimported(r) == {"routes", "web"}
    c.stop()


@pytest.mark.parametrize("mode,threaded", MODES, ids=IDS)
def test_objects_held_by_a_library_are_replaced_not_duplicated(kernel, mode, threaded):
    lib = "tlib_%d" % next(_counter)
    files = {
        "/site-packages/PKG/%s.py" % lib: '''\
            ROUTES = []
            CALLBACKS = []

            def route(path):
                def deco(cls):
                    ROUTES.append((path, cls))
                    return cls
                return deco

            def on_request(fn):
                CALLBACKS.append(fn)
                return fn
            ''',
        "hooks.py": '''\
            import LIB

            @LIB.on_request
            def stamp():
                return "s1"
            ''',
        "pages.py": '''\
            import tornado.web
            import LIB

            @LIB.route("/p")
            class Page(tornado.web.RequestHandler):
                def get(self):
                    self.write("p1|" + ",".join(cb() for cb in LIB.CALLBACKS) + "|%d" % len(LIB.ROUTES))
            ''',
        "routes.py": '''\
            from . import hooks, pages
            import LIB

            def table():
                return list(LIB.ROUTES)
            ''',
    }
    files = {k: v.replace("LIB", lib) for k, v in files.items()}
    c = Case(kernel, files, mode, threaded)
    assert c.get("/p") == (200, "p1|s1|1")
    c.edit("hooks.py", files["hooks.py"].replace("s1", "s2"))
    assert c.get("/p") == (200, "p1|s2|1")  # not "s1,s2"
    c.edit("pages.py", files["pages.py"].replace("p1|", "p2|"))
    assert c.get("/p") == (200, "p2|s2|1")  # the new class, one route
    c.stop()


@pytest.mark.parametrize("mode,threaded", MODES, ids=IDS)
def test_partial_reload_that_fails_is_retried_with_a_full_purge(kernel, mode, threaded):
    # token.py reads a data file at import; the data file changes without a reload of its
    # own, then routes.py changes and checks it: only a full purge re-reads the data
    files = {
        "token.txt": "t1",
        "token.py": '''\
            import os
            with open(os.path.join(os.path.dirname(__file__), "token.txt")) as f:
                TOKEN = f.read()
            ''',
        "routes.py": '''\
            import tornado.web
            from . import token

            class Show(tornado.web.RequestHandler):
                def get(self):
                    self.write(token.TOKEN)

            def table():
                return [("/", Show)]
            ''',
    }
    c = Case(kernel, files, mode, threaded)
    assert c.get() == (200, "t1")
    c.write("token.txt", "t2")
    m = kernel.mark()
    check = textwrap.indent("import os\nwith open(os.path.join(os.path.dirname(__file__), 'token.txt')) as f:\n"
                            "    assert f.read() == token.TOKEN, 'stale token'\n\n", " " * 12)
    r = c.edit("routes.py", files["routes.py"].replace("            def table():", check + "            def table():"))
    assert c.get() == (200, "t2")
    logs = [x["message"] for x in kernel.logs(m, c.name)]
    if mode == "dependents":
        assert any("partial reload did not start (AssertionError: stale token): retrying once with a full purge"
                   in line for line in logs), logs
        assert r["reload"]["mode"] == "all" and "stale token" in r["reload"]["note"]
    else:
        assert not any("retrying" in line for line in logs)
    c.stop()


def test_unchanged_code_is_not_compiled_again(kernel):
    c = Case(kernel, {"one.py": "X = 1\n", "two.py": "Y = 2\n", "routes.py": '''\
        import tornado.web
        from . import one, two

        class Show(tornado.web.RequestHandler):
            def get(self):
                self.write("%d %d" % (one.X, two.Y))

        def table():
            return [("/", Show)]
        '''}, "all", False)
    compiled = "__import__('sys').modules['tornado_launcher_bridge.kernelside.graph'].graph.cache.compiled"
    before = kernel.evaluate(compiled)
    r = c.edit("one.py", "X = 3\n")  # "all": every module of the package is executed again
    assert c.get() == (200, "3 2")
    assert r["reload"]["reimported"] >= 4
    assert kernel.evaluate(compiled) == before + 1  # only one.py was compiled
    c.stop()


def test_a_data_file_change_purges_everything(kernel):
    c = Case(kernel, {"data.json": '"d1"', "routes.py": '''\
        import json, os
        import tornado.web
        from . import loader

        class Show(tornado.web.RequestHandler):
            def get(self):
                self.write(loader.DATA)

        def table():
            return [("/", Show)]
        ''', "loader.py": '''\
        import json, os
        with open(os.path.join(os.path.dirname(__file__), "data.json")) as f:
            DATA = json.load(f)
        '''}, "dependents", False)
    assert c.get() == (200, "d1")
    r = c.edit("data.json", '"d2"')
    assert c.get() == (200, "d2")
    assert r["reload"]["mode"] == "all" and "data.json is not a Python module" in r["reload"]["note"]
    c.stop()
