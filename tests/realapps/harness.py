"""Run one real app the way a user does and check it (issues 18 and 25).

``exercise(app, mode, python, tmp)`` returns a :class:`Result`: each check's outcome with the
launcher's own words when it fails. Modes: ``shared`` and ``threaded`` run the app through
``tornado-launcher start`` (a real jaffle.hcl whose kernel block names the corpus venv with
``python = ...``; ``restart``/``stop``/``status``/``logs`` as a user types them; Ctrl+C is a
SIGINT to the launcher); ``plain`` runs the same command line as its own process (stop is a
SIGTERM, Ctrl+C a SIGINT), which is what the checks mean: every check passes there.

The checks, in order:
  serves      real HTTP to its page (and its other listener, if it has one) answers
  restart     `restart APP` exits 0 and it serves again
  stop        `stop APP` exits 0; its ports are free; the kernel has no child process, no more
              threads than before the app's first start, no TCP socket it did not have then
  teardown    its own teardown ran at stop (a file it removes or writes, a log line)
  ctrl_c      after a new start, SIGINT to the launcher: every process of its tree is gone
              (kernel, the app's children) and every port is free

CLI: ``python tests/realapps/harness.py [APP ...] [--mode shared,threaded,plain]`` prints a table.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Set

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from corpus import BY_NAME, CORPUS, Ctx, RealApp, http, log_matches  # noqa: E402
from helpers import free_port, port_is_free  # noqa: E402

LAUNCHER = [sys.executable, "-m", "tornado_launcher"]
CHECKS = ("serves", "restart", "stop", "teardown", "ctrl_c")
START_TIMEOUT = 90.0


# ----------------------------------------------------------------------------- /proc
def children_of(pid: int, full: bool = False) -> Dict[int, str]:
    """Every descendant of ``pid``: {pid: command line}."""
    parents: Dict[int, int] = {}
    cmds: Dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            continue  # a zombie is dead; its parent has not reaped it yet
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
        cmds[int(entry)] = cmd
    out: Dict[int, str] = {}
    todo = [pid]
    while todo:
        p = todo.pop()
        for child, parent in parents.items():
            if parent == p and child not in out:
                out[child] = cmds[child] if full else cmds[child][:120]
                todo.append(child)
    return out


#: the launcher's own child of the kernel (procB's children.GUARD_SOURCE: it kills the app's children
#: if the kernel dies): not one of the app's
GUARD_MARKS = ("kernel = int(sys.argv[1])", "pidfd_open(kernel)")


def app_children(pid: int) -> Dict[int, str]:
    """The kernel's descendants but the launcher's guard (and that guard's own children)."""
    out = {}
    for child, cmd in children_of(pid, full=True).items():
        if not all(mark in cmd for mark in GUARD_MARKS):
            out[child] = cmd[:120]
    return out


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def threads_of(pid: int) -> List[str]:
    names = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            try:
                names.append(open(f"/proc/{pid}/task/{t}/comm").read().strip())
            except OSError:
                pass
    except OSError:
        pass
    return names


def tcp_sockets_of(pid: int) -> Dict[int, str]:
    """The TCP sockets ``pid`` holds: {inode: "LISTEN 127.0.0.1:8888"}."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(int(link[8:-1]))
    except OSError:
        return {}
    out = {}
    for table in ("tcp", "tcp6"):
        try:
            rows = open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            parts = row.split()
            inode = int(parts[9])
            if inode in inodes:
                port = int(parts[1].rsplit(":", 1)[1], 16)
                state = "LISTEN" if parts[3] == "0A" else f"state {parts[3]}"
                out[inode] = f"{state} port {port}"
    return out


def wait_until(cond, timeout: float, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


# ----------------------------------------------------------------------------- result
@dataclass
class Result:
    app: str
    mode: str
    outcomes: Dict[str, Optional[str]] = field(default_factory=dict)  # check -> None (passed) or why not
    notes: List[str] = field(default_factory=list)
    seconds: float = 0.0

    def fail(self, check: str, why: str) -> None:
        if self.outcomes.get(check) is None:
            self.outcomes[check] = why
        else:
            self.outcomes[check] += "; " + why

    def passed(self, check: str) -> None:
        self.outcomes.setdefault(check, None)

    @property
    def failures(self) -> Dict[str, str]:
        return {k: v for k, v in self.outcomes.items() if v is not None}

    def report(self) -> str:
        lines = [f"{self.app} [{self.mode}] ({self.seconds:.0f} s)"]
        for check in CHECKS:
            if check in self.outcomes:
                why = self.outcomes[check]
                lines.append(f"  {check:9} {'ok' if why is None else 'FAIL: ' + why}")
            else:
                lines.append(f"  {check:9} not reached")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- drivers
def app_env(ctx: Ctx) -> Dict[str, str]:
    """Nothing outside the run's temporary directory: HOME, XDG, Jupyter's and TMPDIR."""
    t = ctx.tmp
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "IPYTHON", "BOKEH", "DASK"))}
    env.update(HOME=str(t / "home"), XDG_CONFIG_HOME=str(t / "home/.config"),
               XDG_DATA_HOME=str(t / "home/.local/share"),
               XDG_CACHE_HOME=str(t / "home/.cache"), XDG_RUNTIME_DIR=str(ctx.short),
               JUPYTER_CONFIG_DIR=str(t / "jupyter-config"), JUPYTER_DATA_DIR=str(t / "jupyter-data"),
               JUPYTER_RUNTIME_DIR=str(ctx.runtime), JUPYTER_PLATFORM_DIRS="1", IPYTHONDIR=str(t / "ipython"),
               MPLCONFIGDIR=str(t / "mpl"), TMPDIR=str(t / "tmp"), BOKEH_BROWSER="none", BROWSER="true",
               DASK_DISTRIBUTED__DIAGNOSTICS__NVML="False", PYTHONDONTWRITEBYTECODE="1",
               NO_PROXY="*", no_proxy="*")
    for k in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        env.pop(k, None)
    for d in ("home", "jupyter-config", "jupyter-data", "jupyter-runtime", "ipython", "tmp", "root"):
        (t / d).mkdir(parents=True, exist_ok=True)
    return env


def plain_command(app: RealApp, python: str, ctx: Ctx) -> List[str]:
    venv = Path(python).parent.parent
    if app.style == "script":
        return [python, str(venv / app.target)] + app.argv(ctx)
    if app.style == "main":
        module, func = app.target.replace(":", ".").rsplit(".", 1)
        code = f"import sys; sys.argv[0] = {app.name!r}; from {module} import {func} as f; sys.exit(f())"
    else:
        module, cls = app.target.rsplit(".", 1)
        code = f"import sys; from {module} import {cls} as c; c.launch_instance()"
    return [python, "-c", code] + app.argv(ctx)


class Plain:
    """The app as its own process: what every check means."""

    def __init__(self, app: RealApp, python: str, ctx: Ctx, env: Dict[str, str]):
        self.app, self.python, self.ctx, self.env = app, python, ctx, env
        self.proc: Optional[subprocess.Popen] = None
        self.out = open(ctx.tmp / "plain.log", "ab")

    def start(self) -> Optional[str]:
        self.proc = subprocess.Popen(plain_command(self.app, self.python, self.ctx), cwd=self.ctx.root, env=self.env,
                                     stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        return None

    @property
    def kernel_pid(self) -> int:
        return self.proc.pid

    def stop(self) -> Optional[str]:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return "did not exit within 30 s of SIGTERM"
        return None

    def restart(self) -> Optional[str]:
        return self.stop() or self.start()

    def log(self) -> str:
        return (self.ctx.tmp / "plain.log").read_text(errors="replace")

    def root_pid(self) -> int:
        return self.proc.pid

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def census_ok_after_stop(self) -> bool:
        return False  # the process is gone: nothing to count in it


class Launcher:
    """``tornado-launcher start jaffle.hcl`` and its control commands, as a user types them."""

    def __init__(self, app: RealApp, python: str, ctx: Ctx, env: Dict[str, str], threaded: bool):
        self.app, self.python, self.ctx, self.env = app, python, ctx, env
        self.config = ctx.tmp / "jaffle.hcl"
        entry = {"main": "main", "script": "script", "app_class": "app_class"}[app.style]
        target = str(Path(python).parent.parent / app.target) if app.style == "script" else app.target
        argv = ", ".join(json.dumps(a) for a in app.argv(ctx))
        # the app does not start with the launcher: a census of the kernel before its first start;
        # a second app in the kernel answers its Python threads (tl_census.py)
        shutil.copy(HERE / "tl_census.py", ctx.tmp / "tl_census.py")
        self.census_port = free_port()
        self.config.write_text(
            f'app "tl_census" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
            f'  start  = "tl_census.start()"\n  options {{\n    app_class = "tl_census.make_app"\n'
            f'    port = {self.census_port}\n  }}\n}}\n\n' +
            f'kernel "k" {{\n  python = {json.dumps(python)}\n}}\n\n'
            f'app "{app.name}" {{\n  class    = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel   = "k"\n'
            f'  start    = "{app.name}.start()"\n  disabled = true\n'
            f'  logger {{\n    level = "{app.log_level}"\n  }}\n  options {{\n'
            f'    {entry} = {json.dumps(target)}\n    argv = [{argv}]\n'
            f'    threaded = {"true" if threaded else "false"}\n  }}\n}}\n')
        self.proc: Optional[subprocess.Popen] = None
        self.out = open(ctx.tmp / "launcher.log", "ab")
        self.kernel: Optional[int] = None

    def control(self, *args: str, timeout: float = 150.0) -> subprocess.CompletedProcess:
        return subprocess.run(LAUNCHER + list(args) + ["-c", str(self.config)], cwd=self.ctx.tmp, env=self.env,
                              capture_output=True, text=True, timeout=timeout)

    def status(self) -> Dict:
        r = self.control("status", "--json", timeout=30)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else {}

    def app_status(self) -> Dict:
        return next((a for a in self.status().get("apps", []) if a["name"] == self.app.name), {})

    def boot(self) -> Optional[str]:
        """The launcher and its kernel up; the app created, not started."""
        self.proc = subprocess.Popen(LAUNCHER + ["start", "--no-reload", str(self.config)], cwd=self.ctx.tmp,
                                     env=self.env, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)

        def kernel_up():
            if self.proc.poll() is not None:
                return -1  # the launcher ended
            ks = self.status().get("kernels", [])
            return ks and ks[0]["state"] in ("idle", "busy") and ks[0]["pid"] and ks[0]["pid"]

        self.kernel = wait_until(kernel_up, START_TIMEOUT, 0.5)
        if not self.kernel or self.kernel == -1:
            return "the launcher's kernel did not come up: " + self.launcher_log()[-800:]
        # the app exists in the kernel once its state is known; the census app serves
        wait_until(lambda: self.app_status().get("state") == "stopped", 30, 0.3)
        def census_serves():
            try:
                return bool(self.python_threads())
            except (OSError, AssertionError):
                return False

        if not wait_until(census_serves, 60, 0.3):
            return "the census app did not serve: " + self.launcher_log()[-800:]
        return None

    @property
    def kernel_pid(self) -> int:
        return self.kernel

    def python_threads(self) -> List[Dict]:
        """The kernel's Python threads (threading.enumerate), from the census app."""
        status, text = http(f"http://127.0.0.1:{self.census_port}/", timeout=15)
        assert status == 200, (status, text[:200])
        return json.loads(text)

    def start(self) -> Optional[str]:
        return self._action("restart")  # "a stopped app is started"

    def restart(self) -> Optional[str]:
        return self._action("restart")

    def stop(self) -> Optional[str]:
        return self._action("stop")

    def _action(self, verb: str) -> Optional[str]:
        r = self.control(verb, self.app.name)
        if r.returncode != 0:
            st = self.app_status()
            return (f"`tornado-launcher {verb} {self.app.name}` exited {r.returncode}: "
                    f"{(r.stderr or r.stdout).strip()[-600:]} (state {st.get('state')!r}: {st.get('reason')!r})")
        return None

    def log(self) -> str:
        r = self.control("logs", self.app.name, timeout=30)
        return r.stdout

    def launcher_log(self) -> str:
        return (self.ctx.tmp / "launcher.log").read_text(errors="replace")

    def root_pid(self) -> int:
        return self.proc.pid

    def interrupt(self) -> None:
        self.proc.send_signal(signal.SIGINT)

    def wait(self, timeout: float) -> bool:
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def kill(self) -> None:
        pids = set(children_of(self.proc.pid)) if self.proc else set()
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        for pid in pids:  # a kernel or child that left the launcher's process group
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


# ----------------------------------------------------------------------------- the checks
def serving(app: RealApp, ctx: Ctx, timeout: float = 20.0) -> Optional[str]:
    """None once the app's page answers 200 with its text (and its other listener answers)."""
    last = "no answer"

    def once():
        nonlocal last
        try:
            status, text = http(ctx.url(app.path), timeout=20)
        except OSError as e:
            last = f"GET {app.path}: {e}"
            return False
        if status != 200 or app.expect not in text:
            last = f"GET {app.path}: {status} {text[:200]!r}"
            return False
        return True

    if not wait_until(once, timeout, 0.3):
        return last
    if app.extra_check:
        why = app.extra_check(ctx)
        if why:
            return why
    return None


def python_threads_left(driver, before: List[Dict]) -> Optional[str]:
    """The Python threads of the kernel that were not there before the app's first start."""
    known = {t["ident"] for t in before}
    new: List[Dict] = []

    def none_new():
        nonlocal new
        new = [t for t in driver.python_threads() if t["ident"] not in known]
        return not new

    if wait_until(none_new, 10):
        return None
    return "Python threads left in the kernel: " + "; ".join(f"{t['name']} ({t['class']}, at {t['where']})"
                                                            for t in new)


def teardown_ran(app: RealApp, ctx: Ctx, driver, settle: float) -> Optional[str]:
    """What shows the app's teardown already ran, just after its first start served (None: nothing)."""
    time.sleep(settle)  # test code: a teardown run by the start itself has happened by now
    t = app.teardown
    if t.present is not None and not wait_until(lambda: t.present(ctx), 20):
        return f"what it removes at stop was already gone: it {t.what}"
    if t.present is None and t.done is not None and t.done(ctx):
        return f"it {t.what}"
    if t.log is not None and log_matches(t.log, driver.log()):
        return f"its log shows {t.log!r}"
    return None


def spawn_child(app: RealApp, ctx: Ctx, driver) -> Set[int]:
    """Make the app start a child process (if it has a way); the app's children then."""
    if app.spawn:
        app.spawn(ctx)
    if app.spawn or app.name == "kernel_gateway":
        wait_until(lambda: app_children(driver.kernel_pid), 30, 0.3)
    return set(app_children(driver.kernel_pid))


def exercise(app: RealApp, mode: str, python: str, tmp: Path) -> Result:
    started = time.monotonic()
    result = Result(app.name, mode)
    # sockets in XDG_RUNTIME_DIR (the launcher's control socket) need a short path: not under tmp
    ctx = Ctx(tmp, free_port(), free_port(), Path(tempfile.mkdtemp(prefix="ra-", dir="/tmp")))
    env = app_env(ctx)
    if app.setup:
        app.setup(ctx)
    plain = mode == "plain"
    driver = Plain(app, python, ctx, env) if plain else Launcher(app, python, ctx, env, mode == "threaded")
    children_seen: Set[int] = set()
    try:
        base_threads: List[str] = []
        base_sockets: Dict[int, str] = {}
        if not plain:
            why = driver.boot()
            if why:
                result.fail("serves", why)
                return result
            base_threads, base_sockets = threads_of(driver.kernel_pid), tcp_sockets_of(driver.kernel_pid)
            base_py = driver.python_threads()
        # serves (the first start imports the app: a longer wait)
        why = driver.start() or serving(app, ctx, 60.0)
        if why:
            result.fail("serves", why)
            return result
        result.passed("serves")
        early = teardown_ran(app, ctx, driver, settle=1.0)
        if early:
            result.fail("teardown", f"ran while the app served, right after its start ({early}), not at its stop")
        children_seen |= spawn_child(app, ctx, driver)
        if app.spawn and not children_seen:
            result.notes.append("no child process seen after asking for one")
        # restart
        why = driver.restart() or serving(app, ctx)
        if why:
            result.fail("restart", why)
        else:
            result.passed("restart")
        children_seen |= spawn_child(app, ctx, driver)
        # stop
        kernel = driver.kernel_pid
        why = driver.stop()
        if why:
            result.fail("stop", why)
        busy = [p for p in app.ports(ctx) if not wait_until(lambda p=p: port_is_free(p), 10)]
        if busy:
            result.fail("stop", f"port(s) {busy} still bound after the stop")
        if not plain:
            left = wait_until(lambda: not app_children(kernel), 10) or app_children(kernel)
            if left is not True:
                result.fail("stop", f"child processes left: {left}")
            why = python_threads_left(driver, base_py)
            if why:
                result.fail("stop", why)
            os_after_first_stop = len(threads_of(kernel))
            if os_after_first_stop > len(base_threads):  # native pools of libraries it imported (BLAS, zmq)
                result.notes.append(f"native threads: {len(base_threads)} before the first start, "
                                    f"{os_after_first_stop} after its stop")
            socks = wait_until(lambda: not (set(tcp_sockets_of(kernel)) - set(base_sockets)), 10)
            if not socks:
                extra = {i: d for i, d in tcp_sockets_of(kernel).items() if i not in base_sockets}
                result.fail("stop", f"TCP sockets left in the kernel: {sorted(extra.values())}")
        else:
            left = [p for p in children_seen if alive(p)]
            if left:
                result.fail("stop", f"child processes left: {left}")
        result.passed("stop")
        # teardown
        log = driver.log()
        if app.teardown.done and not wait_until(lambda: app.teardown.done(ctx), 10):
            result.fail("teardown", f"not run at stop: it {app.teardown.what}")
        elif not log_matches(app.teardown.log, log):
            result.fail("teardown", f"not run at stop: its log has no line matching {app.teardown.log!r}")
        else:
            result.passed("teardown")
        if app.teardown.done and app.teardown.present is None:  # a file it writes: gone for the next run
            for marker in (ctx.tmp / "home").glob("*-done"):
                marker.unlink()
            for marker in (ctx.tmp / "home").glob("*-unloaded"):
                marker.unlink()
        again = None  # why it did not start again after its stop (None: it did)
        if not plain and "stop" in result.outcomes:
            # a second start/stop: nothing may pile up per run (native threads included)
            why = again = driver.start() or serving(app, ctx)
            if why:
                result.fail("restart", "it did not start again after its stop: " + why)
            else:
                children_seen |= spawn_child(app, ctx, driver)
                why = driver.stop()
                if why:
                    result.fail("stop", "second stop: " + why)
                grown = wait_until(lambda: len(threads_of(kernel)) <= os_after_first_stop, 10)
                if not grown:
                    result.fail("stop", f"threads pile up per run: {os_after_first_stop} after the first stop, "
                                        f"{len(threads_of(kernel))} after the second ({sorted(threads_of(kernel))})")
                why = python_threads_left(driver, base_py)
                if why:
                    result.fail("stop", "second stop: " + why)
                left = wait_until(lambda: not app_children(kernel), 10) or app_children(kernel)
                if left is not True:
                    result.fail("stop", f"second stop: child processes left: {left}")
        # Ctrl+C: a new start, then SIGINT to the launcher (to the process, plain)
        why = again or driver.start() or serving(app, ctx)
        if why:  # it does not serve: Ctrl+C must still leave nothing
            result.fail("ctrl_c", "it did not start again after the stop: " + why)
        else:
            children_seen |= spawn_child(app, ctx, driver)
        tree = set(children_of(driver.root_pid())) | children_seen | {driver.root_pid()}
        driver.interrupt()
        if not driver.wait(60):
            result.fail("ctrl_c", "still running 60 s after SIGINT")
        left = [p for p in tree if wait_until(lambda p=p: not alive(p), 10) is False]
        if left:
            shown = [(p, open(f"/proc/{p}/cmdline").read()[:80]) for p in left if alive(p)]
            result.fail("ctrl_c", f"processes left: {shown}")
        busy = [p for p in app.ports(ctx) if not wait_until(lambda p=p: port_is_free(p), 10)]
        if busy:
            result.fail("ctrl_c", f"port(s) {busy} still bound")
        result.passed("ctrl_c")
        return result
    except Exception as e:  # a check that could not even run: its reason is the result
        result.notes.append(f"harness stopped: {type(e).__name__}: {e}")
        for check in CHECKS:
            if check not in result.outcomes:
                result.fail(check, f"not reached ({type(e).__name__}: {e})")
                break
        return result
    finally:
        driver.kill()
        for pid in children_seen:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        shutil.rmtree(ctx.short, ignore_errors=True)
        result.seconds = time.monotonic() - started
        if result.failures and not plain:
            result.notes.append("app log tail: " + " | ".join(driver_log_tail(ctx)))


def driver_log_tail(ctx: Ctx, n: int = 12) -> List[str]:
    path = ctx.tmp / "launcher.log"
    if not path.exists():
        return []
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if re.search(r"(ERROR {3}|WARNING )\S", ln)]
    return lines[-n:]


def main(argv: List[str]) -> int:
    import argparse

    sys.path.insert(0, str(HERE))
    from realapps_venv import ensure

    p = argparse.ArgumentParser()
    p.add_argument("apps", nargs="*", default=[a.name for a in CORPUS])
    p.add_argument("--mode", default="plain,shared,threaded")
    p.add_argument("--keep", action="store_true", help="keep the temporary directories")
    ns = p.parse_args(argv)
    python = str(ensure())
    failed = 0
    for name in ns.apps:
        for mode in ns.mode.split(","):
            tmp = Path(tempfile.mkdtemp(prefix=f"realapps-{name}-{mode}-"))
            r = exercise(BY_NAME[name], mode, python, tmp)
            print(r.report(), flush=True)
            if ns.keep:
                print(f"  (kept {tmp})")
            else:
                shutil.rmtree(tmp, ignore_errors=True)
            failed += bool(r.failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
