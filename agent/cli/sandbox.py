"""`agent sandbox`: what the OS sandbox does for Bash commands in this project, and why a backend is missing."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.cli.common import EXIT_FAILURE, EXIT_OK, Parser, project_dir


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="agent sandbox", description="Show the sandbox Bash commands run in here: when it is "
                    "on, the backend (bubblewrap or Landlock) and why others are unavailable, what is writable, "
                    "what stays read-only, what is hidden, and the network. Settings: the \"sandbox\" block of "
                    ".claude/settings.json (Claude Code's keys).")
    parser.add_argument("--cwd", type=Path, default=None, help="project folder (default: current folder)")
    return parser


def run_sandbox_cli(argv: Sequence[str]) -> int:
    args = build_parser().parse_args(list(argv))
    project = project_dir(args.cwd, "agent sandbox")
    from agent.permissions.policy import PermissionPolicy
    from agent.permissions.rules import PermissionConfigError
    from agent.permissions.sandbox.report import describe_sandbox
    from agent.permissions.sandbox.runner import SandboxRunner
    from agent.settings import SettingsError, load_settings

    try:
        settings = load_settings(project)
        policy = PermissionPolicy.from_settings(project, settings)
    except (SettingsError, PermissionConfigError) as exc:
        print(f"agent sandbox: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    runner = SandboxRunner.from_settings(project, settings, deny_rules=policy.deny)
    from agent.permissions.network.gate import NetworkGate

    runner.network = NetworkGate(runner.settings.allowed_domains, project)  # as a session has it (headless)
    print(describe_sandbox(runner))
    return EXIT_OK
