"""The security boundary in one place: whether a tool call may run. `rules` parses Claude Code's
permission rules and modes; `policy` answers allow / deny / ask for each call (PermissionPolicy), with a
call matched against the rules in `matching` and file paths in `path_rules`; `shell_parse` reads a
Bash command as bash would run it (tree-sitter-bash) and `shell_wrappers` looks through what merely
wraps another program (env, sudo, bash -c ..., with the tables in `runners` and `git_commands`);
`bash_policy` matches Bash rules on that parse and fails closed (`option_families`: what a prefix rule
never covers; `program_files`: copies of a denied program); `protected` and `bash_writes` name the paths
a write always asks for; `read_denied` and `hard_links` keep Read-denied files unread by any tool;
`answers` is what the person said. It
imports nothing from the conversation, the model client, the faces or the scheduler: the engine asks it,
and the tools receive its verdicts through the context they are handed. The re-exports are lazy (PEP
562): the parser and pydantic load only when a decision is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import lazy_exports

_EXPORTS = {
    "PermissionPolicy": "policy",
    "PermissionMode": "rules",
    "PermissionConfigError": "rules",
    "Decision": "rules",
    "Rule": "rules",
    "parse_rule": "rules",
    "parse_rules": "rules",
    "PermissionAnswer": "answers",
    "USER_DECLINED": "answers",
    "NO_ANSWER": "answers",
    "is_protected": "protected",
    "parse_shell": "shell_parse",
    "suggest_bash_rule": "bash_policy",
    "rule_match": "bash_policy",
}

__all__ = [
    "NO_ANSWER",
    "USER_DECLINED",
    "Decision",
    "PermissionAnswer",
    "PermissionConfigError",
    "PermissionMode",
    "PermissionPolicy",
    "Rule",
    "is_protected",
    "parse_rule",
    "parse_rules",
    "parse_shell",
    "rule_match",
    "suggest_bash_rule",
]

if TYPE_CHECKING:
    from agent.permissions.answers import NO_ANSWER, USER_DECLINED, PermissionAnswer
    from agent.permissions.bash_policy import rule_match, suggest_bash_rule
    from agent.permissions.policy import PermissionPolicy
    from agent.permissions.protected import is_protected
    from agent.permissions.rules import (
        Decision,
        PermissionConfigError,
        PermissionMode,
        Rule,
        parse_rule,
        parse_rules,
    )
    from agent.permissions.shell_parse import parse_shell

__getattr__ = lazy_exports(__name__, _EXPORTS)
