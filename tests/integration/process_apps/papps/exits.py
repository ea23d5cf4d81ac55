"""Apps that exit (``--how``): sys.exit in the main task, SystemExit from a callback,
os._exit from a callback, KeyboardInterrupt in a task."""
import asyncio
import os
import sys

from papps.common import application, args


async def main():
    a = args()
    application("exits").listen(a.port, address="127.0.0.1")
    await asyncio.sleep(0.3)
    loop = asyncio.get_running_loop()
    if a.how == "main":
        sys.exit(3)
    elif a.how == "callback":
        loop.call_soon(sys.exit, 4)
    elif a.how == "os_exit":
        loop.call_soon(os._exit, 5)
    elif a.how == "interrupt":
        async def interrupt():
            raise KeyboardInterrupt
        loop.create_task(interrupt())
    await asyncio.Event().wait()


def sync_main():
    """A synchronous main: IOLoop.start() returns once a callback stops the loop, then sys.exit(6)."""
    import tornado.ioloop

    a = args()
    application("exits").listen(a.port, address="127.0.0.1")
    loop = tornado.ioloop.IOLoop.current()
    loop.call_later(0.3, loop.stop)
    loop.start()
    sys.exit(6)
