"""The app reached through the kernel's own connection: TCP relayed on a comm (issue 24).

A kernel on another machine serves its apps on that machine; the launcher opens a local
port for each and relays every TCP connection through the kernel's connection (the comm
:data:`protocol.TUNNEL_TARGET`), so no SSH, Service or port-forward is needed.  This half
runs in the kernel: for each connection the launcher opens, a socket to the app's port and
two threads (reading the app, writing to it), so a busy or blocked kernel loop never stalls
the bytes, and the kernel's own loop is not touched at all.

Messages (the comm's ``data``; ``b64`` carries bytes):

* launcher -> kernel: ``{"op": "open", "conn", "host", "port"}`` (its data may follow before
  ``opened``: it waits in the connection's queue), ``{"op": "data", "conn", "b64"}``,
  ``{"op": "eof", "conn"}`` (the client sent all it will: shut the app socket's write side),
  ``{"op": "ack", "conn", "n"}`` (the client consumed ``n`` more bytes), ``{"op": "close", "conn"}``
  (the client went away early; a connection both sides ended with ``eof`` closes by itself);
* kernel -> launcher: ``{"op": "opened", "conn"}``, ``{"op": "error", "conn", "message"}``,
  ``{"op": "data", "conn", "b64"}``, ``{"op": "eof", "conn"}`` (the app closed its side).

Flow control: the reader sends at most :data:`WINDOW` bytes the launcher has not acknowledged,
so a slow client holds the app back (as a direct connection would) instead of filling memory.
"""

import base64
import queue
import socket
import threading

from .. import protocol

#: bytes read from the app per message
CHUNK = 256 * 1024
#: bytes in flight (sent, not yet acknowledged by the launcher) per connection
WINDOW = 4 * 1024 * 1024
#: seconds to connect to the app's port
CONNECT_TIMEOUT = 5.0


class Connection:
    """One relayed connection: the socket to the app, its reader and writer threads."""

    def __init__(self, relay, conn_id, host, port):
        self.relay = relay
        self.id = conn_id
        self.address = (host, port)
        self.sock = None
        self.outgoing = queue.Queue()
        self.in_flight = 0
        self.window = threading.Condition()
        self.closed = False
        #: each side said eof (the app's reader, the launcher's client): both -> closed
        self.app_eof = self.client_eof = False

    def start(self):
        threading.Thread(target=self._run, daemon=True, name="tl-tunnel-%s" % self.id).start()

    def _run(self):
        try:
            self.sock = socket.create_connection(self.address, timeout=CONNECT_TIMEOUT)
            self.sock.settimeout(None)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            self.relay.send({"op": "error", "conn": self.id, "message": "cannot connect to %s:%s in the kernel's "
                             "machine: %s" % (self.address[0], self.address[1], exc.strerror or exc)})
            self.relay.forget(self.id)
            return
        if self.closed:  # the client went away while we connected
            self._close_socket()
            return
        self.relay.send({"op": "opened", "conn": self.id})
        threading.Thread(target=self._write_loop, daemon=True, name="tl-tunnel-%s-w" % self.id).start()
        self._read_loop()

    def _read_loop(self):
        sock = self.sock
        while True:
            with self.window:
                while self.in_flight >= WINDOW and not self.closed:
                    self.window.wait()
            if self.closed:
                return
            try:
                data = sock.recv(CHUNK)
            except OSError:
                data = b""
            if not data:
                self.relay.send({"op": "eof", "conn": self.id})
                self.ended("app_eof")
                return
            with self.window:
                self.in_flight += len(data)
            self.relay.send({"op": "data", "conn": self.id, "b64": base64.b64encode(data).decode("ascii")})

    def _write_loop(self):
        while True:
            data = self.outgoing.get()
            if data is None:
                try:
                    self.sock.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
                self.ended("client_eof")
                return
            if data is False:
                return
            try:
                self.sock.sendall(data)
            except OSError:
                self.close()
                return

    def ended(self, side):
        with self.window:
            setattr(self, side, True)
            both = self.app_eof and self.client_eof
        if both:
            self.close()

    def acked(self, n):
        with self.window:
            self.in_flight = max(0, self.in_flight - n)
            self.window.notify_all()

    def close(self):
        with self.window:
            self.closed = True
            self.window.notify_all()
        self.outgoing.put(False)
        self._close_socket()
        self.relay.forget(self.id)

    def _close_socket(self):
        sock = self.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class Relay:
    """The kernel's end of the tunnel: the comm and the open connections."""

    def __init__(self):
        self.comm = None
        self.conns = {}
        self.lock = threading.Lock()

    def open(self, comm_module):
        """Open the tunnel comm (at install; again after a kernel restart's install)."""
        self.comm = comm_module.create_comm(target_name=protocol.TUNNEL_TARGET, data={})
        self.comm.on_msg(self.on_msg)

    def send(self, data):
        comm = self.comm
        if comm is not None:
            comm.send(data)

    def forget(self, conn_id):
        with self.lock:
            self.conns.pop(conn_id, None)

    def on_msg(self, msg):
        data = msg.get("content", {}).get("data") or {}
        op, conn_id = data.get("op"), data.get("conn")
        if op == "open":
            port = data.get("port")
            if not isinstance(port, int) or not 0 < port < 65536:
                self.send({"op": "error", "conn": conn_id, "message": "no such port: %r" % (port,)})
                return
            conn = Connection(self, conn_id, str(data.get("host") or "127.0.0.1"), port)
            with self.lock:
                self.conns[conn_id] = conn
            conn.start()
            return
        with self.lock:
            conn = self.conns.get(conn_id)
        if conn is None:
            return
        if op == "data":
            conn.outgoing.put(base64.b64decode(data.get("b64") or ""))
        elif op == "ack":
            conn.acked(int(data.get("n") or 0))
        elif op == "eof":
            conn.outgoing.put(None)
        elif op == "close":
            conn.close()

    def close_all(self):
        with self.lock:
            conns = list(self.conns.values())
        for conn in conns:
            conn.close()


relay = Relay()
