"""Smoke tests of the frozen (PyInstaller) app in dist/tornado-launcher/.

They run only when the app has been built (``scripts/build_app.sh``) or
``TL_FROZEN_APP`` points at a built executable; otherwise every test skips,
saying so.  The window test also needs ``Xvfb`` and ``xdotool``.

What only a frozen build can show: the bundle is complete (pyhcl, the
jupyter_client provisioner entry point, bridge/runtime.py, resources), the
kernels run in the user's Python found on PATH (not in the app, which would
open a second window), and they get the user's environment back
(interpreter.child_env), not the bootloader's LD_LIBRARY_PATH.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
APP = Path(os.environ.get("TL_FROZEN_APP") or ROOT / "dist" / "tornado-launcher" / "tornado-launcher")
BUNDLE = APP.parent / "_internal"
VENV_BIN = Path(sys.executable).parent  # has python3 with ipykernel + tornado

pytestmark = [
    # In CI (.ci/run builds the app first) a missing build is a failure, not a skip.
    pytest.mark.skipif(
        not (APP.is_file() and os.access(APP, os.X_OK)) and not os.environ.get("CI"),
        reason=f"frozen app not built ({APP} missing): run scripts/build_app.sh or set TL_FROZEN_APP",
    ),
    pytest.mark.skipif(sys.platform != "linux", reason="the frozen smoke tests drive a Linux build"),
]


# ------------------------------------------------------------------ helpers




def run_app(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 60):
    return subprocess.run(
        [str(APP), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


def app_env(tmp_path: Path, path: str | None = None) -> dict[str, str]:
    """A user-like environment: the test venv's bin first on PATH (that is how
    the frozen app must find a Python), no variables from this test run that
    could hide a bundling mistake."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST", "VIRTUAL_ENV", "PYTHON"))}
    env["PATH"] = path if path is not None else f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    env["TORNADO_LAUNCHER_SETTINGS"] = str(tmp_path / "settings.ini")
    env.pop("LD_LIBRARY_PATH", None)
    return env


def write_project(root: Path, port: int, *, kernel_body: str = "") -> Path:
    """A one-app project: a plain class (initialize/start/stop) serving "/"."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "hello_frozen_app.py").write_text(textwrap.dedent('''
        import tornado.httpserver
        import tornado.ioloop
        import tornado.web


        class Hello(tornado.web.RequestHandler):
            def get(self):
                self.write("hello from a kernel")


        class HelloApp:
            def initialize(self, argv):
                self.port = int([a for a in argv if a.startswith("--port=")][0].split("=", 1)[1])

            def start(self):
                app = tornado.web.Application([(r"/", Hello)])
                self.server = tornado.httpserver.HTTPServer(app)
                self.server.listen(self.port, address="127.0.0.1")
                self.loop = tornado.ioloop.IOLoop.current()
                self.loop.start()

            def stop(self):
                def _stop():
                    self.server.stop()
                    self.loop.stop()
                self.loop.add_callback(_stop)
    '''))
    config = root / "jaffle.hcl"
    config.write_text(textwrap.dedent(f'''
        kernel "k" {{
          {kernel_body}
        }}

        app "web" {{
          class  = "jaffle.app.tornado.TornadoBridgeApp"
          kernel = "k"
          start  = "web.start()"
          options {{
            app_class = "hello_frozen_app.HelloApp"
            argv      = ["--port={port}"]
            threaded  = false
          }}
        }}
    '''))
    return config


def http_get(url: str, timeout: float = 2.0) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def wait_http_200(url: str, proc: subprocess.Popen, deadline: float) -> str:
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the app exited ({proc.returncode}) before serving {url}")
        try:
            status, body = http_get(url)
            if status == 200:
                return body
        except OSError as e:
            last = e
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer 200 in time (last error: {last})")


def children(pid: int) -> list[int]:
    """Direct children of pid (Linux /proc)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def environ(pid: int) -> dict[str, str]:
    with open(f"/proc/{pid}/environ", "rb") as f:
        pairs = [e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e]
    return {k.decode(errors="replace"): v.decode(errors="replace") for k, v in pairs}


def is_kernel(args: list[str]) -> bool:
    """A kernel process: `python -m ipykernel_launcher ...`, or the launcher's own boot of it
    (`python -c <bridge/boot.py> ...`, issue 21: ipykernel's pipe kept private)."""
    return "ipykernel_launcher" in args or (
        len(args) > 2 and args[1] == "-c" and args[2].startswith("# tornado-launcher's kernel"))


def kernels_of(pid: int) -> list[int]:
    return [c for c in children(pid) if is_kernel(cmdline(c))]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


