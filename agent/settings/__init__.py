"""Settings from `.claude/settings.json`, in Claude Code's format.

Three files are merged, later ones winning: the user's `~/.claude/settings.json`, the project's
`.claude/settings.json` and the project's `.claude/settings.local.json` (not committed). Permission
rule lists are concatenated rather than replaced, as Claude Code does, so a local file can add a rule
without repeating the shared ones. Only the standard library is used here: this module is on the path
of `agent --help`-fast commands.

A settings file may come with a repository, so it is read as untrusted input (`agent.jsonfile`): a
regular file of at most 1 MiB, strict UTF-8 (a byte-order mark is fine) and JSON, no lone surrogates.
Permission rules and the default mode are checked for form here, so a typo is an error naming the file
(`SettingsRuleError`, exit status 2) rather than a rule that silently never matches.

Each project file passes through the workspace-trust gate (`agent.settings.gate`) before it is merged:
in a folder the user has not trusted, keys that can run a program, move a credential or widen the
permissions are dropped, and some keys are never taken from a project file. The merged `Settings` says
whether the folder was trusted and what was dropped, so every face can warn.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.jsonfile import MIB, JSONFileError, has_lone_surrogate, load_json, read_regular_file

SETTINGS_FILES = (".claude/settings.json", ".claude/settings.local.json")
MAX_SETTINGS_BYTES = MIB
PERMISSION_MODES = ("default", "acceptEdits", "plan", "bypassPermissions")
# The form of a permission rule, as agent.permissions.rules parses it: `Tool` or `Tool(specifier)`.
_RULE_FORM = re.compile(r"[A-Za-z0-9_.\-]+(?:\(.*\))?", re.DOTALL)


class SettingsError(ValueError):
    """A settings file exists but cannot be used; the message names the file and what to fix."""


class SettingsRuleError(SettingsError):
    """A permission rule or mode in a settings file is malformed: bad input, exit status 2."""


@dataclass
class Settings:
    """The merged view of all settings files. `raw` keeps every key, known or not."""

    raw: dict[str, Any] = field(default_factory=dict)
    allow: list[str] = field(default_factory=list)
    deny: list[str] = field(default_factory=list)
    ask: list[str] = field(default_factory=list)
    sources: list[Path] = field(default_factory=list)
    trusted: bool = False  # the project folder is trusted; a Settings made without knowing is not
    ignored: list[str] = field(default_factory=list)  # project keys dropped because the folder is untrusted
    refused: list[str] = field(default_factory=list)  # project keys dropped whatever the trust

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
        raw = read_regular_file(path, MAX_SETTINGS_BYTES)
    except JSONFileError as exc:
        raise SettingsError(f"cannot read {path}: {exc.reason}; fix or remove it") from None
    if raw is None or not raw.removeprefix(b"\xef\xbb\xbf").strip():
        return {}
    try:
        data = load_json(raw)
    except JSONFileError as exc:
        what = exc.reason if exc.reason.startswith("not ") else f"not usable ({exc.reason})"
        raise SettingsError(f"{path} is {what}; fix or remove it") from None
    if not isinstance(data, dict):
        raise SettingsError(f"{path} must hold a JSON object; fix or remove it")
    if has_lone_surrogate(data):
        raise SettingsError(f"{path} holds a lone surrogate (an unpaired \\ud800-\\udfff escape), which is "
                            "not text; fix or remove it")
    return data


def _rules(data: dict[str, Any], key: str, path: Path) -> list[str]:
    perms = data.get("permissions", {})
    if not isinstance(perms, dict):
        raise SettingsError(f'{path}: "permissions" must be an object')
    rules = perms.get(key, [])
    if not isinstance(rules, list) or not all(isinstance(r, str) for r in rules):
        raise SettingsError(f'{path}: "permissions.{key}" must be a list of strings')
    for index, rule in enumerate(rules):
        if not _RULE_FORM.fullmatch(rule.strip()):
            raise SettingsRuleError(
                f"{path}: permissions.{key}[{index}] {rule!r} is not a permission rule: expected ToolName or "
                "ToolName(specifier), e.g. Bash(npm test:*), Edit(src/**) or Read"
            )
    return rules


def _check_mode(data: dict[str, Any], path: Path) -> None:
    mode = data.get("permissions", {}).get("defaultMode")
    if mode is not None and mode not in PERMISSION_MODES:
        raise SettingsRuleError(
            f"{path}: permissions.defaultMode {mode!r} is not a permission mode: use one of "
            + ", ".join(PERMISSION_MODES)
        )


def _deep_merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """`sandbox` blocks merged as Claude Code merges them: objects key by key, lists joined without
    repeats, other values replaced. A local file that only adds an allowed domain must not switch
    off `sandbox.enabled` set in the shared one."""
    out = dict(base)
    for key, value in extra.items():
        old = out.get(key)
        if isinstance(old, dict) and isinstance(value, dict):
            out[key] = _deep_merge(old, value)
        elif isinstance(old, list) and isinstance(value, list):
            out[key] = old + [item for item in value if item not in old]
        else:
            out[key] = value
    return out


def _same_file(a: Path, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _merge_keys(merged: Settings, data: dict[str, Any]) -> None:
    for key, value in data.items():
        if key == "hooks" and isinstance(merged.raw.get(key), dict) and isinstance(value, dict):
            merged.raw[key] = _merge_hooks(merged.raw[key], value)  # every file's hooks run
        elif key == "sandbox" and isinstance(merged.raw.get(key), dict) and isinstance(value, dict):
            merged.raw[key] = _deep_merge(merged.raw[key], value)
        elif key in ("permissions", "env") and isinstance(merged.raw.get(key), dict) and isinstance(value, dict):
            merged.raw[key] = {**merged.raw[key], **value}  # merged key by key, as Claude Code does
        else:
            merged.raw[key] = value


def _merge_hooks(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Hooks of two files together: an event's matcher groups from both (Claude Code runs them all)."""
    merged = dict(a)
    for event, groups in b.items():
        before = merged.get(event)
        merged[event] = [*before, *groups] if isinstance(before, list) and isinstance(groups, list) else groups
    return merged


