"""Child processes are the app's (issue 18.4): tracked per run, stopped with it, never
outliving the kernel.

Every way a process is made ends in one of a few calls, each wrapped here: ``_posixsubprocess.fork_exec``
(``subprocess.Popen`` and all built on it: ``asyncio.create_subprocess_*``, ``os.system`` while an
app runs it, multiprocessing's spawn), ``os.fork`` (multiprocessing's fork, ``pty.fork`` without
``forkpty``), ``os.forkpty`` (``pty.fork``), ``os.posix_spawn`` / ``posix_spawnp``, and
``multiprocessing``'s ``Process.start`` (forkserver: the child is the server's, not ours).  The
new pid is noted for the run whose code made it (:func:`attribution.attributed_run`: the run's
ContextVar, else the thread's run), with its start time (``/proc/<pid>/stat`` field 22: a pid
reused later is never signalled).  multiprocessing's own helpers (the resource tracker, the
fork server) are the kernel's, not an app's.

:func:`stop` (at a run's end, on a thread: never on the kernel's loop) sends SIGTERM to each
live child, waits up to :data:`GRACE` seconds (pidfds in ``poll()``), then SIGKILLs what is
left with its descendants (a shell's own children), and reaps our own children nobody else
reaped (a library's ``Popen.wait`` finds ECHILD, which it takes as an exit; asyncio's watcher
thread reaps first since it is already blocked in ``waitpid``).

The kernel's death (SIGKILL included): a guard process (:data:`GUARD_SOURCE`, ``python -S``
in its own session, started at the first child) holds the list of live children, fed through
its stdin, and watches the kernel through a pidfd (else its parent pid); when the kernel is gone
it SIGKILLs them and their descendants.  Why not ``PR_SET_PDEATHSIG``: it fires when the
forking *thread* ends (threaded mode's threads, pool workers) and needs code in the child;
why not the kernel's process group: ``pty.fork`` and ``start_new_session`` leave it.

``os.system`` in an app is replaced by the same through ``Popen`` (so the shell is the app's
while it runs). The guard receives ``+ pid start`` / ``- pid`` lines on its stdin; not EOF
alone: an ``os.fork`` child without exec holds the pipe's write end. The app's log says
``stopped 2 child processes: bash (pid 123), sleep (pid 124)`` (and which needed SIGKILL).
Reaping waits 0.3 s after a death.

Facts this relies on:

* Python 3.11's ``subprocess`` calls ``_fork_exec`` imported by name from ``_posixsubprocess``:
  wrapping the module attribute alone misses every ``Popen``; multiprocessing's
  ``spawnv_passfds`` calls ``_posixsubprocess.fork_exec`` through the module.
* asyncio's default watcher on 3.11 (``ThreadedChildWatcher``) runs a thread per child blocked
  in ``waitpid(pid, 0)``: reaping such a child ourselves makes it log "Unknown child process
  pid"; waiting 0.3 s after the death leaves it the reaping.
* On the code before this, the children test did not fail: it hung (killed after 150 s) once its
  first assertion failed, in the session's teardown with the app's children alive. Not pinned
  down; the likely holder is the children's inherited copies of the kernel's stdout/stderr
  pipes, which the launcher reads until EOF.
"""

import contextvars
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import weakref

from .attribution import attributed_run

GRACE = 2.0  # seconds between SIGTERM and SIGKILL
REAP_WAIT = 0.3  # seconds a dead child's owner (a Popen, asyncio's watcher) has to reap it first


class Child:
    __slots__ = ("pid", "start", "ours")

    def __init__(self, pid, start, ours):
        self.pid = pid
        self.start = start
        self.ours = ours  # our own child (we may reap it), else e.g. a fork server's

    def alive(self):
        return start_time(self.pid) == self.start and self.start is not None


