"""A stand-in for the part of InfluxDB 2.x's HTTP API that provisioning uses (InfluxDB 2.x cannot run here), on a
loopback port: it checks the ``Authorization: Token`` header and every request body against the shapes of InfluxDB's
OSS API contract (influxdata/openapi, contracts/oss.yml), records what was made, and answers with the documented
response shapes.

- ``GET /api/v2/orgs?org=`` -> ``{"orgs": [Organization]}``
- ``GET /api/v2/buckets?orgID=&name=`` -> ``{"buckets": [Bucket]}``; ``POST /api/v2/buckets`` (PostBucketRequest:
  ``orgID`` and ``name`` required; ``retentionRules`` items ``{"type": "expire", "everySeconds": int >= 0}``) ->
  Bucket
- ``GET /api/v2/dbrps?orgID=&db=&rp=`` -> ``{"content": [DBRP]}``; ``POST /api/v2/dbrps`` (DBRPCreate: ``bucketID``,
  ``database``, ``retention_policy`` required; ``orgID`` or ``org``; ``default`` bool) -> DBRP
- ``POST /api/v2/authorizations`` (AuthorizationPostRequest: ``orgID`` and a non-empty ``permissions`` required; a
  Permission is ``{"action": "read"|"write", "resource": Resource}``, a Resource has a ``type`` of the contract's
  list and optional ``id``, ``orgID``, ``name``, ``org``) -> Authorization with a new ``token``
- the v1-compatible ``GET|POST /query?db=&rp=&q=`` and ``POST /write?db=&rp=`` (docs.influxdata.com, InfluxDB OSS v2,
  "1.x compatibility API"): ``db`` (and ``rp``, else the mapping marked ``default``) name a bucket through its DBRP
  mapping; any token made here authenticates, and it must hold ``read`` (query) or ``write`` (write) on that bucket.
  A write is answered 204, its lines kept in ``written`` and stored in ``points``. A query answers per statement
  from the stored points for the InfluxQL that ``kinetic data move`` sends on 2.x (``SHOW MEASUREMENTS``, ``SHOW
  RETENTION POLICIES ON``, ``SHOW TAG KEYS FROM``, ``SHOW FIELD KEYS FROM``, ``SHOW TAG VALUES FROM .. WITH KEY =
  .. WHERE wearer = ..``, ``SELECT * FROM "db"."rp"."m" WHERE tag = '..' [AND ..] [AND time >= Nms] [AND time <
  Nms]``, epoch ms); any other statement answers ``{"statement_id": i}`` with no series. Refused: 401 for an
  unknown token, 403 for a token without the permission (the status a real server sends for the latter was not
  checked here: it may answer 404, bucket not found), 404 for a database with no mapping.
- ``POST /api/v2/write?org=&bucket=&precision=`` (line protocol) -> 204; like the calls above, only with
  the all-access token
- ``POST /api/v2/delete?org=&bucket=`` (DeletePredicateRequest: ``start`` and ``stop`` RFC3339, both inclusive,
  required; ``predicate`` optional: ``key="value"`` terms joined by ``AND``, ``_measurement`` included) -> 204
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

RESOURCE_TYPES = {
    "authorizations", "buckets", "dashboards", "orgs", "sources", "tasks", "telegrafs", "users", "variables",
    "scrapers", "secrets", "labels", "views", "documents", "notificationRules", "notificationEndpoints", "checks",
    "dbrp", "notebooks",
}  # fmt: skip


ROOT = Path(__file__).resolve().parents[2]
Run = Callable[..., subprocess.CompletedProcess[str]]


def walled_kinetic(tmp_path: Path, token: str, **settings: str) -> Run:
    """``kinetic *args`` in a subprocess with the wall between clinics (deploy/clinics.yaml) on InfluxDB 2.x through
    its v1-compatible API with ``token`` (organisation ``kinetic``), the data folder in ``tmp_path``; ``settings`` and
    each call's keyword arguments add environment variables."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "KINETIC_STORE__KIND": "influx_v1",  # the bridge writes through the v1-compatible /write with its token
        "KINETIC_STORE__CLINIC_WALL": "true",
        "KINETIC_STORE__CLINICS_FILE": str(ROOT / "deploy" / "clinics.yaml"),
        "KINETIC_INFLUX__TOKEN": token,
        "KINETIC_INFLUX__ORG": "kinetic",
        **settings,
    }

    def kinetic(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "kinetic", *args]
        return subprocess.run(cmd, env={**env, **extra}, capture_output=True, text=True, timeout=120, check=False)

    return kinetic


