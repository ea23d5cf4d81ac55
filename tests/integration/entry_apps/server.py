"""A script as people write them: helpers next to it, argv, asyncio.run at the bottom."""
import asyncio
import sys

import script_helper
import tornado.web

VERSION = "v1"


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s script %s" % (VERSION, script_helper.WORD))


async def main(port):
    tornado.web.Application([(r"/", Main)]).listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
