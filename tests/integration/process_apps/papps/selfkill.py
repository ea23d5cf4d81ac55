"""An app that sends itself a signal: ``GET /term`` does ``os.kill(os.getpid(), SIGTERM)`` (no
handler: it ends, not the kernel); with ``--how=handler`` its own SIGTERM handler stops it."""
import os
import signal

import tornado.ioloop
import tornado.web

from papps.common import args, note


def main():
    a = args()
    loop = tornado.ioloop.IOLoop.current()

    class Term(tornado.web.RequestHandler):
        def get(self):
            self.write("sent")
            os.kill(os.getpid(), signal.SIGTERM)

    if a.how == "handler":
        signal.signal(signal.SIGTERM, lambda signum, frame: loop.add_callback_from_signal(loop.stop))
    tornado.web.Application([(r"/term", Term)]).listen(a.port, address="127.0.0.1")
    try:
        loop.start()
    finally:
        note(a.out, "finally")
