"""Records out of the kernel: one queue, one sender thread, batches on the comm.

Log records are batched (one message per :data:`BATCH_WINDOW` during a flood;
the first after a quiet spell goes at once); a settled state is sent at once
with what is queued before it.  :func:`emit` may be called from any thread
and never blocks.
"""

import queue
import threading
import time
import traceback

from .. import protocol

BATCH_WINDOW = 0.015  # seconds the sender waits to fill a batch of log records (state records go at once)
BATCH_MAX = 500  # records per comm message
QUEUE_MAX = 20000  # records waiting; beyond that they are counted and dropped

_FLUSH = object()  # in the queue after a record that must not wait for the batch window


class Outbox:
    """The queue of records, how many were dropped, the comm, and the thread that sends them."""

    def __init__(self):
        self.queue = queue.Queue(maxsize=QUEUE_MAX)
        self.dropped = 0
        self.comm = None

    def emit(self, record, urgent=False):
        """Queue one record for the sender thread.  Never blocks, never raises.

        ``urgent``: send it (with what is queued before it) at once instead of
        within the batch window: the settled states a caller waits for.
        """
        try:
            self.queue.put_nowait(record)
        except queue.Full:
            self.dropped += 1
            return
        if urgent:
            try:
                self.queue.put_nowait(_FLUSH)
            except queue.Full:
                pass

    def start_sender(self):
        threading.Thread(target=self._sender_main, name="tornado-launcher-events", daemon=True).start()

    def _sender_main(self):
        """Send queued records in batches, in order.

        An urgent record (a settled state: running, failed, stopped) is sent at
        once with whatever is queued before it; so is the first log record after a
        quiet spell.  Otherwise records wait up to BATCH_WINDOW after the previous
        send, so a log flood costs one comm message per window.  The transitional
        states of a restart (stopping, starting) ride along with its final one:
        nothing is sent while the kernel's loop is busy restarting.
        """
        q = self.queue
        last_send = 0.0
        while True:
            first = q.get()
            if first is _FLUSH:
                continue
            batch = [first]
            urgent = False
            # after a quiet spell the deadline has passed: a log record goes at once
            deadline = last_send + BATCH_WINDOW
            if first.get("type") != protocol.LOG:
                deadline = max(deadline, time.monotonic() + BATCH_WINDOW)
            while len(batch) < BATCH_MAX:
                remaining = 0 if urgent else deadline - time.monotonic()
                try:
                    record = q.get(timeout=remaining) if remaining > 0 else q.get_nowait()
                except queue.Empty:
                    break
                if record is _FLUSH:
                    urgent = True  # send up to here without waiting for the window
                    continue
                batch.append(record)
            if self.dropped:
                n, self.dropped = self.dropped, 0
                batch.append(log_record(None, "WARNING",
                                        "tornado-launcher: %d log records dropped (too many at once)" % n))
            comm = self.comm
            if comm is None:
                continue
            try:
                comm.send(protocol.batch(batch))
            except Exception:
                pass  # kernel shutting down: nothing to tell anyone
            last_send = time.monotonic()


outbox = Outbox()
emit = outbox.emit


def log_record(app, level, message, logger="tornado_launcher", traceback_text=None, origin="bridge", when=None):
    return protocol.log_record(app, level, message, logger, time.time() if when is None else when,
                               traceback_text, origin)


def kernel_log(level, message, traceback_text=None):
    emit(log_record(None, level, message, traceback_text=traceback_text))


def one_line(exc):
    text = "%s: %s" % (type(exc).__name__, exc) if str(exc) else type(exc).__name__
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def format_exc(exc):
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
