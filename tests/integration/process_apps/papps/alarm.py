"""signal.alarm inside the kernel: SIGALRM goes to the app (its handler, ``--how=handler``), or
ends the app (no handler), never the kernel."""
import signal

import tornado.ioloop

from papps.common import application, args, note


def main():
    a = args()
    application("alarm").listen(a.port, address="127.0.0.1")
    if a.how == "handler":
        signal.signal(signal.SIGALRM, lambda signum, frame: note(a.out, "alarm %d" % signum))
    assert signal.alarm(1) == 0
    try:
        tornado.ioloop.IOLoop.current().start()
    finally:
        note(a.out, "finally")
