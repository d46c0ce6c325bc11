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
        try:
            if self.headers.get("Authorization") != f"Token {influx.token}":
                status, answer = 401, {"code": "unauthorized", "message": "unauthorized access"}
            else:
                status, answer = influx.handle(self.command, url.path, parse_qs(url.query), json.loads(raw or b"null"))
        except (ShapeError, ValueError) as exc:
            influx.errors.append(str(exc))
            status, answer = 400, {"code": "invalid", "message": str(exc)}
        data = json.dumps(answer).encode()
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
