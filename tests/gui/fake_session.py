"""A stand-in Session with the engine's public surface, for widget tests.

It keeps ``apps`` / ``kernels`` like the real one and emits the same events
(after short asyncio sleeps, so the window sees "starting" before "running").
Calls are recorded in ``calls`` so tests can assert what the window asked.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace
from typing import Optional

from tornado_launcher.events import AppState, KernelState, LogRecord, SessionState


@dataclass
class FakeAppConfig:
    name: str
    kernel: str = "py"
    kind: str = "tornado"
    port: int = 8000
    threaded: bool = False
    disabled: bool = False


@dataclass
class FakeConfig:
    path: str = "jaffle.hcl"
    apps: list = field(default_factory=list)
    kernels: list = field(default_factory=lambda: ["py"])


@dataclass
class AppInfo:
    name: str
    kernel: str
    kind: str = "tornado"
    state: str = "stopped"
    reason: Optional[str] = None
    urls: tuple = ()
    elapsed_ms: Optional[float] = None
    threaded: bool = False
    auto_reload: bool = True
    disabled: bool = False


@dataclass
class KernelInfo:
    name: str
    state: str = "starting"
    pid: Optional[int] = None


class FakeSession:
    delay = 0.01

    def __init__(self, config: FakeConfig, auto_reload: bool = True):  # noqa: D107
        self.config = config
        self._subs = []
        self.calls: list = []
        self.apps = {a.name: AppInfo(a.name, a.kernel, a.kind, threaded=a.threaded, auto_reload=auto_reload,
                                     disabled=a.disabled) for a in config.apps}
        self.kernels = {k: KernelInfo(k) for k in config.kernels}
        self.ports = {a.name: a.port for a in config.apps}
        self.shut_down = False
        self.exec_results: dict = {}

    # -- events -------------------------------------------------------------
    def subscribe(self, cb):
        self._subs.append(cb)
        return lambda: self._subs.remove(cb) if cb in self._subs else None

    def emit(self, ev):
        for cb in list(self._subs):
            cb(ev)

    def log(self, app, message, level="INFO", kernel=None, traceback=None, origin="bridge"):
        k = kernel or (self.apps[app].kernel if app else "py")
        self.emit(LogRecord(kernel=k, app=app, level=level, message=message, traceback=traceback, origin=origin))

    def _set_app(self, name, state, reason=None, elapsed_ms=None):
        info = self.apps[name]
        urls = (f"http://127.0.0.1:{self.ports[name]}/",) if state in ("running", "stale") and info.kind == "tornado" else ()
        self.apps[name] = replace(info, state=state, reason=reason, urls=urls,
                                  elapsed_ms=elapsed_ms if elapsed_ms is not None else info.elapsed_ms)
        i = self.apps[name]
        self.emit(AppState(app=name, kernel=i.kernel, state=state, reason=reason, elapsed_ms=elapsed_ms,
                           urls=urls, threaded=i.threaded, auto_reload=i.auto_reload))

    def _set_kernel(self, name, state, reason=None):
        k = self.kernels[name]
        pid = None if state in ("dead", "stopped") else (k.pid or 4242)
        self.kernels[name] = replace(k, state=state, pid=pid)
        self.emit(KernelState(kernel=name, state=state, reason=reason, pid=pid))

    # -- API ------------------------------------------------------------------
    async def start(self):
        self.calls.append(("start",))
        self.emit(SessionState("starting"))
        for k in self.kernels:
            self._set_kernel(k, "starting")
        await asyncio.sleep(self.delay)
        for k in self.kernels:
            self._set_kernel(k, "idle")
        for name, info in self.apps.items():
            if not info.disabled:
                await self._start(name)
        self.emit(SessionState("running"))

    async def _start(self, name):
        self._set_app(name, "starting")
        await asyncio.sleep(self.delay)
        self.log(name, f"{name} listening on port {self.ports[name]}")
        self._set_app(name, "running", elapsed_ms=7.0)

    async def shutdown(self):
        self.calls.append(("shutdown",))
        self.emit(SessionState("stopping"))
        for name, info in self.apps.items():
            if info.state != "stopped":
                self._set_app(name, "stopped")
        for k in self.kernels:
            self._set_kernel(k, "stopped")
        await asyncio.sleep(self.delay)
        self.shut_down = True
        self.emit(SessionState("stopped"))

    async def start_app(self, name):
        self.calls.append(("start_app", name))
        await self._start(name)

    async def stop_app(self, name):
        self.calls.append(("stop_app", name))
        self._set_app(name, "stopping")
        await asyncio.sleep(self.delay)
        self._set_app(name, "stopped")

    async def restart_app(self, name):
        self.calls.append(("restart_app", name))
        self._set_app(name, "stopping")
        await self._start(name)

    async def set_threaded(self, name, flag):
        self.calls.append(("set_threaded", name, flag))
        self.apps[name] = replace(self.apps[name], threaded=flag)
        if self.apps[name].state == "running":
            await self.restart_app(name)

    def set_auto_reload(self, name, flag):
        self.calls.append(("set_auto_reload", name, flag))
        self.apps[name] = replace(self.apps[name], auto_reload=flag)
        self._set_app(name, self.apps[name].state)

    async def start_all(self):
        self.calls.append(("start_all",))
        for n, i in self.apps.items():
            if i.state in ("stopped", "failed"):
                await self._start(n)

    async def stop_all(self):
        self.calls.append(("stop_all",))
        for n in self.apps:
            self._set_app(n, "stopped")

    async def restart_all(self):
        self.calls.append(("restart_all",))
        for n in self.apps:
            await self._start(n)

    async def restart_kernel(self, name):
        self.calls.append(("restart_kernel", name))
        self._set_kernel(name, "restarting")
        await asyncio.sleep(self.delay)
        self._set_kernel(name, "idle")

    async def interrupt_kernel(self, name):
        self.calls.append(("interrupt_kernel", name))

    async def execute(self, kernel, code):
        self.calls.append(("execute", kernel, code))
        await asyncio.sleep(self.delay)
        if code in self.exec_results:
            return self.exec_results[code]
        try:
            return {"status": "ok", "stdout": "", "stderr": "", "result": repr(eval(code, {})), "traceback": None}
        except Exception as exc:
            return {"status": "error", "stdout": "", "stderr": "", "result": None,
                    "traceback": f"\x1b[31m{type(exc).__name__}\x1b[0m: {exc}"}

    async def apply_config(self, new_config):
        self.calls.append(("apply_config",))
        old = set(self.apps)
        new = {a.name: a for a in new_config.apps}
        for name in old - set(new):
            self._set_app(name, "stopped")
            del self.apps[name]
        for name in set(new) - old:
            a = new[name]
            self.apps[name] = AppInfo(a.name, a.kernel, a.kind)
            self.ports[name] = a.port
            await self._start(name)
        self.config = new_config
