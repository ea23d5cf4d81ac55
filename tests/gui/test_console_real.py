"""The console tab: qtconsole's RichJupyterWidget on a real kernel of a real session.

Typed with qtbot's keys into the widget's text control, as a user does:
Tab completes a name, Enter runs the cell, a traceback shows, a ``%magic``
works, the app's output and the bridge's comm do not appear, and after a
kernel restart or death the console says so and works on the new kernel.
"""

from __future__ import annotations

import os
import signal

import pytest
from PySide6.QtCore import Qt

from tests.gui.conftest import wait_future
from tests.gui.test_window_real import hcl, row, serves, wait
from tests.helpers import PLAIN_APP, free_port, write_project
from tornado_launcher.gui.console import ConsoleWidget

pytestmark = pytest.mark.timeout(240)


def text(c: ConsoleWidget) -> str:
    return c._control.toPlainText()


def type_and_run(qtbot, c: ConsoleWidget, code: str) -> None:
    qtbot.keyClicks(c._control, code)
    qtbot.keyClick(c._control, Qt.Key.Key_Return)


def open_console(qtbot, window, tmp_path, run):
    port = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP,
                             "jaffle.hcl": hcl(port, watchdog=False)})
    assert run(window.open_config(str(tmp_path / "jaffle.hcl")), 90_000)
    url = f"http://127.0.0.1:{port}/"
    wait(qtbot, window, lambda: row(window) and row(window).state == "running", 90_000)
    window.kernel_action("py_kernel", "console")
    tab = window.consoles["py_kernel"]
    assert window.tabs.currentWidget() is tab
    c = tab.console
    try:
        qtbot.waitUntil(lambda: c.attached is not None and "In [" in text(c), timeout=30_000)
    except Exception:
        raise AssertionError(f"console not ready: attached={c.attached!r}, "
                             f"file={window.session.connection_file('py_kernel')!r}, text={text(c)!r}") from None
    return c, url


def test_console_completes_runs_tracebacks_and_stays_quiet(window, qtbot, tmp_path, run):
    c, url = open_console(qtbot, window, tmp_path, run)
    # attached to the kernel's own connection file, as `--existing` does
    assert c.attached == window.session.connection_file("py_kernel")
    # qtconsole's client runs its own plain asyncio loop in its thread: not ours, not a Qt loop
    io_loop = c.kernel_client.ioloop_thread.ioloop.asyncio_loop
    assert not type(io_loop).__module__.startswith("qasync") and io_loop.is_running()
    assert c.kernel_client.comm_manager is None

    type_and_run(qtbot, c, "value_for_completion = 41")
    wait(qtbot, window, lambda: "In [2]" in text(c), 30_000)
    # Tab completes the name (the kernel answers complete_request)
    qtbot.keyClicks(c._control, "value_for_comp")
    qtbot.keyClick(c._control, Qt.Key.Key_Tab)
    wait(qtbot, window, lambda: c.input_buffer == "value_for_completion", 15_000)
    qtbot.keyClicks(c._control, " + 1")
    qtbot.keyClick(c._control, Qt.Key.Key_Return)
    wait(qtbot, window, lambda: "Out[2]: 42" in text(c), 30_000)

    # a multi-line cell, a %magic and a traceback
    c.execute("def twice(x):\n    return 2 * x\nprint(twice(21))")
    wait(qtbot, window, lambda: "\n42\n" in text(c), 30_000)
    type_and_run(qtbot, c, "%who int")
    wait(qtbot, window, lambda: "value_for_completion" in text(c).split("%who int", 1)[-1], 30_000)
    type_and_run(qtbot, c, "1/0")
    wait(qtbot, window, lambda: "ZeroDivisionError" in text(c), 30_000)

    # the app's output and its bridge records (comm) stay out of the console
    assert serves(url, "v1")()
    app_log = window.merged

    def logged() -> bool:
        app_log.flush(force=True)
        return "hello from app" in app_log.plain_text()

    wait(qtbot, window, logged, 15_000)
    qtbot.wait(300)
    assert "hello from app" not in text(c) and "printed by" not in text(c)
    # ... and the bridge's comm still works: app states still arrive after a restart
    window.app_action("web", "restart")
    wait(qtbot, window, lambda: row(window).state == "running" and serves(url, "v1")(), 30_000)
    # (not the bare word: IPython's banner tips can say "command")
    shown = text(c).lower()
    assert not [m for m in ("tornado_launcher.events", "comm_open", "comm_msg", "no such comm") if m in shown], shown

    # another client's cell output (here the launcher's own client) shows only when asked for
    run = lambda coro: wait_future(qtbot, coro)  # noqa: E731
    run(window.session.execute("py_kernel", "print('said by the launcher')"))
    qtbot.wait(300)
    assert "said by the launcher" not in text(c)
    c.include_other_output = True
    run(window.session.execute("py_kernel", "print('said again by the launcher')"))
    wait(qtbot, window, lambda: "said again by the launcher" in text(c), 15_000)


def test_console_survives_kernel_restart_and_death(window, qtbot, tmp_path, run):
    c, url = open_console(qtbot, window, tmp_path, run)
    type_and_run(qtbot, c, "before = 'kept'")
    wait(qtbot, window, lambda: "In [2]" in text(c), 30_000)
    old_client = c.kernel_client
    pid = window.session.kernels["py_kernel"].pid

    window.kernel_action("py_kernel", "restart")
    wait(qtbot, window, lambda: "is restarting" in text(c), 30_000)
    wait(qtbot, window, lambda: c.kernel_client is not None and c.kernel_client is not old_client
         and "Connected to the new kernel" in text(c), 60_000)
    assert window.session.kernels["py_kernel"].pid != pid
    assert "before = 'kept'" in text(c)  # the text before the restart is kept
    wait(qtbot, window, lambda: row(window).state == "running", 60_000)
    type_and_run(qtbot, c, "'before' in dir()")

    wait(qtbot, window, lambda: "False" in text(c).split("Connected to the new kernel")[-1], 30_000)

    # death: the console says so, then works on the kernel the session restarts
    old_client = c.kernel_client
    os.kill(window.session.kernels["py_kernel"].pid, signal.SIGKILL)
    wait(qtbot, window, lambda: "died" in text(c), 30_000)
    wait(qtbot, window, lambda: c.kernel_client is not None and c.kernel_client is not old_client, 60_000)
    c.execute("6 * 7")
    wait(qtbot, window, lambda: "42" in text(c).split("died")[-1], 30_000)

    # closing the window lets go of the kernel and ends the client's threads
    io_thread = c.kernel_client.ioloop_thread
    window.close()
    wait(qtbot, window, lambda: window.closed, 60_000)
    assert c.kernel_client is None
    qtbot.waitUntil(lambda: not io_thread.is_alive(), timeout=10_000)
