"""tornado_launcher.config: the corpus in configs/ plus the edge cases.

Each ``configs/bad/*.hcl`` starts with one or more ``# expect: LINE:COL text``
lines: the file must be refused with an error at exactly that place whose
message contains the text.  Each ``configs/good/*.hcl`` must load.
"""

import random
import re
from pathlib import Path

import pytest

from tornado_launcher import config
from tornado_launcher.config import (
    AppConfig,
    Config,
    ConfigError,
    Diagnostic,
    check,
    default_clear_cache,
    load,
    loads,
)

CONFIGS = Path(__file__).parent / "configs"
GOOD = sorted((CONFIGS / "good").glob("*.hcl"))
BAD = sorted((CONFIGS / "bad").glob("*.hcl"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+) (.*)$", re.M)

HEAD = 'kernel "py_kernel" {}\n'
WEB = """app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
  }
}
"""


def errors(exc_info):
    return [d for d in exc_info.value.diagnostics if d.severity == "error"]


def refused(text, path="<string>"):
    with pytest.raises(ConfigError) as ei:
        loads(text, path)
    return errors(ei)


# -- the corpus -----------------------------------------------------------


def test_corpus_is_there():
    assert len(GOOD) >= 4 and len(BAD) >= 40


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_good_configs_load(path):
    cfg = load(path)
    assert isinstance(cfg, Config)
    assert cfg.apps
    assert cfg.path == str(path.resolve())
    assert cfg.directory == str(path.parent.resolve())
    assert all(d.severity == "warning" for d in cfg.warnings)


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_configs_point_at_the_mistake(path):
    text = path.read_text()
    expected = EXPECT.findall(text)
    assert expected, "%s has no `# expect: LINE:COL text` line" % path.name
    with pytest.raises(ConfigError) as ei:
        load(path)
    errs = errors(ei)
    assert errs, ei.value.diagnostics
    for line, col, fragment in expected:
        assert any(
            d.line == int(line) and d.col == int(col) and fragment in d.message for d in errs
        ), "want %s:%s %r, got:\n%s" % (line, col, fragment, ei.value)
    # every error is a `path:line:col: message` line naming the file
    for line in str(ei.value).splitlines():
        assert line.startswith(str(path) + ":")
    # check() reports the same and never raises
    cfg, diags = check(path)
    assert cfg is None and diags == ei.value.diagnostics


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_bad_configs_report_one_error_per_mistake(path):
    """No cascades: a file with one mistake gets one error."""
    expected = EXPECT.findall(path.read_text())
    cfg, diags = check(path)
    assert len([d for d in diags if d.severity == "error"]) == len(expected), "\n".join(map(str, diags))


# -- the public types -------------------------------------------------------


def test_diagnostic_str():
    assert str(Diagnostic("a.hcl", 3, 7, "boom")) == "a.hcl:3:7: boom"
    assert str(Diagnostic("a.hcl", 3, 7, "hm", "warning")) == "a.hcl:3:7: warning: hm"


def test_config_error_lists_errors_first_sorted_by_line():
    text = (
        'widget "p" {}\n'  # warning, line 1
        'kernel "k" { nope = 1 }\n'  # error, line 2
        'app "a" { class = "x.Y", kernel = "zz", options { app_class = "a.B" } }\n'  # error, line 3
        'app "b" { class = "x.Y", kernel = "k", start = "(", options { app_class = "a.B" } }\n'  # error, line 4
    )
    with pytest.raises(ConfigError) as ei:
        loads(text, "f.hcl")
    diags = ei.value.diagnostics
    severities = [d.severity for d in diags]
    assert severities == sorted(severities, key=lambda s: s != "error")
    lines = [d.line for d in diags if d.severity == "error"]
    assert lines == [2, 3, 4]
    assert str(ei.value) == "\n".join(str(d) for d in diags)
    assert diags[-1].severity == "warning" and "widget" in diags[-1].message


# -- the reference page's examples --------------------------------------------


def test_reference_tornado_example():
    cfg = load(CONFIGS / "good" / "reference_tornado.hcl")
    app = cfg.apps["tornado_app"]
    assert app.kind == "tornado" and app.custom_class is None
    assert app.class_name == "jaffle.app.tornado.TornadoBridgeApp"
    assert app.kernel == "py_kernel" and app.start == "tornado_app.start()"
    assert app.app_class == "my_module.app.ExampleApp"
    assert app.argv == ["--port=9999"] and app.threaded is True
    assert app.clear_cache == ["my_module"]
    assert app.logger.level == "INFO"
    assert app.line == 1
    # the page defines no kernel block: a default kernel, with a warning
    assert list(cfg.kernels) == ["py_kernel"]
    assert cfg.kernels["py_kernel"].kernel_name is None and cfg.kernels["py_kernel"].python is None
    assert any('add `kernel "py_kernel" {}`' in w.message for w in cfg.warnings)


def test_reference_watchdog_example_functions_alias():
    cfg = load(CONFIGS / "good" / "reference_watchdog.hcl")
    assert list(cfg.apps) == ["watchdog", "my_app"]
    watchdog = cfg.apps["watchdog"]
    assert watchdog.kind == "watchdog"
    (h,) = watchdog.handlers
    assert h.code_blocks == ["my_app.handle_watchdog_event({event})"]
    assert h.patterns == ["*.py"] and h.ignore_directories is True
    assert h.watch_path == str((CONFIGS / "good").resolve())
    assert h.case_sensitive is False and h.debounce is None and h.throttle is None
    assert h.line == 7
    my_app = cfg.apps["my_app"]
    assert my_app.argv == [] and my_app.threaded is False


def test_full_example():
    cfg = load(CONFIGS / "good" / "full.hcl")
    assert list(cfg.kernels) == ["py_kernel", "venv_kernel"]
    assert cfg.kernels["py_kernel"].pass_env == ["PATH", "HOME"]
    assert cfg.kernels["venv_kernel"].python == str(CONFIGS / "good" / "venv" / "bin" / "python")
    assert cfg.logger.level == "WARNING"
    assert cfg.logger.suppress_regex == [r"^\s*$"]
    assert cfg.logger.replace_regex == [(r"^([45]\d{2}) ", r"\033[31m\1\033[0m ")]
    web = cfg.apps["web"]
    assert web.start == 'web.start()\nprint("started")'
    assert web.argv == ["--port=8888", "--debug=no"]  # Jaffle's `args`
    assert web.threaded is True  # Jaffle's string "1"
    assert web.logger.level == "DEBUG"
    watcher = cfg.apps["watcher"]
    first, second = watcher.handlers
    assert first.watch_path == str(CONFIGS / "good" / "src")
    assert first.case_sensitive is True and first.debounce == 0.2 and first.clear_cache == []
    assert second.patterns == ["*.css"] and second.throttle == 1.0
    custom = cfg.apps["custom"]
    assert custom.custom_class == "myproj.bridge.MyBridge" and custom.kind == "tornado"
    assert custom.options["greeting"].startswith("extra keys")


def test_jaffle_file_skips_what_it_cannot_run():
    cfg = load(CONFIGS / "good" / "jaffle_features.hcl")
    assert list(cfg.apps) == ["web"]  # the pytest app is skipped
    web = cfg.apps["web"]
    assert web.threaded is True and web.argv == ["--port=9999"] and web.logger.level == "DEBUG"
    messages = [(w.line, w.message) for w in cfg.warnings]
    skipped = [m for m in messages if "skipped" in m[1]]
    assert len(skipped) == 1
    assert any('app "tests"' in m and "PyTestRunnerApp" in m and line == 33 for line, m in skipped)
    # process and job blocks are read now
    assert cfg.processes["frontend"].command == "yarn start" and cfg.processes["frontend"].tty is True
    assert cfg.jobs["lint"].command == "flake8"
    assert cfg.variables == {"threaded": True, "port": 9999, "level": "debug"}


# -- classes --------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls,kind",
    [
        ("jaffle.app.tornado.TornadoBridgeApp", "tornado"),
        ("tornado_launcher.bridge.TornadoBridgeApp", "tornado"),
        ("tornado_launcher.TornadoBridgeApp", "tornado"),
        ("jaffle.app.watchdog.WatchdogApp", "watchdog"),
        ("tornado_launcher.bridge.WatchdogApp", "watchdog"),
    ],
)
def test_builtin_classes(cls, kind):
    options = 'app_class = "a.B"' if kind == "tornado" else "handlers = []"
    cfg = loads(
        HEAD + 'app "x" {\n class = "%s"\n kernel = "py_kernel"\n options { %s }\n}\n' % (cls, options)
    )
    app = cfg.apps["x"]
    assert app.kind == kind and app.custom_class is None and app.class_name == cls


