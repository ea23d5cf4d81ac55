"""A main that spins before its blocking call (once ``OUT/spin`` exists): the kernel's
Interrupt must reach it."""
import os
import time

import tornado.ioloop

from papps.common import application, args, note


def main():
    a = args()
    application("spin").listen(a.port, address="127.0.0.1")
    if not os.path.exists(os.path.join(a.out, "spin")):
        tornado.ioloop.IOLoop.current().start()
        return
    note(a.out, "spinning")
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            pass
    except Exception as exc:
        note(a.out, "interrupted %s" % type(exc).__name__)
        raise
    tornado.ioloop.IOLoop.current().start()
