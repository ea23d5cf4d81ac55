"""Live reload answers only the developer: a real client on another address, from a network
namespace joined to this one by a veth pair (addresses in a private /30 this test creates and
removes; traffic stays between the namespace and this machine).

Needs root and iproute2's ``ip`` (CI runs as root; ``setup.sh --test`` installs iproute2).
"""

import asyncio
import json
import os
import re
import shutil
import sys

import pytest

from tests.helpers import free_port, running_session, veth_namespace, write_project
from tests.live_pages import STATIC_BINARY, app_block, live_files
from tornado_launcher.engine.events import AppState, LogRecord

TAG = re.compile(r'<script src="/__tornado_launcher__/live\.js"[^>]*></script>')
SCRIPT, STREAM = "/__tornado_launcher__/live.js", "/__tornado_launcher__/live?generation=x"

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("ip") is None,
    reason="needs root and iproute2's `ip` for a network namespace (CI runs as root)")

#: one GET; prints {"status", "headers", "body"}; with an event name, reads the stream until that event
CLIENT = r"""
import http.client, json, sys
host, port, path, headers, until = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4]), sys.argv[5]
c = http.client.HTTPConnection(host, port, timeout=15)
c.request("GET", path, headers=headers)
r = c.getresponse()
if until and r.status == 200:
    body = b""
    while ("event: " + until).encode() not in body:
        line = r.fp.readline()
        if not line:
            break
        body += line
    body += r.fp.readline()  # its data line
else:
    body = r.read()
print(json.dumps({"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()},
                  "body": body.decode("utf-8", "replace")}))
"""


@pytest.fixture
def netns():
    """(namespace, this side's address, the namespace's address): a veth pair in a /30."""
    with veth_namespace() as (ns, here, there):
        yield ns, here, there


async def get(port, path, *, ns=None, host="127.0.0.1", headers=None, until=""):
    argv = [sys.executable, "-c", CLIENT, host, str(port), path, json.dumps(headers or {}), until]
    if ns is not None:
        argv = ["ip", "netns", "exec", ns] + argv
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    return json.loads(out)


def project(root, port, hosts=None):
    files = live_files()
    files["proj/web.py"] = files["proj/web.py"].replace('address="127.0.0.1"', 'address="0.0.0.0"')
    block = app_block("web", port, live=True)
    if hosts:
        block = block.replace("    live_reload = true\n", "    live_reload = true\n    live_reload_hosts = %s\n"
                              % json.dumps(hosts))
    files["jaffle.hcl"] = 'kernel "k" {}\n' + block
    write_project(root, files)
    (root / STATIC_BINARY[0]).write_bytes(STATIC_BINARY[1])
    return root / "jaffle.hcl"


def running(e):
    return isinstance(e, AppState) and e.app == "web" and e.state == "running"


async def test_live_reload_answers_loopback_and_the_named_addresses_only(tmp_path, netns):
    ns, here, there = netns
    port = free_port()
    async with running_session(project(tmp_path / "a", port), auto_reload=False) as (s, rec):
        await rec.wait(running)
        # this machine's browser: the page has the script; the script and the stream answer
        mine = await get(port, "/")
        assert mine["status"] == 200 and TAG.search(mine["body"])
        assert (await get(port, SCRIPT))["status"] == 200
        hello = await get(port, STREAM, until="hello")
        assert hello["status"] == 200 and "event: hello" in hello["body"]

        # a client on another address: the page as the app wrote it, length and ETag its own; 403 on both routes
        theirs = await get(port, "/", ns=ns, host=here)
        assert theirs["status"] == 200 and not TAG.search(theirs["body"])
        assert theirs["body"] == TAG.sub("", mine["body"])
        assert int(theirs["headers"]["content-length"]) == len(theirs["body"].encode())
        assert "-tl" not in theirs["headers"]["etag"] and "-tl" in mine["headers"]["etag"]
        assert (await get(port, SCRIPT, ns=ns, host=here))["status"] == 403
        assert (await get(port, STREAM, ns=ns, host=here, until="hello"))["status"] == 403
        # even when it says Host: localhost
        assert (await get(port, STREAM, ns=ns, host=here, headers={"Host": f"localhost:{port}"}))["status"] == 403

        # loopback, but a foreign Host (DNS rebinding) or a foreign Origin: 403, and the page untouched
        rebound = {"Host": f"evil.example:{port}"}
        assert (await get(port, SCRIPT, headers=rebound))["status"] == 403
        assert (await get(port, STREAM, headers=rebound, until="hello"))["status"] == 403
        assert not TAG.search((await get(port, "/", headers=rebound))["body"])
        assert (await get(port, STREAM, headers={"Origin": "http://evil.example"}, until="hello"))["status"] == 403
        assert (await get(port, STREAM, headers={"Origin": f"http://127.0.0.1:{port}"}, until="hello"))["status"] == 200

        # the app's log says once what happened to that address, and how to open it
        told = [m for m in rec.logs("web") if m.startswith(f"live reload is off for {there}")]
        assert len(told) == 1 and f'live_reload_hosts = ["{there}"]' in told[0]

    # live_reload_hosts opens it to the namespace's address; the overlay there says what the window says
    port = free_port()
    async with running_session(project(tmp_path / "b", port, hosts=[there]), auto_reload=False) as (s, rec):
        await rec.wait(running)
        page = await get(port, "/", ns=ns, host=here)
        assert TAG.search(page["body"])
        assert (await get(port, SCRIPT, ns=ns, host=here))["status"] == 200
        problem = "proj/web.py:7: invalid syntax"
        s.core.mark_stale("web", problem)
        gen = re.search(r'data-generation="([^"]+)"', page["body"]).group(1)
        failed = await get(port, STREAM.replace("=x", "=" + gen), ns=ns, host=here, until="failed")
        assert failed["status"] == 200
        data = json.loads(failed["body"].split("event: failed\n", 1)[1].split("data: ", 1)[1].splitlines()[0])
        assert data["message"] == problem
        # still not to a name (a rebinding site's could resolve to this address)
        named = await get(port, STREAM, ns=ns, host=here, headers={"Host": f"devbox.example:{port}"})
        assert named["status"] == 403
        assert not any(isinstance(e, LogRecord) and e.app == "web" and "live reload is off" in e.message
                       for e in rec.events)
