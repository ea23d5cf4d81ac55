"""The project pushed to a kernel whose filesystem is not the user's (``sync = true``; issue 24).

A kernel block with ``sync = true`` gets a :class:`FileSync`: when the kernel has the bridge,
the project tree (the config's directory, without what the watcher ignores: caches, VCS,
virtualenvs, ``node_modules``, editors' temporary files) is pushed to the kernel's project
directory (``remote_dir``) through the kernel's own connection (the comm
``protocol.FILES_TARGET``; the kernel's half is ``bridge/kernelside/files.py``), and each
saved, created, deleted or moved file follows before the reload it causes
(:meth:`FileSync.push_changes`, awaited by the Reloader). No SSH, no shared mount.

Files go in chunks of :data:`CHUNK` bytes, several requests in flight; each file is written
atomically and checked with its SHA-256 on the far side. A tree over :data:`MAX_TREE_BYTES`
is refused with a sentence (what to ignore or where to put it) rather than sent for minutes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import os
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Dict, Iterable, List, Optional, Tuple

from ..bridge import protocol
from ..watching.watcher import FileChange, Watcher, matches

if TYPE_CHECKING:
    from ..kernels.kernel import Kernel

#: bytes of one file per message
CHUNK = 1024 * 1024
#: requests in flight at once
IN_FLIGHT = 8
#: the whole tree's cap (a project with data files or a dataset in it: keep those out)
MAX_TREE_BYTES = 256 * 1024 * 1024
#: seconds one request may take before the push is called failed
REQUEST_TIMEOUT = 60.0


class SyncError(Exception):
    """A push that did not complete; ``str()`` is a sentence for the user."""


class FileSync:
    """One kernel's copy of the project: the tree at start, then every change."""

    def __init__(self, kernel: "Kernel", root: str, ignore_patterns: Iterable[str] = ()) -> None:
        self.kernel = kernel
        self.root = os.path.realpath(root)
        self.ignore_patterns = tuple(ignore_patterns)
        self.comm_id: Optional[str] = None
        self._ready: Optional[asyncio.Future] = None
        self._replies: Dict[int, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self._slots = asyncio.Semaphore(IN_FLIGHT)
        self._order = asyncio.Lock()
        self._watcher: Optional[Watcher] = None
        kernel.comm_handlers[protocol.FILES_TARGET] = self._on_comm

    # -------------------------------------------------------------- the kernel
    def _on_comm(self, kind: str, comm_id: str, data: Dict[str, Any]) -> None:
        if kind == "open":
            self.comm_id = comm_id
            for fut in self._replies.values():  # a new bridge: the old one's answers will not come
                if not fut.done():
                    fut.set_exception(SyncError("the kernel restarted during the push"))
            self._replies.clear()
            return
        if comm_id != self.comm_id:
            return
        fut = self._replies.pop(data.get("id"), None)
        if fut is None or fut.done():
            return
        if data.get("op") == "done":
            fut.set_result(None)
        else:
            fut.set_exception(SyncError(str(data.get("message") or "refused")))

    async def _request(self, data: Dict[str, Any]) -> None:
        async with self._slots:
            if self.comm_id is None:
                raise SyncError("the kernel's bridge has no file channel (is it running?)")
            data["id"] = request = next(self._ids)
            fut = asyncio.get_running_loop().create_future()
            self._replies[request] = fut
            if not self.kernel.send_comm(self.comm_id, data):
                self._replies.pop(request, None)
                raise SyncError(f"kernel {self.kernel.name!r} is {self.kernel.state}")
            try:
                await asyncio.wait_for(fut, REQUEST_TIMEOUT)
            except asyncio.TimeoutError:
                self._replies.pop(request, None)
                raise SyncError(f"kernel {self.kernel.name!r} did not confirm a write within "
                                f"{REQUEST_TIMEOUT:g} s") from None

    # ------------------------------------------------------------ what we push
    def wanted(self, path: str) -> bool:
        """Whether ``path`` (absolute, under the root) is part of the pushed project."""
        return matches(path, self.root, ("*",), self.ignore_patterns, case_sensitive=True)

    def tree(self) -> List[Tuple[str, int]]:
        """The project's files (absolute path, size), ignored directories pruned as the watcher does."""
        out = []
        for top, dirs, names in os.walk(self.root):
            dirs[:] = [d for d in dirs
                       if not os.path.islink(os.path.join(top, d)) and self.wanted(os.path.join(top, d))]
            for name in names:
                path = os.path.join(top, name)
                if self.wanted(path) and os.path.isfile(path):
                    out.append((path, os.path.getsize(path)))
        return out

    def _rel(self, path: str) -> str:
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    async def _put(self, path: str) -> int:
        """Send one file; returns its size."""
        digest = hashlib.sha256()
        rel = self._rel(path)
        mode = os.stat(path).st_mode & 0o777
        offset = 0
        with open(path, "rb") as f:
            while True:
                chunk = await asyncio.to_thread(f.read, CHUNK)
                last = len(chunk) < CHUNK
                digest.update(chunk)
                msg: Dict[str, Any] = {"op": "put", "path": rel, "offset": offset,
                                       "b64": base64.b64encode(chunk).decode("ascii"), "final": last}
                if last:
                    msg.update(sha256=digest.hexdigest(), mode=mode)
                await self._request(msg)
                offset += len(chunk)
                if last:
                    return offset

    async def push_tree(self) -> Tuple[int, int, float]:
        """Push the whole project: (files, bytes, seconds). Raises :class:`SyncError`."""
        t0 = time.monotonic()
        files = await asyncio.to_thread(self.tree)
        total = sum(size for _, size in files)
        if total > MAX_TREE_BYTES:
            biggest = sorted(files, key=lambda f: -f[1])[:3]
            raise SyncError(
                f"the project at {self.root} is {total / 1e6:.0f} MB, over the {MAX_TREE_BYTES / 1e6:.0f} MB "
                f"that `sync` pushes (largest: {', '.join(f'{self._rel(p)} {s / 1e6:.0f} MB' for p, s in biggest)}): "
                "keep data out of the project directory, or ignore it in a WatchdogApp handler's `ignore_patterns`")
        sent = await asyncio.gather(*(self._put(path) for path, _ in files), return_exceptions=True)
        problems = [e for e in sent if isinstance(e, BaseException)]
        if problems:
            raise SyncError(f"{len(problems)} of {len(files)} files did not reach kernel "
                            f"{self.kernel.name!r}: {problems[0]}")
        return len(files), total, time.monotonic() - t0

    async def push_project(self) -> Optional[str]:
        """The whole tree before the kernel's apps start: None (the log says what went), or why not."""
        try:
            files, size, seconds = await self.push_tree()
        except SyncError as e:
            return f"could not push the project to kernel {self.kernel.name!r}: {e}"
        self.kernel._log("INFO", f"pushed the project to kernel {self.kernel.name!r}: {files} files, "
                                 f"{size / 1e6:.1f} MB in {seconds:.1f} s (sync)")
        if self._watcher is None:
            # every file of the project follows, not only those a reload handler watches (data,
            # templates, deletes); the Reloader pushes its own batch again before it reloads
            spec = SimpleNamespace(watch_path=self.root, patterns=["*"], ignore_patterns=list(self.ignore_patterns),
                                   ignore_directories=True, case_sensitive=True, debounce=None, throttle=None)
            self._watcher = Watcher([spec], lambda _i, changes: self._follow(changes))
            await self._watcher.start()
        return None

    def _follow(self, changes: List[FileChange]) -> None:
        task = asyncio.ensure_future(self.push_changes(changes))
        task.add_done_callback(self._followed)

    def _followed(self, task: "asyncio.Task[None]") -> None:
        if not task.cancelled() and task.exception() is not None:
            self.kernel._log("ERROR", f"a change did not reach kernel {self.kernel.name!r}: {task.exception()}")

    async def close(self) -> None:
        """Stop following the project (the kernel is stopped)."""
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            await watcher.stop()

    async def push_changes(self, changes: List[FileChange]) -> None:
        """Send what ``changes`` did to the project, in order: written files, deletes, moves."""
        async with self._order:
            await self._push_changes(changes)

    async def _push_changes(self, changes: List[FileChange]) -> None:
        for change in changes:
            src, dest = change.src_path, change.dest_path
            if change.event_type == "moved" and dest:
                if self.wanted(src) and self.wanted(dest) and os.path.lexists(dest):
                    await self._request({"op": "move", "src": self._rel(src), "dest": self._rel(dest)})
                    continue
                if self.wanted(src):
                    await self._request({"op": "delete", "path": self._rel(src)})
                src = dest
            if not src or not self.wanted(src):
                continue
            if change.event_type == "deleted" or not os.path.exists(src):
                await self._request({"op": "delete", "path": self._rel(src)})
            elif os.path.isfile(src):
                await self._put(src)
