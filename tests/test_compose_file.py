"""docker-compose.yml, which no CI machine can run (no Docker engine): it parses, every studio
service gets the database, Redis, secret and object-storage settings (files in the seaweedfs
service's S3, no shared disk), each tool's queue has a worker consuming it,
the manage.py commands it runs exist, every variable it reads is described in .env.example, and the
volumes it mounts are declared."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

from apps.tools.registry import all_tools

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    parsed: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # "<<" merges too
    return parsed


def studio_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose["services"].items() if s.get("image") == "studio:latest"}


def test_the_services_are_there_and_share_the_studios_settings(compose: dict[str, Any]) -> None:
    expected = {"postgres", "redis", "seaweedfs", "web", "worker-gpu", "worker-cpu", "invoke", "flower"}
    assert expected <= set(compose["services"])
    studio = studio_services(compose)
    assert set(studio) == {"web", "worker-gpu", "worker-cpu", "invoke"}
    for name, service in studio.items():
        env = service["environment"]
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MEDIA_ROOT"} <= set(env), name
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"] == "redis://redis:6379/0"


def test_files_go_to_the_object_storage_service_not_a_shared_disk(compose: dict[str, Any]) -> None:
    seaweedfs = compose["services"]["seaweedfs"]
    assert seaweedfs["image"] == "chrislusf/seaweedfs" and {"server", "-s3"} <= set(seaweedfs["command"])
    keys = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    for name, service in studio_services(compose).items():
        env = service["environment"]
        assert env["STUDIO_S3_BUCKET"] and env["STUDIO_S3_ENDPOINT_URL"].endswith(":-http://seaweedfs:8333}")
        assert {k: env[k] for k in keys} == {k: seaweedfs["environment"][k] for k in keys}, name
        assert "volumes" not in service, name  # nothing shared between machines but the services
    assert compose["services"]["web"]["depends_on"]["seaweedfs"] == {"condition": "service_healthy"}
    # The bucket is made (or wrong keys reported) before anything else at start-up.
    assert compose["services"]["web"]["command"][-1].startswith("python manage.py ensure_storage &&")


def test_every_tools_queue_has_a_worker(compose: dict[str, Any]) -> None:
    consumed = set()
    for service in studio_services(compose).values():
        command = service["command"]
        if "celery" in command:
            consumed |= set(command[command.index("-Q") + 1].split(","))
    assert {tool.queue for tool in all_tools()} <= consumed


def test_its_manage_commands_exist(compose: dict[str, Any]) -> None:
    text = " ".join(str(s["command"]) for s in studio_services(compose).values())
    used = set(re.findall(r"manage\.py['\",]*\s*['\"]?([a-z_]+)", text))
    assert {"ensure_storage", "migrate", "install_starter_models", "collectstatic", "serve_invoke"} <= used
    assert used <= set(get_commands())


def test_its_variables_are_described_and_its_volumes_declared(compose: dict[str, Any]) -> None:
    source = (ROOT / "docker-compose.yml").read_text()
    example = (ROOT / ".env.example").read_text()
    variables = set(re.findall(r"\$\{([A-Z_]+)", source))
    assert variables and not {v for v in variables if v not in example}
    for service in compose["services"].values():
        for mount in service.get("volumes", []):
            name = mount.split(":", 1)[0]
            assert name.startswith((".", "/")) or name in compose["volumes"], mount
