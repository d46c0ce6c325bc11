"""The web app's sharing (issue 20, items 3 and 4) and its clinic view (item 2): what the routes in
``consent_routes.py`` and the wall's gate in ``app.py`` use.

``ConsentAccess``: the wearer's Sharing page sets and withdraws consent through the very ledger and checks of
``kinetic consent`` (``ingest.consent.ConsentLedger``: a clinic of the clinics file, a grant that starts no later than
now and ends after it starts, known categories), publishes each change as its event (``EventV1`` ``consent_granted``
/ ``consent_withdrawn`` on the wearer's consent topic, which the bridge routes by), and, when the wearer asks for the
clinic's copy to go, reroutes it into their private database (``ingest.store.reroute``, under the wall only; that
needs a credential with ``ALL`` on the wall's databases: with a read-only one the withdrawal stands and the page says
the operator's ``kinetic data move WEARER`` finishes it).

``ClinicScope``: ``kinetic serve`` for one clinic (``KINETIC_WEB__CLINIC``, under the wall): it reads the clinic's
database with the clinic's read-only credential and serves a wearer only while ``clinic_read_refusal`` allows it (on
the clinic's roster, posture granted now: the weekly report's rule), read by read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from dashboards.web.views import local_time
from ingest.clinics import ClinicsFile
from ingest.consent import ConsentLedger, clinic_read_refusal
from ingest.errors import ConfigError
from ingest.settings import InfluxSettings, StoreSettings
from ingest.wall import CATEGORIES
from ingest.wire import EventV1

PublishEvent = Callable[[EventV1], Awaitable[None]]
TakeBack = Callable[[str], Awaitable[int]]
SETTLE_CHECKS = 3  # as `kinetic consent withdraw --delete-shared`: a running bridge may still write what it had
CATEGORY_TEXT = {
    "posture": "posture and prompts",
    "checkins": "pain and stress check-ins",
    "exercise": "exercise sessions",
}


@dataclass
class ConsentAccess:
    """What the Sharing page needs: the records, how to tell the services, how to take a clinic's copy back (None:
    no wall, the clinic reads no copy of its own)."""

    ledger: ConsentLedger
    publish: PublishEvent
    take_back: TakeBack | None = None

    @property
    def clinics(self) -> ClinicsFile | None:
        return self.ledger.clinics


@dataclass
class ClinicScope:
    """A server that reads for ``clinic``: who it may serve is asked of the records at each read."""

    clinic: str
    clinics: ClinicsFile
    ledger: ConsentLedger

    async def refusal(self, wearer: str, now_ms: int) -> str | None:
        """Why this clinic may not read ``wearer`` now (None: it may). The records are asked at each read, in a worker
        thread; the ledger parses its file again only when the file changed (``ConsentLedger._all``: keyed on its
        change time and size), so a withdrawal counts from the next read on."""
        book = await asyncio.to_thread(self.ledger.book)
        return clinic_read_refusal(self.clinics, book, wearer, self.clinic, now_ms)


def time_text(t_ms: int | None, zone: ZoneInfo) -> str:
    """``2026-11-23 09:00`` in ``zone``; None: an empty string."""
    return "" if t_ms is None else local_time(t_ms, zone)


def parse_local(text: str, zone: ZoneInfo, field: str) -> int | None:
    """A ``datetime-local`` field ('2026-11-23T15:30', or with a zone) as Unix ms; empty: None. Raises ConfigError
    naming the field."""
    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{field} {text[:40]!r}: expected a date and time such as 2026-11-23T15:30") from None
    return round((value if value.tzinfo is not None else value.replace(tzinfo=zone)).timestamp() * 1000)


def clinic_names(clinics: ClinicsFile | None, uids: Sequence[str] = ()) -> dict[str, str]:
    """clinic uid -> its name (the clinics file's, else the uid), the file's clinics first."""
    names = {c.uid: c.name for c in clinics.clinics} if clinics is not None else {}
    return {**names, **{uid: uid for uid in uids if uid not in names}}


def sharing_view(record: Mapping[str, Any], clinics: ClinicsFile | None, zone: ZoneInfo) -> dict[str, Any]:
    """What the Sharing page shows of ``ConsentLedger.read``'s answer: ``now`` (clinic, name, data words, until),
    ``changes`` newest first (when, what, clinic, data, from, until), times in ``zone``."""
    changes = list(record["changes"])
    ends: dict[str, int | None] = {}
    for c in changes:  # the open end of the newest grant to each clinic (shown beside what is granted now)
        if c["action"] == "grant":
            ends[c["clinic"]] = c["until_ms"]
    now_items = [
        {
            "clinic": clinic,
            "data": list(data),
            "data_text": ", ".join(CATEGORY_TEXT[d] for d in data),
            "until": time_text(ends.get(clinic), zone) or "until you withdraw it",
        }
        for clinic, data in record["now"].items()
    ]
    names = clinic_names(clinics, [*record["now"], *(c["clinic"] for c in changes)])
    for item in now_items:
        item["name"] = names[item["clinic"]]
    history = [
        {
            "action": "shared" if c["action"] == "grant" else "withdrawn",
            "clinic": names[c["clinic"]],
            "data_text": ", ".join(CATEGORY_TEXT[d] for d in c["data"]),
            "from": time_text(c["at_ms"], zone),
            "until": time_text(c["until_ms"], zone),
        }
        for c in reversed(changes)
    ]
    return {"now": now_items, "changes": history, "names": names}


def audit_items(entries: Sequence[Mapping[str, Any]], zone: ZoneInfo) -> list[dict[str, str]]:
    """The audit trail's entries for the wearer (``AuditLog.for_wearer``), newest first, times in ``zone``."""
    return [
        {"time": time_text(int(e["time"]), zone), "actor": e["actor"], "action": e["action"], "detail": e["detail"]}
        for e in reversed(entries)
    ]


def check_categories(data: Sequence[str]) -> list[str]:
    """The form's ticked categories, refused (ConfigError) when none or unknown."""
    unknown = [d for d in data if d not in CATEGORIES]
    if unknown or not data:
        raise ConfigError(f"data: tick one or more of {', '.join(CATEGORY_TEXT[c] for c in CATEGORIES)}")
    return list(data)


def wall_take_back(store: StoreSettings, influx: InfluxSettings, ledger: ConsentLedger) -> TakeBack | None:
    """Under the wall: a function that moves a wearer's points to where the wall routes them by the records now
    (what a withdrawal with 'delete the shared copy' leaves in the clinic's database goes to the private one) and
    returns how many moved; looks again ``SETTLE_CHECKS`` times, 1 s apart, while the bridge may still write under the
    old routing. Raises what ``reroute`` raises (SinkAuthError without ``ALL``). None without the wall."""
    from ingest.store import make_wall  # noqa: PLC0415 - only a walled deployment needs the rerouting
    from ingest.store.influx_v1 import InfluxV1Sink  # noqa: PLC0415
    from ingest.store.reroute import reroute  # noqa: PLC0415

    wall = make_wall(store, influx)
    if wall is None:
        return None

    async def take_back(wearer: str) -> int:
        wall.consent = await asyncio.to_thread(ledger.book)
        sink = InfluxV1Sink(influx)
        total = 0
        try:
            for attempt in range(SETTLE_CHECKS):
                if attempt:
                    await asyncio.sleep(1.0)
                moved = (await reroute(sink, wall, wearer)).total
                total += moved
                if not moved and attempt:
                    break
        finally:
            await sink.aclose()
        return total

    return take_back
