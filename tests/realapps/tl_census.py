"""A second app in the corpus kernel (copied into each test project): GET / answers the kernel's
Python threads as JSON, so the harness can tell the threads an app left from native ones."""

import json
import sys
import threading

import tornado.web


class Threads(tornado.web.RequestHandler):
    def get(self):
        frames = sys._current_frames()
        out = []
        for t in threading.enumerate():
            f = frames.get(t.ident)
            where = f"{f.f_code.co_filename}:{f.f_lineno}" if f else ""
            out.append({"ident": t.ident, "name": t.name, "class": f"{type(t).__module__}.{type(t).__qualname__}",
                        "where": where})
        self.write(json.dumps(out))


def make_app():
    return tornado.web.Application([(r"/", Threads)])
