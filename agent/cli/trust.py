"""`agent trust [DIR]`, `agent trust --revoke [DIR]`, `agent trust --list`: workspace trust from a shell.

The same answer as "trust" in the chat's question, kept in the user's trust store
(`agent.settings.trust`). A trusted folder covers the folders below it; the home folder and / are never
trusted as a whole.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.cli.common import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, Parser, UsageError


def build_trust_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="agent trust",
        description="Trust a folder's own settings (.claude/settings.json and settings.local.json). Until "
        "you do, keys that can run a program, move a credential or widen permissions (env, cron.notify, "
        "hooks, MCP servers, apiKeyHelper, acceptEdits, sandbox exceptions) are ignored there. Trust covers "
        "the folders below. Exit status: 0 done, 1 refused, 2 bad usage.",
    )
    parser.add_argument("dir", nargs="?", type=Path, default=None, help="the folder (default: current folder)")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--revoke", action="store_true", help="stop trusting the folder (and those below it)")
    action.add_argument("--list", action="store_true", help="list the trusted folders")
    return parser


def run_trust_cli(argv: Sequence[str]) -> int:
    from agent.settings.trust import TrustError, trust_store

    try:
        args = build_trust_parser().parse_args(list(argv))
        if args.list and args.dir is not None:
            raise UsageError("agent trust: --list takes no folder")
        folder = None if args.list else _folder(args.dir, must_exist=not args.revoke)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    store = trust_store()
    if folder is None:
        for trusted in store.folders():
            print(trusted)
        return EXIT_OK
    try:
        return revoke(store, folder) if args.revoke else trust(store, folder)
    except TrustError as exc:
        print(f"agent trust: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"agent trust: cannot write {store.path}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_FAILURE


def _folder(given: Path | None, *, must_exist: bool) -> Path:
    """The folder named (a folder that is gone can still be revoked), else the current one."""
    folder = (given or Path.cwd()).expanduser()
    if must_exist and not folder.is_dir():
        raise UsageError(f"agent trust: {folder} is not a folder")
    return folder


def trust(store, folder: Path) -> int:
    covering = store.covering(folder)
    if covering is not None:
        through = "" if covering == folder else f" (through {covering})"
        print(f"{folder} is already trusted{through}.")
        return EXIT_OK
    real = store.trust(folder, home=Path.home())
    print(f"Trusted {real}: its .claude settings, and those of the folders below it, now apply in full.")
    return EXIT_OK


def revoke(store, folder: Path) -> int:
    removed = store.revoke(folder)
    still = store.covering(folder)
    for path in removed:
        print(f"No longer trusted: {path}")
    if still is not None:
        print(f"agent trust: {folder} is still trusted through the trusted folder {still}; "
              f"revoke that with: agent trust --revoke {shlex.quote(str(still))}", file=sys.stderr)
        return EXIT_FAILURE
    if not removed:
        print(f"{folder} was not trusted; nothing to revoke.")
    return EXIT_OK


__all__ = ["build_trust_parser", "run_trust_cli"]
