"""App, kernel and file-change states are enums whose members are today's wire strings.

Pinned here: whatever prints, formats, hashes or serializes a state (logs, the control
socket's JSON, the Qt views, the protocol) sees exactly the old string, on every Python
(a plain ``(str, Enum)`` formats as ``Class.NAME`` on 3.11).
"""

import json
import logging

import pytest

from tornado_launcher.engine.events import (
    KERNEL_READY,
    NOT_RESPONDING,
    AppState,
    AppStateName,
    KernelState,
    KernelStateName,
)
from tornado_launcher.watching.watcher import ChangeKind, FileChange

ALL = list(AppStateName) + list(KernelStateName) + list(ChangeKind)


@pytest.mark.parametrize("member", ALL, ids=lambda m: f"{type(m).__name__}.{m.name}")
def test_a_member_reads_as_its_value_everywhere(member):
    value = member.value
    assert isinstance(member, str) and member == value and hash(member) == hash(value)
    assert str(member) == f"{member}" == format(member) == "%s" % member == "{}".format(member) == value
    assert f"{member:>16}" == f"{value:>16}"
    assert type(str(member)) is str  # a plain str once converted
    assert json.dumps({"state": member}) == json.dumps({"state": value})
    assert {value: 1}[member] == 1 and {member: 1}[value] == 1
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "state %s", (member,), None)
    assert record.getMessage() == f"state {value}"


def test_events_and_changes_carry_members_and_pass_unknown_strings_through():
    assert AppState("a", "k", "running").state is AppStateName.RUNNING
    assert KernelState("k", "not responding").state is KernelStateName.NOT_RESPONDING
    assert KernelState("k", "from-a-newer-bridge").state == "from-a-newer-bridge"
    change = FileChange("moved", "/a", "/b", False, 0.0)
    assert change.event_type is ChangeKind.MOVED
    assert change.as_event_dict()["event_type"] == "moved"
    assert type(change.as_event_dict()["event_type"]) is str  # what a watch handler's code receives


def test_ready_kernel_states():
    assert "idle" in KERNEL_READY and "busy" in KERNEL_READY
    assert not {"starting", "dead", "restarting", "stopped", NOT_RESPONDING} & KERNEL_READY
