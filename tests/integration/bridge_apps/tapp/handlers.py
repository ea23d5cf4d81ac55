import logging
import threading

from tornado import web

log = logging.getLogger("tapp.handlers")


class HelloHandler(web.RequestHandler):
    def initialize(self, message):
        self.message = message

    def get(self):
        self.write(self.message)


class PrintHandler(web.RequestHandler):
    """Prints and logs ``msg``, on the loop and from a thread it starts."""

    def get(self):
        msg = self.get_argument("msg")
        print("printed " + msg)
        log.info("logged %s", msg)
        t = threading.Thread(target=lambda: print("thread-printed " + msg))
        t.start()
        t.join()
        self.write("ok")


class FloodHandler(web.RequestHandler):
    """Prints ``n`` lines at once."""

    def get(self):
        n = int(self.get_argument("n"))
        for i in range(n):
            print("flood line %d" % i)
        self.write("flooded")


class BlockHandler(web.RequestHandler):
    """Blocks its loop (a bug a user's app may have)."""

    def get(self):
        import time
        time.sleep(float(self.get_argument("seconds")))
        self.write("unblocked")


class SlowHandler(web.RequestHandler):
    """Answers after ``seconds`` without blocking its loop (a request in flight during a restart)."""

    async def get(self):
        import asyncio
        log.info("slow request started")
        await asyncio.sleep(float(self.get_argument("seconds")))
        self.write("slept")


class FailHandler(web.RequestHandler):
    def get(self):
        raise RuntimeError("boom in handler")


def make_app(message, **settings):
    return web.Application([
        (r"/", HelloHandler, {"message": message}),
        (r"/print", PrintHandler),
        (r"/fail", FailHandler),
        (r"/flood", FloodHandler),
        (r"/block", BlockHandler),
        (r"/slow", SlowHandler),
    ], **settings)
