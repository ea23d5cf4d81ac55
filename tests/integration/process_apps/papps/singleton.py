"""A traitlets Application started as Jupyter's servers are: ``WebApp.launch_instance()``."""
import tornado.ioloop
from traitlets import Integer, Unicode
from traitlets.config import Application

from papps.common import application, note


class WebApp(Application):
    port = Integer(0).tag(config=True)
    out = Unicode("").tag(config=True)
    aliases = {"port": "WebApp.port", "out": "WebApp.out"}

    def start(self):
        same = Application.instance() is self and WebApp.initialized()
        note(self.out, "instance-is-mine %s" % same)
        application("singleton").listen(self.port, address="127.0.0.1")
        tornado.ioloop.IOLoop.current().start()


main = WebApp.launch_instance
