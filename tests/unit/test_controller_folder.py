"""WindowController's Open folder and configs without a file (issue 23), without Qt.

Real folders detected by the real detection; the session is tests/gui's FakeSession."""

from __future__ import annotations

from tests import zeroconf_apps
from tests.helpers import free_port
from tests.unit.test_controller import Store, View, ctl  # noqa: F401 (fixture)


async def test_plan_folder_lists_the_apps_and_the_text_init_writes(ctl, tmp_path):
    root = zeroconf_apps.project(tmp_path / "p", script_port=free_port(), factory_port=free_port())
    plan = await ctl.plan_folder(str(root))
    assert not plan.error and [a.split(":")[0] for a in plan.apps] == ["server", "webapp"]
    assert plan.config_path == str(root / "jaffle.hcl") and not plan.exists
    one = await ctl.plan_folder(str(root / "server.py"))  # a dropped .py: that app only
    assert one.directory == str(root) and one.targets == ["server.py"] and len(one.apps) == 1
    empty = await ctl.plan_folder(str(tmp_path / "p" / "handlers.py"))
    assert empty.error.startswith("handlers.py only defines things") and not empty.apps


async def test_run_without_writing_then_reread_uses_the_same_text(ctl, tmp_path):
    root = zeroconf_apps.project(tmp_path / "p", main_port=free_port())
    plan = await ctl.plan_folder(str(root))
    assert await ctl.run_folder(plan)
    s = ctl.sessions[-1]
    assert ctl.config_path == plan.config_path and ctl.generated == (plan.text, plan.directory)
    assert set(s.apps) == {"syncapp"} and ctl.store.recent == []  # not a file: not in the recent list
    assert s.config.paths == [plan.config_path] and s.config.directory == str(root)
    assert await ctl.reread_config()  # F5: the same text again, no file read
    assert not (root / "jaffle.hcl").exists()
    await ctl.close_config()
    assert ctl.generated is None


async def test_write_and_open_never_overwrites(ctl, tmp_path):
    root = zeroconf_apps.project(tmp_path / "p", script_port=free_port())
    plan = await ctl.plan_folder(str(root))
    assert await ctl.write_and_open(plan)
    assert (root / "jaffle.hcl").read_text() == plan.text and ctl.generated is None
    assert ctl.store.recent == [str(root / "jaffle.hcl")]
    (root / "jaffle.hcl").write_text(plan.text.replace("# jaffle.hcl for", "# mine:"))
    again = await ctl.plan_folder(str(root))
    assert again.exists and await ctl.write_and_open(again)
    assert (root / "jaffle.hcl").read_text().startswith("# mine:")
    await ctl.close_config()
