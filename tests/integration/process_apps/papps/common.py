"""What every process app shares: argv, a note file, a handler that answers its name."""
import argparse
import os
import threading

import tornado.web


def args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--how", default="")
    return parser.parse_args()


def note(out, what):
    """Append ``what`` and the thread it ran on to ``out/notes``."""
    with open(os.path.join(out, "notes"), "a") as f:
        f.write("%s|%s\n" % (what, threading.current_thread().name))


def application(word):
    class Main(tornado.web.RequestHandler):
        def get(self):
            self.write(word)
    return tornado.web.Application([(r"/", Main)])
