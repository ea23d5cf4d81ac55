"""What the session knows, and the views show, of each app and each kernel.

:class:`AppInfo` and :class:`KernelInfo` are plain records the
:class:`~tornado_launcher.engine.session.Session` keeps current (its ``apps`` / ``kernels``);
they live here, below the session, so that its controllers, its Reloader and the
views name them without importing the session (no import cycle, not even for type
checking).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Optional, Tuple

from ..config import AppConfig
from .events import AppStateName, KernelStateName

#: at most this many automatic kernel restarts (the crash-loop guard's limit; a
#: kernel's ``deaths`` keeps one more) ...
MAX_RESTARTS = 5


@dataclass
class AppInfo:
    """What a view needs to show one app; kept current by the session."""

    name: str
    kernel: str
    kind: str
    config: AppConfig
    state: AppStateName = AppStateName.STOPPED
    reason: Optional[str] = None
    urls: Tuple[str, ...] = ()
    elapsed_ms: Optional[float] = None
    threaded: bool = False
    auto_reload: bool = False
    #: its HTML pages reload themselves in the browser after a reload
    live_reload: bool = False
    disabled: bool = False
    #: the last save did not compile: the previous version keeps serving
    stale: bool = False
    #: whether the user wants it running (restored after a kernel restart)
    wanted: bool = False
    #: has the app block's own `start` code run in this kernel process yet?
    start_code_ran: bool = False
    #: has auto_reload been given its initial value (the user's toggle wins after)?
    reload_initialized: bool = False
    #: the loop the app runs on is blocked: the sentence saying where (None: it runs)
    hung: Optional[str] = None
    #: when (monotonic) that loop last ran again after being blocked
    unblocked_at: Optional[float] = None
    #: where the running app's templates and static files are (the bridge says; the Reloader watches them)
    template_paths: Tuple[str, ...] = ()
    static_paths: Tuple[str, ...] = ()


@dataclass
class KernelInfo:
    """What a view needs to show one kernel; kept current by the session."""

    name: str
    state: KernelStateName = KernelStateName.STOPPED
    reason: Optional[str] = None
    pid: Optional[int] = None
    deaths: deque = field(default_factory=lambda: deque(maxlen=MAX_RESTARTS + 1))
