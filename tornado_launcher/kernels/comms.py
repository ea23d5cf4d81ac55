"""The bridge's comms other than its events: routed to their users, and messages sent to them.

:class:`BridgeComms` is the part of :class:`~tornado_launcher.kernels.kernel.Kernel` that knows the
comms the bridge opens besides ``protocol.COMM_TARGET`` (whose records the kernel decodes
itself): the tunnel's (``tunnel.py``) and the file push's (``sync.py``). A user registers a
handler by target name in ``comm_handlers``; it hears ``("open", comm_id, data)`` when the
bridge opens its comm (at every install) and ``("msg", comm_id, data)`` for each message.
:meth:`send_comm` sends a ``comm_msg`` on shell (or the gateway's websocket). It uses the
kernel's ``_kc``, ``state`` and ``_rearm_shell``.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

from ..engine.events import KERNEL_READY

#: ``handler(kind, comm_id, data)``; kind is "open" or "msg"
CommHandler = Callable[[str, str, Dict[str, Any]], None]


class BridgeComms:
    """Comm targets → handlers, comm ids → targets, and sending to a comm."""

    comm_handlers: Dict[str, CommHandler]
    _comm_targets: Dict[str, str]

    def _init_comms(self) -> None:
        self.comm_handlers = {}
        self._comm_targets = {}

    def _route_comm_open(self, content: Dict[str, Any]) -> bool:
        """A ``comm_open`` of a registered target: handled (True), else the caller's."""
        target = content.get("target_name")
        if target not in self.comm_handlers:
            return False
        self._comm_targets[content.get("comm_id")] = target
        self.comm_handlers[target]("open", content.get("comm_id"), content.get("data") or {})
        return True

    def _route_comm_msg(self, content: Dict[str, Any]) -> bool:
        target: Optional[str] = self._comm_targets.get(content.get("comm_id"))
        if target is None:
            return False
        self.comm_handlers[target]("msg", content.get("comm_id"), content.get("data") or {})
        return True

    def send_comm(self, comm_id: str, data: Dict[str, Any]) -> bool:
        """A message to one of the bridge's comms in the kernel; False when the kernel is not running."""
        kc = self._kc  # type: ignore[attr-defined]
        if kc is None or self.state not in KERNEL_READY:  # type: ignore[attr-defined]
            return False
        content = {"comm_id": comm_id, "data": data}
        if hasattr(kc, "send"):  # a gateway's websocket (gateway._Channels)
            kc.send("shell", "comm_msg", content)
        else:
            kc.shell_channel.send(kc.session.msg("comm_msg", content))
            self._rearm_shell()  # type: ignore[attr-defined]
        return True
