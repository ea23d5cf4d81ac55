"""A kernel started elsewhere, reached through its connection file.

:class:`AttachedKernel` is a :class:`~tornado_launcher.kernels.kernel.Kernel` whose
process is not ours: a kernel block with ``connection_file = "conn.json"``
(for instance ``python -m ipykernel_launcher --ip=127.0.0.1 -f conn.json``
run by hand, in a container with its ports forwarded, or behind an SSH
tunnel).  It shares the message routing (``execute``, iopub/shell dispatch,
the bridge's comm records) with the local kernel and differs in its
lifecycle:

* attach = an ``AsyncKernelClient`` on the file's ports and key (re-read at
  every attach: a kernel run again with ``-f`` may have written new ones);
* liveness = the heartbeat.  jupyter_client's heartbeat thread pings once a
  second; a missed ping is handed to the loop, and when the heartbeat is
  still silent :data:`HEARTBEAT_GRACE` seconds later the kernel is reported
  gone (within 5 s of its end), its apps failed;
* identity = the kernel's session id (the ``session`` of every message's
  header: a new uuid in each ipykernel process), learnt from a
  ``kernel_info_reply`` at attach.  A message from another session on shell
  or iopub is a new process on the same ports (started again faster than the
  heartbeat notices): gone, re-attached, the bridge installed again.  Since a
  new process may send nothing by itself (its iopub ``starting`` status is
  often lost while our SUB socket reconnects), a ``kernel_info_request`` is
  sent whenever the shell socket connects again (a zmq socket monitor sees the
  TCP/IPC reconnect) and after every missed heartbeat: its reply says who
  answers;
* gone, then back: the session's restart of an attached kernel is a
  re-attach.  A process on another machine sends no event when it comes
  back, so here (and only here) the launcher tries again every
  :data:`REATTACH_INTERVAL` seconds, then installs the bridge and re-creates
  the apps as after a restart;
* ownership: the launcher never ends it.  At exit its apps are stopped (the
  session's farewell) and the kernel is left running; ``kill_now`` only
  drops the connection; ``interrupt`` is an ``interrupt_request`` on the
  control channel (ipykernel signals itself).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Callable, Optional

import zmq
from jupyter_client.asynchronous.client import AsyncKernelClient
from jupyter_client.channels import HBChannel
from traitlets import Type
from zmq.utils.monitor import parse_monitor_message

from ..engine.events import KERNEL_READY
from .kernel import Kernel, KernelStartError

log = logging.getLogger(__name__)

#: seconds the heartbeat may stay silent after a missed ping before the kernel is reported gone
HEARTBEAT_GRACE = 2.5
#: seconds between attempts to reach a kernel that is gone (or not started yet)
REATTACH_INTERVAL = 2.0


class _Heartbeat(HBChannel):
    """jupyter_client's heartbeat thread, telling the owner of each missed ping."""

    on_miss: Optional[Callable[[float], None]] = None

    def call_handlers(self, since_last_heartbeat: float) -> None:  # runs in the heartbeat thread
        cb = self.on_miss
        if cb is not None:
            cb(since_last_heartbeat)


class _Client(AsyncKernelClient):
    hb_channel_class = Type(_Heartbeat)


def describe(info: dict) -> str:
    """Where a connection file points, for sentences: ``tcp 127.0.0.1 (shell port 5001)``."""
    transport = info.get("transport", "tcp")
    if transport == "ipc":
        return f"ipc {info.get('ip')}"
    return f"{info.get('ip')} (shell port {info.get('shell_port')})"


