"""An app whose start() raises after it bound its port."""
from .plain import PlainApp


class FailingApp(PlainApp):
    def start(self):
        self.app = __import__("tapp.handlers").handlers.make_app("never")
        self.http_server = self.app.listen(self.args.port, "127.0.0.1")
        raise RuntimeError("start exploded on purpose")
