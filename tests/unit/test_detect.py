"""detect.py / scaffold.py / zeroconf.plan_run: what an app is, read from its source (issue 23).

Real files in tmp_path; the import probe is a real subprocess of this Python."""

import argparse
import os
import sys

import pytest

from tornado_launcher.config import load, loads
from tornado_launcher.zeroconf import commands as zeroconf
from tornado_launcher.zeroconf import detect, scaffold


def write(root, files):
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def kind(root, target, **kw):
    f = detect.classify(target, str(root), **kw)
    return f.style, f.entry


@pytest.mark.parametrize("source, port, option", [
    ('from tornado.options import define\ndefine("port", default=8001, help="x")\n', 8001, True),
    ('import argparse\np = argparse.ArgumentParser()\np.add_argument("--port", type=int, default=8002)\n', 8002, True),
    ('import tornado.web\ntornado.web.Application([]).listen(8003)\n', 8003, False),
    ('PORT = 8004\n', 8004, False),
    ('x = 1\n', None, False),
])
def test_the_apps_own_port(tmp_path, source, port, option):
    write(tmp_path, {"server.py": source + "if __name__ == '__main__':\n    pass\n"})
    f = detect.classify("server.py", str(tmp_path))
    assert (f.style, f.port, f.port_option) == ("script", port, option)


def test_functions_classes_and_instances(tmp_path):
    write(tmp_path, {
        "base.py": "from tornado import web\nclass Base(web.Application):\n    pass\n",
        "app.py": (
            "import asyncio\nimport tornado.web\nfrom tornado.web import Application\nfrom base import Base\n"
            "class Mine(Base):\n    pass\n"
            "class Plain:\n    pass\n"
            "async def amain():\n    await asyncio.Event().wait()\n"
            "def main():\n    tornado.web.Application([]).listen(1)\n    tornado.ioloop.IOLoop.current().start()\n"
            "def make_app():\n    app = Application([])\n    return app\n"
            "def annotated() -> tornado.web.Application:\n    return build()\n"
            "def setup():\n    pass\n"
            "application = tornado.web.Application([])\n"
            "made = make_app()\n"
            "mine = Mine()\n"),
        "pkg/__init__.py": "from .web import make_app\n",
        "pkg/web.py": "import tornado.web\ndef make_app():\n    return tornado.web.Application([])\n",
    })
    assert kind(tmp_path, "app:amain") == ("main", "app:amain")
    assert kind(tmp_path, "app.main") == ("main", "app:main")
    for name in ("make_app", "annotated", "application", "made", "mine", "Mine"):
        assert kind(tmp_path, f"app:{name}")[0] == "application", name
    assert kind(tmp_path, "pkg:make_app") == ("application", "pkg:make_app")  # through the package's import
    # what the source does not say: --port means a factory, else a main
    assert kind(tmp_path, "app:setup")[0] == "main"
    assert kind(tmp_path, "app:setup", port_given=True)[0] == "application"
    with pytest.raises(detect.TargetError, match=r"app\.py:\d+: `Plain` is a class but not a tornado.web.Application"):
        detect.classify("app:Plain", str(tmp_path))
    with pytest.raises(detect.TargetError, match=r"app\.py has no top-level `nope` \(it defines .*make_app"):
        detect.classify("app:nope", str(tmp_path))
    # a module alone: its main first
    assert kind(tmp_path, "app") == ("main", "app:main")


def test_a_base_class_from_elsewhere_is_asked_of_the_kernels_python(tmp_path):
    lib, proj = tmp_path / "lib", tmp_path / "proj"
    write(lib, {"extbase.py": "import tornado.web\nclass Ext(tornado.web.Application):\n    pass\n"})
    write(proj, {"app.py": "from extbase import Ext\nclass App(Ext):\n    pass\n"})
    env = dict(os.environ, PYTHONPATH=str(lib))
    f = detect.classify("app:App", str(proj), python=sys.executable, env=env)
    assert f.style == "application" and "subclass" in f.what
    with pytest.raises(detect.TargetError, match=r"importing app .* failed \(ModuleNotFoundError"):
        detect.classify("app:App", str(proj), python=sys.executable)


def test_a_module_with_several_ways_in_is_an_error_naming_them(tmp_path):
    write(tmp_path, {"app.py": "import tornado.web\ndef make_app():\n    return tornado.web.Application([])\n"
                               "application = tornado.web.Application([])\n"})
    with pytest.raises(detect.TargetError, match=r"app\.py has several ways in: .*`app:make_app` or `app:application`"):
        detect.classify("app", str(tmp_path))


def test_find_apps_reads_a_project_as_init_does(tmp_path):
    write(tmp_path, {
        "server.py": "import tornado.web\nimport views\nif __name__ == '__main__':\n    pass\n",
        "views.py": "import tornado.web\ndef make_app():\n    return tornado.web.Application([])\n",  # server's
        "api/service.py": "import tornado.ioloop\ndef main():\n    tornado.ioloop.IOLoop.current().start()\n",
        "tools.py": "def main():\n    print('no tornado here')\n",
        "tests/test_server.py": "import tornado.web\nif __name__ == '__main__':\n    pass\n",
        ".venv/lib/x.py": "import tornado.web\nif __name__ == '__main__':\n    pass\n",
        "broken.py": "import tornado\ndef (:\n",
    })
    skipped = []
    found = detect.find_apps(str(tmp_path), skipped=skipped)
    assert [(f.name, f.style, f.entry) for f in found] == [("server", "script", "server.py"),
                                                           ("service", "main", "api.service:main")]
    assert len(skipped) == 1 and skipped[0].startswith("broken.py:2:")


