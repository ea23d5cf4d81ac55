"""kernel_pipe on its own: which command lines boot through bridge/boot.py, what a user is shown,
and the counting of rejected pipe messages (over real kernels: tests/integration/test_kernel_pipe.py)."""

import asyncio

from tornado_launcher.bridge import boot, source
from tornado_launcher.kernels import kernel_pipe


def test_stock_ipykernel_command_lines_boot_through_ours_and_nothing_else():
    assert kernel_pipe.boot_argv(["/py", "-m", "ipykernel_launcher", "-f", "{connection_file}"]) == \
        ["/py", "-c", source("boot"), "-f", "{connection_file}"]
    assert kernel_pipe.boot_argv(["/py", "-m", "ipykernel", "-f", "c.json", "--matplotlib=inline"])[3:] == \
        ["-f", "c.json", "--matplotlib=inline"]
    for other in (["/py", "-s", "-m", "ipykernel_launcher", "-f", "c"], ["conda", "run", "python", "-m", "x"],
                  ["/py", "/path/problemkernel.py", "-f", "c"], ["/py"]):
        assert kernel_pipe.boot_argv(other) == other


def test_the_user_is_shown_the_command_line_the_boot_stands_for():
    argv = kernel_pipe.boot_argv(["/my env/python", "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    assert kernel_pipe.shown_argv(argv) == "'/my env/python' -m ipykernel_launcher -f '{connection_file}'"
    assert source("boot").splitlines()[0].startswith("# tornado-launcher's kernel: ipykernel_launcher")  # ps shows it


async def test_rejected_messages_are_one_report_per_interval(monkeypatch):
    monkeypatch.setattr(kernel_pipe, "INTERVAL", 1.0)  # the takes below need far less
    reports = []
    counter = kernel_pipe.RejectedMessages(reports.append)
    counter.bind(asyncio.get_running_loop())
    lines = (["Bad pipe message: %s [b'not-the-key', b'INJECTED %s']"] * 1000
             + ["%s %d %.3f" % (boot.REJECTED, 5000, 1.5)])
    taken = await asyncio.to_thread(lambda: [counter.take(line) for line in lines])  # a reader thread
    assert all(taken) and not counter.take("an ordinary line") and not counter.take("x Bad pipe message:")
    while not reports:
        await asyncio.sleep(0.05)
    assert reports == ["rejected 6,000 messages on the kernel's subprocess pipe (a socket in the launcher's private "
                       "directory) in 1.5 s, from a process that does not hold the kernel's key; their content is "
                       "not shown"]
    counter.take("Bad pipe message: %s [b'x']")
    while len(reports) < 2:
        await asyncio.sleep(0.05)
    assert reports[1].startswith("rejected 1 message on ipykernel's pipe port (loopback TCP")
    assert counter.total == 6001 and "%s" not in "".join(reports)
