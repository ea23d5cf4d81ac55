import asyncio

import tornado.web
from traitlets import Integer
from traitlets.config import Application

VERSION = "v1"


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s traitlets" % VERSION)


class WebApp(Application):
    port = Integer(8888).tag(config=True)
    aliases = {"port": "WebApp.port"}

    async def start(self):
        self.server = tornado.web.Application([(r"/", Main)]).listen(self.port, address="127.0.0.1")
        self._stopped = asyncio.Event()
        await self._stopped.wait()

    def stop(self):
        self.server.stop()
        self._stopped.set()
