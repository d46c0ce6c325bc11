"""InfluxDB v2 write API through influxdb-client (token, org, bucket): the production default.

Writes prebuilt line protocol (influxdb-client is about 3x slower building its own ``Point`` objects),
synchronously in a worker thread. Also accepted by InfluxDB 3 Core's ``/api/v2/write``; checked here
against VictoriaMetrics, which implements that endpoint (InfluxDB 2.x cannot run on our machines).
"""

from __future__ import annotations

import asyncio
import logging

from influxdb_client.client.influxdb_client import InfluxDBClient
from influxdb_client.client.write_api import SYNCHRONOUS
from influxdb_client.domain.write_precision import WritePrecision
from influxdb_client.rest import ApiException
from urllib3.exceptions import HTTPError as Urllib3Error

from ingest.errors import StoreUnreachable
from ingest.settings import InfluxSettings
from ingest.store.fast_features import BatchLike
from ingest.store.influx_v1 import sink_error_for
from ingest.store.line_sink import LineSink
from ingest.store.model import line_protocol_for
from ingest.store.points import Point, to_line_protocol
from ingest.wire import Payload

_LOGGER = logging.getLogger(__name__)


class InfluxV2Sink(LineSink):
    """PointSink for ``/api/v2/write`` (bucket = ``KINETIC_INFLUX__DATABASE``, org = ``KINETIC_INFLUX__ORG``)."""

    writes_line_protocol = True  # the bridge may encode feature batches itself (ingest/store/fast_features.py)

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        token = settings.token.get_secret_value() if settings.token else ""
        self._client = InfluxDBClient(
            url=settings.url, token=token, org=settings.org, timeout=int(settings.timeout_s * 1000)
        )
        self._write_api = self._client.write_api(write_options=SYNCHRONOUS)

    async def prepare(self) -> None:
        """Nothing to create: a v2 bucket is made with the server (docker-compose initialises it)."""

    def encode(self, points: list[Point]) -> bytes:
        return to_line_protocol(points)

    def encode_message(self, message: Payload | BatchLike, received_ms: int) -> tuple[bytes, int]:
        return line_protocol_for(message, received_ms)

    def _write(self, body: bytes) -> None:
        try:
            self._write_api.write(
                bucket=self._settings.database,
                org=self._settings.org,
                record=body,
                write_precision=WritePrecision.MS,  # type: ignore[arg-type]  # a str constant
            )
        except ApiException as exc:
            text = str(getattr(exc, "body", "") or exc.reason or "")[:500]
            raise sink_error_for(int(exc.status or 0), text, "InfluxDB /api/v2/write", "KINETIC_INFLUX__TOKEN") from exc
        except (Urllib3Error, OSError) as exc:
            raise StoreUnreachable(f"InfluxDB at {self._settings.url}", str(exc), "KINETIC_INFLUX__URL") from exc

    async def aclose(self) -> None:
        await asyncio.to_thread(self._client.close)
