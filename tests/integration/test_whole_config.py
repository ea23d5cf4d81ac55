"""The whole jaffle.hcl: processes, jobs, variables — through a real Session."""

import sys

from helpers import (
    PLAIN_APP,
    fetch,
    free_port,
    plain_project,
    port_is_free,
    running_session,
    wait_http,
    web_app_hcl,
    write_project,
)

from tornado_launcher.engine.events import AppState, LogRecord

PY = sys.executable


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def test_process_block_serves_beside_an_app_and_nothing_survives(tmp_path):
    app_port, static_port = free_port(), free_port()
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "index.html").write_text("front end")
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": f'''
        variable "static_port" {{ default = {static_port} }}
        kernel "k" {{}}
        app "web" {{
          class  = "jaffle.app.tornado.TornadoBridgeApp"
          kernel = "k"
          options {{
            app_class = "proj.web.App"
            argv      = ["--port={app_port}"]
          }}
        }}
        process "frontend" {{
          command = "{PY} -m http.server ${{var.static_port}} --bind 127.0.0.1 --directory static"
          env     = {{ GREETING = "hi" }}
        }}
        process "broken" {{
          command = "no-such-tool-xyz serve"
        }}
        '''})
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False) as (s, rec):
        assert s.apps["frontend"].kind == "process"
        await wait_http(f"http://127.0.0.1:{static_port}/index.html", "front end")
        await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "running")
        assert await fetch(f"http://127.0.0.1:{app_port}/") == (200, "v1")
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "frontend" and "GET /index.html" in e.message)
        failed = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "broken" and e.state == "failed")
        assert "command not found: no-such-tool-xyz" in failed.reason
        pid = s.process("frontend").pid
        # Stop / start from the same buttons as apps
        await s.stop_app("frontend")
        assert s.apps["frontend"].state == "stopped" and port_is_free(static_port)
        await s.start_app("frontend")
        await wait_http(f"http://127.0.0.1:{static_port}/index.html", "front end")
        pid = s.process("frontend").pid
    assert not _alive(pid)
    assert port_is_free(static_port)


async def test_tty_process_knows_it_has_a_terminal(tmp_path):
    write_project(tmp_path, {"jaffle.hcl": f'''
        process "t" {{
          command = "{PY} -c 'import sys; print(\\"on a terminal:\\", sys.stdout.isatty())'"
          tty     = true
        }}
        '''})
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        line = await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "t" and "on a terminal" in e.message)
        assert line.message.endswith("True")


async def test_variable_from_environment_switches_an_app_to_threaded(tmp_path, monkeypatch):
    port = free_port()
    plain_project(tmp_path, 'variable "threaded" { default = false }\n'
                  + web_app_hcl(port, extra_options='threaded  = "${var.threaded}"'))
    monkeypatch.setenv("J_VAR_threaded", "true")
    async with running_session(tmp_path / "jaffle.hcl", auto_reload=False) as (s, rec):
        st = await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "running")
        assert st.threaded is True
        assert await fetch(f"http://127.0.0.1:{port}/") == (200, "v1")


async def test_handler_jobs_log_to_the_watchdog_app(tmp_path):
    port = free_port()
    write_project(tmp_path, {"proj/__init__.py": "", "proj/web.py": PLAIN_APP, "jaffle.hcl": f'''
        kernel "k" {{}}
        job "lint" {{
          command = "{PY} -c 'print(\\"lint ran\\")'"
        }}
        app "watcher" {{
          class  = "jaffle.app.watchdog.WatchdogApp"
          kernel = "k"
          options {{
            handlers = [{{
              patterns    = ["*.py"]
              code_blocks = ["web.handle_watchdog_event({{event}})"]
              jobs        = ["lint"]
            }}]
          }}
        }}
        ''' + web_app_hcl(port, kernel_block=False)})
    async with running_session(tmp_path / "jaffle.hcl") as (s, rec):
        await rec.wait(lambda e: isinstance(e, AppState) and e.app == "web" and e.state == "running")
        assert s.apps["lint"].kind == "job" and s.apps["lint"].state == "stopped"
        (tmp_path / "proj" / "web.py").write_text(PLAIN_APP.replace('"v1"', '"v2"'))
        await wait_http(f"http://127.0.0.1:{port}/", "v2", timeout=10)
        ran = await rec.wait(lambda e: isinstance(e, LogRecord) and e.message == "lint ran")
        assert ran.app == "watcher"
        # on demand, a job logs to itself
        await s.start_app("lint")
        await rec.wait(lambda e: isinstance(e, LogRecord) and e.app == "lint" and e.message == "lint ran")
