"""`tornado-launcher run TARGET` and `init` (issue 23): real launchers on apps without a config.

Each style of app (tests/zeroconf_apps.py) is run as a user would, from its
directory: it serves, a saved edit reloads it, `status -c FILE` reaches it,
Ctrl+C exits 0.  `init` writes a jaffle.hcl that `check` accepts and `start`
serves.  Bad targets get one line and exit 2, as does the window without a display.
"""

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests import zeroconf_apps
from tests.helpers import free_port

pytestmark = pytest.mark.timeout(180)
EXE = [sys.executable, "-m", "tornado_launcher"]


def _env(**extra):
    return dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1", **extra)


def cli(args, cwd, timeout=60, **env):
    return subprocess.run(EXE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=_env(**env))


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return None


def wait_for(predicate, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"{what} within {timeout} s")


class Launcher:
    def __init__(self, args, cwd):
        self.out = open(cwd / "launcher.log", "w+")
        self.proc = subprocess.Popen(EXE + args, cwd=cwd, stdout=self.out, stderr=subprocess.STDOUT, env=_env())

    def text(self):
        self.out.flush()
        self.out.seek(0)
        return self.out.read()

    def interrupt(self):
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(60)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.out.close()


@pytest.mark.parametrize("style", ["script", "main", "factory"])
def test_run_serves_reloads_answers_status_and_exits_0(tmp_path, style):
    port = free_port()
    if style == "script":
        root = zeroconf_apps.project(tmp_path, script_port=port)
        args, file, edit, says = ["run", "server.py"], "server.py", "server.py", "script v"
    elif style == "main":
        root = zeroconf_apps.project(tmp_path, main_port=free_port())
        args, file, edit, says = ["run", "syncapp:main", "--", f"--port={port}"], "syncapp.py", "syncapp.py", "main v"
    else:
        root = zeroconf_apps.project(tmp_path, factory_port=free_port())
        args, file, edit = ["run", "webapp:make_app", "--port", str(port)], "webapp.py", "handlers.py"
        says = "factory v"
    launcher = Launcher(args, root)
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{port}/") == says + "1", f"{style} serving\n{launcher.text()}")
        first = launcher.text().splitlines()[0]
        assert first.startswith(f"run: {args[1]} is "), first
        assert {"script": "a script, run as __main__", "main": "function main(), run as the app's main",
                "factory": "function make_app() returning a tornado.web.Application"}[style] in first
        st = cli(["status", "-c", file], root)
        assert st.returncode == 0 and re.search(r"\brunning\b", st.stdout), st.stdout + st.stderr
        path = root / edit
        path.write_text(path.read_text().replace(says + "1", says + "2"))
        wait_for(lambda: get(f"http://127.0.0.1:{port}/") == says + "2", f"{style} reloaded\n{launcher.text()}")
        assert launcher.interrupt() == 0, launcher.text()
        assert get(f"http://127.0.0.1:{port}/") is None
        assert "Traceback" not in launcher.text()
        gone = cli(["status", "-c", file], root)
        assert gone.returncode == 3 and f"tornado-launcher run {file}" in gone.stderr, gone.stderr
    finally:
        launcher.close()


def test_init_writes_a_config_check_accepts_and_start_serves(tmp_path):
    sp, mp, fp = free_port(), free_port(), free_port()
    root = zeroconf_apps.project(tmp_path, script_port=sp, main_port=mp, factory_port=fp)
    r = cli(["init"], root)
    assert r.returncode == 0, r.stderr
    assert "wrote jaffle.hcl: 3 apps" in r.stdout and "tornado-launcher start" in r.stdout
    text = (root / "jaffle.hcl").read_text()
    for needle in ('script = "server.py"', f'"--port={sp}"', 'main = "syncapp:main"', f'"--port={mp}"',
                   'app_class = "webapp:make_app"', f"port = {fp}", "# threaded = true"):
        assert needle in text, text
    c = cli(["check"], root)
    assert c.returncode == 0 and "OK, 3 kernels, 3 apps" in c.stdout, c.stdout + c.stderr
    # never over an existing file; --force shows the difference first
    again = cli(["init", "server.py"], root)
    assert again.returncode == 1 and "already exists" in again.stderr
    assert (root / "jaffle.hcl").read_text() == text
    launcher = Launcher(["start"], root)
    try:
        wait_for(lambda: get(f"http://127.0.0.1:{sp}/") == "script v1" and get(f"http://127.0.0.1:{mp}/") == "main v1"
                 and get(f"http://127.0.0.1:{fp}/") == "factory v1", f"start serving\n{launcher.text()}", 90)
        assert launcher.interrupt() == 0, launcher.text()
    finally:
        launcher.close()
    forced = cli(["init", "--force", "server.py"], root)
    assert forced.returncode == 0, forced.stderr
    assert "-app \"syncapp\" {" in forced.stdout and "replaced jaffle.hcl: 1 app" in forced.stdout


