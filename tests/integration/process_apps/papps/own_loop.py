"""A main that makes and sets an event loop of its own before it serves, as jupyter_core's
``JupyterApp.launch_instance`` does (``ensure_event_loop()``: no loop running, so a new one)."""
import asyncio

import tornado.ioloop

from papps.common import application, args, note


def main():
    a = args()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    application("own_loop").listen(a.port, address="127.0.0.1")
    note(a.out, "listening")
    try:
        tornado.ioloop.IOLoop.current().start()
    except KeyboardInterrupt:
        note(a.out, "KeyboardInterrupt")
    finally:
        note(a.out, "finally")
    loop.close()
