"""The project pushed to a kernel whose filesystem is not the user's (``sync = true``; issue 24).

The launcher sends the project's files through the kernel's own connection (the comm
:data:`protocol.FILES_TARGET`); this half writes them under the kernel's project directory
(the bridge's ``project_dir`` setting: the kernel block's ``remote_dir``). Every write is
atomic (a temporary file in the same directory, fsynced, then renamed over the old one) and
checked (the SHA-256 the launcher computed), so an import never meets half a file. Paths are
relative and stay inside the project directory: ``..``, absolute paths and links that lead
out are refused.

Messages (``data`` of the comm; every request has an ``id`` answered by ``{"op": "done", "id"}``
or ``{"op": "failed", "id", "message"}``):

* ``{"op": "put", "id", "path", "b64", "offset", "final", "sha256", "mode"}``: a chunk of one
  file at ``offset`` (0 starts it anew); ``final`` renames it into place after the check;
* ``{"op": "delete", "id", "path"}`` (a file or an empty-after-deletes directory);
* ``{"op": "move", "id", "src", "dest"}``.
"""

import base64
import hashlib
import importlib
import os
import shutil
import sys

from .. import protocol
from . import state


class Files:
    """The kernel's end of the push: open temporary files, by path."""

    def __init__(self):
        self.comm = None
        self.partial = {}  # relative path -> (temporary path, sha256 so far)

    def open(self, comm_module):
        self.comm = comm_module.create_comm(target_name=protocol.FILES_TARGET, data={})
        self.comm.on_msg(self.on_msg)

    def root(self):
        return os.path.realpath(state.kernel.settings.get("project_dir") or os.getcwd())

    def resolve(self, rel):
        """The absolute path of ``rel`` under the project directory; ValueError if it would leave it."""
        if not isinstance(rel, str) or not rel or os.path.isabs(rel) or "\0" in rel:
            raise ValueError("not a relative path: %r" % (rel,))
        root = self.root()
        path = os.path.realpath(os.path.join(root, rel))
        if path != root and not path.startswith(root + os.sep):
            raise ValueError("%r leads out of the project directory %s" % (rel, root))
        return path

    def on_msg(self, msg):
        data = msg.get("content", {}).get("data") or {}
        request = data.get("id")
        ops = {"put": self._put, "delete": self._delete, "move": self._move}
        try:
            if data.get("op") not in ops:
                raise ValueError("unknown operation %r" % (data.get("op"),))
            ops[data["op"]](data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            self.comm.send({"op": "failed", "id": request, "message": "%s: %s" % (type(exc).__name__, exc)})
            return
        self.comm.send({"op": "done", "id": request})

    def _put(self, data):
        rel = data["path"]
        path = self.resolve(rel)
        chunk = base64.b64decode(data.get("b64") or "")
        if not data.get("offset"):
            self._discard(rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = os.path.join(os.path.dirname(path), ".%s.tl-%s" % (os.path.basename(path), os.urandom(4).hex()))
            self.partial[rel] = (tmp, hashlib.sha256())
            mode = "wb"
        elif rel not in self.partial:
            raise ValueError("a chunk of %s at offset %s without its start" % (rel, data.get("offset")))
        else:
            mode = "ab"
        tmp, digest = self.partial[rel]
        with open(tmp, mode) as f:
            f.write(chunk)
            if data.get("final"):
                f.flush()
                os.fsync(f.fileno())
        digest.update(chunk)
        if not data.get("final"):
            return
        del self.partial[rel]
        if digest.hexdigest() != data.get("sha256"):
            os.unlink(tmp)
            raise ValueError("%s arrived damaged (checksum differs): not written" % rel)
        if isinstance(data.get("mode"), int):
            os.chmod(tmp, data["mode"] & 0o7777)
        new = not os.path.exists(path)
        os.replace(tmp, path)
        if new:  # a new file (or the project directory itself) is importable at once
            sys.path_importer_cache.pop(self.root(), None)
            importlib.invalidate_caches()

    def _discard(self, rel):
        old = self.partial.pop(rel, None)
        if old is not None:
            try:
                os.unlink(old[0])
            except OSError:
                pass

    def _delete(self, data):
        path = self.resolve(data["path"])
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)

    def _move(self, data):
        src, dest = self.resolve(data["src"]), self.resolve(data["dest"])
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        os.replace(src, dest)


files = Files()
