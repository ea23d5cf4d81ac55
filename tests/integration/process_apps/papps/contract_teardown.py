"""A Jaffle contract app (start/stop) whose start() blocks in IOLoop.start() and tears down in its
``finally`` (Kernel Gateway's ``KernelGatewayApp.start``: ``try: io_loop.start() ... finally:
self.stop()``).  Notes: "listening" once it listens, "interrupted" if a KeyboardInterrupt ends
its loop, "finally" when its teardown runs, "stop" when the launcher calls stop().
``--how=hang``: its stop() stops nothing (the loop never returns on its own)."""
import argparse

import tornado.ioloop

from papps.common import application, note


class TeardownApp:
    def __init__(self, argv):
        parser = argparse.ArgumentParser()
        parser.add_argument("--port", type=int)
        parser.add_argument("--out")
        parser.add_argument("--how", default="")
        self.args = parser.parse_args(argv)
        self.server = None

    def start(self):
        self.server = application("contract teardown").listen(self.args.port, address="127.0.0.1")
        self.io_loop = tornado.ioloop.IOLoop.current()
        note(self.args.out, "listening")
        try:
            self.io_loop.start()
        except KeyboardInterrupt:
            note(self.args.out, "interrupted")
        finally:
            note(self.args.out, "finally")
            self.server.stop()

    def stop(self):
        note(self.args.out, "stop")
        if self.args.how != "hang":
            self.io_loop.add_callback(self.io_loop.stop)
