"""A Jaffle contract app (start/stop) whose callback calls sys.exit(2) once it serves."""
import argparse
import sys

import tornado.ioloop

from papps.common import application


class ExitingApp:
    def __init__(self, argv):
        parser = argparse.ArgumentParser()
        parser.add_argument("--port", type=int)
        parser.add_argument("--out")
        self.args = parser.parse_args(argv)

    def start(self):
        application("contract").listen(self.args.port, address="127.0.0.1")
        loop = tornado.ioloop.IOLoop.current()
        loop.call_later(0.3, sys.exit, 2)
        loop.start()

    def stop(self):
        loop = tornado.ioloop.IOLoop.current()
        loop.add_callback(loop.stop)
