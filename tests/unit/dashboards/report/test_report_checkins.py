"""The weekly report's check-ins and readiness per day, beside sitting, long bouts and lean (issue 17, item 3)."""

from __future__ import annotations

import asyncio
from html import escape
from pathlib import Path

from dashboards.report import render
from dashboards.report.weekly import weekly_report
from ingest.store.queries import CheckInRow, OutcomeRow, PrescriptionRow, PromptEventRow, ReadinessRow, SessionRow
from tests.unit.dashboards.report.test_report import Weeks, ms


class WeeksWithCheckIns(Weeks):
    """``Weeks`` (2 h sitting on Monday 16 November) with check-ins on Monday (pain 3, then 6 with high stress) and
    on Wednesday, a day without posture data (pain 2); readiness decided on Monday (relief) and Tuesday."""

    async def checkins(self, wearer: str, start_ms: int, end_ms: int) -> list[CheckInRow]:
        rows = [
            CheckInRow(ms(2026, 11, 16, 8), 3.0, None),
            CheckInRow(ms(2026, 11, 16, 18), 6.0, 2.0),
            CheckInRow(ms(2026, 11, 18, 9), 2.0, 0.0),
            CheckInRow(ms(2026, 11, 9, 9), 9.0, None),  # the week before: not this week's
        ]
        return [r for r in rows if start_ms <= r.t_ms < end_ms]

    async def session_outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[SessionRow]:
        return []

    async def prescriptions(self, wearer: str, start_ms: int, end_ms: int) -> list[PrescriptionRow]:
        return []

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        return [
            ReadinessRow(ms(2026, 11, 16, 8), "relief", "relief day: 5.2 h lying last night", {"lying_h": 5.2}),
            ReadinessRow(ms(2026, 11, 17, 8), "capacity", "capacity day: HRV within your normal range", {}),
        ]


def test_check_ins_and_readiness_per_day_in_the_report_and_the_csv(tmp_path: Path) -> None:
    report = asyncio.run(weekly_report(WeeksWithCheckIns(), "ann", "2026-W47", "Europe/Berlin"))  # type: ignore[arg-type]
    monday, tuesday, wednesday = report.days[:3]
    assert (monday.pain_max, monday.stress_max, monday.checkins, monday.day_type) == (6.0, 2.0, 2, "relief")
    assert (tuesday.pain_max, tuesday.checkins, tuesday.day_type) == (None, 0, "capacity")
    assert not wednesday.has_data and (wednesday.pain_max, wednesday.stress_max) == (2.0, 0.0)
    assert wednesday.row()["sitting_min"] is None and wednesday.row()["pain_max"] == 2.0  # no posture, a check-in
    html = render.html(report)
    table = html[html.index('<table class="per-day checkins">') :]
    table = table[: table.index("</table>")]
    assert "<td>Sitting (min)</td><td>120</td>" in table
    assert "<td>Pain, highest (0-10)</td><td>6</td>" in table and "<td>Stress, highest</td><td>high</td>" in table
    assert "<td>Readiness</td><td>relief</td><td>capacity</td>" in table
    assert escape("Mon 16: relief day: 5.2 h lying last night") in html
    _, csv_path = render.write(report, tmp_path)
    header, first, _, third, *_ = csv_path.read_text().splitlines()
    assert header.endswith(",pain_max,stress_level_max,relief_day")
    assert first.endswith(",6.0,2.0,1") and third.endswith(",2.0,0.0,")


class WeeksWithMeetings(Weeks):
    """``Weeks`` with Monday's meetings: a prompt held in the 9:00 meeting and sent after it as the after-meeting
    exercise (the wearer stood up within 5 min), a second held and sent after a 14:00 meeting (they stayed seated),
    and a prompt held for do-not-disturb (not a meeting); on Tuesday one after-meeting prompt."""

    async def prompt_events(self, wearer: str, start_ms: int, end_ms: int) -> list[PromptEventRow]:
        def event(day: int, hour: int, minute: int, kind: str, reason: str, pid: str | None) -> PromptEventRow:
            return PromptEventRow(ms(2026, 11, day, hour, minute), kind, pid, "sitting", None, reason)

        rows = [
            event(16, 9, 30, "prompt_held", "meeting", None),
            event(16, 10, 2, "prompt_sent", "after_meeting", "p1"),
            event(16, 14, 30, "prompt_held", "meeting", None),
            event(16, 15, 2, "prompt_sent", "after_meeting", "p2"),
            event(16, 16, 0, "prompt_held", "dnd", None),
            event(16, 16, 30, "prompt_sent", "held: dnd", "p3"),
            event(17, 11, 2, "prompt_sent", "after_meeting", "p4"),
            event(9, 11, 2, "prompt_sent", "after_meeting", "p0"),  # the week before
        ]
        return [r for r in rows if start_ms <= r.t_ms < end_ms]

    async def outcomes(self, wearer: str, start_ms: int, end_ms: int) -> list[OutcomeRow]:
        def outcome(pid: str, moved: bool) -> OutcomeRow:
            return OutcomeRow(
                ms(2026, 11, 16, 10),
                pid,
                "sitting",
                "hip-opening-sequence",
                moved,
                moved,
                moved,
                False,
                False,
                "moved" if moved else "stayed",
            )

        return [outcome("p1", True), outcome("p2", False), outcome("p3", True), outcome("p4", True)]


def test_meetings_held_prompts_and_after_meeting_response_per_day() -> None:
    report = asyncio.run(weekly_report(WeeksWithMeetings(), "ann", "2026-W47", "Europe/Berlin"))  # type: ignore[arg-type]
    monday, tuesday, wednesday = report.days[:3]
    assert (monday.held_in_meetings, monday.after_meeting, monday.after_meeting_moved_5min) == (2, 2, 1)
    assert (tuesday.held_in_meetings, tuesday.after_meeting, tuesday.after_meeting_moved_5min) == (0, 1, 1)
    assert (wednesday.held_in_meetings, wednesday.after_meeting) == (0, 0)
    html = render.html(report)
    table = html[html.index('<table class="per-day checkins">') :]
    table = table[: table.index("</table>")]
    nodata = '<td class="nodata">no data</td>'
    assert f"<td>Prompts held in meetings</td><td>2</td><td>0</td>{nodata}" in table  # Tuesday: prompts, no data
    assert f"<td>After-meeting prompts (moved within 5 min)</td><td>2 (1)</td><td>1 (1)</td>{nodata}" in table
    assert "After-meeting prompts this week: 3, followed by a break within 5 min: 2 (67 %)." in html
