"""An app whose stop() raises."""
from .plain import PlainApp


class BadStopApp(PlainApp):
    def stop(self):
        raise ValueError("stop exploded on purpose")
