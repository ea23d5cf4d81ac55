"""The events the engine emits, and the only vocabulary views need.

The :class:`~tornado_launcher.engine.session.Session` turns everything that happens
(kernel output, structured records from the in-kernel bridge, its own
decisions) into these plain, immutable objects and hands each one to every
subscriber, in order, on the event loop thread.  Views (the headless printer,
the Qt window) render them and never reach further into the engine.

No Qt, no jupyter_client here: just data.
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import Callable, Literal, Optional, Type, TypeVar, Union

from ..bridge.protocol import LEVELS


class WireStr(str, enum.Enum):
    """An enum whose members are the very strings the wire, the logs and the views use.

    A member *is* its value as a ``str`` (``==``, ``hash``, ``json.dumps``), and ``str()``,
    ``format()`` and f-strings give the value on every Python (a plain ``(str, Enum)`` gives
    ``Class.NAME`` there on 3.11), so nothing that prints or sends a state changes.
    """

    __str__ = str.__str__
    __format__ = str.__format__
    __hash__ = str.__hash__

    @classmethod
    def coerce(cls: Type[_W], value: str) -> Union[_W, str]:
        """``value`` as a member; a string this enum does not know passes through unchanged."""
        try:
            return cls(value)
        except ValueError:
            return value


_W = TypeVar("_W", bound=WireStr)


class AppStateName(WireStr):
    """States of an app as the bridge and the session report them.

    ``stale`` is "serving old code": a save did not compile, the previous
    version keeps serving.  ``not responding``: the loop the app runs on is
    blocked (see :class:`LoopBlocked`), or its kernel does not answer; the
    reason says where.  Both are shown over the state the bridge reported.
    """

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"
    FAILED = "failed"
    STALE = "stale"
    NOT_RESPONDING = "not responding"


class KernelStateName(WireStr):
    """States of a kernel.  ``not responding``: its heartbeat does not answer
    (a stopped or wedged process); it goes back to idle/busy when it does."""

    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"
    RESTARTING = "restarting"
    STOPPED = "stopped"
    NOT_RESPONDING = "not responding"


#: a kernel in one of these states has started and answers: it can run code
KERNEL_READY = frozenset({KernelStateName.IDLE, KernelStateName.BUSY})

#: the AppState / KernelState name of a blocked loop or a silent kernel
NOT_RESPONDING = "not responding"

#: What became of a file change for one app (:class:`ReloadEvent`):
#: ``reloading`` (under way), ``done`` (serving the new code), ``failed``
#: (the reload raised or the app did not come back), ``refused`` (a changed
#: file does not compile: the old code keeps serving), ``skipped`` (the app's
#: auto-reload is off, or the app is stopped).
ReloadOutcome = Literal["reloading", "done", "failed", "refused", "skipped"]


@dataclass(frozen=True)
class LogRecord:
    """One line (or one multi-line record) for a log view.

    ``source`` is an app name, or a kernel name when ``app`` is None (raw
    kernel output, records logged outside any app, launcher messages about
    the kernel).
    """

    kernel: str
    app: Optional[str]
    level: str  # DEBUG / INFO / WARNING / ERROR / CRITICAL
    message: str
    logger: str = ""
    time: float = field(default_factory=time.time)
    traceback: Optional[str] = None
    #: where it came from: "bridge" (a logging record in the kernel),
    #: "stdout"/"stderr" (printed in the kernel), "raw" (the kernel
    #: process's own stdout/stderr, e.g. crash output), "launcher".
    origin: str = "bridge"

    @property
    def source(self) -> str:
        return self.app if self.app is not None else self.kernel

    @property
    def levelno(self) -> int:
        return LEVELS.get(self.level, 20)


@dataclass(frozen=True)
class AppState:
    app: str
    kernel: str
    state: AppStateName
    reason: Optional[str] = None
    #: how long the start/restart took, from the request to serving, in ms
    elapsed_ms: Optional[float] = None
    #: http://host:port/ for each socket the app listens on
    urls: tuple = ()
    threaded: bool = False
    auto_reload: bool = False
    #: its HTML pages reload themselves in the browser (the app's ``live_reload``)
    live_reload: bool = False
    time: float = field(default_factory=time.time)
    #: where a running app's templates and static files are (absolute directories,
    #: as the bridge reports them; empty in states the session makes itself)
    template_paths: tuple = ()
    static_paths: tuple = ()
    #: with "running" after a start in a kernel: what it re-imported (``protocol.state_record``'s
    #: ``reload``: ``reimported``, ``modules``, ``purged``, ``mode``, ``note``)
    reload: Optional[dict] = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", AppStateName.coerce(self.state))


@dataclass(frozen=True)
class KernelState:
    kernel: str
    state: KernelStateName
    reason: Optional[str] = None
    pid: Optional[int] = None
    time: float = field(default_factory=time.time)

    def __post_init__(self) -> None:
        object.__setattr__(self, "state", KernelStateName.coerce(self.state))


@dataclass(frozen=True)
class LoopBlocked:
    """A loop in a kernel stopped running (``blocked``) or runs again.

    ``loop`` is :data:`~tornado_launcher.bridge.protocol.KERNEL_LOOP` for the
    kernel's own loop (every app in shared mode and the launcher's cells wait
    on it), else the name of the threaded app whose own loop it is.  ``apps``
    are the apps it holds up; ``where`` is ``"pkg/mod.py:31 in get"`` (the
    innermost frame of the project's code in that loop's thread) when blocked;
    ``seconds``: blocked so far, or in all once it runs again.
    """

    kernel: str
    loop: str
    apps: tuple
    blocked: bool
    seconds: float
    where: Optional[str] = None
    time: float = field(default_factory=time.time)


@dataclass(frozen=True)
class ReloadEvent:
    """A file change that triggered (or was refused for) a reload."""

    app: str
    path: str
    outcome: ReloadOutcome
    detail: Optional[str] = None
    #: event-to-serving, in ms, for outcome "done"
    elapsed_ms: Optional[float] = None
    #: for outcome "done": "patched" (applied in place, state kept) or "reloaded"
    kind: Optional[str] = None
    time: float = field(default_factory=time.time)
    #: for "refused": "compile" (a changed file does not compile) or "start" (it compiled, and the
    #: new code failed when it ran: at import or in its start; ``detail`` is ``file:line: error``)
    stage: str = "compile"


@dataclass(frozen=True)
class SessionState:
    """The session as a whole: "starting", "running", "stopping", "stopped"."""

    state: str
    reason: Optional[str] = None
    time: float = field(default_factory=time.time)


Event = Union[LogRecord, AppState, KernelState, LoopBlocked, ReloadEvent, SessionState]
Subscriber = Callable[[Event], None]
