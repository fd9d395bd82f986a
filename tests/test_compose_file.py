"""docker-compose.yml, which no CI machine can run (no Docker engine): it parses, every studio
service gets the database, Redis and secret settings, each tool's queue has a worker consuming it,
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
    expected = {"postgres", "redis", "web", "worker-gpu", "worker-cpu", "invoke", "flower"}
    assert expected <= set(compose["services"])
    studio = studio_services(compose)
    assert set(studio) == {"web", "worker-gpu", "worker-cpu", "invoke"}
    for name, service in studio.items():
        env = service["environment"]
        assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "MEDIA_ROOT"} <= set(env), name
        assert env["DATABASE_URL"].startswith("postgres://") and env["REDIS_URL"] == "redis://redis:6379/0"


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
    assert {"migrate", "install_starter_models", "collectstatic", "serve_invoke"} <= used
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