class ShapeError(AssertionError):
    pass


def _keys(body: Any, required: dict[str, type], optional: dict[str, type], where: str) -> None:
    if not isinstance(body, dict):
        raise ShapeError(f"{where}: body must be a JSON object")
    for key in required:
        if key not in body:
            raise ShapeError(f"{where}: missing {key!r}")
    for key, value in body.items():
        kind = required.get(key) or optional.get(key)
        if kind is None:
            raise ShapeError(f"{where}: {key!r} is not in the contract")
        if not isinstance(value, kind):
            raise ShapeError(f"{where}: {key!r} must be {kind.__name__}")


@dataclass
class FakeInflux2:
    token: str
    org: str = "kinetic"
    org_id: str = "0a1b2c3d4e5f6a7b"
    errors: list[str] = field(default_factory=list)
    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> bucket
    dbrps: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[dict[str, Any]] = field(default_factory=list)
    written: list[tuple[str, str]] = field(default_factory=list)  # (bucket name, line protocol) of v1 writes
    points: dict[str, dict[Any, dict[str, Any]]] = field(default_factory=dict)  # bucket -> (m, tags, ms) -> fields
    deletes: list[dict[str, Any]] = field(default_factory=list)  # each /api/v2/delete: bucket and body
    v1_requests: list[tuple[str, str, str]] = field(default_factory=list)  # (path, bucket name, token role) asked

    def v1(self, path: str, query: dict[str, list[str]], token: str, body: bytes) -> tuple[int, Any]:
        """The v1-compatible ``/query`` and ``/write`` with any token made here (or the all-access one)."""
        q = {k: v[0] for k, v in query.items()}
        auth = [a for a in self.authorizations if a["token"] == token]
        if token != self.token and not auth:
            return 401, {"code": "unauthorized", "message": "unauthorized access"}
        if "db" not in q or (path == "/query" and "q" not in q):
            raise ShapeError(f"{path}: 'db'{' and q' if path == '/query' else ''} required")
        mapped = [
            d
            for d in self.dbrps
            if d["database"] == q["db"] and (d["retention_policy"] == q["rp"] if "rp" in q else d["default"])
        ]
        if not mapped:
            return 404, {"code": "not found", "message": f"no dbrp mapping found for database {q['db']!r}"}
        bucket_id = mapped[0]["bucketID"]
        (name,) = [n for n, b in self.buckets.items() if b["id"] == bucket_id]
        action = "read" if path == "/query" else "write"
        if auth and (action, name) not in self.rights(token):
            return 403, {"code": "forbidden", "message": f"insufficient permissions for {action}"}
        self.v1_requests.append((path, name, str(auth[0].get("description", "")) if auth else "all-access"))
        if path == "/write":
            self.written.append((name, body.decode()))
            self.store(name, body.decode(), q.get("precision", "ns"))
            return 204, None
        statements = [s for s in q["q"].split(";") if s.strip()]
        return 200, {"results": [self.influxql(i, st.strip(), q["db"], token) for i, st in enumerate(statements)]}

    def store(self, bucket: str, text: str, precision: str) -> None:
        """Line protocol into ``points`` of ``bucket`` (a point of the same series and time is merged)."""
        scale = {"ms": 1, "s": 1000, "us": 1e-3, "ns": 1e-6}[precision]
        for line in text.splitlines():
            if line.strip():
                measurement, tags, fields, t = parse_line(line)
                key = (measurement, tuple(sorted(tags.items())), round(t * scale))
                self.points.setdefault(bucket, {}).setdefault(key, {}).update(fields)

    def _buckets_of(self, database: str) -> dict[str, str]:
        """Retention policy -> bucket name of the database's mappings."""
        names = {b["id"]: n for n, b in self.buckets.items()}
        return {d["retention_policy"]: names[d["bucketID"]] for d in self.dbrps if d["database"] == database}

    def influxql(self, i: int, statement: str, database: str, token: str) -> dict[str, Any]:
        answer: dict[str, Any] = {"statement_id": i}
        buckets = self._buckets_of(database)
        every = [p for b in buckets.values() for p in self.points.get(b, {}).items()]
        series: list[dict[str, Any]] = []
        if statement == "SHOW MEASUREMENTS":
            names = sorted({key[0] for key, _ in every})
            series = [{"name": "measurements", "columns": ["name"], "values": [[n] for n in names]}] if names else []
        elif m := re.fullmatch(r'SHOW RETENTION POLICIES ON "([^"]+)"', statement):
            rows = [[rp, "0s", "168h0m0s", 1, d["default"]] for rp, b in self._buckets_of(m[1]).items()
                    for d in self.dbrps if d["database"] == m[1] and d["retention_policy"] == rp]  # fmt: skip
            columns = ["name", "duration", "shardGroupDuration", "replicaN", "default"]
            series = [{"columns": columns, "values": rows}]
        elif m := re.fullmatch(r'SHOW TAG KEYS FROM "([^"]+)"', statement):
            keys = sorted({k for key, _ in every if key[0] == m[1] for k, _ in key[1]})
            series = [{"name": m[1], "columns": ["tagKey"], "values": [[k] for k in keys]}] if keys else []
        elif m := re.fullmatch(r'SHOW FIELD KEYS FROM "([^"]+)"', statement):
            kinds = {k: _field_type(v) for key, fields in every if key[0] == m[1] for k, v in fields.items()}
            rows = [[k, kinds[k]] for k in sorted(kinds)]
            series = [{"name": m[1], "columns": ["fieldKey", "fieldType"], "values": rows}] if rows else []
        elif m := re.fullmatch(r'SHOW TAG VALUES FROM "([^"]+)" WITH KEY = "([^"]+)" WHERE (.+)', statement):
            match = _where(m[3])
            values = sorted({dict(key[1]).get(m[2]) for key, fields in every if key[0] == m[1] and match(key, fields)})
            rows = [[m[2], v] for v in values if v is not None]
            series = [{"name": m[1], "columns": ["key", "value"], "values": rows}] if rows else []
        elif m := re.fullmatch(r'SELECT \* FROM "([^"]+)"\."([^"]+)"\."([^"]+)" WHERE (.+)', statement):
            bucket = self._buckets_of(m[1]).get(m[2])
            if bucket is None or (token != self.token and ("read", bucket) not in self.rights(token)):
                return {**answer, "error": f"database not found: {m[1]}.{m[2]}"}
            match = _where(m[4])
            stored = self.points.get(bucket, {}).items()
            chosen = sorted(((k, f) for k, f in stored if k[0] == m[3] and match(k, f)), key=lambda p: p[0][2])
            if chosen:
                columns = sorted({k for key, f in chosen for k in [*dict(key[1]), *f]})
                rows = [[key[2], *({**dict(key[1]), **f}.get(c) for c in columns)] for key, f in chosen]
                series = [{"name": m[3], "columns": ["time", *columns], "values": rows}]
        return {**answer, "series": series} if series else answer

    def delete(self, bucket: str, body: Any) -> None:
        _keys(body, {"start": str, "stop": str}, {"predicate": str}, "/api/v2/delete")
        start, stop = _rfc3339_ms(body["start"]), _rfc3339_ms(body["stop"])
        terms = {}
        for term in body.get("predicate", "").split(" AND ") if body.get("predicate") else []:
            m = re.fullmatch(r'([A-Za-z_][A-Za-z0-9_]*)="([^"]*)"', term.strip())
            if m is None:
                raise ShapeError(f'/api/v2/delete: predicate term {term!r} is not key="value"')
            terms[m[1]] = m[2]
        self.deletes.append({"bucket": bucket, **body})
        kept = {}
        for key, fields in self.points.get(bucket, {}).items():
            tags = {"_measurement": key[0], **dict(key[1])}
            hit = start <= key[2] <= stop and all(tags.get(k) == v for k, v in terms.items())
            if not hit:
                kept[key] = fields
        self.points[bucket] = kept

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        q = {k: v[0] for k, v in query.items()}
        if (method, path) == ("GET", "/api/v2/orgs"):
            found = [{"id": self.org_id, "name": self.org}] if q.get("org") == self.org else []
            return 200, {"orgs": found}
        if (method, path) == ("GET", "/api/v2/buckets"):
            found = [b for b in self.buckets.values() if b["orgID"] == q.get("orgID") and b["name"] == q.get("name")]
            return 200, {"buckets": found}
        if (method, path) == ("POST", "/api/v2/buckets"):
            _keys(body, {"orgID": str, "name": str}, {"description": str, "retentionRules": list, "rp": str}, path)
            for rule in body.get("retentionRules", []):
                _keys(rule, {"type": str, "everySeconds": int}, {"shardGroupDurationSeconds": int}, f"{path} rule")
                if rule["type"] != "expire" or rule["everySeconds"] < 0:
                    raise ShapeError(f"{path}: a retention rule is type 'expire' with everySeconds >= 0")
            if body["name"] in self.buckets:
                return 422, {"code": "conflict", "message": "bucket with name already exists"}
            bucket = {**body, "id": uuid.uuid4().hex[:16], "type": "user"}
            self.buckets[body["name"]] = bucket
            return 201, bucket
        if (method, path) == ("GET", "/api/v2/dbrps"):
            found = [d for d in self.dbrps if d["database"] == q.get("db") and d["retention_policy"] == q.get("rp")]
            return 200, {"content": found}
        if (method, path) == ("POST", "/api/v2/dbrps"):
            required = {"bucketID": str, "database": str, "retention_policy": str}
            _keys(body, required, {"orgID": str, "org": str, "default": bool}, path)
            if "orgID" not in body and "org" not in body:
                raise ShapeError(f"{path}: orgID or org is required")
            if body["bucketID"] not in {b["id"] for b in self.buckets.values()}:
                return 404, {"code": "not found", "message": "bucket not found"}
            dbrp = {"id": uuid.uuid4().hex[:16], "default": False, **body}
            self.dbrps.append(dbrp)
            return 201, dbrp
        if (method, path) == ("POST", "/api/v2/authorizations"):
            _keys(body, {"orgID": str, "permissions": list}, {"description": str, "status": str, "userID": str}, path)
            if not body["permissions"]:
                raise ShapeError(f"{path}: an authorization must have at least one permission")
            for permission in body["permissions"]:
                _keys(permission, {"action": str, "resource": dict}, {}, f"{path} permission")
                if permission["action"] not in ("read", "write"):
                    raise ShapeError(f"{path}: action must be read or write")
                resource = permission["resource"]
                _keys(resource, {"type": str}, {"id": str, "orgID": str, "name": str, "org": str}, f"{path} resource")
                if resource["type"] not in RESOURCE_TYPES:
                    raise ShapeError(f"{path}: unknown resource type {resource['type']!r}")
            made = {**body, "id": uuid.uuid4().hex[:16], "token": f"tok-{uuid.uuid4().hex}", "status": "active"}
            self.authorizations.append(made)
            return 201, made
        if (method, path) in (("POST", "/api/v2/write"), ("POST", "/api/v2/delete")):
            if q.get("org") != self.org or q.get("bucket") not in self.buckets:
                return 404, {"code": "not found", "message": f"organization or bucket not found: {q}"}
            if path == "/api/v2/write":
                self.store(q["bucket"], body, q.get("precision", "ns"))
            else:
                self.delete(q["bucket"], body)
            return 204, None
        return 404, {"code": "not found", "message": f"{method} {path}"}

    def rights(self, token: str) -> set[tuple[str, str]]:
        """(action, bucket name) pairs the token holds."""
        names = {b["id"]: name for name, b in self.buckets.items()}
        (auth,) = [a for a in self.authorizations if a["token"] == token]
        return {(p["action"], names[p["resource"]["id"]]) for p in auth["permissions"]}


