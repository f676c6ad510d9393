"""A bash command line as the simple commands bash would run, from a real parse (tree-sitter-bash).

`parse_shell` gives every simple command (those inside substitutions, functions and loops too) as its
words after quote removal, plus two verdicts that fail closed:
- `problems`: why the line is not a plain list of simple commands (substitutions, expansions, ANSI-C
  quoting with escapes, redirects other than /dev/null or fd duplication, loops, functions ...). A prefix
  allow rule applies only when there are none.
- `unreliable`: why the parse may not show what bash runs (a parse error, words that tree-sitter splits
  but bash joins, a here-document bash would end elsewhere). Deny rules then cannot be ruled out.
"""

from __future__ import annotations

import itertools
import re
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import tree_sitter_bash
from tree_sitter import Language, Node, Parser

_PARSER = Parser(Language(tree_sitter_bash.language()))
_PARSER_LOCK = threading.Lock()  # a tree-sitter parser is not safe to share between threads
_MAX_DEPTH = 150  # nesting beyond this is not analysed (and Python's stack stays safe)
_MAX_LENGTH = 100_000  # characters; longer commands are not analysed (parsing time stays small)


@dataclass(frozen=True)
class SimpleCommand:
    words: tuple[str | None, ...]  # after quote removal; None where the value is known only at run time
    text: str  # as written


@dataclass(frozen=True)
class ShellScript:
    commands: tuple[SimpleCommand, ...]
    problems: tuple[str, ...]  # empty: a plain list of simple commands of plain words
    unreliable: str | None  # set: the parse may not match what bash runs
    syntax: frozenset[str] = frozenset()  # the tree-sitter node types in it
    quotes_code: bool = False  # quoted text holds `$(` or a backquote, which some builtins evaluate


@lru_cache(maxsize=512)
def parse_shell(source: str) -> ShellScript:
    if "\x00" in source:
        return ShellScript((), ("it contains a NUL byte",), "it contains a NUL byte")
    if len(source) > _MAX_LENGTH:
        too_long = f"it is longer than {_MAX_LENGTH:,} characters"
        return ShellScript((), (too_long,), too_long)
    data = source.encode("utf-8", "surrogatepass")
    walk = _Walk(data)
    with _PARSER_LOCK:
        root = _PARSER.parse(data).root_node
    if root.has_error:
        walk.distrust("it does not parse as bash (unbalanced quotes, brackets or keywords)")
    walk.check_gaps(root)
    walk.statement(root, 0)
    problems = tuple(dict.fromkeys(walk.problems))
    return ShellScript(tuple(walk.commands), problems, walk.unreliable, frozenset(walk.syntax), walk.quotes_code)


# Nodes that only group statements: allowed around plain simple commands.
_STRUCTURE = frozenset({"program", "list", "pipeline", "subshell", "compound_statement", "negated_command"})
_WORDS = frozenset({"word", "number", "raw_string", "ansi_c_string", "string", "concatenation"})
_REDIRECTS = frozenset({"file_redirect", "herestring_redirect", "heredoc_redirect"})
# Nodes whose children are text, not tokens separated by blanks: their gaps are content.
_TEXT = frozenset({
    "string", "raw_string", "ansi_c_string", "word", "comment", "heredoc_body", "heredoc_content",
    "string_content", "number", "heredoc_start", "heredoc_end", "concatenation",
})
# Nodes that bash reads on one line: a newline between their children would end them.
_ONE_LINE = frozenset({"command", "command_name", "file_redirect", "herestring_redirect", "variable_assignment"})
_BOUNDARY = b"|&;()<>`"  # bash's metacharacters (and backquotes): they end a word by themselves
_WORD_SEPARATED = frozenset({
    "command", "redirected_statement", "list", "pipeline", "program", "negated_command", "subshell",
    "compound_statement", "file_redirect", "herestring_redirect",
})
_CONTINUATION = b"\\\n"
_SAFE_REDIRECT = re.compile(r"(?:\d*|&)(?:>|>>|>\||&>|&>>|<)[ \t]*/dev/null|\d*[<>]&[ \t]*(?:\d+|-)")
_SEPARATORS = frozenset({";", "&", "&&", "||", "|", "|&", "(", ")", "{", "}", "!", "\n"})
_FD_WORD = re.compile(rb"(?:^|[ \t\n;&|(])(?:\d+|\{[A-Za-z_][A-Za-z0-9_]*\})\Z")  # `2>`, `{fd}>`: fd words
_UNESCAPED_METACHAR = re.compile(r"(?<!\\)(?:\\\\)*[ \t\n;&|()<>]")
_HEREDOC_WORD = re.compile(r"[A-Za-z0-9_.\-]+")
_EXPANSIONS = {
    "command_substitution": "command substitution $(...) or `...`",
    "process_substitution": "process substitution <(...) or >(...)",
    "simple_expansion": "variable expansion $name",
    "expansion": "parameter expansion ${...}",
    "arithmetic_expansion": "arithmetic expansion $((...))",
}