def test_custom_class_kind_follows_options():
    cfg = loads(
        HEAD
        + 'app "a" { class = "my.Bridge", kernel = "py_kernel", options { app_class = "a.B", extra = 1 } }\n'
        + 'app "b" { class = "my.Watch", kernel = "py_kernel", options { handlers = [{ patterns = ["*.py"] }] } }\n'
    )
    assert (cfg.apps["a"].kind, cfg.apps["a"].custom_class) == ("tornado", "my.Bridge")
    assert cfg.apps["a"].options == {"app_class": "a.B", "extra": 1}
    assert (cfg.apps["b"].kind, cfg.apps["b"].custom_class) == ("watchdog", "my.Watch")


def test_unsupported_jaffle_app_one_warning_rest_loads():
    cfg = loads(
        HEAD
        + WEB
        + 'app "docs" {\n class = "jaffle.app.sphinx.SphinxApp"\n kernel = "missing"\n options { anything = 1 }\n}\n'
    )
    assert list(cfg.apps) == ["web"]
    (w,) = [w for w in cfg.warnings if "docs" in w.message]
    assert w.line == 9 and "line 9" in w.message and "skipped" in w.message


def test_skipped_parts_are_not_checked():
    """Nothing inside a skipped app or block can refuse the config."""
    cfg = loads(
        HEAD
        + WEB
        + 'app "t" {\n class = "jaffle.app.pytest.PyTestRunnerApp"\n kernel = "nope"\n'
        + ' options { args = "${var.undefined}", x = [1, 2] }\n}\n'
        + 'widget "p" { command = "${var.undefined}", tty = "${nonsense()}" }\n'
        + 'widget "p" { command = "twice" }\n'
    )
    assert list(cfg.apps) == ["web"]
    assert all(w.severity == "warning" for w in cfg.warnings)


def test_unknown_top_level_block_warns_with_suggestion():
    cfg = loads(HEAD + WEB + 'kernal "other" {}\nvariable "v" { default = 1 }\n')
    (w,) = cfg.warnings
    assert w.line == 9 and '`kernal "other"`' in w.message and "did you mean `kernel`" in w.message


# -- errors in detail -----------------------------------------------------------


def test_missing_required_fields_all_reported():
    errs = refused(HEAD + 'app "web" {\n}\n')
    assert len(errs) == 1 and "needs `class" in errs[0].message
    errs = refused(HEAD + 'app "web" { class = "jaffle.app.tornado.TornadoBridgeApp" }\n')
    messages = [e.message for e in errs]
    assert any("needs `kernel" in m for m in messages)
    assert any("app_class" in m for m in messages)


def test_undefined_kernel_suggests_how_to_define_it():
    (e,) = refused(HEAD + WEB.replace('kernel = "py_kernel"', 'kernel = "other"'))
    assert 'add `kernel "other" {}`' in e.message
    assert (e.line, e.col) == (4, 12)


def test_threaded_message():
    (e,) = refused(HEAD + WEB.replace("options {", 'options {\n    threaded = "yes"'))
    assert e.message == '`threaded` must be true or false, not "yes"'


def test_drain_timeout_option():
    assert loads(HEAD + WEB).apps["web"].drain_timeout == 2.0
    cfg = loads(HEAD + WEB.replace("options {", "options {\n    drain_timeout = 0.5"))
    assert cfg.apps["web"].drain_timeout == 0.5
    (e,) = refused(HEAD + WEB.replace("options {", 'options {\n    drain_timeout = "soon"'))
    assert e.message == '`drain_timeout` must be a number of seconds >= 0, e.g. 0.5, not "soon"'


def test_stop_timeout_option():
    assert loads(HEAD + WEB).apps["web"].stop_timeout == 5.0
    cfg = loads(HEAD + WEB.replace("options {", "options {\n    stop_timeout = 1.5"))
    assert cfg.apps["web"].stop_timeout == 1.5
    text = HEAD + WEB.replace("options {", 'options {\n    stop_timeout = -1')
    (e,) = refused(text)
    assert e.message == '`stop_timeout` must be a number of seconds >= 0, e.g. 0.5, not -1'
    assert e.line == [i for i, l in enumerate(text.splitlines(), 1) if "stop_timeout" in l][0] and e.col > 1


def test_live_reload_is_off_unless_asked_and_checked():
    assert loads(HEAD + WEB).apps["web"].live_reload is False
    assert loads(HEAD + WEB.replace("options {", "options {\n    live_reload = true")).apps["web"].live_reload is True
    (e,) = refused(HEAD + WEB.replace("options {", 'options {\n    live_reload = "sometimes"'))
    assert e.message == '`live_reload` must be true or false, not "sometimes"'
    assert (e.line, e.col) == (6, 19)


def test_live_reload_hosts_are_client_addresses_or_networks():
    assert loads(HEAD + WEB).apps["web"].live_reload_hosts == []
    hosts = 'options {\n    live_reload_hosts = ["192.168.1.20", "10.0.0.0/8", "fe80::1"]'
    cfg = loads(HEAD + WEB.replace("options {", hosts))
    assert cfg.apps["web"].live_reload_hosts == ["192.168.1.20/32", "10.0.0.0/8", "fe80::1/128"]
    (e,) = refused(HEAD + WEB.replace("options {",
                                      'options {\n    live_reload_hosts = ["192.168.1.20", "phone.local"]'))
    assert e.message == ('`live_reload_hosts` holds the IP addresses (or networks) of the clients that may use live '
                         'reload, such as "192.168.1.20" or "192.168.1.0/24", not "phone.local"')
    assert (e.line, e.col) == (6, 42)
    (e,) = refused(HEAD + WEB.replace("options {", 'options {\n    live_reload_hosts = "192.168.1.20"'))
    assert "live_reload_hosts" in e.message and (e.line, e.col) == (6, 25)


@pytest.mark.parametrize(
    "value,expected", [("true", True), ("false", False), ('"true"', True), ('"0"', False)]
)
def test_jaffle_booleans(value, expected):
    cfg = loads(HEAD + WEB.replace("options {", "options {\n    threaded = %s" % value))
    assert cfg.apps["web"].threaded is expected


@pytest.mark.parametrize(
    "level,expected", [("info", "INFO"), ("Warn", "WARNING"), ("debug", "DEBUG"), ("CRITICAL", "CRITICAL")]
)
def test_levels(level, expected):
    cfg = loads(HEAD + WEB.replace("options {", 'logger { level = "%s" }\n  options {' % level))
    assert cfg.apps["web"].logger.level == expected


def test_args_alias():
    cfg = loads(HEAD + WEB.replace("options {", 'options {\n    args = ["-v"]'))
    assert cfg.apps["web"].argv == ["-v"]


def test_start_error_inside_multiline_string_points_at_its_line():
    text = HEAD + WEB.replace('kernel = "py_kernel"', 'kernel = "py_kernel"\n  start = "x = 1\ny = = 2"')
    errs = refused(text)
    (e,) = errs
    assert (e.line, e.col) == (6, 5) and "does not compile" in e.message


def test_code_block_event_placeholder_compiles():
    text = HEAD + (
        'app "w" {\n class = "jaffle.app.watchdog.WatchdogApp"\n kernel = "py_kernel"\n'
        ' options { handlers = [{ code_blocks = ["f({event})", "g(**{event})", "x = {event}[\'src_path\']"] }] }\n}\n'
    )
    cfg = loads(text)
    assert cfg.apps["w"].handlers[0].code_blocks[0] == "f({event})"


def test_start_code_is_an_ipython_cell():
    start = "<<EOF\n%load_ext autoreload\n!echo hi\nawait web.start()\nif True:\n    %time web.start()\nEOF"
    cfg = loads(HEAD + WEB.replace('kernel = "py_kernel"', 'kernel = "py_kernel"\n  start = ' + start))
    assert cfg.apps["web"].start.startswith("%load_ext")


def test_name_suggestions():
    errs = refused(HEAD + WEB.replace('app "web"', 'app "2 web"'))
    assert '"_2_web"' in errs[0].message
    errs = refused(HEAD + WEB.replace('app "web"', 'app "def"'))
    assert '"def_"' in errs[0].message


def test_duplicate_detected_although_pyhcl_merges():
    errs = refused(HEAD + WEB + WEB)
    (e,) = errs
    assert (e.line, e.col) == (9, 5) and "defined twice (first at line 2)" in e.message


def test_all_errors_in_one_pass():
    text = (
        'kernel "k" { kernel_name = 3 }\n'
        'app "a" {\n class = "jaffle.app.tornado.TornadoBridgeApp"\n kernel = "k"\n'
        ' options { app_class = "A", argv = "x", threaded = 2, clear_cache = "m" }\n'
        ' logger { level = "loud", suppress_regex = ["("] }\n}\n'
    )
    errs = refused(text)
    assert len(errs) == 7, "\n".join(map(str, errs))
    assert [e.line for e in errs] == sorted(e.line for e in errs)


def test_brace_on_next_line_is_fine():
    cfg = loads(HEAD + WEB.replace('app "web" {', 'app "web"\n{'))
    assert "web" in cfg.apps


def test_variables_and_environment(monkeypatch):
    monkeypatch.setenv("J_VAR_threaded", "false")
    monkeypatch.setenv("MY_PORT", "7777")
    text = (
        'variable "threaded" { default = true }\n'
        + HEAD
        + WEB.replace(
            "options {", 'options {\n    threaded = "${var.threaded}"\n    argv = ["--port=${MY_PORT}"]'
        )
    )
    cfg = loads(text)
    assert cfg.apps["web"].threaded is False and cfg.apps["web"].argv == ["--port=7777"]


def test_variable_without_default(monkeypatch):
    text = (
        'variable "port" {}\n'
        + HEAD
        + WEB.replace("options {", 'options {\n    argv = ["--port=${var.port}"]')
    )
    (e,) = refused(text)
    assert (e.line, e.col) == (7, 13) and "J_VAR_port" in e.message
    monkeypatch.setenv("J_VAR_port", "1234")
    assert loads(text).apps["web"].argv == ["--port=1234"]


def test_kernel_python_relative_to_config(tmp_path):
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    (tmp_path / "venv" / "bin" / "python").write_text("")
    path = tmp_path / "jaffle.hcl"
    path.write_text('kernel "k" { python = "venv/bin/python" }\n' + WEB.replace("py_kernel", "k"))
    cfg = load(path)
    assert cfg.kernels["k"].python == str(tmp_path / "venv" / "bin" / "python")
    assert not cfg.warnings
    assert cfg.apps["web"].clear_cache == []  # default_clear_cache(tmp_path)


# -- whatever the input, only ConfigError ------------------------------------------


def test_missing_file(tmp_path):
    cfg, diags = check(tmp_path / "nope.hcl")
    assert cfg is None and "no such file" in diags[0].message
    with pytest.raises(ConfigError):
        load(str(tmp_path / "nope.hcl"))


def test_directory(tmp_path):
    with pytest.raises(ConfigError) as ei:
        load(tmp_path)
    assert "is a directory" in str(ei.value)


def test_empty_file(tmp_path):
    for text in ("", "\n\n", "# just a comment\n"):
        path = tmp_path / "e.hcl"
        path.write_text(text)
        with pytest.raises(ConfigError) as ei:
            load(path)
        assert "empty" in str(ei.value)


def test_binary_garbage(tmp_path):
    path = tmp_path / "g.hcl"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(ConfigError) as ei:
        load(path)
    (d,) = ei.value.diagnostics
    assert (d.line, d.col) == (1, 1) and "binary" in d.message


def test_non_utf8(tmp_path):
    path = tmp_path / "latin1.hcl"
    path.write_bytes(HEAD.encode() + b'app "caf\xe9" {}\n')
    with pytest.raises(ConfigError) as ei:
        load(path)
    (d,) = ei.value.diagnostics
    assert (d.line, d.col) == (2, 9) and "UTF-8" in d.message and "0xe9" in d.message


def test_bom_and_crlf(tmp_path):
    path = tmp_path / "win.hcl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + (HEAD + WEB.replace("options {", "options {\n    treaded = 1")).replace("\n", "\r\n").encode()
    )
    with pytest.raises(ConfigError) as ei:
        load(path)
    (d,) = ei.value.diagnostics
    assert (d.line, d.col) == (6, 5)


def test_loads_accepts_bytes():
    assert "web" in loads((HEAD + WEB).encode()).apps


def test_json_form():
    text = '{"kernel": {"k": {}}, "app": {"web": {"class": "a.B", "kernel": "k", "options": {"app_class": "a.C"}}}}'
    assert loads(text).apps["web"].custom_class == "a.B"
    with pytest.raises(ConfigError):
        loads('{"kernel": {"k": {}},}')


def test_deep_nesting():
    with pytest.raises(ConfigError):
        loads("a = " + "[" * 5000 + "]" * 5000)
    with pytest.raises(ConfigError):
        loads("a " * 3000 + "{" * 3000)


def _mutations(seed, count):
    rng = random.Random(seed)
    sources = [p.read_text() for p in GOOD + BAD]
    alphabet = '{}[]"=,#\n<EOF-/*\\$ x1.'
    for _ in range(count):
        text = rng.choice(sources)
        for _ in range(rng.randint(1, 4)):
            i = rng.randrange(len(text) + 1)
            op = rng.random()
            if op < 0.4:
                text = text[:i] + text[i + rng.randint(1, 8) :]
            elif op < 0.8:
                text = text[:i] + rng.choice(alphabet) + text[i:]
            else:
                text = text[:i]
        yield text


@pytest.mark.parametrize("seed", range(4))
def test_mutated_files_never_raise_anything_else(seed):
    for text in _mutations(seed, 500):
        try:
            cfg = loads(text, "m.hcl")
        except ConfigError as e:
            for d in e.diagnostics:
                assert d.line >= 1 and d.col >= 1 and d.message
                assert d.line <= text.count("\n") + 1
        else:
            assert isinstance(cfg, Config)
            assert all(isinstance(a, AppConfig) for a in cfg.apps.values())


def test_random_bytes_never_raise_anything_else(tmp_path):
    rng = random.Random(7)
    path = tmp_path / "r.hcl"
    for _ in range(50):
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(200))))
        cfg, diags = check(path)
        assert cfg is None or isinstance(cfg, Config)


# -- default_clear_cache ----------------------------------------------------------


def test_default_clear_cache(tmp_path):
    def mk(rel, text=""):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)

    mk("pkg/__init__.py")
    mk("pkg/sub/__init__.py")
    mk("other/__init__.py")
    mk("app.py")
    mk("setup.py")
    mk("conftest.py")
    mk("notpkg/mod.py")  # no __init__.py
    mk(".hidden/__init__.py")
    mk("__pycache__/__init__.py")
    mk("node_modules/__init__.py")
    mk("build/__init__.py")
    mk("dist/__init__.py")
    mk("venv/__init__.py")
    mk(".venv/__init__.py")
    mk("myenv/__init__.py")
    mk("myenv/pyvenv.cfg")
    mk("my-dir/__init__.py")  # not importable
    mk("README.md")
    assert default_clear_cache(str(tmp_path)) == ["app", "other", "pkg"]
    assert default_clear_cache(str(tmp_path / "missing")) == []


def test_default_clear_cache_is_the_tornado_default(tmp_path):
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "__init__.py").write_text("")
    (tmp_path / "jaffle.hcl").write_text(HEAD + WEB)
    assert load(tmp_path / "jaffle.hcl").apps["web"].clear_cache == ["proj"]


# -- process and job blocks ----------------------------------------------------------

PROC = """process "frontend" {
  command = "yarn start"
  tty     = true
  env     = { NODE_ENV = "development", PORT = 3000, DEBUG = true }
  logger {
    level          = "warning"
    suppress_regex = ["^\\\\s*$"]
  }
}
job "lint" {
  command = "flake8 ."
}
"""


def test_process_and_job_blocks():
    cfg = loads(HEAD + WEB + PROC)
    (p,) = cfg.processes.values()
    assert isinstance(p, config.ProcessConfig)
    assert (p.name, p.command, p.tty, p.disabled, p.line) == ("frontend", "yarn start", True, False, 9)
    assert p.env == {"NODE_ENV": "development", "PORT": "3000", "DEBUG": "true"}  # stringified
    assert p.logger.level == "WARNING" and p.logger.suppress_regex == [r"^\s*$"]
    (j,) = cfg.jobs.values()
    assert isinstance(j, config.JobConfig) and (j.name, j.command, j.line) == ("lint", "flake8 .", 18)
    assert cfg.paths == [cfg.path]
    assert not cfg.warnings


def test_process_only_config_is_fine():
    cfg = loads('process "x" { command = "sleep 1", disabled = "1" }\n')
    assert cfg.processes["x"].disabled is True and not cfg.apps and not cfg.warnings


def test_process_and_job_names_need_not_be_identifiers():
    cfg = loads('process "front end (vite)" { command = "vite" }\njob "lint-all" { command = "ruff ." }\n')
    assert list(cfg.processes) == ["front end (vite)"] and list(cfg.jobs) == ["lint-all"]


@pytest.mark.parametrize(
    "text,where,fragment",
    [
        ('process "p" {\n  tty = true\n}\n', (1, 9), 'process "p" needs `command = "yarn start"`'),
        ('process "p" {\n  command = ""\n}\n', (2, 13), '`command` of process "p" is empty'),
        ('process "p" {\n  command = ["yarn"]\n}\n', (2, 13), "must be a string in quotes"),
        ('process "p" {\n  command = "x"\n  ttty = true\n}\n', (3, 3), "did you mean `tty`"),
        ('process "p" {\n  command = "x"\n  tty = "maybe"\n}\n', (3, 9), "`tty` must be true or false"),
        ('process "p" {\n  command = "x"\n  env = { A = [1] }\n}\n', (3, 15), "`env` values are strings"),
        (
            'process "p" {\n  command = "x"\n  env = { "A B" = "1" }\n}\n',
            (3, 11),
            "not an environment variable name",
        ),
        (
            'process "p" {\n  command = "x"\n  logger { level = "loud" }\n}\n',
            (3, 20),
            "`level` must be one of",
        ),
        ('process "%s" {\n  command = "x"\n}\n' % ("n" * 65), (1, 9), "keep it to 64"),
        ('process "" {\n  command = "x"\n}\n', (1, 9), "cannot be empty"),
        (
            'process "p" { command = "a" }\nprocess "p" { command = "b" }\n',
            (2, 9),
            "defined twice (first at line 1)",
        ),
        ('process "p" "q" { command = "a" }\n', (1, 1), "exactly one name"),
        ('job "j" {\n}\n', (1, 5), 'job "j" needs `command = "flake8"`'),
        ('job "j" {\n  command = "x"\n  tty = true\n}\n', (3, 3), "unknown key `tty` in job"),
    ],
)
def test_process_and_job_errors(text, where, fragment):
    errs = refused(text)
    assert len(errs) == 1, "\n".join(map(str, errs))
    (e,) = errs
    assert (e.line, e.col) == where and fragment in e.message, str(e)


def test_names_are_shared_by_apps_processes_and_jobs():
    errs = refused(HEAD + WEB + 'process "web" { command = "x" }\njob "web" { command = "y" }\n')
    assert [(e.line, e.col) for e in errs] == [(9, 9), (10, 5)]
    assert 'process "web" has the same name as app "web" at line 2' in errs[0].message
    assert 'job "web" has the same name as app "web" at line 2' in errs[1].message


def test_handler_jobs_name_job_blocks():
    watcher = (
        'app "w" {\n class = "jaffle.app.watchdog.WatchdogApp"\n kernel = "py_kernel"\n'
        ' options { handlers = [{ patterns = ["*.py"], jobs = ["lint", "%s"] }] }\n}\n'
    )
    jobs = 'job "lint" { command = "flake8" }\njob "test" { command = "pytest" }\n'
    cfg = loads(HEAD + watcher % "test" + jobs)
    assert cfg.apps["w"].handlers[0].jobs == ["lint", "test"] and not cfg.warnings
    (e,) = refused(HEAD + watcher % "tets" + jobs)
    assert (e.line, e.col) == (
        5,
        63,
    ) and 'runs job "tets", which is not defined (did you mean `test`?)' in e.message


# -- variables --------------------------------------------------------------------------

THREADED = (
    'variable "threaded" { default = false }\n'
    + HEAD
    + WEB.replace("options {", 'options {\n    threaded = "${var.threaded}"')
)


def test_variable_from_environment_switches_an_app_to_threaded(monkeypatch):
    assert loads(THREADED).apps["web"].threaded is False
    monkeypatch.setenv("J_VAR_threaded", "true")
    cfg = loads(THREADED)
    assert cfg.apps["web"].threaded is True and cfg.variables == {"threaded": True}


@pytest.mark.parametrize("text,expected", [("yes", True), ("NO", False), ("1", True), ("0", False)])
def test_bool_variable_spellings(text, expected):
    assert loads(THREADED, variables={"threaded": text}).apps["web"].threaded is expected


def test_variables_argument_wins_over_environment(monkeypatch):
    monkeypatch.setenv("J_VAR_threaded", "true")
    assert loads(THREADED, variables={"threaded": "false"}).apps["web"].threaded is False


VARS = """variable "port" { default = 8000 }
variable "ratio" { default = 0.5 }
variable "name" { default = "web" }
variable "ports" { default = ["8000"] }
variable "labels" { default = { a = "1" } }
variable "unset" {}
kernel "py_kernel" {}
process "p" {
  command = "serve --port=${var.port} --name=${var.name} ${var.ports} ${var.labels}"
  env     = { PORT = "${var.port}", RATIO = "${var.ratio}" }
}
"""


