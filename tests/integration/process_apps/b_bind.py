"""Issue 18.5: an app that binds its sockets itself, as some frameworks' servers do.

``bound``: ``tornado.netutil.bind_sockets`` + ``HTTPServer.add_sockets``; ``started``:
``HTTPServer.bind`` + ``start()``; ``raw``: a ``socket.socket()`` bound and listening, handed
to ``add_sockets``.  argv: PORT.  GET / says which, with VERSION.
"""
import socket
import sys

import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web

VERSION = "v1"


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s %s" % (VERSION, self.application.settings["how"]))


def bound():
    sockets = tornado.netutil.bind_sockets(int(sys.argv[1]), "127.0.0.1")
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Main)], how="bound"))
    server.add_sockets(sockets)
    tornado.ioloop.IOLoop.current().start()


def started():
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Main)], how="started"))
    server.bind(int(sys.argv[1]), address="127.0.0.1")
    server.start(1)
    tornado.ioloop.IOLoop.current().start()


def raw():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen(128)
    sock.setblocking(False)
    server = tornado.httpserver.HTTPServer(tornado.web.Application([(r"/", Main)], how="raw"))
    server.add_sockets([sock])
    tornado.ioloop.IOLoop.current().start()
