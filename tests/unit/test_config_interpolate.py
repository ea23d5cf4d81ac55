"""tornado_launcher.config.interpolate: the explicit Environment a `${...}` is evaluated in."""

import pytest

from tornado_launcher.config.interpolate import Environment, InterpError, render


def test_exec_runs_once_per_command_and_directory(tmp_path):
    (tmp_path / "count.sh").write_text("echo x >> runs.txt\necho out\n")
    env = Environment(directory=str(tmp_path))
    assert render("${exec('sh count.sh')}-${exec('sh count.sh')}", env) == "out-out"
    assert (tmp_path / "runs.txt").read_text() == "x\n"
    assert env.exec_cache == {("sh count.sh", str(tmp_path)): "out"}


def test_allow_exec_false_runs_nothing_and_records_the_command(tmp_path):
    env = Environment(directory=str(tmp_path), allow_exec=False)
    assert render("a${exec('touch made')}b", env) == "ab"
    assert not (tmp_path / "made").exists()
    assert env.skipped_exec == [("touch made", str(tmp_path))]


def test_variables_come_from_the_environment_object():
    env = Environment(variables={"port": 8000, "debug": True})
    assert render("${var.port}", env) == 8000
    assert render("--port=${var.port} ${var.debug}", env) == "--port=8000 true"
    with pytest.raises(InterpError, match="variable `nope`, which is not defined"):
        render("${var.nope}", env)
