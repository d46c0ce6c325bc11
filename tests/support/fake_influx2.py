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
  A query answers ``{"results": [{"statement_id": i}]}`` per statement (the stand-in keeps no points); a write is
  answered 204 and its lines are kept in ``written``. Refused: 401 for an unknown token, 403 for a token without the
  permission (the status a real server sends for the latter was not checked here: it may answer 404, bucket not
  found), 404 for a database with no mapping.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

RESOURCE_TYPES = {
    "authorizations", "buckets", "dashboards", "orgs", "sources", "tasks", "telegrafs", "users", "variables",
    "scrapers", "secrets", "labels", "views", "documents", "notificationRules", "notificationEndpoints", "checks",
    "dbrp", "notebooks",
}  # fmt: skip


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
            return 204, None
        statements = [s for s in q["q"].split(";") if s.strip()]
        return 200, {"results": [{"statement_id": i} for i in range(len(statements))]}

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
        return 404, {"code": "not found", "message": f"{method} {path}"}

    def rights(self, token: str) -> set[tuple[str, str]]:
        """(action, bucket name) pairs the token holds."""
        names = {b["id"]: name for name, b in self.buckets.items()}
        (auth,) = [a for a in self.authorizations if a["token"] == token]
        return {(p["action"], names[p["resource"]["id"]]) for p in auth["permissions"]}


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
                status, answer = influx.handle(self.command, url.path, parse_qs(url.query), json.loads(raw or b"null"))
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
