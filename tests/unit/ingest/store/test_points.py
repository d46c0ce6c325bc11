from __future__ import annotations

import asyncio
import json
import re
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ingest.store.embedded import EmbeddedSink
from ingest.store.model import feature_lines, feature_points, line_protocol_for
from ingest.store.points import LineProtocolError, Point, stored_form, to_line, to_line_protocol
from ingest.wire import FeatureBatchV1, FeatureFrameV1, check_text

T0 = 1_767_603_600_000  # 2026-01-05T09:00:00Z: a batch's times lie from 2015 to 2100


def test_line_protocol_escapes_and_types() -> None:
    point = Point.make(
        "my events",
        {"wearer": "ann", "kind": "a,b=c", "path": "C:\\x", "empty": None},
        {"text": 'say "hi" \\o/', "n": 3, "ok": True, "x": 1.5, "missing": None},
        1700000000000,
    )
    # InfluxDB's rules: comma, equals sign and space escaped in tags (a backslash stays one: influxd stores it as
    # written), double quote and backslash in strings
    assert to_line(point) == (
        'my\\ events,kind=a\\,b\\=c,path=C:\\x,wearer=ann text="say \\"hi\\" \\\\o/",n=3i,ok=true,x=1.5 1700000000000'
    )


def test_non_finite_floats_are_left_out_by_both_stores(tmp_path: Path) -> None:
    point = Point.make("m", {}, {"a": float("nan"), "b": 1.0, "c": float("inf")}, 1)
    assert to_line(point) == "m b=1.0 1"
    sink = EmbeddedSink(tmp_path / "k.sqlite")
    assert json.loads(sink.encode([point]))[4] == {"b": 1.0}
    asyncio.run(sink.aclose())


@pytest.mark.parametrize(
    ("point", "reason"),
    [
        # issue 13: a tag value ending in a backslash escapes the separator after it (influxd answered HTTP 400)
        (
            Point.make("m", {"exercise": "hip\\"}, {"n": 1}, 1),
            "tag 'exercise' value 'hip\\\\\\\\' ends with a backslash",
        ),
        # issue 13: a line break inside a string ends the line
        (Point.make("m", {}, {"text": "one\ntwo"}, 1), "field 'text' value 'one\\\\ntwo' contains a line break"),
        (Point.make("m", {}, {"text": "one\rtwo"}, 1), "contains a line break"),
        (Point.make("m", {"k": "a\nb"}, {"n": 1}, 1), "tag 'k' value 'a\\\\nb' contains a line break"),
        (Point.make("m", {"k": "a\\,b"}, {"n": 1}, 1), "has a backslash right before ','"),
        (Point.make("m", {"time": "x"}, {"n": 1}, 1), "tag key 'time' is reserved"),
        (Point.make("m", {}, {"time": 1}, 1), "field key 'time' is reserved"),
        (Point.make("m", {}, {'a"b': 1}, 1), "field key 'a\"b' contains a double quote"),
        (Point.make("m", {}, {"\tx": 1}, 1), "starts with '\\\\t'"),
        (Point.make("m", {"w": "a"}, {"w": 1}, 1), "field 'w' has a tag's name"),
        (Point.make("#m", {}, {"n": 1}, 1), "measurement '#m' starts with '#'"),
        (Point.make("", {}, {"n": 1}, 1), "measurement is empty"),
        (Point("m", (("k", ""),), {"n": 1}, 1), "tag 'k' value is empty"),
        (Point.make("m", {}, {"a": None}, 1), "has no fields"),
    ],
)
def test_what_line_protocol_cannot_carry_is_refused_by_both_stores(tmp_path: Path, point: Point, reason: str) -> None:
    with pytest.raises(LineProtocolError, match=reason):
        to_line(point)
    sink = EmbeddedSink(tmp_path / "k.sqlite")
    with pytest.raises(LineProtocolError, match=reason):
        sink.encode([point])
    asyncio.run(sink.aclose())


_names = st.text(st.sampled_from(list('ab\\,= "#\t\n\r\x00é')), max_size=5)


@given(_names, st.dictionaries(_names, _names, max_size=2), st.dictionaries(_names, _names, min_size=1, max_size=2))
def test_both_stores_refuse_the_same_points(measurement: str, tags: dict[str, str], fields: dict[str, str]) -> None:
    point = Point.make(measurement, tags, fields, 1)
    try:
        line = to_line(point)
    except LineProtocolError as exc:
        with pytest.raises(LineProtocolError, match=re.escape(str(exc))):
            stored_form(point)
    else:
        assert line.startswith(stored_form(point)[0] + " ")


