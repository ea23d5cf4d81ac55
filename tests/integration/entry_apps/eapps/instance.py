import tornado.web

VERSION = "v1"


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s instance" % VERSION)


application = tornado.web.Application([(r"/", Main)])
