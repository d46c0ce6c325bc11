"""`kinetic prescription propose` judges each wearer's week on the wearer's own clock (their policy's time zone), as
the weekly report cuts it; --tz sets one zone for everyone (issue 19 item 4)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.errors import ConfigError
from kinetic.prescriptions import proposal_weeks

BOOK = PolicyBook(PromptPolicy(), {"ann": {"timezone": "Pacific/Auckland"}, "bob": {"timezone": "America/Chicago"}})


def ms(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * 1000)


def test_each_wearers_week_starts_at_their_own_monday_midnight() -> None:
    weeks = proposal_weeks(["ann", "bob", "cy"], BOOK, None, "2026-W50", datetime(2026, 12, 14, tzinfo=UTC))
    assert weeks["ann"] == ("2026-W50", ms("2026-12-07T00:00+13:00"), ms("2026-12-14T00:00+13:00"))
    assert weeks["bob"] == ("2026-W50", ms("2026-12-07T00:00-06:00"), ms("2026-12-14T00:00-06:00"))
    assert weeks["cy"] == ("2026-W50", ms("2026-12-07T00:00+00:00"), ms("2026-12-14T00:00+00:00"))  # no zone: UTC


def test_the_last_whole_week_is_the_wearers_and_tz_overrides_every_policy() -> None:
    # Monday 14 December 08:00 UTC is already Monday evening in Auckland, still Monday 02:00 in Chicago: both last
    # whole weeks are W50 (7-13 December)
    now = datetime(2026, 12, 14, 8, tzinfo=UTC)
    weeks = proposal_weeks(["ann", "bob"], BOOK, None, None, now)
    assert {w: name for w, (name, _, _) in weeks.items()} == {"ann": "2026-W50", "bob": "2026-W50"}
    # Sunday 13 December 20:00 UTC: Monday 14 in Auckland (last week W50), Sunday in Chicago (last week W49)
    sunday = datetime(2026, 12, 13, 20, tzinfo=UTC)
    weeks = proposal_weeks(["ann", "bob"], BOOK, None, None, sunday)
    assert {w: name for w, (name, _, _) in weeks.items()} == {"ann": "2026-W50", "bob": "2026-W49"}
    given = proposal_weeks(["ann", "bob"], BOOK, "UTC", "2026-W50", sunday)
    assert given["ann"][1:] == given["bob"][1:] == (ms("2026-12-07T00:00+00:00"), ms("2026-12-14T00:00+00:00"))


@pytest.mark.parametrize(
    ("tz", "week", "message"), [("Mars/Olympus", None, "--tz 'Mars/Olympus'"), (None, "2026-W60", "W60")]
)
def test_a_bad_zone_or_week_is_one_config_error(tz: str | None, week: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        proposal_weeks(["ann"], BOOK, tz, week, datetime(2026, 12, 14, tzinfo=UTC))
