"""The web app's audit of reads (issue 20 item 4), driven through its ASGI interface in-process: a page that shows
a wearer's data is an entry of the server's one writer, and a trail that cannot be written refuses the page (503)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from dashboards.web.app import WebState, build_app
from dashboards.web.live import LiveBoard
from ingest.audit import AuditLog
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.wire import CommandV1, EventV1
from tests.support.asgi import asgi_request


async def _nothing(command: CommandV1) -> None:
    raise AssertionError("no command is sent by a read")


async def _get(state: WebState, path: str) -> tuple[int, bytes]:
    """One GET through the app's ASGI callable: (status, body)."""
    status, body, _ = await asgi_request(build_app(state), "GET", path)
    return status, body


def _state(tmp_path: Path, audit: AuditLog) -> WebState:
    store = tmp_path / "k.sqlite"

    async def make() -> None:
        await EmbeddedSink(store).aclose()

    asyncio.run(make())
    board = LiveBoard()
    t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    board.feed(EventV1(kind="bout_started", wearer="w1", t=t, posture="sitting", bout_start=t))
    return WebState(queries=EmbeddedQueries(store), board=board, publish=_nothing, audit=audit, actor="ann@laptop")


def test_a_read_is_an_entry_of_the_one_writer(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.sqlite", 30)
    state = _state(tmp_path, audit)
    status, _ = asyncio.run(_get(state, "/w/w1/settings"))
    assert status == 200
    status, _ = asyncio.run(_get(state, "/w/nobody/settings"))
    assert status == 404
    [entry] = audit.for_wearer("w1")
    assert (entry["actor"], entry["action"], entry["detail"]) == (
        "ann@laptop",
        "web settings",
        "policy and devices (from 127.0.0.1)",
    )
    assert audit.for_wearer("nobody") == []
    audit.close()


def test_a_trail_that_cannot_be_written_refuses_the_page(tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "audit.sqlite", 30)
    state = _state(tmp_path, audit)
    audit.close()  # the writer is gone: an entry cannot be written
    status, body = asyncio.run(_get(state, "/w/w1/settings"))
    assert status == 503
    assert body.decode().startswith("the audit trail could not be written") and "w1" not in body.decode()
