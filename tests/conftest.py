"""Shared pytest fixtures. Each helper's fixtures live in their own marked section."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_api import FakeAnthropic, child_env

pytest_plugins = ["pty_support"]  # the `spawn` and `project` fixtures of the pseudo-terminal tests

# ---------------------------------------------------------------- saved sessions (parity helper)


@pytest.fixture(autouse=True)
def _state_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test (and every child process it starts) saves sessions under a temp state folder, never
    the user's real ~/.local/state."""
    folder = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("XDG_STATE_HOME", str(folder))
    for size in ("COLUMNS", "LINES"):  # set to 80x24 in xdist workers: a child's terminal must tell its own size
        monkeypatch.delenv(size, raising=False)
    return folder


# ---------------------------------------------------------------- fake Anthropic API (model side)


@pytest.fixture
def fake_api() -> Iterator[FakeAnthropic]:
    """A fake Messages API on 127.0.0.1 for this test; script it with .script(...) / .when(...)."""
    with FakeAnthropic() as api:
        yield api


@pytest.fixture
def fake_api_env(fake_api: FakeAnthropic, tmp_path: Path) -> dict[str, str]:
    """The environment for a child process (`agent -p`, a pexpect REPL) that talks to `fake_api`:
    ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY=test-key set, no proxies, HOME in a temp folder."""
    return child_env(fake_api, home=tmp_path / "home")
