"""The saved-session picker of `agent -r` and `/resume`: an arrow-key list with type-to-filter.

    Resume a session (↑↓ Enter · type to filter · Tab: also -p and scheduled runs · Esc: none)
    filter: deploy
    ❯ check the deploy and report                     2h ago   4.1 KB  3f9a12c0
      /check deploy-notes                             1d ago   1.2 KB  77ab01de

Chat sessions only by default; Tab shows `agent -p` runs and scheduled runs too. Each row shows what
the user first typed (`/check foo`, never its expansion or the scheduler's wrapper). `PickerState` is
the pure part (keys in, rows and a choice out); `pick_session` runs it as a small prompt_toolkit
application, inline (not full screen), erased when done.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent.engine.transcript import SessionInfo, describe_age, describe_size

if TYPE_CHECKING:
    from prompt_toolkit.key_binding import KeyPressEvent

__all__ = ["PickerState", "pick_session", "pick_session_async"]

Fragments = list[tuple[str, str]]
VISIBLE_ROWS = 12
KIND_MARK = {"print": "-p", "scheduled": "⏰"}


@dataclass
class PickerState:
    sessions: list[SessionInfo]
    show_all: bool = False
    query: str = ""
    cursor: int = 0
    top: int = 0
    now: float | None = None
    rows_shown: int = VISIBLE_ROWS
    _shown: list[SessionInfo] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        self._refilter()

    @property
    def shown(self) -> list[SessionInfo]:
        return self._shown

    def _refilter(self) -> None:
        words = self.query.lower().split()
        self._shown = [s for s in self.sessions if (self.show_all or s.kind == "chat")
                       and all(w in f"{s.first_prompt} {s.session_id}".lower() for w in words)]
        self.cursor = min(self.cursor, max(0, len(self._shown) - 1))
        self._scroll()

    def _scroll(self) -> None:
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + self.rows_shown:
            self.top = self.cursor - self.rows_shown + 1

    def key(self, name: str) -> bool | None:
        """One key; True: chosen (Enter on a row), False: cancelled, None: still picking."""
        if name == "enter":
            return True if self._shown else None
        if name in ("escape", "c-c"):
            return False
        if name in ("up", "down", "pageup", "pagedown"):
            step = {"up": -1, "down": 1, "pageup": -self.rows_shown, "pagedown": self.rows_shown}[name]
            self.cursor = max(0, min(len(self._shown) - 1, self.cursor + step))
            self._scroll()
        elif name == "tab":
            self.show_all = not self.show_all
            self._refilter()
        elif name == "backspace":
            self.query = self.query[:-1]
            self._refilter()
        elif len(name) == 1 and name.isprintable():
            self.query += name
            self.cursor = 0
            self._refilter()
        return None

    @property
    def chosen(self) -> SessionInfo | None:
        return self._shown[self.cursor] if self._shown else None

    def fragments(self, width: int) -> Fragments:
        which = "all sessions" if self.show_all else "chat sessions"
        toggle = "Tab: chats only" if self.show_all else "Tab: also -p and scheduled runs"
        out: Fragments = [("bold", f"Resume a session ({which})\n"),
                          ("fg:ansibrightblack", f"↑↓ Enter · type to filter · {toggle} · Esc: none\n")]
        out.append(("", f"filter: {self.query}\n") if self.query else ("fg:ansibrightblack", "filter: (type)\n"))
        if not self._shown:
            hidden = "" if self.show_all else " (Tab shows -p and scheduled runs too)"
            return [*out, ("fg:ansiyellow", f"  no session matches{hidden}\n")]
        for index in range(self.top, min(len(self._shown), self.top + self.rows_shown)):
            chosen = index == self.cursor
            out.append(("fg:ansicyan bold" if chosen else "", self._row(self._shown[index], chosen, width) + "\n"))
        if len(self._shown) > self.rows_shown:
            out.append(("fg:ansibrightblack", f"  {self.cursor + 1} of {len(self._shown)}\n"))
        return out

    def _row(self, info: SessionInfo, chosen: bool, width: int) -> str:
        tail = (f"  {describe_age(info.modified, self.now):>8}  {describe_size(info.size):>8}  "
                f"{info.session_id[:8]}")
        mark = KIND_MARK.get(info.kind, "")
        prompt = f"{mark} " * bool(mark) + (info.first_prompt or "(no prompt yet)")
        room = max(10, width - len(tail) - 3)
        prompt = prompt if len(prompt) <= room else prompt[:room - 1] + "…"
        return f"{'❯' if chosen else ' '} {prompt:<{room}}{tail}"


def _application(state: PickerState) -> Any:
    from prompt_toolkit.application import Application
    from prompt_toolkit.application.current import get_app
    from prompt_toolkit.key_binding import KeyBindings
    from prompt_toolkit.layout import Layout, Window
    from prompt_toolkit.layout.controls import FormattedTextControl

    kb = KeyBindings()

    def handle(event: KeyPressEvent) -> None:
        key = event.key_sequence[0]
        name = getattr(key.key, "value", key.key)
        name = {"c-m": "enter", "c-j": "enter", "c-h": "backspace", "c-i": "tab", "s-tab": "tab"}.get(name, name)
        result = state.key(name)
        if result is not None:
            event.app.exit(result=result)

    for key in ("up", "down", "pageup", "pagedown", "enter", "escape", "c-c", "backspace", "tab", "s-tab", "<any>"):
        kb.add(key, eager=key == "escape")(handle)
    control = FormattedTextControl(lambda: state.fragments(get_app().output.get_size().columns), focusable=True,
                                   show_cursor=False)
    return Application(layout=Layout(Window(control, dont_extend_height=True)), key_bindings=kb,
                       full_screen=False, erase_when_done=True)


def pick_session(sessions: list[SessionInfo]) -> SessionInfo | None:
    """Before the chat starts (`agent -r`): the chosen session, or None."""
    state = PickerState(sessions)
    return state.chosen if _application(state).run() else None


async def pick_session_async(sessions: list[SessionInfo]) -> SessionInfo | None:
    """Inside the running chat (`/resume`): the prompt steps aside while the list is up."""
    from prompt_toolkit.application import in_terminal

    state = PickerState(sessions)
    async with in_terminal():
        chosen = await _application(state).run_async()
    return state.chosen if chosen else None
