"""Issue 25.5: an app whose main listens only after an await (it connects somewhere first),
and a worker that never listens.  argv: PORT DELAY."""
import asyncio
import sys

import tornado.web


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("late")


async def main():
    port, delay = int(sys.argv[1]), float(sys.argv[2])
    await asyncio.sleep(delay)
    tornado.web.Application([(r"/", Main)]).listen(port, address="127.0.0.1")
    await asyncio.Event().wait()


async def worker():
    while True:
        await asyncio.sleep(0.1)
