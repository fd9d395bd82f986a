"""`manage.py ensure_storage`: check that media storage takes files, creating the S3 bucket when it
is missing. docker compose runs it before the web server starts; a failure is one line on stderr
(wrong credentials, no server, no access) and exit status 1, so nothing starts on a storage it
cannot use."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from studio.storage import StorageError, ensure_bucket


class Command(BaseCommand):
    help = ("Check the media storage (the local disk, or the S3 bucket of STUDIO_S3_BUCKET) and create "
            "the bucket if it is missing.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            self.stdout.write(ensure_bucket())
        except StorageError as exc:
            raise CommandError(str(exc)) from exc
