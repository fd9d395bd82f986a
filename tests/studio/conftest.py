"""The studio-wide tests (upload limits, channel layer settings) use the apps' autouse fixtures: an
in-memory channel layer, a per-test MEDIA_ROOT and a Celery that never enqueues."""

from tests.apps.conftest import apply_async, memory_layer, revoke  # noqa: F401