def _split(text: str, sep: str) -> list[str]:
    """``text`` split at each ``sep`` that is neither escaped nor inside a quoted string (line protocol)."""
    parts, current, quoted, escaped = [], "", False, False
    for char in text:
        if escaped:
            current, escaped = current + "\\" + char, False
        elif char == "\\":
            escaped = True
        elif char == '"':
            current, quoted = current + char, not quoted
        elif char == sep and not quoted:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_line(line: str) -> tuple[str, dict[str, str], dict[str, Any], int]:
    """One line of line protocol: measurement, tags, typed fields, time (in the write's precision)."""
    head, fields_text, t = _split(line, " ")
    series = _split(head, ",")
    tags = dict((_unescape(k), _unescape(v)) for k, v in (_split(p, "=") for p in series[1:]))
    fields: dict[str, Any] = {}
    for pair in _split(fields_text, ","):
        key, value = _split(pair, "=")
        if value.startswith('"'):
            fields[_unescape(key)] = _unescape(value[1:-1])
        elif value.endswith("i"):
            fields[_unescape(key)] = int(value[:-1])
        elif value in ("true", "false"):
            fields[_unescape(key)] = value == "true"
        else:
            fields[_unescape(key)] = float(value)
    return _unescape(series[0]), tags, fields, int(t)


