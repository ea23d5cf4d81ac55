"""A kernel started through a Jupyter Kernel Gateway (REST + websocket).

:class:`GatewayKernel` is a :class:`~tornado_launcher.kernels.kernel.Kernel` whose
process lives behind a gateway (``gateway_url``; ``kernel_name`` a kernelspec
on that gateway; ``gateway_token`` sent as ``Authorization: token ...``).
It shares the message routing with the local kernel; only the transport
and the lifecycle differ:

* start: ``POST /api/kernels`` (``{"name": kernel_name}``), then the
  websocket ``/api/kernels/{id}/channels``: Jupyter messages as JSON text,
  each with a ``channel`` field (the gateway's legacy protocol: we ask for no
  subprotocol); ready when a ``kernel_info_request`` on shell is answered;
* liveness: the gateway watches its kernel (jupyter_server's restarter) and
  says so on iopub: a ``status`` of ``restarting`` (it restarted a dead kernel:
  the bridge is gone) or ``dead`` is the kernel's death for us; a closed
  websocket (gateway gone, or the kernel deleted) too. tornado's websocket
  pings every :data:`PING_INTERVAL` s, so a gateway that stops answering
  closes the socket rather than hanging it;
* restart: ``POST /api/kernels/{id}/restart`` (on the user's request), a new
  websocket after the gateway's own restart, a new kernel when the gateway no
  longer has ours; an unreachable gateway is tried again every
  :data:`RETRY_INTERVAL` s (nothing tells us it is back);
* interrupt: ``POST /api/kernels/{id}/interrupt``; shutdown at exit:
  ``DELETE /api/kernels/{id}`` (the kernel is ours: we started it).

Built on tornado's ``AsyncHTTPClient`` and ``websocket_connect`` (tornado is a
dependency already). Every public method runs on the loop thread.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote, urlsplit, urlunsplit

from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.websocket import websocket_connect

from ..engine.events import KERNEL_READY
from .kernel import Kernel, KernelStartError

log = logging.getLogger(__name__)

#: seconds for one REST call to the gateway
HTTP_TIMEOUT = 10.0
#: seconds between websocket pings (a silent gateway closes the socket after PING_TIMEOUT)
PING_INTERVAL = 5.0
PING_TIMEOUT = 10.0
#: seconds between attempts to reach a gateway that does not answer
RETRY_INTERVAL = 2.0
#: Jupyter messaging protocol version we speak
PROTOCOL_VERSION = "5.3"
#: Linux's TCP_QUICKACK (None elsewhere): see :meth:`_Channels.quickack`
QUICKACK = getattr(socket, "TCP_QUICKACK", None)
#: seconds between "waiting for the gateway to launch" lines
PROGRESS_INTERVAL = 10.0
#: the launch request's own timeout is the gateway's launch timeout plus this (as Jupyter's client pads it)
LAUNCH_TIMEOUT_PAD = 10.0


def local_user() -> str:
    """This process's user name (a uid without a passwd entry, as in containers, is its number)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def gateway_reason(data: Any) -> Optional[str]:
    """The gateway's own reason in a refusal: its ``message`` / ``reason``, else a traceback's last line.

    Enterprise Gateway answers ``{"reason": "User 'root' is not authorized ...", "message": ""}``;
    jupyter_server ``{"message": ..., "reason": ...}``; an unknown kernelspec a 500 whose traceback ends
    in ``NoSuchKernel: No such kernel named x``.
    """
    if not isinstance(data, dict):
        return None
    parts = []
    for key in ("message", "reason"):
        text = data.get(key)
        if isinstance(text, str) and text.strip() and text.strip() not in parts and text.strip() not in (
                "Internal Server Error", "Unknown server error"):
            parts.append(text.strip())
    tb = data.get("traceback")
    if isinstance(tb, str) and tb.strip():
        parts.append(tb.strip().splitlines()[-1].strip())
    elif isinstance(tb, list) and tb and isinstance(tb[-1], str):
        parts.append(tb[-1].strip())
    return "; ".join(parts) or None


class GatewayError(Exception):
    """A gateway call failed; ``str()`` is a sentence, ``code`` the HTTP status (599: no answer)."""

    def __init__(self, message: str, code: int = 599) -> None:
        super().__init__(message)
        self.code = code


