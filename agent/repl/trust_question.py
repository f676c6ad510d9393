"""The chat's "Do you trust the files in this folder?" question, asked before the session is built.

Asked only when the folder is untrusted and its own settings files set something the trust gate holds
back (`agent.settings.gate`): a folder with nothing to gate has nothing to decide. "Trust" remembers
the folder in the user's trust store, so the session is then built with the trusted view; "No" (or Esc)
carries on with those keys ignored and asks again next time. The menu is the permission question's
(`agent.repl.question`), so typing cannot answer it by accident.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from agent.repl.question import Option

if TYPE_CHECKING:
    from agent.repl.question import QuestionBox
    from agent.repl.render import Renderer

__all__ = ["TRUST_TITLE", "ask_workspace_trust", "trust_options", "trust_row"]

TRUST_TITLE = "Do you trust the files in this folder?"


def trust_options() -> list[Option]:
    return [Option("trust", "Yes, trust this folder (and the folders below it)"),
            Option("no", "No, continue without those settings (asked again next time)")]


def _body(ignored: list[str]) -> str:
    return ("  agent may read, write or run what is in this folder. Its .claude settings ask for what only a\n"
            "  trusted folder gets (a program to run, where your key goes, wider permissions):\n"
            f"    {', '.join(ignored)}\n")


async def ask_workspace_trust(project: Path, questions: QuestionBox, renderer: Renderer) -> None:
    """Ask, when there is something to ask about; remember "trust". Never raises for a user's answer."""
    from agent.settings import SettingsError, load_settings
    from agent.settings.gate import trust_command
    from agent.settings.trust import TrustError, trust_store

    try:
        settings = await asyncio.to_thread(load_settings, project)
    except SettingsError:
        return  # the session's own start-up reports the file
    if settings.trusted or not settings.ignored:
        return
    ignored = ", ".join(settings.ignored)
    if os.path.realpath(project) == os.path.realpath(Path.home()):
        renderer.warn(f"Your home folder is never trusted as a whole, so its project settings are ignored: "
                      f"{ignored}. Start agent in a project folder to use them.")
        return
    choice = await questions.ask(TRUST_TITLE, trust_options(), detail=str(project), body=_body(settings.ignored))
    if choice is not None and choice.answer == "trust":
        try:
            real = await asyncio.to_thread(trust_store().trust, project, Path.home())
        except (TrustError, OSError) as exc:
            renderer.error(f"Could not trust {project}: {exc}. Continuing without: {ignored}.")
            return
        renderer.info(f"Trusted {real}: its settings apply (agent trust --revoke undoes this).")
        return
    renderer.warn(f"Not trusted: ignoring {ignored}. You will be asked again next time; "
                  f"`{trust_command(project)}` trusts it from a shell.")


def trust_row(project: Path, trusted: bool, ignored: list[str]) -> str:
    """/status: whether this folder is trusted, through which folder, and what is ignored meanwhile."""
    from agent.settings.gate import trust_command
    from agent.settings.trust import trust_store

    if trusted:
        covering = trust_store().covering(project)
        through = f" (through {covering})" if covering is not None and covering != Path(os.path.realpath(project)) \
            else ""
        return f"trusted{through}"
    if not ignored:
        return "not trusted (its settings files set nothing that needs trust)"
    return f"not trusted: ignoring {', '.join(ignored)} ({trust_command(project)} trusts it)"
