from __future__ import annotations

import asyncio
from pathlib import Path

from ingest.store.embedded import EmbeddedSink
from ingest.store.model import feature_points
from ingest.store.points import Point, to_line, to_line_protocol
from ingest.wire import FeatureBatchV1, FeatureFrameV1


def test_line_protocol_escapes_and_types() -> None:
    point = Point.make(
        "my events",
        {"wearer": "ann", "kind": "a,b=c", "empty": None},
        {"text": 'say "hi"\nnow', "n": 3, "ok": True, "x": 1.5, "missing": None},
        1700000000000,
    )
    assert to_line(point) == (
        'my\\ events,kind=a\\,b\\=c,wearer=ann text="say \\"hi\\"\\nnow",n=3i,ok=true,x=1.5 1700000000000'
    )


def test_non_finite_floats_are_left_out() -> None:
    point = Point.make("m", {}, {"a": float("nan"), "b": 1.0}, 1)
    assert to_line(point) == "m b=1.0 1"


def test_many_points_one_body() -> None:
    points = [Point.make("m", {"w": "a"}, {"v": i}, i) for i in range(3)]
    assert to_line_protocol(points) == b"m,w=a v=0i 0\nm,w=a v=1i 1\nm,w=a v=2i 2\n"


def test_feature_points_tag_the_series_and_keep_event_time() -> None:
    frames = [FeatureFrameV1(t_ms=1000, incl_deg=80, lean_deg=-3, enmo_mg=2, steps=1, n=50)]
    batch = FeatureBatchV1(wearer="ann", device="d1", placement="trunk", seq=0, frames=frames)
    (point,) = feature_points(batch)
    assert point.series == "features,device=d1,placement=trunk,wearer=ann"
    assert point.t_ms == 1000 and point.fields == {
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
    assert sink.rows("m", w="a") == [{"t_ms": 5, "w": "a", "v": 9}]
    asyncio.run(sink.aclose())
