"""The inotify backend on big trees: no watch inside ignored directories (counted
in the kernel's own record, /proc/<pid>/fdinfo of the inotify fd), directories
that appear or move are followed.  The start-time floor is in
benchmarks/watch_start.py; here a figure is printed and a hang caught."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from tornado_launcher.watching import inotify as watch_inotify
from tornado_launcher.watching.watcher import Watcher

pytestmark = [pytest.mark.timeout(120),
              pytest.mark.skipif(not watch_inotify.available(), reason="inotify is Linux's")]


class Handler:
    def __init__(self, watch_path, patterns=("*",), ignore_patterns=()):
        self.watch_path = str(watch_path)
        self.patterns = list(patterns)
        self.ignore_patterns = list(ignore_patterns)
        self.ignore_directories = False
        self.case_sensitive = False
        self.debounce = self.throttle = None


def make_tree(root, files=100_000, dirs=3_000):
    """A project with a small source tree and ``files`` files in ``dirs`` directories
    under node_modules and .venv.  Returns (source dirs, ignored dirs)."""
    source = [root]
    for i in range(20):
        d = os.path.join(root, "app", f"pkg{i}")
        os.makedirs(d)
        source += [d] if i else [os.path.join(root, "app"), d]
        for j in range(5):
            os.close(os.open(os.path.join(d, f"m{j}.py"), os.O_CREAT | os.O_WRONLY, 0o644))
    ignored = []
    per_dir = files // dirs
    for k in range(dirs):
        top = "node_modules" if k % 2 else os.path.join(".venv", "lib", "python3.11", "site-packages")
        d = os.path.join(root, top, f"p{k // 20}", f"sub{k % 20}")
        os.makedirs(d)
        ignored.append(d)
        for j in range(per_dir):
            os.mknod(os.path.join(d, f"f{j}.js"))
    with open(os.path.join(root, ".venv", "pyvenv.cfg"), "w") as f:
        f.write("home = /usr/bin\n")
    return source, ignored


def inotify_fds():
    out = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify":
                out.add(int(fd))
        except OSError:
            pass
    return out


def watched_inodes(fd):
    """The inodes the kernel says this inotify instance watches (``inotify wd:`` lines)."""
    inodes = []
    with open(f"/proc/self/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("inotify wd:"):
                fields = dict(part.split(":", 1) for part in line.split()[1:])
                inodes.append(int(fields["ino"], 16))
    return inodes


def all_dirs_below(top):
    out = []
    for root, dirs, _files in os.walk(top):
        out += [os.path.join(root, d) for d in dirs]
    return out


def test_big_ignored_trees_get_no_watch_and_start_fast(tmp_path):
    t0 = time.perf_counter()
    source, _ = make_tree(str(tmp_path))
    made = time.perf_counter() - t0
    ignored = all_dirs_below(tmp_path / "node_modules") + all_dirs_below(tmp_path / ".venv")
    ignored += [str(tmp_path / "node_modules"), str(tmp_path / ".venv")]
    assert len(ignored) > 3_000

    async def main():
        before = inotify_fds()
        w = Watcher([Handler(tmp_path, ["*.py"])], lambda i, c: None, backend="inotify")
        t = time.perf_counter()
        await w.start()
        took = time.perf_counter() - t
        try:
            (fd,) = inotify_fds() - before
            return took, watched_inodes(fd), w.watched_directories()
        finally:
            await w.stop()

    took, inodes, watched = asyncio.run(main())
    print(f"\nwatcher start on {len(source)} source dirs + {len(ignored)} ignored dirs "
          f"(100,000 files, made in {made:.1f} s): {took * 1000:.1f} ms, {len(inodes)} inotify watches")
    assert took < 5.0  # a hang or a walk of the ignored trees; the floor (200 ms) is the benchmark's
    assert sorted(watched) == sorted(source)
    ignored_inodes = {os.stat(d).st_ino for d in ignored}
    assert not ignored_inodes & set(inodes)
    assert sorted(inodes) == sorted(os.stat(d).st_ino for d in source)


def test_new_moved_and_ignored_directories(tmp_path):
    (tmp_path / "app").mkdir()

    async def main():
        changes = []
        w = Watcher([Handler(tmp_path, ["*.py"], ["build"])], lambda i, c: changes.extend(c), backend="inotify")
        await w.start()
        try:
            async def until(pred, what):
                for _ in range(200):
                    if pred():
                        return
                    await asyncio.sleep(0.01)
                raise AssertionError(f"{what}; watched: {w.watched_directories()}; changes: {changes}")

            # a new directory tree (mkdir -p, then a file at once) is watched, its file reported
            os.makedirs(tmp_path / "app" / "new" / "deep")
            (tmp_path / "app" / "new" / "deep" / "x.py").write_text("x = 1\n")
            await until(lambda: str(tmp_path / "app" / "new" / "deep" / "x.py") in
                        {c.src_path for c in changes}, "file in a new tree not seen")
            assert str(tmp_path / "app" / "new" / "deep") in w.watched_directories()
            # ignored ones are not: default ignores and the handler's own
            for name in ("node_modules", "build", "__pycache__"):
                os.makedirs(tmp_path / "app" / name / "inner")
            await asyncio.sleep(0.2)
            assert not [d for d in w.watched_directories()
                        if any(n in d for n in ("node_modules", "build", "__pycache__"))]
            # a directory renamed within the tree: its watches follow, edits below it report the new path
            os.rename(tmp_path / "app" / "new", tmp_path / "app" / "renamed")
            await until(lambda: str(tmp_path / "app" / "renamed" / "deep") in w.watched_directories(),
                        "renamed directory not followed")
            changes.clear()
            (tmp_path / "app" / "renamed" / "deep" / "x.py").write_text("x = 2\n")
            await until(lambda: str(tmp_path / "app" / "renamed" / "deep" / "x.py") in
                        {c.src_path for c in changes}, "edit below a renamed directory not seen")
            # moved into an ignored place: no watches left there
            os.rename(tmp_path / "app" / "renamed", tmp_path / "app" / "node_modules" / "renamed")
            await until(lambda: not [d for d in w.watched_directories() if "renamed" in d],
                        "watches left in a directory moved into node_modules")
            # moved out of the tree: gone too
            os.makedirs(tmp_path / "app" / "leaving" / "sub")
            await until(lambda: str(tmp_path / "app" / "leaving" / "sub") in w.watched_directories(), "not watched")
            outside = tmp_path.parent / (tmp_path.name + "-outside")
            os.rename(tmp_path / "app" / "leaving", outside)
            await until(lambda: not [d for d in w.watched_directories() if "leaving" in d],
                        "watches left in a directory moved out of the tree")
            os.rename(outside, tmp_path / "app" / "back")  # and back in: watched again
            await until(lambda: str(tmp_path / "app" / "back" / "sub") in w.watched_directories(),
                        "directory moved in not watched")
        finally:
            await w.stop()

    asyncio.run(main())
