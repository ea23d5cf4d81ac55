"""A main whose start imports for 3 s (jupyter_server's start imports ~400 modules: 1.5 s here,
more under load) before its blocking call: slow, not stuck."""
import importlib

import tornado.ioloop

from papps.common import application, args


def main():
    a = args()
    importlib.import_module("papps.slow_module")  # a project module: imported afresh on each restart
    application("slow import").listen(a.port, address="127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
