"""The store-to-queries wiring (``kinetic data``, ``kinetic report``) and the files of a wearer's export (CSV, JSON)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from ingest.errors import ConfigError
from ingest.settings import InfluxSettings, StoreSettings
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.store.influx_v1 import InfluxV1Sink
from ingest.store.influxql_queries import InfluxQLQueries
from ingest.store.private import private_file
from ingest.store.queries import Queries


def open_queries(store: StoreSettings, influx: InfluxSettings) -> tuple[Queries, Callable[[], Awaitable[None]]]:
    """The query layer over the configured store, and how to close it."""
    if store.kind == "embedded":
        if not store.embedded_path.is_file():
            raise ConfigError(f"setting KINETIC_STORE__EMBEDDED_PATH: {store.embedded_path} does not exist")
        embedded = EmbeddedQueries(store.embedded_path)

        async def close_embedded() -> None:
            embedded.close()

        return embedded, close_embedded
    # influx_v1 and influx_v2 alike: InfluxQL through the v1-compatible /query API (token auth on 2.x).
    sink = InfluxV1Sink(influx)
    return InfluxQLQueries(sink), sink.aclose


def open_wearer_queries(store: StoreSettings, influx: InfluxSettings) -> tuple[Queries, Callable[[], Awaitable[None]]]:
    """``open_queries`` for a wearer's own view (``kinetic serve`` without a clinic, ``kinetic report weekly`` without
    ``--clinic``): with the wall between clinics, every database of the wall (``WalledQueries``: their data is in
    their clinic's database or the private one, by the time it was recorded), else the configured store."""
    from ingest.store import make_wall  # noqa: PLC0415 - a cycle through the package
    from ingest.store.walled import WalledQueries  # noqa: PLC0415

    wall = make_wall(store, influx)
    if wall is None:
        return open_queries(store, influx)
    walled = WalledQueries(influx, wall)
    return walled, walled.aclose


def describe_store(store: StoreSettings, influx: InfluxSettings) -> str:
    """The configured store in words, for messages: "the embedded store kinetic.sqlite", "InfluxDB database ..."."""
    if store.kind == "embedded":
        return f"the embedded store {store.embedded_path}"
    return f"InfluxDB database {influx.database!r} at {influx.url}"


def check_output_folder(out: Path, option: str = "--out") -> Path:
    """``out``, when files can be written into it (it is a folder, or it can be made in the nearest folder that
    exists), checked before any work and without making it; else ``ConfigError`` naming it and what is expected (a
    file is there, a file is in the way, a folder this user cannot write), so a wrong ``--out`` costs one line, not
    a traceback after the export or the report was made. Writing may still fail (a full disk, a place such as
    /proc that only refuses when asked): the callers turn that ``OSError`` into one line too."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"{option} {out}: a file is there; a folder to write into is expected")
    existing = out
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{option} {out}: {existing} is a file, not a folder; a folder to write into is expected")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {out}: this user cannot write into {existing}; a writable folder is expected")
    return out


def write_export(
    wearer: str, document: Mapping[str, Any], tables: Mapping[str, list[dict[str, Any]]], out: Path, fmt: str
) -> list[Path]:
    """Write ``<wearer>.json`` (the whole ``document``) and/or ``<wearer>-<name>.csv`` for each table with rows
    (``time`` first when there is one); returns the files written."""
    out.mkdir(parents=True, exist_ok=True)
    files: list[Path] = []
    if fmt in ("json", "both"):
        path = private_file(out / f"{wearer}.json")  # health data: the owner's only
        path.write_text(json.dumps({"wearer": wearer, **document}, indent=1, sort_keys=True))
        files.append(path)
    if fmt in ("csv", "both"):
        for name, items in tables.items():
            if not items:
                continue
            path = private_file(out / f"{wearer}-{name}.csv")
            keys = sorted({k for row in items for k in row})
            columns = ["time", *(k for k in keys if k != "time")] if "time" in keys else keys
            with path.open("w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=columns)
                writer.writeheader()
                writer.writerows(items)
            files.append(path)
    return files


def flatten(value: Any, path: str = "") -> list[dict[str, Any]]:
    """A nested JSON value as rows of ``path`` (dotted keys and list indexes) and ``value`` (leaves), for CSV."""
    if isinstance(value, Mapping):
        return [row for k, v in value.items() for row in flatten(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [row for i, v in enumerate(value) for row in flatten(v, f"{path}.{i}" if path else str(i))]
    return [{"path": path, "value": value}]
