"""The entry-point keys of a TornadoBridgeApp (issue 10): main, script, port, address.
The mistakes' diagnostics are in configs/bad/entry_*.hcl (test_config.py)."""

from tornado_launcher.config import load
from tornado_launcher.engine.controllers import TornadoController

HEAD = 'kernel "k" {}\n'


def app(name, options):
    return (f'app "{name}" {{\n  class = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
            f'  options {{\n    {options}\n  }}\n}}\n')


def test_each_style_loads_and_reaches_the_spec(tmp_path):
    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "server.py").write_text("")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "jaffle.hcl").write_text(
        HEAD
        + app("m", 'main = "myapp.server:main"\n    argv = ["--port=1"]')
        + app("s", 'script = "../srv/server.py"')
        + app("f", 'app_class = "myapp.server.make_app"\n    port = 8888')
        + app("a", 'app_class = "myapp.server:application"\n    port = "9000"\n    address = ""')
        + app("c", 'app_class = "myapp.server.App"'))
    cfg = load(tmp_path / "conf" / "jaffle.hcl")
    m, s, f, a, c = (cfg.apps[n] for n in "msfac")
    assert (m.main, m.app_class, m.argv) == ("myapp.server:main", None, ["--port=1"])
    assert s.script == str(tmp_path / "srv" / "server.py")  # relative to the config file
    assert (f.app_class, f.port, f.address) == ("myapp.server.make_app", 8888, "127.0.0.1")
    assert (a.app_class, a.port, a.address) == ("myapp.server:application", 9000, "")
    assert (c.app_class, c.port, c.main, c.script) == ("myapp.server.App", None, None, None)

    def spec(config):
        info = type("Info", (), {"config": config, "threaded": False, "live_reload": False, "name": config.name,
                                 "kernel": "k"})()
        controller = TornadoController.__new__(TornadoController)
        controller.session = type("Session", (), {"kernel": lambda self, name: None})()  # no kernel yet
        return TornadoController.spec(controller, info)

    assert spec(m)["main"] == "myapp.server:main"
    assert spec(s)["script"] == str(tmp_path / "srv" / "server.py")
    assert (spec(f)["port"], spec(f)["address"]) == (8888, "127.0.0.1")
    assert not {"main", "script", "port"} & set(spec(c))
