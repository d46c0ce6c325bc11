"""Point sinks: one data model (ingest.store.model), several writers behind the PointSink port."""

from __future__ import annotations

from ingest.settings import InfluxSettings, StoreSettings
from ingest.store.points import PointSink


def make_sink(store: StoreSettings, influx: InfluxSettings) -> PointSink:
    """The writer ``KINETIC_STORE__KIND`` names."""
    if store.kind == "embedded":
        from ingest.store.embedded import EmbeddedSink  # noqa: PLC0415 - import only the backend in use

        return EmbeddedSink(store.embedded_path)
    if store.kind == "influx_v2":
        from ingest.store.influx_v2 import InfluxV2Sink  # noqa: PLC0415

        return InfluxV2Sink(influx)
    from ingest.store.influx_v1 import InfluxV1Sink  # noqa: PLC0415

    return InfluxV1Sink(influx)
