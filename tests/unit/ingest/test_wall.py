"""The wall between clinics, pure: each point's database by the roster, the consent in force at the point's own time,
and its category; consent books that survive the bridge's spool; the consent ledger's file and events."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ingest.clinics import ClinicsFile
from ingest.consent import ConsentLedger, book_of
from ingest.errors import ConfigError
from ingest.store.points import Point, to_line_protocol
from ingest.store.reroute import spans
from ingest.wall import ConsentBook, Wall, category_of, line_key
from ingest.wire import EventV1, Topics, decode, encode

T0 = 1_764_000_000_000
HOUR = 3_600_000


def wall() -> Wall:
    w = Wall("kinetic", {"ann": "physio-north", "bob": "south"})
    w.consent.grant("ann", "physio-north", frozenset({"posture"}), T0, T0 + 10 * HOUR)
    return w


def line(measurement: str, wearer: str | None, t_ms: int, kind: str | None = None) -> bytes:
    tags = {"wearer": wearer, "kind": kind}
    return to_line_protocol([Point.make(measurement, tags, {"x": 1.0, "note": "a b, c=d"}, t_ms)])


def test_a_point_goes_to_its_clinic_only_while_consent_covers_its_category_and_time() -> None:
    w = wall()
    assert w.database_for("ann", "posture", T0) == "kinetic_physio_north"
    assert w.database_for("ann", "posture", T0 - 1) == "kinetic_private"  # before since
    assert w.database_for("ann", "posture", T0 + 10 * HOUR) == "kinetic_private"  # until is exclusive
    assert w.database_for("ann", "checkins", T0 + 1) == "kinetic_private"  # not granted
    assert w.database_for("bob", "posture", T0 + 1) == "kinetic_private"  # in a clinic, no consent
    assert w.database_for("zed", "posture", T0 + 1) == "kinetic_private"  # in no clinic
    assert w.database_for(None, None, T0) == "kinetic"  # bridge_stats: the operations database


def test_route_splits_a_body_by_database_keeping_each_ones_order() -> None:
    w = wall()
    body = (
        line("features", "ann", T0 + 1)
        + line("features", "bob", T0 + 2)
        + line("events", "ann", T0 + 3, "checkin_pain")
        + line("events", "ann", T0 + 4, "bout_ended")
        + to_line_protocol([Point.make("bridge_stats", {"bridge": "b"}, {"messages": 3}, T0)])
    )
    routed = w.route(body)
    assert set(routed) == {"kinetic_physio_north", "kinetic_private", "kinetic"}
    assert [line_key(x)[2] for x in routed["kinetic_physio_north"].splitlines()] == [T0 + 1, T0 + 4]
    assert [line_key(x)[2] for x in routed["kinetic_private"].splitlines()] == [T0 + 2, T0 + 3]
    assert sum(len(b.splitlines()) for b in routed.values()) == len(body.splitlines())  # nothing lost


def test_line_key_reads_escaped_tags_and_the_time() -> None:
    raw = to_line_protocol([Point.make("events", {"wearer": "ann", "kind": "x y,z"}, {"reason": "a b"}, T0)])
    assert line_key(raw) == ("events", {"kind": "x y,z", "wearer": "ann"}, T0)


@pytest.mark.parametrize(
    ("measurement", "kind", "category"),
    [
        ("features", None, "posture"),
        ("events", "bout_ended", "posture"),
        ("events", "checkin_pain", "checkins"),
        ("events", "checkin", "checkins"),
        ("checkins", None, "checkins"),  # issue 17's own measurements: a pain check-in is not posture data
        ("events", "readiness", "checkins"),  # a readiness decision quotes the check-ins ("pain 6/10")
        ("readiness", None, "checkins"),
        ("events", "exercise_session", "exercise"),
        ("events", "session_done", "exercise"),
        ("events", "session_outcome", "exercise"),
        ("events", "prescription_changed", "exercise"),
        ("events", "progression_proposed", "exercise"),
        ("session_outcomes", None, "exercise"),  # issue 19's own measurements: exercise data, not posture
        ("prescriptions", None, "exercise"),
        ("events", "consent_granted", None),
        ("prompts", None, "posture"),
    ],
)
def test_categories(measurement: str, kind: str | None, category: str | None) -> None:
    assert category_of(measurement, kind) == category


def test_withdrawing_keeps_what_was_shared_before_and_the_other_categories() -> None:
    book = ConsentBook()
    book.grant("ann", "c", frozenset({"posture", "checkins"}), T0, None)
    book.withdraw("ann", "c", frozenset({"posture"}), T0 + HOUR)
    assert book.allows("ann", "c", "posture", T0 + HOUR - 1)
    assert not book.allows("ann", "c", "posture", T0 + HOUR)
    assert book.allows("ann", "c", "checkins", T0 + 5 * HOUR)
    assert ConsentBook.from_state(book.state()) == book  # what the bridge keeps in its spool comes back equal
    book.withdraw("ann", "c", frozenset({"posture", "checkins"}), T0)  # retroactive: nothing stands
    assert book.clinics_now("ann", T0 + HOUR) == {}


def test_spans_cut_time_where_consent_changes() -> None:
    assert spans(wall(), "ann") == [(None, T0), (T0, T0 + 10 * HOUR), (T0 + 10 * HOUR, None)]
    assert spans(wall(), "bob") == [(None, None)]


def test_the_ledger_is_private_append_only_and_every_change_is_a_wire_event(tmp_path: Path) -> None:
    ledger = ConsentLedger(tmp_path / "consent.jsonl")
    granted = ledger.grant("ann", "physio-north", ["checkins", "posture"], T0)
    ledger.withdraw("ann", "physio-north", ["posture"], T0 + HOUR)
    assert stat.S_IMODE((tmp_path / "consent.jsonl").stat().st_mode) == 0o600
    shown = ledger.read("ann", T0 + 2 * HOUR)
    assert shown["now"] == {"physio-north": ["checkins"]}
    assert [c["action"] for c in shown["changes"]] == ["grant", "withdraw"]  # type: ignore[index]
    topics = Topics("kinetic")
    _, event = decode(topics, topics.consent("ann"), encode(granted.event()))  # what the bridge decodes
    assert isinstance(event, EventV1)
    assert event.kind == "consent_granted" and event.consent is not None
    assert event.consent.data == ["posture", "checkins"]
    assert book_of(ledger.changes()).allows("ann", "physio-north", "checkins", T0 + 3 * HOUR)
    with pytest.raises(ConfigError, match="name one or more of posture, checkins, exercise"):
        ledger.grant("ann", "physio-north", ["everything"], T0)
    with pytest.raises(ConfigError, match="--until must be after --since"):
        ledger.grant("ann", "physio-north", ["posture"], T0, T0)


def test_a_consent_kind_carries_consent_and_no_other_kind_does() -> None:
    with pytest.raises(ValueError, match="carry `consent`"):
        EventV1.model_validate({"kind": "consent_granted", "wearer": "ann", "t": "2026-12-01T09:00:00Z"})


def test_a_wearer_lives_in_one_clinic_and_private_is_no_clinic() -> None:
    clinic = {"name": "C", "patients": ["ann"]}
    with pytest.raises(ValueError, match="patient of 'a' and 'b'"):
        ClinicsFile.model_validate({"clinics": [{**clinic, "uid": "a"}, {**clinic, "uid": "b"}]})
    with pytest.raises(ValueError, match="'private' is no clinic uid"):
        ClinicsFile.model_validate({"clinics": [{**clinic, "uid": "private"}]})


def test_a_grant_that_starts_inside_a_run_of_one_series_splits_it_at_its_time() -> None:
    w = Wall("kinetic", {"ann": "north", "bob": "north"})
    w.consent.grant("ann", "north", frozenset({"posture"}), T0 + 2, None)
    run = b"".join(line("features", "ann", T0 + i) for i in range(5))
    others = b"".join(line("features", "bob", T0 + i) for i in range(3))  # no consent: the whole run, private
    routed = w.route(run + others + b"\n")
    assert [line_key(x)[2] for x in routed["kinetic_north"].splitlines()] == [T0 + 2, T0 + 3, T0 + 4]
    private = [(line_key(x)[1]["wearer"], line_key(x)[2]) for x in routed["kinetic_private"].splitlines()]
    assert private == [("ann", T0), ("ann", T0 + 1), ("bob", T0), ("bob", T0 + 1), ("bob", T0 + 2)]


def test_a_change_that_cannot_go_on_the_wire_is_not_recorded(tmp_path: Path) -> None:
    ledger = ConsentLedger(tmp_path / "consent.jsonl")
    with pytest.raises(ConfigError, match="consent change for ann: t: "):
        ledger.grant("ann", "north", ["posture"], 0)  # 1970: before any Kinetic data
    assert ledger.changes() == []


def test_the_ledger_parses_its_file_again_only_when_the_file_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clinic's web view asks the records at every request: an unchanged file is not read again, and a change by
    any writer (this ledger, or another process: the CLI's own ledger here) counts from the next read."""
    path = tmp_path / "consent.jsonl"
    ledger = ConsentLedger(path)
    ledger.grant("ann", "physio-north", ["posture"], T0)
    reads: list[Path] = []
    read_text = Path.read_text

    def counted(self: Path, *args: object, **kwargs: object) -> str:
        reads.append(self)
        return read_text(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "read_text", counted)
    first = ledger.book()
    for _ in range(5):
        assert ledger.book() == first and ledger.book().allows("ann", "physio-north", "posture", T0 + HOUR)
    assert reads == [path]
    first.grants.clear()  # a caller's copy: changing it changes nothing the ledger holds
    assert ledger.book().allows("ann", "physio-north", "posture", T0 + HOUR)
    ConsentLedger(path).withdraw("ann", "physio-north", ["posture"], T0 + HOUR)  # the wearer, from another process
    assert not ledger.book().allows("ann", "physio-north", "posture", T0 + 2 * HOUR)
    assert reads == [path, path]
    assert [c.action for c in ledger.changes("ann")] == ["grant", "withdraw"] and len(reads) == 2
    path.unlink()
    assert ledger.changes() == [] and ledger.book() == ConsentBook()
