"""tornado_launcher.watching.watcher: Jaffle matching, timing against real files and
real watchdog observers, and SingleFlight.  No pytest-asyncio: each test
runs its own loop with asyncio.run."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from typing import Optional

import pytest
from watchdog.utils import BaseThread

from tornado_launcher.watching import watcher as watch
from tornado_launcher.watching.single_flight import SingleFlight
from tornado_launcher.watching.watcher import DEFAULT_IGNORES, FileChange, Watcher, matches

pytestmark = pytest.mark.timeout(20)


@pytest.fixture(autouse=True, params=["inotify", "watchdog"])
def backend(request, monkeypatch):
    """Every Watcher test runs on both backends: ours (Linux inotify over the
    pruned tree) and watchdog's recursive observer (macOS, Windows)."""
    monkeypatch.setattr(watch, "DEFAULT_BACKEND", request.param)
    return request.param


# ---------------------------------------------------------------- matches()

ROOT = "/proj"


@pytest.mark.parametrize(
    "rel, patterns, ignore, case, expected",
    [
        ("x.py", ["*.py"], [], False, True),
        ("app/handlers/x.py", ["*.py"], [], False, True),  # * spans "/"
        ("x.txt", ["*.py"], [], False, False),
        ("pkg/tests/test_a.py", ["*/tests/*.py"], [], False, True),
        ("pkg/a.py", ["*/tests/*.py"], [], False, False),
        ("tests/test_a.py", ["*/tests/*.py"], [], False, True),  # a leading */ matches at the top too
        ("tests/test_a.py", ["*.py"], ["*/tests/*.py"], False, False),
        ("app/x.py", ["app/*.py"], [], False, True),
        ("app/sub/x.py", ["app/*.py"], [], False, True),
        ("lib/x.py", ["app/*.py"], [], False, False),
        ("templates/a.html", ["*.py", "*.html"], [], False, True),
        ("anything/at/all", ["*"], [], False, True),
        ("anything", [], [], False, True),  # empty patterns = "*"
        # ignore_patterns: the whole relative path or any component
        ("pkg/tests/test_a.py", ["*.py"], ["*/tests/*.py"], False, False),
        ("pkg/a.py", ["*.py"], ["*/tests/*.py"], False, True),
        ("build/x.py", ["*.py"], ["build"], False, False),
        ("x_test.py", ["*.py"], ["*_test.py"], False, False),
        # case sensitivity
        ("APP.PY", ["*.py"], [], False, True),
        ("APP.PY", ["*.py"], [], True, False),
        ("app.py", ["*.py"], ["APP.PY"], False, False),
        ("app.py", ["*.py"], ["APP.PY"], True, True),
        # default ignores
        ("__pycache__/x.cpython-311.pyc", ["*"], [], False, False),
        ("pkg/__pycache__/x.py", ["*.py"], [], False, False),
        ("x.pyc", ["*"], [], False, False),
        (".git/HEAD", ["*"], [], False, False),
        (".x.py.swp", ["*"], [], False, False),
        (".x.py.swx", ["*"], [], False, False),
        ("x.py~", ["*"], [], False, False),
        ("x.py.tmp~", ["*.py*"], [], False, False),
        (".#x.py", ["*.py"], [], False, False),
        ("4913", ["*"], [], False, False),
        ("app/4913", ["*"], [], False, False),
        ("x.tmp", ["*"], [], False, False),
        ("page.tmpl", ["*"], [], False, True),  # templates are not temp files
        ("node_modules/a.js", ["*"], [], False, False),
        (".venv/lib/python3.11/site-packages/x.py", ["*.py"], [], False, False),
        ("venv/lib/x.py", ["*.py"], [], False, False),
        (".mypy_cache/x.json", ["*"], [], False, False),
        (".pytest_cache/v", ["*"], [], False, False),
        (".tox/py311/x.py", ["*.py"], [], False, False),
        ("pkg.egg-info/PKG-INFO", ["*"], [], False, False),
        (".ipynb_checkpoints/a.py", ["*.py"], [], False, False),
        ("x.py___jb_tmp___", ["*"], [], False, False),
        ("gitignore.py", ["*.py"], [], False, True),  # ".git" is a component, not a substring
        ("environment.py", ["*.py"], [], False, True),
    ],
)
def test_matches_table(rel, patterns, ignore, case, expected):
    assert matches(f"{ROOT}/{rel}", ROOT, patterns, ignore, case) is expected


