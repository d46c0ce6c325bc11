"""Point sinks: one data model (ingest.store.model), several writers behind the PointSink port."""

from __future__ import annotations

from ingest.errors import ConfigError
from ingest.settings import InfluxSettings, StoreSettings
from ingest.store.points import PointSink
from ingest.wall import Wall


def make_wall(store: StoreSettings, influx: InfluxSettings) -> Wall | None:
    """The wall between clinics when ``KINETIC_STORE__CLINIC_WALL`` is on (None when off). Raises ConfigError: no
    clinics file, a store the wall is not built for, a clinics file that cannot be read."""
    if not store.clinic_wall:
        return None
    from ingest.clinics import load_clinics  # noqa: PLC0415 - only a walled deployment reads the file

    if store.kind != "influx_v1":
        raise ConfigError(
            "setting KINETIC_STORE__CLINIC_WALL needs KINETIC_STORE__KIND=influx_v1 (InfluxDB 1.x, or 2.x through its "
            "v1-compatible API with a token): the embedded store is one person's machine (docs/privacy.md)"
        )
    if store.clinics_file is None:
        raise ConfigError("setting KINETIC_STORE__CLINIC_WALL needs KINETIC_STORE__CLINICS_FILE: the clinics' rosters")
    return Wall(influx.database, load_clinics(store.clinics_file).roster())


def make_sink(store: StoreSettings, influx: InfluxSettings, wall: Wall | None = None) -> PointSink:
    """The writer ``KINETIC_STORE__KIND`` names; with ``wall``, the one that routes by it (InfluxDB 1.x)."""
    if store.kind == "embedded":
        from ingest.store.embedded import EmbeddedSink  # noqa: PLC0415 - import only the backend in use

        return EmbeddedSink(store.embedded_path)
    if store.kind == "influx_v2":
        from ingest.store.influx_v2 import InfluxV2Sink  # noqa: PLC0415

        return InfluxV2Sink(influx)
    if wall is not None:
        from ingest.store.walled import WalledInfluxV1Sink  # noqa: PLC0415

        return WalledInfluxV1Sink(influx, wall)
    from ingest.store.influx_v1 import InfluxV1Sink  # noqa: PLC0415

    return InfluxV1Sink(influx)
