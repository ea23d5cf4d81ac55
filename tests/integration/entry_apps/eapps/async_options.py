import asyncio

import tornado.web
from tornado.options import define, options, parse_command_line

define("port", default=8888, type=int, help="port to listen on")
define("label", default="async", help="what GET / says after the version")
VERSION = "v1"


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
