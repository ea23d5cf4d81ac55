"""A server whose handler runs a child with tornado.process.Subprocess and waits for its exit
(Subprocess reaps children from a SIGCHLD handler it installs: the app's, inside the kernel)."""
import tornado.ioloop
import tornado.process
import tornado.web

from papps.common import args


class Main(tornado.web.RequestHandler):
    async def get(self):
        child = tornado.process.Subprocess(["sh", "-c", "exit 3"])
        status = await child.wait_for_exit(raise_error=False)
        self.write("child exited %s" % status)


def main():
    a = args()
    tornado.web.Application([(r"/", Main)]).listen(a.port, address="127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