def load_settings(project_dir: Path, paths: list[Path] | None = None, *, trusted: bool | None = None,
                  extra: dict[str, Any] | None = None) -> Settings:
    """Merge the settings files for `project_dir`, project files through the trust gate. `trusted`
    None asks the user's trust store (`agent.settings.trust`), which answers "untrusted" when it cannot
    be read. Raises SettingsError naming the bad file."""
    from agent.settings.gate import gate_project_settings
    from agent.settings.trust import is_trusted

    user = user_settings_path()
    merged = Settings(trusted=is_trusted(project_dir) if trusted is None else trusted)
    seen_user = False
    for path in paths if paths is not None else settings_paths(project_dir):
        is_user = _same_file(path, user)
        if is_user and seen_user:
            continue  # agent run in the home folder: the project file is the user's file, read once
        seen_user = seen_user or is_user
        data = read_settings_file(path)
        if not data:
            continue
        merged.sources.append(path)
        allow = _rules(data, "allow", path)  # every rule is checked, trusted or not: a bad one names its file
        merged.deny += _rules(data, "deny", path)
        merged.ask += _rules(data, "ask", path)
        _check_mode(data, path)
        if not is_user:
            gated = gate_project_settings(data, trusted=merged.trusted)
            data = gated.data
            merged.ignored += [k for k in gated.ignored if k not in merged.ignored]
            merged.refused += [k for k in gated.refused if k not in merged.refused]
            allow = _rules(data, "allow", path)  # an untrusted folder's allow rules are gone
        merged.allow += allow
        _merge_keys(merged, data)
    if extra:  # --settings: the user's own, on the command line; merged last, never gated
        merged.allow += _rules(extra, "allow", Path("--settings"))
        merged.deny += _rules(extra, "deny", Path("--settings"))
        merged.ask += _rules(extra, "ask", Path("--settings"))
        _check_mode(extra, Path("--settings"))
        _merge_keys(merged, extra)
    return merged
