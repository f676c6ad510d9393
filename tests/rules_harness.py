"""Running a tool call through the real gate: the fake API asks for it, the real PermissionPolicy
decides, the real tool runs only if allowed (real bash in a temp project), and the test reads what the
model got back. Headless (`asker=None`, as `agent -p`) and chat (an asker that records the question
and says no) are both covered.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fake_api import FakeAnthropic, ToolCall, text_reply, tool_reply

from agent.engine.conversation import Conversation
from agent.engine.llm import LLM
from agent.permissions.policy import PermissionPolicy
from agent.tools.base import ToolContext, ToolRegistry
from agent.tools.registry import default_tools


@dataclass
class GatedRun:
    result: str  # the tool result the model received
    is_error: bool
    questions: list[Any] = field(default_factory=list)  # decisions the chat asked about
    events: list[Any] = field(default_factory=list)


async def gated_call(fake_api: FakeAnthropic, policy: PermissionPolicy, tool: str, args: dict[str, Any], *,
                     chat: bool = False, answer: bool = False) -> GatedRun:
    """One model turn that makes one tool call, judged by `policy`; in the chat the asker answers `answer`."""
    questions: list[Any] = []
    events: list[Any] = []

    async def asker(tool_obj: Any, raw: Any, decision: Any) -> bool:
        questions.append(decision)
        return answer

    async def no_sleep(seconds: float) -> None:
        pass

    fake_api.script(tool_reply(ToolCall(tool, args, id="toolu_gate")), text_reply("done"))
    llm = LLM(api_key="test-key", base_url=fake_api.base_url, sleep=no_sleep)
    ctx = ToolContext(project_dir=policy.project_dir, search_filter=policy.search_filter,
                      read_denied=policy.read_denied)
    try:
        conversation = Conversation(llm, ToolRegistry(default_tools()), ctx, policy, system_prompt="test",
                                    asker=asker if chat else None, emit=events.append)
        await conversation.run_turn("go")
    finally:
        await llm.aclose()
    block = fake_api.requests[-1].tool_results()[0]
    text = fake_api.requests[-1].tool_result_texts()[0]
    return GatedRun(text, bool(block.get("is_error")), questions, events)


def run_bash(command: str, cwd: Path, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    """The command run directly by bash, no policy: proof that the attack is real."""
    return subprocess.run(["bash", "-c", command], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout, check=False)


def git(*args: str, cwd: Path) -> str:
    env_args = ["-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "init.defaultBranch=main",
                "-c", "commit.gpgsign=false"]
    done = subprocess.run(["git", *env_args, *args], cwd=cwd, capture_output=True, text=True, check=True,
                          stdin=subprocess.DEVNULL)
    return done.stdout.strip()


def repo_with_remote(root: Path) -> tuple[Path, Path]:
    """A bare local remote and a clone of it whose `main` is one commit ahead (nothing pushed yet)."""
    remote, work = root / "remote.git", root / "work"
    root.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "--bare", str(remote), cwd=root)
    git("init", "-q", str(work), cwd=root)
    (work / "f").write_text("one\n")
    git("add", "f", cwd=work)
    git("commit", "-qm", "one", cwd=work)
    git("remote", "add", "origin", str(remote), cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    (work / "f").write_text("two\n")
    git("commit", "-qam", "two", cwd=work)
    return remote, work


def remote_head(remote: Path) -> str:
    return git("rev-parse", "refs/heads/main", cwd=remote)


def installed(program: str) -> bool:
    return shutil.which(program) is not None
