"""A Jupyter console per kernel: qtconsole's ``RichJupyterWidget``, attached
to the kernel's own connection file as ``jupyter qtconsole --existing`` does.

Completion, history, multi-line editing, ``?`` help, ``%magic``, tracebacks
and inline images are qtconsole's.  What this module adds is the fit with the
launcher:

* **One process, one loop.**  qtconsole's client (``QtKernelClient``) is
  jupyter_client's *threaded* client: its ZMQ sockets live on a tornado
  IOLoop in a thread of its own (a plain asyncio loop: ``gui/app.py`` makes
  the qasync loop by a loop factory, not a global policy, so the thread's
  ``new_event_loop()`` is not a Qt loop), and messages reach the widget as
  queued Qt signals.  Nothing runs a loop inside our qasync loop (the blank
  console of "Cannot run the event loop while another loop is running" came
  from a ``run_until_complete`` in that thread in old jupyter_client; the
  launcher requires a version without it).  Stopping the client joins its
  threads, which takes up to a second: that runs in a worker thread, never on
  the loop.
* **No flood.**  The widget shows only what is typed in it (qtconsole's
  ``include_other_output``, off by default; the context menu turns it on).
  The bridge's comm (``tornado_launcher.engine.events``) is the launcher's: the
  client here has no comm manager, so it neither shows those messages nor
  answers an unknown comm with a ``comm_close`` that would close the bridge's.
* **Restarts.**  The window hands every ``KernelState`` to
  :meth:`ConsoleWidget.kernel_state`: a death, stop or restart is written in
  the console and the client let go; when the kernel is up again, the console
  attaches to the new connection file (new key, new sockets) and keeps its
  text.  Interrupt and restart (Ctrl+C / Ctrl+.) go through the session.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
from typing import Callable, Optional

os.environ.setdefault("QT_API", "pyside6")  # before qtpy is imported

from jupyter_client.threaded import ThreadedKernelClient  # noqa: E402
from qtconsole.client import QtKernelClient  # noqa: E402
from qtconsole.rich_jupyter_widget import RichJupyterWidget  # noqa: E402

from ..engine.events import KERNEL_READY, KernelState  # noqa: E402
from .logview import is_dark  # noqa: E402

log = logging.getLogger(__name__)

ConnectionFile = Callable[[], Optional[str]]


class LauncherKernelClient(QtKernelClient):
    """qtconsole's client without its comm manager: comms in our kernels are
    the bridge's, and qtconsole's manager would close a comm it does not know."""

    def start_channels(self, *args, **kw):  # noqa: D401 - as the base class
        ThreadedKernelClient.start_channels(self, *args, **kw)
        self.started_channels.emit()


class ConsoleWidget(RichJupyterWidget):
    """The console of kernel ``kernel``.

    ``connection_file()`` returns the running kernel's connection file (None
    while it is not running); ``interrupt`` / ``restart`` are called for
    qtconsole's interrupt and restart keys.  The console attaches on
    :meth:`activate` (its tab shown) and re-attaches after each restart.
    """

    def __init__(self, kernel: str, connection_file: ConnectionFile, *,
                 interrupt: Optional[Callable[[], object]] = None,
                 restart: Optional[Callable[[], object]] = None, parent=None) -> None:
        super().__init__(parent=parent, local_kernel=True)
        self.kernel = kernel
        self._connection_file = connection_file
        self._attached: Optional[str] = None
        self._active = False
        self._keep_text = False
        self._stopping: set = set()
        self.include_other_output = False
        self.custom_interrupt = True
        self.custom_restart = True
        if interrupt is not None:
            self.custom_interrupt_requested.connect(lambda: interrupt())
        if restart is not None:
            self.custom_restart_requested.connect(lambda: restart())
        self.set_default_style("linux" if is_dark(self.palette()) else "lightbg")
        self.setToolTip(f"IPython in kernel {kernel}: Tab completes, Shift+Enter runs, "
                        "Ctrl+C interrupts, Ctrl+. restarts")

    # ------------------------------------------------------------ attaching
    @property
    def attached(self) -> Optional[str]:
        """The connection file the console is attached to, or None."""
        return self._attached if self.kernel_client is not None else None

    def activate(self) -> None:
        """The user wants this console: attach now if the kernel runs."""
        self._active = True
        self._attach()

    def showEvent(self, event):  # noqa: N802 (Qt's name)
        super().showEvent(event)
        self.activate()

    def _attach(self) -> None:
        if not self._active:
            return
        path = self._connection_file()
        if path is None or (path == self._attached and self.kernel_client is not None):
            return
        self._detach()
        client = LauncherKernelClient(connection_file=path)
        try:
            client.load_connection_file()
            client.start_channels()
        except Exception as exc:  # noqa: BLE001 - shown in the console, not raised at the window
            log.warning("console %s: could not attach to %s: %s", self.kernel, path, exc)
            self._note(f"Could not connect to kernel {self.kernel}: {exc}")
            return
        reconnect = self._attached is not None
        self._keep_text = reconnect  # a reconnect keeps what was typed before
        self._attached = path
        self.kernel_client = client  # starts qtconsole's kernel_info / history requests
        if reconnect:
            self._note(f"Connected to the new kernel {self.kernel}.")

    def _detach(self) -> None:
        client = self.kernel_client
        if client is None:
            return
        self.kernel_client = None  # disconnects the widget from its signals first
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (closing at exit): stop here
            client.stop_channels()
            return
        # stop_channels joins the IOLoop and heartbeat threads (up to ~1 s):
        # off the loop
        fut = loop.run_in_executor(None, client.stop_channels)
        self._stopping.add(fut)
        fut.add_done_callback(self._stopping.discard)

    async def close_client(self) -> None:
        """Let go of the kernel and wait until the client's threads ended."""
        self._active = False
        self._detach()
        if self._stopping:
            await asyncio.gather(*list(self._stopping), return_exceptions=True)

    def reset(self, clear: bool = False) -> None:
        """qtconsole clears the text when channels start: not on a reconnect."""
        if self._keep_text:
            self._keep_text = False
            clear = False
        super().reset(clear=clear)

    def _dispatch(self, msg):
        # A message the old client's channel thread emitted before _detach
        # disconnected it is still delivered through Qt's queue: with no
        # client (or another one) qtconsole would read client.session of None.
        if self.kernel_client is None:
            return
        super()._dispatch(msg)

    # -------------------------------------------------------------- states
    def _note(self, text: str) -> None:
        self._append_html(f"<br><b>{html.escape(text)}</b><hr><br>", before_prompt=False)

    def kernel_state(self, event: KernelState) -> None:
        """A KernelState of this console's kernel (from the session)."""
        state = event.state
        if state in KERNEL_READY:
            self._attach()
            return
        if self.kernel_client is None:
            return
        if state == "dead":
            self._note(f"Kernel {self.kernel} died: {event.reason or 'no reason given'}")
        elif state == "restarting":
            self._note(f"Kernel {self.kernel} is restarting…")
        elif state == "stopped":
            self._note(f"Kernel {self.kernel} stopped.")
        elif state == "starting":
            self._note(f"Kernel {self.kernel} is starting…")
        else:
            return
        self._detach()
