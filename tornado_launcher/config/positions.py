"""Where things are in an HCL file: a small scanner that pyhcl lacks.

pyhcl turns a jaffle.hcl into plain dicts and lists but keeps no positions,
merges duplicate blocks silently, and reports syntax errors with the
parser's absolute offset in place of a column.  Users need
``file:line:col`` that points at the mistake, so this module tokenizes the
text the way pyhcl's lexer does and walks it with a small, lenient
recursive-descent parser that records, for every key path such as
``("app", "web", "options", "argv", 0)``, where the key and its value are.

It is not a second HCL implementation: :mod:`tornado_launcher.config` takes
the *values* from pyhcl.  This scanner only answers "where", finds
duplicates, and, when the text does not parse, says where the problem opens
(an unterminated string, heredoc, comment or block) in words a person can act
on.  The scanner is pure functions over a string; no I/O, thread-safe.

:class:`Reporter` is the one way the rest of the package turns a key path of
the (possibly merged) data into ``file:line:col`` and records a
:class:`~.model.Diagnostic`: it knows which file supplied each key path
(``origin``, filled by :mod:`.merge`) and falls back to the nearest located
parent when a path has no position of its own.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from .model import Diagnostic

Path = Tuple  # tuple of str (keys, labels) and int (list indexes)

#: Top-level block types; a line starting with one of these *inside* a
#: block usually means a `}` is missing before it.
TOP_LEVEL_WORDS = ("app", "kernel", "process", "job", "variable", "logger")


class HclSyntaxError(Exception):
    """A syntax problem at ``offset`` (0-based, in characters)."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(message)
        self.offset = offset
        self.message = message


@dataclass
class Token:
    type: str  # STRING NUMBER BOOL IDENT EOF or the punctuation itself
    value: object
    start: int
    end: int
    #: for STRING: offset of the first content character, whether it came
    #: from a heredoc, and the value indexes where an escaping backslash was
    #: dropped (so value index -> file offset can be mapped back exactly)
    text_start: int = -1
    heredoc: bool = False
    drops: Tuple[int, ...] = ()


@dataclass
class Loc:
    """Where one key path is.

    ``key`` is the offset of the key (for a labelled block such as
    ``app "web" {``: of its first word), ``label`` the offset of its last
    label, ``value`` the offset where the value starts (``{``, ``[``, or the
    scalar).  For strings, ``text_start``/``heredoc``/``drops`` allow mapping
    an index inside the string's value back to the file.
    """

    key: int
    value: int
    kind: str  # "assign" | "block" | "item" | "group"
    label: Optional[int] = None
    labels: int = 0
    text_start: int = -1
    heredoc: bool = False
    drops: Tuple[int, ...] = ()

    def offset_in_value(self, index: int) -> Optional[int]:
        """File offset of character ``index`` of a string value, or None."""
        if self.text_start < 0:
            return None
        shift = sum(1 for d in self.drops if d <= index)
        return self.text_start + index + shift


@dataclass
class TopItem:
    """One item at the top level of the file, in file order."""

    key: str
    labels: List[str]
    key_offset: int
    label_offsets: List[int]
    is_block: bool
    #: `key = { ... }` (or JSON's `"key": {...}`): pyhcl reads it like a block
    is_object: bool = False


@dataclass
class Positions:
    text: str
    locs: Dict[Path, Loc] = field(default_factory=dict)
    #: (path, first occurrence, repeated occurrence), in file order
    duplicates: List[Tuple[Path, Loc, Loc]] = field(default_factory=list)
    top: List[TopItem] = field(default_factory=list)
    #: every list: (offset of `[`, offset of `]`, [(element offset, token type)])
    lists: List[Tuple[int, int, List[Tuple[int, str]]]] = field(default_factory=list)
    #: quoted (not heredoc) strings that run over several lines: (start, end)
    multiline_strings: List[Tuple[int, int]] = field(default_factory=list)
    _line_starts: List[int] = field(default_factory=list)

    def linecol(self, offset: int) -> Tuple[int, int]:
        return linecol(self.text, offset, self._line_starts)

    def get(self, path: Path) -> Optional[Loc]:
        return self.locs.get(tuple(path))


def line_starts(text: str) -> List[int]:
    starts = [0]
    for m in re.finditer("\n", text):
        starts.append(m.end())
    return starts


