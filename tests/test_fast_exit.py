"""One-shot commands (`agent -p`, `agent cron ...`) end the process without the interpreter's teardown
(`agent.cli.main.entry`), and nothing they wrote is lost by that."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from fake_api import FakeAnthropic, child_env, text_reply, tool_reply


def run_agent(api: FakeAnthropic, project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), *args], input="",
                          capture_output=True, text=True, timeout=60,
                          env=child_env(api, home=project.parent / "home"))


def test_a_tool_run_leaves_its_files_complete_and_prints_a_long_answer_whole(fake_api, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    body = "".join(f"line {i}\n" for i in range(5000))
    answer = "".join(f"answer line {i:05d} " + "x" * 60 + "\n" for i in range(4000))  # ~300 KB through a pipe
    fake_api.script(
        tool_reply(("Write", {"file_path": "out.txt", "content": body}),
                   ("CronCreate", {"cron": "0 9 * * 1-5", "prompt": "standup notes", "durable": True})),
        text_reply(answer),
    )
    done = run_agent(fake_api, project, "-p", "write it and schedule it", "--allowedTools", "Write")
    assert done.returncode == 0, done.stderr
    assert done.stdout == answer + "\n"
    assert (project / "out.txt").read_text() == body
    tasks = json.loads((project / ".claude" / "scheduled_tasks.json").read_text())["tasks"]
    assert [t["prompt"] for t in tasks] == ["standup notes"]


def test_json_output_is_whole_and_the_exit_status_kept_on_failure(fake_api, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    done = subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "hi",
                           "--output-format", "json"], input="", capture_output=True, text=True, timeout=60,
                          env={**child_env(fake_api, home=tmp_path / "home"), "ANTHROPIC_API_KEY": "",
                               "ANTHROPIC_AUTH_TOKEN": ""})
    assert done.returncode == 1
    assert "ANTHROPIC_API_KEY" in done.stderr


def test_cron_commands_print_everything_before_the_quick_exit(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    added = subprocess.run([sys.executable, "-m", "agent", "cron", "add", "--cwd", str(project), "--cron",
                            "*/5 * * * *", "--prompt", "check the deploy"], capture_output=True, text=True,
                           timeout=60)
    assert added.returncode == 0, added.stderr
    listed = subprocess.run([sys.executable, "-m", "agent", "cron", "list", "--json", "--cwd", str(project)],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0
    assert [t["prompt"] for t in json.loads(listed.stdout)] == ["check the deploy"]
    nexts = subprocess.run([sys.executable, "-m", "agent", "cron", "next", "0 9 * * *", "--count", "400"],
                           capture_output=True, text=True, timeout=60)
    assert nexts.returncode == 0 and len(nexts.stdout.splitlines()) == 401
