"""Issue 25.3: an app that also listens outside Tornado's HTTP server: an asyncio TCP
echo service (``asyncio.start_server``) and a raw ``loop.create_server`` one.

argv: HTTP_PORT ECHO_PORT RAW_PORT.
"""
import asyncio
import sys

import tornado.web

VERSION = "v1"


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("%s listener" % VERSION)


async def echo(reader, writer):
    data = await reader.readline()
    writer.write(VERSION.encode() + b" " + data)
    await writer.drain()
    writer.close()


class Raw(asyncio.Protocol):
    def connection_made(self, transport):
        transport.write(b"raw " + VERSION.encode() + b"\n")
        transport.close()


async def main():
    http, echo_port, raw_port = (int(a) for a in sys.argv[1:4])
    tornado.web.Application([(r"/", Main)]).listen(http, address="127.0.0.1")
    await asyncio.start_server(echo, "127.0.0.1", echo_port)
    await asyncio.get_running_loop().create_server(Raw, "127.0.0.1", raw_port)
    await asyncio.Event().wait()
