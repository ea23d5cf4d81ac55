"""The per-app process model, part 1 (issues 18 and 25), through the real Session, both modes.

The apps in tests/integration/process_apps behave as their own process would: they install
signal handlers, tear down after their blocking call, register atexit, try to fork, exit,
start through traitlets' launch_instance().  What they observe is written to files
(``--out DIR``); the kernel's side is asked in cells.
"""

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from tests.helpers import Recorder, fetch, free_port, port_is_free, running_session  # noqa: F401
from tornado_launcher.engine.events import AppState, LogRecord

APPS = Path(__file__).parent / "process_apps"
pytestmark = pytest.mark.timeout(300)
MODES = pytest.mark.parametrize("threaded", [False, True], ids=["shared", "threaded"])


def project(tmp_path, apps, threaded):
    """``apps``: name -> (entry line, how); returns (config, {name: port}, {name: out dir})."""
    root = tmp_path / "project"
    shutil.copytree(APPS, root, ignore=shutil.ignore_patterns("__pycache__"))
    ports, outs = {}, {}
    blocks = ['kernel "k" {}\n']
    for name, (entry, how, *stop_timeout) in apps.items():
        ports[name] = free_port()
        outs[name] = tmp_path / "out" / name
        outs[name].mkdir(parents=True)
        argv = [f"--port={ports[name]}", f"--out={outs[name]}"] + ([f"--how={how}"] if how else [])
        blocks.append(f'app "{name}" {{\n  class  = "jaffle.app.tornado.TornadoBridgeApp"\n  kernel = "k"\n'
                      f'  start  = "{name}.start()"\n  options {{\n    {entry}\n    argv = {json.dumps(argv)}\n'
                      f'    threaded = {"true" if threaded else "false"}\n'
                      f'    stop_timeout = {(stop_timeout or [10])[0]}\n  }}\n}}\n')
    (root / "jaffle.hcl").write_text("\n".join(blocks))
    return root / "jaffle.hcl", ports, outs


def notes(out):
    """[(what, thread name)] the app wrote."""
    path = out / "notes"
    if not path.exists():
        return []
    return [tuple(line.rsplit("|", 1)) for line in path.read_text().splitlines()]


def said(out):
    return [what for what, _ in notes(out)]


async def until(cond, timeout=15.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)


async def cell(s, code):
    out = await s.execute("k", code)
    assert out["status"] == "ok", out
    return out["stdout"].strip().splitlines()[-1] if out["stdout"].strip() else ""


def state_of(app, *states):
    return lambda e: isinstance(e, AppState) and e.app == app and e.state in states


def log_with(app, *parts):
    return lambda e: isinstance(e, LogRecord) and e.app == app and all(p in e.message for p in parts)


KERNEL_SIDE = ("import signal as __s, atexit as __ax, os as __os\n"
               "print(__import__('json').dumps([repr(__s.getsignal(__s.SIGTERM)), __ax._ncallbacks(), __os.getpid()]))")

SIGNAL_APPS = {
    "signals": ('main = "papps.signals:main"', ""),
    "signals_exit": ('main = "papps.signals:main"', "exit"),
    "loop_signals": ('script = "papps/loop_signals.py"', ""),
    "teardown": ('main = "papps.teardown:main"', "start"),
    "forever": ('main = "papps.teardown:main"', "forever"),
    "run_sync": ('main = "papps.teardown:main"', "run_sync"),
    "atexits": ('main = "papps.atexits:main"', ""),
    "child": ('main = "papps.child:main"', ""),
}


