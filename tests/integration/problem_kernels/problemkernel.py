"""A kernel that misbehaves on purpose, after jupyter_client's tests/problemkernel.py.

Run as ``python problemkernel.py -f {connection_file}`` from a kernelspec whose
``env`` sets ``TL_PROBLEM`` to one of:

* ``hang``: never opens its sockets, so kernel_info is never answered
  (a kernel stuck importing something, or waiting on a lock at startup);
* ``fail``: writes one line to stderr and exits with status 3 before it opens
  a socket (a kernel whose startup raises: a bad import, a port in use);
* ``broken-tornado``: a working ipykernel in which ``import tornado.httpserver``
  raises (a damaged tornado install: ipykernel itself starts, the bridge cannot);
* ``quiet-start``: a working ipykernel that does not publish its iopub ``starting``
  status, as when a client's SUB socket is still reconnecting and misses it.

Standard library and ipykernel only; nothing of the launcher.
"""

import os
import sys
import threading

PROBLEM = os.environ.get("TL_PROBLEM", "")

#: the line the failing kernel leaves on stderr (tests look for it in the user's log)
FAIL_LINE = "problemkernel: cannot bind the kernel's sockets (failing on purpose)"
#: the error the broken tornado raises on import
BROKEN_LINE = "tornado.httpserver is damaged in this Python (problem kernel)"


class _BrokenTornado:
    """A meta path finder that makes ``import tornado.httpserver`` raise."""

    def find_spec(self, name, path=None, target=None):
        if name == "tornado.httpserver":
            raise ImportError(BROKEN_LINE)
        return None


def main():
    if PROBLEM == "hang":
        threading.Event().wait()  # until the launcher kills us
    elif PROBLEM == "fail":
        print(FAIL_LINE, file=sys.stderr, flush=True)
        sys.exit(3)
    elif PROBLEM == "broken-tornado":
        sys.meta_path.insert(0, _BrokenTornado())
    elif PROBLEM == "quiet-start":
        from ipykernel.kernelbase import Kernel

        publish = Kernel._publish_status

        def quiet(self, status, channel, parent=None):
            if status != "starting":
                publish(self, status, channel, parent)

        Kernel._publish_status = quiet
    from ipykernel.kernelapp import IPKernelApp

    IPKernelApp.launch_instance()


if __name__ == "__main__":
    main()
