"""Models for jobs: a family's active catalog version, loaded once per worker process and kept.

Each job asks for the active version again (one indexed query; a job routed to an endpoint variant uses
that variant's version instead, which the runner pins), so an admin's switch reaches the
next job without restarting anything; the model itself comes from the process's ModelCache, keyed
by the version's sha256, so the second job on the same version skips loading entirely.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.conf import settings

from studio.storage import is_local

from .models import ModelVersion
from .services import CatalogError, active_version

if TYPE_CHECKING:
    from ml.common.model_cache import ModelCache

# The ml modules (torch) are imported where a model is loaded: the web process imports this module and
# stays free of torch.

T = TypeVar("T")
log = logging.getLogger(__name__)

_cache: ModelCache | None = None


def cache() -> ModelCache:
    """This process's model cache (each Celery worker child has its own)."""
    global _cache
    if _cache is None:
        from ml.common.model_cache import ModelCache

        _cache = ModelCache(settings.STUDIO_MODEL_CACHE_BYTES)
    return _cache


@dataclass
class LoadedModel(Generic[T]):
    version: ModelVersion
    model: T
    cache_hit: bool
    load_seconds: float

    def status(self) -> str:
        """The first progress message of a job: which model, and whether loading was skipped."""
        how = "already loaded" if self.cache_hit else f"loaded in {self.load_seconds:.2f} s"
        return f"Model {self.version.label}: {how}"

    def summary(self) -> dict[str, Any]:
        """What a job's result says about its model: which bytes, and whether loading was skipped."""
        return {"id": self.version.pk, "label": self.version.label, "sha256": self.version.sha256,
                "cache": "hit" if self.cache_hit else "miss", "load_seconds": round(self.load_seconds, 4)}


def read_checkpoint(version: ModelVersion) -> dict[str, Any]:
    """The version's checkpoint, loaded safely, after checking it is still the validated file."""
    from ml.common.checkpoint import CheckpointError, load_checkpoint

    data = _checkpoint_bytes(version)
    try:
        return load_checkpoint(io.BytesIO(data), max_bytes=settings.STUDIO_MAX_CHECKPOINT_BYTES)
    except CheckpointError as exc:
        raise CatalogError(f"{version}: {exc}") from exc


def _checkpoint_bytes(version: ModelVersion) -> bytes:
    """The version's checkpoint bytes, checked against its sha256. On object storage they come
    through this machine's disk cache (STUDIO_LOCAL_CACHE_DIR/checkpoints/<sha256>), so each worker
    machine downloads a checkpoint once; files on the local disk are read where they are."""
    storage = version.checkpoint.storage
    cached = Path(settings.STUDIO_LOCAL_CACHE_DIR) / "checkpoints" / version.sha256
    use_cache = not is_local(storage) and re.fullmatch(r"[0-9a-f]{64}", version.sha256) is not None
    if use_cache and cached.is_file():
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == version.sha256:
            return data
        log.warning("%s: the cached checkpoint %s is damaged; downloading it again", version, cached)
    with version.checkpoint.open("rb") as fh:
        data = fh.read(settings.STUDIO_MAX_CHECKPOINT_BYTES + 1)
    if hashlib.sha256(data).hexdigest() != version.sha256:
        raise CatalogError(f"{version}: the checkpoint file changed since it was validated "
                           "(sha256 differs); validate it again.")
    if use_cache:
        _keep(cached, data)
    return data


def _keep(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (worker processes on one machine may race to fill it). A
    cache that cannot be written (a full disk) only costs the next download."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(dir=path.parent, prefix=".part-")
    except OSError:
        log.warning("could not keep the checkpoint in %s", path, exc_info=True)
        return
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(part, path)
    except OSError:
        log.warning("could not keep the checkpoint in %s", path, exc_info=True)
        with contextlib.suppress(OSError):
            os.unlink(part)


# Versions a job must use instead of the active ones (its endpoint variant's): set by the runner.
_pinned: ContextVar[dict[str, ModelVersion] | None] = ContextVar("pinned_versions", default=None)


@contextmanager
def pinned(version: ModelVersion | None) -> Iterator[None]:
    """Inside, ``load_active(version.family, ...)`` loads ``version`` (None: nothing pinned)."""
    current = _pinned.get() or {}
    token = _pinned.set({**current, version.family: version} if version is not None else current)
    try:
        yield
    finally:
        _pinned.reset(token)


def load_active(family: str, build: Callable[[dict[str, Any]], T], *, purpose: str = "") -> LoadedModel[T]:
    """The active version of ``family``, built by ``build(checkpoint)`` once per process.

    ``purpose`` separates different builds of the same bytes (e.g. the device, or which layers).
    """
    version = (_pinned.get() or {}).get(family) or active_version(family)
    if version is None:
        raise CatalogError(f"No {family} model is active. An admin can install the starter models "
                           "(manage.py install_starter_models) or activate one in the catalog.")
    result = cache().get((family, version.sha256, purpose), lambda: build(read_checkpoint(version)))
    return LoadedModel(version, result.value, result.hit, result.load_seconds)
