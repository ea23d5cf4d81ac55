"""Stops with asyncio's loop.stop() instead of IOLoop.stop()."""
import asyncio

from .plain import PlainApp


class AsyncioStopApp(PlainApp):
    def stop(self):
        def _stop():
            self.http_server.stop()
            asyncio.get_event_loop().stop()
        self.io_loop.add_callback(_stop)
