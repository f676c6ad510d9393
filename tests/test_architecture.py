"""The layout's rules (pyproject.toml `[tool.importlinter]`) hold, and each of them bites when broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("lint-imports")
    command = [str(script)] if script.exists() else [shutil.which("lint-imports") or "lint-imports"]
    return subprocess.run([*command, "--no-cache"], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_import_contracts_are_kept_by_the_code_as_it_is() -> None:
    run = _lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


@pytest.mark.parametrize(
    ("module", "bad_import", "broken_contract"),
    [
        ("agent/cron/expr.py", "import time", "The cron core is pure"),
        ("agent/cron/task.py", "import agent.cron.store", "The cron core is pure"),
        ("agent/cron/due_times.py", "import agent.cron.ownership", "The cron core is pure"),
        ("agent/export/calendar.py", "import os", "The cron core is pure"),
        ("agent/tools/base.py", "import agent.engine.session", "Layers: faces > runs"),
        ("agent/cron/store.py", "import agent.tools.files", "Layers: faces > runs"),
        ("agent/engine/session.py", "import agent.runs.recorder", "Layers: faces > runs"),
        ("agent/runs/notify.py", "import agent.export.jobs", "Layers: faces > runs"),
        ("agent/permissions/protected.py", "import agent.engine.conversation", "The security boundary imports nothing"),
        ("agent/permissions/answers.py", "import agent.cron.scheduler", "The security boundary imports nothing"),
        ("agent/tools/files.py", "import agent.permissions.policy", "Layers: faces > runs"),
        ("agent/engine/session.py", "import anthropic", "Only the model client imports the Anthropic SDK"),
        ("agent/cli/common.py", "import agent.cli.main", "No import circles"),
    ],
)
def test_a_deliberately_wrong_import_breaks_a_contract(
    tmp_path: Path, module: str, bad_import: str, broken_contract: str
) -> None:
    shutil.copytree(ROOT / "agent", tmp_path / "agent", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / module).open("a") as fh:
        fh.write(f"\n{bad_import}  # noqa\n")
    run = _lint_imports(tmp_path)
    assert run.returncode != 0
    broken = [line for line in run.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(broken_contract in line for line in broken), run.stdout
