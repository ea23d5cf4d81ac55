"""Multi-process starts: HTTPServer.start(n) and fork_processes (``--how``)."""
import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.process

from papps.common import application, args, note


def main():
    a = args()
    note(a.out, "started")
    if a.how == "fork":
        sockets = tornado.netutil.bind_sockets(a.port, "127.0.0.1", reuse_port=True)
        tornado.process.fork_processes(0)
        server = tornado.httpserver.HTTPServer(application("multiproc"))
        server.add_sockets(sockets)
    else:
        server = tornado.httpserver.HTTPServer(application("multiproc"))
        server.bind(a.port, "127.0.0.1")
        server.start(int(a.how or 0))
    note(a.out, "forked")
    tornado.ioloop.IOLoop.current().start()
