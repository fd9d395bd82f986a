"""Removing old job files from storage: what ``manage.py purge_job_files`` does, run periodically.

The rule. A job that finished (succeeded, failed or cancelled) more than
STUDIO_JOB_FILE_RETENTION_DAYS days ago loses its files: inputs, previews and results (the stored
objects and their JobFile rows) and the training checkpoint a stopped training kept for "Resume".
The job itself stays, with its settings, events, result summary and the catalog version it used or
made, so the history and lineage still read; its page lists no files any more. Stored objects under
``jobs/`` that belong to no job (a job deleted with its user; a file saved by a transaction that
rolled back) go too, once they are an hour old: a submit stores its files before its row commits.
Nothing outside ``jobs/`` is looked at (catalog files live under ``catalog/``), and a name that a
catalog row holds is never removed.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.core.files.storage import Storage, default_storage
from django.db import transaction
from django.utils import timezone

from apps.catalog.models import ModelExample, ModelPreview, ModelVersion
from studio.storage import StoredObject, is_local, objects

from .models import TERMINAL_STATES, Job, JobFile
from .workdir import state_key

ORPHAN_GRACE = timedelta(hours=1)
PREFIX = "jobs"


@dataclass
class Removed:
    """What one part of the purge removed (or, in a dry run, would remove)."""

    jobs: int = 0  # jobs that lost files
    objects: int = 0
    bytes: int = 0
    rows: int = 0  # JobFile rows
    names: list[str] = field(default_factory=list)

    def add(self, found: Iterable[StoredObject]) -> None:
        for obj in found:
            self.objects += 1
            self.bytes += obj.size
            self.names.append(obj.name)


@dataclass(frozen=True)
class PurgeReport:
    cutoff: datetime  # jobs finished before this lose their files
    expired: Removed  # the files of those jobs
    orphans: Removed  # objects under jobs/ of no job, or that no row of their job names


def purge_job_files(days: int, *, dry_run: bool = False, now: datetime | None = None,
                    storage: Storage = default_storage) -> PurgeReport:
    """Remove the files of jobs finished more than ``days`` days ago, and orphaned objects under
    jobs/ (see the module's rule); with ``dry_run``, only say what would go."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    by_job: dict[str, list[StoredObject]] = defaultdict(list)
    for obj in objects(PREFIX, storage):
        by_job[obj.name.split("/")[1]].append(obj)
    protected = _catalog_names()
    jobs, held = _jobs(by_job)
    expired_ids = {pk for pk, job in jobs.items()
                   if job.state in TERMINAL_STATES and job.finished_at and job.finished_at < cutoff}
    expired, orphans = Removed(), Removed()
    for job_id, found in by_job.items():
        found = [obj for obj in found if obj.name not in protected]
        if job_id in expired_ids:
            expired.add(found)
            continue
        orphans.add(obj for obj in found if obj.name not in held and now - obj.modified > ORPHAN_GRACE)
    expired_rows = JobFile.objects.filter(job__state__in=TERMINAL_STATES, job__finished_at__lt=cutoff)
    expired.jobs = len(expired_ids | {str(pk) for pk in expired_rows.values_list("job_id", flat=True)})
    expired.rows = expired_rows.count()
    if not dry_run:
        with transaction.atomic():  # rows first: a row must never name a removed object
            expired_rows.delete()
        for name in expired.names + orphans.names:
            storage.delete(name)
        if is_local(storage):
            _remove_empty_folders(storage, {name.split("/")[1] for name in expired.names + orphans.names})
    orphans.jobs = len({name.split("/")[1] for name in orphans.names})
    return PurgeReport(cutoff, expired, orphans)


def _jobs(by_job: dict[str, list[StoredObject]]) -> tuple[dict[str, Job], set[str]]:
    """The jobs named by the stored folders, by id (a folder whose name is no job id has none), and
    the names they hold: their files' and their training checkpoint's."""
    ids = []
    for name in by_job:
        try:
            ids.append(str(uuid.UUID(name)))
        except ValueError:
            continue
    found: dict[str, Job] = {}
    held: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for job in Job.objects.filter(pk__in=chunk).only("state", "finished_at"):
            found[str(job.pk)] = job
            held.add(state_key(job.pk))
        held.update(JobFile.objects.filter(job_id__in=chunk).values_list("file", flat=True))
    return found, held


def _catalog_names() -> set[str]:
    """Names under jobs/ that catalog rows hold (none are stored so today; never removed anyway)."""
    held: set[str] = set()
    for model, column in ((ModelVersion, "checkpoint"), (ModelPreview, "image"), (ModelExample, "image")):
        held.update(model.objects.filter(**{f"{column}__startswith": f"{PREFIX}/"})
                    .values_list(column, flat=True))
    return held


def _remove_empty_folders(storage: Storage, job_ids: set[str]) -> None:
    """On the local disk, the folders the removed files leave empty (object storage has none)."""
    for job_id in job_ids:
        top = Path(storage.path(f"{PREFIX}/{job_id}"))
        for folder, _, _ in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
            try:
                os.rmdir(folder)  # only when empty
            except OSError:
                pass
