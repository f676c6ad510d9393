"""Trusting a test's project folder, as `agent trust DIR` would, in the test's own state folder."""

from __future__ import annotations

import os
from pathlib import Path

from agent.settings.trust import TRUST_FILE_NAME, TrustStore


def trust_folder(project: Path, state_home: Path | str | None = None) -> None:
    """Trust `project` in the store under `state_home` (default: this process's XDG_STATE_HOME, which
    tests/conftest.py points at a temp folder). A project's env, cron.notify and modes need it."""
    base = Path(state_home if state_home is not None else os.environ["XDG_STATE_HOME"])
    TrustStore(base / "agent" / TRUST_FILE_NAME).trust(project)