@pytest.mark.parametrize("case", ["missing file", "no such name", "factory without port", "syntax error",
                                  "missing module", "port for a script"])
def test_bad_targets_are_one_line_and_exit_2(tmp_path, case):
    root = zeroconf_apps.project(tmp_path, script_port=free_port(), factory_port=free_port())
    (root / "broken.py").write_text("import tornado.web\n\ndef main(:\n    pass\n")
    args, expect = {
        "missing file": (["run", "nope.py"], r"^nope\.py: no such file .*`tornado-launcher run server\.py`"),
        "no such name": (["run", "webapp:nothing"], r"^webapp\.py has no top-level `nothing` .*make_app"),
        "factory without port": (["run", "webapp:make_app"],
                                 r"needs a port.*`tornado-launcher run webapp:make_app --port \d+`"),
        "syntax error": (["run", "broken.py"], r"^broken\.py:3:\d+: .*does not compile"),
        "missing module": (["run", "nomod:main"], r"^nomod:main: no module `nomod`"),
        "port for a script": (["run", "server.py", "--port", "8000"], r"-- --port=8000"),
    }[case]
    r = cli(args, root)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and re.search(expect, lines[0]), r.stderr
    assert r.stdout == ""


def test_the_window_without_a_display_says_how_to_run_headless(tmp_path):
    env = {k: v for k, v in _env().items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    for args in ([], ["gui"], ["jaffle.hcl"]):
        r = subprocess.run(EXE + args, cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
        assert r.returncode == 2, r.stderr
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and "no display" in lines[0] and "tornado-launcher start" in lines[0] \
            and "tornado-launcher run" in lines[0], r.stderr
        assert "qt.qpa" not in r.stderr


def test_a_config_path_still_means_the_window(tmp_path):
    """`tornado-launcher path/to/jaffle.hcl` is still `gui path/to/jaffle.hcl` (run/init are words, not files)."""
    from tornado_launcher.cli import parse_args

    assert parse_args(["conf/jaffle.hcl"]).command == "gui"
    assert parse_args(["conf/jaffle.hcl"]).config == ["conf/jaffle.hcl"]


def test_the_projects_venv_is_the_default_kernel_python(tmp_path):
    """A .venv in the directory is the kernel's interpreter unless --python says otherwise; one without
    ipykernel is one line naming it and the pip install (exit 2), as `check` says for a kernel block."""
    root = zeroconf_apps.project(tmp_path, script_port=free_port())
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True, timeout=120)
    r = cli(["run", "server.py"], root)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(root / ".venv" / "bin" / "python") in lines[0] and "lacks ipykernel" in lines[0] \
        and "-m pip install ipykernel tornado" in lines[0], r.stderr
    r = cli(["run", "server.py", "--python", str(root / "nope")], root)
    assert r.returncode == 2 and "does not exist: give --python" in r.stderr, r.stderr
    # init writes it into the kernel blocks, relative to the file
    r = cli(["init"], root)
    assert r.returncode == 0 and 'python = ".venv/bin/python"' in (root / "jaffle.hcl").read_text(), r.stderr
    assert "note: the kernels run the project's .venv/bin/python, but" in r.stderr and "lacks ipykernel" in r.stderr