def _stat(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid):
    """The process's start time in clock ticks; None when it is gone (or a zombie)."""
    fields = _stat(pid)
    if fields is None or fields[0] == b"Z":
        return None
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def name_of(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() or "?"
    except OSError:
        return "?"


def descendants(pids):
    """Live descendants of ``pids`` (their children, theirs, ...) as Child objects."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            fields = _stat(int(d))
            if fields is not None and fields[0] != b"Z":
                kids.setdefault(int(fields[1]), []).append(int(d))
    out, todo = [], list(pids)
    while todo:
        for pid in kids.get(todo.pop(), ()):
            start = start_time(pid)
            if start is not None:
                out.append(Child(pid, start, False))
                todo.append(pid)
    return out


class Registry:
    """Live children by run (weak: a forgotten run takes its list along); thread-safe."""

    def __init__(self):
        self.lock = threading.Lock()
        self.runs = weakref.WeakKeyDictionary()
        self.local = threading.local()  # .off: the bridge's or multiprocessing's own helpers

    def note(self, pid):
        if not pid or getattr(self.local, "off", False):
            return
        run = attributed_run()
        if run is None:
            return
        start = start_time(pid)
        if start is None:
            return  # already gone
        try:
            ours = int(_stat(pid)[1]) == os.getpid()
        except (TypeError, IndexError, ValueError):
            ours = False
        with self.lock:
            kids = self.runs.setdefault(run, [])
            if any(c.pid == pid and c.start == start for c in kids):
                return
            kids.append(Child(pid, start, ours))
        guard.add(pid, start)

    def take(self, run):
        with self.lock:
            return self.runs.pop(run, [])

    def off(self):
        return _Off(self.local)


class _Off:
    def __init__(self, local):
        self.local = local

    def __enter__(self):
        self.saved = getattr(self.local, "off", False)
        self.local.off = True

    def __exit__(self, *exc):
        self.local.off = self.saved


registry = Registry()

GUARD_SOURCE = r'''
import os, select, signal, sys
kernel = int(sys.argv[1])
def start(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return None if fields[0] == b"Z" else int(fields[19])
    except (OSError, IndexError, ValueError):
        return None
try:
    kfd = os.pidfd_open(kernel)
except (AttributeError, OSError):
    kfd = None
poller = select.poll()
poller.register(0, select.POLLIN)
if kfd is not None:
    poller.register(kfd, select.POLLIN)
tracked, rest, gone = {}, b"", False
while not gone:
    for fd, _ev in poller.poll(None if kfd is not None else 500):
        if fd == kfd:
            gone = True
            continue
        data = os.read(0, 65536)
        if not data:
            gone = True
            poller.unregister(0)
            continue
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        for line in lines:
            parts = line.split()
            if len(parts) == 2 and parts[0] == b"-":
                tracked.pop(int(parts[1]), None)
            elif len(parts) == 3 and parts[0] == b"+":
                tracked[int(parts[1])] = int(parts[2])
    if kfd is None and os.getppid() != kernel:
        gone = True
victims = [pid for pid, st in tracked.items() if start(pid) == st]
kids = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            with open("/proc/%s/stat" % d, "rb") as f:
                kids.setdefault(int(f.read().rsplit(b")", 1)[1].split()[1]), []).append(int(d))
        except (OSError, IndexError, ValueError):
            pass
todo = list(victims)
while todo:
    for pid in kids.get(todo.pop(), ()):
        victims.append(pid)
        todo.append(pid)
for pid in victims:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
'''


class Guard:
    """The process that SIGKILLs the apps' children when the kernel is gone (see the module)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.proc = None
        self.live = {}  # pid -> start time, what the guard holds

    def add(self, pid, start):
        with self.lock:
            self.live[pid] = start
            self._send(b"+ %d %d\n" % (pid, start))

    def remove(self, pid):
        with self.lock:
            if self.live.pop(pid, None) is not None:
                self._send(b"- %d\n" % pid)

    def _send(self, line):
        for _attempt in range(2):
            if self.proc is None or self.proc.poll() is not None:
                if not self._start():
                    return
                line = b"".join(b"+ %d %d\n" % kv for kv in self.live.items())
            try:
                self.proc.stdin.write(line)
                self.proc.stdin.flush()
                return
            except (OSError, ValueError):
                self.proc = None

    def _start(self):
        try:
            with registry.off():
                self.proc = subprocess.Popen(
                    [sys.executable, "-S", "-c", GUARD_SOURCE, str(os.getpid())], stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
            return True
        except Exception:
            self.proc = None
            return False


guard = Guard()


def _wait_gone(children, timeout):
    """Block (a thread, never the kernel's loop) until none of ``children`` runs, or ``timeout``."""
    deadline = time.monotonic() + timeout
    fds = {}
    pidfd_open = getattr(os, "pidfd_open", None)
    try:
        for c in children:
            if pidfd_open is not None:
                try:
                    fds[pidfd_open(c.pid)] = c
                except OSError:
                    pass
        while True:
            live = [c for c in children if c.alive()]
            left = deadline - time.monotonic()
            if not live or left <= 0:
                return live
            poller = select.poll()
            waiting = [fd for fd, c in fds.items() if c in live]
            for fd in waiting:
                poller.register(fd, select.POLLIN)
            if waiting:
                poller.poll(min(left, 0.2) * 1000.0)  # a zombie's pidfd is readable: .alive() says so
            else:
                threading.Event().wait(min(left, 0.02))
    finally:
        for fd in fds:
            os.close(fd)


def terminate(children, grace=GRACE):
    """SIGTERM each live child, SIGKILL what is left after ``grace`` s (and its descendants).
    Blocks: call on a thread.  Returns ``(stopped, killed)``: ``[(name, pid)]`` each."""
    live = [c for c in children if c.alive()]
    if not live:
        for c in children:
            guard.remove(c.pid)
        return [], []
    names = {c.pid: name_of(c.pid) for c in live}
    closed_loop_note.pids.update(names)
    below = descendants([c.pid for c in live])
    for c in live:
        try:
            os.kill(c.pid, signal.SIGTERM)
        except OSError:
            pass
    stubborn = _wait_gone(live, grace)
    for c in stubborn + below:
        if c.alive():
            try:
                os.kill(c.pid, signal.SIGKILL)
            except OSError:
                pass
    _wait_gone(stubborn + below, 1.0)
    _reap([c for c in live if c.ours])
    for c in children:
        guard.remove(c.pid)
    stopped = [(names[c.pid], c.pid) for c in live]
    killed = [(names[c.pid], c.pid) for c in stubborn]
    return stopped, killed


def _reap(children):
    """Reap dead children of ours that their owner (a Popen, asyncio's watcher) did not."""
    if not children:
        return
    threading.Event().wait(REAP_WAIT)
    for c in children:
        try:
            os.waitpid(c.pid, os.WNOHANG)
        except OSError:
            pass


class _ClosedLoopNote:
    """Drops asyncio's "Loop ... that handles pid N is closed" for the children we stopped: a
    threaded app's loop is closed before its children are (its watcher thread says so)."""

    def __init__(self):
        self.pids = set()

    def filter(self, record):
        args = record.args if isinstance(record.args, tuple) else ()
        return not (record.msg == "Loop %r that handles pid %r is closed" and len(args) == 2
                    and args[1] in self.pids)


closed_loop_note = _ClosedLoopNote()


def sentence(stopped, killed, grace=GRACE):
    n = len(stopped)
    text = "stopped %d child process%s: %s" % (n, "" if n == 1 else "es",
                                                ", ".join("%s (pid %d)" % s for s in stopped))
    if killed:
        text += "; SIGKILLed after %g s: %s" % (grace, ", ".join("%s (pid %d)" % s for s in killed))
    return text


def stop_in_thread(run, done):
    """Stop ``run``'s children on a new thread; ``done(stopped, killed)`` is called there after.
    Returns the thread (None: the run had none)."""
    children = registry.take(run)
    if not children:
        return None

    def work():
        try:
            stopped, killed = terminate(children)
        except Exception:
            stopped, killed = [], []
        done(stopped, killed)

    with registry.off():
        thread = threading.Thread(target=work, name="tornado-launcher:children", daemon=True)
        thread.start()
    return thread


# -- the wrappers
class Originals:
    def __init__(self):
        self.applied = False


originals = Originals()


def _wrap_pid(fn, pick=lambda result: result):
    def wrapper(*args, **kwargs):
        result = fn(*args, **kwargs)
        try:
            pid = pick(result)
            if pid:
                registry.note(pid)
        except Exception:
            pass
        return result
    wrapper.__wrapped__ = fn
    wrapper.__name__ = getattr(fn, "__name__", "wrapper")
    wrapper.__doc__ = getattr(fn, "__doc__", None)
    return wrapper


def _off(fn):
    def wrapper(*args, **kwargs):
        with registry.off():
            return fn(*args, **kwargs)
    wrapper.__wrapped__ = fn
    return wrapper


def _system(command):
    """``os.system`` in an app: the same through ``Popen``, so the shell is the app's while it runs."""
    if attributed_run() is None or getattr(registry.local, "off", False):
        return originals.system(command)
    try:
        proc = subprocess.Popen(command, shell=True)
    except OSError:
        return 127 << 8
    rc = proc.wait()
    return (rc & 0xFF) << 8 if rc >= 0 else -rc


def install():
    """Wrap the calls that make processes (once per kernel)."""
    if originals.applied:
        return
    originals.applied = True
    import _posixsubprocess
    originals.fork_exec = _posixsubprocess.fork_exec
    _posixsubprocess.fork_exec = _wrap_pid(_posixsubprocess.fork_exec)
    if getattr(subprocess, "_fork_exec", None) is originals.fork_exec:  # 3.11+: imported by name
        subprocess._fork_exec = _posixsubprocess.fork_exec
    for name in ("fork", "posix_spawn", "posix_spawnp"):
        if hasattr(os, name):
            setattr(os, name, _wrap_pid(getattr(os, name)))
    if hasattr(os, "forkpty"):
        os.forkpty = _wrap_pid(os.forkpty, lambda result: result[0])
    logging.getLogger("asyncio").addFilter(closed_loop_note)
    originals.system = os.system
    os.system = _system
    try:  # asyncio's waitpid threads are asyncio's, as in a process: not the app's threads
        from asyncio import unix_events
        watcher = unix_events.ThreadedChildWatcher
        add = watcher.add_child_handler
        watcher.add_child_handler = lambda self, *a, **k: contextvars.Context().run(add, self, *a, **k)
    except (ImportError, AttributeError):
        pass
    try:
        import multiprocessing.process
        import multiprocessing.resource_tracker
        base = multiprocessing.process.BaseProcess
        start = base.start

        def process_start(self):
            start(self)
            try:
                registry.note(self.pid)  # a fork server's child is not ours: note it by pid
            except Exception:
                pass
        base.start = process_start
        tracker = multiprocessing.resource_tracker.ResourceTracker
        tracker.ensure_running = _off(tracker.ensure_running)
        try:
            import multiprocessing.forkserver
            server = multiprocessing.forkserver.ForkServer
            server.ensure_running = _off(server.ensure_running)
        except ImportError:
            pass
    except ImportError:
        pass
