"""Dashboards as code: the committed JSON is what the code generates, and the check mode says when not."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from dashboards.grafana.build import DASHBOARD_DIR, dashboards, main, stale

GRAFANA_GLOBALS = {"timeFilter", "__interval", "__from", "__to"}


def test_committed_dashboards_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    assert stale() == []
    assert main(["--check"]) == 0
    assert "up to date (3 files" in capsys.readouterr().out


def test_check_mode_fails_naming_a_changed_a_missing_and_an_extra_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "json"
    shutil.copytree(DASHBOARD_DIR, copy)
    model = json.loads((copy / "kinetic-my-day.json").read_text())
    model["panels"][0]["title"] = "edited by hand"
    (copy / "kinetic-my-day.json").write_text(json.dumps(model))
    (copy / "kinetic-operations.json").unlink()
    (copy / "old.json").write_text("{}")
    assert main(["--check", "--dir", str(copy)]) == 1
    err = capsys.readouterr().err
    for name in ("kinetic-my-day.json", "kinetic-operations.json", "old.json"):
        assert name in err
    assert main(["--dir", str(copy)]) == 0  # regenerating repairs all three
    assert stale(copy) == []


@pytest.mark.parametrize("name", sorted(dashboards()))
def test_every_query_is_raw_influxql_with_defined_variables(name: str) -> None:
    model = dashboards()[name]
    defined = {v["name"] for v in model.get("templating", {}).get("list", [])} | GRAFANA_GLOBALS
    targets = [t for p in model["panels"] for t in p["targets"]]
    targets += [a["target"] for a in model.get("annotations", {}).get("list", [])]
    assert targets
    for target in targets:
        assert target["rawQuery"] is True
        query = target["query"]
        assert query.startswith("SELECT ") and "from(bucket" not in query  # InfluxQL, never Flux
        used = set(re.findall(r"\$\{?(\w+)", query))
        assert used <= defined, f"{name}: {used - defined} undefined in {query}"
    assert len({p["id"] for p in model["panels"]}) == len(model["panels"])


def test_kinetic_dashboards_check_is_the_same_check(capsys: pytest.CaptureFixture[str]) -> None:
    from kinetic.cli import main as kinetic

    assert kinetic(["dashboards", "check"]) == 0
    assert "up to date" in capsys.readouterr().out


def test_the_pushed_data_source_authenticates_as_each_influxdb_wants() -> None:
    from dashboards.grafana.push import datasource_model

    v2 = datasource_model("http://influxdb:8086", "kinetic", "tok")
    assert v2["jsonData"]["httpHeaderName1"] == "Authorization"
    assert v2["secureJsonData"] == {"httpHeaderValue1": "Token tok"} and "user" not in v2
    v1 = datasource_model("http://ha:8086", "homeassistant", None, "kinetic", "pw")
    assert v1["user"] == "kinetic" and v1["secureJsonData"] == {"password": "pw"}
    assert "httpHeaderName1" not in v1["jsonData"] and v1["jsonData"]["dbName"] == "homeassistant"
    assert "secureJsonData" not in datasource_model("http://localhost:8086", "kinetic", None)


@pytest.mark.parametrize("tz", ["Asia/Kolkata", "America/St_Johns"])
def test_a_clinics_dashboards_cut_days_in_the_clinics_zone(tz: str) -> None:
    from dashboards.grafana import my_day, weekly_review
    from dashboards.grafana.build import to_dict

    for model in (to_dict(my_day.build(tz=tz)), to_dict(weekly_review.build(tz=tz))):
        (variable,) = [v for v in model["templating"]["list"] if v["name"] == "tz"]
        assert variable["current"]["value"] == tz, model["uid"]
        days = [t["query"] for p in model["panels"] for t in p["targets"] if "GROUP BY time(1d" in t["query"]]
        assert days and all("tz('$tz')" in q for q in days), model["uid"]