def test_hcl_strings_read_back_as_written(tmp_path):
    argv = ['--name=a "b"', "back\\slash", "${not.a.variable}", "é ü", "$${x}"]
    text = f'kernel "k" {{}}\napp "a" {{\n  class = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n' \
           f'  options {{\n    main = "m:main"\n    argv = {scaffold.hcl_list(argv)}\n  }}\n}}\n'
    assert loads(text, str(tmp_path / "jaffle.hcl")).apps["a"].argv == argv


def _ns(target, **kw):
    base = dict(target=target, port=None, address=None, threaded=False, no_reload=False, live_reload=False,
                python=None, watch=None, gui=False)
    base.update(kw)
    return argparse.Namespace(**base)


def test_run_builds_the_config_the_equivalent_file_would(tmp_path):
    write(tmp_path, {"web/app.py": "import tornado.web\ndef make_app():\n    return tornado.web.Application([])\n",
                     "web/__init__.py": ""})
    config, first, text = zeroconf.plan_run(_ns("web.app:make_app", port=8123, address="0.0.0.0", threaded=True,
                                                live_reload=True), ["--debug", "x y"], str(tmp_path))
    assert first.startswith("run: web.app:make_app is a function make_app() returning a tornado.web.Application;")
    assert "status -c web/app.py" in first
    (tmp_path / "jaffle.hcl").write_text(text)
    written = load(str(tmp_path / "jaffle.hcl"))
    assert config.apps == written.apps and config.kernels == written.kernels
    app = config.apps["app"]
    assert (app.app_class, app.port, app.address, app.argv, app.threaded, app.live_reload) == \
        ("web.app:make_app", 8123, "0.0.0.0", ["--debug", "x y"], True, True)
    assert config.paths == [str(tmp_path / "web" / "app.py")]  # the control socket's name


def test_run_watch_elsewhere_is_a_watchdog_on_that_directory(tmp_path):
    write(tmp_path, {"server.py": "print(1)\n", "lib/x.py": ""})
    config, _, _ = zeroconf.plan_run(_ns("server.py", watch=str(tmp_path / "lib")), [], str(tmp_path))
    watcher = [a for a in config.apps.values() if a.kind == "watchdog"]
    assert len(watcher) == 1 and watcher[0].handlers[0].watch_path == str(tmp_path / "lib")
    assert watcher[0].handlers[0].code_blocks == ["server.handle_watchdog_event({event})"]
    same, _, _ = zeroconf.plan_run(_ns("server.py", watch=str(tmp_path)), [], str(tmp_path))
    assert [a.kind for a in same.apps.values()] == ["tornado"]  # the implicit *.py handler


def test_run_python_option(tmp_path):
    write(tmp_path, {"server.py": "print(1)\n"})
    with pytest.raises(ValueError, match=r"does not exist: give --python"):
        zeroconf.plan_run(_ns("server.py", python=str(tmp_path / "nope" / "python")), [], str(tmp_path))
    config, first, _ = zeroconf.plan_run(_ns("server.py"), [], str(tmp_path))
    assert config.apps["server"].kernel in config.kernels and sys.executable in first


def test_init_plans_distinct_ports(tmp_path):
    write(tmp_path, {
        "a.py": 'import tornado.web\nfrom tornado.options import define\ndefine("port", default=8888)\n'
                "if __name__ == '__main__':\n    pass\n",
        "b.py": 'import tornado.web\nfrom tornado.options import define\ndefine("port", default=8888)\n'
                "if __name__ == '__main__':\n    pass\n",
        "c.py": "import tornado.web\ndef make_app():\n    return tornado.web.Application([])\n",
    })
    plans, text = zeroconf.init_text(str(tmp_path))
    assert [(p.name, p.argv, p.port) for p in plans] == [("a", ["--port=8888"], None), ("b", ["--port=8889"], None),
                                                         ("c", [], 8890)]
    (tmp_path / "jaffle.hcl").write_text(text)
    assert set(load(str(tmp_path / "jaffle.hcl")).apps) == {"a", "b", "c"}


def test_a_file_that_only_defines_things_is_read_as_its_module(tmp_path):
    write(tmp_path, {
        "factory.py": "import tornado.web\ndef make_app():\n    return tornado.web.Application([])\n",
        "handlers.py": "import tornado.web\nclass H(tornado.web.RequestHandler):\n    pass\n",
        "toplevel.py": "import tornado.ioloop\ntornado.ioloop.IOLoop.current().start()\n",
    })
    assert kind(tmp_path, "factory.py") == ("application", "factory:make_app")  # `python factory.py` starts nothing
    assert kind(tmp_path, "toplevel.py") == ("script", "toplevel.py")
    with pytest.raises(detect.TargetError, match=r"^handlers\.py only defines things .*nothing in it starts an app"):
        detect.classify("handlers.py", str(tmp_path))


def test_a_file_and_function_and_an_installed_module(tmp_path):
    write(tmp_path, {"web/app.py": "import asyncio\nasync def main():\n    await asyncio.Event().wait()\n"})
    assert kind(tmp_path, "web/app.py:main") == ("main", "web.app:main")
    # not a file of the project: the kernel's Python says where it is (tornado's own demo-less module here)
    f = detect.classify("tornado.web:Application", str(tmp_path), python=sys.executable, port_given=True)
    assert f.style == "application" and f.path.endswith(os.path.join("tornado", "web.py"))
