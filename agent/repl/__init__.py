"""The chat: the application (`app`), its prompt line (`prompt`), start-up (`startup`), the renderer
(`render`) and the slash commands (`commands`).

`Repl` and `run_repl` load on first use (PEP 562): `agent -p` asks `agent.repl.commands` for the chat's
command names and must not pay for prompt_toolkit to get them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.repl.app import Repl, run_repl

__all__ = ["Repl", "run_repl"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from agent.repl import app

        return getattr(app, name)
    raise AttributeError(f"module 'agent.repl' has no attribute {name!r}")
