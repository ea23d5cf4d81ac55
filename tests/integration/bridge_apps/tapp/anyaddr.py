"""Listens on every address (0.0.0.0 and ::), as app.listen(port) does by default."""
from tornado import ioloop

from .handlers import make_app
from .plain import PlainApp


class AnyAddressApp(PlainApp):
    def start(self):
        self.http_server = make_app("any").listen(self.args.port)
        self.io_loop = ioloop.IOLoop.current()
        self.io_loop.start()
