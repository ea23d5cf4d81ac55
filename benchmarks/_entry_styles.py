"""The apps of ``engine.py``'s per-style restart rows (issue 10): one app per entry style,
each answering ``"<style> boot=<id>"``, ``boot`` new on every import (so a restart's
new app is recognisable), all in one module as people write them."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple

STYLES_PY = '''\
import argparse
import asyncio
import binascii
import os

import tornado.ioloop
import tornado.web
from tornado.options import define, options, parse_command_line
from traitlets import Integer
from traitlets.config import Application as TraitletsApplication

define("port", default=8888, type=int)
BOOT = binascii.hexlify(os.urandom(6)).decode()


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s boot=%s" % (self.settings.get("style", "?"), BOOT))


def application(style):
    return tornado.web.Application([(r"/", Main)], style=style)


async def async_main():
    parse_command_line()
    application("async_main").listen(options.port, address="127.0.0.1")
    await asyncio.Event().wait()


def sync_main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int)
    application("sync_main").listen(parser.parse_args().port, address="127.0.0.1")
    tornado.ioloop.IOLoop.current().start()


def make_app():
    return application("factory")


class WebApp(tornado.web.Application):
    def __init__(self):
        super().__init__([(r"/", Main)], style="subclass")


instance = application("instance")


class TraitletsApp(TraitletsApplication):
    port = Integer(8888).tag(config=True)
    aliases = {"port": "TraitletsApp.port"}

    async def start(self):
        self.server = application("traitlets").listen(self.port, address="127.0.0.1")
        self._stopped = asyncio.Event()
        await self._stopped.wait()

    def stop(self):
        self.server.stop()
        self._stopped.set()
'''

SERVER_PY = '''\
import asyncio
import sys

from bstyles.styles import application

if __name__ == "__main__":
    async def main(port):
        application("script").listen(port, address="127.0.0.1")
        await asyncio.Event().wait()

    asyncio.run(main(int(sys.argv[1])))
'''

#: style -> the options block's lines ({port} filled in)
STYLES: Dict[str, str] = {
    "async main()": 'main = "bstyles.styles:async_main"\n    argv = ["--port={port}"]',
    "sync main() + IOLoop.start()": 'main = "bstyles.styles.sync_main"\n    argv = ["--port={port}"]',
    "make_app() factory": 'app_class = "bstyles.styles.make_app"\n    port = {port}',
    "Application subclass": 'app_class = "bstyles.styles.WebApp"\n    port = {port}',
    "Application instance": 'app_class = "bstyles.styles.instance"\n    port = {port}',
    "script (asyncio.run)": 'script = "server.py"\n    argv = ["{port}"]',
    "traitlets, async start()": 'app_class = "bstyles.styles.TraitletsApp"\n    argv = ["--port={port}"]',
}


def write_styles_project(root: Path, ports: Dict[str, int]) -> Tuple[Path, Dict[str, str]]:
    """The project and its jaffle.hcl (one app per style); returns (config, style -> app name)."""
    (root / "bstyles").mkdir(parents=True, exist_ok=True)
    (root / "bstyles" / "__init__.py").write_text("")
    (root / "bstyles" / "styles.py").write_text(STYLES_PY)
    (root / "server.py").write_text(SERVER_PY)
    names = {style: "s%d" % i for i, style in enumerate(STYLES)}
    blocks = ['kernel "py_kernel" {}\n']
    for style, options in STYLES.items():
        blocks.append(f'app "{names[style]}" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n'
                      f'  kernel = "py_kernel"\n  start  = "{names[style]}.start()"\n'
                      f'  options {{\n    {options.format(port=ports[style])}\n  }}\n}}\n')
    (root / "jaffle.hcl").write_text("\n".join(blocks))
    return root / "jaffle.hcl", names