def test_matches_never_looks_above_root():
    # the project lives below a directory named "build": that must not count
    assert matches("/home/u/build/proj/x.py", "/home/u/build/proj", ["*.py"], ["*/build/*"])
    assert not matches("/home/u/build/proj/build/x.py", "/home/u/build/proj", ["*.py"], ["*/build/*"])


def test_matches_outside_root_and_root_itself():
    assert not matches("/elsewhere/x.py", ROOT, ["*.py"])
    assert not matches("/projx/x.py", ROOT, ["*.py"])  # a prefix, not a parent
    assert not matches(ROOT, ROOT, ["*"])
    assert matches("/proj/x.py", "/proj/", ["*.py"])  # trailing slash on root


def test_matches_ignores_any_virtualenv_by_its_pyvenv_cfg(tmp_path):
    (tmp_path / "myenv").mkdir()
    (tmp_path / "myenv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    root = str(tmp_path)
    assert not matches(f"{root}/myenv/lib/x.py", root, ["*.py"])
    assert matches(f"{root}/env2/lib/x.py", root, ["*.py"])


def test_default_ignores_cover_the_brief():
    for name in ("__pycache__", ".git", "*.pyc", "*.pyo", "*~", ".#*", "4913", "node_modules",
                 ".venv", "venv", ".mypy_cache", ".pytest_cache", ".tox", "*.egg-info", ".ipynb_checkpoints"):
        assert name in DEFAULT_IGNORES


def test_file_change_as_event_dict():
    c = FileChange("moved", "/p/a.tmp", "/p/a.py", False, 1.0)
    assert c.as_event_dict() == {"event_type": "moved", "src_path": "/p/a.tmp", "dest_path": "/p/a.py",
                                 "is_directory": False}
    assert c.as_event_dict(relative_to="/p")["dest_path"] == "a.py"


# ---------------------------------------------------------------- Watcher helpers


@dataclass
class Handler:
    watch_path: str
    patterns: list = field(default_factory=lambda: ["*"])
    ignore_patterns: list = field(default_factory=list)
    ignore_directories: bool = False
    case_sensitive: bool = False
    debounce: Optional[float] = None
    throttle: Optional[float] = None


class Recorder:
    """The callback: records (index, changes, monotonic time, thread id)."""

    def __init__(self):
        self.calls = []
        self._changed = asyncio.Event()

    def __call__(self, index, changes):
        self.calls.append((index, changes, time.monotonic(), threading.get_ident()))
        self._changed.set()

    async def wait_calls(self, n=1, timeout=2.0):
        deadline = time.monotonic() + timeout
        while len(self.calls) < n:
            self._changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"expected {n} callbacks, got {len(self.calls)}: {self.calls}")
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)

    @property
    def paths(self):
        out = set()
        for _, changes, _, _ in self.calls:
            for c in changes:
                out.add(c.dest_path or c.src_path)
        return out


@contextlib.asynccontextmanager
async def watching(*handlers, **kw):
    rec = Recorder()
    w = Watcher(list(handlers), rec, **kw)
    await w.start()
    try:
        yield rec
    finally:
        await w.stop()


def run(coro):
    return asyncio.run(coro)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


async def in_other_process(code, **values):
    """Run ``code`` in a child Python, as an editor or git would write: the
    loop stays free to see the events as they come.  ``values`` are bound as
    variables (repr'd data)."""
    prelude = "import os\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", prelude + textwrap.dedent(code))
    assert await proc.wait() == 0


# ---------------------------------------------------------------- Watcher


