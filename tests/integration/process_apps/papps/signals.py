"""A server that stops gracefully on SIGTERM (signal.signal), with teardown after IOLoop.start().
``--how=exit``: its handler calls sys.exit(0) instead (raised where its main blocks)."""
import signal
import sys

import tornado.ioloop

from papps.common import application, args, note


def main():
    a = args()
    app = application("signals")
    server = app.listen(a.port, address="127.0.0.1")
    loop = tornado.ioloop.IOLoop.current()

    def on_term(signum, frame):
        note(a.out, "sigterm %d" % signum)
        if a.how == "exit":
            sys.exit(0)
        loop.add_callback_from_signal(shutdown)

    def shutdown():
        server.stop()
        loop.stop()

    previous = signal.signal(signal.SIGTERM, on_term)  # ValueError in threaded mode before
    signal.signal(signal.SIGINT, on_term)
    note(a.out, "installed previous=%s mine=%s" % (previous, signal.getsignal(signal.SIGTERM) is on_term))
    signal.set_wakeup_fd(-1)
    try:
        loop.start()
        note(a.out, "after-start")
    finally:
        note(a.out, "finally")
