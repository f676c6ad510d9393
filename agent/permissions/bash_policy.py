"""Bash rules (`Bash(npm test:*)`, `Bash(git status)`) judged on the parsed command line, failing closed.

Allow: a rule permits a command when it is the exact text of the command, or when every simple command
in it is a plain list of words (no substitution, expansion, ANSI-C quoting with escapes, file redirect or
parse doubt) that some rule covers: a prefix rule by its first words, an exact rule by all of them.
Deny and ask: a rule matches what bash would run, whatever the spelling (`'rm'`, `\\rm`, `/bin/rm`,
`sudo rm`, `bash -c 'rm x'`). Where that cannot be known before run time the match is "maybe", which
the policy turns into asking, never into allowing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Literal

from agent.permissions import rule_suggestion
from agent.permissions.git_commands import AliasLookup, expand_aliases
from agent.permissions.option_families import never_covered
from agent.permissions.program_files import ProgramFiles
from agent.permissions.shell_parse import parse_shell
from agent.permissions.shell_wrappers import Words, executed

Match = Literal["yes", "maybe", "no"]


@lru_cache(maxsize=256)
def rule_words(spec: str) -> tuple[tuple[str, ...], bool]:
    """`git status:*` -> (("git", "status"), True): the words a rule names, and whether it is a prefix."""
    is_prefix = spec.endswith(":*")
    body = spec[:-2] if is_prefix else spec
    script = parse_shell(body)
    if len(script.commands) == 1 and not script.problems:
        words = script.commands[0].words
        if None not in words:
            return tuple(w for w in words if w is not None), is_prefix
    return tuple(body.split()), is_prefix


def covering_spec(specs: Sequence[str], command: str) -> str | None:
    """The first specifier that lets the command run, if each of its simple commands is covered."""
    if command.strip() in specs and not command.strip().endswith(":*"):  # a rule written for this very text
        return command.strip()
    script = parse_shell(command)
    if script.problems or not script.commands or executed(command).unclear:  # e.g. printf -v 'a[$(x)]'
        return None
    first: str | None = None
    for simple in script.commands:
        spec = next((s for s in specs if _covers(s, simple.words)), None)
        if spec is None:
            return None
        first = first or spec
    return first


def _covers(spec: str, words: Words) -> bool:
    rule, is_prefix = rule_words(spec)
    head = words[: len(rule)]
    if not rule or None in head:
        return False
    return head == rule and never_covered(rule, words) is None if is_prefix else words == rule


def rule_match(spec: str, command: str, git_aliases: AliasLookup | None = None,
               programs: ProgramFiles | None = None) -> Match:
    """Whether a deny or ask rule names something the command would run. `git_aliases` reads aliases
    from the real git configuration (without it, an unknown git subcommand is "maybe"); `programs`
    finds copies of the rule's program under other names on PATH."""
    rule, is_prefix = rule_words(spec)
    ran = executed(command)
    commands, unknown = expand_aliases(ran.commands, git_aliases, _commands_and_doubt)
    if programs is not None and rule:
        copies, not_yet = programs.copies(_program(rule[0]), commands)
        commands, unknown = [*commands, *copies], unknown or (not_yet and "a program that does not exist yet")
    verdicts = {_match_words(rule, is_prefix, words) for words in commands}
    if "yes" in verdicts:
        return "yes"
    return "maybe" if "maybe" in verdicts or ran.unclear or ran.opaque or unknown else "no"


def only_code_doubt(command: str, git_aliases: AliasLookup | None) -> bool:
    """Whether all that keeps a deny rule from being ruled out is code the command runs (`make`,
    `python3 -c`), not words or aliases known only at run time: an allow rule naming the program
    then speaks for it."""
    ran = executed(command)
    return not ran.unclear and not expand_aliases(ran.commands, git_aliases, _commands_and_doubt)[1]


def _commands_and_doubt(source: str) -> tuple[tuple[Words, ...], str | None]:
    ran = executed(source)
    return ran.commands, ran.unclear or ran.opaque


def _match_words(rule: tuple[str, ...], is_prefix: bool, words: Words) -> Match:
    if not rule:
        return "no"
    if len(words) < len(rule) or (not is_prefix and len(words) != len(rule)):
        return "maybe" if None in words else "no"  # a glob or brace word may become several
    verdict: Match = "yes"
    for i, (expected, word) in enumerate(zip(rule, words, strict=False)):
        if word is None:
            verdict = "maybe"
        elif (_program(word) != _program(expected)) if i == 0 else word != expected:
            return "no"
    return verdict


def _program(word: str) -> str:
    return word.rstrip("/").rsplit("/", 1)[-1].casefold()


def why_unclear(command: str) -> str:
    """Why a deny rule could not be ruled out, for the user."""
    ran = executed(command)
    return ran.unclear or ran.opaque or "some of its words or git aliases are known only at run time"


def not_plain_note(command: str) -> str:
    """Why no prefix rule can allow the command, as a sentence to append; empty when one could."""
    problems = parse_shell(command).problems
    return f" No prefix rule such as Bash(cmd:*) can cover it ({problems[0]})." if problems else ""


def suggest_bash_rule(command: str) -> str | None:
    """The narrowest useful rule for "don't ask again" (see rule_suggestion); None: offer none."""
    return rule_suggestion.suggest_bash_rule(command, covers=lambda spec, text: covering_spec([spec], text) is not None)
