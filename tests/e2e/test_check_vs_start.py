"""`check` and `start` agree (issue 13 items 6-9): real subprocesses, as users run them.

What makes `start` fail for a config reason is an error in `check` (exit 2,
`file:line:col`), and `start` refuses it with the same sentence, exit 2, no
traceback, before starting anything.  `check` runs no `exec()` unless given
`--exec`.  A config over the size limit is refused at once.  A port held by
another process is named with its holder.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.helpers import free_port, plain_project, web_app_hcl

EXE = [sys.executable, "-m", "tornado_launcher"]


def run(args, cwd=None, timeout=60):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run(EXE + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


WATCHDOG = '''app "watch" {{
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "k"
  options {{
    handlers = [{{
      watch_path = "{path}"
      patterns   = ["*.py"]
    }}]
  }}
}}
'''


def _watch_missing(root):
    return WATCHDOG.format(path="no-such-dir"), "watch_path", 20, '`watch_path` "no-such-dir" does not exist'


def _watch_loop(root):
    os.symlink("loop", root / "loop")
    return WATCHDOG.format(path="loop"), "watch_path", 20, '`watch_path` "loop" is a symlink loop'


def _kernelspec_unknown(root):
    return ('kernel "k" { kernel_name = "no-such-spec" }\n', "kernel_name", 28,
            'kernel "k" uses the Jupyter kernelspec "no-such-spec", which is not installed')


def _name_nfkc(root):
    return ('app "\ufb01x" {\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
            '  options { app_class = "proj.web.App" }\n}\n', '"\ufb01x"', 5,
            'app name "\ufb01x" is not how Python spells it: Python reads it as "fix" (NFKC)')


def _python_missing(root):
    return ('kernel "k" { python = "venv/bin/python" }\n', "python =", 23, '`python` "venv/bin/python" does not exist')


DISAGREEMENTS = {
    "watch_path missing": _watch_missing,
    "watch_path symlink loop": _watch_loop,
    "unknown kernel_name": _kernelspec_unknown,
    "name Python normalises (NFKC)": _name_nfkc,
    "python missing": _python_missing,
}


@pytest.mark.parametrize("case", list(DISAGREEMENTS))
def test_what_start_refuses_check_refuses_with_the_same_sentence(tmp_path, case):
    extra, marker, col, sentence = DISAGREEMENTS[case](tmp_path)
    hcl = web_app_hcl(free_port())
    if extra.startswith("kernel"):
        hcl = extra + hcl.split("\n", 1)[1]  # replaces `kernel "k" {}`
    else:
        hcl += extra
    config = plain_project(tmp_path, hcl)
    line = next(i for i, text in enumerate(hcl.splitlines(), 1) if marker in text)
    checked = run(["check", str(config)], cwd=tmp_path)
    where = f"{config}:{line}:{col}: "
    assert checked.returncode == 2, checked.stdout + checked.stderr
    assert where + sentence in checked.stderr, checked.stderr
    assert checked.stderr.rstrip().endswith(f"{config}: 1 error; not runnable")

    t0 = time.monotonic()
    started = run(["start", str(config)], cwd=tmp_path, timeout=30)
    assert started.returncode == 2, started.stdout + started.stderr
    assert "Traceback" not in started.stdout + started.stderr
    assert where + sentence in started.stderr, started.stderr
    assert started.stderr == checked.stderr  # the same sentences, word for word
    assert "kernel starting" not in started.stdout  # refused before anything started
    assert time.monotonic() - t0 < 20


def test_check_runs_no_exec_unless_asked(tmp_path):
    hcl = web_app_hcl(free_port(), extra_options="threaded = \"${exec('touch made-by-exec')}\"")
    config = plain_project(tmp_path, hcl)
    made = tmp_path / "made-by-exec"
    r = run(["check", str(config)], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert not made.exists()
    line = hcl.splitlines().index("    threaded = \"${exec('touch made-by-exec')}\"") + 1
    assert f"{config}:{line}:19: note: exec('touch made-by-exec') not run (pass --exec to run it)" in r.stderr
    assert "1 exec() command not run (--exec runs them)" in r.stdout

    r = run(["check", "--exec", str(config)], cwd=tmp_path)
    assert made.exists()
    # with --exec the command ran: its output ("") is checked as `threaded`'s value
    assert "pass --exec" not in r.stderr + r.stdout
    assert r.returncode == 2 and f"{config}:{line}:16: `threaded` must be true or false" in r.stderr


def test_a_huge_config_is_refused_at_once(tmp_path):
    config = tmp_path / "jaffle.hcl"
    config.write_text('app "web" {\n  start = "' + "x" * 20_000_000 + '"\n}\n')
    for command in ("check", "start"):
        t0 = time.monotonic()
        r = run([command, str(config)], cwd=tmp_path)
        took = time.monotonic() - t0
        assert r.returncode == 2
        assert f"{config}:1:1: is 20.0 MB, over the limit of 1.0 MB for a config file" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr
        assert took < 5, took  # pyhcl took 13.7 s to read it; a Python start is most of this


def _listen_in_another_process(port):
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.05)
    server.kill()
    raise AssertionError("http.server did not listen")


@pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])
def test_port_held_by_another_process_names_it(tmp_path, threaded):
    port = free_port()
    config = plain_project(tmp_path, web_app_hcl(port, start="web.start()",
                                                 extra_options="threaded = true" if threaded else ""))
    server = _listen_in_another_process(port)
    proc = None
    try:
        proc = subprocess.Popen(EXE + ["start", str(config)], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                env=dict(os.environ, NO_COLOR="1", PYTHONUNBUFFERED="1"))
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if re.search(r" web +ERROR +failed:", line):
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
        out = "".join(lines) + rest
    finally:
        server.kill()
        server.wait()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
    holder = f"held by pid {server.pid} ({os.path.basename(sys.executable)} -m http.server {port} --bind 127.0.0.1)"
    sentence = f"port {port} on 127.0.0.1 is already in use, {holder}: stop that process, or give the app another port"
    assert re.search(r"^\d\d:\d\d:\d\d web +ERROR +start failed: " + re.escape(sentence) + "$", out, re.M), out
    assert re.search(r"^\d\d:\d\d:\d\d web +ERROR +failed: " + re.escape(sentence) + "$", out, re.M), out
    assert "Address already in use" in out  # the traceback, in the app's log, keeps the OS's words


def test_start_refuses_a_python_without_ipykernel_as_check_does(tmp_path):
    """Found while at it: `start` started, and the kernel failed; now it is refused first."""
    import venv

    venv.create(tmp_path / "bare", with_pip=False)
    hcl = 'kernel "k" { python = "bare/bin/python" }\n' + web_app_hcl(free_port()).split("\n", 1)[1]
    config = plain_project(tmp_path, hcl)
    checked = run(["check", str(config)], cwd=tmp_path)
    started = run(["start", str(config)], cwd=tmp_path, timeout=30)
    assert checked.returncode == started.returncode == 2
    assert f"{config}:1:1: kernel 'k'" in started.stderr and "-m pip install ipykernel tornado" in started.stderr
    assert started.stderr == checked.stderr
    assert "Traceback" not in started.stdout + started.stderr and "kernel starting" not in started.stdout
