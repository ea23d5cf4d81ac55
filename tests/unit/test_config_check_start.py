"""config: what `start` would refuse is refused by the config itself (issue 13 items 7-9).

A `watch_path` that does not exist or loops, a `python` that does not exist,
a `kernel_name` not installed, a name Python reads as another; `exec()` not
run when the caller says so; a file over the size limit refused before it is
read.
"""

import os
import time

import pytest

from tornado_launcher import config
from tornado_launcher.bridge import protocol
from tornado_launcher.config import ConfigError, check, load, loads
from tornado_launcher.config.text import fixed_name

KERNEL = 'kernel "k" {}\n'
WEB = """app "web" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "k"
  options {
    app_class = "myproj.app.Application"
  }
}
"""


def watcher(path):
    return KERNEL + (
        'app "w" {\n  class  = "jaffle.app.watchdog.WatchdogApp"\n  kernel = "k"\n'
        '  options {\n    handlers = [{ watch_path = "%s" }]\n  }\n}\n' % path
    )


def only_error(text, path="<string>", **kw):
    with pytest.raises(ConfigError) as ei:
        loads(text, path, **kw)
    (e,) = [d for d in ei.value.diagnostics if d.severity == "error"]
    return e


# -- watch_path -------------------------------------------------------------


def test_watch_path_missing_is_an_error(tmp_path):
    e = only_error(watcher("gone"), str(tmp_path / "jaffle.hcl"))
    assert (e.line, e.col) == (6, 32)
    assert e.message == (
        '`watch_path` "gone" does not exist (resolved to %s): the handler watches a directory, '
        "so create it or fix the path" % (tmp_path / "gone")
    )


def test_watch_path_symlink_loop_is_an_error(tmp_path):
    os.symlink("loop", tmp_path / "loop")
    e = only_error(watcher("loop"), str(tmp_path / "jaffle.hcl"))
    assert '`watch_path` "loop" is a symlink loop (resolved to %s)' % (tmp_path / "loop") in e.message


def test_watch_path_file_is_an_error(tmp_path):
    (tmp_path / "a.py").write_text("")
    e = only_error(watcher("a.py"), str(tmp_path / "jaffle.hcl"))
    assert '`watch_path` "a.py" is not a directory' in e.message


def test_watch_path_directory_and_symlink_to_one_load(tmp_path):
    (tmp_path / "src").mkdir()
    os.symlink("src", tmp_path / "link")
    for name in ("src", "link"):
        cfg = loads(watcher(name), str(tmp_path / "jaffle.hcl"))
        assert cfg.apps["w"].handlers[0].watch_path == str(tmp_path / name)


# -- python and kernel_name ---------------------------------------------------


def test_python_missing_is_an_error(tmp_path):
    e = only_error('kernel "k" { python = "venv/bin/python" }\n' + WEB, str(tmp_path / "jaffle.hcl"))
    assert (e.line, e.col) == (1, 23)
    assert e.message.startswith('`python` "venv/bin/python" does not exist (resolved to %s)'
                                % (tmp_path / "venv" / "bin" / "python"))
    assert "remove `python` to run the launcher's own Python" in e.message


def test_python_directory_is_an_error(tmp_path):
    (tmp_path / "venv").mkdir()
    e = only_error('kernel "k" { python = "venv" }\n' + WEB, str(tmp_path / "jaffle.hcl"))
    assert "is a directory, not an interpreter" in e.message


def test_unknown_kernelspec_is_an_error_when_the_caller_lists_them():
    text = 'kernel "k" { kernel_name = "pyhton3" }\n' + WEB
    assert loads(text).kernels["k"].kernel_name == "pyhton3"  # not checked without the list
    e = only_error(text, kernelspecs=["python3", "ir"])
    assert (e.line, e.col) == (1, 28)
    assert e.message == (
        'kernel "k" uses the Jupyter kernelspec "pyhton3", which is not installed (did you mean `python3`?) '
        "(installed: ir, python3): install it (`jupyter kernelspec list` shows them), or give the kernel "
        'block `python = "/path/to/python"` instead'
    )
    assert loads(text.replace("pyhton3", "python3"), kernelspecs=["python3"]).kernels["k"].kernel_name == "python3"


def test_kernelspecs_are_asked_only_when_a_kernel_names_one():
    asked = []

    def installed():
        asked.append(1)
        return ["python3"]

    loads(KERNEL + WEB, kernelspecs=installed)
    assert asked == []
    loads('kernel "k" { kernel_name = "python3" }\n' + WEB, kernelspecs=installed)
    assert asked == [1]


# -- names Python normalises ------------------------------------------------------


def test_is_identifier_refuses_names_python_reads_as_another():
    assert protocol.is_identifier("fix") and protocol.is_identifier("caf\u00e9")
    assert not protocol.is_identifier("\ufb01x")  # the ligature: Python reads `fix`
    assert not protocol.is_identifier("cafe\u0301")  # e + combining accent: Python reads "café"
    with pytest.raises(ValueError, match="Python reads it as 'fix' \\(NFKC\\): rename it 'fix'"):
        protocol.validate_name("\ufb01x")
    assert fixed_name("my \ufb01x") == "my_fix"


