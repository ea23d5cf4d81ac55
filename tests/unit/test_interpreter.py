"""interpreter.py: finding, checking and starting the user's Python.

Discovery and checks run real interpreters: the test venv's own Python (it
has ipykernel and tornado) and throwaway ``venv --without-pip`` ones (they
have neither).  Frozen behaviour is simulated by setting ``sys.frozen`` and
``sys._MEIPASS``; tests/e2e/test_frozen.py covers the real frozen app.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tornado_launcher.kernels import interpreter
from tornado_launcher.kernels.interpreter import (
    InterpreterError,
    check_python,
    child_env,
    find_python,
    is_frozen,
    kernel_argv,
)

POSIX = os.name == "posix"
# The interpreter running the tests (it has ipykernel and tornado);
# the `frozen` fixture replaces sys.executable with a fake app.
PY = sys.executable


def make_venv(where: Path) -> Path:
    """A real venv without pip (fast), returning its python."""
    subprocess.run([PY, "-m", "venv", "--without-pip", str(where)], check=True)
    py = where / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    assert py.exists()
    return py


def make_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def frozen(monkeypatch, tmp_path):
    """Pretend to be a onedir PyInstaller app in tmp_path/app."""
    app = tmp_path / "app"
    internal = app / "_internal"
    internal.mkdir(parents=True)
    exe = app / "tornado-launcher"
    exe.write_text("")
    exe.chmod(0o755)
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(internal), raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    return internal


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory) -> Path:
    return make_venv(tmp_path_factory.mktemp("bare") / "venv")


# ---------------------------------------------------------------- basics


def test_not_frozen_by_default():
    assert is_frozen() is False


def test_frozen_flag(frozen):
    assert is_frozen() is True


def test_kernel_argv():
    assert kernel_argv("/x/python") == ["/x/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"]


# ---------------------------------------------------------------- find_python


def test_explicit_wins(tmp_path):
    assert find_python(str(tmp_path), "/opt/py/bin/python3") == "/opt/py/bin/python3"


def test_not_frozen_uses_own_python(tmp_path):
    make_venv(tmp_path / ".venv")  # ignored when not frozen
    assert find_python(str(tmp_path)) == sys.executable


@pytest.mark.parametrize("name", [".venv", "venv"])
def test_frozen_prefers_project_venv(frozen, tmp_path, monkeypatch, name):
    project = tmp_path / "project"
    py = make_venv(project / name)
    monkeypatch.setenv("PATH", str(Path(PY).parent))
    assert find_python(str(project)) == str(py)


def test_frozen_dot_venv_before_venv(frozen, tmp_path):
    project = tmp_path / "project"
    dot = make_venv(project / ".venv")
    make_venv(project / "venv")
    assert find_python(str(project)) == str(dot)


@pytest.mark.skipif(not POSIX, reason="POSIX PATH layout")
def test_frozen_falls_back_to_path(frozen, tmp_path, monkeypatch):
    project = tmp_path / "project"
    project.mkdir()
    bindir = Path(PY).parent
    monkeypatch.setenv("PATH", f"{tmp_path / 'nothing'}{os.pathsep}{bindir}")
    found = find_python(str(project))
    assert Path(found).parent == bindir
    assert Path(found).name in ("python3", "python")


@pytest.mark.skipif(not POSIX, reason="POSIX PATH layout")
def test_frozen_path_search_ignores_bundle_dirs(frozen, tmp_path, monkeypatch):
    # A python3 inside the bundle (what LD_LIBRARY_PATH/PATH games could
    # expose) is never picked: PATH is read through child_env().
    make_script(frozen / "python3", "exit 0")
    other = tmp_path / "bin"
    other.mkdir()
    real = make_script(other / "python3", "exit 0")
    monkeypatch.setenv("PATH", f"{frozen}{os.pathsep}{other}")
    assert find_python(str(tmp_path)) == str(real)


@pytest.mark.skipif(not POSIX, reason="POSIX PATH layout")
def test_frozen_never_returns_itself(frozen, tmp_path, monkeypatch):
    # The app's executable named python3 on PATH (a user's symlink, say).
    bindir = tmp_path / "bin"
    bindir.mkdir()
    os.symlink(sys.executable, bindir / "python3")
    monkeypatch.setenv("PATH", str(bindir))
    monkeypatch.setattr(interpreter, "_common_locations", lambda: [])
    with pytest.raises(InterpreterError):
        find_python(str(tmp_path))


def test_frozen_common_locations(frozen, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    fake = make_script(tmp_path / "python3", "exit 0")
    monkeypatch.setattr(interpreter, "_common_locations", lambda: [str(tmp_path / "missing"), str(fake)])
    assert find_python(str(tmp_path)) == str(fake)


def test_frozen_nothing_found_is_a_sentence(frozen, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(interpreter, "_common_locations", lambda: [])
    with pytest.raises(InterpreterError) as info:
        find_python(str(tmp_path / "project"))
    msg = str(info.value)
    assert "No Python interpreter was found" in msg
    assert "pip install ipykernel tornado" in msg
    assert "`python` in the kernel block" in msg
    assert str(tmp_path / "project" / ".venv") in msg


def test_common_locations_include_macos_homebrew():
    if os.name == "nt":
        pytest.skip("POSIX list")
    locs = interpreter._common_locations()
    assert "/opt/homebrew/bin/python3" in locs and "/usr/local/bin/python3" in locs
    assert locs[-1] == "/usr/bin/python3"


def test_windows_version_sort_key():
    paths = [r"C:\U\Programs\Python\Python39\python.exe", r"C:\U\Programs\Python\Python312\python.exe"]
    # Sorting uses the directory name's digits: 3.12 before 3.9.
    key = lambda p: interpreter._version_key(p.replace("\\", os.sep))  # noqa: E731
    assert sorted(paths, key=key, reverse=True)[0].endswith("Python312\\python.exe")


# ---------------------------------------------------------------- check_python


def run(coro):
    return asyncio.run(coro)


def test_check_ok_with_launcher_python():
    assert run(check_python(sys.executable)) is None


def test_check_bare_venv_names_the_fix(bare_venv):
    msg = run(check_python(str(bare_venv)))
    assert msg is not None
    assert msg.startswith(f"{bare_venv} lacks ipykernel and tornado: run `")
    assert f"{bare_venv} -m pip install ipykernel tornado`" in msg


def test_check_quotes_paths_with_spaces(tmp_path):
    py = make_venv(tmp_path / "my env")
    msg = run(check_python(str(py)))
    assert f"'{py}' -m pip install ipykernel tornado" in msg


def test_check_missing_file(tmp_path):
    msg = run(check_python(str(tmp_path / "nope" / "python")))
    assert msg == (
        f"The Python interpreter {tmp_path / 'nope' / 'python'} does not exist: set `python` in the "
        "kernel block to the full path of an interpreter that has ipykernel and tornado."
    )


def test_check_not_executable(tmp_path):
    f = tmp_path / "python"
    f.write_text("print(1)\n")
    f.chmod(0o644)
    msg = run(check_python(str(f)))
    assert msg.startswith(f"{f} is not an executable program")


def test_check_directory(tmp_path):
    msg = run(check_python(str(tmp_path)))
    assert "is not an executable program" in msg


@pytest.mark.skipif(not POSIX, reason="shell script stand-in")
def test_check_not_a_python(tmp_path):
    fake = make_script(tmp_path / "python", 'echo "boom: not python" >&2; exit 3')
    msg = run(check_python(str(fake)))
    assert msg == (
        f"{fake} failed to run (boom: not python): check that it is a working Python 3 "
        "interpreter, or set `python` in the kernel block to another one."
    )


@pytest.mark.skipif(not POSIX, reason="shell script stand-in")
def test_check_exec_format_error(tmp_path):
    fake = tmp_path / "python"
    fake.write_bytes(b"\x00\x01garbage")
    fake.chmod(0o755)
    msg = run(check_python(str(fake)))
    assert msg.startswith(f"{fake} could not be started (")


@pytest.mark.skipif(not POSIX, reason="shell script stand-in")
def test_check_timeout_kills_and_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(interpreter, "CHECK_TIMEOUT", 0.5)
    fake = make_script(tmp_path / "python", "exec sleep 30")
    t0 = time.monotonic()
    msg = run(check_python(str(fake)))
    assert time.monotonic() - t0 < 5
    assert msg.startswith(f"{fake} did not answer within 0 s while importing ipykernel and tornado")


@pytest.mark.skipif(not POSIX, reason="shell script stand-in")
def test_check_broken_install_is_not_called_missing(tmp_path):
    # A module that exists but raises on import: the fix is a reinstall.
    site = tmp_path / "site"
    (site / "ipykernel").mkdir(parents=True)
    (site / "ipykernel" / "__init__.py").write_text("raise RuntimeError('half installed')\n")
    msg = run(check_python(sys.executable, env={**os.environ, "PYTHONPATH": str(site)}))
    assert msg is not None
    assert "cannot import ipykernel (RuntimeError: half installed)" in msg
    assert "--force-reinstall" in msg


def test_check_does_not_block_the_loop(bare_venv):
    async def main():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        t = asyncio.create_task(ticker())
        msg = await check_python(sys.executable)
        t.cancel()
        return msg, ticks

    msg, ticks = run(main())
    assert msg is None
    assert ticks >= 5  # the loop kept turning while ipykernel was imported


def test_check_relative_name_found_on_path(monkeypatch):
    monkeypatch.setenv("PATH", str(Path(PY).parent))
    assert run(check_python(Path(sys.executable).name)) is None


def test_check_relative_name_not_found(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    msg = run(check_python("python-does-not-exist"))
    assert msg.startswith("The Python interpreter 'python-does-not-exist' was not found")


def test_check_uses_child_env_when_frozen(frozen, monkeypatch):
    # A bundle-only LD_LIBRARY_PATH must not reach the checked interpreter;
    # the probe would still work, so look at what it receives.
    monkeypatch.setenv("LD_LIBRARY_PATH", str(frozen))
    seen = {}

    async def fake_run(argv, env, timeout):
        seen.update(env)
        return await real_run(argv, env, timeout)

    real_run = interpreter._run
    monkeypatch.setattr(interpreter, "_run", fake_run)
    assert run(check_python(PY)) is None
    assert "LD_LIBRARY_PATH" not in seen


# ---------------------------------------------------------------- child_env


def test_child_env_not_frozen_is_a_copy(monkeypatch):
    monkeypatch.setenv("LD_LIBRARY_PATH", "/x/lib")
    env = child_env()
    assert env == dict(os.environ)
    assert env is not os.environ
    env["NEW"] = "1"
    assert "NEW" not in os.environ


def test_child_env_base_is_not_mutated():
    base = {"A": "1"}
    env = child_env(base)
    env["B"] = "2"
    assert base == {"A": "1"}


def test_child_env_restores_ld_library_path(frozen):
    base = {
        "LD_LIBRARY_PATH": f"{frozen}{os.pathsep}/opt/cuda/lib64",
        "LD_LIBRARY_PATH_ORIG": "/opt/cuda/lib64",
        "HOME": "/home/u",
    }
    assert child_env(base) == {"LD_LIBRARY_PATH": "/opt/cuda/lib64", "HOME": "/home/u"}


def test_child_env_drops_ld_library_path_set_only_by_bundle(frozen):
    assert child_env({"LD_LIBRARY_PATH": str(frozen)}) == {}


def test_child_env_empty_orig_means_unset(frozen):
    assert child_env({"LD_LIBRARY_PATH": str(frozen), "LD_LIBRARY_PATH_ORIG": ""}) == {}


def test_child_env_dyld_and_libpath(frozen):
    base = {
        "DYLD_LIBRARY_PATH": f"{frozen}{os.pathsep}/usr/local/lib",  # runtime hook prepends
        "LIBPATH": str(frozen),
        "LIBPATH_ORIG": "/aix/lib",
    }
    assert child_env(base) == {"DYLD_LIBRARY_PATH": "/usr/local/lib", "LIBPATH": "/aix/lib"}


def test_child_env_drops_bootloader_vars(frozen):
    base = {
        "_MEIPASS2": str(frozen),
        "_PYI_APPLICATION_HOME_DIR": str(frozen),
        "_PYI_ARCHIVE_FILE": str(frozen.parent / "tornado-launcher"),
        "_PYI_PARENT_PROCESS_LEVEL": "1",
        "_PYI_LINUX_PROCESS_NAME": "tornado-launcher",
        "PYINSTALLER_RESET_ENVIRONMENT": "1",
        "KEEP": "yes",
    }
    assert child_env(base) == {"KEEP": "yes"}


def test_child_env_drops_bundle_qt_paths_keeps_users(frozen):
    qt = frozen / "PySide6" / "Qt"
    base = {
        "QT_PLUGIN_PATH": str(qt / "plugins"),
        "QML2_IMPORT_PATH": str(qt / "qml"),
        "QT_QPA_PLATFORM_PLUGIN_PATH": str(qt / "plugins" / "platforms"),
        "QT_API": "pyside6",
    }
    assert child_env(base) == {"QT_API": "pyside6"}
    assert child_env({"QT_PLUGIN_PATH": "/usr/lib/qt6/plugins"}) == {"QT_PLUGIN_PATH": "/usr/lib/qt6/plugins"}


def test_child_env_strips_bundle_from_any_path_list(frozen):
    base = {
        "PATH": os.pathsep.join([str(frozen), "/usr/bin", str(frozen.parent), "/bin"]),
        "PYTHONHOME": str(frozen),
        "PYTHONPATH": "/home/u/src",
        "SSL_CERT_FILE": str(frozen / "certifi" / "cacert.pem"),
        "URL": "http://example.com:8080/x",
    }
    assert child_env(base) == {
        "PATH": os.pathsep.join(["/usr/bin", "/bin"]),
        "PYTHONPATH": "/home/u/src",
        "URL": "http://example.com:8080/x",
    }


def test_child_env_does_not_touch_lookalike_dirs(frozen):
    sibling = str(frozen.parent) + "-other"
    assert child_env({"PATH": sibling}) == {"PATH": sibling}


def test_child_env_defaults_to_os_environ(frozen, monkeypatch):
    monkeypatch.setenv("_PYI_ARCHIVE_FILE", "x")
    monkeypatch.setenv("TL_TEST_KEEP", "1")
    env = child_env()
    assert "_PYI_ARCHIVE_FILE" not in env and env["TL_TEST_KEEP"] == "1"


def test_frozen_kernel_starts_with_child_env(frozen, tmp_path):
    """The kernel command and environment actually run a kernel process far
    enough to write its connection file (no jupyter_client involved)."""
    conn = tmp_path / "kernel.json"
    argv = [a.format(connection_file=str(conn)) for a in kernel_argv(PY)]
    env = child_env({**os.environ, "LD_LIBRARY_PATH": str(frozen), "_PYI_ARCHIVE_FILE": "x"})
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not conn.exists() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert conn.exists(), proc.stderr.read().decode() if proc.poll() is not None else "no connection file"
    finally:
        proc.terminate()
        proc.wait(10)


def test_check_runs_on_the_qt_loop(bare_venv):
    """The window awaits check_python on a qasync loop: run it there, in a
    child process so that no QApplication is left in this one."""
    pytest.importorskip("qasync")
    code = f"""
import asyncio, sys
import qasync
from PySide6.QtWidgets import QApplication
from tornado_launcher.kernels.interpreter import check_python
app = QApplication([])
async def main():
    return await check_python({PY!r}), await check_python({str(bare_venv)!r})
with asyncio.Runner(loop_factory=lambda: qasync.QEventLoop(app)) as runner:
    ok, bad = runner.run(main())
print("OK" if ok is None else ok)
print(bad)
"""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QT_API": "pyside6"}
    r = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    ok, bad = r.stdout.splitlines()[:2]
    assert ok == "OK"
    assert bad.startswith(f"{bare_venv} lacks ipykernel and tornado")
