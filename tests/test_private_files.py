"""What the agent keeps about you is yours alone: sessions, run transcripts, the run history, logs, the
prompt history and the trust store are created 0600 in folders 0700 under `umask 000`, and existing
ones (an older version's, a copy) are tightened when opened."""

from __future__ import annotations

import json
import logging
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_api import FakeAnthropic, child_env, text_reply

from agent.cron.history import RunHistory
from agent.repl.prompt import make_history
from agent.runs.scheduled import write_transcript
from agent.settings.private import PrivateFileHandler, PrivateRotatingFileHandler, private_dir, private_file
from agent.settings.trust import trust_store

SECRET = "sk-ant-api03-DAEMONsecret0123456789"


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 000 for this test (each xdist worker is its own process, and tests in it run one by one)."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def assert_private_tree(root: Path) -> list[Path]:
    """Every folder under `root` (itself included) is 0700 and every file 0600; returns the files."""
    files = []
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            assert mode(path) == 0o700, f"{path} is {oct(mode(path))}"
        else:
            assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"
            files.append(path)
    return files


def run_umask_000(argv: list[str], env: dict[str, str], **options) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=lambda: os.umask(0), **options)


# ----------------------------------------------------------------------------- the real CLI, umask 000


def test_a_headless_run_under_umask_000_leaves_only_private_files(fake_api: FakeAnthropic, tmp_path: Path):
    project, state = tmp_path / "project", tmp_path / "state"
    project.mkdir()
    fake_api.script(text_reply("done"))
    env = child_env(fake_api, home=tmp_path / "home", XDG_STATE_HOME=str(state))
    done = run_umask_000([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "hi"], env)
    assert done.returncode == 0, done.stderr
    files = assert_private_tree(state)
    assert any(f.suffix == ".jsonl" for f in files)  # the session transcript
    assert mode(state) == 0o700  # made by the agent, so private too


def test_the_daemon_under_umask_000_keeps_history_transcripts_and_log_private(fake_api: FakeAnthropic,
                                                                              tmp_path: Path):
    project, state, logs = tmp_path / "project", tmp_path / "state", tmp_path / "logs"
    (project / ".claude").mkdir(parents=True)
    now = int(time.time() * 1000)
    task = {"id": "abcd1234", "cron": "* * * * *", "prompt": "check", "recurring": True,
            "createdAt": now - 3_600_000, "lastFiredAt": now - 600_000}
    (project / ".claude" / "scheduled_tasks.json").write_text(json.dumps({"tasks": [task]}))
    fake_api.set_default(text_reply("checked"))
    env = child_env(fake_api, home=tmp_path / "home", XDG_STATE_HOME=str(state), ANTHROPIC_API_KEY=SECRET)
    proc = subprocess.Popen([sys.executable, "-m", "agent", "daemon", "--cwd", str(project), "--verbose",
                             "--log-file", str(logs / "daemon.log")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=lambda: os.umask(0))
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not list(state.rglob("transcripts/*.jsonl")):
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    files = assert_private_tree(state)
    assert (logs / "daemon.log").stat().st_size > 0
    assert SECRET not in out + err  # the key, verbose as it is, is in no output, log or file
    assert not [p for p in tmp_path.rglob("*") if p.is_file() and SECRET.encode() in p.read_bytes()]
    assert any(f.name == "history.db" for f in files) and any(f.parent.name == "transcripts" for f in files)
    assert mode(logs) == 0o700 and mode(logs / "daemon.log") == 0o600


# ----------------------------------------------------------------------------- each writer, umask 000


def test_run_history_database_is_private_and_an_old_one_is_tightened(tmp_path: Path, open_umask):
    path = tmp_path / "state" / "agent" / "projects" / "p" / "history.db"
    RunHistory(path).close()
    assert_private_tree(tmp_path / "state")
    os.chmod(path, 0o644)
    os.chmod(path.parent, 0o755)
    Path(f"{path}-wal").write_text("")
    os.chmod(f"{path}-wal", 0o666)
    RunHistory(path).close()
    assert mode(path) == 0o600 and mode(path.parent) == 0o700
    if os.path.exists(f"{path}-wal"):
        assert mode(Path(f"{path}-wal")) == 0o600


def test_scheduled_run_transcripts_are_private(tmp_path: Path, open_umask):
    folder = tmp_path / "state" / "transcripts"
    path = Path(write_transcript(folder, "run1", [{"role": "user", "content": "hi"}]))
    assert mode(path) == 0o600 and mode(folder) == 0o700 and mode(folder.parent) == 0o700


def test_session_transcript_append_tightens_an_existing_file(fake_api: FakeAnthropic, tmp_path: Path):
    project, state = tmp_path / "project", tmp_path / "state"
    project.mkdir()
    env = child_env(fake_api, home=tmp_path / "home", XDG_STATE_HOME=str(state))
    first = run_umask_000([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "one", "--output-format",
                           "json"], env)
    session = json.loads(first.stdout)["session_id"]
    (transcript,) = state.rglob(f"{session}.jsonl")
    os.chmod(transcript, 0o644)
    os.chmod(transcript.parent, 0o755)
    again = run_umask_000([sys.executable, "-m", "agent", "--cwd", str(project), "-p", "two", "--resume",
                           session], env)
    assert again.returncode == 0, again.stderr
    assert mode(transcript) == 0o600


def test_prompt_history_is_private(tmp_path: Path, open_umask):
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path)}
    make_history(env)
    assert_private_tree(tmp_path / "state")
    history = tmp_path / "state" / "agent" / "history"
    os.chmod(history, 0o664)
    make_history(env)
    assert mode(history) == 0o600


def test_trust_store_is_private_and_an_old_one_is_tightened(tmp_path: Path, open_umask):
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "HOME": str(tmp_path / "home")}
    (tmp_path / "code").mkdir()
    store = trust_store(env)
    store.trust(tmp_path / "code")
    assert_private_tree(tmp_path / "state")
    os.chmod(store.path, 0o644)
    trust_store(env)
    assert mode(store.path) == 0o600


def test_log_handlers_create_private_files_and_rotate_privately(tmp_path: Path, open_umask):
    debug = PrivateFileHandler(tmp_path / "debug.log")
    debug.close()
    assert mode(tmp_path / "debug.log") == 0o600
    rotating = PrivateRotatingFileHandler(tmp_path / "logs" / "d.log", maxBytes=50, backupCount=2)
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "x" * 40, None, None)
    for _ in range(5):
        rotating.emit(record)
    rotating.close()
    logs = sorted((tmp_path / "logs").iterdir())
    assert len(logs) == 3 and all(mode(p) == 0o600 for p in logs) and mode(tmp_path / "logs") == 0o700


def test_a_user_chosen_log_folder_is_left_as_it_is(tmp_path: Path, open_umask):
    folder = tmp_path / "var-log"
    folder.mkdir(mode=0o755)
    os.chmod(folder, 0o755)
    private_file(folder / "agent.log", tighten_dir=False)
    assert mode(folder) == 0o755 and mode(folder / "agent.log") == 0o600


def test_private_dir_makes_every_missing_parent_private_and_tightens_an_existing_one(tmp_path: Path, open_umask):
    private_dir(tmp_path / "a" / "b" / "c")
    assert [mode(tmp_path / p) for p in ("a", "a/b", "a/b/c")] == [0o700, 0o700, 0o700]
    os.chmod(tmp_path / "a" / "b" / "c", 0o777)
    private_dir(tmp_path / "a" / "b" / "c")
    assert mode(tmp_path / "a" / "b" / "c") == 0o700
