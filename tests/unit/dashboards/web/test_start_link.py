"""Issue 19 item 2: a session starts "from a prompt": on the Prompts page an open prompt whose exercise the guided
session page can start (in the catalog and, with a prescriptions file, prescribed to the wearer) offers Start beside
Done and Snooze, as its ntfy notification does; an exercise the alert service would refuse offers none."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerts.prompts.catalog import load_catalog
from alerts.prompts.prescription import Prescribed
from dashboards.web.app import WebState
from dashboards.web.live import LiveBoard
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.wire import CommandV1
from tests.support.prompts import sitting_prompt
from tests.unit.dashboards.web.test_audit import _get

T = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)  # in the week the page shows by default


def stored(path: Path, exercises: list[str]) -> None:
    async def write() -> None:
        sink = EmbeddedSink(path)
        for i, exercise in enumerate(exercises):
            created = T + timedelta(minutes=10 * i)
            prompt = sitting_prompt(f"p{i}", exercise, created, wearer="w1", lasts=timedelta(minutes=30))
            body, _ = sink.encode_message(prompt, int(created.timestamp() * 1000))
            await sink.write_lines(body)
        await sink.aclose()

    asyncio.run(write())


def start_links(state: WebState) -> list[str]:
    status, body = asyncio.run(_get(state, "/w/w1/prompts"))
    assert status == 200, body[:300]
    html = body.decode()
    return [part.split('"')[0] for part in html.split('href="/w/w1/session?exercise=')[1:]]


def test_an_open_prompt_offers_start_only_for_an_exercise_the_session_page_can_start(tmp_path: Path) -> None:
    catalog = {e.id: e for e in load_catalog()}
    assert "controlled-sit-to-stand" in catalog and "hip-opening-sequence" in catalog
    store = tmp_path / "k.sqlite"
    stored(store, ["controlled-sit-to-stand", "hip-opening-sequence"])

    async def nothing(command: CommandV1) -> None:
        raise AssertionError("no command is sent by a read")

    def state(prescriptions: dict[str, list[Prescribed]] | None) -> WebState:
        return WebState(
            queries=EmbeddedQueries(store),
            board=LiveBoard(),
            publish=nothing,
            catalog=catalog,
            prescriptions=None if prescriptions is None else (lambda: prescriptions),
        )

    # no prescriptions file: every catalog exercise may be started
    assert sorted(start_links(state(None))) == ["controlled-sit-to-stand", "hip-opening-sequence"]
    # a prescriptions file: only what is prescribed to the wearer
    prescribed = Prescribed(exercise="controlled-sit-to-stand", sets=1, reps=5, per_day=1)
    assert start_links(state({"w1": [prescribed]})) == ["controlled-sit-to-stand"]
    assert start_links(state({"w2": [prescribed]})) == []