def linecol(text: str, offset: int, starts: Optional[List[int]] = None) -> Tuple[int, int]:
    """1-based (line, column) of a 0-based character offset; clamped."""
    import bisect

    if not starts:
        starts = line_starts(text)
    offset = max(0, min(offset, len(text)))
    i = bisect.bisect_right(starts, offset) - 1
    return i + 1, offset - starts[i] + 1


# ---------------------------------------------------------------------------
# Tokenizer: mirrors pyhcl 0.4's lexer closely enough that both agree on
# where every token starts and what every string contains.

_NUMBER = re.compile(r"-?(0[xX][0-9a-fA-F]+|(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?)")
_IDENT = re.compile(r"[^\W\d][\w.-]*")
_BOOL = re.compile(r"true|false")
_HEREDOC = re.compile(r"<<(-?)(\S+)\r?\n")
_PUNCT2 = ("==", "!=", "<=", ">=", "*.")
_PUNCT1 = "{}[](),=:?.+-*/<>"


def _describe(tok: Token) -> str:
    if tok.type == "EOF":
        return "the end of the file"
    if tok.type == "STRING":
        v = str(tok.value)
        return "the string %s" % _short(v)
    if tok.type in ("NUMBER", "BOOL", "IDENT"):
        return "`%s`" % (str(tok.value).lower() if tok.type == "BOOL" else tok.value)
    return "`%s`" % tok.type


def _short(s: str, n: int = 30) -> str:
    s = s if len(s) <= n else s[: n - 3] + "..."
    return '"%s"' % s.replace("\n", "\\n")


