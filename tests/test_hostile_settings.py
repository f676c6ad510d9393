"""Hostile settings files and bad permission input: one clear line and the right exit status, at once.

A table of files that cannot be used (each a SettingsError naming the file, never a hang or a
traceback), files that are odd but fine (a byte-order mark, huge numbers), and malformed permission
rules or modes in settings or on the command line: exit 2 naming the file or the flag for `agent -p`,
`agent daemon` and the chat.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cron_procs import child_env

from agent.cron.jitter import JitterConfig, load_jitter_config
from agent.jsonfile import MIB
from agent.settings import SettingsError, SettingsRuleError, load_settings, read_settings_file


def settings_file(project: Path, name: str = "settings.json") -> Path:
    path = project / ".claude" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _bytes(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


UNUSABLE: dict[str, tuple[Callable[[Path], None], str]] = {
    "FIFO": (os.mkfifo, "it is a FIFO, not a regular file"),
    "symlink to /dev/zero": (lambda p: p.symlink_to("/dev/zero"), "it is a character device"),
    "folder": (Path.mkdir, "it is a folder"),
    "over 1 MiB": (_bytes(b'{"model": "' + b"m" * MIB + b'"}'), "larger than the 1 MiB limit"),
    "100000 nested lists": (_bytes(b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"), "nested more than 64"),
    "surrogate as UTF-8 bytes": (_bytes(b'{"model": "\xed\xa0\x80"}'), "not UTF-8 text"),
    "surrogate escape in a value": (_bytes(b'{"env": {"A": "\\ud800"}}'), "lone surrogate"),
    "surrogate escape in a key": (_bytes(b'{"\\udfff": 1}'), "lone surrogate"),
    "surrogate escape in a rule": (_bytes(b'{"permissions": {"allow": ["Bash(\\udc80)"]}}'), "lone surrogate"),
    "truncated": (_bytes(b'{"permissions": {'), "not valid JSON"),
}


@pytest.mark.parametrize("case", list(UNUSABLE))
def test_unusable_settings_file_is_a_settings_error_naming_it(tmp_path: Path, case: str) -> None:
    make_file, reason = UNUSABLE[case]
    path = settings_file(tmp_path)
    make_file(path)
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, [path])
    assert str(path) in str(caught.value) and reason in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("case", ["FIFO", "100000 nested lists", "surrogate escape in a value"])
def test_agent_p_with_an_unusable_settings_file_says_so_in_one_line_at_once(tmp_path: Path, case: str) -> None:
    make_file, reason = UNUSABLE[case]
    project = tmp_path / "project"
    make_file(settings_file(project))
    done = subprocess.run([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "hi"], input="",
                          capture_output=True, text=True, timeout=60, env=child_env(tmp_path / "home"))
    assert done.returncode == 1 and reason in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


def test_a_settings_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = settings_file(tmp_path)
    path.write_bytes(b'\xef\xbb\xbf{"permissions": {"allow": ["Read"]}, "model": "m"}')
    settings = load_settings(tmp_path, [path], trusted=True)
    assert settings.allow == ["Read"] and settings.model == "m"
    path.write_bytes(b"\xef\xbb\xbf\n")
    assert read_settings_file(path) == {}


def test_huge_numbers_in_settings_are_data_that_validation_rejects_not_a_crash(tmp_path: Path) -> None:
    path = settings_file(tmp_path)
    path.write_text('{"contextWindow": 1e999999, "cronJitter": {"recurringCapMs": ' + "9" * 5000 + "}, "
                    '"n": NaN}')
    settings = load_settings(tmp_path, [path])
    assert not isinstance(settings.get("contextWindow"), (int, float))
    config, warning = load_jitter_config(settings.get("cronJitter"))
    assert config == JitterConfig() and "recurringCapMs" in warning


# --- permission rules and modes -------------------------------------------------------------------------

BAD_SETTINGS = {
    "unclosed allow rule": ('{"permissions": {"allow": ["Read", "Bash(npm test:*"]}}', "permissions.allow[1]"),
    "deny rule with spaces": ('{"permissions": {"deny": ["git push"]}}', "permissions.deny[0] 'git push'"),
    "empty ask rule": ('{"permissions": {"ask": [""]}}', "permissions.ask[0] ''"),
    "unknown mode": ('{"permissions": {"defaultMode": "yolo"}}', "permissions.defaultMode 'yolo'"),
    "mode not a string": ('{"permissions": {"defaultMode": 1}}', "permissions.defaultMode 1"),
}


@pytest.mark.parametrize("case", list(BAD_SETTINGS))
def test_malformed_rule_or_mode_in_settings_is_a_rule_error_naming_file_and_place(tmp_path: Path, case: str) -> None:
    content, where = BAD_SETTINGS[case]
    path = settings_file(tmp_path, "settings.local.json")
    path.write_text(content)
    with pytest.raises(SettingsRuleError) as caught:
        load_settings(tmp_path, [path])
    assert str(caught.value).startswith(f"{path}: {where}")


FACES = {
    "agent -p": ["-p", "hi"],
    "agent daemon": ["daemon"],
    "agent (chat)": [],
}


def run_face(tmp_path: Path, project: Path, face: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [*FACES[face][:1], "--cwd", str(project), *FACES[face][1:], *extra]
    return subprocess.run([sys.executable, "-m", "agent", *argv], input="", capture_output=True, text=True,
                          timeout=60, env=child_env(tmp_path / "home", ANTHROPIC_API_KEY="test"))


@pytest.mark.parametrize("face", list(FACES))
@pytest.mark.parametrize("case", ["unclosed allow rule", "unknown mode"])
def test_each_face_exits_2_naming_the_settings_file(tmp_path: Path, face: str, case: str) -> None:
    project = tmp_path / "project"
    path = settings_file(project)
    path.write_text(BAD_SETTINGS[case][0])
    done = run_face(tmp_path, project, face)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and BAD_SETTINGS[case][1] in lines[0]
    assert done.stdout == ""


@pytest.mark.parametrize("face", list(FACES))
@pytest.mark.parametrize(("flag", "value", "expected"), [
    ("--allowedTools", "Edit Bash(npm test:*", "--allowedTools: invalid permission rule 'Bash(npm test:*'"),
    ("--disallowedTools", "Bash(", "--disallowedTools: invalid permission rule 'Bash('"),
    ("--permission-mode", "yolo", "argument --permission-mode: invalid choice: 'yolo'"),
])
def test_each_face_exits_2_naming_the_flag(tmp_path: Path, face: str, flag: str, value: str, expected: str) -> None:
    project = tmp_path / "project"
    project.mkdir()
    done = run_face(tmp_path, project, face, flag, value)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines


def test_the_command_line_and_the_settings_know_the_same_permission_modes() -> None:
    from agent.cli.common import PERMISSION_MODES as FLAG_MODES
    from agent.permissions.policy import PermissionMode
    from agent.settings import PERMISSION_MODES

    assert FLAG_MODES == PERMISSION_MODES == tuple(m.value for m in PermissionMode)
