"""Threads an app starts and never ends (flower's ``flower.events.Events``: a daemon thread that
catches every Exception, and SystemExit too, and retries for ever).

Threads: ``stubborn-retry`` (Python code, catches Exception, KeyboardInterrupt and SystemExit and
goes on), ``stubborn-blocked`` (``--how=blocked``: waits in a C call, a lock nobody releases),
``stubborn-polite`` (ends when the app's teardown tells it to).  Notes: "listening", "finally",
"retry left" if the retrying thread's loop was left (it never is on its own).
"""
import asyncio
import threading
import time

from papps.common import application, args, note


def retry(out):
    try:
        while True:
            try:
                time.sleep(0.05)
            except (KeyboardInterrupt, SystemExit):
                continue  # flower: _thread.interrupt_main(), then round again
            except Exception:
                continue
    finally:
        note(out, "retry left")


async def serve(a):
    polite = threading.Event()
    threading.Thread(target=retry, args=(a.out,), name="stubborn-retry", daemon=True).start()
    if a.how == "blocked":
        lock = threading.Lock()
        lock.acquire()
        threading.Thread(target=lock.acquire, name="stubborn-blocked", daemon=True).start()
    threading.Thread(target=polite.wait, name="stubborn-polite", daemon=True).start()
    application("stubborn").listen(a.port, address="127.0.0.1")
    note(a.out, "listening")
    try:
        await asyncio.Event().wait()
    finally:
        polite.set()
        note(a.out, "finally")


def main():
    a = args()
    asyncio.run(serve(a))
