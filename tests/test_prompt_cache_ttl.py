"""Scheduled fires pay for the cache they use: a conversation with a recurring task every 5 to 60 minutes
asks for 1-hour breakpoints (all of them: the API refuses a 1h one after a 5m one), others keep 5 minutes."""

from __future__ import annotations

import json
import time
from pathlib import Path

from fake_api import text_reply, validate_messages_request
from sched_helpers import due_hourly
from test_daemon_e2e import read_until, stop, write_tasks
from test_daemon_history_e2e import daemon

from agent.cron.policy import prompt_cache_ttl
from agent.cron.task import CronTask
from agent.engine.llm import LLM
from agent.engine.session import AgentSession, SessionOptions

MIN = 60_000


def controls(params: dict) -> list[dict]:
    blocks = [*params.get("tools", []), *params.get("system", [])]
    for message in params["messages"]:
        if isinstance(message["content"], list):
            blocks += message["content"]
    return [b["cache_control"] for b in blocks if "cache_control" in b]


def test_only_intervals_between_5_and_60_minutes_ask_for_an_hour():
    assert prompt_cache_ttl([10 * MIN]) == "1h" and prompt_cache_ttl([59 * MIN]) == "1h"
    assert prompt_cache_ttl([5 * MIN]) is None  # each fire keeps the 5-minute cache warm itself
    assert prompt_cache_ttl([60 * MIN, 24 * 60 * MIN, None]) is None
    assert prompt_cache_ttl([]) is None


def test_with_1h_every_breakpoint_carries_it_and_the_default_request_is_unchanged():
    llm = LLM(model="claude-sonnet-4-6", api_key="k")
    messages = [{"role": "user", "content": "hello"}]
    tools = [{"name": "Read", "input_schema": {"type": "object"}}]
    default = llm.request_params("system", messages, tools)
    assert controls(default) == [{"type": "ephemeral"}] * 3
    hour = llm.request_params("system", messages, tools, cache_ttl="1h")
    assert controls(hour) == [{"type": "ephemeral", "ttl": "1h"}] * 3
    assert validate_messages_request({**hour, "messages": hour["messages"]}) is None


def test_the_fake_api_refuses_a_1h_breakpoint_after_a_5m_one_as_the_api_does():
    body = {"model": "m", "max_tokens": 5, "tools": [{"name": "T", "input_schema": {}, "cache_control":
            {"type": "ephemeral"}}], "messages": [{"role": "user", "content": [
                {"type": "text", "text": "x", "cache_control": {"type": "ephemeral", "ttl": "1h"}}]}]}
    assert "must not come after" in validate_messages_request(body)


def test_a_session_with_a_10_minute_loop_asks_for_an_hour_and_one_every_2_minutes_does_not(tmp_path: Path):
    (tmp_path / ".claude").mkdir()
    session = AgentSession(tmp_path, SessionOptions())
    assert session.prompt_cache_ttl() is None
    now = int(time.time() * 1000)
    session.session_store.add(CronTask(id="aaaa0001", cron="*/2 * * * *", prompt="p", createdAt=now, recurring=True))
    assert session.prompt_cache_ttl() is None
    session.session_store.add(CronTask(id="aaaa0002", cron="*/10 * * * *", prompt="p", createdAt=now, recurring=True))
    assert session.prompt_cache_ttl() == "1h"
    session.session_store.remove(["aaaa0002"])
    assert session.prompt_cache_ttl() is None


def test_a_durable_task_counts_only_for_a_face_that_fires_durable_tasks(tmp_path: Path):
    now = int(time.time() * 1000)
    write_tasks(tmp_path, [{"id": "aaaa0003", "cron": "*/15 * * * *", "prompt": "p", "createdAt": now,
                            "recurring": True}])
    session = AgentSession(tmp_path, SessionOptions())
    assert session.prompt_cache_ttl() is None and session.prompt_cache_ttl(durable=True) == "1h"


def test_the_daemon_asks_for_an_hour_for_a_task_every_10_minutes(fake_api, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    # Fires 10 minutes apart, then 50: due now (its slot 10 minutes ago), and not again for 40 minutes, so
    # a second fire cannot join the one request asserted below (with */10 one could, 40 s past a turn of 10).
    schedule = due_hourly(int(time.time() * 1000))
    minute = int(schedule.pop("cron").split()[0])
    write_tasks(project, [{"id": "aaaa0004", "cron": f"{minute},{(minute + 10) % 60} * * * *", "prompt": "check",
                           **schedule}])
    fake_api.set_default(text_reply("fine"))
    proc = daemon(fake_api, project)
    try:
        read_until(proc, "task aaaa0004 done")
    finally:
        stop(proc)
    [request] = fake_api.requests
    assert controls(request.body) and all(c.get("ttl") == "1h" for c in controls(request.body))
    assert fake_api.validation_errors == []
    assert json.dumps(request.body).count('"ttl": "1h"') == len(controls(request.body))


def test_one_hour_cache_writes_are_priced_at_twice_the_input_price():
    from agent.engine.events import Usage
    from agent.engine.llm import cost_usd

    api_usage = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 1_000_000,
                 "cache_creation": {"ephemeral_1h_input_tokens": 1_000_000, "ephemeral_5m_input_tokens": 0}}
    one_hour = Usage.from_api(api_usage)
    assert one_hour.cache_write_1h_tokens == 1_000_000
    assert cost_usd(one_hour, "claude-sonnet-4-6") == 6.0  # $3 input x 2
    assert cost_usd(Usage(cache_write_tokens=1_000_000), "claude-sonnet-4-6") == 3.75  # x 1.25