class AttachedKernel(Kernel):
    """A running kernel reached through ``connection_file``; never started or ended by us."""

    #: the session waits for it to come back rather than failing at a start that does not reach it
    reattaches = True
    #: the launcher did not start it and leaves it running at exit
    owned = False

    def __init__(self, name: str, *, connection_file: str, **kw: Any) -> None:
        super().__init__(name, **kw)
        self._connection_file = connection_file
        self._where = connection_file
        self._confirm: Optional[asyncio.TimerHandle] = None
        self._stopping: Optional[asyncio.Event] = None
        #: the attached process's session id (its messages' header ``session``)
        self._kernel_session: Optional[str] = None
        self._monitor: Any = None

    @property
    def connection_file(self) -> Optional[str]:
        """The kernel's connection file (the console tab attaches with it) while attached, or None."""
        return self._connection_file if self._kc is not None and self.state in KERNEL_READY else None

    # ------------------------------------------------------------- attaching
    def _read_info(self) -> dict:
        with open(self._connection_file, "rb") as f:
            info = json.loads(f.read(1 << 20).decode("utf-8"))
        if not isinstance(info, dict):
            raise ValueError("not a JSON object")
        return info

    async def _attach(self, timeout: float) -> Optional[str]:
        """One attempt: a client on the file's ports, ready within ``timeout``. None, or why not."""
        try:
            info = self._read_info()
        except FileNotFoundError:
            return f"its connection file {self._connection_file} does not exist (yet)"
        except (OSError, ValueError, UnicodeDecodeError) as e:
            return f"its connection file {self._connection_file} cannot be read ({e})"
        self._where = describe(info)
        ip = info.get("ip") if info.get("transport", "tcp") == "tcp" else None
        self.remote_host = None if ip in (None, "", "0.0.0.0", "*") else ip
        kc = _Client()
        try:
            kc.load_connection_info(info)
        except Exception as e:  # noqa: BLE001 - a malformed file, said as a sentence
            return f"its connection file {self._connection_file} is not usable ({e})"
        loop = self._loop
        assert loop is not None
        gen = self._gen
        hb = kc.hb_channel
        hb.on_miss = lambda since: loop.call_soon_threadsafe(self._missed_beat, gen)
        kc.start_channels()
        try:
            await kc.wait_for_ready(timeout=timeout)
            self._kernel_session = await self._session_of(kc, timeout)
        except (RuntimeError, asyncio.TimeoutError):
            hb.on_miss = None
            kc.stop_channels()
            return f"nothing answered at {self._where} within {timeout:g} s"
        self._kc = kc
        self._monitor = kc.shell_channel.socket.get_monitor_socket(zmq.EVENT_CONNECTED)
        self._tasks = [
            asyncio.ensure_future(self._iopub_loop(kc)),
            asyncio.ensure_future(self._shell_loop(kc)),
            asyncio.ensure_future(self._reconnects(self._monitor, gen)),
        ]
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
        kc = self._kc
        if kc is not None and self.state in KERNEL_READY and not self._expect_exit:
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
            if event.get("event") == zmq.EVENT_CONNECTED and gen == self._gen:
                self._probe()

    def _foreign(self, msg: Any) -> bool:
        """Whether ``msg`` comes from another process than the one attached (then it is gone)."""
        session = (msg.get("header") or {}).get("session")
        if not session or self._kernel_session is None or session == self._kernel_session:
            return False
        if self.state in KERNEL_READY and not self._expect_exit:
            self._gone(f"kernel at {self._where} is a new process (started again; attached through "
                       f"{self._connection_file})")
        return True

    def _handle(self, msg: Any) -> None:
        if not self._foreign(msg):
            super()._handle(msg)

    def _unreachable(self, why: str) -> str:
        return (f"kernel {self.name!r} (attached through {self._connection_file}): {why}. Start it, e.g. "
                f"`python -m ipykernel_launcher --ip=127.0.0.1 -f {self._connection_file}`, or fix "
                "`connection_file`; the launcher attaches as soon as it answers.")

    async def start(self) -> None:
        """Attach; raise :class:`KernelStartError` (a sentence) when nothing answers."""
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._gen = next(self._generation)
        self._expect_exit = False
        self._set_state("starting")
        why = await self._attach(self.startup_timeout)
        if why is not None:
            msg = self._unreachable(why)
            self._set_state("dead", msg)
            raise KernelStartError(msg)
        self._set_state("idle")

    async def restart(self) -> None:
        """Re-attach (the process is not ours to restart): wait until it answers again.

        Returns once attached; raises :class:`KernelStartError` when shut down meanwhile.
        """
        self._expect_exit = True
        await self._teardown(now=True)
        self._loop = asyncio.get_running_loop()
        if self._stopping is None:
            self._stopping = asyncio.Event()
        stopping = self._stopping
        self._set_state("restarting")
        said = None
        while not stopping.is_set():
            self._gen = next(self._generation)
            self._expect_exit = False
            why = await self._attach(self.startup_timeout)
            if why is None:
                self._set_state("idle")
                return
            if why != said:  # say it once, not at every attempt
                said = why
                self._set_state("dead", self._unreachable(why))
            try:
                await asyncio.wait_for(stopping.wait(), REATTACH_INTERVAL)
            except asyncio.TimeoutError:
                pass
        raise KernelStartError(f"kernel {self.name!r}: shut down while waiting for it to answer")

    # ------------------------------------------------------------- liveness
    def _missed_beat(self, gen: int) -> None:
        if gen != self._gen or self._expect_exit or self.state not in KERNEL_READY:
            return
        self._probe()  # answered once it beats again: by the same process, or by a new one
        if self._confirm is None:
            self._confirm = asyncio.get_running_loop().call_later(HEARTBEAT_GRACE, self._confirm_gone, gen)

    def _handle_status(self, msg: Any, content: Any, route: Any) -> None:
        # A kernel run again on the same ports faster than the heartbeat notices says
        # "starting" on iopub: it is a new process, without the bridge.
        if content.get("execution_state") == "starting" and not msg.get("parent_header") \
                and self.state in KERNEL_READY:
            self._gone(f"kernel at {self._where} started again (attached through {self._connection_file})")
            return
        super()._handle_status(msg, content, route)

    def _confirm_gone(self, gen: int) -> None:
        self._confirm = None
        kc = self._kc
        if gen != self._gen or self._expect_exit or kc is None or self.state not in KERNEL_READY:
            return
        if kc.hb_channel.is_beating():
            self._probe()  # it answers again: the reply's session says whether it is the same process
            return
        self._gone(f"kernel at {self._where} stopped answering its heartbeat "
                   f"(attached through {self._connection_file})")

    def _gone(self, reason: str) -> None:
        if self._expect_exit or self.state not in KERNEL_READY:
            return
        if self._confirm is not None:
            self._confirm.cancel()
            self._confirm = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result({"status": "error", "ename": "KernelDied", "evalue": reason, "traceback": []})
        self._pending.clear()
        self._gen = next(self._generation)  # later misses of this client are not news
        self._set_state("dead", reason)
        self._on_death(reason)

    # ------------------------------------------------------------- actions
    async def interrupt(self) -> None:
        """``interrupt_request`` on the control channel: ipykernel sends itself SIGINT."""
        kc = self._kc
        if kc is not None and self.state in KERNEL_READY:
            kc.control_channel.send(kc.session.msg("interrupt_request", {}))

    async def _teardown(self, now: bool) -> None:
        if self._confirm is not None:
            self._confirm.cancel()
            self._confirm = None
        kc = self._kc
        if kc is not None and kc._hb_channel is not None:
            kc._hb_channel.on_miss = None
        self._stop_monitor(kc)
        await super()._teardown(now)  # no manager: channels only, the process is left alone

    async def shutdown(self, now: bool = False) -> None:
        """Let go of the kernel, leaving it running (it is not ours). Idempotent."""
        self._expect_exit = True
        if self._stopping is not None:
            self._stopping.set()
        attached = self._kc is not None
        await self._teardown(now=now)
        if attached or self.state != "dead":
            self._set_state("stopped", f"left running at {self._where} (the launcher did not start it)")

    def _stop_monitor(self, kc: Any) -> None:
        mon, self._monitor = self._monitor, None
        if mon is None:
            return
        for t in self._tasks:  # the monitor's reader first: it must not read a closed socket
            t.cancel()
        try:
            if kc is not None:
                kc.shell_channel.socket.disable_monitor()
        except Exception:  # noqa: BLE001 - the channel is closed already
            pass
        mon.close(linger=0)

    def kill_now(self) -> None:
        """Drop the connection only: the process is not ours to kill."""
        self._expect_exit = True
        if self._stopping is not None:
            self._stopping.set()
        kc, self._kc = self._kc, None
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:  # noqa: BLE001
                pass

    def _handle_hello(self, rec: dict) -> None:
        """The bridge names the process: its pid is the attached kernel's (on its machine)."""
        super()._handle_hello(rec)
        pid = rec.get("pid")
        if isinstance(pid, int) and pid != self.pid:
            self.pid = pid
            self._set_state(self.state, None)
