"""Claude Code's keys at the prompt: Esc interrupts a running turn, Shift-Tab cycles the permission mode.

Esc is also the first key of Esc Enter (a new line) and of the emacs Meta keys, so prompt_toolkit waits
after a lone Esc to see whether another key follows: `ttimeoutlen` for the terminal to finish an escape
sequence, then `timeoutlen` for a key sequence. Their defaults (0.5 s and 1 s) make Esc feel dead, so
both are shortened; Alt-Enter and the arrow keys arrive as one burst and still parse as before.

Nothing here is bound while a permission question is up: the question owns its keys then.
This module imports only prompt_toolkit: it is on the path to the first prompt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from prompt_toolkit.filters import Condition, Filter, has_completions

if TYPE_CHECKING:
    from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent

    from agent.repl.render import Renderer

ESCAPE_SEQUENCE_WAIT_S = 0.1  # the terminal sends an escape sequence in one burst (slow links: a few)
KEY_SEQUENCE_WAIT_S = 0.3  # after a lone Esc: is it Esc Enter? (Alt-Enter arrives as one burst)

# Shift-Tab's cycle, as in Claude Code. bypassPermissions is never reached this way.
MODE_CYCLE = ("default", "acceptEdits", "plan")
MODE_INDICATORS = {
    "acceptEdits": "⏵⏵ accept edits on",
    "plan": "⏸ plan mode on",
    "bypassPermissions": "⏵⏵ bypass permissions on",
}
CYCLE_HINT = "(shift+tab to cycle)"


class KeyHost(Protocol):
    """What these keys need from the chat (`agent.repl.app.Repl`)."""

    renderer: Renderer

    @property
    def turn_running(self) -> bool: ...

    def interrupt(self) -> None: ...

    def permission_mode(self) -> str | None: ...

    def set_permission_mode(self, mode: str) -> bool: ...


def next_mode(mode: str) -> str:
    """default -> acceptEdits -> plan -> default; any other mode (bypassPermissions) goes to default."""
    if mode not in MODE_CYCLE:
        return MODE_CYCLE[0]
    return MODE_CYCLE[(MODE_CYCLE.index(mode) + 1) % len(MODE_CYCLE)]


def mode_indicator(mode: str | None) -> str:
    """`⏵⏵ accept edits on` for a mode worth showing; "" for the default mode (or none yet)."""
    return MODE_INDICATORS.get(mode or "default", "")


def mode_changed_line(mode: str) -> str:
    """The transcript line after Shift-Tab: `⏵⏵ accept edits on (shift+tab to cycle)`."""
    return f"{mode_indicator(mode) or 'default mode: edits and commands ask first'} {CYCLE_HINT}"


def cycle_permission_mode(host: KeyHost) -> str | None:
    """Move to the next mode and say so; None (and a note) while the session is still loading."""
    current = host.permission_mode()
    if current is None:
        host.renderer.info("Starting up… the permission mode can change in a moment.")
        return None
    mode = next_mode(current)
    if not host.set_permission_mode(mode):
        return None
    host.renderer.info(mode_changed_line(mode))
    return mode


def set_key_timeouts(app: Any) -> None:
    """So that a lone Esc is taken as Esc within about a third of a second."""
    app.ttimeoutlen = ESCAPE_SEQUENCE_WAIT_S
    app.timeoutlen = KEY_SEQUENCE_WAIT_S


def add_chat_keys(kb: KeyBindings, host: KeyHost, question_up: Filter) -> None:
    """Esc (interrupt) and Shift-Tab (permission mode), both off while a question is up."""
    turn_running = Condition(lambda: host.turn_running)

    @kb.add("escape", filter=~question_up & turn_running)
    def _interrupt(event: KeyPressEvent) -> None:
        host.interrupt()

    # With the completion menu open, Shift-Tab keeps moving back through it (prompt_toolkit's binding).
    @kb.add("s-tab", filter=~question_up & ~has_completions)
    def _cycle_mode(event: KeyPressEvent) -> None:
        cycle_permission_mode(host)
        event.app.invalidate()


__all__ = [
    "MODE_CYCLE",
    "KeyHost",
    "add_chat_keys",
    "cycle_permission_mode",
    "mode_changed_line",
    "mode_indicator",
    "next_mode",
    "set_key_timeouts",
]
