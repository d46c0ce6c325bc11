from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.processes import Proc
from tests.support.servers import (
    Server,
    ServerStartError,
    start_influxd,
    start_mosquitto,
    start_victoria_metrics,
)

# Shared, noisy 2-core machines: no per-example deadline, no "too slow" health check.
settings.register_profile("kinetic", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kinetic")


@pytest.fixture(scope="session", autouse=True)
def _user_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The user's data directory (the embedded store's default home) is the session's own: no test reads or writes
    the real ~/.local/share/kinetic, in this process or the commands it starts."""
    mp = pytest.MonkeyPatch()
    mp.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg-data")))
    yield
    mp.undo()


def _serve(start: Callable[[Path], Server], tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Server]:
    try:
        server = start(tmp_path_factory.mktemp(name))
    except ServerStartError as exc:
        pytest.fail(f"{name} could not start: {exc}", pytrace=False)  # fail, never skip
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(start_mosquitto, tmp_path_factory, "mosquitto")


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(start_influxd, tmp_path_factory, "influxd")


@pytest.fixture(scope="session")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from _serve(start_victoria_metrics, tmp_path_factory, "victoria-metrics")


@pytest.fixture
def unique() -> str:
    """A short id for this test's own MQTT topic root and database, so tests run in any order."""
    return "t" + uuid.uuid4().hex[:10]


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SeededWeek:
    """tests/support/week.py's week, stored once per session in influxd (database ``seeded_week``) and in an
    embedded store."""

    influxd: Server
    database: str
    embedded: Path


@pytest.fixture(scope="session")
def seeded_week(influxd: Server, tmp_path_factory: pytest.TempPathFactory) -> SeededWeek:
    from ingest.settings import InfluxSettings
    from ingest.store.embedded import EmbeddedSink
    from ingest.store.influx_v1 import InfluxV1Sink
    from tests.support import week

    seeded = SeededWeek(influxd, "seeded_week", tmp_path_factory.mktemp("week") / "kinetic.sqlite")
    points = week.seed().points

    async def fill() -> None:
        influx = InfluxV1Sink(InfluxSettings(url=influxd.url, database=seeded.database))
        await influx.prepare()
        await influx.write(points)
        await influx.aclose()
        embedded = EmbeddedSink(seeded.embedded)
        await embedded.write(points)
        await embedded.aclose()

    asyncio.run(fill())
    return seeded


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    """``kinetic`` processes a test started: killed at the end if still running."""
    started: list[Proc] = []
    yield started
    for p in started:
        if p.process.poll() is None:
            p.process.kill()
            p.process.wait(5)


def pytest_report_header(config: pytest.Config) -> str:
    from tests.support.data import SETTING, data_dir

    root = data_dir()
    if root is None:
        return f"{SETTING} unset: tests marked 'data' (real evaluation recordings) are deselected"
    return f"{SETTING}={root}: tests marked 'data' run"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without KINETIC_TEST_DATA the tests that read the evaluation recordings are deselected (a fresh clone has
    none beside it); with it, they run and fail if a dataset is missing."""
    from tests.support.data import data_dir

    if data_dir() is not None:
        return
    deselected = [item for item in items if item.get_closest_marker("data")]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = [item for item in items if not item.get_closest_marker("data")]
        config.stash[_NOT_RUN] = [item.nodeid for item in deselected]


_NOT_RUN = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Name the checks that did not run for want of the recordings, and why, at the end of the run: the header
    that says so is not printed under ``-q`` (issue 16 item 4: a fresh clone saw only "3 deselected")."""
    from tests.support.data import SETTING

    not_run = config.stash.get(_NOT_RUN, [])
    if not not_run:
        return
    terminalreporter.write_sep(
        "-", f"{len(not_run)} check{'s' if len(not_run) > 1 else ''} did not run: {SETTING} is unset"
    )
    terminalreporter.write_line(
        f"They read the labelled evaluation recordings, which are not in the repository; set {SETTING} to their "
        "folder to run them (.ci/run uses ../shared/data; docs/evaluation.md). Detection is still scored on the "
        "shipped excerpts (tests/unit/alerts/evaluate/test_fixture_excerpts.py)."
    )
    for nodeid in not_run:
        terminalreporter.write_line(f"  not run: {nodeid}")