def test_variables_are_typed_by_their_default(monkeypatch):
    cfg = loads(VARS)
    assert cfg.variables == {
        "port": 8000,
        "ratio": 0.5,
        "name": "web",
        "ports": ["8000"],
        "labels": {"a": "1"},
    }
    p = cfg.processes["p"]
    assert p.command == 'serve --port=8000 --name=web ["8000"] {"a": "1"}'
    assert p.env == {"PORT": "8000", "RATIO": "0.5"}
    monkeypatch.setenv("J_VAR_ports", '["1", "2"]')
    cfg = loads(
        VARS,
        variables={"port": "9000", "ratio": "2", "name": "x y", "labels": '{ b = "2" }', "unset": "here"},
    )
    assert cfg.variables == {
        "port": 9000,
        "ratio": 2,
        "name": "x y",
        "ports": ["1", "2"],
        "labels": {"b": "2"},
        "unset": "here",
    }
    assert cfg.processes["p"].env["PORT"] == "9000"


@pytest.mark.parametrize(
    "name,value,fragment",
    [
        (
            "port",
            "eighty",
            'variable `port` is a number (its default is 8000), but --variables port=... gives "eighty"',
        ),
        ("ports", "8000", "variable `ports` is a list"),
        ("labels", "[1]", "variable `labels` is a map"),
    ],
)
def test_wrong_typed_override_from_variables(name, value, fragment):
    with pytest.raises(ConfigError) as ei:
        loads(VARS, "v.hcl", variables={name: value})
    (e,) = errors(ei)
    assert (
        fragment in e.message and e.line == [l.split('"')[1] for l in VARS.splitlines()[:6]].index(name) + 1
    )


def test_wrong_typed_override_from_environment_names_the_env_var(monkeypatch):
    monkeypatch.setenv("J_VAR_threaded", "maybe")
    (e,) = refused(THREADED)
    assert (e.line, e.col) == (1, 33)
    assert "variable `threaded` is a bool (its default is false)" in e.message
    assert 'the environment variable J_VAR_threaded gives "maybe"' in e.message and "yes or no" in e.message


def test_variables_argument_for_an_undefined_variable():
    with pytest.raises(ConfigError) as ei:
        loads(THREADED, "t.hcl", variables={"thraded": "1"})
    (e,) = errors(ei)
    assert e.line == 0 and "did you mean `threaded`" in e.message
    assert str(e).startswith("t.hcl: --variables gives `thraded`")


def test_variable_type_key():
    cfg = loads(
        'variable "n" { type = "int" }\nprocess "p" { command = "x ${var.n}" }\n', variables={"n": "3"}
    )
    assert cfg.variables["n"] == 3 and cfg.processes["p"].command == "x 3"
    (e,) = refused('variable "n" {\n  type    = "bool"\n  default = "x"\n}\nprocess "p" { command = "x" }\n')
    assert (e.line, e.col) == (3, 13) and "its `type` says a bool" in e.message


def test_parse_variables():
    assert config.parse_variables(["a=1", "b=x=y", "c=", "ports=[1, 2]", "a=2"]) == {
        "a": "2",
        "b": "x=y",
        "c": "",
        "ports": "[1, 2]",
    }
    assert config.parse_variables("k=v") == {"k": "v"}
    with pytest.raises(ConfigError) as ei:
        config.parse_variables(["threaded", "1x=2"])
    first, second = ei.value.diagnostics
    assert (
        str(first)
        == '--variables: "threaded" has no `=`: write --variables NAME=VALUE, e.g. --variables threaded=true'
    )
    assert "is not a variable name" in second.message


# -- interpolation ----------------------------------------------------------------------


def interp(value, **kw):
    """The command of a process whose command is ``value``."""
    return loads('process "p" {\n  command = %s\n}\n' % value, **kw).processes["p"].command


def interp_error(value, **kw):
    errs = refused('process "p" {\n  command = %s\n}\n' % value, **kw)
    assert len(errs) == 1, "\n".join(map(str, errs))
    return errs[0]


def test_interpolation_in_start_command_and_env(monkeypatch):
    monkeypatch.setenv("LAUNCH_TEST_DIR", "/srv/x")
    text = (
        'variable "port" { default = 8001 }\n'
        + HEAD
        + WEB.replace('kernel = "py_kernel"', 'kernel = "py_kernel"\n  start = "web.start()  # ${var.port}"')
        + 'process "p" {\n  command = "cd ${LAUNCH_TEST_DIR} && serve ${var.port}"\n'
        + '  env = { WHERE = "${env(\'LAUNCH_TEST_DIR\')}/sub", PORT = "${var.port}" }\n}\n'
        + 'job "j" { command = "echo ${var.port}" }\n'
    )
    cfg = loads(text)
    assert cfg.apps["web"].start == "web.start()  # 8001"
    assert cfg.processes["p"].command == "cd /srv/x && serve 8001"
    assert cfg.processes["p"].env == {"WHERE": "/srv/x/sub", "PORT": "8001"}
    assert cfg.jobs["j"].command == "echo 8001"


def test_env_function_with_default(monkeypatch):
    monkeypatch.delenv("LAUNCH_TEST_UNSET", raising=False)
    monkeypatch.setenv("LAUNCH_TEST_SET", "here")
    assert interp("\"a ${env('LAUNCH_TEST_UNSET', 'fallback')} b\"") == "a fallback b"
    assert interp('"[${env("LAUNCH_TEST_UNSET")}]"') == "[]"  # HCL allows quotes inside ${...}
    assert interp("\"${env('LAUNCH_TEST_SET', 'fallback')}\"") == "here"


def test_exec_success_and_trim(tmp_path):
    (tmp_path / "padded.sh").write_text("printf ' x \\n'\n")
    (tmp_path / "lines.sh").write_text("printf 'two\\n\\n'\n")
    path = tmp_path / "j.hcl"
    path.write_text("""process "a" { command = "${exec('pwd')}" }
process "b" { command = "[${exec('sh padded.sh') | trim}]" }
process "c" { command = "${exec("sh lines.sh")}!" }
process "d" { command = "${exec('sh -c "echo quoted"')}" }
""")
    cfg = load(path)
    assert cfg.processes["a"].command == str(tmp_path)  # runs in the config's directory
    assert cfg.processes["b"].command == "[x]"
    assert cfg.processes["c"].command == "two!"  # trailing newlines stripped
    assert cfg.processes["d"].command == "quoted"


