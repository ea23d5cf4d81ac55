"""A plain class that takes argv in __init__ (no traitlets)."""
import argparse

from tornado import ioloop

from .handlers import make_app


class PlainApp:
    def __init__(self, argv):
        parser = argparse.ArgumentParser()
        parser.add_argument("--port", type=int, required=True)
        parser.add_argument("--message", default="plain")
        parser.add_argument("--debug", action="store_true")
        self.args = parser.parse_args(argv)

    def start(self):
        self.app = make_app(self.args.message, debug=self.args.debug)
        self.http_server = self.app.listen(self.args.port, "127.0.0.1")
        self.io_loop = ioloop.IOLoop.current()
        self.io_loop.start()

    def stop(self):
        def _stop():
            self.http_server.stop()
            self.io_loop.stop()
        self.io_loop.add_callback(_stop)
