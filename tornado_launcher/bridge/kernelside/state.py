"""The kernel-wide state the bridge's modules share, as named objects.

``kernel`` (the kernel's asyncio loop, its thread, the settings, whether the
bridge is installed), ``apps`` (name -> the current app of that name) and
``current_run`` (the run whose code is executing), ``current_scope`` (the
entry-point scope of that run, for ``main`` / ``script`` / Application apps).
"""

import asyncio
import contextvars
import threading

import tornado.ioloop

#: The run (one start of one app) whose code is executing, if any.  Set in the
#: context every app callable runs in; asyncio handles and tasks copy it.
current_run = contextvars.ContextVar("tornado_launcher_run", default=None)

#: The :class:`~.scope.AppScope` whose code is executing (an app started from its own
#: entry point), if any.  Set in the scope's context; threads the app starts carry it.
scope_var = contextvars.ContextVar("tornado_launcher_entry_scope", default=None)


def current_scope():
    """The scope whose code is running here: by context, else by the thread the app started."""
    scope = scope_var.get()
    if scope is None:
        scope = getattr(threading.current_thread(), "_tl_entry_scope", None)
    return scope


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
