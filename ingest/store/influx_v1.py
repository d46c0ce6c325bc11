"""InfluxDB v1 HTTP API writer: ``POST /write`` with line protocol, many points per request.

Works with InfluxDB 1.x and with the v1-compatible API of InfluxDB 2.4+ and 3.x (bucket = database,
``Authorization: Token ...``). urllib is synchronous, so each request runs in a worker thread
(``asyncio.to_thread``) and never blocks the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from ingest.errors import SinkAuthError, SinkError, SinkRejected, SinkUnavailable, StoreUnreachable
from ingest.settings import InfluxSettings
from ingest.store.fast_features import BatchLike
from ingest.store.model import line_protocol_for
from ingest.store.points import Point, to_line_protocol
from ingest.wire import Payload

_LOGGER = logging.getLogger(__name__)


RAW_POLICY = "kinetic_raw"
KEEP_POLICY = "autogen"  # InfluxDB 1.x's own default policy of a new database: kept forever
RAW_PREFIX = b"features,"


def sink_error_for(status: int, text: str, where: str, credentials: str) -> SinkError:
    """Map an HTTP error status to what the bridge should do about it.

    400 (a bad line, e.g. a field type conflict) and 413 (too large) are about the data: the bridge splits
    the batch and dead-letters the lines that stay rejected. 401/403 and every other status are about the
    server or our settings (a missing database, a wrong token): retried, the data is kept.
    """
    if status in (400, 413):
        return SinkRejected(f"{where} rejected the data (HTTP {status}): {text}", status, text)
    if status in (401, 403):
        return SinkAuthError(f"{where} refused the credentials (HTTP {status}): check {credentials}")
    return SinkUnavailable(f"{where} answered HTTP {status}: {text}")


class InfluxV1Sink:
    """PointSink for the v1 HTTP API."""

    writes_line_protocol = True  # the bridge may encode feature batches itself (ingest/store/fast_features.py)

    def __init__(self, settings: InfluxSettings) -> None:
        self._settings = settings
        self._base = settings.url.rstrip("/")
        self._headers: dict[str, str] = {}
        if settings.token is not None:
            self._headers["Authorization"] = f"Token {settings.token.get_secret_value()}"
        elif settings.username is not None:
            password = settings.password.get_secret_value() if settings.password else ""
            creds = base64.b64encode(f"{settings.username}:{password}".encode()).decode()
            self._headers["Authorization"] = f"Basic {creds}"

    async def prepare(self) -> None:
        """Create the database and the raw retention policy when configured to (InfluxDB 1.x; an admin right).
        With ``create_database`` false nothing is made: the database was provisioned (ingest/store/access.py).

        With ``raw_retention_days`` > 0, the per-second ``features`` go to policy ``kinetic_raw`` (that many days);
        everything derived from them (minute rollups, hourly summaries, events, prompts and outcomes, device status,
        bridge stats) stays in the database's default policy, kept forever, so dashboards and weekly reports
        outlive the raw data and their queries need no policy name. Raises SinkUnavailable while the server is
        unreachable.
        """
        if not self._settings.create_database:
            return  # provisioned by an admin (`kinetic store provision`) or a 2.x/3.x bucket: nothing to make here
        await self.create_database(self._settings.database)

    async def create_database(self, db: str) -> None:
        """``CREATE DATABASE`` and its raw retention policy (see ``prepare``): an admin right. Idempotent."""
        await self.query(f'CREATE DATABASE "{db}"', method="POST")
        days = self._settings.raw_retention_days
        if days:
            existing = await self.query(f'SHOW RETENTION POLICIES ON "{db}"')
            rows = {row[0]: row for s in existing["results"][0].get("series", []) for row in s["values"]}
            verb = "ALTER" if RAW_POLICY in rows else "CREATE"
            await self.query(
                f'{verb} RETENTION POLICY "{RAW_POLICY}" ON "{db}" DURATION {days}d REPLICATION 1', method="POST"
            )
            if RAW_POLICY in rows and rows[RAW_POLICY][4]:
                # made by an earlier Kinetic as the database's default: derived data would expire with it
                await self.query(f'ALTER RETENTION POLICY "{KEEP_POLICY}" ON "{db}" DEFAULT', method="POST")

    @property
    def features_source(self) -> str:
        """Where queries find the raw ``features``: their own policy when raw retention is on."""
        return f'"{RAW_POLICY}"."features"' if self._settings.raw_retention_days else "features"

    def encode(self, points: list[Point]) -> bytes:
        return to_line_protocol(points)

    def encode_message(self, message: Payload | BatchLike, received_ms: int) -> tuple[bytes, int]:
        return line_protocol_for(message, received_ms)

    async def write_lines(self, body: bytes) -> None:
        await self.write_to(self._settings.database, body)

    async def write_to(self, database: str, body: bytes) -> None:
        """Write line protocol into ``database`` (raw ``features`` into their own policy when raw retention is on)."""
        if not body:
            return
        if self._settings.raw_retention_days and RAW_PREFIX in body:
            lines = body.splitlines(keepends=True)
            raw = b"".join(line for line in lines if line.startswith(RAW_PREFIX))
            body = b"".join(line for line in lines if not line.startswith(RAW_PREFIX))
            await self._post(database, raw, RAW_POLICY)
        await self._post(database, body, self._settings.retention_policy)

    async def _post(self, database: str, body: bytes, policy: str | None) -> None:
        if not body:
            return
        params = {"db": database, "precision": "ms"}
        if policy:
            params["rp"] = policy
        await asyncio.to_thread(self._request, "POST", "/write", params, body)

    async def write(self, points: list[Point]) -> None:
        await self.write_lines(self.encode(points))

    async def query(self, influxql: str, *, method: str = "GET", database: str | None = None) -> dict[str, Any]:
        """Run InfluxQL in ``database`` (default: the settings'); returns the decoded JSON (``epoch=ms`` timestamps).
        Raises SinkRejected (an InfluxQL error), SinkAuthError (401/403), StoreUnreachable."""
        params = {"db": database or self._settings.database, "q": influxql, "epoch": "ms"}
        raw = await asyncio.to_thread(self._request, method, "/query", params, None)
        result: dict[str, Any] = json.loads(raw or b"{}")
        for statement in result.get("results", []):
            if "error" in statement:
                raise SinkRejected(f"InfluxQL error: {statement['error']}", 400, statement["error"])
        return result

    async def aclose(self) -> None:
        return None

    def _request(self, method: str, path: str, params: dict[str, str], body: bytes | None) -> bytes:
        url = f"{self._base}{path}?{urllib.parse.urlencode(params)}"
        headers = dict(self._headers)
        if body is not None:
            headers["Content-Type"] = "text/plain; charset=utf-8"
        request = urllib.request.Request(
            url,
            data=body if body is not None else b"" if method == "POST" else None,
            headers=headers,
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=self._settings.timeout_s) as response:
                data: bytes = response.read()
                return data
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:500]
            raise sink_error_for(
                exc.code, text, f"InfluxDB {path}", "KINETIC_INFLUX__TOKEN or KINETIC_INFLUX__USERNAME/PASSWORD"
            ) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreUnreachable(f"InfluxDB at {self._base}", str(reason), "KINETIC_INFLUX__URL") from exc
