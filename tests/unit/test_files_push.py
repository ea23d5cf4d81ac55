"""The kernel's half of `sync` (bridge/kernelside/files.py): atomic, checked, inside the project."""

import base64
import hashlib

import pytest

from tornado_launcher.bridge.kernelside import files as files_mod
from tornado_launcher.bridge.kernelside import state


class Comm:
    def __init__(self):
        self.sent = []

    def send(self, data):
        self.sent.append(data)


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.setitem(state.kernel.settings, "project_dir", str(tmp_path))
    f = files_mod.Files()
    f.comm = Comm()
    return f


def request(files, **data):
    files.on_msg({"content": {"data": {"id": 1, **data}}})
    return files.comm.sent.pop()


def put(files, path, data, chunk=4, sha=None):
    for offset in range(0, max(len(data), 1), chunk):
        part = data[offset:offset + chunk]
        final = offset + chunk >= len(data)
        msg = dict(op="put", path=path, offset=offset, b64=base64.b64encode(part).decode(), final=final)
        if final:
            msg.update(sha256=sha or hashlib.sha256(data).hexdigest(), mode=0o640)
        reply = request(files, **msg)
    return reply


def test_a_file_in_chunks_lands_whole_with_its_mode(files, tmp_path):
    assert put(files, "pkg/a.bin", b"\x00\x01binary\xff" * 3) == {"op": "done", "id": 1}
    assert (tmp_path / "pkg" / "a.bin").read_bytes() == b"\x00\x01binary\xff" * 3
    assert (tmp_path / "pkg" / "a.bin").stat().st_mode & 0o777 == 0o640
    assert [p.name for p in (tmp_path / "pkg").iterdir()] == ["a.bin"]  # no temporary file left


def test_a_damaged_file_is_not_written_and_the_old_one_stays(files, tmp_path):
    (tmp_path / "a.py").write_text("old")
    reply = put(files, "a.py", b"new text", sha="0" * 64)
    assert reply["op"] == "failed" and "checksum" in reply["message"]
    assert (tmp_path / "a.py").read_text() == "old" and len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("path", ["../outside.py", "/etc/passwd", "a/../../x", ""])
def test_paths_that_leave_the_project_are_refused(files, tmp_path, path):
    reply = put(files, path, b"x")
    assert reply["op"] == "failed"
    assert not (tmp_path.parent / "outside.py").exists() and not (tmp_path.parent / "x").exists()


def test_delete_move_and_unknown_operations(files, tmp_path):
    put(files, "a.py", b"A")
    assert request(files, op="move", src="a.py", dest="sub/b.py")["op"] == "done"
    assert (tmp_path / "sub" / "b.py").read_bytes() == b"A" and not (tmp_path / "a.py").exists()
    assert request(files, op="delete", path="sub")["op"] == "done" and not (tmp_path / "sub").exists()
    assert request(files, op="_discard", path="x")["op"] == "failed"
