"""The kernel-wide state the bridge's modules share, as named objects.

``kernel`` (the kernel's asyncio loop, its thread, the settings, whether the
bridge is installed), ``apps`` (name -> the current app of that name) and
``current_run`` (the run whose code is executing).
"""

import asyncio
import contextvars
import threading

import tornado.ioloop

#: The run (one start of one app) whose code is executing, if any.  Set in the
#: context every app callable runs in; asyncio handles and tasks copy it.
current_run = contextvars.ContextVar("tornado_launcher_run", default=None)

#: name -> app (the current one for that name)
apps = {}


class KernelState:
    """The kernel's loop and its thread (bound by ``install``), and the install settings."""

    def __init__(self):
        self.loop = None  # the kernel's asyncio loop
        self.thread = None  # its thread id
        self.settings = {"kernel": None, "project_dir": None}
        self.installed = False

    def bind_loop(self):
        """Take the running loop (the kernel's, the install cell runs on it) and this thread."""
        try:
            self.loop = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = tornado.ioloop.IOLoop.current().asyncio_loop
        self.thread = threading.get_ident()

    def call(self, fn, *args):
        """Run fn(*args) on the kernel's loop thread: now if we are on it, else soon."""
        if threading.get_ident() == self.thread:
            fn(*args)
        else:
            self.loop.call_soon_threadsafe(fn, *args)


kernel = KernelState()
