"""Time on the wire (docs/wire.md, "Time"): every time is checked for unit and plausibility where it enters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

import ingest.wire
from ingest.errors import WireError
from ingest.wire import (
    EARLIEST_MS,
    LATEST_MS,
    CollectorStatusV1,
    CommandV1,
    DeviceStatusV1,
    EventV1,
    FeatureFrameV1,
    PromptV1,
    Topics,
    ahead_limit_ms,
    decode,
    describe_epoch_ms,
    frames_not_ahead,
    time_ahead_problem,
)

TOPICS = Topics("kinetic")
T0 = 1_764_230_400_000  # 2025-11-27T08:00:00Z


def features(*t_ms: int) -> bytes:
    frames = [{"t_ms": t, "incl_deg": 80.0, "enmo_mg": 2.0, "n": 50} for t in t_ms]
    return json.dumps({"wearer": "ann", "device": "d", "placement": "thigh", "seq": 0, "frames": frames}).encode()


@pytest.mark.parametrize(
    ("t_ms", "unit"),
    [
        (T0 * 1000, "as microseconds it is 2025-11-27T08:00:00+00:00"),  # issue 13, case 1
        (T0 * 1_000_000, "as nanoseconds it is 2025-11-27T08:00:00+00:00"),
        (T0 // 1000, "as seconds it is 2025-11-27T08:00:00+00:00"),
    ],
)
def test_a_time_in_another_unit_is_refused_naming_the_unit(t_ms: int, unit: str) -> None:
    with pytest.raises(WireError) as exc:
        decode(TOPICS, TOPICS.features("ann", "d"), features(t_ms))
    assert str(exc.value) == (
        f"invalid FeatureBatchV1: frames.0.t_ms: {t_ms} is not Unix epoch milliseconds from 2015 to 2100 ({unit})"
    )


def test_a_clock_that_booted_in_1970_is_refused() -> None:
    with pytest.raises(WireError, match=r"frames\.0\.t_ms: 4000 is not Unix epoch milliseconds from 2015 to 2100$"):
        decode(TOPICS, TOPICS.features("ann", "d"), features(4000, 5000))


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_any_frame_time_decodes_or_is_refused_with_a_wire_error(t_ms: int) -> None:
    """Never another exception, and accepted exactly when the time is plausible."""
    try:
        _, batch = decode(TOPICS, TOPICS.features("ann", "d"), features(t_ms))
        (batch_t,) = [f.t_ms for f in batch.frames]  # type: ignore[union-attr]
    except WireError as exc:
        assert not EARLIEST_MS <= t_ms <= LATEST_MS
        assert "t_ms" in str(exc)
    else:
        assert EARLIEST_MS <= t_ms <= LATEST_MS and batch_t == t_ms


@given(st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=5) | st.none() | st.booleans())
def test_describe_epoch_ms_never_raises(value: object) -> None:
    assert "Unix epoch milliseconds" in describe_epoch_ms(value)


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        (TOPICS.events("ann"), {"kind": "summary", "wearer": "ann", "t": "1970-01-01T00:00:01Z"}),
        (TOPICS.events("ann"), {"kind": "summary", "wearer": "ann", "t": "2200-01-01T00:00:00Z"}),
        (TOPICS.commands("ann"), {"kind": "resume", "wearer": "ann", "at": "2014-12-31T23:59:59Z"}),
        (TOPICS.status("ann", "d"), {"wearer": "ann", "device": "d", "state": "online", "t_ms": 42}),
    ],
)
def test_every_time_on_the_wire_is_plausible(topic: str, payload: dict[str, object]) -> None:
    with pytest.raises(WireError, match=r"from 2015|2015-01-01"):
        decode(TOPICS, topic, json.dumps(payload).encode())


def frames_at(*t_ms: int) -> list[FeatureFrameV1]:
    return [FeatureFrameV1(t_ms=t, incl_deg=80, enmo_mg=1, n=50) for t in t_ms]


@given(
    st.lists(st.integers(0, 10_000_000), min_size=1, max_size=30, unique=True).map(sorted),
    st.integers(0, 10_000_000),
    st.one_of(st.none(), st.integers(0, 1_000_000)),
)
def test_each_frame_from_the_future_is_refused_on_its_own(times: list[int], now_ms: int, ahead: int | None) -> None:
    frames = frames_at(*(T0 + t for t in times))
    kept, reason = frames_not_ahead(frames, T0 + now_ms, ahead)
    limit = None if ahead is None else T0 + now_ms + ahead
    assert kept == [f for f in frames if limit is None or f.t_ms <= limit]
    assert (reason is None) == (len(kept) == len(frames))


def test_a_frame_a_day_ahead_mid_batch_costs_only_itself() -> None:
    """Fault found after the named cases: the check kept the frames before the first future one, so a future frame
    in the middle of a batch discarded the good frames after it."""
    now = T0
    day_ms = int(timedelta(days=1).total_seconds() * 1000)
    frames = frames_at(T0 - 3000, T0 - 2000 + day_ms, T0 - 1000, T0)
    kept, reason = frames_not_ahead(frames, now, 300_000)
    assert [f.t_ms for f in kept] == [T0 - 3000, T0 - 1000, T0]
    assert reason == (
        f"1 of 4 frames refused: t_ms {T0 - 2000 + day_ms} is 86398 s ahead of this host's clock "
        "(KINETIC_CLOCK__MAX_AHEAD_S)"
    )
    assert frames_not_ahead(frames, now, None) == (frames, None)
    assert datetime.fromtimestamp(EARLIEST_MS / 1000, UTC).year == 2015


def _stamped_a_day_ahead() -> list[BaseModel]:
    day = datetime.fromtimestamp(T0 / 1000, UTC) + timedelta(days=1)
    day_ms = T0 + 86_400_000
    return [
        DeviceStatusV1(wearer="ann", device="ann-thigh", state="online", placement="thigh", t_ms=day_ms),
        CollectorStatusV1(collector="pi", state="online", devices=["ann-thigh"], t_ms=day_ms),
        EventV1(kind="summary", wearer="ann", t=day, metrics={"sitting_s": 3600.0}),
        PromptV1(
            id="ann-sitting-1",
            wearer="ann",
            trigger="sitting",
            exercise="stand-and-reach",
            title="Stand",
            text="Stand up",
            created=day,
            expires=day + timedelta(minutes=15),
        ),
        CommandV1(kind="resume", wearer="ann", at=day),
    ]


@pytest.mark.parametrize("message", _stamped_a_day_ahead(), ids=lambda m: type(m).__name__)
def test_a_message_stamped_a_day_ahead_is_refused_naming_its_time_field(message: BaseModel) -> None:
    """The rule frames meet one by one holds for every other timed message (statuses, prompts, events, commands):
    one place decides (``time_ahead_problem``), so every service refuses the same."""
    problem = time_ahead_problem(message, T0, 300_000)
    field = {"DeviceStatusV1": "t_ms", "CollectorStatusV1": "t_ms", "PromptV1": "created", "EventV1": "t"}
    assert problem is not None and problem.startswith(
        f"{type(message).__name__} {field.get(type(message).__name__, 'at')} "
    )
    assert "86400 s ahead of this host's clock (KINETIC_CLOCK__MAX_AHEAD_S)" in problem
    assert time_ahead_problem(message, T0 + 86_400_000, 300_000) is None  # on time by a clock a day on
    assert time_ahead_problem(message, T0, None) is None  # no limit


@pytest.mark.parametrize("host_ms", [0, 30_000, 946_684_800_000, EARLIEST_MS - 1, LATEST_MS + 1])
def test_a_host_clock_outside_2015_to_2100_is_no_judge_of_ahead_and_says_so_once(
    host_ms: int, caplog: pytest.LogCaptureFixture
) -> None:
    """A Raspberry Pi without a real-time clock boots at 1970 (or 2000) until NTP answers: judged by it, every
    frame was 'ahead' and the wearer's first hours were lost. Such a clock sets no limit, and it is said once."""
    ingest.wire._say_host_clock_unset.cache_clear()
    frames = frames_at(T0, T0 + 1000)
    with caplog.at_level("WARNING", logger="ingest.wire"):
        assert ahead_limit_ms(host_ms, 300_000) is None
        assert frames_not_ahead(frames, host_ms, 300_000) == (frames, None)
        assert time_ahead_problem(_stamped_a_day_ahead()[0], host_ms, 300_000) is None
    assert [r.getMessage() for r in caplog.records if "outside 2015..2100" in r.getMessage()] == [
        caplog.records[0].getMessage()
    ]
    assert ahead_limit_ms(EARLIEST_MS, 300_000) == EARLIEST_MS + 300_000  # a set clock judges
