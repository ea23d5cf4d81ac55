"""The demo app, written to the reference's start()/stop() contract.

It is a traitlets Application (as in Jaffle's example): the launcher creates
it bare and calls ``initialize(argv)``, then ``start()``; ``stop()`` asks the
IOLoop to close the server and stop from a callback.
"""

import tornado.httpserver
import tornado.ioloop
import tornado.web
from traitlets import Integer, Unicode
from traitlets.config import Application

from . import handlers


class DemoApp(Application):
    name = Unicode("demo").tag(config=True)
    port = Integer(8765, help="port to listen on").tag(config=True)
    address = Unicode("127.0.0.1", help="address to listen on").tag(config=True)
    aliases = {"port": "DemoApp.port", "address": "DemoApp.address", "name": "DemoApp.name"}

    def start(self):
        web = tornado.web.Application([
            (r"/", handlers.MainHandler),
            (r"/status", handlers.StatusHandler),
        ])
        web.hits = 0
        web.name = self.name
        self.http_server = tornado.httpserver.HTTPServer(web)
        self.http_server.listen(self.port, address=self.address)
        self.log.info("demo listening on http://%s:%d/", self.address, self.port)
        self.io_loop = tornado.ioloop.IOLoop.current()
        try:
            self.io_loop.start()
        except KeyboardInterrupt:
            self.log.info("Interrupt")

    def stop(self):
        def _stop():
            self.http_server.stop()
            self.io_loop.stop()

        self.io_loop.add_callback(_stop)
