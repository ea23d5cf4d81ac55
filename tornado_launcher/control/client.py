"""``tornado-launcher status|restart|stop|interrupt|restart-kernel|logs``: talk to a running launcher.

Finds the launcher of a config as ``start`` finds the config (``./jaffle.hcl``
or ``-c/--config``, repeatable for merged files) through its control socket
(:mod:`tornado_launcher.control.server`).  Exit codes: 0 the action settled as
asked, 1 it failed or a name is unknown (the reason on stderr), 3 no
launcher runs for that config.  Standard library only: it starts fast.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Any, Dict, Iterator, List, Optional

from .server import ControlError, socket_path

COMMANDS = ("status", "restart", "stop", "interrupt", "restart-kernel", "logs")
EXIT_OK, EXIT_FAILED, EXIT_NOT_RUNNING = 0, 1, 3
DEFAULT_CONFIG = "jaffle.hcl"
#: seconds to wait for the launcher's answer (``--timeout``): a quick question, and an action that
#: waits for apps to settle (the session gives each 30 s, after its kernel has run the call)
QUICK_TIMEOUT, ACTION_TIMEOUT = 15.0, 120.0


class NotRunning(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tornado-launcher", description="Drive the launcher running for a config.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-c", "--config", action="append", default=[], metavar="CONFIG",
                        help="the running launcher's config (default: ./jaffle.hcl); repeat for merged files")
    common.add_argument("--timeout", type=float, default=None, metavar="SECONDS",
                        help=f"give up waiting for the launcher's answer after SECONDS (default: "
                        f"{QUICK_TIMEOUT:g}, restart/stop {ACTION_TIMEOUT:g}, logs -f never)")
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("status", parents=[common], help="every app, process, job and kernel with its state")
    s.add_argument("--json", action="store_true", help="print the status as JSON for scripts")
    for name, text in (("restart", "restart apps (a stopped app is started)"), ("stop", "stop apps")):
        a = sub.add_parser(name, parents=[common], help=text)
        a.add_argument("apps", nargs="+", metavar="APP")
    i = sub.add_parser("interrupt", parents=[common], help="interrupt a kernel (KeyboardInterrupt)")
    i.add_argument("kernel", metavar="KERNEL")
    rk = sub.add_parser("restart-kernel", parents=[common],
                        help="a fresh kernel process with its apps (also a kernel given up after too many deaths)")
    rk.add_argument("kernel", metavar="KERNEL")
    lg = sub.add_parser("logs", parents=[common], help="an app's (or kernel's) recent log lines")
    lg.add_argument("app", metavar="APP")
    lg.add_argument("-f", "--follow", action="store_true", help="keep printing new lines until Ctrl+C")
    lg.add_argument("-n", "--lines", type=int, default=None, help="only the last N lines (default: all kept)")
    return p


class NoAnswer(Exception):
    pass


def _connect(paths: List[str], timeout: Optional[float] = None) -> socket.socket:
    path = socket_path(paths)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(path)
    except (FileNotFoundError, ConnectionRefusedError):
        s.close()
        how = (f"`tornado-launcher run {paths[0]}`" if paths[0].endswith(".py")  # a `run` is named by its file
               else f"`tornado-launcher start {' '.join(paths)}` or open it in the window")
        raise NotRunning(f"no launcher is running for {', '.join(paths)} (no control socket at {path}); "
                         f"start one with {how}")
    except PermissionError:
        s.close()
        raise ControlError(f"{path} belongs to another user: only the user who runs a launcher can control it")
    return s


def request(paths: List[str], req: Dict[str, Any], timeout: Optional[float] = None) -> Iterator[Dict[str, Any]]:
    """Send one request; yield each reply line (``logs`` yields many).

    ``timeout``: seconds to wait for each line (None: for ever); :class:`NoAnswer` after it."""
    s = _connect(paths, timeout)
    with s:
        try:
            s.sendall((json.dumps(req) + "\n").encode())
            f = s.makefile("rb")
            for line in f:
                if line.strip():
                    yield json.loads(line)
        except socket.timeout:
            raise NoAnswer(f"the launcher did not answer within {timeout:g} s (its loop may be blocked, "
                           "or the apps are still settling); see `tornado-launcher status`, or pass a "
                           "longer --timeout") from None


def _reply(paths: List[str], req: Dict[str, Any], timeout: Optional[float]) -> Dict[str, Any]:
    for r in request(paths, req, timeout):
        return r
    return {"ok": False, "error": "the launcher closed the connection without an answer"}


def _print_status(st: Dict[str, Any]) -> None:
    rows = [("NAME", "KIND", "STATE", "KERNEL", "URLS / REASON", "")]
    for a in st["apps"]:
        extra = ", ".join(a["urls"]) if a["urls"] else (a.get("reason") or "")
        flags = []
        if a["kind"] == "tornado":
            flags.append("threaded" if a["threaded"] else "shared")
            flags.append("reload on" if a["auto_reload"] else "reload off")
        last = a.get("last_reload")
        if last:
            took = f" in {last['elapsed_ms']:.0f} ms" if last.get("elapsed_ms") is not None else ""
            kind = " (patched, state kept)" if last.get("kind") == "patched" else ""
            flags.append(f"last reload {time.strftime('%H:%M:%S', time.localtime(last['time']))}{took}{kind}")
        rows.append((a["name"], a["kind"], a["state"], a["kernel"] or "-", extra, ", ".join(flags)))
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)) + ("  " + r[5] if r[5] else "").rstrip())
    if st["kernels"]:
        print()
        print("KERNELS")
        for k in st["kernels"]:
            tail = f"  pid {k['pid']}" if k.get("pid") else ""
            why = f"  ({k['reason']})" if k.get("reason") else ""
            print(f"  {k['name']}  {k['state']}{tail}{why}")


def _print_log(d: Dict[str, Any]) -> None:
    stamp = time.strftime("%H:%M:%S", time.localtime(d["time"]))
    print(f"{stamp} {d['source']} {d['level']:<7} {d['message']}")
    if d.get("traceback"):
        for line in d["traceback"].rstrip().splitlines():
            print(f"{stamp} {d['source']} {d['level']:<7}   {line}")
    sys.stdout.flush()


def main(argv: List[str]) -> int:
    ns = _parser().parse_args(argv)
    paths = ns.config or [DEFAULT_CONFIG]
    timeout = ns.timeout
    if timeout is None:
        timeout = ACTION_TIMEOUT if ns.command in ("restart", "stop", "restart-kernel") else QUICK_TIMEOUT
    if timeout <= 0:
        timeout = None
    try:
        if ns.command == "status":
            st = _reply(paths, {"cmd": "status"}, timeout)
            if not st.get("ok"):
                return _fail(st)
            if ns.json:
                json.dump({k: st[k] for k in ("apps", "kernels", "config", "pid")}, sys.stdout, indent=2)
                sys.stdout.write("\n")
            else:
                _print_status(st)
            return EXIT_OK
        if ns.command in ("restart", "stop"):
            r = _reply(paths, {"cmd": ns.command, "apps": ns.apps}, timeout)
            for a in r.get("apps", ()):
                where = f" at {', '.join(a['urls'])}" if a.get("urls") and a["state"] == "running" else ""
                why = f": {a['reason']}" if a.get("reason") and (not a["ok"] or not where) else ""  # a worker says why
                (sys.stdout if a["ok"] else sys.stderr).write(f"{a['name']}: {a['state']}{where}{why}\n")
            return EXIT_OK if r.get("ok") else _fail(r)
        if ns.command == "interrupt":
            r = _reply(paths, {"cmd": "interrupt", "kernel": ns.kernel}, timeout)
            if r.get("ok"):
                print(f"{ns.kernel}: interrupted")
            return EXIT_OK if r.get("ok") else _fail(r)
        if ns.command == "restart-kernel":
            r = _reply(paths, {"cmd": "restart-kernel", "kernel": ns.kernel}, timeout)
            if r.get("ok"):
                print(f"{ns.kernel}: {r.get('state')}" + (f" (pid {r['pid']})" if r.get("pid") else ""))
            for a in r.get("apps", ()):
                where = f" at {', '.join(a['urls'])}" if a.get("urls") else ""
                why = f": {a['reason']}" if a.get("reason") and a["state"] != "running" else ""
                print(f"  {a['name']}: {a['state']}{where}{why}")
            return EXIT_OK if r.get("ok") else _fail(r)
        if ns.command == "logs":
            try:
                req = {"cmd": "logs", "app": ns.app, "follow": ns.follow, "lines": ns.lines}
                for r in request(paths, req, None if ns.follow else timeout):
                    if "log" in r:
                        _print_log(r["log"])
                    else:
                        return EXIT_OK if r.get("ok") else _fail(r)
            except KeyboardInterrupt:
                return EXIT_OK
            return EXIT_OK if ns.follow else EXIT_FAILED
    except NotRunning as e:
        sys.stderr.write(f"tornado-launcher: {e}\n")
        return EXIT_NOT_RUNNING
    except (ControlError, NoAnswer) as e:
        sys.stderr.write(f"tornado-launcher: {e}\n")
        return EXIT_FAILED
    except (ConnectionError, OSError, ValueError) as e:
        sys.stderr.write(f"tornado-launcher: the launcher's control socket failed: {e}; is it shutting down?\n")
        return EXIT_FAILED
    return EXIT_FAILED


def _fail(reply: Dict[str, Any]) -> int:
    if reply.get("error"):
        sys.stderr.write(f"tornado-launcher: {reply['error']}\n")
    return EXIT_FAILED
