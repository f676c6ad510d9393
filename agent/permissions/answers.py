"""What a person answered to a permission question, in the form the conversation needs.

An asker (the chat's question menu) may answer with a plain `bool` or with a `PermissionAnswer` that
carries more: what the user wants the model to do instead (`note`), or that nobody answered at all
(`unanswered`, a scheduled run with nobody at the terminal), or that the turn stops here (`stop`, a
plain "no" as Claude Code treats Esc: the model is not called again until the user types). The model is
told which, because "the user said no" and "nobody was there" call for different next steps.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NO_ANSWER", "USER_DECLINED", "PermissionAnswer"]

NO_ANSWER = "no answer (nobody was at the terminal)"
USER_DECLINED = ("The user declined this tool call, so it was not run. Do not retry it; ask the user how "
                 "to proceed if you need it.")
_NOTE_LEAD = "The user declined this tool call, so it was not run. The user says what to do instead:\n"
_UNANSWERED = ("Not run: this call needed permission and there was no answer (nobody was at the terminal). "
               "Do not retry it in this run; say in your answer that it needs approval.")


@dataclass(frozen=True)
class PermissionAnswer:
    allowed: bool
    note: str = ""  # with a refusal: what the user wants the model to do instead
    unanswered: bool = False  # nobody answered in time (counts as a refusal)
    stop: bool = False  # a plain "no" (Esc): the turn ends here and the model waits for the user's next words

    @classmethod
    def of(cls, value: bool | PermissionAnswer) -> PermissionAnswer:
        """Askers may still answer with a plain bool."""
        return value if isinstance(value, PermissionAnswer) else cls(bool(value))

    @property
    def reason(self) -> str:
        """Why the call was not run, for the PermissionDenied event and the run history."""
        if self.unanswered:
            return NO_ANSWER
        return f"declined by the user: {self.note}" if self.note else "declined by the user"

    @property
    def summary(self) -> str:
        return "no answer" if self.unanswered else "declined"

    def refusal_text(self) -> str:
        """The tool_result the model gets instead of the call's output."""
        if self.unanswered:
            return _UNANSWERED
        return _NOTE_LEAD + self.note if self.note else USER_DECLINED
