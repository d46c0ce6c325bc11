"""Least privilege on InfluxDB 2.x (issue 20, item 1): buckets, their InfluxQL mappings and one token per service and
purpose, each scoped to buckets and to ``read`` or ``write``, made through InfluxDB's documented HTTP API with the
operator's all-access token. ``kinetic store provision`` runs this when ``KINETIC_INFLUX__TOKEN`` is set.

Per database Kinetic writes (the one database, or with the wall between clinics each clinic's and the private one:
ingest/wall.py): a bucket of that name, mapped as database ``<name>``, retention policy ``autogen`` (``POST
/api/v2/dbrps``) so that InfluxQL (Grafana, reports) and the bridge's v1-compatible ``/write?db=`` reach it; with
raw retention a second bucket ``<name>_raw`` (expiring after that many days) mapped as ``<name>`` / ``kinetic_raw``,
the 1.x layout. Tokens (``POST /api/v2/authorizations``), written to ``influxdb_<role>_token`` in the secrets folder
(mode 600; an existing file is kept, so a re-run makes no new token):

| role | permissions |
|---|---|
| ``bridge`` | ``write`` on every bucket |
| ``reader`` | ``read`` on the main bucket(s) (with the wall: the operations database only) |
| ``operator`` | ``read`` and ``write`` on every bucket (export; delete needs ``write``) |
| ``web`` | ``read`` on every bucket, ``write`` on none (the web app, ``kinetic serve``: the wearer's own view reads a
  wearer's data wherever the wall put it, ``WalledQueries``; 1.x's ``kinetic_web``) |
| ``clinic_<uid>`` | ``read`` on its clinic's buckets only (its Grafana data source, ``kinetic dashboards push``) |

Request shapes from InfluxDB's OSS API contract (influxdata/openapi, ``contracts/oss.yml``: ``PostBucketRequest``,
``DBRPCreate``, ``AuthorizationPostRequest``, ``Permission``, ``Resource``). Not run against InfluxDB 2.x here (no
server on these machines): tests check every request against those shapes on a stand-in. InfluxDB 3: Core has admin
tokens only (full access: no least privilege possible); Enterprise has resource tokens scoped to databases and
``read``/``write`` (``influxdb3 create token --permission "db:<names>:<actions>"``, docs.influxdata.com, InfluxDB 3
Enterprise, "influxdb3 create token --permission"): ``influxdb3_token_commands`` prints those commands for the same
plans (``kinetic store provision --influxdb3``); Kinetic does not call InfluxDB 3's API itself, and the commands were
not run here. ``kinetic data move`` needs InfluxQL's ``SELECT ... INTO``, which 2.x's
InfluxQL lacks: on 2.x it reads, re-writes and deletes through the API instead (ingest/store/reroute_v2.py).
"""

from __future__ import annotations

import asyncio
import json
import shlex
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ingest.errors import ConfigError, StoreUnreachable
from ingest.settings import InfluxSettings
from ingest.store.influx_v1 import RAW_POLICY, sink_error_for
from ingest.store.private import private_file
from ingest.wall import Wall

Action = Literal["read", "write"]


@dataclass(frozen=True, slots=True)
class TokenPlan:
    """One token to make: its role (the file ``influxdb_<role>_token``) and (action, database) pairs."""

    role: str
    grants: tuple[tuple[Action, str], ...]


def token_file(secrets_dir: Path, role: str) -> Path:
    """Where provisioning writes (and services read) the token of ``role``: ``<secrets_dir>/influxdb_<role>_token``;
    a clinic's role is ``clinic_<uid>`` (``clinic_token_role``)."""
    return secrets_dir / f"influxdb_{role}_token"


def clinic_token_role(clinic: str) -> str:
    """The token role of clinic ``clinic`` (its uid in the clinics file): read-only on that clinic's buckets."""
    return f"clinic_{clinic}"


def token_plans(database: str, wall: Wall | None) -> list[TokenPlan]:
    """Which token gets which rights, by database name (pure; see the module's table)."""
    every = [database, *(wall.databases() if wall is not None else [])]
    plans = [
        TokenPlan("bridge", tuple(("write", db) for db in every)),
        TokenPlan("reader", (("read", database),)),
        TokenPlan("operator", tuple(pair for db in every for pair in (("read", db), ("write", db)))),
        TokenPlan("web", tuple(("read", db) for db in every)),
    ]
    for clinic, db in (wall.clinic_databases() if wall is not None else {}).items():
        plans.append(TokenPlan(clinic_token_role(clinic), (("read", db),)))
    return plans


def influxdb3_token_commands(database: str, wall: Wall | None, secrets_dir: Path) -> list[str]:
    """The ``influxdb3 create token`` commands (InfluxDB 3 Enterprise resource tokens) that give each role of
    ``token_plans`` the same rights on InfluxDB 3's databases (of the same names), one shell line each, preceded by a
    comment naming the file to save the printed token in (``token_file``). Pure. The permission format
    ``db:NAME[,NAME...]:ACTION[,ACTION]`` and the options ``--permission`` (repeatable), ``--name`` and ``--token``
    are InfluxDB 3 Enterprise's documented CLI. InfluxDB 3 has no retention policies: the raw policy of 1.x/2.x
    (``kinetic_raw``) is not covered. Not run here (no InfluxDB 3 on these machines)."""
    lines: list[str] = []
    for plan in token_plans(database, wall):
        actions: dict[str, set[str]] = {}
        for action, db in plan.grants:
            actions.setdefault(db, set()).add(action)
        groups: dict[tuple[str, ...], list[str]] = {}  # the same actions on several databases: one permission
        for db, acts in actions.items():
            groups.setdefault(tuple(sorted(acts)), []).append(db)
        permissions = " ".join(
            "--permission " + shlex.quote("db:" + ",".join(dbs) + ":" + ",".join(acts)) for acts, dbs in groups.items()
        )
        lines.append(f"# {plan.role}: save the token it prints in {token_file(secrets_dir, plan.role)} (mode 600)")
        name = shlex.quote(f"kinetic-{plan.role}")
        lines.append(f'influxdb3 create token {permissions} --name {name} --token "$INFLUXDB3_AUTH_TOKEN"')
    return lines


