"""Installed the Python way: build the wheel, install it into a fresh virtualenv, and use what it ships
(the demo, the icons, the .desktop entry) from there, not from this checkout."""

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests.helpers import ROOT, free_port

WINDOW = r'''
import json, os, sys
from tornado_launcher import assets, cli
from tornado_launcher.gui import app as gapp

result = {}
orig = gapp.make_app

def make_app(*a, **k):
    app = orig(*a, **k)
    from PySide6.QtCore import QTimer
    timer = QTimer(app)
    timer.setInterval(200)

    def tick():
        for w in app.topLevelWidgets():
            s = getattr(w, "session", None)
            if s is None or not s.apps:
                continue
            tornado = {n: i for n, i in s.apps.items() if i.kind == "tornado"}
            if tornado and all(i.state == "running" for i in tornado.values()):
                result.update(window_icon=not w.windowIcon().isNull(), app_icon=not app.windowIcon().isNull(),
                              icon_sizes=len(app.windowIcon().availableSizes()),
                              urls=sorted(u for i in tornado.values() for u in i.urls), config=s.config.path)
                timer.stop()
                w.close()

    timer.timeout.connect(tick)
    timer.start()
    return app

gapp.make_app = make_app
rc = cli.main([sys.argv[1], sys.argv[2]])
result.update(svg=str(assets.icon_file("tornado-launcher.svg")), rc=rc)
print("RESULT " + json.dumps(result))
'''


@pytest.mark.timeout(300)
def test_wheel_ships_demo_icons_and_desktop_entry(tmp_path):
    env = dict(os.environ, NO_COLOR="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    env.pop("PYTHONPATH", None)
    wheels = tmp_path / "wheels"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
                       capture_output=True, text=True, timeout=180, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = wheels.glob("tornado_launcher-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = str(venv / "bin" / "python")
    r = subprocess.run([py, "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True,
                       timeout=240, env=env)
    assert r.returncode == 0, r.stderr[-3000:]

    where = subprocess.run([py, "-c", "from tornado_launcher import assets; print(assets.demo_config())"],
                           capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    demo = where.stdout.strip()
    assert demo.startswith(str(venv)) and demo.endswith("demo/jaffle.hcl"), (where.stdout, where.stderr)

    r = subprocess.run([str(venv / "bin" / "tornado-launcher"), "check", demo], capture_output=True, text=True,
                       timeout=120, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OK, 1 kernel, 3 apps" in r.stdout

    # the menu entry, icons and .hcl type, pointing at this installation
    data = tmp_path / "share"
    r = subprocess.run([str(venv / "bin" / "tornado-launcher"), "install-desktop", "--prefix", str(data)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    entry = (data / "applications" / "tornado-launcher.desktop").read_text()
    assert f"Exec={venv}/bin/tornado-launcher-gui %f" in entry and "Icon=tornado-launcher" in entry
    assert (data / "icons" / "hicolor" / "256x256" / "apps" / "tornado-launcher.png").stat().st_size > 1000
    assert (data / "icons" / "hicolor" / "scalable" / "apps" / "tornado-launcher.svg").is_file()
    assert "*.hcl" in (data / "mime" / "packages" / "tornado-launcher.xml").read_text()

    # the window on the packaged demo, offscreen (its ports moved by an overlay: others may use 8765)
    web, api = free_port(), free_port()
    overlay = tmp_path / "ports.hcl"
    overlay.write_text(textwrap.dedent(f'''
        app "web" {{
          options {{ argv = ["--port={web}"] }}
        }}
        app "api" {{
          options {{ argv = ["--port={api}", "--name=api"] }}
        }}
    '''))
    wenv = dict(env, QT_QPA_PLATFORM="offscreen", TORNADO_LAUNCHER_SETTINGS=str(tmp_path / "settings.ini"))
    r = subprocess.run([py, "-c", WINDOW, demo, str(overlay)], capture_output=True, text=True, timeout=150,
                       env=wenv, cwd=tmp_path)
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT ")]
    assert line, r.stdout[-3000:] + r.stderr[-3000:]
    result = json.loads(line[0][7:])
    assert result["rc"] == 0, r.stderr[-3000:]
    assert result["config"] == demo
    assert result["urls"] == sorted([f"http://127.0.0.1:{web}/", f"http://127.0.0.1:{api}/"])
    assert result["window_icon"] and result["app_icon"] and result["icon_sizes"] >= 5
    assert result["svg"].startswith(str(venv))
