"""A SIGTERM handler that does not stop anything, and a teardown that never ends."""
import signal
import threading

import tornado.ioloop

from papps.common import application, args, note


def main():
    a = args()
    application("stuck").listen(a.port, address="127.0.0.1")
    signal.signal(signal.SIGTERM, lambda signum, frame: note(a.out, "sigterm ignored"))
    try:
        tornado.ioloop.IOLoop.current().start()
    finally:
        note(a.out, "teardown blocks")
        threading.Event().wait()
