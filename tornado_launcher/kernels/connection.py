"""One connection to an IPython kernel: its channels, what it says, what we ask of it.

A kernel here is two objects composed, as jupyter_client keeps its client (channels,
messages) apart from its ``KernelProvisionerBase`` (how a kernel comes to be):

* :class:`KernelConnection`, the one object the engine holds per kernel block, written once for
  every kind of kernel: the channels (a jupyter_client ``AsyncKernelClient`` over ZeroMQ, or a
  gateway's websocket), the routing of what the kernel says (a shell reply to the cell waiting
  for it; iopub status, cell output and the bridge's comm records to events), :meth:`execute`
  and the shell re-arm, the heartbeat (heartbeat.py), the state, a death told to the owner, the
  bridge's ``hello``; and the lifecycle every kind shares: the start preamble, the restart that
  tries again until the kernel answers, shutdown and :meth:`kill_now`.
* a :class:`Provisioner`, which only starts (or reaches) the kernel, restarts, interrupts and
  stops or kills it: a process started here (local.py), a kernel started elsewhere reached by
  its connection file (attached.py), one launched by a Jupyter Kernel Gateway (gateway.py).
  Once its kernel answers it opens the connection's channels (:meth:`KernelConnection._open_zmq`
  or :meth:`KernelConnection._open_channels`); when the kernel ends unasked it says so
  (:meth:`KernelConnection._died`); hooks let it read silence (``missed_ping``) and strangers'
  messages (``drops``) its own way.

Users of the channels besides the bridge's events register comm handlers (comms.py): the
tunnel to a remote kernel's apps and the file push (``remote/tunnel.py``, ``remote/sync.py``,
kept in ``tunnel`` and ``sync``).

What it guarantees:

* Everything the kernel says becomes an event from :mod:`tornado_launcher.engine.events`:
  structured records from the bridge's comm, cell output as whole lines (streams.py), and for a
  process of ours its raw stdout/stderr (crash output that never reaches iopub).
* Death is an event, not a poll: the provisioner hears it (a thread blocked in ``Popen.wait()``,
  a silent heartbeat, a closed websocket) and the connection tells ``on_death`` once; the owner
  decides whether to restart (the session's crash-loop guard). A kernel that is not ours to
  start again (:attr:`KernelConnection.reattaches`) is waited for instead.
* Cells and a second client (the console tab): every cell of ours goes with
  ``stop_on_error=False`` (user code blocks too), so an error in ours never aborts what another
  client queued, nor the restart queued behind it. After a cell sent with ``stop_on_error``
  fails (qtconsole's do), ipykernel aborts every execute request already queued, whoever sent
  it: an ``aborted`` cell of ours never ran, so it is sent again (:data:`ABORTED_RETRIES`), and
  the log says so; :func:`describe_error` is the one wording of a failed reply (never
  "None: None"). Cell output whose parent is another client's session is that client's to show
  (``_handle`` drops it); the console attaches to :attr:`KernelConnection.connection_file` only
  while the kernel is up.
* Only a process of ours has raw stdout/stderr read here; for the others ipykernel's lines about
  rejected pipe messages are counted on iopub (streams.py).

Thread-safety: every public method must be called on the loop thread. Reader, waiter and
heartbeat threads only call ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from abc import ABC, abstractmethod
from typing import Any, Awaitable, Callable, Coroutine, Dict, Optional

import zmq

from ..bridge import protocol
from ..engine.events import KERNEL_READY, AppState, Event, KernelState, KernelStateName, LogRecord, LoopBlocked
from ..remote.urls import shown_urls
from ..terminal.backlog import Backlog
from ..text import strip_ansi
from .comms import BridgeComms
from .heartbeat import HeartbeatWatch
from .kernel_pipe import PIPE_LOGGER, RejectedMessages
from .streams import StreamLines

log = logging.getLogger(__name__)

#: times a cell of ours is sent again after the kernel aborted it unrun
ABORTED_RETRIES = 3


def describe_error(reply: Dict[str, Any]) -> str:
    """A failed execute reply as a sentence: ``ZeroDivisionError: division by
    zero``, never ``None: None`` (an ``aborted`` reply has no error name)."""
    ename, evalue = reply.get("ename"), reply.get("evalue")
    if ename:
        return f"{ename}: {evalue}" if evalue else str(ename)
    if reply.get("status") == "aborted":
        return ("the kernel skipped this cell because another cell sent to it just before (typed in "
                "a console, perhaps) raised an error; try again")
    return f"the kernel answered {reply.get('status') or 'nothing'!r} without naming an error; see the kernel's log"


class KernelStartError(Exception):
    """A kernel could not be started; ``str()`` is a sentence for the user."""


class Provisioner(ABC):
    """How one kernel comes to be and goes: the part of a kernel that differs by where it runs.

    :class:`KernelConnection` calls it on the loop thread, with its ``kernel`` bound
    (:meth:`bind`); the connection has done what every kind shares (states, generations, the
    retry loop, dropping the channels) before and after each call. What a provisioner uses of
    its kernel (same package): ``name``, ``pid``, ``remote_host``, ``_gen`` and ``_loop`` (the
    attempt under way), ``_expect_exit``, ``_kc``; ``_open_zmq`` / ``_open_channels`` (with
    ``_on_shell`` / ``_on_iopub`` for a transport of its own) and ``_tasks`` for readers of its
    own; ``_died``, ``_drop_channels``, ``_log`` / ``_on_event``; ``rejected`` / ``_reads_raw``
    for a process whose raw output it reads.
    """

    #: seconds between attempts while the kernel does not answer: a restart waits for it, and
    #: the session waits for one that did not answer at start. None: a failed start is final
    #: (a process of ours: it says why it failed).
    retry_interval: Optional[float] = None
    #: the bridge's ``hello`` names the kernel's pid (a process this machine does not see, or not ours)
    pid_from_hello = False
    kernel: "KernelConnection"

    def bind(self, kernel: "KernelConnection") -> None:
        """The connection this provisioner provisions (called once, by the connection)."""
        self.kernel = kernel

    @property
    def connection_file(self) -> Optional[str]:
        """The kernel's connection file (what ``jupyter console --existing`` takes), if it has one."""
        return None

    @abstractmethod
    async def launch(self, restart: bool) -> None:
        """Start or reach the kernel; open the connection's channels once it answers.

        Raises :class:`KernelStartError` (a sentence) when it does not. ``restart``: a restart's
        attempt (the kernel may be asked to restart where it is rather than made anew).
        """

    @abstractmethod
    async def stop(self, *, now: bool, restart: bool) -> bool:
        """End the kernel, its channels already closed: at shutdown, or (``restart``) before a
        restart's launch. Whether there was a kernel of ours to end."""

    @abstractmethod
    async def interrupt(self) -> None:
        """SIGINT for the kernel's current cell (the kernel is ready)."""

    @abstractmethod
    def kill_now(self) -> None:
        """End the kernel at once if it is ours to end (a second Ctrl+C). Synchronous."""

    def detach(self, kc: Any) -> None:
        """The channels ``kc`` are about to close (their readers are cancelled already)."""
        return None  # a hook: most provisioners hold nothing on the channels

    def drops(self, channel: str, msg: Dict[str, Any]) -> bool:
        """Whether ``msg`` (read on ``channel``) is not from the kernel this connection knows, and
        is dropped (the provisioner then tells the connection it is gone)."""
        return False

    def missed_ping(self, gen: int) -> bool:
        """The kernel missed a heartbeat (it is ready, ``gen`` current): whether the provisioner
        reads that silence itself; else the connection reports "not responding" (heartbeat.py)."""
        return False

    def stopped_reason(self) -> Optional[str]:
        """What the "stopped" state says at shutdown (a kernel left running: where)."""
        return None


