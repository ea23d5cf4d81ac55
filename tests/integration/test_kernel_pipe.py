"""ipykernel's own loopback TCP port (its pipe for forked subprocesses' output).

Facts this pins (see ARCHITECTURE.md): over the IPC transport a kernel still
listens on exactly one TCP port, on 127.0.0.1; what a stranger pushes there
reaches the kernel's stderr, and the launcher marks it as coming from that pipe.
"""

import asyncio
import os

import zmq

from helpers import Recorder
from tornado_launcher.events import LogRecord
from tornado_launcher.kernel import PIPE_LOGGER, Kernel, make_runtime_dir, remove_runtime_dir


def _tcp_listeners(pid):
    """(address, port) of every listening TCP socket the process holds (IPv4 and IPv6)."""
    mine = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            mine.add(link[8:-1])
    out = []
    for table in ("tcp", "tcp6"):
        with open(f"/proc/{pid}/net/{table}") as f:
            for row in f.readlines()[1:]:
                cols = row.split()
                if cols[3] == "0A" and cols[9] in mine:  # LISTEN
                    addr, port = cols[1].split(":")
                    out.append((addr, int(port, 16)))
    return out


async def test_the_kernel_listens_on_one_loopback_port_and_strangers_lines_are_marked(tmp_path):
    rec = Recorder()
    runtime = make_runtime_dir()
    k = Kernel("k", cwd=str(tmp_path), runtime_dir=runtime, on_event=rec, on_death=lambda r: None)
    try:
        await k.start()
        listeners = _tcp_listeners(k.pid)
        assert len(listeners) == 1, listeners
        addr, port = listeners[0]
        assert addr == "0100007F"  # 127.0.0.1, little-endian hex
        ctx = zmq.Context()
        push = ctx.socket(zmq.PUSH)
        push.linger = 1000
        push.connect(f"tcp://127.0.0.1:{port}")
        push.send_multipart([b"not-the-key", b"hello from another user"])
        push.close()
        ctx.term()
        rec_ = await rec.wait(lambda e: isinstance(e, LogRecord) and e.logger == PIPE_LOGGER, timeout=10)
        assert rec_.level == "WARNING"
        assert "did not come from this kernel" in rec_.message
        assert "hello from another user" in rec_.message
        assert not rec_.message.startswith("Bad pipe message")
    finally:
        await k.shutdown()
        remove_runtime_dir(runtime)
