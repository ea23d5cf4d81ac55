"""The real-app corpus's virtualenv, built once per machine and reused.

``python tests/realapps/realapps_venv.py`` (what ``setup.sh --test`` runs) and the tests' session fixture
call :func:`ensure`: the venv lives OUTSIDE the checkout, under
``$TORNADO_LAUNCHER_REALAPPS_CACHE`` or ``~/.cache/tornado-launcher/``, in a directory named by a
hash of ``requirements.txt`` and the building Python's version, so a fresh clone on the same
machine (CI) reuses it and an edit of the pins builds a new one. A build that did not finish
(no ``.complete`` marker) is removed and done again; a file lock keeps two builders apart.
A cold build from PyPI takes about 1-2 minutes here (~1 GB).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
MARKER = ".complete"


def cache_root() -> Path:
    env = os.environ.get("TORNADO_LAUNCHER_REALAPPS_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "tornado-launcher"


def key(python: str = sys.executable) -> str:
    version = subprocess.run([python, "-c", "import sys; print(sys.version)"], capture_output=True, text=True,
                             check=True).stdout
    return hashlib.sha256(REQUIREMENTS.read_bytes() + version.encode()).hexdigest()[:12]


def venv_dir(python: str = sys.executable) -> Path:
    return cache_root() / f"realapps-{key(python)}"


def ensure(python: str = sys.executable, log=None) -> Path:
    """The corpus venv's interpreter, building the venv first if this machine has none."""
    target = venv_dir(python)
    interpreter = target / "bin" / "python"
    if (target / MARKER).exists():
        return interpreter
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f"{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another builder: wait for it, then use its venv
        if (target / MARKER).exists():
            return interpreter
        if target.exists():  # a build that was cut short
            shutil.rmtree(target)
        started = time.monotonic()
        out = log if log is not None else sys.stderr
        print(f"realapps: building {target} from {REQUIREMENTS.name} (a few minutes, once per machine)",
              file=out, flush=True)
        subprocess.run([python, "-m", "venv", str(target)], check=True)
        subprocess.run([str(interpreter), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                        "-r", str(REQUIREMENTS)], check=True)
        (target / MARKER).write_text(f"built in {time.monotonic() - started:.0f} s\n")
        print(f"realapps: built in {time.monotonic() - started:.0f} s", file=out, flush=True)
    return interpreter


if __name__ == "__main__":
    print(ensure())