class _Channels:
    """The websocket as the ``_kc`` the shared routing knows: ``execute`` and ``stop_channels``."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        stream = getattr(getattr(ws, "protocol", None), "stream", None)
        self.sock = getattr(stream, "socket", None) if QUICKACK else None
        #: as jupyter_client's ``kc.session``: ``.session`` is the id our messages carry
        self.session = SimpleNamespace(session=uuid.uuid4().hex)

    def send(self, channel: str, msg_type: str, content: Dict[str, Any]) -> str:
        msg_id = uuid.uuid4().hex
        msg = {
            "header": {"msg_id": msg_id, "msg_type": msg_type, "username": "tornado-launcher",
                       "session": self.session.session, "date": datetime.now(timezone.utc).isoformat(),
                       "version": PROTOCOL_VERSION},
            "parent_header": {}, "metadata": {}, "content": content, "buffers": [], "channel": channel,
        }
        self.ws.write_message(json.dumps(msg))
        self.quickack()
        return msg_id

    def quickack(self) -> None:
        """Acknowledge what the gateway sends at once, not after Linux's 40 ms delayed ACK.

        The gateway (jupyter_server's websocket) leaves Nagle on: after a small frame it holds the
        next small one until ours is acknowledged, and a receiver that just sent (a cell, the
        tunnel's bytes) delays its ACK, hoping to piggyback it: each answer then waited 40 ms.
        ``TCP_QUICKACK`` is not sticky, so it is set again after every send and every receive.
        """
        sock = self.sock
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
            except OSError:
                self.sock = None

    def execute(self, code: str, silent: bool = False, store_history: bool = True,
                allow_stdin: bool = False, stop_on_error: bool = True) -> str:
        return self.send("shell", "execute_request", {
            "code": code, "silent": silent, "store_history": store_history, "user_expressions": {},
            "allow_stdin": allow_stdin, "stop_on_error": stop_on_error,
        })

    def stop_channels(self) -> None:
        self.ws.close()


class GatewayKernel(Kernel):
    """A kernel the launcher starts, restarts and shuts down through a Kernel Gateway."""

    #: an unreachable gateway at start is waited for, as an attached kernel is
    reattaches = True
    owned = True

    def __init__(self, name: str, *, gateway_url: str, gateway_token: Optional[str] = None,
                 kernel_username: Optional[str] = None, launch_timeout: float = 120.0,
                 remote_dir: Optional[str] = None, **kw: Any) -> None:
        super().__init__(name, **kw)
        self.gateway_url = gateway_url.rstrip("/")
        self.gateway_token = gateway_token
        self.kernel_username = kernel_username
        self.launch_timeout = launch_timeout
        self.remote_dir = remote_dir
        self.kernel_id: Optional[str] = None
        self.remote_host = urlsplit(self.gateway_url).hostname
        #: the gateway restarted our kernel itself: reconnect, do not restart it again
        self._gateway_restarted = False
        self._stopping: Optional[asyncio.Event] = None

    # ------------------------------------------------------------------ REST
    def _headers(self) -> Dict[str, str]:
        return {"Authorization": f"token {self.gateway_token}"} if self.gateway_token else {}

    async def _call(self, method: str, path: str, body: Optional[dict] = None,
                    timeout: float = HTTP_TIMEOUT) -> Tuple[int, Any]:
        """One REST call; (status, decoded JSON or None). Raises GatewayError when nothing answers."""
        req = HTTPRequest(self.gateway_url + path, method=method, headers=self._headers(),
                          body=json.dumps(body) if body is not None else (b"" if method == "POST" else None),
                          request_timeout=timeout, connect_timeout=HTTP_TIMEOUT,
                          allow_nonstandard_methods=True)
        try:
            r = await AsyncHTTPClient().fetch(req, raise_error=False)
        except (OSError, HTTPClientError) as e:
            raise GatewayError(f"the gateway at {self.gateway_url} does not answer ({e})") from None
        if r.code == 599:
            raise GatewayError(f"the gateway at {self.gateway_url} does not answer ({r.error})")
        try:
            data = json.loads(r.body) if r.body else None
        except ValueError:
            data = None
        if r.code in (401, 403):
            why = gateway_reason(data)
            if why and "KERNEL_USERNAME" in why:
                fix = "give the kernel block the user the gateway expects, e.g. `kernel_username = \"alice\"`"
            elif why and "not authorized" in why:
                fix = ("the gateway does not let this user start kernels (`kernel_username`; Enterprise Gateway's "
                       "`--EnterpriseGatewayApp.authorized_users` / `unauthorized_users`)")
            else:
                fix = "give the kernel block its token, e.g. `gateway_token = \"${KG_AUTH_TOKEN}\"`"
            raise GatewayError(
                f"the gateway at {self.gateway_url} refused {method} {path} "
                f"(HTTP {r.code}{': ' + why if why else ''}): {fix}", r.code)
        return r.code, data

    def launch_env(self) -> Dict[str, str]:
        """The environment a launch request carries, as Jupyter's own gateway client sends it.

        Every ``KERNEL_*`` variable of the launcher's environment, then ``KERNEL_USERNAME``
        (``kernel_username``, else ``$KERNEL_USERNAME``, else the local user: Enterprise Gateway
        refuses a launch without it, and root unless told otherwise), ``KERNEL_WORKING_DIR``
        (``remote_dir``), ``KERNEL_LAUNCH_TIMEOUT`` (the gateway's own bound), and the kernel
        block's ``env`` last (it wins).
        """
        env = {k: v for k, v in os.environ.items() if k.startswith("KERNEL_")}
        env["KERNEL_USERNAME"] = self.kernel_username or env.get("KERNEL_USERNAME") or local_user()
        if self.remote_dir:
            env["KERNEL_WORKING_DIR"] = self.remote_dir
        env["KERNEL_LAUNCH_TIMEOUT"] = str(int(self.launch_timeout))
        env.update(self.env)
        return env

    async def _create(self) -> None:
        body: Dict[str, Any] = {"env": self.launch_env()}
        if self.kernel_name:
            body["name"] = self.kernel_name
        code, data = await self._call("POST", "/api/kernels", body,
                                      timeout=self.launch_timeout + LAUNCH_TIMEOUT_PAD)
        if code == 599 or code == 408:
            raise GatewayError(f"the gateway at {self.gateway_url} did not launch the kernel within "
                               f"{self.launch_timeout:g} s: raise `gateway_launch_timeout`", code)
        if code != 201 or not isinstance(data, dict) or "id" not in data:
            why = gateway_reason(data)
            raise GatewayError(f"the gateway at {self.gateway_url} did not start a kernel"
                               f"{' named ' + repr(self.kernel_name) if self.kernel_name else ''} "
                               f"(HTTP {code}{': ' + why if why else ''})", code)
        self.kernel_id = data["id"]

    def _ws_url(self) -> str:
        parts = urlsplit(self.gateway_url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        path = parts.path + f"/api/kernels/{quote(self.kernel_id or '')}/channels"
        return urlunsplit((scheme, parts.netloc, path, "", ""))

    async def _launch(self, create: bool = True) -> None:
        """A new kernel (``create``) and its websocket, answering within ``gateway_launch_timeout``.

        A gateway may take minutes (Enterprise Gateway waits for a pod to be scheduled inside the
        POST; a local kernel after it, until it answers): a line every :data:`PROGRESS_INTERVAL`
        says how long it has been.
        """
        loop = asyncio.get_running_loop()
        t0 = loop.time()

        async def launch() -> None:
            if create:
                await self._create()
            await self._connect(max(1.0, self.launch_timeout - (loop.time() - t0)))

        work = asyncio.ensure_future(launch())
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=PROGRESS_INTERVAL)
                if done:
                    return work.result()
                self._log("INFO", f"kernel {self.name!r}: waiting for the gateway at {self.gateway_url} to launch "
                                  f"the kernel ({loop.time() - t0:.0f} s of {self.launch_timeout:g} s, "
                                  "`gateway_launch_timeout`)")
        finally:
            if not work.done():
                work.cancel()

    # ----------------------------------------------------------- connection
    async def _connect(self, timeout: float) -> None:
        """The websocket to our kernel, ready (kernel_info answered) within ``timeout``."""
        req = HTTPRequest(self._ws_url(), headers=self._headers(), connect_timeout=HTTP_TIMEOUT,
                          request_timeout=HTTP_TIMEOUT)
        try:
            ws = await websocket_connect(req, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT,
                                         max_message_size=64 * 1024 * 1024)
        except HTTPClientError as e:
            raise GatewayError(f"the gateway at {self.gateway_url} refused the kernel's websocket "
                               f"(HTTP {e.code})", e.code) from None
        except OSError as e:
            raise GatewayError(f"the gateway at {self.gateway_url} does not answer ({e})") from None
        # small messages both ways (cells, the tunnel's bytes): no Nagle wait behind an unacknowledged one
        ws.protocol.set_nodelay(True)
        channels = _Channels(ws)
        gen = self._gen
        loop = asyncio.get_running_loop()
        ready = loop.create_future()
        self._kc = channels
        self._tasks = [asyncio.ensure_future(self._ws_loop(ws, gen, ready))]
        deadline = loop.time() + timeout
        while True:
            channels.send("shell", "kernel_info_request", {})
            try:
                await asyncio.wait_for(asyncio.shield(ready), min(1.0, max(0.05, deadline - loop.time())))
                return
            except asyncio.TimeoutError:
                if loop.time() >= deadline:
                    raise GatewayError(f"the kernel on the gateway at {self.gateway_url} did not answer "
                                       f"within {timeout:g} s") from None

    async def _ws_loop(self, ws: Any, gen: int, ready: asyncio.Future) -> None:
        channels = self._kc
        while True:
            text = await ws.read_message()
            if text is None:
                break
            if channels is not None:
                channels.quickack()
            try:
                msg = json.loads(text)
                header = msg.get("header") or {}
                msg.setdefault("msg_type", header.get("msg_type"))
                msg.setdefault("content", {})
                channel = msg.get("channel")
                parent = (msg.get("parent_header") or {}).get("msg_id")
                if channel == "shell":
                    if msg["msg_type"] == "kernel_info_reply" and not ready.done():
                        ready.set_result(None)
                        continue
                    fut = self._pending.pop(parent, None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg["content"])
                elif channel == "iopub":
                    state = msg["content"].get("execution_state") if msg["msg_type"] == "status" else None
                    if state in ("restarting", "dead") and not parent and gen == self._gen:
                        self._gateway_restarted = state == "restarting"
                        self._gone(gen, "the gateway restarted it after it died" if state == "restarting"
                                   else "the gateway reports it dead (its restart failed)")
                        continue
                    self._handle(msg)
            except Exception:  # noqa: BLE001 - one bad message must not stop routing
                log.exception("kernel %s: could not handle a gateway message", self.name)
        if not ready.done():
            ready.set_exception(GatewayError(f"the gateway at {self.gateway_url} closed the kernel's websocket"))
        if gen == self._gen:
            self._gone(gen, f"the gateway at {self.gateway_url} closed the kernel's websocket "
                            f"({ws.close_code or 'connection lost'})")

    def _gone(self, gen: int, why: str) -> None:
        if gen != self._gen or self._expect_exit or self.state not in KERNEL_READY:
            return
        reason = f"kernel {self.kernel_id} on the gateway: {why}"
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result({"status": "error", "ename": "KernelDied", "evalue": reason, "traceback": []})
        self._pending.clear()
        self._gen = next(self._generation)
        self._set_state("dead", reason)
        self._on_death(reason)

    # ------------------------------------------------------------ lifecycle
    def _sentence(self, why: str, code: int = 599) -> str:
        if code != 599:  # the gateway answered: its reason is in `why`, with the fix
            return f"kernel {self.name!r} (gateway_url {self.gateway_url}): {why}"
        return (f"kernel {self.name!r} (gateway_url {self.gateway_url}): {why}. Check that the gateway runs "
                "(`jupyter kernelgateway --KernelGatewayApp.ip=... --KernelGatewayApp.port=...`) and "
                "`gateway_url` / `gateway_token`; the launcher tries again until it answers.")

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        self._gen = next(self._generation)
        self._expect_exit = False
        self._set_state("starting")
        try:
            await self._launch()
        except GatewayError as e:
            await self._drop()
            msg = self._sentence(str(e), e.code)
            self._set_state("dead", msg)
            raise KernelStartError(msg) from None
        self._set_state("idle")

    async def _drop(self) -> None:
        """Close the websocket and its reader (the kernel on the gateway stays)."""
        self._stop_routing()
        kc, self._kc = self._kc, None
        if kc is not None:
            kc.stop_channels()

    async def restart(self) -> None:
        """The gateway restarts our kernel (or starts a new one when it lost it); then reconnect."""
        self._expect_exit = True
        await self._drop()
        self._loop = asyncio.get_running_loop()
        if self._stopping is None:
            self._stopping = asyncio.Event()
        stopping = self._stopping
        self._set_state("restarting")
        said = None
        while not stopping.is_set():
            self._gen = next(self._generation)
            self._expect_exit = False
            try:
                create = self.kernel_id is None
                if not create and not self._gateway_restarted:
                    code, data = await self._call("POST", f"/api/kernels/{quote(self.kernel_id)}/restart",
                                                  timeout=self.launch_timeout + LAUNCH_TIMEOUT_PAD)
                    if code == 404:
                        create = True
                    elif code >= 400:
                        why = gateway_reason(data)
                        raise GatewayError(f"the gateway at {self.gateway_url} did not restart kernel "
                                           f"{self.kernel_id} (HTTP {code}{': ' + why if why else ''})", code)
                self._gateway_restarted = False
                try:
                    await self._launch(create)
                except GatewayError as e:
                    if e.code != 404:
                        raise
                    await self._drop()
                    await self._launch()
                self._set_state("idle")
                return
            except GatewayError as e:
                await self._drop()
                if str(e) != said:
                    said = str(e)
                    self._set_state("dead", self._sentence(said, e.code))
            try:
                await asyncio.wait_for(stopping.wait(), RETRY_INTERVAL)
            except asyncio.TimeoutError:
                pass
        raise KernelStartError(f"kernel {self.name!r}: shut down while waiting for the gateway")

    async def interrupt(self) -> None:
        if self.kernel_id and self.state in KERNEL_READY:
            try:
                await self._call("POST", f"/api/kernels/{quote(self.kernel_id)}/interrupt")
            except GatewayError as e:
                self._log("WARNING", self._sentence(str(e)))

    async def _teardown(self, now: bool) -> None:
        await self._drop()
        kernel_id, self.kernel_id = self.kernel_id, None
        if kernel_id:
            try:
                await self._call("DELETE", f"/api/kernels/{quote(kernel_id)}")
            except GatewayError as e:
                self._log("WARNING", f"kernel {self.name!r}: could not shut down kernel {kernel_id} on the "
                                     f"gateway: {e}; it keeps running there until the gateway ends it")

    async def shutdown(self, now: bool = False) -> None:
        """Shut our kernel down on the gateway (DELETE) and close the websocket. Idempotent."""
        self._expect_exit = True
        if self._stopping is not None:
            self._stopping.set()
        await self._teardown(now)
        if self.state != "stopped":
            self._set_state("stopped")

    def kill_now(self) -> None:
        """A second Ctrl+C: send the DELETE from a thread, without waiting (synchronous caller)."""
        self._expect_exit = True
        if self._stopping is not None:
            self._stopping.set()
        kernel_id, self.kernel_id = self.kernel_id, None
        kc, self._kc = self._kc, None
        if kc is not None:
            try:
                kc.stop_channels()
            except Exception:  # noqa: BLE001
                pass
        if not kernel_id:
            return
        import urllib.request

        req = urllib.request.Request(f"{self.gateway_url}/api/kernels/{quote(kernel_id)}", method="DELETE",
                                     headers=self._headers())

        def delete() -> None:
            try:
                urllib.request.urlopen(req, timeout=2).close()
            except OSError:
                pass

        threading.Thread(target=delete, daemon=True, name=f"tl-gateway-{self.name}-delete").start()

    def _handle_hello(self, rec: dict) -> None:
        super()._handle_hello(rec)
        pid = rec.get("pid")
        if isinstance(pid, int) and pid != self.pid:
            self.pid = pid
            self._set_state(self.state, None)
