"""Kinetic's messages folded into Home Assistant states (dashboards/homeassistant/states.py), in event time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from alerts.detect.summary import POSTURES
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from dashboards.homeassistant.entities import HaTopics
from dashboards.homeassistant.states import NONE_PAYLOAD, Publication, StateTracker
from ingest.wire import (
    CollectorStatusV1,
    CommandV1,
    DeviceStatusV1,
    EventV1,
    FeatureBatchV1,
    FeatureFrameV1,
    Payload,
    PromptV1,
)

TOPICS = HaTopics("kinetic")
BERLIN = PolicyBook(PromptPolicy(timezone="Europe/Berlin"))
# Monday 2026-12-07, 08:00 in Berlin (07:00 UTC)
MONDAY_8 = datetime(2026, 12, 7, 7, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return MONDAY_8 + timedelta(minutes=minutes)


def ms(minutes: float) -> int:
    return round(at(minutes).timestamp() * 1000)


def frames(minutes: float, device: str = "thigh", wearer: str = "ann") -> FeatureBatchV1:
    frame = FeatureFrameV1(t_ms=ms(minutes), incl_deg=80.0, enmo_mg=1.0, n=50)
    return FeatureBatchV1(wearer=wearer, device=device, placement="thigh", seq=1, frames=[frame])


def bout(kind: str, posture: str, start: float, end: float | None = None) -> EventV1:
    if kind == "bout_started":
        return EventV1(kind="bout_started", wearer="ann", t=at(start), posture=posture, bout_start=at(start))
    assert end is not None
    return EventV1(
        kind="bout_ended", wearer="ann", t=at(end), posture=posture, bout_start=at(start), duration_s=(end - start) * 60
    )


def summary(hour_start: float, **metrics: float) -> EventV1:
    return EventV1(kind="summary", wearer="ann", t=at(hour_start), metrics=metrics)


def prompt(minutes: float, title: str = "Stand and reach") -> PromptV1:
    return PromptV1(
        id=f"ann-sitting-{ms(minutes)}",
        wearer="ann",
        trigger="sitting",
        exercise="standing-reach",
        title=title,
        text="You have been sitting for 30 min. Stand up and reach.",
        created=at(minutes),
        expires=at(minutes + 15),
    )


def outcome(minutes: float, moved: bool) -> EventV1:
    return EventV1(
        kind="prompt_outcome",
        wearer="ann",
        t=at(minutes),
        prompt_id=f"ann-sitting-{ms(minutes)}",
        trigger="sitting",
        metrics={"broke_5min": 1.0 if moved else 0.0, "acked": 0.0},
    )


class Board:
    """What Home Assistant would hold: the last retained payload per topic."""

    def __init__(self, tracker: StateTracker) -> None:
        self.tracker = tracker
        self.retained: dict[str, bytes] = {}
        self.log: list[Publication] = []

    def feed(self, *messages: Payload) -> list[Publication]:
        out = []
        for message in messages:
            out += self.tracker.feed(message)
        return self.apply(out)

    def apply(self, out: list[Publication]) -> list[Publication]:
        for p in out:
            if p.payload:
                self.retained[p.topic] = p.payload
            else:
                self.retained.pop(p.topic, None)
        self.log += out
        return out

    def state(self, object_id: str) -> str:
        return self.retained[TOPICS.state("ann", object_id)].decode()


def board() -> Board:
    return Board(StateTracker(TOPICS, BERLIN, min_interval_ms=60_000))


def test_a_morning_sitting_a_break_and_the_closed_hour() -> None:
    b = board()
    b.feed(DeviceStatusV1(wearer="ann", device="thigh", state="online", battery_pct=80))
    assert b.retained[TOPICS.availability("ann")] == b"online"
    assert b.state("thigh_battery") == "80" and b.state("thigh_connection") == "ON"
    assert b.state("sitting_threshold") == "30" and b.state("prompts_paused") == "OFF"
    assert any(t.endswith("/config") for t in b.retained)

    b.feed(bout("bout_started", "sitting", 0), frames(30))
    assert b.state("posture") == "sitting"
    assert b.state("sitting_bout") == "30.0" and b.state("sitting_today") == "30.0"

    # 08:40 the wearer stands: a break, the posture and the current bout change at once
    b.feed(bout("bout_ended", "sitting", 0, 40), bout("bout_started", "standing", 40))
    assert b.state("posture") == "standing" and b.state("sitting_bout") == "0.0"
    b.feed(frames(41.5))
    assert b.state("sitting_today") == "40.0" and b.state("breaks_today") == "1"

    # the 08:00 hour closes: its summary's figures replace the bouts' (not counted twice)
    b.feed(summary(0, sitting_s=2390.0, breaks=1.0, lean_above_10deg_s=120.0), frames(65))
    assert b.state("sitting_today") == f"{2390 / 60:.1f}"
    assert b.state("breaks_today") == "1" and b.state("lean_today") == "2.0"

    # sitting again from 09:10: the open hour adds to the closed one
    b.feed(bout("bout_started", "sitting", 70), frames(80))
    assert b.state("sitting_today") == f"{(2390 + 600) / 60:.1f}" and b.state("sitting_bout") == "10.0"


def test_the_day_and_the_week_are_the_wearers_local_ones() -> None:
    b = board()
    b.feed(bout("bout_started", "sitting", 0), frames(60))
    b.feed(prompt(30), outcome(30, moved=True), prompt(45), outcome(45, moved=False), frames(62))
    assert b.state("response_rate_week") == "50"
    assert json.loads(b.retained[TOPICS.attributes("ann", "response_rate_week")]) == {
        "prompts": 2,
        "moved_within_5min": 1,
    }
    # 23:59 Berlin is still Monday: 15 h 59 min of sitting
    b.feed(frames(15 * 60 + 59))
    assert b.state("sitting_today") == f"{(15 * 60 + 59):.1f}"
    # 00:30 Tuesday in Berlin (23:30 UTC Monday): a new day; the sitting before midnight is not today's
    b.feed(frames(16 * 60 + 30))
    assert b.state("sitting_today") == "30.0"
    assert b.state("response_rate_week") == "50"  # the same ISO week
    # the next Monday: a new week, no prompt yet
    b.feed(frames(7 * 24 * 60 + 5))
    assert b.state("response_rate_week") == NONE_PAYLOAD


def test_the_last_prompt_its_text_and_time() -> None:
    b = board()
    b.feed(prompt(30, "Hip opener"))
    assert b.state("last_prompt") == "Hip opener"
    assert datetime.fromisoformat(b.state("last_prompt_time")) == at(30)
    attributes = json.loads(b.retained[TOPICS.attributes("ann", "last_prompt")])
    assert attributes["text"].startswith("You have been sitting") and attributes["exercise"] == "standing-reach"
    b.feed(prompt(20, "An older one, late"))  # out of order: the newest stays
    assert b.state("last_prompt") == "Hip opener"


def test_states_change_at_most_once_a_minute_of_event_time() -> None:
    b = board()
    b.feed(bout("bout_started", "sitting", 0), frames(0.1))
    before = b.state("sitting_bout")
    b.feed(frames(0.5), frames(0.9))
    assert b.state("sitting_bout") == before  # changed, but within the minute
    b.feed(frames(1.2))
    assert b.state("sitting_bout") == "1.2"


def test_pause_resume_and_the_threshold_follow_the_commands() -> None:
    b = board()
    b.feed(frames(0))
    b.feed(CommandV1(kind="pause", wearer="ann", at=at(0), until=at(60), source="homeassistant"))
    assert b.state("prompts_paused") == "ON"
    b.feed(frames(61))
    assert b.state("prompts_paused") == "OFF"  # the hour is over
    b.feed(CommandV1(kind="pause", wearer="ann", at=at(62)))
    b.feed(frames(300))
    assert b.state("prompts_paused") == "ON"  # no end: until resume
    b.feed(CommandV1(kind="resume", wearer="ann", at=at(301)))
    assert b.state("prompts_paused") == "OFF"
    b.feed(CommandV1(kind="policy", wearer="ann", at=at(302), settings={"sitting_threshold_min": 25}))
    assert b.state("sitting_threshold") == "25"
    b.feed(CommandV1(kind="policy", wearer="ann", at=at(303), settings={"sitting_threshold_min": 99999}))
    assert b.state("sitting_threshold") == "25"  # refused by the policy, as the alert service refuses it
    b.feed(CommandV1(kind="policy", wearer="ann", at=at(304), settings={"sitting_threshold_min": "default"}))
    assert b.state("sitting_threshold") == "30"


def test_availability_follows_device_and_collector_status() -> None:
    b = board()
    b.feed(
        CollectorStatusV1(collector="pi", state="online", devices=["thigh"]),
        DeviceStatusV1(wearer="ann", device="thigh", state="online"),
        frames(0, device="trunk"),  # a sender without a status topic: available once its features come
    )
    assert b.retained[TOPICS.device_availability("ann", "trunk")] == b"online"
    b.feed(CollectorStatusV1(collector="pi", state="offline", devices=["thigh"]))
    assert b.retained[TOPICS.device_availability("ann", "thigh")] == b"offline"
    assert b.state("thigh_connection") == "OFF"
    assert b.retained[TOPICS.availability("ann")] == b"online"  # the trunk sensor still is
    b.feed(DeviceStatusV1(wearer="ann", device="trunk", state="offline"))
    assert b.retained[TOPICS.availability("ann")] == b"offline"


def test_forget_removes_every_entity_and_state() -> None:
    b = board()
    b.feed(DeviceStatusV1(wearer="ann", device="thigh", state="online", battery_pct=50), frames(1), prompt(1))
    b.feed(frames(1, wearer="bob"))
    assert any("kinetic_ann" in t for t in b.retained)
    b.feed(CommandV1(kind="forget", wearer="ann", at=at(2), source="cli"))
    assert not [t for t in b.retained if "kinetic_ann" in t or t.startswith("kinetic/ha/ann/")]
    assert any("kinetic_bob" in t for t in b.retained)
    assert b.tracker.feed(CommandV1(kind="forget", wearer="ann", at=at(3))) == []  # once


def test_home_assistants_restart_gets_every_config_again() -> None:
    b = board()
    b.feed(DeviceStatusV1(wearer="ann", device="thigh", state="online"), frames(1, wearer="bob"))
    configs = {p.topic for p in b.tracker.configs()}
    assert configs == {t for t in b.retained if t.endswith("/config")}


# -- any sequence of messages ------------------------------------------------------------------------------------

WEARERS = st.sampled_from(["ann", "bob"])
DEVICES = st.sampled_from(["thigh", "trunk"])
# most messages within minutes of each other (where the rate limit bites), some days apart (days and weeks roll)
MINUTES = st.one_of(
    st.floats(min_value=0, max_value=5),
    st.floats(min_value=0, max_value=5),
    st.floats(min_value=-60, max_value=3 * 24 * 60),
).map(lambda m: round(m, 2))


def _event(kind: str, wearer: str, minutes: float, posture: str, length: float, moved: bool) -> EventV1:
    fields: dict[str, Any] = {"kind": kind, "wearer": wearer, "t": at(minutes)}
    if kind in ("bout_started", "bout_ended"):
        fields.update(posture=posture, bout_start=at(minutes - (length if kind == "bout_ended" else 0)))
    if kind == "summary":
        fields["metrics"] = {"sitting_s": length * 60, "breaks": float(moved), "lean_above_10deg_s": 10.0}
    if kind == "prompt_outcome":
        fields.update(prompt_id=f"p{minutes}", metrics={"broke_5min": float(moved)})
    return EventV1(**fields)


EVENTS = st.builds(
    _event,
    st.sampled_from(["bout_started", "bout_ended", "summary", "prompt_outcome", "prompt_sent", "policy_changed"]),
    WEARERS,
    MINUTES,
    st.sampled_from([*POSTURES, "something-new"]),
    st.floats(min_value=0, max_value=120),
    st.booleans(),
)
MESSAGES = st.one_of(
    EVENTS,
    st.builds(lambda w, d, m: frames(m, d, w), WEARERS, DEVICES, MINUTES),
    st.builds(
        lambda w, d, s, b: DeviceStatusV1(wearer=w, device=d, state=s, battery_pct=b),
        WEARERS,
        DEVICES,
        st.sampled_from(["online", "offline"]),
        st.none() | st.integers(0, 100),
    ),
    st.builds(
        lambda s, d: CollectorStatusV1(collector="pi", state=s, devices=d),
        st.sampled_from(["online", "offline"]),
        st.lists(DEVICES, max_size=2),
    ),
    st.builds(lambda w, m: prompt(m).model_copy(update={"wearer": w}), WEARERS, MINUTES),
    st.builds(
        lambda w, k, m, v: CommandV1(
            kind=k,
            wearer=w,
            at=at(m),
            until=at(m + 60) if k == "pause" else None,
            settings={"sitting_threshold_min": v} if k == "policy" else None,
        ),
        WEARERS,
        st.sampled_from(["pause", "resume", "policy", "forget", "calibrate"]),
        MINUTES,
        st.sampled_from([25, 0.5, 2000, "default", "x"]),
    ),
)
AT_ONCE = ("/posture", "/prompts_paused", "/sitting_threshold", "_connection", "availability")


@given(st.lists(MESSAGES, max_size=60))
def test_any_sequence_never_raises_and_keeps_the_minute_and_the_schema(messages: list[Payload]) -> None:
    tracker = StateTracker(TOPICS, BERLIN, min_interval_ms=60_000)
    sent: dict[str, int | None] = {}
    for message in messages:
        publications = tracker.feed(message)
        forgot = isinstance(message, CommandV1) and message.kind == "forget"
        wearer = getattr(message, "wearer", None)
        now = tracker.wearers[wearer].now_ms if wearer in tracker.wearers else None
        posture_now = any(p.topic.endswith("/posture") for p in publications)
        for p in publications:
            if p.topic.endswith("/config") or forgot:
                continue
            text = p.payload.decode()
            if p.topic.endswith("/posture"):
                assert text in POSTURES
            elif p.topic.endswith(("_today", "_bout", "_battery", "/sitting_threshold", "/response_rate_week")):
                assert text == NONE_PAYLOAD or float(text) >= 0
            elif p.topic.endswith("/last_prompt_time"):
                assert datetime.fromisoformat(text).tzinfo is not None
            if p.topic.endswith(AT_ONCE) or (p.topic.endswith("/sitting_bout") and posture_now):
                continue
            last = sent.get(p.topic)
            if last is not None and now is not None:
                assert now - last >= 60_000, p.topic
            sent[p.topic] = now
        if forgot:
            sent = {t: v for t, v in sent.items() if f"/{message.wearer}/" not in t}


def test_what_the_minute_held_back_is_flushed_once_the_data_stops() -> None:
    """Found on the full suite: the frames (the clock) ran ahead of the alert service's events, the sitting bout
    counted to the newest frame, and the bout's end, arriving later at the same event time, was never shown."""
    b = board()
    b.feed(bout("bout_started", "sitting", 0), frames(35))
    assert b.state("sitting_today") == "35.0"
    b.feed(bout("bout_ended", "sitting", 0, 32), bout("bout_started", "moving", 32))
    assert b.state("sitting_today") == "35.0"  # within the minute of event time: held back
    b.apply(b.tracker.flush("ann"))  # the adapter: nothing came for a minute of its clock
    assert b.state("sitting_today") == "32.0" and b.state("breaks_today") == "1"
    assert b.tracker.flush("ann") == []  # nothing left to say


