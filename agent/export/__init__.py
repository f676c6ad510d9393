"""`agent cron export`: durable tasks as jobs for other schedulers (crontab, systemd, Kubernetes CronJobs,
GitHub Actions). `jobs` picks the tasks and what each job carries (zone, interval, jitter, policy);
`calendar` and `utc` translate a cron schedule exactly or refuse (pure, no clock, no files); `formats`
renders the files and `quote` quotes a prompt for each target's syntax. The command line only parses
arguments (`agent.cli.cron_export`). The re-exports are lazy (PEP 562), so naming `FORMATS` in a parser
costs no YAML import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agent.lazy import lazy_exports

FORMATS = ("crontab", "systemd", "kubernetes", "github-actions")

_EXPORTS = {
    "ExportError": "calendar",
    "ExportContext": "formats",
    "ExportTask": "formats",
    "render": "formats",
    "render_crontab": "formats",
    "ExportRefused": "jobs",
    "ExportResult": "jobs",
    "export_jobs": "jobs",
    "zone_name_here": "jobs",
    "utc_schedule": "utc",
}

__all__ = [
    "FORMATS",
    "ExportContext",
    "ExportError",
    "ExportRefused",
    "ExportResult",
    "ExportTask",
    "export_jobs",
    "render",
    "render_crontab",
    "utc_schedule",
    "zone_name_here",
]

if TYPE_CHECKING:
    from agent.export.calendar import ExportError
    from agent.export.formats import ExportContext, ExportTask, render, render_crontab
    from agent.export.jobs import ExportRefused, ExportResult, export_jobs, zone_name_here
    from agent.export.utc import utc_schedule

__getattr__ = lazy_exports(__name__, _EXPORTS)
