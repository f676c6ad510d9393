"""The chat: the application (`app`), its prompt line (`prompt`), start-up (`startup`), the renderer
(`render`) and the slash commands (`commands`)."""

from agent.repl.app import Repl, run_repl

__all__ = ["Repl", "run_repl"]
