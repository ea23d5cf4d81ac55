"""A server whose main runs through Python 3.11's ``asyncio.Runner`` (as dask's scheduler does):
``with asyncio.Runner() as runner: runner.run(serve())``, teardown after it.

``--how=get_loop``: it asks ``runner.get_loop()`` first and serves on it (``run_until_complete``
of a coroutine that listens, then ``runner.run`` of one that waits)."""
import asyncio

from papps.common import application, args, note


async def serve(a, listen=True):
    if listen:
        application("runner " + (a.how or "run")).listen(a.port, address="127.0.0.1")
    note(a.out, "listening")
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        note(a.out, "cancelled")
        raise


def main():
    a = args()
    try:
        with asyncio.Runner() as runner:
            if a.how == "get_loop":
                loop = runner.get_loop()
                note(a.out, "get_loop running=%s" % (loop is asyncio.get_event_loop()))
                loop.call_soon(application("runner get_loop").listen, a.port, "127.0.0.1")
                runner.run(serve(a, listen=False))
            else:
                runner.run(serve(a))
    except KeyboardInterrupt:
        note(a.out, "KeyboardInterrupt")
    finally:
        note(a.out, "finally")