@dataclass
class _Walk:
    data: bytes
    commands: list[SimpleCommand] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    unreliable: str | None = None
    syntax: set[str] = field(default_factory=set)
    quotes_code: bool = False

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "surrogateescape")

    def distrust(self, reason: str) -> None:
        self.problems.append(reason)
        self.unreliable = self.unreliable or reason

    # --- statements ---

    def statement(self, node: Node, depth: int) -> None:
        if depth > _MAX_DEPTH:
            self.distrust("it nests too deeply to analyse")
            return
        kind = node.type
        if node.is_missing or kind == "ERROR":
            self.distrust("it does not parse as bash")
        elif kind == "command":
            self.command(node, depth)
        elif kind in _REDIRECTS:
            self.redirect(node, depth)
        elif not node.is_named:
            if kind not in _SEPARATORS:  # e.g. `;;` outside `case`, which bash rejects
                self.problems.append(f"the token `{kind}`")
        elif kind == "comment":
            return
        elif kind in _EXPANSIONS or kind in _WORDS:  # e.g. `for x in "$(...)"`, `x='...'`
            self.word(node, depth)
        elif node.child_count == 0:  # a name or literal inside other syntax
            return
        else:
            if kind not in _STRUCTURE and kind != "redirected_statement":
                self.problems.append(f"shell syntax `{kind.replace('_', ' ')}`")
            for child in node.children:
                self.statement(child, depth + 1)

    def command(self, node: Node, depth: int) -> None:
        words: list[str | None] = []
        for child in node.children:
            if child.type == "command_name":
                words.extend(self.word(c, depth) for c in child.named_children)
            elif child.type in _REDIRECTS:
                self.redirect(child, depth)
            elif child.type == "variable_assignment":
                self.problems.append("a variable assignment before the command")
                self.statement(child, depth + 1)
            elif child.is_named:
                words.append(self.word(child, depth))
            else:  # e.g. the `$` of $"..." (locale quoting)
                self.problems.append(f"`{self.text(child)}` quoting")
                words.append(None)
        self.commands.append(SimpleCommand(tuple(words), self.text(node)))

    # --- words ---

    def word(self, node: Node, depth: int) -> str | None:
        """The word's value after quote removal; None if known only at run time (expansions, globs)."""
        value = self._word(node, depth)
        if value is not None and ("$(" in value or "`" in value):
            self.quotes_code = True
        return value

    def _word(self, node: Node, depth: int) -> str | None:
        kind, text = node.type, self.text(node)
        if kind in ("word", "number"):
            if _UNESCAPED_METACHAR.search(text):  # tree-sitter kept together what bash splits
                self.distrust("a word that bash splits")
            return None if _has_unquoted_pattern(text) else _unescape(text)
        if kind == "raw_string":
            return text[1:-1]
        if kind == "ansi_c_string":
            if "\\" not in text:
                return text[2:-1]
            self.problems.append("ANSI-C quoting $'...' with escapes")
            return _decode_ansi_c(text[2:-1])
        if kind == "string":
            parts = [self.string_part(c, depth) for c in node.children if c.type != '"']
            return None if None in parts else "".join(p or "" for p in parts)
        if kind == "concatenation":
            parts = [self.word(c, depth) for c in node.children]
            unquoted = "".join(self.text(c) for c in node.children if c.type == "word")
            return None if None in parts or _is_brace_pattern(unquoted) else "".join(p or "" for p in parts)
        if kind == "brace_expression":
            return None
        self.problems.append(_EXPANSIONS.get(kind, f"shell syntax `{kind.replace('_', ' ')}` in a word"))
        for child in node.named_children:
            self.statement(child, depth + 1)
        return None

    def string_part(self, node: Node, depth: int) -> str | None:
        if node.type == "string_content":
            return re.sub(r'\\([$`"\\\n])', lambda m: "" if m.group(1) == "\n" else m.group(1), self.text(node))
        return self.word(node, depth)

    # --- redirects ---

    def redirect(self, node: Node, depth: int) -> None:
        if node.type == "heredoc_redirect":
            self.heredoc(node, depth)
            return
        if node.type == "herestring_redirect":
            for child in node.named_children:
                self.word(child, depth)
            return
        text = self.text(node).replace("\\\n", "")
        if not _SAFE_REDIRECT.fullmatch(text):
            self.problems.append(f"the redirect `{text}` (only /dev/null and 2>&1-style duplication are plain)")
        for child in node.named_children:
            if child.type not in ("file_descriptor",):
                self.word(child, depth)

    def heredoc(self, node: Node, depth: int) -> None:
        """Checks that bash ends the here-document where tree-sitter does; its body runs expansions."""
        parts = {c.type: c for c in node.children}
        start, body, end = parts.get("heredoc_start"), parts.get("heredoc_body"), parts.get("heredoc_end")
        for child in node.named_children:  # what follows `<<EOF` on its line: `| wc`, `> out` ...
            if child.type not in ("heredoc_start", "heredoc_body", "heredoc_end"):
                self.statement(child, depth + 1)
        if start is None or end is None:
            self.distrust("a here-document without its end line")
            return
        raw = self.text(start)
        quoted = any(c in raw for c in "'\"\\")
        delimiter = re.sub(r"['\"\\]", "", raw)
        if not _HEREDOC_WORD.fullmatch(delimiter) or not self._heredoc_ends_where_bash_ends_it(
            node, start, body, end, delimiter
        ):
            self.distrust("a here-document whose end bash may see elsewhere")
            return
        content = self.text(body) if body is not None else ""
        self.quotes_code = self.quotes_code or "$(" in content or "`" in content
        if not quoted and "\\\n" in content:  # bash joins the lines before it looks for the end line
            self.distrust("a line continuation in a here-document")
        if not quoted and any(c in content for c in "$`\\"):
            self.problems.append("expansions in a here-document")
            if "`" in content or "$(" in content:
                self.distrust("command substitution in a here-document")
            if body is not None:
                for child in body.named_children:
                    self.statement(child, depth + 1)

    def _heredoc_ends_where_bash_ends_it(
        self, node: Node, start: Node, body: Node | None, end: Node, delimiter: str
    ) -> bool:
        first = body.start_byte if body is not None and body.end_byte > body.start_byte else end.start_byte
        start_of_line = self.data.rfind(b"\n", 0, first) + 1
        lead = self.data[start.end_byte : start_of_line]
        strip_tabs = self.data[node.start_byte : node.start_byte + 3] == b"<<-"
        if lead.count(b"\n") != 1 or not lead.endswith(b"\n") or lead.endswith(b"\\\n"):
            return False  # the body must start on the line right after `<<EOF`
        if self.data[start_of_line:first].strip(b"\t" if strip_tabs else b""):
            return False
        position = start_of_line
        while position <= len(self.data):
            line_end = self.data.find(b"\n", position)
            line_end = len(self.data) if line_end < 0 else line_end
            line = self.data[position:line_end]
            if (line.lstrip(b"\t") if strip_tabs else line) == delimiter.encode():
                return position <= end.start_byte and end.end_byte == line_end
            position = line_end + 1
        return False

    # --- token boundaries ---

    def check_gaps(self, root: Node) -> None:
        """Between tokens only blanks may stand, and tokens bash would join must not be split."""
        stack = [root]
        while stack:
            node = stack.pop()
            stack.extend(node.children)
            self.syntax.add(node.type)
            raw = self.data[node.start_byte : node.end_byte]
            if node.type == "command_substitution" and raw.lstrip().startswith(b"`") and b"\\" in raw:
                self.distrust("backquotes with backslashes, which bash parses twice")
            if node.type == "concatenation" and any(self._gap(a, b) for a, b in _pairs(node)):
                self.distrust("a word with blanks that bash splits")
            if node.type in _TEXT or node.child_count == 0:
                continue
            outer = self._gap_bytes(node.start_byte, node.children[0].start_byte)
            outer += self._gap_bytes(node.children[-1].end_byte, node.end_byte)
            if outer.strip(b" \t\n"):
                self.distrust("characters bash reads differently between words")
            for left, right in _pairs(node):
                gap = self._gap(left, right)
                if gap.strip(b" \t\n") or (node.type in _ONE_LINE and b"\n" in gap):
                    self.distrust("characters bash reads differently between words")
                elif not gap and node.type in _WORD_SEPARATED and not (
                    self._is_boundary(left.end_byte - 1) or self._is_boundary(right.start_byte)
                ):
                    self.distrust("words that bash joins into one")
                elif not gap and right.type in _REDIRECTS and _FD_WORD.search(self.data, 0, left.end_byte):
                    self.distrust("a file descriptor before a redirect")

    def _gap(self, left: Node, right: Node) -> bytes:
        return self._gap_bytes(left.end_byte, right.start_byte)

    def _gap_bytes(self, start: int, end: int) -> bytes:
        return self.data[start:end].replace(_CONTINUATION, b"")

    def _is_boundary(self, index: int) -> bool:
        return 0 <= index < len(self.data) and self.data[index] in _BOUNDARY


