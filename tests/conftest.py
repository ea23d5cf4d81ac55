"""Test-wide plumbing: async tests, no process left behind.

``tests`` is a package (pytest's ``pythonpath`` puts the repository root on ``sys.path``): a test
reaches shared code as ``tests.helpers``, ``tests.gui.fake_session``, ... and never edits ``sys.path``."""

import asyncio
import inspect

import pytest

from tests.helpers import kernel_processes


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem):
    """Run ``async def`` tests on a fresh asyncio loop (no pytest-asyncio needed)."""
    if inspect.iscoroutinefunction(pyfuncitem.obj) and not pyfuncitem.get_closest_marker("qasync"):
        kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
        asyncio.run(asyncio.wait_for(pyfuncitem.obj(**kwargs), timeout=_timeout(pyfuncitem)))
        return True
    return None


def _timeout(item) -> float:
    marker = item.get_closest_marker("timeout")
    return float(marker.args[0]) if marker and marker.args else 110.0


def pytest_configure(config):
    config.addinivalue_line("markers", "qasync: async test run on a qasync loop by tests/gui")


@pytest.fixture(autouse=True)
def no_kernel_left_behind(request):
    """Every test must leave no kernel process of ours running."""
    before = set(kernel_processes())
    yield
    import time

    deadline = time.monotonic() + 10
    left = set(kernel_processes()) - before
    while left and time.monotonic() < deadline:
        time.sleep(0.1)
        left = set(kernel_processes()) - before
    assert not left, f"kernel processes left behind: {sorted(left)}"
