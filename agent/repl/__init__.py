"""The chat: the application (`app`, started by `launch`), its prompt line (`prompt`), start-up (`startup`),
the renderer (`render`) and the slash commands (`commands`).

`Repl` and `run_repl` load on first use (PEP 562): `agent -p` asks `agent.repl.commands` for the chat's
command names and must not pay for prompt_toolkit to get them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.repl.app import Repl
    from agent.repl.launch import run_repl

__all__ = ["Repl", "run_repl"]


def __getattr__(name: str) -> Any:
    if name == "Repl":
        from agent.repl import app

        return app.Repl
    if name == "run_repl":
        from agent.repl import launch

        return launch.run_repl
    raise AttributeError(f"module 'agent.repl' has no attribute {name!r}")
