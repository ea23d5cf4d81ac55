"""Virtualenvs the tests need apart from the launcher's, built once per machine and reused.

``cached_venv("eg", ["jupyter_enterprise_gateway==3.3.0"])`` returns the directory of a
virtualenv holding exactly those requirements, under ``$TL_TEST_CACHE`` (default
``~/.cache/tornado-launcher/``), named by a hash of the requirements and the Python that
made it: a CI run in a fresh clone on the same machine reuses it; a fresh machine builds it
from PyPI (the first time takes as long as pip does). A half-built venv (the build died) is
never reused: it is complete only once its ``.complete`` marker is written. Concurrent
builders (pytest-xdist workers) wait on a lock file rather than build twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterable

CACHE = Path(os.environ.get("TL_TEST_CACHE", Path.home() / ".cache" / "tornado-launcher"))


def cached_venv(name: str, requirements: Iterable[str], timeout: float = 900) -> Path:
    reqs = sorted(requirements)
    key = hashlib.sha256("\n".join([sys.version, *reqs]).encode()).hexdigest()[:16]
    venv = CACHE / f"{name}-{key}"
    if (venv / ".complete").exists():
        return venv
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f"{name}-{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building it: wait for it
        if (venv / ".complete").exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
        r = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q",
                            "--disable-pip-version-check", *reqs],
                           capture_output=True, text=True, timeout=timeout)
        if r.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            raise RuntimeError(f"pip install {' '.join(reqs)} failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
        (venv / ".complete").write_text("\n".join(reqs) + "\n")
    return venv
