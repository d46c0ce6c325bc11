"""Calendar feed settings (issue 17): addresses are secrets (from a secret file, masked in ``kinetic config``), bad
values are one line naming the setting, and the service builds its refresher from them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest

from alerts.engine import AlertEngine, EngineConfig
from alerts.prompts.catalog import load_catalog
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from alerts.run import calendar_refresher
from alerts.settings import AlertsSettings
from ingest.errors import ConfigError
from kinetic.settings import load_settings
from tests.unit.kinetic.test_settings import kinetic

SECRET = "https://calendar.example.org/private-5f2a9c/basic.ics"


def test_feeds_come_from_a_secret_file_and_kinetic_config_masks_them(tmp_path: Path) -> None:
    (tmp_path / "KINETIC_ALERTS__CALENDAR_FEEDS").write_text(f'{{"ann": ["{SECRET}", "/home/ann/work.ics"]}}')
    settings = load_settings(
        secrets_dir=tmp_path, environ={"KINETIC_ALERTS__CALENDAR_ADDRESSES": '{"ann": ["mailto:Ann@Example.org"]}'}
    )
    assert [f.get_secret_value() for f in settings.alerts.calendar_feeds["ann"]] == [SECRET, "/home/ann/work.ics"]
    assert settings.alerts.calendar_addresses == {"ann": ["ann@example.org"]}
    out = kinetic("config", env={"KINETIC_SECRETS_DIR": str(tmp_path)})
    assert out.returncode == 0 and "private-5f2a9c" not in out.stdout and "work.ics" not in out.stdout
    assert 'KINETIC_ALERTS__CALENDAR_FEEDS={"ann": ["**********", "**********"]}' in out.stdout  # JSON, masked


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KINETIC_ALERTS__CALENDAR_FEEDS": '{"Ann": ["x.ics"]}'}, "wearer id 'Ann' must be lower-case"),
        ({"KINETIC_ALERTS__CALENDAR_FEEDS": '{"ann": [" "]}'}, "a feed is empty"),
        (
            {"KINETIC_ALERTS__CALENDAR_REFRESH_MIN": "0.1"},
            "KINETIC_ALERTS__CALENDAR_REFRESH_MIN: Input should be greater",
        ),
    ],
)
def test_a_bad_calendar_setting_is_one_line(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(environ=env)


def test_the_refresher_reads_each_wearers_zone_and_addresses_from_the_settings(tmp_path: Path) -> None:
    feed = tmp_path / "ann.ics"
    feed.write_text(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:x\r\nBEGIN:VEVENT\r\nUID:a\r\nDTSTART:20261207T090000\r\n"
        "DTEND:20261207T100000\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:b\r\nDTSTART:20261207T110000\r\n"
        "DTEND:20261207T120000\r\nATTENDEE;PARTSTAT=DECLINED:mailto:ann@example.org\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    settings = AlertsSettings(
        calendar_feeds={"ann": [str(feed)]},  # type: ignore[list-item]
        calendar_addresses={"ann": ["Ann@Example.org"]},
    )
    book = PolicyBook(PromptPolicy(), {"ann": {"timezone": "Europe/Berlin"}})
    engine = AlertEngine(EngineConfig(), load_catalog(), book)

    async def once() -> None:
        async with aiohttp.ClientSession() as session:
            refresher = calendar_refresher(settings, engine, tmp_path / "state", session)
            assert refresher is not None
            await refresher.refresh_all(datetime(2026, 12, 7, 12, tzinfo=UTC))

    asyncio.run(once())
    (meeting,) = engine.busy["ann"]  # the declined one holds nothing; floating 09:00 is Berlin's
    start = meeting.start_ms / 1000
    assert datetime.fromtimestamp(start, ZoneInfo("Europe/Berlin")).hour == 9
    assert calendar_refresher(AlertsSettings(), engine, None, None) is None  # type: ignore[arg-type]
