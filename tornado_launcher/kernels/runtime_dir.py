"""The session's private runtime directory: where its kernels' connection files and IPC sockets live.

:func:`make_runtime_dir` makes one per launcher (mode 0700, in the temp directory, named
``tl-*``): no kernel of ours listens on TCP, and a kernel started in the project's directory and a
launcher started elsewhere still meet (:mod:`.local` puts each kernel's connection file and IPC
prefix there). The directory names its owner (:data:`RUNTIME_OWNER_FILE`: pid and start time),
so that a later launcher removes those of launchers already gone, even ones killed outright
(:func:`remove_stale_runtime_dirs`, run at each :func:`make_runtime_dir`): a SIGKILLed launcher's
sockets do not pile up in /tmp.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from typing import List, Optional

#: prefix of the private runtime directories in the temp directory
RUNTIME_PREFIX = "tl-"
#: file in each runtime directory naming its launcher: ``"<pid> <start time>"``
RUNTIME_OWNER_FILE = "launcher.pid"


def _process_start_time(pid: int) -> Optional[str]:
    """The start time of process ``pid`` (clock ticks since boot, Linux), to tell a reused pid."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


def make_runtime_dir() -> str:
    """A private (0700) directory for connection files and IPC sockets.

    It names its owner (pid and start time) so that a later launcher can
    remove it once this one is gone, even if it was killed outright; those of
    launchers already gone are removed first.
    """
    remove_stale_runtime_dirs()
    path = tempfile.mkdtemp(prefix=RUNTIME_PREFIX)
    os.chmod(path, 0o700)
    with open(os.path.join(path, RUNTIME_OWNER_FILE), "w") as f:
        f.write(f"{os.getpid()} {_process_start_time(os.getpid()) or '-'}\n")
    return path


def remove_runtime_dir(path: str) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _owner_alive(pid: int, started: str) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, another user's: not ours to judge
    now = _process_start_time(pid)
    # the pid runs: it is our launcher unless it is known to have started later
    return started == "-" or now is None or now == started


def remove_stale_runtime_dirs(base: Optional[str] = None) -> List[str]:
    """Remove runtime directories whose launcher is gone; return their paths.

    Only directories that are ours: named ``tl-*``, real directories (not
    symlinks) owned by this user, holding a well-formed owner file whose
    process is not running (or is another process under a reused pid).  A
    directory without an owner file (being created, or from an older version)
    is left alone.
    """
    base = base or tempfile.gettempdir()
    removed: List[str] = []
    try:
        names = os.listdir(base)
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for name in names:
        if not name.startswith(RUNTIME_PREFIX):
            continue
        path = os.path.join(base, name)
        try:
            st = os.lstat(path)
            if not stat.S_ISDIR(st.st_mode) or (uid is not None and st.st_uid != uid):
                continue
            with open(os.path.join(path, RUNTIME_OWNER_FILE)) as f:
                pid_text, started = f.read().split()
            pid = int(pid_text)
        except (OSError, ValueError):
            continue
        if pid == os.getpid() or _owner_alive(pid, started):
            continue
        remove_runtime_dir(path)
        removed.append(path)
    return removed
