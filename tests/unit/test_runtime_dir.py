"""Runtime directories: made private, named after their launcher, removed once it is gone."""

import os
import subprocess
import sys

from tornado_launcher.kernels import kernel
from tornado_launcher.kernels.kernel import RUNTIME_OWNER_FILE, remove_stale_runtime_dirs


def _dir(base, name, owner=None):
    path = base / name
    path.mkdir(mode=0o700)
    (path / "k.json").write_text("{}")
    if owner is not None:
        (path / RUNTIME_OWNER_FILE).write_text(owner)
    return path


def _dead_pid():
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_make_runtime_dir_is_private_and_names_its_owner():
    path = kernel.make_runtime_dir()
    try:
        assert oct(os.stat(path).st_mode & 0o777) == "0o700"
        pid, started = open(os.path.join(path, RUNTIME_OWNER_FILE)).read().split()
        assert int(pid) == os.getpid() and started == kernel._process_start_time(os.getpid())
        assert path not in remove_stale_runtime_dirs(os.path.dirname(path))  # ours, alive
        assert os.path.isdir(path)
    finally:
        kernel.remove_runtime_dir(path)
    assert not os.path.exists(path)


def test_only_directories_of_launchers_that_are_gone_are_removed(tmp_path):
    parent = os.getppid()
    gone = _dir(tmp_path, "tl-gone", f"{_dead_pid()} 123\n")
    reused = _dir(tmp_path, "tl-reused", f"{parent} 1\n")  # that pid runs, but started at another time
    live = _dir(tmp_path, "tl-live", f"{parent} {kernel._process_start_time(parent)}\n")
    unknown = _dir(tmp_path, "tl-unknown")  # no owner file: being created, or an older version
    garbage = _dir(tmp_path, "tl-garbage", "not a pid\n")
    other = _dir(tmp_path, "other-prefix", f"{_dead_pid()} 123\n")
    target = _dir(tmp_path, "target", f"{_dead_pid()} 123\n")
    (tmp_path / "tl-link").symlink_to(target)
    removed = remove_stale_runtime_dirs(str(tmp_path))
    assert sorted(removed) == sorted([str(gone), str(reused)])
    for kept in (live, unknown, garbage, other, target, tmp_path / "tl-link"):
        assert os.path.exists(kept), kept


def test_another_users_directory_is_never_removed(tmp_path, monkeypatch):
    theirs = _dir(tmp_path, "tl-theirs", f"{_dead_pid()} 123\n")
    if os.getuid() == 0:
        os.chown(theirs, 4242, 4242)  # really another user's
    else:  # cannot give it away: look at it as another user would
        me = os.getuid()
        monkeypatch.setattr(kernel.os, "getuid", lambda: me + 1)
    assert remove_stale_runtime_dirs(str(tmp_path)) == []
    assert theirs.is_dir()