def test_edit_gives_one_callback_with_the_change_on_the_loop_thread(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"])) as rec:
            write(p, "a = 2\n")
            closed = time.monotonic()
            await rec.wait_calls(1)
            await asyncio.sleep(0.3)
            return rec, closed, threading.get_ident()

    rec, closed, loop_thread = run(main())
    assert len(rec.calls) == 1, rec.calls
    index, changes, at, thread = rec.calls[0]
    assert index == 0 and thread == loop_thread
    assert [(c.event_type, c.src_path, c.dest_path, c.is_directory) for c in changes] == [
        ("modified", str(p), None, False)
    ]
    latency = (at - closed) * 1000
    print(f"\nclose -> callback: {latency:.2f} ms (watcher's own: {(at - changes[0].time) * 1000:.2f} ms)")
    assert latency < 40


def test_latency_close_to_callback_is_a_few_ms(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")

    async def main():
        lat = []
        async with watching(Handler(str(tmp_path), ["*.py"]), default_delay=0.05) as rec:
            for i in range(10):
                write(p, f"a = {i}\n")
                closed = time.monotonic()
                await rec.wait_calls(i + 1)
                lat.append((rec.calls[-1][2] - closed) * 1000)
                await asyncio.sleep(0.08)  # out of the previous burst
        return lat

    lat = sorted(run(main()))
    print(f"\nclose -> callback over 10 saves: median {lat[5]:.2f} ms, max {lat[-1]:.2f} ms")
    assert lat[5] < 10


@pytest.mark.parametrize("tmp_name", ["x.py.tmp~", ".#x.py", "tmpabc.py", ".x.py.swx"])
def test_atomic_save_gives_exactly_one_callback(tmp_path, tmp_name):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")
    tmp = tmp_path / tmp_name

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"])) as rec:
            await in_other_process("""
                with open(tmp, "w") as f:
                    f.write("a = 2\\n")
                os.replace(tmp, p)
            """, tmp=str(tmp), p=str(p))
            await rec.wait_calls(1)
            await asyncio.sleep(0.4)
            return rec

    rec = run(main())
    assert len(rec.calls) == 1, rec.calls
    changes = rec.calls[0][1]
    # the temporary file, even one that matches *.py, shows only as the move
    assert [(c.event_type, c.src_path, c.dest_path) for c in changes] == [("moved", str(tmp), str(p))]


def test_vim_style_save_backup_rename_then_write_is_one_callback(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"])) as rec:
            await in_other_process("""
                open(os.path.join(d, "4913"), "w").close()
                os.unlink(os.path.join(d, "4913"))
                os.rename(p, p + "~")  # the backup: x.py leaves (not yet a reason to fire)
                with open(p, "w") as f:  # the new x.py, closed: fire
                    f.write("a = 2\\n")
                os.unlink(p + "~")
            """, d=str(tmp_path), p=str(p))
            await rec.wait_calls(1)
            await asyncio.sleep(0.3)
            return rec

    rec = run(main())
    assert len(rec.calls) == 1, rec.calls
    kinds = [(c.event_type, os.path.basename(c.src_path)) for c in rec.calls[0][1]]
    assert ("created", "x.py") in kinds


def test_jetbrains_safe_write_is_one_callback(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"])) as rec:
            await in_other_process("""
                with open(p + "___jb_tmp___", "w") as f:
                    f.write("a = 2\\n")
                os.rename(p, p + "___jb_old___")
                os.rename(p + "___jb_tmp___", p)
                os.unlink(p + "___jb_old___")
            """, p=str(p))
            await rec.wait_calls(1)
            await asyncio.sleep(0.3)
            return rec

    rec = run(main())
    assert len(rec.calls) == 1, rec.calls
    assert ("moved", str(p) + "___jb_tmp___", str(p)) in [(c.event_type, c.src_path, c.dest_path)
                                                          for c in rec.calls[0][1]]


def test_delete_fires_after_the_short_window(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"]), default_delay=0.05) as rec:
            os.unlink(p)
            gone = time.monotonic()
            await rec.wait_calls(1)
            await asyncio.sleep(0.2)
            return rec, rec.calls[0][2] - gone

    rec, waited = run(main())
    assert len(rec.calls) == 1 and 0.04 <= waited < 0.3
    assert [(c.event_type, c.src_path) for c in rec.calls[0][1]] == [("deleted", str(p))]


def test_burst_of_20_files_gives_at_most_2_callbacks_with_all_paths(tmp_path):
    files = [tmp_path / "pkg" / f"m{i}.py" for i in range(20)]
    files[0].parent.mkdir()
    for f in files:
        f.write_text("x = 0\n")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"])) as rec:
            await in_other_process("""
                for f in files:  # as git checkout does: unlink, then create and write
                    os.unlink(f)
                    with open(f, "w") as fh:
                        fh.write("x = 1\\n")
            """, files=[str(f) for f in files])
            await rec.wait_calls(1)
            await asyncio.sleep(0.4)
            return rec

    rec = run(main())
    print(f"\n20-file burst: {len(rec.calls)} callback(s) of {[len(c[1]) for c in rec.calls]} changes")
    assert 1 <= len(rec.calls) <= 2
    assert rec.paths == {str(f) for f in files}


def test_burst_of_20_new_files_in_new_directory(tmp_path):
    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"], ignore_directories=True)) as rec:
            await in_other_process("""
                os.mkdir(d)
                for i in range(20):
                    with open(os.path.join(d, f"m{i}.py"), "w") as f:
                        f.write("x = 1\\n")
            """, d=str(tmp_path / "new"))
            await rec.wait_calls(1)
            await asyncio.sleep(0.4)
            return rec

    rec = run(main())
    assert 1 <= len(rec.calls) <= 2
    assert rec.paths == {str(tmp_path / "new" / f"m{i}.py") for i in range(20)}


@pytest.mark.filterwarnings("ignore:Callback with id:RuntimeWarning")  # watchdog's own, on mkdir -p
def test_ignored_files_give_no_callback(tmp_path):
    for d in ("__pycache__", "node_modules", ".git", ".venv/lib"):
        (tmp_path / d).mkdir(parents=True)

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"], ignore_patterns=["*/skip/*"])) as rec:
            (tmp_path / "a" / "skip").mkdir(parents=True)
            for rel in ("__pycache__/x.cpython-311.pyc", "node_modules/a.py", ".git/HEAD", ".venv/lib/x.py",
                        ".x.py.swp", "x.py~", ".#x.py", "4913", "notes.txt", "a/skip/x.py"):
                write(tmp_path / rel, "data")
            with open(tmp_path / "x.py", "w"):  # create an empty file ...
                pass
            os.unlink(tmp_path / "x.py")  # ... that matched: this pair fires; the rest must not
            await rec.wait_calls(1)
            await asyncio.sleep(0.5)
            return rec

    rec = run(main())
    assert rec.paths == {str(tmp_path / "x.py")}, rec.calls


def test_nothing_for_reads(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"])) as rec:
            for _ in range(5):
                p.read_text()
            await asyncio.sleep(0.5)
            return rec

    assert run(main()).calls == []


def test_directories(tmp_path):
    async def main():
        async with watching(Handler(str(tmp_path), ignore_directories=True), Handler(str(tmp_path))) as rec:
            (tmp_path / "d").mkdir()
            await rec.wait_calls(1)
            await asyncio.sleep(0.3)
            return rec

    rec = run(main())
    assert [c[0] for c in rec.calls] == [1]  # only the handler that wants directories
    (change,) = rec.calls[0][1]
    assert (change.event_type, change.src_path, change.is_directory) == ("created", str(tmp_path / "d"), True)


def test_handlers_on_one_root_are_told_apart(tmp_path):
    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"]), Handler(str(tmp_path), ["*.html"])) as rec:
            write(tmp_path / "page.html", "<p>")
            await rec.wait_calls(1)
            await asyncio.sleep(0.2)
            return rec

    rec = run(main())
    assert [c[0] for c in rec.calls] == [1]


def test_modified_without_close_fires_after_the_fallback_window(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"]), default_delay=0.05) as rec:
            with open(p, "a") as f:  # stays open: no close event until the end
                f.write("b = 2\n")
                f.flush()
                wrote = time.monotonic()
                await rec.wait_calls(1)
                waited = rec.calls[0][2] - wrote
            await asyncio.sleep(0.2)
            return rec, waited

    rec, waited = run(main())
    assert 0.04 <= waited < 0.3
    # the close that follows is a second, separate save
    assert len(rec.calls) == 2


def test_debounce_waits_for_quiet(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"], debounce=0.2)) as rec:
            for i in range(4):
                write(p, f"a = {i}\n")
                last = time.monotonic()
                await asyncio.sleep(0.05)
            await rec.wait_calls(1)
            await asyncio.sleep(0.3)
            return rec, last

    rec, last = run(main())
    assert len(rec.calls) == 1
    assert rec.calls[0][2] - last >= 0.19


def test_changes_are_ordered_by_their_latest_event(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("")
    b.write_text("")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"], debounce=0.15)) as rec:
            for p in (a, b, a):
                write(p, "x = 1\n")
            await rec.wait_calls(1)
            return rec

    rec = run(main())
    assert [os.path.basename(c.src_path) for c in rec.calls[0][1]] == ["b.py", "a.py"]


def test_throttle_leading_and_trailing(tmp_path):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")

    async def main():
        async with watching(Handler(str(tmp_path), ["*.py"], throttle=0.25)) as rec:
            start = time.monotonic()
            for i in range(12):  # 0.6 s of saves every 50 ms
                write(p, f"a = {i}\n")
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.4)
            return rec, start

    rec, start = run(main())
    times = [c[2] for c in rec.calls]
    assert times[0] - start < 0.03  # leading edge: at once
    assert all(b - a >= 0.24 for a, b in zip(times, times[1:]))
    assert 3 <= len(times) <= 4  # 0.6 s / 0.25 s, plus the trailing batch


def test_callback_exception_does_not_stop_the_watcher(tmp_path, caplog):
    p = tmp_path / "x.py"
    p.write_text("a = 1\n")
    calls = []

    def callback(i, changes):
        calls.append(changes)
        raise RuntimeError("boom")

    async def main():
        w = Watcher([Handler(str(tmp_path), ["*.py"])], callback)
        await w.start()
        try:
            write(p, "a = 2\n")
            await asyncio.sleep(0.2)
            write(p, "a = 3\n")
            await asyncio.sleep(0.2)
        finally:
            await w.stop()

    run(main())
    assert len(calls) == 2
    assert "boom" in caplog.text


def watcher_thread(t):
    return isinstance(t, BaseThread) or t.name == "tornado-launcher:inotify"


def test_stop_leaves_no_watchdog_thread(tmp_path):
    async def main():
        w = Watcher([Handler(str(tmp_path)), Handler(str(tmp_path / "sub"))], lambda i, c: None)
        (tmp_path / "sub").mkdir()
        await w.start()
        assert any(watcher_thread(t) for t in threading.enumerate())
        write(tmp_path / "x.py", "")
        await w.stop()
        return [t for t in threading.enumerate() if watcher_thread(t) and t.is_alive()]

    assert run(main()) == []


def test_start_refuses_a_missing_directory(tmp_path):
    async def main():
        w = Watcher([Handler(str(tmp_path / "nope"))], lambda i, c: None)
        with pytest.raises(FileNotFoundError, match="watch_path"):
            await w.start()

    run(main())


# ---------------------------------------------------------------- SingleFlight


def test_single_flight_runs_one_and_merges_the_queued():
    async def main():
        sf = SingleFlight()
        runs = []
        gate = asyncio.Event()

        def factory(tag):
            async def go():
                runs.append(tag)
                if tag == "a":
                    await gate.wait()
                return tag

            return go

        fa = sf.request("app", factory("a"))
        await asyncio.sleep(0)
        assert sf.busy("app") and runs == ["a"]
        fb = sf.request("app", factory("b"))
        fc = sf.request("app", factory("c"))  # merges into the queued run, which uses the latest factory
        fo = sf.request("other", factory("o"))  # other keys are independent
        await asyncio.sleep(0.01)
        assert runs == ["a", "o"]
        gate.set()
        assert await fa == "a"
        assert await fb == "c" and await fc == "c"
        assert await fo == "o"
        assert runs == ["a", "o", "c"]
        await asyncio.sleep(0)
        assert not sf.busy("app")

    run(main())


def test_single_flight_failure_does_not_wedge_the_key():
    async def main():
        sf = SingleFlight()

        async def fail():
            raise ValueError("bad")

        async def ok():
            return 42

        f1 = sf.request("k", fail)
        f2 = sf.request("k", ok)  # queued behind the failing run
        with pytest.raises(ValueError):
            await f1
        assert await f2 == 42
        assert not sf.busy("k")
        sf.request("k", fail)  # nobody awaits: no "exception never retrieved" noise
        assert await sf.request("k", ok) == 42

    run(main())


def test_single_flight_cancelling_one_wait_keeps_the_run():
    async def main():
        sf = SingleFlight()
        gate = asyncio.Event()

        async def slow():
            await gate.wait()
            return "done"

        f1 = sf.request("k", slow)
        waiter = asyncio.ensure_future(f1)
        await asyncio.sleep(0)
        f1.cancel()
        f2 = sf.request("k", slow)
        gate.set()
        assert await f2 == "done"
        assert waiter.cancelled() or waiter.done()

    run(main())


def test_add_a_handler_while_running_and_restart_the_watcher(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()

    async def main():
        rec = Recorder()
        w = Watcher([Handler(str(tmp_path / "a"), ["*.py"])], rec)
        await w.start()
        try:
            index = await w.add(Handler(str(tmp_path / "b"), ["*.html"], ["*.py"]))
            assert index == 1 and w.handler(1).watch_path == str(tmp_path / "b")
            write(tmp_path / "b" / "page.html", "<p>")
            write(tmp_path / "b" / "x.py", "")  # ignored by the added handler
            await rec.wait_calls(1)
            await asyncio.sleep(0.2)
            assert [(i, [c.src_path for c in changes]) for i, changes, _, _ in rec.calls] \
                == [(1, [str(tmp_path / "b" / "page.html")])]
        finally:
            await w.stop()
        rec.calls.clear()
        await w.start()  # a stopped watcher starts again, with both handlers
        try:
            write(tmp_path / "a" / "m.py", "")
            write(tmp_path / "b" / "other.html", "")
            await rec.wait_calls(2)
            assert sorted(i for i, _, _, _ in rec.calls) == [0, 1]
        finally:
            await w.stop()

    run(main())
