"""Calendar feeds over HTTP on loopback (issue 17, item 1): conditional requests with the server's ETag and
Last-Modified, a 304 costs no download, and the last good copy survives a feed that is down, answers an error or sends
something that is no calendar (and a restart of Kinetic: it is on disk, owner-only)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from aiohttp import web

from alerts.calendars import FeedStore, refresh
from alerts.prompts.calendar import busy_intervals
from tests.support.pipeline import sync

pytestmark = pytest.mark.integration
ZONE = ZoneInfo("Europe/Berlin")


def calendar(hour: int) -> bytes:
    start = (datetime.now(UTC) + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    end = (start + timedelta(minutes=30)).strftime("%Y%m%dT%H%M%SZ")
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:m\r\n"
        f"DTSTART:{stamp}\r\nDTEND:{end}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    ).encode()


@sync
async def test_a_feed_is_fetched_with_caching_and_its_last_good_copy_kept(tmp_path: Path) -> None:
    state = {"body": calendar(9), "etag": '"v1"', "status": 200}
    seen: list[dict[str, str]] = []

    async def ics(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        if state["status"] != 200:
            return web.Response(status=int(state["status"]))  # type: ignore[call-overload]
        if request.headers.get("If-None-Match") == state["etag"]:
            return web.Response(status=304)
        return web.Response(
            body=state["body"],  # type: ignore[arg-type]
            content_type="text/calendar",
            headers={"ETag": str(state["etag"]), "Last-Modified": "Sun, 06 Dec 2026 08:00:00 GMT"},
        )

    app = web.Application()
    app.router.add_get("/secret/basic.ics", ics)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/secret/basic.ics"  # type: ignore[union-attr]
    store = FeedStore(tmp_path / "calendars")
    try:
        async with aiohttp.ClientSession() as session:
            first = await refresh(session, "ann-work", url, store, ZONE)
            assert first.changed and first.problem is None and "If-None-Match" not in seen[0]
            again = await refresh(session, "ann-work", url, store, ZONE)  # unchanged: 304, nothing downloaded
            assert not again.changed and again.problem is None
            assert seen[1]["If-None-Match"] == '"v1"' and seen[1]["If-Modified-Since"].startswith("Sun, 06 Dec")

            state.update(body=b"<html>maintenance</html>", etag='"v2"')
            broken = await refresh(session, "ann-work", url, store, ZONE)
            assert not broken.changed and "not an iCalendar" in (broken.problem or "")
            assert "the copy of" in (broken.problem or "")
            state.update(status=503)
            down = await refresh(session, "ann-work", url, store, ZONE)
            assert "HTTP 503" in (down.problem or "")
            state.update(status=200, body=calendar(14), etag='"v3"')
            assert (await refresh(session, "ann-work", url, store, ZONE)).changed
    finally:
        await runner.cleanup()

    # a fresh start reads the last good copy from disk: the 14:00 meeting, not the broken page
    reread = FeedStore(tmp_path / "calendars").get("ann-work")
    assert reread is not None and reread.etag == '"v3"'
    now = datetime.now(UTC)
    (meeting,) = busy_intervals(reread.body, now, now + timedelta(days=3), ZONE)
    assert datetime.fromtimestamp(meeting.start_ms / 1000, UTC).hour == 14
    assert stat.S_IMODE((tmp_path / "calendars" / "ann-work.json").stat().st_mode) == 0o600


@sync
async def test_a_file_feed_and_an_unreachable_address(tmp_path: Path) -> None:
    store = FeedStore(tmp_path / "calendars")
    path = tmp_path / "work.ics"
    path.write_bytes(calendar(10))
    async with aiohttp.ClientSession() as session:
        assert (await refresh(session, "bob", str(path), store, ZONE)).changed
        assert not (await refresh(session, "bob", str(path), store, ZONE)).changed  # the same file: no change
        gone = await refresh(session, "carol", "http://127.0.0.1:9/none.ics", store, ZONE)
        assert not gone.changed and "no earlier copy" in (gone.problem or "")
        missing = await refresh(session, "bob", str(tmp_path / "moved.ics"), store, ZONE)
        assert "the copy of" in (missing.problem or "") and store.get("bob") is not None
