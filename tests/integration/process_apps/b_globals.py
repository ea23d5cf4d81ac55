"""Issue 25.4: an app that changes process-wide state and never undoes it.

argv: PORT.  At start: a handler on the root logger tied to the app's loop (as an async
log shipper is), a named logger's level, a dictConfig'd logger, a ``warnings`` filter,
``sys.excepthook``, ``threading.excepthook``, a ``sys.path`` entry, an ``os.environ`` key.
Each GET / logs one line.
"""
import asyncio
import logging
import logging.config
import os
import sys
import threading
import warnings

import tornado.web

log = logging.getLogger("b_globals")


class LoopHandler(logging.Handler):
    """Ships records through the app's loop (like an async log shipper)."""

    def __init__(self, loop):
        super().__init__()
        self.loop = loop

    def emit(self, record):
        self.loop.call_soon_threadsafe(lambda: None)


class Main(tornado.web.RequestHandler):
    def get(self):
        log.warning("b_globals served")
        self.write("globals")


def hook(*args):
    pass


async def main():
    logging.getLogger().addHandler(LoopHandler(asyncio.get_running_loop()))
    logging.getLogger().addHandler(logging.StreamHandler())  # prints each record once more
    logging.getLogger("b_globals.noisy").setLevel(logging.CRITICAL)
    logging.config.dictConfig({"version": 1, "disable_existing_loggers": False,
                               "loggers": {"b_globals.configured": {"level": "ERROR"}}})
    warnings.filterwarnings("ignore", message="b_globals filter")
    sys.excepthook = hook
    threading.excepthook = hook
    sys.path.append("/nonexistent/b_globals")
    os.environ["B_GLOBALS"] = "set"
    os.environ.setdefault("B_GLOBALS_ONCE", "1")  # set by the first run only: a restart keeps it
    tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), address="127.0.0.1")
    await asyncio.Event().wait()
