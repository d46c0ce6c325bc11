"""Ingest's side of data rights, without servers: which wearer a spooled point belongs to (in both formats the sinks
write, whatever the other tags hold), and erasing one wearer's points and open minutes from the spool."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.store.embedded import EmbeddedSink
from ingest.store.points import _BACKSLASH_BEFORE, Point, to_line_protocol
from ingest.store.queries import MEASUREMENTS
from ingest.store.rollup import MinuteRollup
from ingest.store.spool import Spool, line_wearer
from ingest.wire import ID_PATTERN, FeatureBatchV1, FeatureFrameV1

# Tag text as the line protocol can carry it: no control character (the wire contract refuses them before a sink sees
# them) and no backslash at the end or before a character the line protocol escapes (it would escape the separator
# or read as an escape; the stores refuse both: ingest/store/points.py)
TEXT = st.text(st.characters(exclude_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda t: not t.endswith("\\") and not any(pair in t for pair in _BACKSLASH_BEFORE)
)
IDS = st.from_regex(ID_PATTERN, fullmatch=True).filter(lambda i: not i.endswith("\n"))
T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z: a batch's times lie from 2015 to 2100


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedSink]:
    sink = EmbeddedSink(tmp_path_factory.mktemp("rights") / "k.sqlite")
    yield sink
    asyncio.run(sink.aclose())


@given(
    measurement=st.sampled_from(MEASUREMENTS),
    wearer=st.none() | IDS,
    others=st.dictionaries(TEXT.filter(lambda k: k not in ("wearer", "f")), TEXT, max_size=4),  # f: the field
    field=TEXT,
)
def test_the_wearer_of_a_spooled_point_is_its_wearer_tag_in_both_formats(
    embedded: EmbeddedSink, measurement: str, wearer: str | None, others: dict[str, str], field: str
) -> None:
    point = Point.make(measurement, {**others, "wearer": wearer}, {"f": field}, 1_764_230_400_000)
    for body in (to_line_protocol([point]), embedded.encode([point])):
        (line,) = body.splitlines()
        assert line_wearer(line) == wearer


def test_a_tag_value_that_looks_like_a_wearer_tag_is_not_one() -> None:
    point = Point.make("events", {"exercise": "a,wearer=zoe", "reason": "x\\y", "wearer": "ann"}, {"f": 1}, 0)
    (line,) = to_line_protocol([point]).splitlines()
    assert line_wearer(line) == "ann"
    (line,) = to_line_protocol([Point.make("events", {"exercise": "a,wearer=zoe"}, {"f": 1}, 0)]).splitlines()
    assert line_wearer(line) is None


def batch(wearer: str, t_ms: int, seconds: int = 3) -> FeatureBatchV1:
    frames = [FeatureFrameV1(t_ms=t_ms + 1000 * i, incl_deg=80.0, enmo_mg=2.0, n=52) for i in range(seconds)]
    return FeatureBatchV1(wearer=wearer, device=f"{wearer}-thigh", placement="thigh", seq=0, frames=frames)


@pytest.mark.parametrize("format_", ["line protocol", "embedded"])
def test_erasing_a_wearer_from_the_spool_keeps_the_others_and_their_order(
    tmp_path: Path, embedded: EmbeddedSink, format_: str
) -> None:
    def encode(points: list[Point]) -> bytes:
        return to_line_protocol(points) if format_ == "line protocol" else embedded.encode(points)

    def points(wearer: str, t_ms: int) -> list[Point]:
        return [Point.make("features", {"wearer": wearer}, {"incl_deg": 80.0}, t_ms + i) for i in range(3)]

    rollup = MinuteRollup()
    for b in (batch("ann", T0 + 1_000), batch("zoe", T0 + 2_000), batch("zoey", T0 + 3_000)):
        rollup.add(b)
    spool = Spool(tmp_path / "spool.sqlite", 10_000_000)
    spool.append(encode(points("ann", 0) + points("zoe", 10)), 6, {"rollup": rollup.state()})
    spool.append(encode(points("zoe", 20)), 3)
    spool.append(encode(points("zoey", 30) + points("ann", 40)), 6)
    ann_and_zoey = spool.lines(lambda line: line_wearer(line) != "zoe")

    def forget_zoe(state: str | None) -> str | None:
        kept = MinuteRollup(state)
        kept.forget("zoe")
        return kept.state()

    assert spool.erase(lambda line: line_wearer(line) == "zoe", {"rollup": forget_zoe}) == 6
    assert spool.lines(lambda line: True) == ann_and_zoey  # in the order they were spooled
    assert spool.lines(lambda line: line_wearer(line) == "zoe") == []
    assert set(json.loads(spool.state("rollup") or "{}")) == {"ann/ann-thigh", "zoey/zoey-thigh"}  # wearer/device
    assert (spool.batches, spool.points) == (3, 9)  # an emptied entry stays, written as nothing
    spool.close()
    reopened = Spool(tmp_path / "spool.sqlite", 10_000_000)
    assert (reopened.batches, reopened.points, reopened.bytes) == (3, 9, sum(len(line) + 1 for line in ann_and_zoey))
    entries = reopened.peek(100)
    assert [e.points for e in entries] == [3, 0, 6] and entries[1].body == b""
    reopened.close()


def test_the_rollup_gives_and_forgets_one_wearers_open_minutes() -> None:
    rollup = MinuteRollup()
    rollup.add(batch("ann", T0 + 60_000))
    rollup.add(batch("zoe", T0 + 60_000))
    assert list(rollup.open_minutes("zoe")) == ["zoe-thigh"]
    assert rollup.open_minutes("zoe")["zoe-thigh"]["frames"] == 3
    rollup.forget("zoe")
    assert rollup.open_minutes("zoe") == {} and list(rollup.open_minutes("ann")) == ["ann-thigh"]
