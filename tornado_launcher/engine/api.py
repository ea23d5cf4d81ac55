"""What a view may use of a Session: its public surface, as a ``Protocol``.

The window (``gui/``) and its test double (``tests/gui/fake_session.py``) are
typed against :class:`SessionAPI`, not against :class:`~tornado_launcher.engine.session.Session`
itself, so a view cannot grow a dependency on the session's internals and a
fake that drifts from the real signatures is a type error.  Signatures are
those of ``session.py``; ``apps`` / ``kernels`` hold its real
:class:`~tornado_launcher.engine.session.AppInfo` / ``KernelInfo`` records.

The session's methods for its controllers, its reloader and its crash-loop guard
(``kernel``, ``run_and_settle``, ``publish``, ...) are :class:`SessionCore`: they
are typed against it, not against the Session, so no module below the session
imports it, not even for type checking.

No Qt, no engine import at run time: a Protocol costs nothing to import.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, Optional, Protocol, Tuple

if TYPE_CHECKING:  # for the annotations only: no cycle, no engine import
    from ..config import Config
    from ..kernels.kernel import Kernel
    from .events import AppState, Event, Subscriber
    from .status import AppInfo, KernelInfo


class SessionAPI(Protocol):
    """The Session methods and fields a view calls (all on the loop thread)."""

    apps: "Dict[str, AppInfo]"
    kernels: "Dict[str, KernelInfo]"

    def subscribe(self, callback: "Subscriber") -> Callable[[], None]: ...

    async def start(self) -> None: ...

    async def shutdown(self) -> None: ...

    async def start_app(self, name: str) -> "Optional[AppState]": ...

    async def stop_app(self, name: str) -> "Optional[AppState]": ...

    async def restart_app(self, name: str) -> "Optional[AppState]": ...

    async def start_all(self) -> None: ...

    async def stop_all(self) -> None: ...

    async def restart_all(self) -> None: ...

    async def set_threaded(self, name: str, flag: bool) -> "Optional[AppState]": ...

    def set_auto_reload(self, name: str, flag: bool) -> None: ...

    async def set_live_reload(self, name: str, flag: bool) -> "Optional[AppState]": ...

    async def restart_kernel(self, name: str) -> None: ...

    async def interrupt_kernel(self, name: str) -> None: ...

    async def execute(self, kernel: str, code: str) -> Dict[str, Any]: ...

    def connection_file(self, kernel: str) -> Optional[str]: ...

    async def apply_config(self, new: "Config") -> None: ...


class SessionCore(Protocol):
    """The Session members its controllers, its Reloader and its crash-loop guard use
    (``controllers.py``, ``reload.py``, ``crashloop.py``; all on the loop thread)."""

    config: "Config"
    apps: "Dict[str, AppInfo]"
    kernels: "Dict[str, KernelInfo]"
    #: ``controllers.KernelSetups`` and ``crashloop.CrashLoopGuard`` (Any: they sit below this module's users)
    setups: Any
    crash_guard: Any

    @property
    def closing(self) -> bool: ...

    def subscribe(self, callback: "Subscriber") -> Callable[[], None]: ...

    def emit(self, event: "Event") -> None: ...

    def log(self, source: str, level: str, message: str, *, app: Optional[str] = None,
            traceback: Optional[str] = None) -> None: ...

    def kernel(self, name: str) -> "Optional[Kernel]": ...

    def app_lock(self, name: str) -> asyncio.Lock: ...

    def app_state(self, info: "AppInfo") -> "AppState": ...

    def loop_blocked(self, app: str) -> bool: ...

    def loop_blocked_during(self, app: str, since: float) -> bool: ...

    def publish(self, info: "AppInfo") -> None: ...

    def mark_stale(self, app: str, problem: Optional[str] = None) -> None: ...

    def clear_stale(self, app: str) -> None: ...

    def receive(self, event: "Event") -> None: ...

    def wait_for_state(self, app: str, states: Iterable[str]) -> asyncio.Future: ...

    async def settle(self, app: str, fut: asyncio.Future, what: str = ...) -> "Optional[AppState]": ...

    async def run_and_settle(self, app: str, code: str, *, kernel: Optional[str] = None,
                             settle: Iterable[str] = ...,
                             what: Optional[str] = None) -> "Tuple[Dict[str, Any], Optional[AppState]]": ...

    async def run_job(self, name: str, *, log_as: Optional[str] = None) -> Optional[int]: ...

    def spawn(self, coro: Any, what: str) -> "asyncio.Task": ...

    async def restart_kernel(self, name: str) -> None: ...

    async def respawn_kernel(self, name: str) -> None: ...