def test_the_days_totals_restart_at_the_wearers_midnight_for_home_assistants_statistics() -> None:
    """HA's "total" sensors begin a new statistics cycle when last_reset changes (its sensor documentation): each of
    the day's figures carries the start of the wearer's local day, and its config reads it (review of session 7)."""
    from zoneinfo import ZoneInfo

    from dashboards.homeassistant.entities import WEARER_ENTITIES

    zone = ZoneInfo("Europe/Berlin")  # the wearer's, as BERLIN's policy says

    totals = {e.object_id for e in WEARER_ENTITIES if dict(e.extra).get("state_class") == "total"}
    assert totals == {"sitting_today", "breaks_today", "lean_today"}
    for entity in WEARER_ENTITIES:
        if entity.object_id in totals:
            assert (
                entity.attributes
                and "state_attr(entity_id, 'last_reset')" in dict(entity.extra)["last_reset_value_template"]
            )
    b = board()
    b.feed(bout("bout_started", "sitting", 0), frames(30))
    for total in totals:
        reset = json.loads(b.retained[TOPICS.attributes("ann", total)])["last_reset"]
        assert datetime.fromisoformat(reset) == at(0).astimezone(zone).replace(hour=0, minute=0, second=0)
    # the next local day: a new last_reset, and the totals start again
    b.feed(frames(24 * 60 + 5))
    reset = json.loads(b.retained[TOPICS.attributes("ann", "sitting_today")])["last_reset"]
    assert datetime.fromisoformat(reset).date() == (at(0).astimezone(zone) + timedelta(days=1)).date()
