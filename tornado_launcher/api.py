"""What a view may use of a Session: the :class:`SessionLike` protocol.

Views (the headless printer, the window) and test doubles of the session are
typed against this protocol, not against :class:`~tornado_launcher.session.Session`:
it is the whole surface a view needs (subscribe to events, ask for actions,
read the latest :class:`~tornado_launcher.session.AppInfo` /
:class:`~tornado_launcher.session.KernelInfo`).  The session's methods for
its controllers and its reloader (``kernel``, ``run_and_settle``, ...) are
not part of it.

No Qt, no jupyter_client here: a typing-only module.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Callable, Coroutine, Dict, Optional, Protocol

from .events import AppState, Event, Subscriber

if TYPE_CHECKING:
    from .config import Config
    from .session import AppInfo, KernelInfo


class SessionLike(Protocol):
    """The public surface of :class:`~tornado_launcher.session.Session` for views.

    All methods are called on the event loop thread; subscribers are called
    there too, in order.  An app action returns the state the app settled in,
    or None when it did not settle (the reason is in the app's log).
    """

    config: "Config"
    #: the latest state of every app, process and job, by name
    apps: Dict[str, "AppInfo"]
    #: the latest state of every kernel, by name
    kernels: Dict[str, "KernelInfo"]

    def subscribe(self, callback: Subscriber) -> Callable[[], None]: ...
    def emit(self, event: Event) -> None: ...
    def log(self, source: str, level: str, message: str, *, app: Optional[str] = None,
            traceback: Optional[str] = None) -> None: ...
    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> "asyncio.Task": ...

    async def start(self) -> None: ...
    async def shutdown(self) -> None: ...
    async def apply_config(self, new: "Config") -> None: ...

    async def start_app(self, name: str) -> Optional[AppState]: ...
    async def stop_app(self, name: str) -> Optional[AppState]: ...
    async def restart_app(self, name: str) -> Optional[AppState]: ...
    async def set_threaded(self, name: str, flag: bool) -> Optional[AppState]: ...
    def set_auto_reload(self, name: str, flag: bool) -> None: ...
    async def start_all(self) -> None: ...
    async def stop_all(self) -> None: ...
    async def restart_all(self) -> None: ...

    async def execute(self, kernel: str, code: str) -> Dict[str, Any]: ...
    async def interrupt_kernel(self, name: str) -> None: ...
    async def restart_kernel(self, name: str) -> None: ...
