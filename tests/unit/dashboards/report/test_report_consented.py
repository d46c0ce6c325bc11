"""A clinic's weekly report shows only what the wearer grants the clinic, and only for the times the grants cover
(issue 20): without the wall the store holds every category, so the report reads through ``ConsentedQueries``."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest

from dashboards.report.consented import ConsentedQueries
from dashboards.report.weekly import weekly_report
from ingest.errors import ConfigError
from ingest.store.embedded import EmbeddedSink
from ingest.store.points import Point
from ingest.store.queries import ReadinessRow, ResponseRow
from ingest.wall import ConsentBook
from kinetic.cli import main
from tests.unit.dashboards.report.test_report import Weeks, ms
from tests.unit.dashboards.report.test_report_checkins import WeeksWithCheckIns

NORTH = "physio-north"


class Week(WeeksWithCheckIns):
    """``WeeksWithCheckIns``, its readiness decisions by the range asked too (as a store answers)."""

    async def readiness(self, wearer: str, start_ms: int, end_ms: int) -> list[ReadinessRow]:
        return [r for r in await super().readiness(wearer, start_ms, end_ms) if start_ms <= r.t_ms < end_ms]


def test_only_the_granted_categories_and_only_while_granted() -> None:
    """Posture from Monday 10:00; check-ins from Monday 12:00, withdrawn on Wednesday; exercise never."""
    book = ConsentBook()
    book.grant("ann", NORTH, frozenset({"posture"}), ms(2026, 11, 16, 10), None)
    book.grant("ann", NORTH, frozenset({"checkins"}), ms(2026, 11, 16, 12), None)
    book.withdraw("ann", NORTH, frozenset({"checkins"}), ms(2026, 11, 18))
    queries = ConsentedQueries(Week(), "ann", NORTH, book)  # type: ignore[arg-type]
    report = asyncio.run(weekly_report(queries, "ann", "2026-W47", "Europe/Berlin"))  # type: ignore[arg-type]
    monday, tuesday, wednesday = report.days[:3]
    assert monday.sitting_min == 60  # the 10:00 hour; the 9:00 one was recorded before the grant
    assert (monday.pain_max, monday.checkins) == (6.0, 1)  # 18:00 only: 8:00 came before the grant
    assert monday.day_type is None and tuesday.day_type == "capacity"  # Monday's readiness was decided at 8:00
    assert wednesday.pain_max is None  # withdrawn from Wednesday on
    assert report.previous.sitting_h == 0 and all(not w.days_with_data for w in report.history)  # before any grant
    other = ConsentedQueries(Week(), "bob", NORTH, book)  # type: ignore[arg-type]
    assert asyncio.run(other.hours("ann", 0, ms(2027, 1, 1))) == []  # a query for anyone else: nothing
    assert asyncio.run(other.checkins("bob", 0, ms(2027, 1, 1))) == []  # bob granted nothing


def test_responses_are_summed_over_the_granted_parts_of_a_range() -> None:
    class Responses(Weeks):
        async def responses(self, wearer: str, start_ms: int, end_ms: int) -> list[ResponseRow]:
            return [ResponseRow("chin-tuck", 2, 1, 1, 1, 0), ResponseRow("*", 2, 1, 1, 1, 0)]

    book = ConsentBook()
    book.grant("ann", NORTH, frozenset({"posture"}), 0, 10)
    book.grant("ann", NORTH, frozenset({"posture"}), 20, 30)
    book.grant("ann", NORTH, frozenset({"posture"}), 25, 40)  # overlapping: one period, 20-40
    queries = ConsentedQueries(Responses(), "ann", NORTH, book)  # type: ignore[arg-type]
    assert queries.spans("ann", "posture", 5, 100) == [(5, 10), (20, 40)]
    assert asyncio.run(queries.responses("ann", 5, 100)) == [
        ResponseRow("chin-tuck", 4, 2, 2, 2, 0),
        ResponseRow("*", 4, 2, 2, 2, 0),
    ]
    with pytest.raises(ConfigError, match="exports nothing"):
        asyncio.run(queries.export("ann"))


def test_kinetic_report_weekly_for_a_clinic_without_the_wall(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One shared store (the embedded one): the report for the clinic leaves out the check-ins it was not granted and
    the hours recorded before the grant; the wearer's own report has them all."""
    store, clinics, consent = tmp_path / "k.sqlite", tmp_path / "clinics.yaml", tmp_path / "consent.jsonl"
    clinics.write_text(f"clinics:\n  - {{uid: {NORTH}, name: North, patients: [ann]}}\n")

    async def fill() -> None:
        sink = EmbeddedSink(store)
        points = [
            Point.make("summary_1h", {"wearer": "ann"}, {"sitting_s": 3600.0, "breaks": 1.0}, ms(2026, 11, 16, h))
            for h in (9, 10)
        ]
        points.append(Point.make("checkins", {"wearer": "ann"}, {"pain": 7.0}, ms(2026, 11, 16, 11)))
        try:
            await sink.write_lines(sink.encode(points))
        finally:
            await sink.aclose()

    asyncio.run(fill())
    for name, value in {
        "KINETIC_STORE__KIND": "embedded",
        "KINETIC_STORE__EMBEDDED_PATH": str(store),
        "KINETIC_STORE__CLINICS_FILE": str(clinics),
        "KINETIC_STORE__CONSENT_PATH": str(consent),
        "XDG_DATA_HOME": str(tmp_path / "data"),
    }.items():
        monkeypatch.setenv(name, value)
    since = "2026-11-16T10:00:00+01:00"
    assert (
        main(["consent", "grant", "ann", "--clinic", NORTH, "--data", "posture", "--since", since, "--no-broker"]) == 0
    )

    def monday(*extra: str) -> dict[str, str]:
        out = tmp_path / "-".join(["out", *extra])
        args = ["report", "weekly", "--wearer", "ann", "--week", "2026-W47", "--tz", "Europe/Berlin", "--out", str(out)]
        assert main([*args, *extra]) == 0
        [path] = out.glob("*.csv")
        return next(csv.DictReader(path.read_text().splitlines()))

    own, clinic = monday(), monday("--clinic", NORTH)
    assert (float(own["sitting_min"]), float(own["pain_max"])) == (120.0, 7.0)
    assert float(clinic["sitting_min"]) == 60.0 and clinic["pain_max"] == ""
