"""A kernel started elsewhere, reached through its connection file.

:class:`AttachedProvisioner` provisions a kernel whose process is not ours: a kernel block with
``connection_file = "conn.json"`` (for instance ``python -m ipykernel_launcher --ip=127.0.0.1
-f conn.json`` run by hand, in a container with its ports forwarded, or behind an SSH tunnel).
Its :class:`~tornado_launcher.kernels.connection.KernelConnection` routes messages as for any
kernel; what differs is here:

* attach = an ``AsyncKernelClient`` on the file's ports and key (re-read at
  every attach: a kernel run again with ``-f`` over a file it wrote itself picks new ports),
  ``wait_for_ready(startup_timeout)``;
* liveness = the heartbeat.  jupyter_client's heartbeat thread pings once a
  second; a missed ping reaches :meth:`AttachedProvisioner.missed_ping`, and when the heartbeat
  is still silent :data:`HEARTBEAT_GRACE` seconds later the kernel is reported
  gone (seen in ~3.5 s, within 5 s of its end): "dead", pending cells answered ``KernelDied``,
  the session's ``on_death`` (apps failed, the crash-loop guard counts it);
* identity = the kernel's session id (the ``session`` of every message's
  header: a new uuid in each ipykernel process), learnt from a
  ``kernel_info_reply`` at attach.  A message from another session on shell
  or iopub is a new process on the same ports (started again faster than the
  heartbeat notices): gone (:meth:`AttachedProvisioner.drops`), re-attached, the bridge
  installed again.  Since a new process may send nothing by itself (its iopub ``starting``
  status is often lost while our SUB socket reconnects), a ``kernel_info_request`` is
  sent whenever the shell socket connects again (a zmq socket monitor sees the
  TCP/IPC reconnect) and after every missed heartbeat: its reply says who
  answers;
* gone, then back: the session's restart of an attached kernel is a
  re-attach.  A process on another machine sends no event when it comes
  back, so the connection tries again every :data:`REATTACH_INTERVAL` seconds
  (``retry_interval``), then the session installs the bridge and re-creates
  the apps as after a restart;
* ownership: the launcher never ends it.  At exit its apps are stopped (the
  session's farewell) and the kernel is left running; ``kill_now`` only
  drops the connection; ``interrupt`` is an ``interrupt_request`` on the
  control channel (ipykernel signals itself); its pid is the one the bridge's hello names.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Dict, Optional

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from zmq.utils.monitor import parse_monitor_message

from ..engine.events import KERNEL_READY
from .connection import KernelStartError, Provisioner

log = logging.getLogger(__name__)

#: seconds the heartbeat may stay silent after a missed ping before the kernel is reported gone
HEARTBEAT_GRACE = 2.5
#: seconds between attempts to reach a kernel that is gone (or not started yet)
REATTACH_INTERVAL = 2.0


def describe(info: dict) -> str:
    """Where a connection file points, for sentences: ``tcp 127.0.0.1 (shell port 5001)``."""
    transport = info.get("transport", "tcp")
    if transport == "ipc":
        return f"ipc {info.get('ip')}"
    return f"{info.get('ip')} (shell port {info.get('shell_port')})"


class AttachedProvisioner(Provisioner):
    """A running kernel reached through ``connection_file``; never started or ended by us."""

    retry_interval = REATTACH_INTERVAL
    pid_from_hello = True

    def __init__(self, connection_file: str, *, startup_timeout: float = 60.0) -> None:
        self._file = connection_file
        self.startup_timeout = startup_timeout
        #: where the file points, for sentences (the file's path until it is read)
        self._where = connection_file
        self._confirm: Optional[asyncio.TimerHandle] = None
        #: the attached process's session id (its messages' header ``session``)
        self._session: Optional[str] = None
        self._monitor: Any = None

    @property
    def connection_file(self) -> Optional[str]:
        return self._file

    # ------------------------------------------------------------- attaching
    def _read_info(self) -> dict:
        with open(self._file, "rb") as f:
            info = json.loads(f.read(1 << 20).decode("utf-8"))
        if not isinstance(info, dict):
            raise ValueError("not a JSON object")
        return info

    async def launch(self, restart: bool) -> None:
        """Attach; a sentence saying how to start the kernel when nothing answers."""
        why = await self._attach(self.startup_timeout)
        if why is not None:
            raise KernelStartError(
                f"kernel {self.kernel.name!r} (attached through {self._file}): {why}. Start it, e.g. "
                f"`python -m ipykernel_launcher --ip=127.0.0.1 -f {self._file}`, or fix "
                "`connection_file`; the launcher attaches as soon as it answers.")

    async def _attach(self, timeout: float) -> Optional[str]:
        """One attempt: a client on the file's ports, ready within ``timeout``. None, or why not."""
        kernel = self.kernel
        try:
            info = self._read_info()
        except FileNotFoundError:
            return f"its connection file {self._file} does not exist (yet)"
        except (OSError, ValueError, UnicodeDecodeError) as e:
            return f"its connection file {self._file} cannot be read ({e})"
        self._where = describe(info)
        ip = info.get("ip") if info.get("transport", "tcp") == "tcp" else None
        kernel.remote_host = None if ip in (None, "", "0.0.0.0", "*") else ip
        kc = AsyncKernelClient()
        try:
            kc.load_connection_info(info)
        except Exception as e:  # noqa: BLE001 - a malformed file, said as a sentence
            return f"its connection file {self._file} is not usable ({e})"
        gen = kernel._gen
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=timeout)
            self._session = await self._session_of(kc, timeout)
        except (RuntimeError, asyncio.TimeoutError):
            kc.stop_channels()
            return f"nothing answered at {self._where} within {timeout:g} s"
        kernel._open_zmq(kc)
        self._monitor = kc.shell_channel.socket.get_monitor_socket(zmq.EVENT_CONNECTED)
        kernel._tasks.append(asyncio.ensure_future(self._reconnects(self._monitor, gen)))
        return None

    @staticmethod
    async def _session_of(kc: Any, timeout: float) -> str:
        """The session id of the process answering ``kc`` (from a kernel_info reply's header)."""
        msg_id = kc.kernel_info()
        while True:
            msg = await asyncio.wait_for(kc.get_shell_msg(), timeout)
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg["header"]["session"]

    # ------------------------------------------------------------- identity
    def _probe(self) -> None:
        """Ask who answers now: the reply's session is checked like every message's."""
        kernel = self.kernel
        kc = kernel._kc
        if kc is not None and kernel.state in KERNEL_READY and not kernel._expect_exit:
            kc.kernel_info()

    async def _reconnects(self, monitor: Any, gen: int) -> None:
        """The shell socket connected again (the attached process went and one came): probe."""
        while True:
            try:
                event = parse_monitor_message(await monitor.recv_multipart())
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the monitor closed in teardown
                return
            if event.get("event") == zmq.EVENT_CONNECTED and gen == self.kernel._gen:
                self._probe()

    def drops(self, channel: str, msg: Dict[str, Any]) -> bool:
        """A message from another process than the one attached: it is gone, and so is this message.

        Also a kernel run again on the same ports faster than the heartbeat notices that says
        "starting" on iopub: a new process, without the bridge.
        """
        kernel = self.kernel
        session = (msg.get("header") or {}).get("session")
        if session and self._session is not None and session != self._session:
            kernel._died(f"kernel at {self._where} is a new process (started again; attached through "
                         f"{self._file})")
            return True
        if channel == "iopub" and msg.get("msg_type") == "status" and not msg.get("parent_header") \
                and (msg.get("content") or {}).get("execution_state") == "starting" \
                and kernel.state in KERNEL_READY:
            kernel._died(f"kernel at {self._where} started again (attached through {self._file})")
            return True
        return False

    # ------------------------------------------------------------- liveness
    def missed_ping(self, gen: int) -> bool:
        """Silence is the end of an attached kernel (this machine does not see its process): probe,
        and report it gone when the heartbeat is still silent :data:`HEARTBEAT_GRACE` s later."""
        self._probe()  # answered once it beats again: by the same process, or by a new one
        if self._confirm is None:
            self._confirm = asyncio.get_running_loop().call_later(HEARTBEAT_GRACE, self._confirm_gone, gen)
        return True

    def _confirm_gone(self, gen: int) -> None:
        self._confirm = None
        kernel = self.kernel
        kc = kernel._kc
        if gen != kernel._gen or kernel._expect_exit or kc is None or kernel.state not in KERNEL_READY:
            return
        if kc.hb_channel.is_beating():
            self._probe()  # it answers again: the reply's session says whether it is the same process
            return
        kernel._died(f"kernel at {self._where} stopped answering its heartbeat (attached through {self._file})")

    # ------------------------------------------------------------- actions
    async def interrupt(self) -> None:
        """``interrupt_request`` on the control channel: ipykernel sends itself SIGINT."""
        kc = self.kernel._kc
        if kc is not None:
            kc.control_channel.send(kc.session.msg("interrupt_request", {}))

    def detach(self, kc: Any) -> None:
        """The heartbeat's grace timer and the shell socket's monitor go with the channels."""
        if self._confirm is not None:
            self._confirm.cancel()
            self._confirm = None
        mon, self._monitor = self._monitor, None
        if mon is None:
            return
        try:
            kc.shell_channel.socket.disable_monitor()
        except Exception:  # noqa: BLE001 - the channel is closed already
            pass
        mon.close(linger=0)

    async def stop(self, *, now: bool, restart: bool) -> bool:
        return False  # not ours: left running

    def kill_now(self) -> None:
        """Nothing: the process is not ours to kill (the connection drops its channels)."""

    def stopped_reason(self) -> Optional[str]:
        return f"left running at {self._where} (the launcher did not start it)"
