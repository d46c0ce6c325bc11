"""InfluxQL targets for grafana-foundation-sdk panels, and the panel shapes Kinetic's dashboards share.

The SDK has no InfluxDB query type, so ``InfluxQL`` is one: a raw InfluxQL target as Grafana's InfluxDB data
source stores it (``query``, ``rawQuery``, ``resultFormat``, ``alias``). Every panel query in Kinetic is raw
InfluxQL, which runs on InfluxDB 1.x, on 2.4+ through the v1 API and on 3.x.
"""

from __future__ import annotations

from typing import Any, Literal

from grafana_foundation_sdk.builders import table
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import dashboard as model

DATASOURCE_UID = "kinetic-influxdb"
DATASOURCE = model.DataSourceRef(type_val="influxdb", uid=DATASOURCE_UID)
WEARER = "wearer =~ /^$wearer$/"  # Grafana escapes the value for a regex
DAY = "GROUP BY time(1d) fill(none) tz('$tz')"  # calendar days in the clinic's zone (fill before tz)

ResultFormat = Literal["time_series", "table"]


class InfluxQLQuery(cogvariants.Dataquery):
    def __init__(self, ref_id: str, query: str, result_format: ResultFormat, alias: str | None) -> None:
        self.ref_id = ref_id
        self.query = query
        self.result_format = result_format
        self.alias = alias

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "datasource": DATASOURCE,
            "refId": self.ref_id,
            "query": self.query,
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias:
            out["alias"] = self.alias
        return out


class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """A raw InfluxQL target: ``InfluxQL("SELECT ...", ref="A", table=True, alias="$tag_device")``."""

    def __init__(self, query: str, *, ref: str = "A", table: bool = False, alias: str | None = None) -> None:
        self._query = InfluxQLQuery(ref, " ".join(query.split()), "table" if table else "time_series", alias)

    def build(self) -> InfluxQLQuery:
        return self._query


class InfluxQLAnnotation(cogbuilder.Builder[model.AnnotationTarget]):
    """An annotation target for the InfluxDB data source: the query and which columns give text and tags."""

    def __init__(self, query: str, *, text_column: str, tags_column: str) -> None:
        self._target = _AnnotationTarget(" ".join(query.split()), text_column, tags_column)

    def build(self) -> model.AnnotationTarget:
        return self._target


class _AnnotationTarget(model.AnnotationTarget):
    def __init__(self, query: str, text_column: str, tags_column: str) -> None:
        super().__init__()
        self.query = query
        self.text_column = text_column
        self.tags_column = tags_column

    def to_json(self) -> dict[str, object]:
        # the shape Grafana's InfluxDB plugin gives an InfluxQL annotation (its prepareAnnotation migration)
        return {
            "refId": "Anno",
            "query": self.query,
            "rawQuery": True,
            "resultFormat": "table",
            "queryType": "tags",
            "fromAnnotations": True,
            "textColumn": self.text_column,
            "tagsColumn": self.tags_column,
            "titleColumn": "",
            "timeEndColumn": "",
        }


def grid(x: int, y: int, w: int, h: int) -> model.GridPos:
    return model.GridPos(x=x, y=y, w=w, h=h)


def table_panel(title: str, query: str, at: model.GridPos, description: str = "") -> table.Panel:
    """A table of one raw InfluxQL query's rows."""
    panel = table.Panel().title(title)
    if description:
        panel = panel.description(description)
    return panel.datasource(DATASOURCE).with_target(InfluxQL(query, table=True)).grid_pos(at)
