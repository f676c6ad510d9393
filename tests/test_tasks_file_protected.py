"""Issue 19, item 3: `.claude/scheduled_tasks.json` (and its locks) are protected like the settings files.

A run that wrote tasks into the file itself would side-step `cron.maxDurablePerRun` and the CronCreate
rule for scheduled runs. Each write below goes through the real gate headless (as a scheduled run or
`agent -p` does) with everything allowed (`Bash`, `Edit`, bypassPermissions), and the file must be
byte-for-byte unchanged; the same command run directly proves the write was real.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rules_harness import gated_call, run_bash

from agent.permissions.policy import PermissionPolicy
from agent.tools.bash import BashTool

ORIGINAL = '{"tasks": []}\n'
EVIL = {"tasks": [{"id": f"{i:08x}", "cron": "* * * * *", "prompt": "spend", "createdAt": 0, "recurring": True}
                  for i in range(5)]}

BASH_WRITES = [
    "echo '{\"tasks\": [{\"id\": \"deadbeef\"}]}' > .claude/scheduled_tasks.json",
    "cat evil.json > .claude/scheduled_tasks.json",
    "cat evil.json >> .claude/scheduled_tasks.json",
    "cp evil.json .claude/scheduled_tasks.json",
    "cp evil/scheduled_tasks.json .claude/",
    "mv evil.json .claude/scheduled_tasks.json",
    "tee .claude/scheduled_tasks.json < evil.json",
    "cat evil.json | tee -a .claude/scheduled_tasks.json",
    "sed -i 's/\\[\\]/[{\"id\":\"deadbeef\"}]/' .claude/scheduled_tasks.json",
    "cd .claude && cp ../evil.json scheduled_tasks.json",
    "cp evil.json .cla\"\"ude/sched''uled_tasks.json",
    "cp evil.json .claude/scheduled_tasks\\.json",
    "bash -c 'cp evil.json .claude/scheduled_tasks.json'",
    "env X=1 cp evil.json .claude/scheduled_tasks.json",
    "python3 -c \"import shutil; shutil.copy('evil.json', '.claude/scheduled_tasks.json')\"",
    "dd if=evil.json of=.claude/scheduled_tasks.json status=none",
    "install -m 644 evil.json .claude/scheduled_tasks.json",
    "ln -sf ../evil.json .claude/scheduled_tasks.json",
    "truncate -s 0 .claude/scheduled_tasks.json",
    "rm .claude/scheduled_tasks.json",
    "perl -pi -e 's/\\[\\]/[1]/' .claude/scheduled_tasks.json",
    "printf '%s' \"$(cat evil.json)\" > .claude/scheduled_tasks.json",
    "find .claude -name scheduled_tasks.json -exec cp evil.json {} \\;",
    "echo '{}' > .claude/scheduled_tasks.lock",
    "echo '{\"permissions\": {\"allow\": [\"Bash\"]}}' > .claude/settings.local.json",
    "cp evil.json .claude/settings.json",
    "git log --output=.claude/settings.local.json",
    "cp evil.json .claude/sched*",
    "cp evil.json .cl*/scheduled_tasks.json",
    "tee .claude/{scheduled_tasks,x}.json < evil.json",
    "cp -r evil/.claude .",
    "rm -rf .claude",
    "mv .claude .c2 && mkdir .claude",
    "d=.claude; cp evil.json $d/scheduled_tasks.json",
]
READS = ["cat .claude/scheduled_tasks.json", "ls -la .claude", "jq . .claude/scheduled_tasks.json",
         "grep -c id .claude/scheduled_tasks.json", "wc -l .claude/scheduled_tasks.json 2>/dev/null", "git status"]
ALL_ALLOWED = [("default", ["Bash", "Edit", "Write"]), ("acceptEdits", ["Bash"]), ("bypassPermissions", [])]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / ".claude").mkdir(parents=True)
    (root / ".claude" / "scheduled_tasks.json").write_text(ORIGINAL)
    (root / "evil.json").write_text(json.dumps(EVIL))
    (root / "evil").mkdir()
    (root / "evil" / "scheduled_tasks.json").write_text(json.dumps(EVIL))
    (root / "evil" / ".claude").mkdir()
    (root / "evil" / ".claude" / "scheduled_tasks.json").write_text(json.dumps(EVIL))
    run_bash("git init -q .", root)
    return root


def snapshot(project: Path) -> dict[str, str | None]:
    names = ("scheduled_tasks.json", "scheduled_tasks.lock", "settings.json", "settings.local.json")
    return {n: (project / ".claude" / n).read_text() if (project / ".claude" / n).exists() else None for n in names}


@pytest.mark.parametrize("command", BASH_WRITES)
async def test_a_run_cannot_write_the_tasks_or_settings_files_through_bash(fake_api, project, command):
    before = snapshot(project)
    for mode, allow in ALL_ALLOWED:
        policy = PermissionPolicy(project, mode, allow=allow)
        decision = policy.check(BashTool(), {"command": command})
        assert decision.behavior == "ask", (mode, decision.reason)
        assert decision.suggested_rule is None  # no "don't ask again" for such a command
    run = await gated_call(fake_api, PermissionPolicy(project, "bypassPermissions"), "Bash", {"command": command})
    assert run.is_error and snapshot(project) == before
    run_bash(command, project)
    assert snapshot(project) != before, "the command did not write: the attack was not real"


@pytest.mark.parametrize("command", READS)
def test_reading_the_tasks_file_through_bash_is_not_a_protected_write(project, command):
    assert PermissionPolicy(project, allow=["Bash"]).check(BashTool(), {"command": command}).behavior == "allow"


@pytest.mark.parametrize(("tool", "args"), [
    ("Write", {"file_path": ".claude/scheduled_tasks.json", "content": json.dumps(EVIL)}),
    ("Edit", {"file_path": ".claude/scheduled_tasks.json", "old_string": "[]", "new_string": "[{}]"}),
    ("Write", {"file_path": ".claude/scheduled_tasks.json.lock", "content": "x"}),
    ("Write", {"file_path": "./.claude/../.claude/Scheduled_Tasks.json", "content": "{}"}),
])
async def test_a_run_cannot_write_the_tasks_file_with_edit_or_write(fake_api, project, tool, args):
    before = snapshot(project)
    for mode in ("acceptEdits", "bypassPermissions"):
        run = await gated_call(fake_api, PermissionPolicy(project, mode, allow=["Edit", "Write"]), tool, args)
        assert run.is_error and snapshot(project) == before
