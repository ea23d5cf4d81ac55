"""No signal handler: teardown in `with`/finally after the blocking call, the loop closed at the end.

``--how``: ``start`` (IOLoop.start), ``forever`` (run_until_complete + run_forever), ``run_sync``.
"""
import asyncio
import contextlib

import tornado.ioloop

from papps.common import application, args, note


@contextlib.contextmanager
def resource(out):
    note(out, "enter")
    try:
        yield
    finally:
        note(out, "exit")


async def listen(a):
    application("teardown " + a.how).listen(a.port, address="127.0.0.1")


def main():
    a = args()
    with resource(a.out):
        try:
            if a.how == "forever":
                loop = asyncio.get_event_loop()
                loop.run_until_complete(listen(a))
                note(a.out, "listening")
                loop.run_forever()
            elif a.how == "run_sync":
                async def serve():
                    await listen(a)
                    note(a.out, "listening")
                    await asyncio.Event().wait()
                tornado.ioloop.IOLoop.current().run_sync(serve)
            else:
                tornado.ioloop.IOLoop.current().run_sync(lambda: listen(a))
                note(a.out, "listening")
                tornado.ioloop.IOLoop.current().start()
        except KeyboardInterrupt:
            note(a.out, "KeyboardInterrupt")
        finally:
            note(a.out, "finally")
    tornado.ioloop.IOLoop.current().close()
    asyncio.get_event_loop().close()
    note(a.out, "closed")
