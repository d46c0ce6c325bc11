"""`kinetic data move` on InfluxDB 2.x: a wearer's points are read through the v1-compatible /query, written to the
bucket the wall names now (/api/v2/write) and then deleted from the old one (/api/v2/delete with a predicate). InfluxDB
2.x cannot run here: the stand-in (tests/support/fake_influx2.py) checks each request against the documented shapes
and keeps the points, so what ends up in which bucket is checked; not run against a real 2.x."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.fake_influx2 import FakeInflux2, FakeInflux2Server, walled_kinetic

pytestmark = pytest.mark.integration
ADMIN = "all-access-token"
JUNE = 1_780_000_000_000  # 2026-05-28, after the grant below
DECEMBER_2025 = 1_764_547_200_000  # 2025-12-01, before it


def test_move_puts_the_granted_points_in_the_clinics_bucket_and_leaves_the_rest_private(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    kinetic = walled_kinetic(tmp_path, ADMIN, KINETIC_INFLUX__RAW_RETENTION_DAYS="30")

    influx = FakeInflux2(token=ADMIN)
    with FakeInflux2Server(influx) as server:
        url = {"KINETIC_INFLUX__URL": server.url}
        assert kinetic("store", "provision", "--secrets", str(secrets), **url).returncode == 0
        # what the bridge stored while ann shared nothing: all of it in the private buckets
        influx.store(
            "kinetic_private",
            f'features,device=d1,wearer=ann steps=5i,thigh_deg=1.0,state="sit ting" {JUNE}\n'
            f"features,device=d1,wearer=ann steps=7i,thigh_deg=2.5 {DECEMBER_2025}\n"
            f'events,kind=consent_granted,wearer=ann clinic="physio-north" {JUNE}\n'
            f"events,kind=prompt_sent,wearer=ann n=1i {JUNE}\n"
            f"features,device=d2,wearer=bob steps=1i {JUNE}\n",
            "ms",
        )
        influx.store("kinetic_private_raw", f"features,device=d1,wearer=ann thigh_deg=3.0 {JUNE + 1}\n", "ms")
        granted = kinetic(
            "consent", "grant", "ann", "--clinic", "physio-north", "--since", "2026-01-01T00:00:00+00:00", "--no-broker"
        )
        assert granted.returncode == 0, granted.stderr
        moved = kinetic("data", "move", "ann", "--to", "physio-north", **url)
        again = kinetic("data", "move", "ann", "--to", "physio-north", **url)
    assert moved.returncode == 0, moved.stderr
    assert influx.errors == []
    north = influx.points["kinetic_physio_north"]
    assert north == {
        ("features", (("device", "d1"), ("wearer", "ann")), JUNE): {"steps": 5, "thigh_deg": 1.0, "state": "sit ting"},
        ("events", (("kind", "prompt_sent"), ("wearer", "ann")), JUNE): {"n": 1},
    }
    (features,) = [f for k, f in north.items() if k[0] == "features"]
    assert type(features["steps"]) is int and type(features["thigh_deg"]) is float  # types kept
    assert influx.points["kinetic_physio_north_raw"] == {
        ("features", (("device", "d1"), ("wearer", "ann")), JUNE + 1): {"thigh_deg": 3.0}
    }
    assert set(influx.points["kinetic_private"]) == {  # before the grant, consent events, another wearer: stay
        ("features", (("device", "d1"), ("wearer", "ann")), DECEMBER_2025),
        ("events", (("kind", "consent_granted"), ("wearer", "ann")), JUNE),
        ("features", (("device", "d2"), ("wearer", "bob")), JUNE),
    }
    assert influx.points["kinetic_private_raw"] == {}
    predicates = {d["predicate"] for d in influx.deletes}
    assert predicates == {
        '_measurement="features" AND wearer="ann"',
        '_measurement="events" AND wearer="ann" AND kind="prompt_sent"',
    }
    assert {d["start"] for d in influx.deletes} == {"2026-01-01T00:00:00.000000000Z"}
    assert "moved for ann: 3 points" in moved.stderr
    assert again.returncode == 0 and "moved for ann: 0 points" in again.stderr, again.stderr
