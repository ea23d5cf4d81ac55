"""The benchmarks on a fresh clone: a missing optional dependency is one sentence
naming the `pip install` to run, exit status 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: runs a benchmark as `python benchmarks/x.py ...` would, with `hidden` modules
#: made unimportable (a finder first on sys.meta_path refuses them)
HIDE = '''
import runpy, sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError("No module named %r" % name, name=name)
        return None
sys.meta_path.insert(0, Hide())
sys.argv = ARGV
runpy.run_path(ARGV[0], run_name="__main__")
'''


def run_hidden(script: str, args: list, hidden: tuple) -> subprocess.CompletedProcess:
    code = f"HIDDEN = {hidden!r}\nARGV = {[script, *args]!r}\n" + HIDE
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("script, args", [
    ("benchmarks/engine.py", ["--quick"]),
    ("benchmarks/reload_latency.py", ["--quick"]),
    ("benchmarks/reload_latency.py", ["--quick", "--only", "shared"]),
])
def test_missing_pandas_names_the_pip_install(script, args):
    r = run_hidden(script, args, ("pandas", "watchfiles"))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith(f"{script} needs pandas")
    assert "pip install -e '" in lines[0] and "[bench]'" in lines[0]
    if "reload_latency" in script and "--only" not in args:
        assert "watchfiles" in lines[0]


def test_watch_start_without_watchfiles_still_runs_and_says_how_to_compare(tmp_path):
    r = run_hidden("benchmarks/watch_start.py", ["--quick", "--dir", str(tmp_path)], ("watchfiles",))
    assert r.returncode == 0, r.stderr + r.stdout
    assert "Traceback" not in r.stderr + r.stdout
    assert "pip install" in r.stdout + r.stderr and "watchfiles" in r.stdout + r.stderr
    assert "tornado-launcher" in r.stdout and "watchdog" in r.stdout