@MODES
async def test_signals_teardown_and_atexit_are_the_apps_and_stop_is_a_sigterm(tmp_path, threaded):
    config, ports, outs = project(tmp_path, SIGNAL_APPS, threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        for name in SIGNAL_APPS:
            await rec.wait(state_of(name, "running", "failed"))
        failed = {n: s.apps[n] for n in SIGNAL_APPS if s.apps[n].state != "running"}
        assert not failed, failed  # threaded: no ValueError / RuntimeError from the signal calls
        for name in SIGNAL_APPS:
            assert (await fetch(f"http://127.0.0.1:{ports[name]}/"))[0] == 200, name
        # the app's handlers are its own: the kernel's SIGTERM and SIGINT (seen outside a cell:
        # ipykernel sets its own SIGINT handler while a cell runs) are untouched
        sigterm, ncallbacks, pid = json.loads(await cell(s, KERNEL_SIDE))
        assert "papps" not in sigterm and "on_term" not in sigterm, sigterm
        await cell(s, "import signal as __s, asyncio as __a\n__seen = []\n"
                      "__a.get_running_loop().call_later(0.2, lambda: __seen.append(repr(__s.getsignal(__s.SIGINT))))")
        await asyncio.sleep(0.6)
        sigint = await cell(s, "print(__seen)")
        assert "on_term" not in sigint and "papps" not in sigint, sigint
        assert said(outs["signals"])[0] == "installed previous=0 mine=True"
        # the entry's blocking call blocks its main: no teardown while it serves
        for name in ("teardown", "forever", "run_sync"):
            assert said(outs[name]) == ["enter", "listening"], (name, notes(outs[name]))
        assert said(outs["signals"]) == ["installed previous=0 mine=True"]
        assert said(outs["loop_signals"]) == []
        # SIGCHLD still reaches the app that set a handler (tornado.process.Subprocess)
        assert await fetch(f"http://127.0.0.1:{ports['child']}/") == (200, "child exited 3")
        # the kernel stays responsive while the apps' mains are blocked
        assert await cell(s, "print(6 * 7)") == "42"

        # a restart stops the old run with its SIGTERM handler; the new one serves
        start = len(rec.events)
        await s.restart_app("signals")
        assert (await fetch(f"http://127.0.0.1:{ports['signals']}/")) == (200, "signals")
        await rec.wait(log_with("signals", "stopped by its SIGTERM handler in"), start=start, timeout=15)
        assert said(outs["signals"]).count("sigterm 15") == 1

        # Stop is a SIGTERM: the app's own handler, then its teardown on its main's thread
        for name in SIGNAL_APPS:
            start = len(rec.events)
            await asyncio.wait_for(s.stop_app(name), 30)
            assert s.apps[name].state == "stopped", (name, s.apps[name])
            assert port_is_free(ports[name]), name
            how = "its SIGTERM handler" if "signals" in name else "a KeyboardInterrupt in its main"
            if name == "child":  # after its stop, another start's Subprocess reaps again
                await s.start_app(name)
                assert await fetch(f"http://127.0.0.1:{ports['child']}/") == (200, "child exited 3")
                await s.stop_app(name)
            await rec.wait(log_with(name, "stopped by " + how + " in"), start=start, timeout=10)
        sig = notes(outs["signals"])
        assert [w for w, _ in sig][-3:] == ["sigterm 15", "after-start", "finally"], sig
        installed_on = [t for w, t in sig if w.startswith("installed")]
        assert installed_on[0] == installed_on[1] == [t for w, t in sig if w == "finally"][-1]
        assert said(outs["signals_exit"])[1:] == ["sigterm 15", "finally"]  # its sys.exit left start()
        assert said(outs["loop_signals"]) == ["main-task-end", "asyncio.run-returned 7"]
        for name in ("teardown", "forever", "run_sync"):
            seen = notes(outs[name])
            assert [w for w, _ in seen] == ["enter", "listening", "KeyboardInterrupt", "finally", "exit", "closed"], \
                (name, seen)
            # teardown on the thread its main started on (run_sync's coroutine runs on the loop)
            assert len({t for w, t in seen if w != "listening" or name != "run_sync"}) == 1, seen
        assert said(outs["atexits"]) == ["atexit-second", "atexit-first"]

        # atexit: once per run, never piled up in the kernel; the kernel's own untouched
        await s.start_app("atexits")
        await s.stop_app("atexits")
        assert said(outs["atexits"]) == ["atexit-second", "atexit-first"] * 2
        now_sigterm, now_ncallbacks, now_pid = json.loads(await cell(s, KERNEL_SIDE))
        assert (now_sigterm, now_ncallbacks, now_pid) == (sigterm, ncallbacks, pid)
        # the kernel's loop was neither stopped nor closed by the apps' loop.stop()/close()
        assert await cell(s, "import asyncio as __a\nprint(__a.get_running_loop().is_closed())") == "False"
        # Interrupt still interrupts a cell
        running = asyncio.ensure_future(s.execute("k", "import time\ntime.sleep(30)"))
        await asyncio.sleep(1.0)
        await s.interrupt_kernel("k")
        out = await asyncio.wait_for(running, 10)
        assert out["status"] == "error" and "KeyboardInterrupt" in (out["traceback"] or ""), out


EXIT_APPS = {
    "start_n": ('main = "papps.multiproc:main"', "4"),
    "start_0": ('main = "papps.multiproc:main"', "0"),
    "forks": ('main = "papps.multiproc:main"', "fork"),
    "jupyterish": ('main = "papps.singleton:main"', ""),
    "exit_main": ('main = "papps.exits:main"', "main"),
    "exit_callback": ('main = "papps.exits:main"', "callback"),
    "os_exit": ('main = "papps.exits:main"', "os_exit"),
    "interrupt": ('main = "papps.exits:main"', "interrupt"),
    "contract_exit": ('app_class = "papps.contract.ExitingApp"', ""),
    "exit_sync": ('main = "papps.exits:sync_main"', ""),
    "forker": ('main = "papps.forker:main"', ""),
    "selfkill": ('main = "papps.selfkill:main"', ""),
    "selfkill_handled": ('main = "papps.selfkill:main"', "handler"),
    "alarm": ('main = "papps.alarm:main"', ""),
    "alarm_handled": ('main = "papps.alarm:main"', "handler"),
}

CHILDREN = ("import os as __os\nprint(sum(len(open('/proc/self/task/%s/children' % t).read().split())"
            " for t in __os.listdir('/proc/self/task')))")


@MODES
async def test_one_process_own_singletons_and_exits_end_only_the_app(tmp_path, threaded):
    config, ports, outs = project(tmp_path, EXIT_APPS, threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        pid = await cell(s, "import os\nprint(os.getpid())")
        # multi-process starts are refused with the call and the fix; never a fork
        for name, call in (("start_n", "HTTPServer.start(4)"), ("start_0", "HTTPServer.start(0)"),
                           ("forks", "tornado.process.fork_processes(0)")):
            ev = await rec.wait(state_of(name, "failed", "running"))
            assert ev.state == "failed" and call in ev.reason and "`process` block" in ev.reason, ev
            assert said(outs[name]) == ["started"]
        assert await cell(s, CHILDREN) == "0"
        # a forked child's os._exit ends that child (the refusal is the kernel's only)
        await rec.wait(state_of("forker", "running"))
        assert await fetch(f"http://127.0.0.1:{ports['forker']}/", timeout=20) == (200, "child exit code 3")
        # traitlets' launch_instance(): the app's own Application slot, the kernel's untouched
        await rec.wait(state_of("jupyterish", "running", "failed"))
        assert s.apps["jupyterish"].state == "running", s.apps["jupyterish"]
        assert await fetch(f"http://127.0.0.1:{ports['jupyterish']}/") == (200, "singleton")
        kernel_app = ("from traitlets.config import Application\nfrom ipykernel.kernelapp import IPKernelApp\n"
                      "print(Application.instance() is IPKernelApp.instance(), "
                      "isinstance(Application.instance(), IPKernelApp))")
        # (the kernels the launcher starts run ipykernel's app as bridge/boot.py's subclass)
        assert await cell(s, kernel_app) == "True True"
        await s.restart_app("jupyterish")  # a restart starts with an empty slot
        assert s.apps["jupyterish"].state == "running", s.apps["jupyterish"]
        assert await fetch(f"http://127.0.0.1:{ports['jupyterish']}/") == (200, "singleton")
        assert said(outs["jupyterish"]) == ["instance-is-mine True"] * 2
        await s.stop_app("jupyterish")
        assert await cell(s, kernel_app) == "True True"
        # an app that sends itself SIGTERM: its handler, else it ends; never the kernel
        for name in ("selfkill", "selfkill_handled"):
            await rec.wait(state_of(name, "running"))
            await fetch(f"http://127.0.0.1:{ports[name]}/term")
        ev = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "selfkill_handled"
                            and e.state == "stopped" and e.reason, timeout=20)
        assert ev.reason == "main() returned", ev
        assert said(outs["selfkill_handled"]) == ["finally"]
        # sys.exit / SystemExit / os._exit / KeyboardInterrupt / a signal end the app, never the kernel
        for name, reason in (("exit_main", "exit status 3 (sys.exit in papps/exits.py:"),
                             ("exit_callback", "exit status 4 (sys.exit"),
                             ("os_exit", "exit status 5 (os._exit"),
                             ("interrupt", "interrupted (KeyboardInterrupt in papps/exits.py:"),
                             ("contract_exit", "exit status 2 (sys.exit"),
                             ("exit_sync", "exit status 6 (sys.exit in papps/exits.py:"),
                             ("selfkill", "terminated by SIGTERM (os.kill in papps/selfkill.py:"),
                             ("alarm", "terminated by SIGALRM (signal.alarm)")):
            ev = await rec.wait(lambda e, n=name: isinstance(e, AppState) and e.app == n
                                and e.state in ("failed", "stopped") and e.reason, timeout=20)
            assert reason in ev.reason, (name, ev)
            assert ev.state == "failed", ev
            assert port_is_free(ports[name]), name
        assert await cell(s, "import os\nprint(os.getpid())") == pid
        for _ in range(100):  # its alarm(1) fires about 1 s after its start
            if said(outs["alarm_handled"]):
                break
            await asyncio.sleep(0.1)
        assert said(outs["alarm_handled"]) == ["alarm 14"] and s.apps["alarm_handled"].state == "running"
        assert not [e for e in rec.events if getattr(e, "state", None) in ("dead", "restarting")
                    and not isinstance(e, AppState)]


@MODES
async def test_a_stop_that_the_app_ignores_is_forced_after_stop_timeout(tmp_path, threaded):
    config, ports, outs = project(tmp_path, {"stuck": ('main = "papps.stuck:main"', "", 1),
                                             "other": ('main = "papps.teardown:main"', "start")}, threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        for name in ("stuck", "other"):
            await rec.wait(state_of(name, "running"))
        start = len(rec.events)
        await asyncio.wait_for(s.stop_app("stuck"), 15)
        assert s.apps["stuck"].state == "stopped" and port_is_free(ports["stuck"])
        await rec.wait(log_with("stuck", "did not stop within 1 s after its SIGTERM handler: forced"), start=start)
        # its handler ran, then Ctrl+C's KeyboardInterrupt reached its teardown, which never ends
        assert said(outs["stuck"]) == ["sigterm ignored", "teardown blocks"]
        # the kernel and its other apps go on
        assert await cell(s, "print(6 * 7)") == "42"
        assert await fetch(f"http://127.0.0.1:{ports['other']}/") == (200, "teardown start")
        await s.start_app("stuck")
        assert await fetch(f"http://127.0.0.1:{ports['stuck']}/") == (200, "stuck")


async def test_interrupt_reaches_a_shared_main_that_blocks_the_kernel(tmp_path):
    # shared mode only: the kernel's loop waits for the app's main thread (threaded mode: the
    # app's own thread, test_faults.py's case)
    config, ports, outs = project(tmp_path, {"spin": ('main = "papps.spin:main"', "")}, False)
    async with running_session(config, auto_reload=False) as (s, rec):
        await rec.wait(state_of("spin", "running"))
        await asyncio.sleep(1.5)  # the bridge takes SIGINT at its loop's next beats
        (outs["spin"] / "spin").write_text("")
        restart = asyncio.ensure_future(s.restart_app("spin"))
        # the hang monitor reports where the main thread is, not where the loop thread waits
        await rec.wait(log_with("spin", "not responding", "papps/spin.py:"), timeout=20)
        await s.interrupt_kernel("k")
        ev = await asyncio.wait_for(restart, 20)
        # the new run failed with the Interrupt; the old one still serves
        assert ev.state == "running" and "Interrupted" in (ev.reason or ""), ev
        assert await fetch(f"http://127.0.0.1:{ports['spin']}/") == (200, "spin")
        assert said(outs["spin"]) == ["spinning", "interrupted Interrupted"]
        assert await cell(s, "print(6 * 7)") == "42"


@MODES
async def test_a_contract_apps_start_blocks_until_its_stop(tmp_path, threaded):
    """Kernel Gateway's case (issue 18.3 for app_class): the code after its IOLoop.start() runs at
    its stop, never at its start; a stop() that stops nothing has its loop stopped for it after
    stop_timeout."""
    config, ports, outs = project(tmp_path, {"ct": ('app_class = "papps.contract_teardown.TeardownApp"', ""),
                                             "hang": ('app_class = "papps.contract_teardown.TeardownApp"', "hang", 1)},
                                  threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        for name in ("ct", "hang"):
            await rec.wait(state_of(name, "running", "failed"))
            assert s.apps[name].state == "running", s.apps[name]
        await asyncio.sleep(0.5)
        for name in ("ct", "hang"):
            assert said(outs[name]) == ["listening"], (name, notes(outs[name]))
            assert await fetch(f"http://127.0.0.1:{ports[name]}/", timeout=5) == (200, "contract teardown"), name
        assert await cell(s, "print(6 * 7)") == "42"  # the kernel answers while its start() blocks
        # a restart: the old run's teardown runs (once), the new run serves
        st = await s.restart_app("ct")
        assert st.state == "running", st
        await until(lambda: len(said(outs["ct"])) >= 4)  # the old run stops once the new one serves
        assert said(outs["ct"]) == ["listening", "listening", "stop", "finally"], notes(outs["ct"])
        assert await fetch(f"http://127.0.0.1:{ports['ct']}/", timeout=5) == (200, "contract teardown")
        st = await s.stop_app("ct")
        assert st.state == "stopped" and port_is_free(ports["ct"]), st
        assert said(outs["ct"])[4:] == ["stop", "finally"], notes(outs["ct"])
        # where its teardown ran: the thread its start() ran on (shared: a main thread of its own)
        # (stop() is called by the launcher, on the kernel's thread in shared mode)
        main = "tornado-launcher:ct" + ("" if threaded else " main")
        assert {t for w, t in notes(outs["ct"]) if w != "stop"} == {main}
        # a stop() that stops nothing: after stop_timeout its loop is stopped, start() returns
        start = len(rec.events)
        st = await asyncio.wait_for(s.stop_app("hang"), 20)
        assert st.state == "stopped" and port_is_free(ports["hang"]), st
        # (its loop stopped for it, as a forced stop does in threaded mode)
        assert said(outs["hang"]) == ["listening", "stop", "finally"], notes(outs["hang"])
        assert not [e for e in rec.events[start:] if isinstance(e, LogRecord) and "thread is left" in e.message]
        assert await cell(s, "import threading\nprint(sorted(t.name for t in threading.enumerate() "
                             "if t.name.startswith('tornado-launcher:')))") == "[]"


THREADS = "import threading, json\nprint(json.dumps(sorted(t.name for t in threading.enumerate())))"


@MODES
async def test_threads_the_app_leaves_running_are_ended_after_its_stop(tmp_path, threaded):
    """flower's case: a thread that catches every exception (SystemExit too) and retries for ever
    is ended after the stop, as the app's process exit would end it; one blocked in a C call
    cannot be, and the log says so; the kernel's and the bridge's threads are never touched."""
    config, ports, outs = project(tmp_path, {"stubborn": ('main = "papps.stubborn:main"', "blocked", 1)}, threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        await rec.wait(state_of("stubborn", "running"))
        await s.stop_app("stubborn")
        kernel_threads = set(json.loads(await cell(s, THREADS)))
        kernel_threads.discard("stubborn-blocked")
        for _ in range(2):  # a start, then a restart
            start = len(rec.events)
            st = await s.start_app("stubborn") if _ == 0 else await s.restart_app("stubborn")
            assert st.state == "running", st
            running_threads = json.loads(await cell(s, THREADS))
            assert {"stubborn-retry", "stubborn-polite", "stubborn-blocked"} <= set(running_threads)
        await s.stop_app("stubborn")
        ended = await rec.wait(log_with("stubborn", "ended 1 thread the app left running"), start=start)
        assert "stubborn-retry (papps.stubborn.retry, at stubborn.py:" in ended.message, ended
        left = await rec.wait(log_with("stubborn", "could not end 1 thread"), start=start)
        assert "stubborn-blocked (" in left.message and "at threading.py:" in left.message, left
        # the restart's old run had its threads ended too (its retry thread left its loop)
        await until(lambda: said(outs["stubborn"]).count("retry left") == 3)
        assert said(outs["stubborn"]).count("finally") == 3
        after = set(json.loads(await cell(s, THREADS)))
        assert kernel_threads <= after, kernel_threads - after  # the kernel's and the bridge's threads
        assert after - kernel_threads == {"stubborn-blocked"}, after - kernel_threads
        assert not any("Exception in thread" in m or "ProcessExited" in m for m in rec.logs())
        assert await cell(s, "print(6 * 7)") == "42"


@MODES
async def test_a_start_that_imports_for_seconds_is_not_a_hang(tmp_path, threaded):
    """jupyter_server's case under load: its start imports for more than the hang monitor's 2 s
    while the kernel's loop waits (shared mode: its main runs in lockstep): "running", never
    "not responding" (a main that spins is: test_interrupt_reaches_a_shared_main...)."""
    config, ports, outs = project(tmp_path, {"slow": ('main = "papps.slow_import:main"', "")}, threaded)
    async with running_session(config, auto_reload=False) as (s, rec):
        await rec.wait(state_of("slow", "running", "failed"), timeout=30)
        st = await s.restart_app("slow")
        assert st.state == "running", st
        assert await fetch(f"http://127.0.0.1:{ports['slow']}/") == (200, "slow import")
        hung = [e for e in rec.events if isinstance(e, AppState) and e.state == "not responding"]
        assert not hung, hung
