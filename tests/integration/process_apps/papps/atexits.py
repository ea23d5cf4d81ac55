"""atexit registrations: two run at the app's stop, last first; one unregistered never runs."""
import atexit

import tornado.ioloop

from papps.common import application, args, note


def main():
    a = args()
    application("atexits").listen(a.port, address="127.0.0.1")
    atexit.register(note, a.out, "atexit-first")

    @atexit.register
    def second():
        note(a.out, "atexit-second")

    def never():
        note(a.out, "atexit-never")
    atexit.register(never)
    atexit.unregister(never)
    tornado.ioloop.IOLoop.current().start()
