"""An app whose stop() never stops anything."""
from .plain import PlainApp


class HangStopApp(PlainApp):
    def stop(self):
        print("stop called; ignoring it")
