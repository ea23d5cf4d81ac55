import argparse

import tornado.ioloop
import tornado.web

VERSION = "v1"


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s sync" % VERSION)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = tornado.web.Application([(r"/", Main)])
    app.listen(args.port, address="127.0.0.1")
    tornado.ioloop.PeriodicCallback(lambda: None, 50).start()
    tornado.ioloop.IOLoop.current().start()
