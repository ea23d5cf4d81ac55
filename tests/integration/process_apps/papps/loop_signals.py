"""A script: asyncio.run(main()), loop.add_signal_handler(SIGTERM, ...), cleanup after asyncio.run."""
import asyncio
import signal

from papps.common import application, args, note


async def main(a):
    application("loop_signals").listen(a.port, address="127.0.0.1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)  # RuntimeError in threaded mode before
    loop.add_signal_handler(signal.SIGHUP, stop.set)
    assert loop.remove_signal_handler(signal.SIGHUP)
    await stop.wait()
    note(a.out, "main-task-end")
    return 7


if __name__ == "__main__":
    a = args()
    result = asyncio.run(main(a))
    note(a.out, "asyncio.run-returned %s" % result)
