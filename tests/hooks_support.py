"""A hook project for tests: one real Python hook script for every event, steered by a plan file.

The script appends each input it gets (plus what it saw of its environment) to `hooks.log` as JSON lines,
then does what `plan.json` says for `<event>` or `<event>:<tool>`: print `stdout`, print `stderr`, sleep
`sleep` seconds, exit with `exit` (default 0).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from agent.hooks.config import EVENTS

HOOK_SCRIPT = r'''
import json, os, sys, time
data = json.load(sys.stdin)
project = os.environ["CLAUDE_PROJECT_DIR"]
data["_env"] = {"CLAUDE_PROJECT_DIR": project, "has_api_key": "ANTHROPIC_API_KEY" in os.environ, "cwd": os.getcwd()}
with open(os.path.join(project, "hooks.log"), "a") as log:
    log.write(json.dumps(data) + "\n")
plan = json.load(open(os.path.join(project, "plan.json")))
event = data["hook_event_name"]
step = plan.get(event + ":" + str(data.get("tool_name", ""))) or plan.get(event) or {}
if step.get("once") and data.get("stop_hook_active"):
    step = {}
time.sleep(step.get("sleep", 0))
out = step.get("stdout", "")
sys.stdout.write(out if isinstance(out, str) else json.dumps(out))
sys.stderr.write(step.get("stderr", ""))
sys.exit(step.get("exit", 0))
'''


def hooks_block(command: str, events: tuple[str, ...] = EVENTS, timeout: float | None = None) -> dict[str, Any]:
    hook: dict[str, Any] = {"type": "command", "command": command}
    if timeout is not None:
        hook["timeout"] = timeout
    return {event: [{"matcher": "*", "hooks": [hook]}] for event in events}


def make_hook_project(project: Path, plan: dict[str, Any] | None = None) -> str:
    """Write the hook script and plan into `project`; the command that runs the script."""
    project.mkdir(parents=True, exist_ok=True)
    (project / "hook.py").write_text(HOOK_SCRIPT)
    (project / "plan.json").write_text(json.dumps(plan or {}))
    return f'{sys.executable} "$CLAUDE_PROJECT_DIR/hook.py"'


def hook_log(project: Path) -> list[dict[str, Any]]:
    path = project / "hooks.log"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def events_of(project: Path) -> list[str]:
    return [entry["hook_event_name"] for entry in hook_log(project)]