@pytest.mark.parametrize("kind", ["app", "kernel"])
def test_a_name_python_normalises_is_an_error(kind):
    text = KERNEL + WEB.replace('app "web"', 'app "\ufb01x"') if kind == "app" else (
        'kernel "\ufb01x" {}\n' + WEB.replace('kernel = "k"', 'kernel = "\ufb01x"'))
    e = only_error(text)
    assert e.message == (
        '%s name "\ufb01x" is not how Python spells it: Python reads it as "fix" (NFKC), so the kernel '
        'would know it by another name: rename it "fix"' % kind
    )


# -- exec() not run -------------------------------------------------------------------


def test_exec_is_not_run_when_not_allowed(tmp_path):
    made = tmp_path / "made"
    text = KERNEL + WEB.replace(
        'app_class = "myproj.app.Application"',
        'app_class = "myproj.app.Application"\n    threaded = "${exec(\'touch made\')}"\n'
        '    argv = ["--a=${exec(\'echo 1\') | trim}-${exec("echo 2")}"]',
    )
    path = str(tmp_path / "jaffle.hcl")
    cfg = loads(text, path, allow_exec=False)
    assert not made.exists()
    notes = [str(d) for d in cfg.warnings]
    assert notes == [
        "%s:7:19: note: exec('touch made') not run (pass --exec to run it)" % path,
        "%s:8:20: note: exec('echo 1') not run (pass --exec to run it)" % path,
        "%s:8:45: note: exec('echo 2') not run (pass --exec to run it)" % path,
    ]
    assert cfg.apps["web"].threaded is False  # checked for form only: no "must be true or false"
    # allowed (the default): run, and their output checked
    with pytest.raises(ConfigError, match="`threaded` must be true or false"):
        loads(text, path)
    assert made.exists()


def test_exec_not_run_still_checks_the_form():
    text = KERNEL + WEB.replace('"myproj.app.Application"',
                                '"myproj.app.Application"\n    argv = ["${exec(\'x\')} ${oops(}"]')
    with pytest.raises(ConfigError, match="cannot be read"):
        loads(text, allow_exec=False)
    # an evaluation that only failed for the command's missing output is a note, not an error
    text = KERNEL + WEB.replace('"myproj.app.Application"',
                                '"myproj.app.Application"\n    argv = ["${fg(exec(\'x\'))}"]')
    (note,) = loads(text, allow_exec=False).warnings
    assert note.severity == "note" and str(note).endswith("note: exec('x') not run (pass --exec to run it)")
    # and a mistake of its own in the same file still is one
    with pytest.raises(ConfigError, match="uses variable `nope`"):
        loads(text.replace("${fg(exec('x'))}", "${exec('x')}${var.nope}"), allow_exec=False)


# -- size ----------------------------------------------------------------------------


def test_a_huge_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "jaffle.hcl"
    path.write_text('app "web" {\n  start = "' + "x" * 20_000_000 + '"\n}\n')
    t0 = time.perf_counter()
    cfg, diags = check(path)
    took = time.perf_counter() - t0
    assert cfg is None
    assert [str(d) for d in diags] == [
        "%s:1:1: is 20.0 MB, over the limit of 1.0 MB for a config file (config.MAX_SIZE): a jaffle.hcl "
        "is a few KB, so keep large data in a file your app reads" % path
    ]
    assert took < 1.0, took  # pyhcl took 13.7 s on it


def test_size_limit_is_a_setting_and_counts_strings_and_endless_files(monkeypatch, tmp_path):
    assert config.MAX_SIZE == 1024 * 1024
    text = KERNEL + WEB
    monkeypatch.setattr(config, "MAX_SIZE", len(text.encode()) - 1)
    with pytest.raises(ConfigError, match=r"is %d bytes, over the limit of %d bytes" % (len(text), len(text) - 1)):
        loads(text)
    (tmp_path / "j.hcl").write_text(text)
    with pytest.raises(ConfigError, match="over the limit"):
        load(tmp_path / "j.hcl")
    monkeypatch.setattr(config, "MAX_SIZE", len(text.encode()))
    assert loads(text).apps
    # an endless file (/dev/zero): not a regular file, refused at once before reading (issue 19)
    monkeypatch.setattr(config, "MAX_SIZE", 1000)
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="/dev/zero:1:1: is not a regular file, not a config file"):
        load("/dev/zero")
    assert time.perf_counter() - t0 < 1.0


def test_the_window_refuses_an_unknown_kernelspec_too(tmp_path):
    """The window's loader asks jupyter_client for the kernelspecs, as `check` and `start` do."""
    from tornado_launcher.gui.controller import default_loader
    from tornado_launcher.kernels.kernel import installed_kernelspecs

    assert "python3" in installed_kernelspecs()  # ipykernel's own, in our venv
    path = tmp_path / "jaffle.hcl"
    path.write_text('kernel "k" { kernel_name = "no-such-spec" }\n' + WEB)
    with pytest.raises(ConfigError, match=r':1:28: kernel "k" uses the Jupyter kernelspec "no-such-spec", '
                                          r"which is not installed"):
        default_loader(str(path))
    path.write_text('kernel "k" { kernel_name = "python3" }\n' + WEB)
    assert default_loader(str(path)).kernels["k"].kernel_name == "python3"
