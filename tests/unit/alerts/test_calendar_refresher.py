"""The calendar refresher's own rules (issue 17): a wearer's feeds merged, each kind of problem logged once and
counted, a failure inside a refresh (a bug, a full disk) never stops the loop nor drops the wearer's meetings."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from alerts.calendars import BusyRule, CalendarRefresher, FeedStore
from alerts.prompts.calendar import Busy

NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def ics(*hours: int) -> str:
    events = "".join(
        f"BEGIN:VEVENT\r\nUID:{h}\r\nDTSTART:20261207T{h:02d}0000Z\r\nDTEND:20261207T{h:02d}3000Z\r\nEND:VEVENT\r\n"
        for h in hours
    )
    return f"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\n{events}END:VCALENDAR\r\n"


def ms(hour: int) -> tuple[int, int]:
    start = round(datetime(2026, 12, 7, hour, tzinfo=UTC).timestamp() * 1000)
    return start, start + 30 * 60_000


def refresher(
    feeds: dict[str, list[str]], folder: Path | None, busy: dict[str, list[Busy]], session: aiohttp.ClientSession
) -> CalendarRefresher:
    return CalendarRefresher(
        feeds,
        FeedStore(folder),
        lambda wearer: BusyRule(ZoneInfo("UTC")),
        busy.__setitem__,
        every_s=0.01,
        session=session,
    )


def test_feeds_merge_a_malformed_one_keeps_its_last_good_copy_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    work, home = tmp_path / "work.ics", tmp_path / "home.ics"
    work.write_text(ics(9, 10))
    home.write_text(ics(10, 14))
    busy: dict[str, list[Busy]] = {}

    async def scenario() -> CalendarRefresher:
        async with aiohttp.ClientSession() as session:
            r = refresher({"ann": [str(work), str(home)]}, None, busy, session)
            await r.refresh_all(NOW)
            assert [(b.start_ms, b.end_ms) for b in busy["ann"]] == [ms(9), ms(10), ms(14)]
            home.write_text("not a calendar")
            for _ in range(3):
                await r.refresh_all(NOW)
            assert len(busy["ann"]) == 3  # the home feed's last good copy is kept
            assert r.problems == 3 and r.problem_kinds == {"malformed": 3}
            home.write_text(ics(15))
            await r.refresh_all(NOW)
            assert [(b.start_ms, b.end_ms) for b in busy["ann"]] == [ms(9), ms(10), ms(15)] and r.problems == 3
            return r

    with caplog.at_level(logging.INFO, logger="alerts.calendars"):
        asyncio.run(scenario())
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "malformed" in warnings[0].getMessage()  # once, not each round
    assert any("refreshed again" in r.getMessage() for r in caplog.records)


def test_a_failure_inside_a_refresh_is_counted_and_the_loop_goes_on(tmp_path: Path) -> None:
    feed = tmp_path / "work.ics"
    feed.write_text(ics(9))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the copies' folder should be")  # storing a copy raises
    busy: dict[str, list[Busy]] = {"ann": [Busy(1, 2)]}

    async def scenario() -> CalendarRefresher:
        async with aiohttp.ClientSession() as session:
            r = refresher({"ann": [str(feed)]}, blocked, busy, session)
            await r.refresh_all(NOW)
            assert busy["ann"] == [Busy(1, 2)]  # the round failed: the earlier meetings stay
            task = asyncio.create_task(r.run())  # the copy is in memory though not on disk: later rounds use it
            while r.rounds < 3:
                await asyncio.sleep(0.01)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            return r

    r = asyncio.run(scenario())
    assert r.problem_kinds == {"internal": 1} and [(b.start_ms, b.end_ms) for b in busy["ann"]] == [ms(9)]


def test_run_again_keeps_the_schedule(tmp_path: Path) -> None:
    """The service runs the refresher once per broker connection: a reconnect does not fetch the feeds again early."""
    feed = tmp_path / "work.ics"
    feed.write_text(ics(9))

    async def scenario() -> int:
        async with aiohttp.ClientSession() as session:
            r = refresher({"ann": [str(feed)]}, None, {}, session)
            r.every_s = 3600.0
            for _ in range(3):  # three connections in a row
                task = asyncio.create_task(r.run())
                await asyncio.sleep(0.05)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            return r.rounds

    assert asyncio.run(scenario()) == 1


def test_forget_drops_the_wearers_kept_copies(tmp_path: Path) -> None:
    feed = tmp_path / "work.ics"
    feed.write_text(ics(9))
    folder = tmp_path / "calendars"

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            r = refresher({"ann": [str(feed)], "bob": [str(feed)]}, folder, {}, session)
            await r.refresh_all(NOW)
            assert len(list(folder.iterdir())) == 2
            r.forget("ann")
            (left,) = folder.iterdir()
            assert left.name.startswith("bob-") and not [n for n in r.store.copies if n.startswith("ann-")]

    asyncio.run(scenario())
