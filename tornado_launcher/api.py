"""What a view may use of a Session: its public surface, as a ``Protocol``.

The window (``gui/``) and its test double (``tests/gui/fake_session.py``) are
typed against :class:`SessionAPI`, not against :class:`~tornado_launcher.session.Session`
itself, so a view cannot grow a dependency on the session's internals and a
fake that drifts from the real signatures is a type error.  Signatures are
those of ``session.py``; ``apps`` / ``kernels`` hold its real
:class:`~tornado_launcher.session.AppInfo` / ``KernelInfo`` records.

The session's methods for its controllers and its reloader (``kernel``,
``run_and_settle``, ``publish``, ...) are not part of it.

No Qt, no engine import at run time: a Protocol costs nothing to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Protocol

if TYPE_CHECKING:  # for the annotations only: no cycle, no engine import
    from .config import Config
    from .events import AppState, Subscriber
    from .session import AppInfo, KernelInfo


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
