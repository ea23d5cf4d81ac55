"""The kernel-side watcher's matching rule is the launcher's (`watch.matches`), and its scan
backend reports created / modified / deleted files, compile errors included."""

import os
import threading
import time

import pytest

from tornado_launcher.bridge.kernelside import filewatch
from tornado_launcher.watching.watcher import DEFAULT_IGNORES, matches

CASES = [
    ("*.py",), ("*/tests/*.py",), ("app/*.py",), ("*.html", "*.css"), ("*",),
]
PATHS = ["a.py", "A.PY", "app/x.py", "tests/test_a.py", "pkg/tests/t.py", "node_modules/x.py",
         ".git/config", "pkg/__pycache__/m.cpython-311.pyc", "x.py~", ".x.py.swp", "t/i.html", "venv/lib/x.py",
         "deep/er/still.py", "ignored/x.py"]


@pytest.mark.parametrize("patterns", CASES)
@pytest.mark.parametrize("case_sensitive", [False, True])
def test_same_rule_as_the_launchers_watcher(tmp_path, patterns, case_sensitive):
    (tmp_path / "venvy").mkdir()
    (tmp_path / "venvy" / "pyvenv.cfg").write_text("")
    root = str(tmp_path)
    h = filewatch.Handler({"handler": 0, "root": root, "patterns": list(patterns),
                           "ignore_patterns": ["*/ignored/*"] + list(DEFAULT_IGNORES),
                           "case_sensitive": case_sensitive})
    for rel in PATHS + ["venvy/lib/m.py"]:
        path = os.path.join(root, rel)
        assert h.matches(path) == matches(path, root, patterns, ["*/ignored/*"], case_sensitive), rel


def test_scan_reports_changes_and_compile_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(filewatch, "SCAN_INTERVAL", 0.05)
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "gone.py").write_text("y = 1\n")
    got, seen = [], threading.Event()

    def emit(record, urgent=False):
        got.append(record)
        seen.set()

    monkeypatch.setattr(filewatch, "emit", emit)
    w = filewatch.FileWatch([{"handler": 3, "root": str(tmp_path), "patterns": ["*.py"],
                              "ignore_patterns": list(DEFAULT_IGNORES)}], backend="scan").start()
    try:
        assert w.backend == "scan"
        (tmp_path / "a.py").write_text("x = 22\ndef broken(:\n")
        (tmp_path / "new.py").write_text("z = 1\n")
        (tmp_path / "gone.py").unlink()
        (tmp_path / "notes.txt").write_text("not a handler's")
        kinds, errors = {}, []
        deadline = time.monotonic() + 10
        while len(kinds) < 3 and time.monotonic() < deadline:  # a scan may fall between two writes
            assert seen.wait(deadline - time.monotonic())
            seen.clear()
            for rec in list(got):
                assert rec["type"] == "files" and rec["handler"] == 3
                kinds.update({os.path.basename(c[1]): c[0] for c in rec["changes"]})
                errors = [(os.path.basename(p), line) for p, line, _ in rec["errors"]] or errors
        assert kinds == {"a.py": "modified", "new.py": "created", "gone.py": "deleted"}
        assert errors == [("a.py", 2)]
    finally:
        w.stop()
