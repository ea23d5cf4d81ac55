import tornado.web

VERSION = "v1"


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s factory" % VERSION)


def make_app():
    return tornado.web.Application([(r"/", Main)])
