"""`manage.py purge_job_files`: remove old job files from storage; run it periodically (e.g. daily
from cron or a scheduler). The rule is in apps/jobs/purge.py: jobs finished more than
STUDIO_JOB_FILE_RETENTION_DAYS days ago lose their files (objects and JobFile rows; the job rows
stay), and objects under jobs/ that belong to no job go. Catalog files are never touched."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from apps.jobs.purge import purge_job_files
from studio.storage import describe


class Command(BaseCommand):
    help = ("Remove the files (inputs, previews, results, training checkpoints) of jobs finished more "
            "than STUDIO_JOB_FILE_RETENTION_DAYS days ago, and stored objects under jobs/ that belong "
            "to no job. Job rows and catalog files stay. Prints what it removed.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--days", type=int, default=None,
                            help="keep the files of jobs finished in the last DAYS days "
                                 "(default: STUDIO_JOB_FILE_RETENTION_DAYS)")
        parser.add_argument("--dry-run", action="store_true", help="only say what would be removed")

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.STUDIO_JOB_FILE_RETENTION_DAYS if options["days"] is None else options["days"]
        if days < 0:
            raise CommandError("--days must be 0 or more")
        report = purge_job_files(days, dry_run=options["dry_run"])
        verb = "would remove" if options["dry_run"] else "removed"
        expired, orphans = report.expired, report.orphans
        self.stdout.write(f"{describe()}: jobs finished before {report.cutoff:%Y-%m-%d %H:%M} ({days} days)")
        self.stdout.write(f"  old jobs: {verb} {expired.objects} files ({_size(expired.bytes)}) and "
                          f"{expired.rows} file rows of {expired.jobs} jobs")
        self.stdout.write(f"  orphans:  {verb} {orphans.objects} objects ({_size(orphans.bytes)}) "
                          f"under jobs/ of {orphans.jobs} folders")
        total = expired.objects + orphans.objects
        self.stdout.write(f"  in all:   {verb} {total} objects, {expired.bytes + orphans.bytes} bytes")


def _size(n: int) -> str:
    return str(filesizeformat(n)).replace("\xa0", " ")