def test_exec_failure_is_an_error_at_the_line(tmp_path):
    (tmp_path / "fail.sh").write_text("echo oops >&2\necho last words >&2\nexit 1\n")
    path = tmp_path / "j.hcl"
    path.write_text('kernel "py_kernel" {}\n\nprocess "p" {\n  command = "x ${exec(\'sh fail.sh\')}"\n}\n')
    with pytest.raises(ConfigError) as ei:
        load(path)
    (e,) = errors(ei)
    assert (e.path, e.line, e.col) == (str(path), 4, 13)
    assert 'exec("sh fail.sh") failed with exit status 1: last words' in e.message


def test_exec_missing_command_and_timeout(monkeypatch):
    e = interp_error("\"${exec('no-such-command-here --x')}\"")
    assert "command `no-such-command-here` not found" in e.message and (e.line, e.col) == (2, 13)
    monkeypatch.setattr(config, "EXEC_TIMEOUT", 0.2)
    e = interp_error("\"${exec('sleep 5')}\"")
    assert "did not finish within 0.2 s" in e.message


def test_color_helpers():
    assert interp("\"${fg('red')}E${reset()}\"") == "\x1b[31mE\x1b[0m"
    assert (
        interp("\"${bg('blue')}${fg('bright_green')}${bg('bright_white')}\"") == "\x1b[44m\x1b[92m\x1b[107m"
    )
    assert interp("\"${fg(208)}${bg('17')}\"") == "\x1b[38;5;208m\x1b[48;5;17m"
    e = interp_error("\"${fg('rouge')}\"")
    assert 'fg("rouge"): unknown color' in e.message and (e.line, e.col) == (2, 13)


def test_colors_in_logger_replace_regex():
    cfg = loads(
        'process "p" {\n  command = "x"\n  logger {\n    replace_regex = [{ from = "^(ERROR)", '
        "to = \"${fg('red')}\\\\1${reset()}\" }]\n  }\n}\n"
    )
    assert cfg.processes["p"].logger.replace_regex == [("^(ERROR)", "\x1b[31m\\1\x1b[0m")]


def test_whole_value_keeps_the_variable_type():
    text = (
        'variable "t" { default = true }\nvariable "n" { default = 2 }\n'
        + HEAD
        + WEB.replace(
            "options {",
            'options {\n    threaded = "${var.t}"\n    greeting = "${var.n}"\n    both = "${var.n}${var.t}"',
        )
        .replace("TornadoBridgeApp", "Custom")
        .replace("jaffle.app.tornado", "my")
    )
    app = loads(text).apps["web"]
    assert app.options["threaded"] is True and app.options["greeting"] == 2 and app.options["both"] == "2true"


def test_escape_gives_a_literal_dollar_brace():
    assert interp('"echo $${HOME} and $${var.x}"') == "echo ${HOME} and ${var.x}"


@pytest.mark.parametrize(
    "value,fragment",
    [
        ('"${LAUNCH_TEST_NOT_SET_ANYWHERE}"', "is not a set environment variable nor a function"),
        ('"${nope(1)}"', "unknown function `nope`"),
        ('"${fg}"', "`fg` is a function: call it"),
        ('"${var.x | upper}"', "unknown filter `upper`"),
        ('"${foo.bar}"', "unknown name `foo.bar`"),
        ('"${var.}"', "cannot be read"),
        ('"${}"', "is empty"),
        ('"${reset(1)}"', "takes no argument"),
        ('"${var.missing}"', "uses variable `missing`, which is not defined"),
        ('"${var.x y}"', 'unexpected "y" after the expression'),
        ('"${env(%s"A"%s}"' % ("env(" * 3000, ")" * 3001), "nested too deeply"),
    ],
)
def test_unknown_names_are_errors_at_the_value(value, fragment):
    e = interp_error(value)
    assert (e.line, e.col) == (2, 13) and fragment in e.message, str(e)


def test_interpolated_start_code_error_points_at_the_value():
    text = (
        'variable "v" { default = "(" }\n'
        + HEAD
        + WEB.replace('kernel = "py_kernel"', 'kernel = "py_kernel"\n  start = "x = ${var.v}"')
    )
    (e,) = refused(text)
    assert (e.line, e.col) == (6, 11) and "does not compile" in e.message


# -- several files, merged --------------------------------------------------------------

BASE = """variable "port" { default = 8000 }
kernel "py_kernel" { pass_env = ["PATH"] }
app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "py_kernel"
  options {
    app_class = "myproj.app.Application"
    argv      = ["--port=${var.port}", "--debug"]
    threaded  = false
  }
}
process "frontend" {
  command = "yarn start"
  env     = { NODE_ENV = "development", API = "http://localhost:${var.port}" }
}
"""
LOCAL = """variable "port" { default = 9000 }
app "web" {
  options {
    argv     = ["--port=${var.port}"]
    threaded = true
  }
}
process "frontend" {
  tty = true
  env = { NODE_ENV = "production" }
}
"""


@pytest.fixture
def pair(tmp_path):
    (tmp_path / "local").mkdir()
    base, local = tmp_path / "jaffle.hcl", tmp_path / "local" / "jaffle.local.hcl"
    base.write_text(BASE)
    local.write_text(LOCAL)
    return base, local


def test_merge_later_file_wins_lists_replaced_maps_merged(pair):
    base, local = pair
    cfg = load([base, local])
    assert cfg.paths == [str(base), str(local)] and cfg.path == str(base)
    assert cfg.directory == str(base.parent)
    web = cfg.apps["web"]
    assert web.argv == ["--port=9000"]  # the list is replaced, not appended to
    assert web.threaded is True and web.app_class == "myproj.app.Application"  # the map is merged
    p = cfg.processes["frontend"]
    assert p.env == {"NODE_ENV": "production", "API": "http://localhost:9000"}
    assert p.tty is True and p.command == "yarn start"
    assert cfg.variables == {"port": 9000}
    assert cfg.kernels["py_kernel"].pass_env == ["PATH"]
    # the other order: the base wins
    assert load([local, base]).apps["web"].argv == ["--port=8000", "--debug"]
    assert check([base, local])[0].apps["web"].threaded is True


def test_merge_error_in_second_file_names_it(pair):
    base, local = pair
    local.write_text(LOCAL.replace("threaded = true", 'threaded = "maybe"\n    treaded = 1'))
    with pytest.raises(ConfigError) as ei:
        load([base, local])
    first, second = errors(ei)
    assert (first.path, first.line, first.col) == (
        str(local),
        5,
        16,
    ) and "`threaded` must be true or false" in first.message
    assert (second.path, second.line, second.col) == (
        str(local),
        6,
        5,
    ) and "did you mean `threaded`" in second.message
    assert str(first).startswith(str(local) + ":5:16: ")


def test_merge_error_in_first_file_names_it(pair):
    base, local = pair
    base.write_text(BASE.replace('command = "yarn start"', 'command = ["yarn"]'))
    cfg, diags = check([base, local])
    (e,) = diags
    assert cfg is None and (e.path, e.line, e.col) == (str(base), 13, 13)


def test_merge_syntax_error_and_duplicate_in_second_file(pair):
    base, local = pair
    local.write_text(LOCAL + 'job "j" {\n  command = "x"\n')
    (e,) = check([base, local])[1]
    assert (e.path, e.line) == (str(local), 12) and "never closed" in e.message
    local.write_text(LOCAL + 'job "j" { command = "a" }\njob "j" { command = "b" }\n')
    (e,) = check([base, local])[1]
    assert (e.path, e.line, e.col) == (str(local), 13, 5) and "defined twice (first at line 12)" in e.message


def test_merge_names_the_other_file_in_cross_file_messages(pair):
    base, local = pair
    local.write_text('process "web" { command = "x" }\n')
    (e,) = check([base, local])[1]
    assert (e.path, e.line) == (str(local), 1)
    assert 'process "web" has the same name as app "web" at %s:3' % base in e.message


def test_merge_relative_paths_and_exec_follow_the_file_that_set_them(pair):
    base, local = pair
    local.write_text(
        'kernel "py_kernel" { python = "venv/bin/python" }\n'
        'process "frontend" { command = "${exec(\'pwd\')}" }\n'
    )
    # the interpreter does not exist: the error names the second file (start would fail on it)
    (e,) = check([base, local])[1]
    assert e.severity == "error" and (e.path, e.line, e.col) == (str(local), 1, 31)
    assert "`python` \"venv/bin/python\" does not exist (resolved to %s)" % (
        local.parent / "venv" / "bin" / "python") in e.message
    (local.parent / "venv" / "bin").mkdir(parents=True)
    (local.parent / "venv" / "bin" / "python").write_text("")
    cfg = load([base, local])
    assert cfg.kernels["py_kernel"].python == str(local.parent / "venv" / "bin" / "python")
    assert cfg.processes["frontend"].command == str(local.parent)
    assert cfg.warnings == []


def test_merge_an_empty_override_file_is_fine(pair):
    base, local = pair
    local.write_text("# nothing to override today\n")
    assert load([base, local]).apps["web"].argv == ["--port=8000", "--debug"]


def test_single_item_list_and_pathlike(pair):
    base, _ = pair
    assert load([base]).paths == [str(base)] == load(base).paths
    with pytest.raises(ConfigError):
        load([])


def test_frontend_and_backend_example(monkeypatch):
    monkeypatch.setenv("HOME", "/home/me")
    cfg = load(CONFIGS / "good" / "frontend_and_backend.hcl")
    assert list(cfg.apps) == ["api"] and list(cfg.processes) == ["frontend"] and list(cfg.jobs) == ["lint"]
    assert cfg.apps["api"].argv == ["--port=9999"] and cfg.apps["api"].threaded is False
    assert cfg.apps["api"].logger.replace_regex == [(r"^(\d{3}) ", "\x1b[32m\\1\x1b[0m ")]
    p = cfg.processes["frontend"]
    assert p.command == "yarn start --api http://localhost:9999" and p.tty is True
    assert p.env == {"NODE_ENV": "development", "PORT": "3000", "HOME_DIR": "/home/me"}
    assert p.logger.suppress_regex == ["webpack: Compiling"] and p.logger.level == "INFO"
    # the top-level logger: level, and colors in a replacement
    assert cfg.logger.level == "WARNING"
    assert cfg.logger.replace_regex == [("ERROR", "\x1b[91m\x1b[48;5;52mERROR\x1b[0m")]
    cfg = load(CONFIGS / "good" / "frontend_and_backend.hcl", {"threaded": "yes", "api_port": "8080"})
    assert cfg.apps["api"].threaded is True and cfg.processes["frontend"].command.endswith(":8080")


@pytest.mark.parametrize(
    "logger,where,fragment",
    [
        ('suppress_regex = ["("]', (3, 21), "does not compile"),
        ('suppress_regex = "x"', (3, 20), "must be a list of strings"),
        ('replace_regex = [{ from = "(a)", to = "\\\\2" }]', (3, 41), "is not a valid replacement"),
        ('replace_regex = [{ from = "a" }]', (3, 20), "needs `to"),
        ('replace_regex = [{ from = "a", to = "${fg(\'nope\')}" }]', (3, 39), "unknown color"),
    ],
)
def test_top_level_logger_is_validated(logger, where, fragment):
    errs = refused(HEAD + "logger {\n  %s\n}\n" % logger + WEB)
    assert len(errs) == 1, "\n".join(map(str, errs))
    assert (errs[0].line, errs[0].col) == where and fragment in errs[0].message, str(errs[0])


def test_reload_option_of_tornado_apps():
    assert loads(HEAD + WEB).apps["web"].reload == "patch"
    cfg = loads(HEAD + WEB.replace("options {", 'options {\n    reload = "all"'))
    assert cfg.apps["web"].reload == "all"
    cfg = loads(HEAD + WEB.replace("options {", 'options {\n    reload = "patch"'))
    assert cfg.apps["web"].reload == "patch"
    (e,) = refused(HEAD + WEB.replace("options {", 'options {\n    reload = "some"'))
    assert e.line == 6 and '`reload` is "dependents"' in e.message and '"some"' in e.message
