"""A remote kernel's app URLs name the kernel's host; a loopback-only one gets a hint."""

from tornado_launcher.engine.events import AppState, LogRecord
from tornado_launcher.kernels.kernel import Kernel, remote_urls


def test_remote_urls_name_the_host_for_public_ports_only():
    urls = ("http://127.0.0.1:8000/", "http://127.0.0.1:9000/", "https://[::1]:8443/")
    assert remote_urls(urls, (8000, 8443), "devbox") == (
        "http://devbox:8000/", "http://127.0.0.1:9000/", "https://devbox:8443/")
    assert remote_urls(urls, (8000,), "10.0.0.5") == ("http://10.0.0.5:8000/",) + urls[1:]
    assert remote_urls(urls, (8000,), "fd00::5")[0] == "http://[fd00::5]:8000/"
    assert remote_urls(urls, (8000,), "127.0.0.1") == urls  # a tunnel: as the bridge says
    assert remote_urls(urls, (8000,), None) == urls


def test_kernel_on_another_host_shows_its_host_and_hints_once(tmp_path):
    events = []
    k = Kernel("k", cwd=str(tmp_path), runtime_dir=str(tmp_path), on_event=events.append,
               on_death=lambda reason: None)
    k.remote_host = "devbox"
    rec = {"type": "state", "app": "web", "state": "running", "reason": None, "elapsed_ms": 1.0,
           "urls": ("http://127.0.0.1:8000/", "http://127.0.0.1:9000/"), "threaded": False,
           "template_paths": (), "static_paths": (), "public_ports": (8000,)}
    for _ in range(2):
        k._handle_records({"events": [rec]})
    states = [e for e in events if isinstance(e, AppState)]
    hints = [e for e in events if isinstance(e, LogRecord)]
    assert states[0].urls == ("http://devbox:8000/", "http://127.0.0.1:9000/")
    assert len(hints) == 1 and hints[0].app == "web"
    assert "listens only on the loopback of devbox" in hints[0].message
    assert "ssh -L 9000:127.0.0.1:9000 devbox" in hints[0].message