def _field_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {int: "integer", float: "float"}.get(type(value), "string")


def _where(clause: str) -> Any:
    """InfluxQL ``tag = 'v'`` and ``time >= Nms`` / ``time < Nms`` terms joined by AND, as a test of a point."""
    tests = []
    for term in clause.split(" AND "):
        if m := re.fullmatch(r"\"?([A-Za-z_]+)\"? = '([^']*)'", term.strip()):
            tests.append(lambda key, fields, k=m[1], v=m[2]: dict(key[1]).get(k) == v)
        elif m := re.fullmatch(r"time (>=|<) (-?\d+)ms", term.strip()):
            bound, op = int(m[2]), m[1]
            tests.append(lambda key, fields, b=bound, o=op: key[2] >= b if o == ">=" else key[2] < b)
        else:
            raise ShapeError(f"InfluxQL: the stand-in does not know the term {term!r}")
    return lambda key, fields: all(t(key, fields) for t in tests)


def _rfc3339_ms(text: str) -> float:
    """An RFC3339 time (UTC, up to nanoseconds) as epoch ms (fractional)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?Z", text)
    if m is None:
        raise ShapeError(f"/api/v2/delete: {text!r} is not an RFC3339 time")
    seconds = datetime.strptime(m[1], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return seconds * 1000 + int((m[2] or "0").ljust(9, "0")) / 1e6


class _Handler(BaseHTTPRequestHandler):
    def _serve(self) -> None:
        influx: FakeInflux2 = self.server.influx  # type: ignore[attr-defined]
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        header = self.headers.get("Authorization") or ""
        try:
            if url.path in ("/query", "/write"):
                token = header.removeprefix("Token ") if header.startswith("Token ") else ""
                status, answer = influx.v1(url.path, parse_qs(url.query), token, raw)
            elif header != f"Token {influx.token}":
                status, answer = 401, {"code": "unauthorized", "message": "unauthorized access"}
            else:
                text = url.path == "/api/v2/write"  # line protocol, not JSON
                body = raw.decode() if text else json.loads(raw or b"null")
                status, answer = influx.handle(self.command, url.path, parse_qs(url.query), body)
        except (ShapeError, ValueError) as exc:
            influx.errors.append(str(exc))
            status, answer = 400, {"code": "invalid", "message": str(exc)}
        data = b"" if answer is None else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _serve

    def log_message(self, *args: object) -> None:
        return None


class FakeInflux2Server:
    def __init__(self, influx: FakeInflux2) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.influx = influx  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeInflux2Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
