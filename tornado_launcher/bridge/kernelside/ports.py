"""Who holds a port: the sentence for an app whose start fails with "Address already in use".

Tornado's ``bind_sockets`` raises a bare ``OSError(EADDRINUSE)``; the address
it tried is still in the failing frame (``sockaddr``, else ``address`` and
``port``).  On Linux the holder is found the way ``ss -ltnp`` finds it: the
inode of the listening socket on that port in ``/proc/net/tcp`` and
``tcp6``, then the process whose ``/proc/<pid>/fd`` links to
``socket:[inode]``.  Only processes we may read are looked at: a socket of
another user is named by its owner, not its process.  Stdlib only.
"""

import errno
import os

#: TCP state LISTEN in /proc/net/tcp
_LISTEN = "0A"


def bind_target(exc):
    """``(host, port)`` the failing bind tried, from the innermost frame that knows, or None."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        names = frame.f_locals
        sockaddr = names.get("sockaddr")
        if isinstance(sockaddr, tuple) and len(sockaddr) >= 2 and type(sockaddr[1]) is int:
            return str(sockaddr[0]), sockaddr[1]
        port = names.get("port")
        if type(port) is int:
            address = names.get("address")
            return (address if isinstance(address, str) else ""), port
    return None


def listening_sockets(port):
    """``(inode, uid)`` of each TCP socket listening on ``port`` (Linux; [] elsewhere)."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            try:
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    found.append((int(fields[9]), int(fields[7])))
            except ValueError:
                continue
    return found


def command_line(pid):
    """``python3 -m http.server 8000`` for a pid (argv[0] without its directory), or ""."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = [a.decode("utf-8", "replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return ""
    if not argv:
        return ""
    text = " ".join([os.path.basename(argv[0])] + argv[1:])
    return text if len(text) <= 80 else text[:77] + "..."


def owner(inodes):
    """The pid of a readable process with one of the socket ``inodes`` open, or None."""
    links = {"socket:[%d]" % inode for inode in inodes}
    try:
        pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return None
    for pid in pids:
        fd_dir = "/proc/%d/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # another user's process, or gone
            continue
        for fd in fds:
            try:
                if os.readlink(os.path.join(fd_dir, fd)) in links:
                    return pid
            except OSError:
                continue
    return None


def holder(port):
    """"held by pid 1234 (python3 -m http.server 1234)", "held by a process of user x", or None."""
    sockets = listening_sockets(port)
    mine = [inode for inode, uid in sockets if uid == os.getuid()]
    pid = owner(mine) if mine else None
    if pid == os.getpid():
        return "held by this kernel (pid %d): another app of this kernel serves on it" % pid
    if pid is not None:
        command = command_line(pid)
        return "held by pid %d%s" % (pid, " (%s)" % command if command else "")
    others = sorted({uid for _, uid in sockets if uid != os.getuid()})
    if others:
        try:
            import pwd

            name = pwd.getpwuid(others[0]).pw_name
        except (ImportError, KeyError):
            name = "uid %d" % others[0]
        return "held by a process of another user (%s)" % name
    return None


def explain(exc):
    """A sentence for an ``EADDRINUSE`` bind failure naming address, port and holder; else None."""
    if not isinstance(exc, OSError) or exc.errno != errno.EADDRINUSE:
        return None
    target = bind_target(exc)
    if target is None:
        return None
    host, port = target
    if host in ("", "0.0.0.0", "::"):
        where = "port %d on every address%s" % (port, " (%s)" % host if host else "")
    else:
        where = "port %d on %s" % (port, "[%s]" % host if ":" in host else host)
    try:
        held = holder(port)
    except Exception:  # never let the explanation hide the error
        held = None
    if held:
        return "%s is already in use, %s: stop that process, or give the app another port" % (where, held)
    return ("%s is already in use: stop the process that holds it (`ss -ltnp 'sport = :%d'` names it), "
            "or give the app another port" % (where, port))
