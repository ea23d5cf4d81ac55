"""bridge/kernelside/ports.py: the sentence for "Address already in use" (issue 13 item 6).

Real sockets held by real processes; the bind that fails is tornado's own.
"""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest
import tornado.netutil

from tests.helpers import free_port
from tornado_launcher.bridge.kernelside import ports

HOLD = """
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen()
print("listening", flush=True)
time.sleep(60)
"""


def hold(port, user=None):
    preexec = None
    if user is not None:
        import pwd

        uid = pwd.getpwnam(user).pw_uid

        def preexec():
            os.setgid(uid)
            os.setuid(uid)

    # another user may not reach our venv's Python: any Python 3 runs HOLD (stdlib only)
    python = sys.executable if user is None else shutil.which("python3", path="/usr/bin:/bin") or sys.executable
    proc = subprocess.Popen([python, "-c", HOLD, str(port)], stdout=subprocess.PIPE, text=True,
                            preexec_fn=preexec, cwd="/")
    assert proc.stdout.readline().strip() == "listening"
    return proc


def bind_error(port, address="127.0.0.1"):
    with pytest.raises(OSError) as ei:
        for s in tornado.netutil.bind_sockets(port, address):
            s.close()
    return ei.value




def test_names_address_port_and_the_holding_process():
    port = free_port()
    proc = hold(port)
    try:
        t0 = time.perf_counter()
        text = ports.explain(bind_error(port))
        took = time.perf_counter() - t0
    finally:
        proc.kill()
        proc.wait()
    # the command line as ps shows it: argv[0]'s name, then its arguments
    assert text.startswith("port %d on 127.0.0.1 is already in use, held by pid %d (%s -c "
                           % (port, proc.pid, os.path.basename(sys.executable))), text
    assert text.endswith(": stop that process, or give the app another port")
    assert took < 2.0, took


def test_every_address_and_this_process():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        text = ports.explain(bind_error(port, "0.0.0.0"))
    assert text == (
        "port %d on every address (0.0.0.0) is already in use, held by this kernel (pid %d): another app "
        "of this kernel serves on it: stop that process, or give the app another port" % (port, os.getpid())
    )


def test_another_users_socket_is_named_by_its_owner(monkeypatch):
    import pwd

    port = free_port()
    if os.getuid() == 0:  # a real process of another user
        proc, owner = hold(port, user="nobody"), "nobody"
    else:  # our own process, seen as if we were someone else
        proc, owner = hold(port), pwd.getpwuid(os.getuid()).pw_name
        me = os.getuid()
        monkeypatch.setattr(ports.os, "getuid", lambda: me + 1)
    try:
        text = ports.explain(bind_error(port))
    finally:
        monkeypatch.undo()
        proc.kill()
        proc.wait()
    assert text == ("port %d on 127.0.0.1 is already in use, held by a process of another user (%s): "
                    "stop that process, or give the app another port" % (port, owner))


def test_without_a_holder_to_name_says_how_to_find_it(monkeypatch):
    monkeypatch.setattr(ports, "listening_sockets", lambda port: [])
    port = free_port()
    proc = hold(port)
    try:
        text = ports.explain(bind_error(port))
    finally:
        proc.kill()
        proc.wait()
    assert text == (
        "port %d on 127.0.0.1 is already in use: stop the process that holds it "
        "(`ss -ltnp 'sport = :%d'` names it), or give the app another port" % (port, port)
    )


def test_other_errors_are_left_alone():
    assert ports.explain(ValueError("x")) is None
    assert ports.explain(OSError(13, "Permission denied")) is None
    try:
        raise OSError(98, "Address already in use")  # no frame knows the address
    except OSError as e:
        assert ports.explain(e) is None
