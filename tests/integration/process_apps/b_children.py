"""Issue 18.4: an app that starts child processes by every API and never stops them.

argv: PORT PIDFILE.  Writes one line per child ("api pid") to PIDFILE once all run; also runs
one short child it reaps itself (subprocess.run) and one a library terminates (must not
produce errors at stop).
"""
import asyncio
import multiprocessing
import os
import pty
import subprocess
import sys
import threading
import time

import tornado.web


def _sleep_forever():
    time.sleep(600)


class Main(tornado.web.RequestHandler):
    def get(self):
        self.write("children")


async def main():
    port, pidfile = int(sys.argv[1]), sys.argv[2]
    tornado.web.Application([(r"/", Main)]).listen(port, address="127.0.0.1")
    pids = []
    subprocess.run(["true"], check=True)  # reaped by the app itself
    done = subprocess.Popen(["sleep", "600"])
    done.terminate()
    done.wait()  # terminated and reaped by the app itself
    pids.append(("popen", subprocess.Popen(["sleep", "600"]).pid))
    shell = subprocess.Popen(["bash", "-c", "sleep 600 & wait"])  # a shell with a grandchild
    pids.append(("shell", shell.pid))
    proc = await asyncio.create_subprocess_exec("sleep", "600")
    pids.append(("asyncio", proc.pid))
    pid, _fd = pty.fork()
    if pid == 0:
        os.execvp("sleep", ["sleep", "600"])
    pids.append(("pty", pid))
    pid = os.fork()
    if pid == 0:
        try:
            time.sleep(600)
        finally:
            os._exit(0)
    pids.append(("fork", pid))
    pids.append(("posix_spawn", os.posix_spawnp("sleep", ["sleep", "600"], os.environ)))
    threading.Thread(target=os.system, args=("sleep 600",), daemon=True).start()  # blocks while it runs
    mp = multiprocessing.get_context("spawn").Process(target=_sleep_forever, daemon=False)
    mp.start()
    pids.append(("multiprocessing", mp.pid))
    with open(pidfile + ".tmp", "w") as f:
        f.write("".join("%s %d\n" % p for p in pids))
    os.replace(pidfile + ".tmp", pidfile)
    await asyncio.Event().wait()
