"""Qt test setup: offscreen platform, one qasync loop per test, temp settings.

pytest-qt drives Qt's event loop (``qtbot.waitUntil`` / ``qtbot.wait``
process Qt events).  qasync runs asyncio callbacks from Qt events, so a
``QEventLoop(app, already_running=True)`` made the running loop for the test
lets widgets spawn coroutines and tests wait for them with ``qtbot``: no
nested ``run_until_complete``.
"""

from __future__ import annotations

import asyncio
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import pytest  # noqa: E402

import tornado_launcher.gui  # noqa: E402,F401  (applies the PySide6 None-refcount guard first)

_LOOPS = []  # closed loops stay referenced: their Qt objects are never freed off the GUI thread


@pytest.fixture
def qloop(qapp):
    """A qasync loop, running (from asyncio's point of view) for the test.

    Automatic garbage collection is off during the test and a full collection
    runs on this (the GUI) thread at teardown: a collection triggered in a
    kernel reader thread could destroy Qt objects there, leaving their timers
    registered on freed memory (see gui._compat.MainThreadGC).
    """
    import gc

    import qasync

    gc.collect()
    gc.disable()
    qapp.setQuitOnLastWindowClosed(False)  # as in the real app: the window quits itself
    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    # the kernels' reader threads hand their last lines over with
    # call_soon_threadsafe: let them finish while the loop is still open
    import threading
    import time

    deadline = time.monotonic() + 5
    while any(t.name.startswith("tl-kernel-") and t.is_alive() for t in threading.enumerate()) \
            and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.01)
    qapp.processEvents()
    # let pending callbacks finish, then detach the loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    deadline = 50
    while any(not t.done() for t in pending) and deadline:
        qapp.processEvents()
        deadline -= 1
    loop._after_run_forever()
    asyncio.events._set_running_loop(None)
    # not loop.stop(): it calls QApplication.exit(), after which Qt timers of
    # later tests (qasync's call_soon among them) never fire
    loop._QEventLoop__is_running = False
    try:
        loop.close()
    except Exception:
        pass
    asyncio.set_event_loop(None)
    _LOOPS.append(loop)
    gc.collect()
    gc.enable()


def wait_future(qtbot, fut, timeout=30_000):
    """Wait (processing Qt events) until ``fut`` is done; return its result."""
    fut = asyncio.ensure_future(fut)
    qtbot.waitUntil(fut.done, timeout=timeout)
    return fut.result()


@pytest.fixture
def run(qtbot, qloop):
    """``run(coro)`` -> result, waiting with Qt events flowing."""
    return lambda coro, timeout=30_000: wait_future(qtbot, coro, timeout)


@pytest.fixture
def window(qtbot, qloop, settings):
    """The real window (modules with a fake session define their own ``window``)."""
    from tornado_launcher.gui.window import MainWindow

    w = MainWindow(settings)
    w.show()
    yield w
    if not w.closed:
        w.close()
        qtbot.waitUntil(lambda: w.closed, timeout=60_000)
    w.deleteLater()


@pytest.fixture
def settings(tmp_path):
    from tornado_launcher.gui.settings import Settings

    return Settings(str(tmp_path / "settings.ini"))


@pytest.fixture(autouse=True)
def opened(monkeypatch):
    """Never start an editor or a browser from a test: record instead."""
    from tornado_launcher.gui import editor

    opened = []
    monkeypatch.setattr(editor, "open_file", lambda path, line=None: opened.append((str(path), line)) or True)
    monkeypatch.setattr(editor, "open_url", lambda url: opened.append((url, None)) or True)
    return opened
