import tornado.web

VERSION = "v1"


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s subclass" % VERSION)


class WebApp(tornado.web.Application):
    def __init__(self):
        super().__init__([(r"/", Main)])