class KernelConnection(BridgeComms, StreamLines, HeartbeatWatch):
    """One kernel's channels and state, provisioned by ``provisioner``.

    ``on_event`` receives every event (on the loop thread); ``on_death`` is
    called with a reason when the kernel ends without being asked to.
    """

    def __init__(self, name: str, provisioner: Provisioner, *, on_event: Callable[[Event], None],
                 on_death: Callable[[str], None]) -> None:
        self.name = name
        self._on_event = on_event
        self._on_death = on_death
        self.state: KernelStateName = KernelStateName.STOPPED
        self.pid: Optional[int] = None
        #: the jupyter_client client (or a gateway's websocket as one) while connected, else None
        self._kc: Any = None
        #: the readers of ``_kc`` (and a provisioner's own tasks on it): cancelled with the channels
        self._tasks: list = []
        self._pending: Dict[str, asyncio.Future] = {}
        self._routes: Dict[str, Dict[str, Any]] = {}
        #: an end of the kernel now is ours (shutdown, restart, a failed start): not a death
        self._expect_exit = False
        #: set by shutdown and kill_now: a restart waiting for the kernel to answer gives up
        self._stopping: Optional[asyncio.Event] = None
        #: messages ipykernel's pipe rejected, counted by the raw readers, reported per interval
        self.rejected = RejectedMessages(self._report_rejected)
        #: whether the process's own stdout/stderr are read here (a process of ours: local.py)
        self._reads_raw = False
        self._init_streams()
        #: each start or attempt is a generation: news from an older one (a thread, a timer) is stale
        self._generation = itertools.count(1)
        self._gen = 0
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        #: the bridge's last ``hello`` record (pid, python, tornado, bridge version, project_dir)
        self.hello: Optional[Dict[str, Any]] = None
        #: the host of a kernel on another machine (None: this one); its apps' URLs name it
        self.remote_host: Optional[str] = None
        self._hinted: set = set()
        #: who hears the ``files`` records of a watcher in the kernel (the Reloader, ``remote_files``)
        self.on_files: Optional[Callable[[Dict[str, Any]], None]] = None
        #: handlers of the bridge's other comms, by target (comms.py)
        self._init_comms()
        #: apps on the kernel's machine reached through its connection (``tunnel``; tunnel.py)
        self.tunnel: Any = None
        #: the project pushed to the kernel's filesystem (``sync``; sync.py)
        self.sync: Any = None
        #: heartbeat: missed pings in a row, when it was reported silent (monotonic), the recheck
        self._hb_missed = 0
        self._silent_since: Optional[float] = None
        self._hb_timer: Optional[asyncio.TimerHandle] = None
        #: log records that arrive too late are dropped and counted (backlog.py)
        self._backlog = Backlog()
        self.provisioner = provisioner
        provisioner.bind(self)

    @property
    def connection_file(self) -> Optional[str]:
        """The running kernel's connection file (what ``jupyter console --existing``
        takes: the console tab attaches with it), or None."""
        if self._kc is None or self.state not in KERNEL_READY:
            return None
        return self.provisioner.connection_file

    @property
    def reattaches(self) -> bool:
        """After its death (or a start it did not answer) the session waits for it to come back:
        it is not ours to start again (attached, or behind a gateway)."""
        return self.provisioner.retry_interval is not None

    @property
    def responding(self) -> bool:
        """False while the kernel's heartbeat does not answer (a stopped or wedged process)."""
        return self._silent_since is None

    def _set_state(self, state: str, reason: Optional[str] = None) -> None:
        self.state = KernelStateName(state)
        if state in KERNEL_READY and self._silent_since is not None:
            return  # still "not responding" for the views until the heartbeat answers
        self._on_event(KernelState(self.name, state, reason, self.pid))

    def _log(self, level: str, message: str, origin: str = "launcher") -> None:
        self._on_event(LogRecord(self.name, None, level, message, logger="tornado_launcher", origin=origin))

    def _report_rejected(self, text: str) -> None:
        self._on_event(LogRecord(self.name, None, "WARNING", text, logger=PIPE_LOGGER, origin="raw"))

    # -------------------------------------------------------------- lifecycle
    def _begin(self) -> None:
        """The preamble of every start and attempt: a new generation, whose end is news."""
        self._loop = asyncio.get_running_loop()
        self.rejected.bind(self._loop)
        self._flush_streams()
        self._gen = next(self._generation)
        self._expect_exit = False

    async def start(self) -> None:
        """Start (or reach) the kernel; return once it answers.

        Raises :class:`KernelStartError` (a sentence, also the "dead" state's reason) when it does not.
        """
        self._stopping = asyncio.Event()
        self._begin()
        self._set_state("starting")
        try:
            await self.provisioner.launch(restart=False)
        except KernelStartError as e:
            self._drop_channels()
            self._set_state("dead", str(e))
            raise
        self._set_state("idle")

    async def restart(self) -> None:
        """The kernel again (after its death, or on the user's request); returns once it answers.

        A process of ours is stopped and started afresh (a failed start raises, as :meth:`start`).
        A kernel not ours to start is tried every ``retry_interval`` seconds until it answers, each
        new reason said once as a "dead" state; raises :class:`KernelStartError` when shut down
        meanwhile.
        """
        self._expect_exit = True
        await self._close(now=True, restart=True)
        self._set_state("restarting")
        interval = self.provisioner.retry_interval
        if interval is None:
            await self.start()
            return
        if self._stopping is None:
            self._stopping = asyncio.Event()
        stopping = self._stopping
        said = None
        while not stopping.is_set():
            self._begin()
            try:
                await self.provisioner.launch(restart=True)
            except KernelStartError as e:
                self._drop_channels()
                if str(e) != said:  # say it once, not at every attempt
                    said = str(e)
                    self._set_state("dead", said)
            else:
                self._set_state("idle")
                return
            try:
                await asyncio.wait_for(stopping.wait(), interval)
            except asyncio.TimeoutError:
                pass
        raise KernelStartError(f"kernel {self.name!r}: shut down while waiting for it to answer")

    async def interrupt(self) -> None:
        """SIGINT for the running cell, as the provisioner sends it; nothing unless the kernel is ready."""
        if self.state in KERNEL_READY:
            await self.provisioner.interrupt()

    async def shutdown(self, now: bool = False) -> None:
        """Stop the kernel (or let go of one that is not ours) and release its files. Idempotent."""
        self._expect_exit = True
        if self._stopping is not None:
            self._stopping.set()
        connected = self._kc is not None
        ended = await self._close(now=now, restart=False)
        if connected or ended or self.state not in ("dead", "stopped"):
            self._set_state("stopped", self.provisioner.stopped_reason())

    def kill_now(self) -> None:
        """A second Ctrl+C: end the kernel at once if it is ours, and drop its channels. Synchronous."""
        self._expect_exit = True
        if self._stopping is not None:
            self._stopping.set()
        self.provisioner.kill_now()
        self._drop_channels()

    async def _close(self, *, now: bool, restart: bool) -> bool:
        """The channels dropped, then the kernel ended by its provisioner (whether there was one)."""
        self._drop_channels()
        return await self.provisioner.stop(now=now, restart=restart)

    def _died(self, reason: str, gen: Optional[int] = None) -> None:
        """The kernel ended unasked (its provisioner tells; ``gen``: the generation it knew).

        Cells waiting for a reply get ``KernelDied``; the state is "dead"; the owner hears.
        Later news of this generation is stale.
        """
        if (gen is not None and gen != self._gen) or self._expect_exit or self.state not in KERNEL_READY:
            return
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result({"status": "error", "ename": "KernelDied", "evalue": reason, "traceback": []})
        self._pending.clear()
        self._gen = next(self._generation)
        self._set_state("dead", reason)
        self._on_death(reason)

    # --------------------------------------------------------------- channels
    def _open_channels(self, kc: Any, *readers: Coroutine[Any, Any, None]) -> None:
        """The kernel's channels ``kc``, read by ``readers`` (tasks cancelled when they are dropped)."""
        self._kc = kc
        self._tasks = [asyncio.ensure_future(r) for r in readers]

    def _open_zmq(self, kc: Any) -> None:
        """A jupyter_client client whose kernel answered: its shell and iopub read here, its
        missed heartbeats heard (heartbeat.py)."""
        self._open_channels(kc, self._read(kc.get_iopub_msg, self._on_iopub),
                            self._read(kc.get_shell_msg, self._on_shell))
        self._watch_heartbeat(kc, self._gen)

    def _stop_routing(self) -> None:
        """Cancel the reader tasks and every cell still waiting for its reply."""
        for t in self._tasks:
            t.cancel()
        self._tasks = []
        for fut in self._pending.values():
            if not fut.done():
                fut.cancel()
        self._pending.clear()

    def _drop_channels(self) -> None:
        """Close the channels (the kernel itself is the provisioner's): readers, waiting cells,
        heartbeat timers. Idempotent."""
        if self._hb_timer is not None:
            self._hb_timer.cancel()
            self._hb_timer = None
        self._silent_since = None
        self._stop_routing()
        kc, self._kc = self._kc, None
        if kc is not None:
            self.provisioner.detach(kc)
            try:
                kc.stop_channels()
            except Exception:  # noqa: BLE001 - closing already
                pass

    def _rearm_shell(self) -> None:
        """After a send on the shell socket: wake the reader for replies the send may have hidden.

        A zmq socket's FD is edge-triggered: any operation on the socket (a send too) takes in
        the socket's pending commands, and with them the FD's readable edge for a reply that
        had just arrived.  pyzmq's asyncio socket re-checks ``EVENTS`` after its own sends, but
        jupyter_client's ``Session.send`` sends on a plain shadow of it, which that socket never
        sees: the reply then sits unread while the shell's reader (:meth:`_read`) waits for an edge that never
        comes (the kernel idle, every cell waiting for its reply).  Reading ``EVENTS`` through
        the asyncio socket is pyzmq's own re-arm: it schedules the reader if a message waits.
        """
        kc = self._kc
        socket = getattr(getattr(kc, "shell_channel", None), "socket", None)
        if socket is None or socket.closed:
            return
        try:
            socket.get(zmq.EVENTS)
        except zmq.ZMQError:
            pass  # closing: the shell loop ends with the channel

    @staticmethod
    async def _read(get: Callable[[], Awaitable[Dict[str, Any]]], route: Callable[[Dict[str, Any]], None]) -> None:
        """Read one of a client's channels (``get``) until it closes; each message to ``route``."""
        while True:
            try:
                msg = await get()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - channel closed during teardown
                return
            route(msg)

    # ---------------------------------------------------------------- routing
    def _on_shell(self, msg: Dict[str, Any]) -> None:
        """A shell message: the reply a cell of ours waits for."""
        if self.provisioner.drops("shell", msg):
            return
        parent = msg.get("parent_header", {}).get("msg_id")
        fut = self._pending.pop(parent, None)
        if fut is not None and not fut.done():
            fut.set_result(msg["content"])

    def _on_iopub(self, msg: Dict[str, Any]) -> None:
        """An iopub message: status, cell output, the bridge's comms."""
        try:
            if not self.provisioner.drops("iopub", msg):
                self._handle(msg)
        except Exception:  # noqa: BLE001 - one bad message must not stop routing
            log.exception("kernel %s: could not handle %s", self.name, msg.get("msg_type"))

    #: cell output another client (the console tab) asked for is that client's to show
    _OUTPUT = frozenset({"stream", "error", "execute_result", "display_data"})

    def _handle(self, msg: Dict[str, Any]) -> None:
        if msg["msg_type"] in self._OUTPUT and self._kc is not None:
            session = (msg.get("parent_header") or {}).get("session")
            if session and session != self._kc.session.session:
                return
        handler = getattr(self, f"_handle_{msg['msg_type']}", None)
        if handler is not None:
            handler(msg, msg["content"], self._routes.get(msg.get("parent_header", {}).get("msg_id")))

    def _handle_status(self, msg: Any, content: Any, route: Any) -> None:
        parent = msg.get("parent_header") or {}
        if parent.get("msg_type") == "comm_msg" and self._kc is not None \
                and parent.get("session") == self._kc.session.session:
            return  # our comm traffic (the tunnel's bytes) is not the kernel being busy
        state = content.get("execution_state")
        if state == "idle" and route is not None and not route["idle"].done():
            route["idle"].set_result(None)
        if state in KERNEL_READY and self.state in KERNEL_READY and state != self.state:
            self._set_state(state)

    def _handle_error(self, msg: Any, content: Any, route: Any) -> None:
        tb = "\n".join(content.get("traceback", []))
        if route is not None and route.get("capture") is not None:
            route["capture"]["traceback"].append(tb)
            return
        app = route.get("app") if route else None
        summary = f"{content.get('ename', 'Error')}: {content.get('evalue', '')}"
        what = route.get("what") if route else None
        if what:
            summary = f"{what} failed: {summary}"
        self._on_event(LogRecord(self.name, app, "ERROR", summary, logger="cell", traceback=strip_ansi(tb),
                                 origin="cell"))

    def _handle_execute_result(self, msg: Any, content: Any, route: Any) -> None:
        text = content.get("data", {}).get("text/plain", "")
        if route is not None and route.get("capture") is not None:
            route["capture"]["result"].append(text)

    _handle_display_data = _handle_execute_result

    def _handle_comm_open(self, msg: Any, content: Any, route: Any) -> None:
        if content.get("target_name") == protocol.COMM_TARGET:
            self._handle_records(content.get("data") or {})
        else:
            self._route_comm_open(content)

    def _handle_comm_msg(self, msg: Any, content: Any, route: Any) -> None:
        if self._route_comm_msg(content):
            return
        behind = self._backlog.behind(msg.get("header"))
        self._handle_records(content.get("data") or {}, behind)
        if not behind:
            said = self._backlog.said()
            if said is not None:
                self._on_event(LogRecord(self.name, None, "WARNING", said, logger="tornado_launcher",
                                         origin="launcher"))

    def _handle_records(self, data: Dict[str, Any], behind: bool = False) -> None:
        for rec in protocol.decode(data):
            kind = rec["type"]
            if kind == protocol.LOG and behind and not str(rec["message"]).startswith("tornado-launcher: "):
                self._backlog.dropped += 1  # (the bridge's own notes, e.g. its drop count, are kept)
            elif kind == protocol.LOG:
                self._on_event(LogRecord(
                    self.name, rec["app"], rec["level"], rec["message"], logger=rec["logger"],
                    time=rec["time"], traceback=rec["traceback"], origin=rec["origin"],
                ))
            elif kind == protocol.STATE:
                self._on_event(AppState(
                    rec["app"], self.name, rec["state"], rec["reason"],
                    rec["elapsed_ms"], self._shown_urls(rec), rec["threaded"],
                    template_paths=rec["template_paths"], static_paths=rec["static_paths"], reload=rec["reload"],
                ))
            elif kind == protocol.HANG:
                self._on_event(LoopBlocked(self.name, rec["loop"], rec["apps"], rec["blocked"],
                                           rec["seconds"], rec["where"]))
            elif kind == protocol.HELLO:
                self._handle_hello(rec)
            elif kind == protocol.FILES and self.on_files is not None:
                self.on_files(rec)

    def _shown_urls(self, rec: Dict[str, Any]) -> tuple:
        """The URLs a state record's app serves, as a browser here reaches them (remote/urls.py;
        through the kernel's connection when it has a ``tunnel``)."""
        if self.tunnel is not None and rec["urls"] and rec["state"] == "running":
            return self.tunnel.local_urls(rec["urls"])
        return shown_urls(self.name, rec, self.remote_host, self._hinted, self._on_event)

    def _handle_hello(self, rec: Dict[str, Any]) -> None:
        """The bridge says who it is (at each install): kept in ``self.hello``. For a kernel this
        machine does not see as its own process, its pid is the kernel's (on its machine)."""
        self.hello = rec
        pid = rec.get("pid")
        if self.provisioner.pid_from_hello and isinstance(pid, int) and pid != self.pid:
            self.pid = pid
            self._set_state(self.state, None)

    # -------------------------------------------------------------- execution
    async def execute(
        self,
        code: str,
        *,
        app: Optional[str] = None,
        what: Optional[str] = None,
        capture: bool = False,
        timeout: Optional[float] = None,
        store_history: Optional[bool] = None,
    ) -> Dict[str, Any]:
        """Run ``code`` as a cell; return its reply content.

        Output goes to ``app``'s log (or the kernel's) unless ``capture`` is
        true, in which case the reply dict also has ``stdout``, ``stderr``,
        ``result`` and ``traceback`` (for the console).  ``what`` names the
        action in error messages ("start code of app 'web'").
        """
        if self._kc is None or self.state not in KERNEL_READY:
            return {"status": "error", "ename": "KernelNotRunning",
                    "evalue": f"kernel {self.name!r} is {self.state}", "traceback": []}
        loop = asyncio.get_running_loop()
        route: Dict[str, Any] = {"app": app, "what": what, "capture": None, "idle": loop.create_future()}
        if capture:
            route["capture"] = {"stdout": [], "stderr": [], "result": [], "traceback": []}
        if store_history is None:
            store_history = capture  # the console's cells are the user's history; plumbing is not
        for attempt in range(ABORTED_RETRIES):
            reply = await self._execute_once(code, route, store_history, timeout)
            # ipykernel aborts every queued request, whoever sent it, after a
            # cell with stop_on_error fails (a console's, say): ours never ran, so send it again
            if (reply.get("status") != "aborted" or self._kc is None or self.state not in KERNEL_READY
                    or attempt == ABORTED_RETRIES - 1):
                break
            log.info("kernel %s: %s was aborted unrun after another client's error; sending it again",
                     self.name, what or "a cell")
            self._aborted(app, what, again=True)
            route["idle"] = loop.create_future()
        if reply.get("status") == "aborted":
            self._aborted(app, what, again=False)  # the reply stays "aborted": describe_error() says why
        if capture:
            cap = route["capture"]
            reply = dict(reply)
            reply["stdout"] = "".join(cap["stdout"])
            reply["stderr"] = "".join(cap["stderr"])
            reply["result"] = "\n".join(cap["result"]) or None
            reply["traceback"] = "\n".join(cap["traceback"]) or None
        return reply

    def _aborted(self, app: Optional[str], what: Optional[str], *, again: bool) -> None:
        """An "aborted" reply is never silence: the log says the cell did not run, and why."""
        why = ("the kernel aborted it unrun because a cell queued before it raised (sent by another "
               "client with stop_on_error)")
        self._on_event(LogRecord(
            self.name, app, "WARNING" if again else "ERROR",
            f"{what or 'a cell'} did not run: {why}; " + ("sending it again" if again else
                                                           f"gave up after {ABORTED_RETRIES} tries"),
            logger="cell", origin="launcher"))

    async def _execute_once(self, code: str, route: Dict[str, Any], store_history: bool,
                            timeout: Optional[float]) -> Dict[str, Any]:
        loop = asyncio.get_running_loop()
        # stop_on_error=False: an error in our cell must not abort the cells
        # other clients (a console) have queued in the kernel
        msg_id = self._kc.execute(code, silent=False, store_history=store_history, allow_stdin=False,
                                  stop_on_error=False)
        self._rearm_shell()
        fut = loop.create_future()
        self._pending[msg_id] = fut
        self._routes[msg_id] = route
        try:
            reply = await asyncio.wait_for(fut, timeout) if timeout else await fut
            # The cell's output on iopub ends with its "idle" status, which may
            # trail the shell reply: wait for it so output is complete and in order.
            if reply.get("ename") != "KernelDied":
                try:
                    await asyncio.wait_for(asyncio.shield(route["idle"]), 5.0)
                except asyncio.TimeoutError:
                    pass
        finally:
            self._pending.pop(msg_id, None)
            # late iopub output (after idle is impossible, but cheap to allow)
            loop.call_later(1.0, self._routes.pop, msg_id, None)
        return reply