def tokenize(text: str) -> List[Token]:
    """Tokens of ``text``; raises :class:`HclSyntaxError` at the opening of
    an unterminated string, heredoc or comment, or at an illegal character."""
    toks: List[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\f\v\n":
            i += 1
            continue
        if c == "#" or text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            if j < 0:
                raise HclSyntaxError(i, "comment opened here with `/*` is never closed: add `*/`")
            i = j + 2
            continue
        if text.startswith("*/", i):
            raise HclSyntaxError(i, "`*/` without a `/*` before it")
        if c == '"':
            toks.append(_string(text, i))
            i = toks[-1].end
            continue
        if text.startswith("<<", i):
            m = _HEREDOC.match(text, i)
            if not m:
                raise HclSyntaxError(
                    i, "heredoc needs a marker and a line break, e.g. `<<EOF` then the text then `EOF`"
                )
            toks.append(_heredoc(text, i, m))
            i = toks[-1].end
            continue
        m = _BOOL.match(text, i)
        if m:
            toks.append(Token("BOOL", m.group() == "true", i, m.end()))
            i = m.end()
            continue
        m = _NUMBER.match(text, i)
        if m:
            s = m.group()
            try:
                v: object = (
                    int(s, 16) if "x" in s.lower() else (float(s) if any(ch in s for ch in ".eE") else int(s))
                )
            except ValueError:
                v = s
            toks.append(Token("NUMBER", v, i, m.end()))
            i = m.end()
            continue
        m = _IDENT.match(text, i)
        if m:
            toks.append(Token("IDENT", m.group(), i, m.end()))
            i = m.end()
            continue
        two = text[i : i + 2]
        if two in _PUNCT2:
            toks.append(Token(two, two, i, i + 2))
            i += 2
            continue
        if c in _PUNCT1:
            toks.append(Token(c, c, i, i + 1))
            i += 1
            continue
        if c == "\x00" or (ord(c) < 32 and c not in "\t\n\r"):
            raise HclSyntaxError(i, "unexpected control character %r: is this a text file?" % c)
        raise HclSyntaxError(i, "unexpected character %r" % c)
    toks.append(Token("EOF", None, n, n))
    return toks


def _string(text: str, start: int) -> Token:
    """A double-quoted string, with pyhcl's escape rules: only a quote or a
    backslash preceded by a backslash is an escape; ``${...}`` may contain
    quotes and nests braces."""
    i, n = start + 1, len(text)
    out: List[str] = []
    rel = i
    drops: List[int] = []
    spanning = -1  # a `${` whose `}` came only on a later line
    while i < n:
        c = text[i]
        if c in '"\\' and text[i - 1] == "\\" and i - 1 >= start + 1:
            out.append(text[rel : i - 1])
            drops.append(sum(len(p) for p in out))
            out.append(c)
            rel = i + 1
            i += 1
            continue
        if c == "{" and text[i - 1] == "$":
            opened = i - 1
            depth, i = 1, i + 1
            while i < n and depth:
                if text[i] == "{":
                    depth += 1
                elif text[i] == "}":
                    depth -= 1
                i += 1
            if depth:
                raise HclSyntaxError(start, "string opened here has a `${` that is never closed with `}`")
            if spanning < 0 and "\n" in text[opened:i]:
                spanning = opened
            continue
        if c == '"':
            out.append(text[rel:i])
            return Token("STRING", "".join(out), start, i + 1, start + 1, False, tuple(drops))
        i += 1
    if spanning >= 0:
        # `"x ${var.a"` then a `}` lines later: the `${` swallowed the quote
        raise HclSyntaxError(
            spanning,
            "`${` opened here is not closed with `}` on its line: close it, or write `$${` for a literal `${`",
        )
    raise HclSyntaxError(start, 'string opened here is never closed: add the closing `"`')


def _heredoc(text: str, start: int, m: "re.Match[str]") -> Token:
    tabbed, marker = m.group(1) == "-", m.group(2)
    body = m.end()
    pos = body
    n = len(text)
    while pos < n:
        j = text.find("\n", pos)
        line_end = n if j < 0 else j
        line = text[pos:line_end]
        if line.endswith("\r"):
            line = line[:-1]
        check = line.strip() if tabbed else line
        if line and (check == marker or check.endswith(marker)):
            if check == marker:
                end_value = max(body, pos - (2 if text[pos - 2 : pos] == "\r\n" else 1))
            else:
                end_value = pos + len(line) - len(marker)
            value = text[body:end_value]
            if tabbed:
                value = re.sub("\n\t*", "\n", re.sub("^\t*", "", value))
            return Token("STRING", value, start, pos + len(line), body, True)
        pos = line_end + 1
    raise HclSyntaxError(
        start, "heredoc `<<%s` opened here is never closed: end it with a line `%s`" % (marker, marker)
    )


# ---------------------------------------------------------------------------
# Parser: records positions; lenient about expressions pyhcl accepts.

_OPERATORS = {"+", "-", "*", "/", "==", "!=", "<", ">", "<=", ">=", "?", ":", ".", "*."}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.pos = Positions(text, _line_starts=line_starts(text))
        self.suspect: Optional[Token] = None  # a top-level word found nested
        #: matched braces: (open token, close token, description)
        self.pairs: List[Tuple[Token, Token, str]] = []
        for t in self.toks:
            if t.type == "STRING" and not t.heredoc and "\n" in self.text[t.start : t.end]:
                self.pos.multiline_strings.append((t.start, t.end))

    def peek(self, k: int = 0) -> Token:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Token:
        t = self.peek()
        self.i += 1
        return t

    def record(self, path: Path, loc: Loc) -> None:
        old = self.pos.locs.get(path)
        if old is None:
            self.pos.locs[path] = loc
        elif loc.kind != "group" and old.kind != "group":
            self.pos.duplicates.append((path, old, loc))
        elif old.kind == "group" and loc.kind != "group":
            self.pos.locs[path] = loc

    def line_of(self, offset: int) -> int:
        return self.pos.linecol(offset)[0]

    def indent_of(self, offset: int) -> int:
        line = self.line_of(offset)
        start = self.pos._line_starts[line - 1]
        text = self.text[start:offset]
        return len(text) - len(text.lstrip(" \t"))

    def first_on_line(self, tok: Token) -> bool:
        line = self.line_of(tok.start)
        return not self.text[self.pos._line_starts[line - 1] : tok.start].strip()

    def parse(self) -> Positions:
        if self.peek().type == "{":
            # pyhcl reads a file that starts with `{` as JSON: same shape.
            self.parse_body((), self.next(), "object")
        else:
            self.parse_body((), None, "file", top=True)
        t = self.peek()
        if t.type != "EOF":
            self.fail(t, "unexpected %s after the end of the file's body" % _describe(t))
        return self.pos

    def fail(self, tok: Token, message: str) -> None:
        raise HclSyntaxError(tok.start, message)

    def parse_body(self, path: Path, open_tok: Optional[Token], desc: str, top: bool = False) -> None:
        close = "}" if open_tok is not None else "EOF"
        while True:
            t = self.peek()
            if t.type == close:
                if close == "}":
                    self.pairs.append((open_tok, self.next(), desc))  # type: ignore[arg-type]
                return
            if t.type == "EOF":
                self.unclosed(open_tok, desc)
            if t.type == ",":
                self.next()
                continue
            if t.type == "}":
                self.fail(t, "unexpected `}`: no block is open here (one `}` too many?)")
            self.parse_item(path, top=top and open_tok is None)

    def unclosed(self, open_tok: Optional[Token], desc: str) -> None:
        """EOF inside a block: say which block lacks its `}`.

        Braces pair up innermost first, so the block reported by the parser
        is the outermost one; indentation usually tells the real culprit: a
        `}` indented less than the line that opened its block belongs to an
        outer block.
        """
        assert open_tok is not None
        for o, c, d in sorted(self.pairs, key=lambda p: p[0].start):
            if (
                o.start > open_tok.start
                and self.first_on_line(c)
                and self.indent_of(c.start) < self.indent_of(o.start)
            ):
                raise HclSyntaxError(
                    o.start,
                    "block `%s` opened here is never closed: add `}` "
                    "(the `}` at line %d is indented like an outer block's)" % (d, self.line_of(c.start)),
                )
        msg = "block `%s` opened here is never closed: add `}`" % desc
        if self.suspect is not None:
            line = self.line_of(self.suspect.start)
            msg += " (the `%s` block at line %d is inside it: is a `}` missing before it?)" % (
                self.suspect.value,
                line,
            )
        raise HclSyntaxError(open_tok.start, msg)

    def parse_item(self, path: Path, top: bool) -> None:
        key = self.next()
        if key.type not in ("IDENT", "STRING"):
            self.fail(key, "expected a name, found %s" % _describe(key))
        kname = str(key.value)
        if (
            not top
            and key.type == "IDENT"
            and kname in TOP_LEVEL_WORDS
            and self.pos.linecol(key.start)[1] == 1
            and self.suspect is None
        ):
            self.suspect = key
        t = self.peek()
        if t.type in ("=", ":"):
            self.next()
            loc = Loc(key.start, self.peek().start, "assign")
            self.record(path + (kname,), loc)
            self.parse_value(path + (kname,), loc, t)
            if top:
                is_object = self.toks[self.i - 1].type == "}" and self.text[loc.value] == "{"
                self.pos.top.append(TopItem(kname, [], key.start, [], False, is_object))
            return
        labels: List[Token] = []
        while t.type in ("STRING", "IDENT"):
            labels.append(self.next())
            t = self.peek()
        shown = " ".join(_short(str(l.value)) if l.type == "STRING" else str(l.value) for l in labels)
        spread = any(self.line_of(l.start) != self.line_of(key.start) for l in labels)
        if t.type != "{" or spread:
            # `kernel "py"` then `options {` on the next line parses as a
            # block with two labels; nobody means that: a `=` is missing.
            culprit = labels[0] if labels else t
            if self.line_of(culprit.start) != self.line_of(key.start):
                culprit = key
            if labels and self.line_of(labels[0].start) == self.line_of(key.start):
                same = [l for l in labels if self.line_of(l.start) == self.line_of(key.start)]
                if len(same) == 1:
                    self.fail(culprit, "expected `=` after `%s`, found %s" % (kname, _describe(labels[0])))
            if labels:
                self.fail(
                    culprit,
                    "`%s %s` must be followed by `{` on the same line to open a block, "
                    "or write `%s = ...` to set a value" % (kname, shown, kname),
                )
            self.fail(culprit, "expected `=` after `%s`, found %s" % (kname, _describe(t)))
        brace = self.next()
        full = path + (kname,)
        if labels:
            self.record(full, Loc(key.start, brace.start, "group"))
        for k, lab in enumerate(labels):
            full = full + (str(lab.value),)
            last = k == len(labels) - 1
            self.record(
                full,
                Loc(
                    key.start, brace.start, "block" if last else "group", label=lab.start, labels=len(labels)
                ),
            )
        if not labels:
            self.record(full, Loc(key.start, brace.start, "block"))
        if top:
            self.pos.top.append(
                TopItem(kname, [str(l.value) for l in labels], key.start, [l.start for l in labels], True)
            )
        self.parse_body(full, brace, (kname + " " + shown).strip())

    def parse_value(self, path: Path, loc: Optional[Loc], after: Token) -> str:
        kind = self.parse_primary(path, loc, after)
        while self.peek().type in _OPERATORS:
            op = self.next()
            self.parse_primary(path + ("<expr>",), None, op)
            kind = "EXPR"
        return kind

    def parse_primary(self, path: Path, loc: Optional[Loc], after: Token) -> str:
        t = self.next()
        if t.type == "STRING" and loc is not None:
            loc.text_start, loc.heredoc, loc.drops = t.text_start, t.heredoc, t.drops
        if t.type in ("STRING", "NUMBER", "BOOL"):
            return t.type
        if t.type == "IDENT":
            if self.peek().type == "(":
                self.skip_group(self.next(), ")")
            elif self.peek().type == "[":
                self.skip_group(self.next(), "]")
            return "STRING"
        if t.type == "-":
            return self.parse_primary(path, None, t)
        if t.type == "[":
            self.parse_list(path, t)
            return "LIST"
        if t.type == "{":
            self.parse_body(path, t, "{")
            return "OBJECT"
        if t.type == "(":
            self.skip_group(t, ")")
            return "EXPR"
        culprit = t if self.line_of(t.start) == self.line_of(after.start) else after
        self.fail(culprit, "expected a value after `%s`, found %s" % (after.value, _describe(t)))
        return ""

    def parse_list(self, path: Path, open_tok: Token) -> None:
        index = 0
        elements: List[Tuple[int, str]] = []
        unclosed = "list opened here with `[` is never closed: add `]`"
        while True:
            t = self.peek()
            if t.type == "]":
                self.pos.lists.append((open_tok.start, self.next().start, elements))
                return
            if t.type in ("EOF", "}"):
                raise HclSyntaxError(open_tok.start, unclosed)
            loc = Loc(t.start, t.start, "item")
            self.record(path + (index,), loc)
            kind = self.parse_value(path + (index,), loc, open_tok if index == 0 else self.toks[self.i - 1])
            elements.append((t.start, kind))
            index += 1
            t = self.peek()
            if t.type == ",":
                self.next()
                continue
            if t.type == "]":
                continue
            if t.type in ("EOF", "}") or (t.type in ("IDENT", "STRING") and self.peek(1).type in ("=", "{")):
                raise HclSyntaxError(open_tok.start, unclosed)
            self.fail(t, "expected `,` or `]` in the list, found %s" % _describe(t))

    def skip_group(self, open_tok: Token, close: str) -> None:
        pairs = {"(": ")", "[": "]", "{": "}"}
        stack = [close]
        while stack:
            t = self.next()
            if t.type == "EOF":
                raise HclSyntaxError(
                    open_tok.start, "`%s` opened here is never closed: add `%s`" % (open_tok.type, close)
                )
            if t.type in pairs:
                stack.append(pairs[t.type])
            elif t.type == stack[-1]:
                stack.pop()


def scan(text: str) -> Positions:
    """Positions of every key path in ``text``.

    Raises :class:`HclSyntaxError` for text that does not parse, pointing at
    where the problem opens.  A very deeply nested file raises it too (at
    offset 0) rather than overflowing the stack.
    """
    try:
        parser = _Parser(text)
    except HclSyntaxError as e:
        raise _blame_multiline(text, e, _early_strings(text, e.offset)) from None
    try:
        return parser.parse()
    except RecursionError:
        raise HclSyntaxError(0, "the file is nested too deeply to read") from None
    except HclSyntaxError as e:
        raise _blame_multiline(text, e, parser.pos.multiline_strings) from None


def _early_strings(text: str, offset: int) -> List[Tuple[int, int]]:
    """Quoted strings spanning lines before ``offset`` (tokenizing stopped there)."""
    try:
        toks = tokenize(text[:offset])
    except HclSyntaxError:
        return []
    return [
        (t.start, t.end)
        for t in toks
        if t.type == "STRING" and not t.heredoc and "\n" in text[t.start : t.end]
    ]


def _blame_multiline(text: str, error: HclSyntaxError, strings: List[Tuple[int, int]]) -> HclSyntaxError:
    """A quoted string that runs over lines before a syntax error is almost
    always a missing closing quote: the quotes pair up wrongly from there
    on, and the parser stumbles much later.  Point at that string instead.
    """
    for start, end in strings:
        if start < error.offset:
            line, _ = linecol(text, start)
            end_line, _ = linecol(text, end)
            err_line, _ = linecol(text, error.offset)
            return HclSyntaxError(
                start,
                'string opened here runs on to line %d: is its closing `"` missing? '
                "(the error shows at line %d: %s)"
                % (end_line, err_line, error.message.replace(" opened here", "")),
            )
    return error


# ---------------------------------------------------------------------------
# Reporting: key path -> file:line:col -> Diagnostic


class Where(NamedTuple):
    """A place in one of the config's files: ``index`` into the sources, 1-based line and column."""

    index: int
    line: int
    col: int


class Source:
    """One config file: its text, where it is, and (after ``source.parse``) its positions."""

    def __init__(self, text: str, shown: str, absolute: str) -> None:
        self.text = text
        self.shown = shown
        self.absolute = absolute
        self.directory = os.path.dirname(absolute)
        self.pos: Optional[Positions] = None
        self.starts = line_starts(text)


class Reporter:
    """Places and diagnostics for one check of one config (one file, or several merged).

    ``origin`` maps a key path to the index of the file that supplied its
    value (a block: the first file that opened it); a path not in it
    belongs to the file selected with :meth:`use` (the per-file checks run
    before merging).  ``diagnostics`` collects everything reported, in order.
    """

    def __init__(self, sources: Sequence[Source]) -> None:
        self.sources = list(sources)
        self.origin: Dict[tuple, int] = {}
        self.diagnostics: List[Diagnostic] = []
        self.current = 0

    def use(self, index: int) -> None:
        """Make file ``index`` the one for paths no file supplied yet, and for :meth:`error_at`."""
        self.current = index

    def _find(self, path: tuple) -> Tuple[int, Optional[Loc]]:
        """(file index, Loc of the nearest located parent) of a key path."""
        p = tuple(path)
        q = p
        while q and q not in self.origin:
            q = q[:-1]
        index = self.origin.get(q, self.current)
        pos = self.sources[index].pos
        while p and pos is not None:
            loc = pos.locs.get(p)
            if loc is not None:
                return index, loc
            p = p[:-1]
        return index, None

    def index_of(self, path: tuple) -> int:
        """The index of the file that supplied ``path``."""
        return self._find(path)[0]

    def where(self, path: tuple, part: str = "key") -> Where:
        """Where ``path`` is: its ``key``, ``value`` or block ``label``; the nearest parent, or 1:1."""
        index, loc = self._find(path)
        if loc is None:
            return Where(index, 1, 1)
        off = loc.value if part == "value" else loc.key
        if part == "label" and loc.label is not None:
            off = loc.label
        src = self.sources[index]
        line, col = linecol(src.text, off, src.starts)
        return Where(index, line, col)

    def ref(self, path: tuple, seen_from: tuple) -> str:
        """ "line N" for ``path``, or "other.hcl:N" when another file than ``seen_from``'s holds it."""
        index, line, _ = self.where(path)
        if index == self.index_of(seen_from):
            return "line %d" % line
        return "%s:%d" % (self.sources[index].shown, line)

    def directory_of(self, path: tuple) -> str:
        """The directory of the file that supplied ``path``: relative paths are relative to it."""
        return self.sources[self.index_of(path)].directory

    def error(self, path: tuple, message: str, part: str = "key") -> None:
        self._add(self.where(path, part), message, "error")

    def warn(self, path: tuple, message: str, part: str = "key") -> None:
        self._add(self.where(path, part), message, "warning")

    def note(self, path: tuple, message: str, part: str = "key") -> None:
        """Not a problem: what the check did not do (an ``exec()`` not run)."""
        self._add(self.where(path, part), message, "note")

    def error_at(self, offset: int, message: str, severity: str = "error", src: Optional[int] = None) -> None:
        """A diagnostic at a character offset of file ``src`` (default: the current one)."""
        index = self.current if src is None else src
        source = self.sources[index]
        line, col = linecol(source.text, offset, source.starts)
        self._add(Where(index, line, col), message, severity)

    def file_diagnostic(self, message: str) -> None:
        """An error about the command line's values rather than a place: ``first.hcl: message``."""
        self.diagnostics.append(Diagnostic(self.sources[0].shown, 0, 0, message))

    def _add(self, where: Where, message: str, severity: str) -> None:
        self.diagnostics.append(Diagnostic(self.sources[where.index].shown, where.line, where.col, message, severity))
