"""A session-only CronCreate in a kept-open `--input-format stream-json` session fires there, as Claude
Code 2.1.328 did (tests/data/claude_code/F_cronfire: CronCreate "* * * * *" session-only, then each fire a
system/init, assistant and result line under the same session id)."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from fake_api import child_env, text_reply, tool_reply

from agent.cli.headless import HeadlessRun
from agent.cli.stream_input import serve_stream_input
from agent.cli.stream_json import OutputWriter
from agent.engine.session import AgentSession, SessionOptions
from agent.settings import load_settings

DATA = Path(__file__).parent / "data" / "claude_code" / "F_cronfire" / "claude.stream-json.jsonl"


def kinds(lines: list[dict]) -> list[str]:
    return [f"{m['type']}/{m.get('subtype', '')}" for m in lines if m["type"] != "command_lifecycle"]


async def test_a_session_task_created_in_a_stream_json_session_fires_in_it(fake_api, tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", fake_api.base_url)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    project = tmp_path / "project"
    project.mkdir()
    fake_api.script(tool_reply(("CronCreate", {"cron": "* * * * *", "prompt": "fire check", "recurring": True})),
                    text_reply("Scheduled."))
    fake_api.when(lambda r: "fire check" in r.turn_prompt(), text_reply("Fired."))
    options = SessionOptions(headless=True, kept_open=True)
    session = AgentSession(project, options, settings=load_settings(project, [], trusted=True))
    out = io.StringIO()
    writer = OutputWriter("stream-json", "215c9248-092b-4cd9-b0b0-8d9ff3e2274b", out=out)
    run = HeadlessRun(session, writer)
    read_fd, write_fd = os.pipe()
    stdin = os.fdopen(read_fd, "r")
    offset = {"ms": 0}
    clock = lambda: int(time.time() * 1000) + offset["ms"]  # noqa: E731
    serving = asyncio.ensure_future(serve_stream_input(run, stdin, clock=clock))
    os.write(write_fd, (json.dumps({"type": "user", "message": {"role": "user", "content": "schedule it"}}) + "\n")
             .encode())
    for _ in range(300):
        await asyncio.sleep(0.05)
        if '"Scheduled."' in out.getvalue() and '"result"' in out.getvalue().split('"Scheduled."')[-1]:
            break
    [task] = session.cron.list()
    assert not task.durable
    offset["ms"] = 3 * 60_000  # the scheduler's clock runs ahead: the task is due
    for _ in range(300):
        await asyncio.sleep(0.05)
        if '"result": "Fired."' in out.getvalue() or '"result":"Fired."' in out.getvalue():
            break
    os.close(write_fd)
    assert await asyncio.wait_for(serving, 30) == 0
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    recorded = [json.loads(x) for x in DATA.read_text().splitlines()]
    ours, theirs = kinds(lines), kinds(recorded)
    first_fire = theirs.index("result/success") + 1
    assert ours[:first_fire + 3] == theirs[:first_fire + 3]  # the creating turn, then one fire
    assert [m["result"] for m in lines if m["type"] == "result"][:2] == ["Scheduled.", "Fired."]
    assert len({m["session_id"] for m in lines}) == 1


def test_stream_json_input_keeps_session_tasks_where_p_refuses_them(fake_api, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    create = tool_reply(("CronCreate", {"cron": "* * * * *", "prompt": "fire check", "recurring": True}))
    fake_api.script(create, text_reply("Scheduled."), create, text_reply("no"))
    env = child_env(fake_api, home=tmp_path / "home")
    line = json.dumps({"type": "user", "message": {"role": "user", "content": "schedule it"}}) + "\n"
    subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "--input-format", "stream-json",
                    "--output-format", "stream-json"], env=env, input=line, capture_output=True, text=True,
                   timeout=120, check=True)
    subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "schedule it"], env=env,
                   capture_output=True, text=True, timeout=120)
    kept_open, one_shot = fake_api.requests[1].tool_results()[0], fake_api.requests[3].tool_results()[0]
    assert not kept_open.get("is_error")
    assert one_shot.get("is_error") and "one-shot headless run" in json.dumps(one_shot)
