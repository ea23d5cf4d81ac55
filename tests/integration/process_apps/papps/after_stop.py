"""Voila's stop: its SIGTERM handler stops the IOLoop; after ``IOLoop.start()`` returns it runs a
coroutine to the end as jupyter_core's ``run_sync`` does (no loop running: ``run_until_complete``
on this thread's loop; a loop running: a task runner thread). The coroutine needs the app's loop
(a callback on it), as voila's ``kernel_manager.shutdown_all`` does."""
import asyncio
import concurrent.futures
import signal
import threading

import tornado.ioloop

from papps.common import application, args, note


def run_sync(coro):
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.get_event_loop().run_until_complete(coro)
    result = concurrent.futures.Future()

    def runner():
        result.set_result(asyncio.new_event_loop().run_until_complete(coro))
    threading.Thread(target=runner, daemon=True).start()
    return result.result()


def main():
    a = args()
    application("after_stop").listen(a.port, address="127.0.0.1")
    io = tornado.ioloop.IOLoop.current()

    async def shutdown():
        done = concurrent.futures.Future()
        io.add_callback(done.set_result, "shutdown done")
        return await asyncio.wrap_future(done)

    signal.signal(signal.SIGTERM, lambda signum, frame: io.add_callback_from_signal(io.stop))
    try:
        io.start()
    finally:
        note(a.out, run_sync(shutdown()))
        note(a.out, "finally")
