"""Issue 25.4: an app that adds a handler to the root logger and removes it itself at its end,
as mitmproxy's ``Master`` does (``LegacyLogEvents``: installed in ``__init__``, uninstalled in
``done()`` after its SIGTERM handler set ``should_exit``).  The handler ships records through
the app's loop, so once that loop is closed (threaded mode) any record logged through it raises
``RuntimeError: Event loop is closed`` in whoever logs.

argv: PORT.  GET / logs one line.
"""
import asyncio
import logging
import signal
import sys

import tornado.web

log = logging.getLogger("b_ownlog")


class LoopHandler(logging.Handler):
    def __init__(self, loop):
        super().__init__()
        self.loop = loop

    def emit(self, record):
        self.loop.call_soon_threadsafe(lambda: None)  # no try: as mitmproxy's, an error reaches the caller


class Main(tornado.web.RequestHandler):
    def get(self):
        log.warning("b_ownlog served")
        self.write("ownlog")


async def main():
    loop = asyncio.get_running_loop()
    handler = LoopHandler(loop)
    logging.getLogger().addHandler(handler)
    should_exit = asyncio.Event()
    signal.signal(signal.SIGTERM, lambda *_: loop.call_soon_threadsafe(should_exit.set))
    tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), address="127.0.0.1")
    try:
        await should_exit.wait()
    finally:
        logging.getLogger().removeHandler(handler)  # its own teardown: the handler is gone
