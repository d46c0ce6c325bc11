"""A stand-in for Grafana's HTTP API (Grafana itself cannot run here), on a loopback port: it records every
request, checks each body against the shapes Grafana's HTTP API documentation gives for that endpoint, and answers
with the documented response shapes, keeping just enough state (data sources, folders, teams, users, dashboards).

Endpoints and shapes (grafana.com/docs/grafana/latest/developers/http_api/): data source (GET/PUT
/api/datasources/uid/:uid, POST /api/datasources), folder (GET /api/folders/:uid, POST /api/folders), folder
permissions (POST /api/folders/:uid/permissions with ``items`` of ``role``/``teamId``/``userId`` + ``permission``
1/2/4), team (GET /api/teams/search, POST /api/teams, GET/POST /api/teams/:id/members), user lookup (GET
/api/users/lookup?loginOrEmail=), dashboard (POST /api/dashboards/db). Authentication: ``Authorization: Bearer``.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse


class ShapeError(AssertionError):
    pass


def _require(body: Any, keys: dict[str, type | tuple[type, ...]], where: str) -> None:
    if not isinstance(body, dict):
        raise ShapeError(f"{where}: body must be a JSON object, got {type(body).__name__}")
    for key, kind in keys.items():
        if key not in body:
            raise ShapeError(f"{where}: missing {key!r}")
        if not isinstance(body[key], kind):
            raise ShapeError(f"{where}: {key!r} must be {kind}, got {type(body[key]).__name__}")


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class FakeGrafana:
    token: str
    users: dict[str, int]  # login or e-mail -> user id
    requests: list[Recorded] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    datasources: dict[str, dict[str, Any]] = field(default_factory=dict)
    folders: dict[str, dict[str, Any]] = field(default_factory=dict)
    permissions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    teams: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)
    dashboards: dict[str, dict[str, Any]] = field(default_factory=dict)

    def calls(self, method: str, prefix: str) -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    # --- the API ------------------------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        parts = path.strip("/").split("/")[1:]  # after "api"
        if parts[:2] == ["datasources", "uid"] and method == "GET":
            ds = self.datasources.get(parts[2])
            return (200, ds) if ds else (404, {"message": "Data source not found"})
        if parts == ["datasources"] and method == "POST":
            self._datasource(body, "POST /api/datasources")
            if body.get("uid") in self.datasources:
                return 409, {"message": "data source with the same uid already exists"}
            body["id"] = len(self.datasources) + 1
            self.datasources[body["uid"]] = body
            return 200, {"datasource": body, "id": body["id"], "message": "Datasource added", "name": body["name"]}
        if parts[:2] == ["datasources", "uid"] and method == "PUT":
            self._datasource(body, "PUT /api/datasources/uid/:uid")
            if parts[2] not in self.datasources:
                return 404, {"message": "Data source not found"}
            self.datasources[parts[2]] = body
            return 200, {"datasource": body, "id": 1, "message": "Datasource updated", "name": body["name"]}
        if parts[:1] == ["folders"] and len(parts) == 2 and method == "GET":
            folder = self.folders.get(parts[1])
            return (200, folder) if folder else (404, {"message": "folder not found", "status": "not-found"})
        if parts == ["folders"] and method == "POST":
            _require(body, {"title": str}, "POST /api/folders")
            uid = body.get("uid") or f"f{len(self.folders)}"
            if uid in self.folders:
                return 409, {"message": "a folder with the same uid already exists"}
            self.folders[uid] = {
                "id": len(self.folders) + 1,
                "uid": uid,
                "title": body["title"],
                "url": f"/dashboards/f/{uid}/",
            }
            self.permissions[uid] = [{"role": "Viewer", "permission": 1}, {"role": "Editor", "permission": 2}]
            return 200, self.folders[uid]
        if parts[:1] == ["folders"] and parts[2:] == ["permissions"] and method == "POST":
            _require(body, {"items": list}, "POST /api/folders/:uid/permissions")
            for item in body["items"]:
                _require(item, {"permission": int}, "permission item")
                if item["permission"] not in (1, 2, 4):
                    raise ShapeError(f"permission must be 1, 2 or 4: {item}")
                if sum(k in item for k in ("role", "teamId", "userId")) != 1:
                    raise ShapeError(f"an item names exactly one of role, teamId, userId: {item}")
                if "teamId" in item and item["teamId"] not in self.teams:
                    return 404, {"message": "Team not found"}
            if parts[1] not in self.folders:
                return 404, {"message": "folder not found"}
            self.permissions[parts[1]] = body["items"]
            return 200, {"message": "Folder permissions updated"}
        if parts == ["teams", "search"] and method == "GET":
            name = (query.get("query") or query.get("name") or [""])[0]
            teams = [t for t in self.teams.values() if name in t["name"]]
            return 200, {"totalCount": len(teams), "teams": teams, "page": 1, "perPage": 1000}
        if parts == ["teams"] and method == "POST":
            _require(body, {"name": str}, "POST /api/teams")
            if any(t["name"] == body["name"] for t in self.teams.values()):
                return 409, {"message": "Team name taken"}
            team_id = len(self.teams) + 1
            self.teams[team_id] = {"id": team_id, "orgId": 1, "name": body["name"], "email": body.get("email", "")}
            self.members[team_id] = set()
            return 200, {"message": "Team created", "teamId": team_id}
        if parts[:1] == ["teams"] and parts[2:] == ["members"]:
            team_id = int(parts[1])
            if team_id not in self.teams:
                return 404, {"message": "Team not found"}
            if method == "GET":
                return 200, [{"orgId": 1, "teamId": team_id, "userId": u} for u in sorted(self.members[team_id])]
            _require(body, {"userId": int}, "POST /api/teams/:id/members")
            if body["userId"] in self.members[team_id]:
                return 400, {"message": "User is already added to this team"}
            self.members[team_id].add(body["userId"])
            return 200, {"message": "Member added to Team"}
        if parts == ["users", "lookup"] and method == "GET":
            login = query.get("loginOrEmail", [""])[0]
            if login not in self.users:
                return 404, {"message": "user not found"}
            return 200, {"id": self.users[login], "login": login, "email": login, "orgId": 1}
        if parts == ["dashboards", "db"] and method == "POST":
            _require(body, {"dashboard": dict, "overwrite": bool}, "POST /api/dashboards/db")
            dash = body["dashboard"]
            _require(dash, {"uid": str, "title": str, "panels": list}, "dashboard")
            if dash.get("id") is not None:
                raise ShapeError("a dashboard pushed by uid has id null")
            folder = body.get("folderUid")
            if folder is not None and folder not in self.folders:
                return 400, {"message": "folder not found"}
            version = self.dashboards.get(dash["uid"], {}).get("version", 0) + 1
            self.dashboards[dash["uid"]] = {"dashboard": dash, "folderUid": folder, "version": version}
            url = f"/d/{dash['uid']}/x"
            return 200, {"id": 1, "uid": dash["uid"], "url": url, "status": "success", "version": version, "slug": "x"}
        return 404, {"message": f"no such endpoint: {method} {path}"}

    @staticmethod
    def _datasource(body: Any, where: str) -> None:
        _require(body, {"name": str, "type": str, "access": str, "url": str, "jsonData": dict}, where)
        if body["access"] not in ("proxy", "direct"):
            raise ShapeError(f"{where}: access must be proxy or direct")


class _Handler(BaseHTTPRequestHandler):
    grafana: FakeGrafana

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        g = self.server.grafana  # type: ignore[attr-defined]
        g.requests.append(Recorded(method, url.path, parse_qs(url.query), body))
        try:
            if self.headers.get("Authorization") != f"Bearer {g.token}":
                status, answer = 401, {"message": "Unauthorized"}
            else:
                status, answer = g.handle(method, url.path, parse_qs(url.query), body)
        except ShapeError as exc:
            g.errors.append(str(exc))
            status, answer = 400, {"message": str(exc)}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def log_message(self, format: str, *args: Any) -> None:
        pass


class FakeGrafanaServer:
    def __init__(self, grafana: FakeGrafana) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.grafana = grafana  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FakeGrafanaServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
