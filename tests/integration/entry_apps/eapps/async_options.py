import asyncio
import logging

import tornado.web
from tornado.options import define, options, parse_command_line

define("port", default=8888, type=int, help="port to listen on")
define("label", default="async", help="what GET / says after the version")
VERSION = "v1"
# the app configures logging itself: its records still reach the app's log, not the kernel's
logging.basicConfig(level=logging.INFO, force=True)
logging.info("async_options %s imported", VERSION)


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s %s %d" % (VERSION, options.label, options.port))


async def main():
    parse_command_line()
    app = tornado.web.Application([(r"/", Main)])
    app.listen(options.port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