def wait_gone(pids, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    left = list(pids)
    while left and time.monotonic() < deadline:
        left = [p for p in left if alive(p)]
        time.sleep(0.05)
    return left


def kill_all(pids) -> None:
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


# ------------------------------------------------------------------ bundle


def test_version():
    from tornado_launcher import __version__

    r = run_app("--version")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"tornado-launcher {__version__}"


def test_refuses_to_run_as_python():
    # jupyter_client's default kernelspec is `sys.executable -m ipykernel_launcher`;
    # in the app that must be an error, not a second window.
    r = run_app("-m", "ipykernel_launcher", "-f", "/tmp/x.json", timeout=30)
    assert r.returncode == 2
    assert "not a Python interpreter" in r.stderr


def test_bundle_contents():
    from tornado_launcher.bridge.kernelside import MODULES

    for name in MODULES:  # the bridge's sources, sent into kernels as text
        rel = name.split(".")
        rel = rel + ["__init__.py"] if name == "kernelside" else rel[:-1] + [rel[-1] + ".py"]
        assert (BUNDLE / "tornado_launcher" / "bridge").joinpath(*rel).is_file(), name
    assert (BUNDLE / "tornado_launcher" / "resources" / "demo" / "jaffle.hcl").is_file()
    assert (BUNDLE / "tornado_launcher" / "resources" / "icons" / "tornado-launcher.svg").is_file()
    eps = list(BUNDLE.glob("jupyter_client-*.dist-info/entry_points.txt"))
    assert eps and "local-provisioner" in eps[0].read_text()
    names = {p.name for p in BUNDLE.rglob("*")}
    # ipykernel never (see launcher.spec); IPython, pygments and qtconsole are the console's
    for unwanted in ("ipykernel", "jedi", "prompt_toolkit", "PyQt5", "PyQt6", "PySide2", "numpy", "pandas"):
        assert unwanted not in names, f"{unwanted} should not be bundled"
    for lib in ("libQt6Svg.so.6", "libQt6PrintSupport.so.6"):
        assert lib in names, f"{lib} (qtconsole needs it) is missing"
    for lib in ("libQt6Quick.so.6", "libQt6Qml.so.6", "libQt6WebEngineCore.so.6", "libQt6Pdf.so.6"):
        assert lib not in names, f"{lib} should not be bundled"
    assert not [p for p in BUNDLE.rglob("*") if p.is_symlink() and not p.exists()], "dangling symlinks"


def test_check_demo(tmp_path):
    # `check` also verifies the kernel's interpreter: the user's python3 on PATH
    for config in (ROOT / "tornado_launcher" / "resources" / "demo" / "jaffle.hcl",
                   BUNDLE / "tornado_launcher" / "resources" / "demo" / "jaffle.hcl"):
        r = run_app("check", str(config), env=app_env(tmp_path))
        assert r.returncode == 0, r.stdout + r.stderr
        assert "OK" in r.stdout


def test_check_says_when_no_python_can_run_the_kernels(tmp_path):
    import venv

    venv.create(tmp_path / "bare", with_pip=False)
    r = run_app("check", str(ROOT / "tornado_launcher" / "resources" / "demo" / "jaffle.hcl"),
                env=app_env(tmp_path, path=f"{tmp_path / 'bare' / 'bin'}{os.pathsep}/nonexistent"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert "-m pip install ipykernel tornado" in r.stderr


def test_check_reports_errors_with_position(tmp_path):
    # pyhcl's parser (ply) must work frozen: it builds its tables from
    # docstrings, which an optimize=2 build would strip.
    bad = tmp_path / "jaffle.hcl"
    bad.write_text('kernel "k" {}\napp "web" {\n  kernel = \n}\n')
    r = run_app("check", str(bad))
    assert r.returncode == 2
    assert f"{bad}:" in r.stderr


# ------------------------------------------------------------------ start


def test_start_serves_with_python_from_path_and_stops_on_sigint(tmp_path):
    port = free_port()
    config = write_project(tmp_path / "project", port)
    out = open(tmp_path / "out.log", "w+")
    proc = subprocess.Popen(
        [str(APP), "start", str(config)], stdout=out, stderr=subprocess.STDOUT,
        env=app_env(tmp_path), cwd=tmp_path,
    )
    kernels: list[int] = []
    try:
        body = wait_http_200(f"http://127.0.0.1:{port}/", proc, time.monotonic() + 90)
        assert body == "hello from a kernel"

        kernels = kernels_of(proc.pid)
        assert len(kernels) == 1, f"expected one kernel child, got {[cmdline(k) for k in children(proc.pid)]}"
        argv = cmdline(kernels[0])
        # the user's Python, not the app
        assert Path(argv[0]).resolve() != APP.resolve()
        assert Path(argv[0]).parent == VENV_BIN or Path(argv[0]).resolve() == Path(sys.executable).resolve()
        env = environ(kernels[0])
        bundle = str(BUNDLE.resolve())
        assert bundle not in env.get("LD_LIBRARY_PATH", ""), env.get("LD_LIBRARY_PATH")
        assert not [k for k in env if k.startswith("_PYI_") or k == "_MEIPASS2"]
        assert bundle not in env.get("QT_PLUGIN_PATH", "")

        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
        out.seek(0)
        log = out.read()
        assert rc == 0, log
        assert wait_gone(kernels, 10) == [], f"kernel left behind after exit\n{log}"
        with pytest.raises(OSError):
            http_get(f"http://127.0.0.1:{port}/", timeout=1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_all(kernels)
        out.close()


def test_start_names_the_fix_for_a_python_without_ipykernel(tmp_path):
    bare = tmp_path / "bare"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare)], check=True)
    config = write_project(tmp_path / "project", free_port(), kernel_body=f'python = "{bare}/bin/python"')
    proc = subprocess.Popen(
        [str(APP), "start", str(config)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=app_env(tmp_path), cwd=tmp_path, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        seen = ""
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline and "lacks" not in seen and proc.poll() is None:
            if sel.select(timeout=0.5):
                line = proc.stdout.readline()
                if not line:
                    break
                seen += line
        assert (f"{bare}/bin/python lacks ipykernel and tornado: "
                f"run `{bare}/bin/python -m pip install ipykernel tornado`") in seen, seen
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# ------------------------------------------------------------------ window


@pytest.fixture
def xvfb():
    if not (shutil.which("Xvfb") and shutil.which("xdotool")):
        if os.environ.get("CI"):
            pytest.fail("Xvfb and xdotool are required in CI (setup.sh --test installs them)")
        pytest.skip("needs Xvfb and xdotool (apt-get install -y xvfb xdotool)")
    r, w = os.pipe()
    proc = subprocess.Popen(
        ["Xvfb", "-displayfd", str(w), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(w)
    with os.fdopen(r) as f:
        display = ":" + f.readline().strip()
    try:
        yield display
    finally:
        proc.terminate()
        proc.wait(10)


def find_window(pid: int, display: str, timeout: float) -> str:
    env = {**os.environ, "DISPLAY": display}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = subprocess.run(["xdotool", "search", "--onlyvisible", "--pid", str(pid)],
                           capture_output=True, text=True, env=env)
        if r.stdout.strip():
            return r.stdout.split()[0]
        time.sleep(0.05)
    pytest.fail(f"no visible window for pid {pid} within {timeout} s")


def press(display: str, window: str, keys: str) -> None:
    env = {**os.environ, "DISPLAY": display}
    # No window manager under Xvfb: focus the window, then send real (XTEST) keys.
    subprocess.run(["xdotool", "windowfocus", "--sync", window], env=env, check=True, timeout=10)
    subprocess.run(["xdotool", "key", "--clearmodifiers", keys], env=env, check=True, timeout=10)


def test_window_opens_and_quits_on_ctrl_q(tmp_path, xvfb):
    env = {**app_env(tmp_path), "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.Popen([str(APP)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        window = find_window(proc.pid, xvfb, 30)
        name = subprocess.run(["xdotool", "getwindowname", window], capture_output=True, text=True,
                              env={**os.environ, "DISPLAY": xvfb}).stdout
        assert "tornado-launcher" in name
        press(xvfb, window, "ctrl+q")
        out, _ = proc.communicate(timeout=20)
        assert proc.returncode == 0, out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_window_with_project_stops_kernels_on_ctrl_q(tmp_path, xvfb):
    port = free_port()
    config = write_project(tmp_path / "project", port)
    env = {**app_env(tmp_path), "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.Popen([str(APP), str(config)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kernels: list[int] = []
    try:
        window = find_window(proc.pid, xvfb, 30)
        wait_http_200(f"http://127.0.0.1:{port}/", proc, time.monotonic() + 90)
        kernels = kernels_of(proc.pid)
        assert kernels
        press(xvfb, window, "ctrl+q")
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert wait_gone(kernels, 10) == [], f"kernel left behind\n{out}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_all(kernels)


def test_window_console_runs_what_is_typed(tmp_path, xvfb):
    # The console is qtconsole inside the frozen app: the window opens the
    # first kernel's console tab (TORNADO_LAUNCHER_OPEN_CONSOLE, as its
    # "console" button does), real keys typed there run in the kernel.
    port = free_port()
    config = write_project(tmp_path / "project", port)
    marker = tmp_path / "typed-in-the-console"
    env = {**app_env(tmp_path), "DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb", "TORNADO_LAUNCHER_OPEN_CONSOLE": "1"}
    proc = subprocess.Popen([str(APP), str(config)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    kernels: list[int] = []
    try:
        window = find_window(proc.pid, xvfb, 30)
        wait_http_200(f"http://127.0.0.1:{port}/", proc, time.monotonic() + 90)  # the kernel is up
        kernels = kernels_of(proc.pid)
        xenv = {**os.environ, "DISPLAY": xvfb}
        subprocess.run(["xdotool", "windowfocus", "--sync", window], env=xenv, check=True, timeout=10)
        # a shell escape: no brackets or quotes for the console to pair up
        subprocess.run(["xdotool", "type", "--delay", "20", f"!echo console-works > {marker}"],
                       env=xenv, check=True, timeout=30)
        press(xvfb, window, "Return")
        deadline = time.monotonic() + 30
        while not marker.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert marker.exists(), "the console did not run the typed line"
        assert marker.read_text().strip() == "console-works"
        press(xvfb, window, "ctrl+q")
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "Traceback" not in out and "ImportError" not in out, out
        assert wait_gone(kernels, 10) == [], f"kernel left behind\n{out}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        kill_all(kernels)
