"""Issue 25.4: a well-behaved app that logs one line per request (the victim of b_globals)."""
import asyncio
import logging
import sys

import tornado.web

log = logging.getLogger("b_logs")


class Main(tornado.web.RequestHandler):
    def get(self):
        log.warning("b_logs served %s", self.get_argument("n", "-"))
        self.write("logs")


async def main():
    tornado.web.Application([(r"/", Main)]).listen(int(sys.argv[1]), address="127.0.0.1")
    await asyncio.Event().wait()
