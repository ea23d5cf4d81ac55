"""The pure parts of bridge/entry_styles.py: dotted paths, the keys' check, URLs from sockets."""

import socket

import pytest

from tornado_launcher.bridge import entry_styles as es


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


def test_check_spec(tmp_path):
    (tmp_path / "server.py").write_text("")
    assert es.check_spec({"script": "server.py"}, str(tmp_path)) == []
    assert es.check_spec({"app_class": "m.make_app", "port": 8888}) == []
    assert any("exactly one" in p for p in es.check_spec({"main": "m.main", "script": "s.py"}))
    assert any("exactly one" in p for p in es.check_spec({}))
    assert any("does not exist" in p for p in es.check_spec({"script": "nope.py"}, str(tmp_path)))
    assert any("0 to 65535" in p for p in es.check_spec({"app_class": "m.A", "port": 70000}))
    assert any("only for an app_class" in p for p in es.check_spec({"main": "m.main", "port": 80}))
    assert any("dotted path" in p for p in es.check_spec({"main": "main"}))


def test_urls_for_wildcards_and_addresses():
    socks = []
    try:
        for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET, "127.0.0.1")):
            s = socket.socket(family)
            s.bind((host, 0))
            socks.append(s)
        urls = es.urls_for([(None, socks)])
        assert urls == ["http://localhost:%d/" % socks[0].getsockname()[1],
                        "http://127.0.0.1:%d/" % socks[1].getsockname()[1]]
    finally:
        for s in socks:
            s.close()
    assert es.urls_for([(None, socks)]) == []  # closed sockets give no URL
