"""The reference's ExampleApp contract, as a traitlets Application."""
from tornado import httpserver, ioloop
from traitlets import Integer, Unicode
from traitlets.config import Application

from .handlers import make_app


class ExampleApp(Application):
    port = Integer(8888).tag(config=True)
    message = Unicode("hello").tag(config=True)
    aliases = {"port": "ExampleApp.port", "message": "ExampleApp.message"}

    def start(self):
        self.http_server = httpserver.HTTPServer(make_app(self.message))
        self.http_server.listen(self.port, "127.0.0.1")
        self.log.info("ExampleApp listening on %d", self.port)
        self.io_loop = ioloop.IOLoop.current()
        try:
            self.io_loop.start()
        except KeyboardInterrupt:
            self.log.info("Interrupt")

    def stop(self):
        def _stop():
            self.http_server.stop()
            self.io_loop.stop()
        self.io_loop.add_callback(_stop)