@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))))
def test_every_text_the_wire_accepts_is_a_string_field_line_protocol_carries(text: str) -> None:
    check_text(text)
    line = to_line(Point.make("m", {}, {"text": text}, 1))
    assert line.startswith('m text="') and line.endswith('" 1') and "\n" not in line


def test_many_points_one_body() -> None:
    points = [Point.make("m", {"w": "a"}, {"v": i}, i) for i in range(3)]
    assert to_line_protocol(points) == b"m,w=a v=0i 0\nm,w=a v=1i 1\nm,w=a v=2i 2\n"


def test_feature_points_tag_the_series_and_keep_event_time() -> None:
    frames = [FeatureFrameV1(t_ms=T0, incl_deg=80, lean_deg=-3, enmo_mg=2, steps=1, n=50)]
    batch = FeatureBatchV1(wearer="ann", device="d1", placement="trunk", seq=0, frames=frames)
    (point,) = feature_points(batch)
    assert point.series == "features,device=d1,placement=trunk,wearer=ann"
    assert point.t_ms == T0 and point.fields == {
        "incl_deg": 80,
        "enmo_mg": 2,
        "steps": 1,
        "n": 50,
        "lean_deg": -3,
    }


def test_embedded_store_replaces_a_point_written_twice(tmp_path: Path) -> None:
    sink = EmbeddedSink(tmp_path / "k.sqlite")
    point = Point.make("m", {"w": "a"}, {"v": 1}, 5)
    asyncio.run(sink.write([point, Point.make("m", {"w": "b"}, {"v": 2}, 5)]))
    asyncio.run(sink.write([Point.make("m", {"w": "a"}, {"v": 9}, 5)]))
    assert sink.count("m") == 2
    assert sink.count("m") == 2
    with sqlite3.connect(tmp_path / "k.sqlite") as db:
        (fields,) = db.execute("SELECT fields FROM points WHERE series = 'm,w=a'").fetchone()
    assert json.loads(fields) == {"v": 9}
    asyncio.run(sink.aclose())


def _maybe(strategy: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.one_of(st.none(), strategy)


@given(
    st.lists(
        st.tuples(
            _maybe(st.floats(0, 180, allow_nan=False)),
            _maybe(st.floats(-90, 90, allow_nan=False)),
            st.floats(0, 5000, allow_nan=False),
            st.integers(0, 5),
            st.integers(0, 200),
            _maybe(
                st.tuples(*(st.floats(-2, 2, allow_nan=False) for _ in range(3))).filter(
                    lambda g: sum(c * c for c in g) >= 0.01  # a gravity vector has a direction (MIN_GRAVITY_G)
                )
            ),
            _maybe(st.floats(0, 500, allow_nan=False)),
            _maybe(st.floats(20, 300, allow_nan=False)),
        ),
        min_size=1,
        max_size=20,
    ),
    st.sampled_from(["ann", "a-b_c", "x1"]),
)
def test_the_feature_fast_path_equals_the_generic_line_protocol(rows: list, wearer: str) -> None:  # type: ignore[type-arg]
    frames = [
        FeatureFrameV1(
            t_ms=T0 + 1000 * i,
            incl_deg=incl if incl is not None or g is not None else 10.0,  # a frame has gravity or inclination
            lean_deg=lean,
            enmo_mg=enmo,
            steps=steps,
            n=n,
            gx=g[0] if g else None,
            gy=g[1] if g else None,
            gz=g[2] if g else None,
            sd_mg=sd,
            hr_bpm=hr,
        )
        for i, (incl, lean, enmo, steps, n, g, sd, hr) in enumerate(rows)
    ]
    batch = FeatureBatchV1(wearer=wearer, device="dev-1", placement="trunk", seq=0, frames=frames)
    assert feature_lines(batch) == to_line_protocol(feature_points(batch))
    assert line_protocol_for(batch, 0) == (feature_lines(batch), len(frames))


def test_embedded_prune_drops_old_raw_points_and_keeps_rollups(tmp_path: Path) -> None:
    sink = EmbeddedSink(tmp_path / "k.sqlite")
    day = 86_400_000
    points = [Point.make("features", {"w": "a"}, {"v": 1}, t * day) for t in range(10)]
    points += [Point.make("features_1m", {"w": "a"}, {"v": 1}, t * day) for t in range(10)]
    asyncio.run(sink.write(points))
    assert sink.prune(raw_days=3, now_ms=10 * day) == 7
    assert sink.count("features") == 3 and sink.count("features_1m") == 10
    asyncio.run(sink.aclose())
