"""The web app's audit of reads (issue 20 item 4), driven through its ASGI interface in-process: a page that shows
a wearer's data is an entry of the server's one writer, and a trail that cannot be written refuses the page (503)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dashboards.web.app import WebState, build_app
from dashboards.web.live import LiveBoard
from ingest.audit import AuditLog
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.wire import CommandV1, EventV1


async def _nothing(command: CommandV1) -> None:
    raise AssertionError("no command is sent by a read")


async def _get(state: WebState, path: str) -> tuple[int, bytes]:
    """One GET through the app's ASGI callable: (status, body)."""
    app = build_app(state)
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8765")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
        "root_path": "",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


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
