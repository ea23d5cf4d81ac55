"""Bad input that used to get through `check` (issue 19, item 9): each is refused at its
file:line:col with a sentence naming the fix, or read as the user meant."""

import os
import threading

import pytest

from tornado_launcher.bridge import protocol
from tornado_launcher.config import check

APP = '''kernel "k" {}
app "%s" {
  class  = "jaffle.app.tornado.TornadoBridgeApp"
  kernel = "k"
  options {
    app_class = "proj.web.App"
    argv      = ["--port=${var.port}"]%s
  }
}
'''
VARIABLE = 'variable "port" {\n  default = %s\n}\n'


def errors(path):
    config, diags = check(str(path))
    return config, [str(d) for d in diags if d.severity == "error"]


def write(tmp_path, text, name="jaffle.hcl"):
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("name, why", [
    ("__builtins__", "dunder"), ("__name__", "dunder"), ("print", "shadow"), ("get_ipython", "shadow"),
    ("In", "shadow"), ("_", "shadow"), ("_i3", "shadow"),
])
def test_names_that_would_shadow_the_kernels_own_are_refused(tmp_path, name, why):
    config, errs = errors(write(tmp_path, VARIABLE % '"1"' + APP % (name, "")))
    assert config is None and len(errs) == 1, errs
    assert errs[0].startswith(f"{tmp_path / 'jaffle.hcl'}:5:5: app name \"{name}\"") and why in errs[0], errs
    with pytest.raises(ValueError):  # and the kernel side applies the same rule
        protocol.validate_name(name)


def test_a_100000_character_name_is_refused_briefly(tmp_path):
    config, errs = errors(write(tmp_path, VARIABLE % '"1"' + APP % ("a" * 100_000, "")))
    assert config is None and "is 100000 characters long; a name is at most 64" in errs[0]
    assert len(errs[0]) < 400
    assert protocol.reserved_name("a" * 64) is None


def test_interpolation_in_a_variable_default_is_refused(tmp_path):
    config, errs = errors(write(tmp_path, VARIABLE % '"${env(\'PORTX\',\'18875\')}"' + APP % ("web", "")))
    assert config is None
    assert errs[0].startswith(f"{tmp_path / 'jaffle.hcl'}:2:13: the `default` of variable `port`"), errs
    assert "not interpolated" in errs[0] and "J_VAR_port" in errs[0]


@pytest.mark.parametrize("key, value, shown", [
    ("drain_timeout", "1e400", "infinity"), ("drain_timeout", "1e9", "1000000000"),
])
def test_non_finite_and_absurd_seconds_are_refused(tmp_path, key, value, shown):
    config, errs = errors(write(tmp_path, VARIABLE % '"1"' + APP % ("web", f"\n    {key} = {value}")))
    assert config is None and len(errs) == 1, errs
    assert f":11:21: `{key}` = {shown}" in errs[0] and "more than 3600 seconds" in errs[0], errs


def test_debounce_infinity_is_refused(tmp_path):
    hcl = VARIABLE % '"1"' + APP % ("web", "") + '''app "watch" {
  class  = "jaffle.app.watchdog.WatchdogApp"
  kernel = "k"
  options {
    handlers = [{
      watch_path = "."
      patterns   = ["*.py"]
      debounce   = 1e309
      code_blocks = ["web.handle_watchdog_event({event})"]
    }]
  }
}
'''
    config, errs = errors(write(tmp_path, hcl))
    assert config is None and any("`debounce` = infinity" in e for e in errs), errs


def test_cr_only_line_ends_are_lines(tmp_path):
    text = "# a comment\n" + VARIABLE % '"1"' + APP % ("web", "")
    p = tmp_path / "jaffle.hcl"
    p.write_bytes(text.replace("\n", "\r").encode())
    config, errs = errors(p)
    assert errs == [] and list(config.apps) == ["web"]
    p.write_bytes((text.replace("\n", "\r") + 'app "x" {\r  kernel = 5\r}\r').encode())
    config, errs = errors(p)
    assert any(":14:5: app \"x\"" in e for e in errs), errs  # and places are counted in lines as written


def test_a_5000_digit_number_is_placed_and_said_in_our_words(tmp_path):
    config, errs = errors(write(tmp_path, VARIABLE % '"1"' + APP % ("web", "\n    drain_timeout = " + "9" * 5000)))
    assert config is None and len(errs) == 1, errs
    assert ":11:21: a number of 5000 digits" in errs[0] and "set_int_max_str_digits" not in errs[0], errs


def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "jaffle.hcl"
    os.mkfifo(fifo)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=errors(fifo)), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "check hangs on a FIFO"
    config, errs = result["r"]
    assert config is None and "is a FIFO (named pipe), not a config file" in errs[0], errs
