"""The code passes the linter (ruff, rules and line length in pyproject.toml's [tool.ruff]).

Part of the README's test command, so a change that breaks the house style fails the suite
with ruff's own report (file:line: rule and message).  ruff is a test-only tool (the `test`
extra); nothing in the package imports it.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PATHS = ["tornado_launcher", "tests", "benchmarks", "scripts"]


def _ruff():
    beside = Path(sys.executable).with_name("ruff")  # the venv's, installed by `./setup.sh --test`
    return str(beside) if beside.exists() else shutil.which("ruff")


def test_ruff_check_passes():
    ruff = _ruff()
    if ruff is None:
        pytest.fail("ruff is not installed: run `./setup.sh --test` (or `.venv/bin/pip install -e '.[test]'`)")
    r = subprocess.run([ruff, "check", "--no-cache", *PATHS], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, f"`ruff check {' '.join(PATHS)}` found problems:\n{r.stdout}{r.stderr}"
