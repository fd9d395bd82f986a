"""Where media and catalog files live (STORAGES in settings.py): the local disk, or an S3 bucket.

``ensure_bucket`` makes the bucket when it is missing (``manage.py ensure_storage`` runs it before
the web server starts) and says in one line why it cannot: wrong credentials, no server, no access.
``objects`` lists stored files under a prefix with their size and date, in one paginated listing
on S3 rather than one request per folder.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.files.storage import FileSystemStorage, Storage, default_storage


class StorageError(Exception):
    """The storage cannot be used; the message says why and what to check, in one line."""


@dataclass(frozen=True)
class StoredObject:
    name: str  # as a FileField holds it: relative to MEDIA_ROOT, or to the bucket's prefix
    size: int
    modified: datetime  # aware


def is_local(storage: Storage) -> bool:
    """Whether ``storage`` is this machine's disk (then there is nothing to download or cache)."""
    return isinstance(storage, FileSystemStorage)


def describe(storage: Storage = default_storage) -> str:
    """Where files go, in words: "the local disk at /path" or "S3 bucket 'b' at http://host"."""
    if is_local(storage):
        return f"the local disk at {storage.location}"  # type: ignore[attr-defined]
    s3: Any = storage
    prefix = f" under {s3.location}/" if s3.location else ""
    return f"S3 bucket {s3.bucket_name!r}{prefix} at {s3.endpoint_url or 'AWS'}"


def ensure_bucket(storage: Storage = default_storage) -> str:
    """Make sure ``storage`` can take files: the local folder, or the S3 bucket, created when it is
    missing. Returns what it found or did; StorageError (one line) when it cannot."""
    where = describe(storage)
    if is_local(storage):
        os.makedirs(storage.location, exist_ok=True)  # type: ignore[attr-defined]
        return f"media: {where}, ready"
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    s3: Any = storage
    client = s3.connection.meta.client
    try:
        client.head_bucket(Bucket=s3.bucket_name)
        return f"media: {where}, ready"
    except NoCredentialsError as exc:
        raise StorageError(f"{where}: no credentials; set AWS_ACCESS_KEY_ID and "
                           "AWS_SECRET_ACCESS_KEY") from exc
    except ClientError as exc:
        if _code(exc) not in ("404", "NoSuchBucket"):
            raise StorageError(_refusal(where, client, s3.bucket_name, exc)) from exc
    except BotoCoreError as exc:  # no server there, a bad URL, a timeout
        raise StorageError(f"{where}: cannot reach it ({exc})") from exc
    try:
        if s3.region_name and s3.region_name != "us-east-1":
            client.create_bucket(Bucket=s3.bucket_name,
                                 CreateBucketConfiguration={"LocationConstraint": s3.region_name})
        else:
            client.create_bucket(Bucket=s3.bucket_name)
    except ClientError as exc:
        raise StorageError(_refusal(where, client, s3.bucket_name, exc)) from exc
    return f"media: created {where}"


def _code(exc: Any) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _refusal(where: str, client: Any, bucket: str, exc: Any) -> str:
    """One line for a refused request. A HEAD answer has no body, so a bare 403 is asked again
    with a listing, whose error code tells a wrong key from a key without access."""
    from botocore.exceptions import ClientError

    code = _code(exc)
    if code == "403":
        try:
            client.list_objects_v2(Bucket=bucket, MaxKeys=1)
        except ClientError as again:
            code = _code(again) or code
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"):
        return (f"{where}: the server refused the credentials ({code}); check AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY")
    if code in ("403", "AccessDenied", "AllAccessDisabled"):
        return f"{where}: access denied ({code}); these credentials may not use this bucket"
    return f"{where}: {code or 'error'}: {exc}"


def objects(prefix: str, storage: Storage = default_storage) -> Iterator[StoredObject]:
    """Every stored file whose name starts with ``prefix`` + "/", with its size and date."""
    if is_local(storage):
        yield from _walk(storage, prefix.strip("/"))
        return
    s3: Any = storage
    base = f"{s3.location.strip('/')}/" if s3.location else ""
    for obj in s3.bucket.objects.filter(Prefix=f"{base}{prefix.strip('/')}/"):
        yield StoredObject(obj.key[len(base):], obj.size, obj.last_modified)


def _walk(storage: Storage, folder: str) -> Iterator[StoredObject]:
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in files:
        path = f"{folder}/{name}"
        yield StoredObject(path, storage.size(path), storage.get_modified_time(path))
    for sub in folders:
        yield from _walk(storage, f"{folder}/{sub}")
