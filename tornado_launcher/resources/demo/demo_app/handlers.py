"""Request handlers. Edit GREETING and save: the launcher serves the new text at once."""

import logging
import time

import tornado.web

log = logging.getLogger(__name__)

GREETING = "Hello from a Tornado app running inside an IPython kernel!"
STARTED = time.time()


class MainHandler(tornado.web.RequestHandler):
    def get(self):
        self.application.hits += 1
        log.info("page served (%d so far)", self.application.hits)
        self.write(
            "<!doctype html><title>tornado-launcher demo</title>"
            f"<h1>{GREETING}</h1>"
            f"<p>{self.application.name}: {self.application.hits} hits since the last restart.</p>"
        )


class StatusHandler(tornado.web.RequestHandler):
    def get(self):
        self.write({"app": self.application.name, "greeting": GREETING,
                    "hits": self.application.hits, "uptime": round(time.time() - STARTED, 3)})