class V2Api:
    """The few calls of InfluxDB 2.x's API provisioning needs (urllib in a worker thread)."""

    def __init__(self, url: str, token: str, timeout_s: float) -> None:
        self.base = url.rstrip("/")
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.timeout_s = timeout_s

    async def call(self, method: str, path: str, query: dict[str, str] | None = None, body: Any = None) -> Any:
        """``body`` as JSON; the answer's JSON (``{}`` when empty)."""
        data = None if body is None else json.dumps(body).encode()
        return await asyncio.to_thread(self._call, method, path, query or {}, data, "application/json")

    async def write(self, query: dict[str, str], lines: bytes) -> None:
        """``POST /api/v2/write`` (``query``: ``org``, ``bucket``, ``precision``) of line protocol ``lines``."""
        await asyncio.to_thread(self._call, "POST", "/api/v2/write", query, lines, "text/plain; charset=utf-8")

    def _call(self, method: str, path: str, query: dict[str, str], data: bytes | None, content_type: str) -> Any:
        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {**self.headers, "Content-Type": content_type}
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                raw: bytes = response.read()
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")[:500]
            raise sink_error_for(exc.code, text, f"InfluxDB {method} {path}", "KINETIC_INFLUX__TOKEN") from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise StoreUnreachable(f"InfluxDB at {self.base}", str(reason), "KINETIC_INFLUX__URL") from exc
        return json.loads(raw) if raw else {}


async def provision_v2(settings: InfluxSettings, secrets_dir: Path, wall: Wall | None = None) -> list[str]:
    """As the operator's all-access token (``settings.token``) in organisation ``settings.org``: buckets, mappings and
    tokens (the module's table). Idempotent. Returns what was done, one line each. Raises ConfigError (no such
    organisation, no token), SinkAuthError (the token may not), StoreUnreachable."""
    if settings.token is None:
        raise ConfigError("setting KINETIC_INFLUX__TOKEN: the all-access token of InfluxDB 2.x is needed to provision")
    api = V2Api(settings.url, settings.token.get_secret_value(), settings.timeout_s)
    orgs = (await api.call("GET", "/api/v2/orgs", {"org": settings.org})).get("orgs", [])
    if not orgs:
        raise ConfigError(f"setting KINETIC_INFLUX__ORG: InfluxDB has no organisation {settings.org!r}")
    org_id = str(orgs[0]["id"])
    done: list[str] = []
    buckets: dict[str, list[str]] = {}  # database -> its bucket ids (main, raw)
    for database in [settings.database, *(wall.databases() if wall is not None else [])]:
        layout = [(database, "autogen", True, 0)]
        if settings.raw_retention_days:
            layout.append((f"{database}_raw", RAW_POLICY, False, settings.raw_retention_days * 86_400))
        for name, policy, default, every_s in layout:
            bucket_id = await _bucket(api, org_id, name, every_s)
            await _mapping(api, org_id, bucket_id, database, policy, default)
            buckets.setdefault(database, []).append(bucket_id)
            done.append(f"bucket {name!r} as database {database!r}, policy {policy!r}")
    for plan in token_plans(settings.database, wall):
        path = token_file(secrets_dir, plan.role)
        if await asyncio.to_thread(path.is_file):
            done.append(f"token {plan.role}: kept ({path})")
            continue
        permissions = [
            {"action": action, "resource": {"type": "buckets", "id": bucket_id, "orgID": org_id}}
            for action, database in plan.grants
            for bucket_id in buckets[database]
        ]
        made = await api.call(
            "POST",
            "/api/v2/authorizations",
            body={"orgID": org_id, "description": f"kinetic {plan.role}", "permissions": permissions},
        )
        await asyncio.to_thread(_save, path, str(made["token"]))
        rights = ", ".join(sorted({f"{a} on {db!r}" for a, db in plan.grants}))
        done.append(f"token {plan.role} created: {rights} ({path})")
    return done


async def _bucket(api: V2Api, org_id: str, name: str, every_s: int) -> str:
    found = (await api.call("GET", "/api/v2/buckets", {"orgID": org_id, "name": name})).get("buckets", [])
    if found:
        return str(found[0]["id"])
    body = {"orgID": org_id, "name": name, "retentionRules": [{"type": "expire", "everySeconds": every_s}]}
    return str((await api.call("POST", "/api/v2/buckets", body=body))["id"])


async def _mapping(api: V2Api, org_id: str, bucket_id: str, database: str, policy: str, default: bool) -> None:
    listed = await api.call("GET", "/api/v2/dbrps", {"orgID": org_id, "db": database, "rp": policy})
    if listed.get("content"):
        return
    body = {
        "orgID": org_id,
        "bucketID": bucket_id,
        "database": database,
        "retention_policy": policy,
        "default": default,
    }
    await api.call("POST", "/api/v2/dbrps", body=body)


def _save(path: Path, token: str) -> None:
    """The token in ``path``, mode 600 from the start (never readable by others, not even for a moment)."""
    private_file(path).write_text(token + "\n")
