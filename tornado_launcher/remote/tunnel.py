"""Apps on the kernel's machine, reached here through the kernel's own connection (issue 24).

A kernel block with ``tunnel = true`` (the default for a kernel on another machine) gets a
:class:`Tunnel`: for each port its apps serve, a local listening port on 127.0.0.1 (the same
number when it is free here, else another), and each TCP connection to it is relayed through
the kernel's connection (the comm ``protocol.TUNNEL_TARGET``; the kernel's half is
``bridge/kernelside/tunnel.py``). The URLs the window and the log show are the local ones.
Nothing else is needed: no SSH, no Kubernetes Service, no port-forward; websockets and
streaming answers are plain TCP here.

Flow control: the kernel sends at most ``kernelside.tunnel.WINDOW`` bytes this side has not
acknowledged; an acknowledgement goes back once the bytes are written to the client (its
``drain()``), so a slow client slows the app down instead of filling the launcher's memory.
Everything runs on the launcher's loop.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import logging
import socket
from typing import TYPE_CHECKING, Any, Dict, Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

from ..bridge import protocol

if TYPE_CHECKING:
    from ..kernels.kernel import Kernel

log = logging.getLogger(__name__)

#: bytes read from a client per message to the kernel
CHUNK = 256 * 1024
#: seconds the kernel has to connect to the app
OPEN_TIMEOUT = 10.0
#: acknowledge consumed bytes once this many have been written (fewer messages than one per chunk)
ACK_EVERY = 512 * 1024


class _Conn:
    """One client connection and its relay state."""

    def __init__(self, conn_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.id = conn_id
        self.reader = reader
        self.writer = writer
        self.opened: asyncio.Future = asyncio.get_running_loop().create_future()
        self.incoming: asyncio.Queue = asyncio.Queue()
        self.unacked = 0
        #: both directions ended (each side sent its eof): the kernel closes its end by itself
        self.eof_sent = self.eof_received = False


class Tunnel:
    """The local ports of one kernel's apps, relayed through that kernel's connection."""

    def __init__(self, kernel: "Kernel") -> None:
        self.kernel = kernel
        self.comm_id: Optional[str] = None
        self.conns: Dict[str, _Conn] = {}
        #: the app's port (on the kernel's machine) -> (local port, server)
        self.listeners: Dict[int, Tuple[int, Any]] = {}
        self._ids = itertools.count(1)
        kernel.comm_handlers[protocol.TUNNEL_TARGET] = self._on_comm

    # ------------------------------------------------------------ the URLs
    def local_urls(self, urls: tuple) -> tuple:
        """``urls`` as reached here: each port served by a local listener (opened on first sight)."""
        out = []
        for url in urls:
            parts = urlsplit(url)
            port = parts.port
            if port is None:
                out.append(url)
                continue
            local = self.local_port(port)
            out.append(urlunsplit((parts.scheme, f"127.0.0.1:{local}", parts.path, parts.query, parts.fragment)))
        return tuple(out)

    def local_port(self, remote_port: int) -> int:
        """The local port for the app's ``remote_port``: the same number when free here, else any."""
        if remote_port in self.listeners:
            return self.listeners[remote_port][0]
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", remote_port))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        sock.setblocking(False)
        local = sock.getsockname()[1]
        task = asyncio.ensure_future(asyncio.start_server(
            lambda r, w, port=remote_port: self._client(r, w, port), sock=sock))
        self.listeners[remote_port] = (local, task)
        if local != remote_port:
            self.kernel._log("INFO", f"port {remote_port} on the kernel's machine is reached here at "
                                     f"127.0.0.1:{local} ({remote_port} is taken on this machine)")
        return local

    async def close(self) -> None:
        """Close every local port and connection (the kernel is shut down)."""
        listeners, self.listeners = list(self.listeners.values()), {}
        for _, task in listeners:
            try:
                server = await task
            except Exception:  # noqa: BLE001 - it never listened
                continue
            server.close()
        for conn in list(self.conns.values()):
            conn.writer.close()
        self.conns.clear()

    # ------------------------------------------------------- from the kernel
    def _on_comm(self, kind: str, comm_id: str, data: Dict[str, Any]) -> None:
        if kind == "open":
            # a (re)installed bridge: connections of the previous kernel are gone with it
            if self.comm_id is not None and comm_id != self.comm_id:
                for conn in list(self.conns.values()):
                    conn.writer.close()
                self.conns.clear()
            self.comm_id = comm_id
            return
        if kind != "msg" or comm_id != self.comm_id:
            return
        conn = self.conns.get(str(data.get("conn")))
        if conn is None:
            return
        op = data.get("op")
        if op == "opened":
            if not conn.opened.done():
                conn.opened.set_result(None)
        elif op == "error":
            if not conn.opened.done():
                conn.opened.set_exception(ConnectionError(str(data.get("message"))))
        elif op == "data":
            conn.incoming.put_nowait(base64.b64decode(data.get("b64") or ""))
        elif op == "eof":
            conn.incoming.put_nowait(None)

    def _send(self, data: Dict[str, Any]) -> bool:
        return self.comm_id is not None and self.kernel.send_comm(self.comm_id, data)

    # ------------------------------------------------------- from a client
    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int) -> None:
        conn = _Conn(str(next(self._ids)), reader, writer)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.conns[conn.id] = conn
        try:
            if not self._send({"op": "open", "conn": conn.id, "host": "127.0.0.1", "port": port}):
                return
            # the client's bytes follow at once (the kernel queues them until it is connected):
            # a request costs one round trip through the kernel, not two
            to_client = asyncio.ensure_future(self._to_client(conn))
            to_kernel = asyncio.ensure_future(self._to_kernel(conn))
            try:
                await asyncio.wait_for(conn.opened, OPEN_TIMEOUT)
                await to_kernel
                await to_client
            except (ConnectionError, asyncio.TimeoutError) as e:
                log.info("tunnel to port %s: %s", port, e or "the kernel did not connect in time")
            finally:
                to_client.cancel()
                to_kernel.cancel()
        finally:
            self.conns.pop(conn.id, None)
            if not (conn.eof_sent and conn.eof_received):
                self._send({"op": "close", "conn": conn.id})
            writer.close()

    async def _to_kernel(self, conn: _Conn) -> None:
        while True:
            try:
                data = await conn.reader.read(CHUNK)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                conn.eof_sent = self._send({"op": "eof", "conn": conn.id})
                return
            if not self._send({"op": "data", "conn": conn.id, "b64": base64.b64encode(data).decode("ascii")}):
                return

    async def _to_client(self, conn: _Conn) -> None:
        while True:
            data = await conn.incoming.get()
            if data is None:
                conn.eof_received = True
                if conn.writer.can_write_eof():
                    conn.writer.write_eof()
                return
            conn.writer.write(data)
            try:
                await conn.writer.drain()
            except (ConnectionError, OSError):
                return
            conn.unacked += len(data)
            if conn.unacked >= ACK_EVERY:  # the kernel's window is several of these: it never waits on us
                self._send({"op": "ack", "conn": conn.id, "n": conn.unacked})
                conn.unacked = 0
