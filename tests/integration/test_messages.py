"""What `tornado-launcher start` prints must not mislead (issue 19, item 10): a real session, the
headless Printer on a text buffer, real file edits, a real SIGSTOP/SIGCONT of the kernel."""

import asyncio
import io
import os
import signal

from helpers import PLAIN_APP, free_port, plain_project, running_session, web_app_hcl

from tornado_launcher.engine.events import AppState, KernelState, ReloadEvent
from tornado_launcher.terminal.headless import Printer


def running(e):
    return isinstance(e, AppState) and e.app == "web" and e.state == "running"


async def test_import_failure_stale_and_sigcont_are_said_as_they_are(tmp_path):
    port = free_port()
    cfg = plain_project(tmp_path, web_app_hcl(port, start="web.start()"))
    out = io.StringIO()
    async with running_session(cfg) as (s, rec):
        s.subscribe(Printer(out, color=False, kinds={"web": "tornado"}))
        await rec.wait(running, timeout=60)
        web = tmp_path / "proj" / "web.py"
        # compiles, fails at import: not "does not compile", and the prefix said once
        mark = len(rec.events)
        web.write_text(PLAIN_APP + '\nraise RuntimeError("broken at import")\n')
        refused = await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "refused", start=mark)
        assert refused.stage == "start" and "proj/web.py" in refused.detail
        await asyncio.sleep(0.3)
        text = out.getvalue()
        assert "does not compile" not in text, text
        assert "compiled but failed when it ran" in text and "RuntimeError: broken at import" in text, text
        assert "serving old code: serving old code" not in text, text
        assert "serving old code: proj/web.py:" in text, text
        # the fixing save: no "serving old code" flash before the reload's success
        before = len(out.getvalue())
        mark = len(rec.events)
        web.write_text(PLAIN_APP.replace('"v1"', '"v2"'))
        await rec.wait(lambda e: isinstance(e, ReloadEvent) and e.outcome == "done", start=mark, timeout=30)
        await asyncio.sleep(0.3)
        after = out.getvalue()[before:]
        assert "reloaded proj/web.py" in after and "serving old code" not in after, after
        # SIGSTOP / SIGCONT: not responding, responding again; nothing restarted, no new "serving at"
        serving = out.getvalue().count("serving at")
        pid = s.kernels["k"].pid
        mark = len(rec.events)
        os.kill(pid, signal.SIGSTOP)
        try:
            await rec.wait(lambda e: isinstance(e, KernelState) and e.state == "not responding", start=mark)
        finally:
            os.kill(pid, signal.SIGCONT)
        await rec.wait(lambda e: isinstance(e, KernelState) and "responding again" in (e.reason or ""),
                       start=mark)
        await asyncio.sleep(0.5)
        text = out.getvalue()
        assert "not responding" in text and "responding again" in text, text
        assert text.count("serving at") == serving, text
        assert s.kernels["k"].pid == pid
