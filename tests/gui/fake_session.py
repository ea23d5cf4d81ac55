"""A stand-in Session with the engine's public surface, for widget tests.

It is a :class:`tornado_launcher.engine.api.SessionAPI` (the Protocol the window is
typed against; ``_check_protocol`` below fails at import if it drifts) and
keeps ``apps`` / ``kernels`` as the real Session's own ``AppInfo`` /
``KernelInfo`` records, built from a real ``Config``, with the real defaults:
``auto_reload`` starts False and gets its first value while the session
starts, as ``Session._init_reload`` gives it.  It emits the same events
(after short asyncio sleeps, so the window sees "starting" before
"running").  Calls are recorded in ``calls`` so tests can assert what the
window asked.
"""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import replace

from tornado_launcher.config import AppConfig, Config, KernelConfig
from tornado_launcher.engine.api import SessionAPI
from tornado_launcher.engine.events import AppState, KernelState, LogRecord, SessionState
from tornado_launcher.engine.session import AppInfo, KernelInfo, Session


def tornado_app(name: str, port: int, kernel: str = "py", *, threaded: bool = False,
                disabled: bool = False) -> AppConfig:
    return AppConfig(name, "tornado", "jaffle.app.tornado.TornadoBridgeApp", kernel=kernel,
                     app_class="proj.web.App", argv=[f"--port={port}"], threaded=threaded, disabled=disabled)


def watchdog_app(name: str, kernel: str = "py") -> AppConfig:
    return AppConfig(name, "watchdog", "jaffle.app.watchdog.WatchdogApp", kernel=kernel)


def fake_config(path: str, apps, kernels=("py",)) -> Config:
    """A real ``Config`` with these ``AppConfig`` blocks (as ``config.load`` would return)."""
    return Config(path=str(path), directory=".", kernels={k: KernelConfig(k) for k in kernels},
                  apps={a.name: a for a in apps})


def _port(app: AppConfig) -> int:
    return next((int(a.split("=", 1)[1]) for a in app.argv if a.startswith("--port=")), 0)


def _info(app: AppConfig) -> AppInfo:
    # as Session._build makes it
    return AppInfo(app.name, app.kernel, app.kind, app, threaded=app.threaded, disabled=app.disabled,
                   wanted=not app.disabled)


class FakeSession:
    delay = 0.01

    def __init__(self, config: Config, *, auto_reload: bool = True):  # noqa: D107
        self.config = config
        self.auto_reload_enabled = auto_reload
        self._subs = []
        self.calls: list = []
        self.apps = {name: _info(a) for name, a in config.apps.items()}
        self.kernels = {k: KernelInfo(k) for k in config.kernels}
        self.ports = {name: _port(a) for name, a in config.apps.items()}
        self.shut_down = False
        self.exec_results: dict = {}

    # -- events -------------------------------------------------------------
    def subscribe(self, callback):
        self._subs.append(callback)
        return lambda: self._subs.remove(callback) if callback in self._subs else None

    def emit(self, ev):
        for cb in list(self._subs):
            cb(ev)

    def log(self, app, message, level="INFO", kernel=None, traceback=None, origin="bridge"):
        k = kernel or (self.apps[app].kernel if app else "py")
        self.emit(LogRecord(kernel=k, app=app, level=level, message=message, traceback=traceback, origin=origin))

    def _set_app(self, name, state, reason=None, elapsed_ms=None):
        info = self.apps[name]
        serving = state in ("running", "stale") and info.kind == "tornado"
        urls = (f"http://127.0.0.1:{self.ports[name]}/",) if serving else ()
        self.apps[name] = replace(info, state=state, reason=reason, urls=urls,
                                  elapsed_ms=elapsed_ms if elapsed_ms is not None else info.elapsed_ms)
        i = self.apps[name]
        self.emit(AppState(app=name, kernel=i.kernel, state=state, reason=reason, elapsed_ms=elapsed_ms,
                           urls=urls, threaded=i.threaded, auto_reload=i.auto_reload, live_reload=i.live_reload))

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
        self._init_reload()
        self.emit(SessionState("running"))

    def _init_reload(self):
        # Session._init_reload: every app learns its switch's first value once
        # (here every tornado app is a reload target, as with the implicit *.py handler)
        for name, info in self.apps.items():
            if not info.reload_initialized:
                self.apps[name] = replace(info, reload_initialized=True,
                                          auto_reload=self.auto_reload_enabled and info.kind == "tornado")
                self._set_app(name, info.state)

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

    async def set_live_reload(self, name, flag):
        self.calls.append(("set_live_reload", name, flag))
        self.apps[name] = replace(self.apps[name], live_reload=flag)
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

    def connection_file(self, kernel):
        return None  # no real kernel: the console stays unattached

    async def apply_config(self, new):
        self.calls.append(("apply_config",))
        old = set(self.apps)
        new_config, new = new, new.apps
        for name in old - set(new):
            self._set_app(name, "stopped")
            del self.apps[name]
        for name in set(new) - old:
            self.apps[name] = _info(new[name])
            self.ports[name] = _port(new[name])
            await self._start(name)
        self._init_reload()
        self.config = new_config


def _check_protocol() -> None:
    """FakeSession has every SessionAPI member, with the real Session's parameters."""
    members = [n for n in vars(SessionAPI) if not n.startswith("_")] + list(SessionAPI.__annotations__)
    for name in members:
        if name in SessionAPI.__annotations__:
            continue  # fields: set in __init__
        fake, real = getattr(FakeSession, name), getattr(Session, name)
        assert list(inspect.signature(fake).parameters) == list(inspect.signature(real).parameters), name
        assert inspect.iscoroutinefunction(fake) == inspect.iscoroutinefunction(real), name


_check_protocol()
_typed: "type[SessionAPI]" = FakeSession  # for a type checker: FakeSession is a SessionAPI
