"""`agent cron export`: the arguments and where the files go. What is exported, and how, is
`agent.export` (which tasks and their limits in `jobs`, the file formats in `formats`)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import tzinfo
from pathlib import Path
from typing import Any

from agent.cli.common import EXIT_FAILURE, EXIT_OK, UsageError
from agent.export import FORMATS

EXPORT_EPILOG = """\
examples:
  agent cron export --format crontab                       all recurring tasks, printed
  agent cron export 1a2b3c4d --format systemd -o ~/.config/systemd/user
  agent cron export --format kubernetes --image registry.example/agent-project:1 -o k8s/
  agent cron export --format github-actions -o .github/workflows
"""


def add_export_parser(sub: Any) -> argparse.ArgumentParser:
    parser = sub.add_parser("export", help="write durable tasks as crontab, systemd, Kubernetes or GitHub "
                            "Actions jobs", epilog=EXPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("ids", nargs="*", metavar="ID", help="tasks to export (default: every recurring task)")
    parser.add_argument("--format", required=True, choices=FORMATS, dest="fmt", help="the target scheduler")
    parser.add_argument("--image", metavar="IMAGE", help="container image with agent (and for kubernetes the "
                        "project in /project); kubernetes needs it, github-actions uses it as the job container")
    parser.add_argument("-o", "--output", type=Path, metavar="DIR", help="write the files into DIR (default: print)")
    parser.add_argument("--timezone", metavar="ZONE", help="IANA zone of the schedules (default: this machine's)")
    return parser


def _zone(args: argparse.Namespace) -> tuple[tzinfo, str]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from agent.export.jobs import zone_name_here

    name = args.timezone or zone_name_here(os.environ)
    if not name:
        raise UsageError("agent cron export: cannot tell this machine's time zone; pass --timezone Area/City")
    try:
        return ZoneInfo(name), name
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"agent cron export: unknown time zone {name!r}; pass --timezone Area/City") from None


def _warn(text: str) -> None:
    print(f"agent cron export: {text}", file=sys.stderr)


def cmd_export(args: argparse.Namespace, project: Path) -> int:
    from agent.export.jobs import ExportRefused, export_jobs

    if args.fmt == "kubernetes" and not args.image:
        raise UsageError("agent cron export: --format kubernetes needs --image IMAGE (an image with agent and "
                         "the project in /project)")
    zone, zone_name = _zone(args)
    try:
        result = export_jobs(project, args.fmt, args.ids, zone=zone, zone_name=zone_name, image=args.image,
                             warn=_warn)
    except ExportRefused as exc:
        raise UsageError(f"agent cron export: {exc}") from None
    _emit(result.files, args.output, args.fmt)
    return EXIT_FAILURE if result.failed else EXIT_OK


def _emit(files: list[tuple[str, str]], output: Path | None, fmt: str) -> None:
    if output is not None:
        output.mkdir(parents=True, exist_ok=True)
        for name, text in files:
            (output / name).write_bytes(text.encode())
            print(f"wrote {output / name}", file=sys.stderr)
        return
    if fmt == "kubernetes":
        sys.stdout.write("---\n".join(text for _, text in files))
        return
    for index, (name, text) in enumerate(files):
        if len(files) > 1:
            sys.stdout.write(f"{'' if index == 0 else chr(10)}# ==> {name} <==\n")
        sys.stdout.write(text)


__all__ = ["FORMATS", "add_export_parser", "cmd_export"]
