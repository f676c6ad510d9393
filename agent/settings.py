"""Settings from `.claude/settings.json`, in Claude Code's format.

Three files are merged, later ones winning: the user's `~/.claude/settings.json`, the project's
`.claude/settings.json` and the project's `.claude/settings.local.json` (not committed). Permission
rule lists are concatenated rather than replaced, as Claude Code does, so a local file can add a rule
without repeating the shared ones. Only the standard library is used here: this module is on the path
of `agent --help`-fast commands.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETTINGS_FILES = (".claude/settings.json", ".claude/settings.local.json")


class SettingsError(ValueError):
    """A settings file exists but cannot be used; the message names the file and what to fix."""


@dataclass
class Settings:
    """The merged view of all settings files. `raw` keeps every key, known or not."""

    raw: dict[str, Any] = field(default_factory=dict)
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    ask: list[str] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = self.raw.get("env")
        return {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}

    @property
    def model(self) -> str | None:
        model = self.raw.get("model")
        return model if isinstance(model, str) and model else None

    @property
    def default_mode(self) -> str | None:
        perms = self.raw.get("permissions")
        mode = perms.get("defaultMode") if isinstance(perms, dict) else None
        return mode if isinstance(mode, str) else None

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


def user_settings_path() -> Path:
    base = os.environ.get("CLAUDE_CONFIG_DIR")
    return Path(base) / "settings.json" if base else Path.home() / ".claude" / "settings.json"


def state_dir(env: Mapping[str, str]) -> Path:
    """The user's state folder for this tool: $XDG_STATE_HOME/agent, else ~/.local/state/agent."""
    base = env.get("XDG_STATE_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "state")
    return Path(base) / "agent"


def project_slug(project_dir: Path) -> str:
    """A folder name for a project, as Claude Code makes it: the absolute path with each `/` (and any
    other character that is not a letter, digit, `-` or `_`) turned into `-`."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", str(Path(project_dir).resolve()))


def project_state_dir(project_dir: Path, env: Mapping[str, str]) -> Path:
    """Where run state of one project lives (saved sessions, run history): never inside the project,
    so it cannot be committed by accident. Not created here."""
    return state_dir(env) / "projects" / project_slug(project_dir)


def settings_paths(project_dir: Path) -> list[Path]:
    return [user_settings_path(), *(project_dir / name for name in SETTINGS_FILES)]


def read_settings_file(path: Path) -> dict[str, Any]:
    """One settings file as a dict; {} when absent. Raises SettingsError when unusable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SettingsError(f"cannot read {path}: {exc.strerror or exc}") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix or remove it"
        ) from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must hold a JSON object; fix or remove it")
    return data


def _rules(data: dict[str, Any], key: str, path: Path) -> list[str]:
    perms = data.get("permissions", {})
    if not isinstance(perms, dict):
        raise SettingsError(f'{path}: "permissions" must be an object')
    rules = perms.get(key, [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise SettingsError(f'{path}: "permissions.{key}" must be a list of strings')
    return rules


def load_settings(project_dir: Path, paths: list[Path] | None = None) -> Settings:
    """Merge the settings files for `project_dir`. Raises SettingsError naming the bad file."""
    merged = Settings()
    for path in paths if paths is not None else settings_paths(project_dir):
        data = read_settings_file(path)
        if not data:
            continue
        merged.sources.append(path)
        merged.allow += _rules(data, "allow", path)
        merged.deny += _rules(data, "deny", path)
        merged.ask += _rules(data, "ask", path)
        for key, value in data.items():
            if key in ("permissions", "env") and isinstance(merged.raw.get(key), dict) and isinstance(value, dict):
                merged.raw[key] = {**merged.raw[key], **value}  # merged key by key, as Claude Code does
            else:
                merged.raw[key] = value
    return merged
