from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.servers import Server, ServerStartError, start_influxd, start_mosquitto

# Shared, noisy 2-core machines: no per-example deadline, no "too slow" health check.
settings.register_profile("kinetic", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kinetic")


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        server = start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    except ServerStartError as exc:
        pytest.fail(f"Mosquitto could not start: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    try:
        server = start_influxd(tmp_path_factory.mktemp("influxd"))
    except ServerStartError as exc:
        pytest.fail(f"influxd could not start: {exc}", pytrace=False)
    yield server
    server.stop()


@pytest.fixture
def unique() -> str:
    """A short id for this test's own MQTT topic root and database, so tests run in any order."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent
