"""A handler that forks a multiprocessing child (fork start method) that exits with status 3:
the child's os._exit (multiprocessing's own) must end the child, not raise in a copy of the kernel."""
import multiprocessing
import sys

import tornado.ioloop
import tornado.web

from papps.common import args


class Main(tornado.web.RequestHandler):
    def get(self):
        child = multiprocessing.get_context("fork").Process(target=sys.exit, args=(3,))
        child.start()
        child.join(10)
        self.write("child exit code %s" % child.exitcode)


def main():
    a = args()
    tornado.web.Application([(r"/", Main)]).listen(a.port, address="127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
