"""Template variables the dashboards share."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.models import dashboard as model

from dashboards.grafana.influxql import DATASOURCE

ALL_PATIENTS = ".*"
ZONES = ["UTC", "Europe/Berlin", "Europe/London", "Europe/Paris", "America/New_York", "America/Los_Angeles"]


def patients_variable(regex: str = ALL_PATIENTS) -> dashboard.ConstantVariable:
    """Hidden: the wearers this copy of a dashboard may list (a clinic's roster; ``kinetic dashboards push``)."""
    return dashboard.ConstantVariable("patients").value(regex)


def wearer_variable(*, roster: bool = False) -> dashboard.QueryVariable:
    where = " WHERE wearer =~ /^${patients:raw}$/" if roster else ""
    return (
        dashboard.QueryVariable("wearer")
        .label("Wearer")
        .datasource(DATASOURCE)
        .query(f'SHOW TAG VALUES FROM "summary_1h" WITH KEY = "wearer"{where}')
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(model.VariableSort.ALPHABETICAL_ASC)
    )


def tz_variable(default: str = "UTC") -> dashboard.CustomVariable:
    """The zone whose calendar days the daily figures use (InfluxQL ``tz()``)."""
    zones = [default, *(z for z in ZONES if z != default)]
    return (
        dashboard.CustomVariable("tz")
        .label("Time zone")
        .values(",".join(zones))
        .current(model.VariableOption(selected=True, text=default, value=default))
    )
