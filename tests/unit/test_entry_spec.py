"""The pure parts of the entry points (issue 10): dotted paths, URLs from sockets.
The config keys' check is in test_config.py (configs/bad/entry_*.hcl)."""

import socket

import pytest

from tornado_launcher.bridge.kernelside import entry as es
from tornado_launcher.bridge.kernelside.servers import Servers


def test_parse_main_forms():
    assert es.parse_main("pkg.mod:main") == ("pkg.mod", "main", True)
    assert es.parse_main("pkg.mod.main") == ("pkg.mod", "main", False)
    assert es.parse_main("pkg.mod:Server.run") == ("pkg.mod", "Server.run", True)
    for bad in ("", "main", "pkg.mod:", "pkg..main", "pkg.mod:1x", 3):
        with pytest.raises(ValueError):
            es.parse_main(bad)


def test_load_main_nested_attribute():
    assert es.load_main("os.path.join") is __import__("os").path.join
    assert es.load_main("collections:OrderedDict.fromkeys") == __import__("collections").OrderedDict.fromkeys


def test_urls_for_wildcards_and_addresses():
    socks = []
    try:
        for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET, "127.0.0.1")):
            s = socket.socket(family)
            s.bind((host, 0))
            socks.append(s)
        urls = urls_of(socks)
        assert urls == ["http://localhost:%d/" % socks[0].getsockname()[1],
                        "http://127.0.0.1:%d/" % socks[1].getsockname()[1]]
    finally:
        for s in socks:
            s.close()
    assert urls_of(socks) == []  # closed sockets give no URL


def urls_of(socks):
    servers = Servers()
    servers.track(None, socks)
    return servers.urls()
