"""tornado_launcher.config.positions: positions pyhcl does not keep, and where syntax errors open."""

import hcl
import pytest

from tornado_launcher.config import ConfigError, loads
from tornado_launcher.config import positions as hclpos

TEXT = """kernel "py" {}
app "web" {
  start = <<EOF
x = 1
EOF
  options {
    argv = ["--a", "b\\"c", "d"]
    handlers = [{ patterns = ["*.py"] }, { x = 1 },]
  }
}
"""


def where(pos, path, part="key"):
    loc = pos.get(path)
    return pos.linecol(loc.key if part == "key" else loc.value)


def test_positions_of_keys_values_and_list_elements():
    pos = hclpos.scan(TEXT)
    assert where(pos, ("kernel", "py")) == (1, 1)
    assert pos.linecol(pos.get(("app", "web")).label) == (2, 5)
    assert where(pos, ("app", "web", "start")) == (3, 3)
    assert where(pos, ("app", "web", "options", "argv"), "value") == (7, 12)
    assert where(pos, ("app", "web", "options", "argv", 2)) == (7, 28)
    assert where(pos, ("app", "web", "options", "handlers", 1, "x")) == (8, 44)
    assert where(pos, ("app", "web", "options", "handlers", 0, "patterns", 0)) == (8, 31)
    assert [t.key for t in pos.top] == ["kernel", "app"]
    assert pos.duplicates == []


def test_string_values_match_pyhcl():
    """The scanner's idea of each string is pyhcl's, escapes and heredocs included."""
    text = 'a = "x\\\\y\\"z ${q(1)} \\n"\nb = <<EOT\n  two\n lines\nEOT\nc = <<-EOT\n\tt\n\tEOT\n'
    values = [t.value for t in hclpos.tokenize(text) if t.type == "STRING"]
    parsed = hcl.loads(text)
    assert values == [parsed["a"], parsed["b"], parsed["c"]]


def test_offset_in_value_maps_escapes_back():
    text = 's = "a\\"b\\"c"\n'
    loc = hclpos.scan(text).get(("s",))
    value = 'a"b"c'
    for i, ch in enumerate(value):
        assert text[loc.offset_in_value(i)] == ch


def test_code_error_column_survives_escaped_quotes():
    text = ('kernel "k" {}\napp "a" {\n class = "x.Y"\n kernel = "k"\n start = "print(\\"a\\") )"\n'
            ' options { app_class = "a.B" }\n}\n')
    with pytest.raises(ConfigError) as ei:
        loads(text)
    (d,) = ei.value.diagnostics
    line = text.splitlines()[d.line - 1]
    assert d.line == 5 and line[d.col - 1] == ")" and line[d.col - 2] == " "


def test_duplicates_and_groups():
    pos = hclpos.scan('app "a" {}\napp "b" {}\napp "a" { x = 1\n x = 2 }\n')
    dups = [(p, pos.linecol(d.key)[0]) for p, _, d in pos.duplicates]
    assert dups == [(("app", "a"), 3), (("app", "a", "x"), 4)]


@pytest.mark.parametrize(
    "text,line,col,fragment",
    [
        ('a = "x', 1, 5, "never closed"),
        ("a = <<EOF\nx\n", 1, 5, "heredoc `<<EOF`"),
        ("a = <<\n", 1, 5, "marker"),
        ("/* x", 1, 1, "`/*`"),
        ("a = 1 */", 1, 7, "without a `/*`"),
        ("b {\n a = [1,\n", 2, 6, "list opened here"),
        ("b {\n c {\n }\n", 1, 3, "block `b` opened here"),
        ("a = @", 1, 5, "unexpected character '@'"),
        ("}", 1, 1, "one `}` too many"),
        ('a "x"\nb = 1', 1, 3, "expected `=` after `a`"),
        ('a = "${x"', 1, 5, "`${`"),
    ],
)
def test_syntax_errors_point_where_they_open(text, line, col, fragment):
    with pytest.raises(hclpos.HclSyntaxError) as ei:
        hclpos.scan(text)
    assert hclpos.linecol(text, ei.value.offset) == (line, col)
    assert fragment in ei.value.message


def test_linecol_clamps():
    assert hclpos.linecol("ab\ncd", 0) == (1, 1)
    assert hclpos.linecol("ab\ncd", 3) == (2, 1)
    assert hclpos.linecol("ab\ncd", 99) == (2, 3)
    assert hclpos.linecol("", 5) == (1, 1)
