"""The corpus's virtualenv, built on demand once per machine (see realapps_venv.py)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="session")
def realapps_python():
    from realapps_venv import ensure

    return str(ensure())
