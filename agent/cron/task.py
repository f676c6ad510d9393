"""A scheduled task as stored in `.claude/scheduled_tasks.json`, in Claude Code's format.

Files written by Claude Code must survive a round trip through us: fields we do not know are kept,
the keys of a task read from disk are written back in their original order, and an optional key that
was present in the source (say `"recurring": false`) is written back even at its default value.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr, field_validator

__all__ = ["MAX_EPOCH_MS", "CronTask", "new_task_id"]

_TASK_ID = re.compile(r"[0-9a-f]{8}")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# Optional fields and their defaults: written only when set, unless the source file had them.
_OPTIONAL = {"recurring": False, "lastFiredAt": None, "permanent": False}
# Durability is which store holds a task; the flag itself never reaches the file.
_NEVER_WRITTEN = frozenset({"durable"})
# Times must be usable as dates with years of room for the next fire: 1970 to the start of year 9000.
MAX_EPOCH_MS = 221_845_392_000_000


def new_task_id() -> str:
    """A fresh task id: the first 8 hex characters of a UUID4."""
    return uuid.uuid4().hex[:8]


class CronTask(BaseModel):
    """One scheduled prompt. Times are epoch milliseconds; `cron` is 5 fields in local time.

    Strict types, so a file value like `"recurring": "yes"` makes the entry malformed (kept on disk
    as it is) instead of being silently coerced and rewritten.
    """

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    id: str
    cron: str
    prompt: str
    createdAt: int
    recurring: bool = False
    lastFiredAt: int | None = None
    permanent: bool = False

    _source_keys: tuple[str, ...] = PrivateAttr(default=())
    # The upstream answers a chained fire hands to the model (agent.cron.chains): runtime only, never written.
    _upstream_runs: tuple[Any, ...] = PrivateAttr(default=())

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        if not _TASK_ID.fullmatch(value):
            raise ValueError("must be 8 lowercase hex characters")
        return value

    @field_validator("cron", "prompt")
    @classmethod
    def _check_text(cls, value: str) -> str:
        # A lone surrogate (a "\ud800" escape in the file) cannot be printed or sent to the model.
        if _LONE_SURROGATE.search(value):
            raise ValueError("contains a lone surrogate (an unpaired \\ud800-\\udfff escape), which is not text")
        return value

    @field_validator("createdAt", "lastFiredAt")
    @classmethod
    def _check_epoch_ms(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value < MAX_EPOCH_MS:
            raise ValueError(f"{_short(value)} is not a time in epoch milliseconds (0 to {MAX_EPOCH_MS - 1})")
        return value

    @classmethod
    def from_json_dict(cls, data: dict[str, Any]) -> CronTask:
        """Validate one file entry, remembering its key order (raises pydantic.ValidationError)."""
        task = cls.model_validate(data)
        task._source_keys = tuple(data)
        return task

    def __eq__(self, other: object) -> bool:
        # Compare the data only: where a task was read from (its source key order) is not identity.
        if not isinstance(other, CronTask):
            return NotImplemented
        return self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return hash((self.id, self.cron, self.prompt, self.createdAt))

    def with_last_fired(self, at_ms: int) -> CronTask:
        return self.model_copy(update={"lastFiredAt": at_ms})

    @property
    def upstream_runs(self) -> tuple[Any, ...]:
        return self._upstream_runs

    def with_upstream_runs(self, runs: Any) -> CronTask:
        """A copy that carries the upstream answers of this fire to the prompt."""
        copy = self.model_copy()
        copy._upstream_runs = tuple(runs)
        return copy

    def to_json_dict(self) -> dict[str, Any]:
        """The entry to write: source key order first, then any new keys in the standard order."""
        values: dict[str, Any] = {
            "id": self.id,
            "cron": self.cron,
            "prompt": self.prompt,
            "createdAt": self.createdAt,
        }
        for name, default in _OPTIONAL.items():
            value = getattr(self, name)
            if value != default or name in self._source_keys:
                values[name] = value
        for name, value in (self.model_extra or {}).items():
            if name not in _NEVER_WRITTEN:
                values[name] = value
        ordered = {key: values[key] for key in self._source_keys if key in values}
        ordered.update(values)
        return ordered


def _short(value: int) -> str:
    """The value, unless it is too long to print usefully (or at all: Python caps int-to-str digits)."""
    return str(value) if -(10**20) < value < 10**20 else "a number of more than 20 digits"
