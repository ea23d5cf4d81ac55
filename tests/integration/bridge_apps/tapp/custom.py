"""A user's bridge subclass written for Jaffle: imports from jaffle.app.tornado."""
from jaffle.app.tornado import TornadoBridgeApp


class CustomBridge(TornadoBridgeApp):
    def make_app(self, cls):
        self.log.info("custom make_app for %s", self.name)
        return cls(["--port", str(self.spec["custom_port"]), "--message", "custom"])
