"""The live board: Kinetic's messages -> the Today page's live card, in the wearer's event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from dashboards.web.live import LiveBoard
from ingest.wire import CommandV1, ConsentV1, EventV1, FeatureBatchV1, FeatureFrameV1, PromptV1

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ms(minutes: float) -> int:
    return round(at(minutes).timestamp() * 1000)


def started(posture: str, minutes: float) -> EventV1:
    return EventV1(kind="bout_started", wearer="ann", t=at(minutes), posture=posture, bout_start=at(minutes))


def frame(minutes: float, lean_deg: float | None = None) -> FeatureBatchV1:
    f = FeatureFrameV1(t_ms=ms(minutes), incl_deg=10.0, lean_deg=lean_deg, enmo_mg=1.0, n=50)
    return FeatureBatchV1(wearer="ann", device="ann-trunk", placement="trunk", seq=0, frames=[f])


def test_a_sitting_bout_shows_its_duration_and_the_threshold_ahead_at_the_wearers_clock() -> None:
    board = LiveBoard(PolicyBook(wearers={"ann": {"sitting_threshold_min": 20}}))
    assert board.feed(started("sitting", 0)) == "ann"
    board.feed(frame(12, lean_deg=-4.0))
    s = board.snapshot("ann")
    assert (s["posture"], s["posture_s"], s["lean_deg"]) == ("sitting", 720.0, -4.0)
    assert s["sitting_bout"] == {"start_ms": ms(0), "duration_s": 720.0, "threshold_s": 1200.0, "ahead_s": 480.0}
    board.feed(frame(25))  # past the threshold: negative ahead; the lean stays the newest known
    assert board.snapshot("ann")["sitting_bout"]["ahead_s"] == -300.0
    assert board.snapshot("ann")["lean_deg"] == -4.0


def test_standing_up_ends_the_sitting_bout_and_counts_it() -> None:
    board = LiveBoard()
    board.feed(started("sitting", 0))
    board.feed(EventV1(kind="bout_ended", wearer="ann", t=at(31), posture="sitting", bout_start=at(0), duration_s=1860))
    s = board.snapshot("ann")
    assert (s["posture"], s["sitting_bout"], s["bouts_ended"]) == (None, None, 1)
    board.feed(started("standing", 31))
    board.feed(frame(33))
    s = board.snapshot("ann")
    assert (s["posture"], s["posture_s"], s["sitting_bout"]) == ("standing", 120.0, None)


def test_an_outcome_or_an_hours_summary_does_not_move_the_clock_back_or_forward() -> None:
    board = LiveBoard()
    board.feed(frame(60))
    board.feed(EventV1(kind="prompt_outcome", wearer="ann", t=at(30), prompt_id="p", trigger="sitting", exercise="x"))
    board.feed(EventV1(kind="summary", wearer="ann", t=at(120), metrics={"sitting_s": 10.0}))
    s = board.snapshot("ann")
    assert (s["now_ms"], s["outcomes_seen"]) == (ms(60), 1)


def test_prompts_pauses_and_live_policy_overrides_are_followed() -> None:
    board = LiveBoard()
    prompt = PromptV1(
        id="ann-1",
        wearer="ann",
        trigger="sitting",
        exercise="x",
        title="Stand up",
        text="Now.",
        created=at(30),
        expires=at(45),
        attempt=2,
    )
    board.feed(prompt)
    assert board.snapshot("ann")["last_prompt"] == {
        "id": "ann-1",
        "title": "Stand up",
        "exercise": "x",
        "trigger": "sitting",
        "created_ms": ms(30),
        "attempt": 2,
    }
    board.feed(CommandV1(kind="pause", wearer="ann", at=at(31), until=at(91)))
    assert (board.snapshot("ann")["paused"], board.snapshot("ann")["paused_until_ms"]) == (True, ms(91))
    board.feed(CommandV1(kind="resume", wearer="ann", at=at(32)))
    assert board.snapshot("ann")["paused"] is False
    board.feed(CommandV1(kind="policy", wearer="ann", at=at(33), settings={"sitting_threshold_min": 25}))
    assert board.policy("ann").sitting_threshold_min == 25
    board.feed(CommandV1(kind="policy", wearer="ann", at=at(34), settings={"sitting_threshold_min": -1}))
    assert board.policy("ann").sitting_threshold_min == 25  # refused, as the alert service refuses it
    board.feed(CommandV1(kind="policy", wearer="ann", at=at(35), settings={"sitting_threshold_min": "default"}))
    assert board.policy("ann") == PromptPolicy()
    assert board.wearers() == ["ann"]
    version = board.snapshot("ann")["version"]
    board.feed(CommandV1(kind="forget", wearer="ann", at=at(36)))
    assert board.snapshot("ann")["last_prompt"] is None
    assert board.snapshot("ann")["version"] > version  # a page ignores older snapshots: this one is newer


def test_events_a_person_timed_do_not_move_the_wearers_clock() -> None:
    """A session's end, a check-in, a consent change or a prescription is stamped when a person acted (the host's
    clock): during a replayed day, a month before, it sent the Today page to a date with no data."""
    board = LiveBoard()
    board.feed(frame(60))
    host_now = at(60 * 24 * 30)
    for kind in ("session_outcome", "checkin", "prescription_changed", "policy_changed"):
        board.feed(EventV1(kind=kind, wearer="ann", t=host_now, reason="a person acted"))
    board.feed(
        EventV1(kind="consent_granted", wearer="ann", t=host_now, consent=ConsentV1(clinic="c", data=["posture"]))
    )
    board.feed(EventV1(kind="prompt_sent", wearer="ann", t=at(61), prompt_id="p", trigger="sitting", exercise="x"))
    assert board.get("ann") is not None and board.get("ann").now_ms == ms(61)  # type: ignore[union-attr]


def test_an_erased_wearer_is_not_listed_until_heard_from_again() -> None:
    """``kinetic data delete`` sends a forget: the app listed the wearer still (an empty entry kept for the pages'
    version), so ``/`` named them and an unknown wearer's 404 listed them among the wearers with data."""
    board = LiveBoard()
    board.feed(frame(1))
    board.feed(CommandV1(kind="forget", wearer="ann", at=at(2)))
    assert board.wearers() == []
    board.feed(frame(3))
    assert board.wearers() == ["ann"]
