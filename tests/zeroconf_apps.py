"""Tornado apps as people write them, in each style `tornado-launcher run` / `init` read
(issue 23): no jaffle.hcl, the launcher finds how each one starts."""

from pathlib import Path

#: a script: `python server.py`, asyncio.run(main()), tornado.options port
SCRIPT = '''\
import asyncio

import tornado.web
from tornado.options import define, options

define("port", default={port}, type=int)


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("script v1")


async def main():
    options.parse_command_line()
    tornado.web.Application([(r"/", Main)]).listen(options.port, "127.0.0.1")
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main())
'''

#: a module with a sync main(): tornado.options, IOLoop.current().start()
SYNC_MAIN = '''\
import tornado.ioloop
import tornado.web
from tornado.options import define, options, parse_command_line

define("port", default={port}, type=int)


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("main v1")


def main():
    parse_command_line()
    tornado.web.Application([(r"/", Main)]).listen(options.port, "127.0.0.1")
    tornado.ioloop.IOLoop.current().start()
'''

#: a module with an Application factory (the launcher listens: --port); its handlers elsewhere
FACTORY = '''\
import tornado.web

from handlers import Main

PORT = {port}


def make_app():
    app = tornado.web.Application([(r"/", Main)])
    return app
'''
HANDLERS = '''\
import tornado.web


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("factory v1")
'''


def write(root: Path, files: dict) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


def project(root: Path, *, script_port=None, main_port=None, factory_port=None) -> Path:
    """A folder with the styles asked for (each on its own default port)."""
    files = {}
    if script_port:
        files["server.py"] = SCRIPT.format(port=script_port)
    if main_port:
        files["syncapp.py"] = SYNC_MAIN.format(port=main_port)
    if factory_port:
        files["webapp.py"] = FACTORY.format(port=factory_port)
        files["handlers.py"] = HANDLERS
    return write(root, files)