def _pairs(node: Node) -> list[tuple[Node, Node]]:
    return list(itertools.pairwise(node.children))


def _has_unquoted_pattern(text: str) -> bool:
    """Glob characters outside backslash escapes, or braces: bash may turn the word into other words."""
    escaped = False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in "*?[":
            return True
    return _is_brace_pattern(text)


def _is_brace_pattern(text: str) -> bool:
    """`{a,b}` or `{1..3}`: bash makes several words of it (over-detecting only loses precision)."""
    return "{" in text and "}" in text and ("," in text or ".." in text)


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "" if m.group(1) == "\n" else m.group(1), text, flags=re.DOTALL)


_ANSI_C_SIMPLE = {"a": "\a", "b": "\b", "e": "\x1b", "E": "\x1b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                  "v": "\v", "\\": "\\", "'": "'", '"': '"', "?": "?"}
_ANSI_C_ESCAPE = re.compile(r"\\(?:([abeEfnrtv\\'\"?])|x([0-9A-Fa-f]{1,2})|([0-7]{1,3})|u([0-9A-Fa-f]{1,4})"
                            r"|U([0-9A-Fa-f]{1,8})|(.))", re.DOTALL)


def _decode_ansi_c(body: str) -> str | None:
    """$'...' as bash decodes it; None for escapes not decoded here (\\c, unknown ones)."""
    unknown = False

    def one(m: re.Match[str]) -> str:
        nonlocal unknown
        simple, hexa, octal, u4, u8, other = m.groups()
        if simple:
            return _ANSI_C_SIMPLE[simple]
        if other is not None:
            unknown = True
            return ""
        code = int(hexa, 16) if hexa else int(octal, 8) if octal else int(u4 or u8, 16)
        if code > 0x10FFFF or code == 0:
            unknown = True
            return ""
        return chr(code)

    decoded = _ANSI_C_ESCAPE.sub(one, body)
    return None if unknown else decoded
