"""The Sharing page and a clinic's view (issue 20 items 2-4), driven through the app's ASGI interface in-process with
the real ledger, clinics file and audit trail: a change goes through `kinetic consent`'s checks, is recorded, published
as its event and audited; what the CLI refuses the page refuses; the wearer sees who read their data; a clinic's view
serves only the patients who share their posture data with it now, and each refusal is in the trail."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from dashboards.web.app import WebState, build_app
from dashboards.web.consent import ClinicScope, ConsentAccess
from dashboards.web.live import LiveBoard
from ingest.audit import AuditLog
from ingest.clinics import load_clinics
from ingest.consent import ConsentLedger
from ingest.errors import SinkAuthError
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.wire import CommandV1, EventV1
from tests.support.asgi import asgi_request

ROOT = Path(__file__).resolve().parents[4]
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
NOW_MS = round(NOW.timestamp() * 1000)
CSRF = "c" * 43


async def _nothing(command: CommandV1) -> None:
    raise AssertionError("no command is sent here")


async def _call(
    state: WebState, method: str, path: str, form: dict[str, Any] | None = None, cookie: str = ""
) -> tuple[int, str, dict]:
    """One request through the app's ASGI callable (``cookie``: more cookies, ``name=value; ...``): (status, body,
    headers)."""
    body = urlencode({"csrf": CSRF, **(form or {})}, doseq=True).encode() if form is not None else b""
    headers = [(b"cookie", f"kinetic_csrf={CSRF}; {cookie}".encode())]
    if form is not None:
        headers += [(b"content-type", b"application/x-www-form-urlencoded"), (b"content-length", b"%d" % len(body))]
    status, answer, response_headers = await asgi_request(build_app(state), method, path, body, headers)
    return status, answer.decode(), response_headers


def _state(tmp_path: Path, **kwargs: Any) -> tuple[WebState, AuditLog, ConsentLedger, list[EventV1]]:
    store = tmp_path / "k.sqlite"
    asyncio.run(EmbeddedSink(store).aclose())
    board = LiveBoard()
    for wearer in kwargs.get("live", ("ann", "bob", "carl")):
        board.feed(EventV1(kind="bout_started", wearer=wearer, t=NOW, posture="sitting", bout_start=NOW))
    audit = AuditLog(tmp_path / "audit.sqlite", 30)
    ledger = ConsentLedger(tmp_path / "consent.jsonl", load_clinics(ROOT / "deploy/clinics.yaml"))
    events: list[EventV1] = []

    async def publish(event: EventV1) -> None:
        events.append(event)

    state = WebState(
        queries=EmbeddedQueries(store),
        board=board,
        publish=_nothing,
        audit=audit,
        actor="ann@laptop",
        clock=lambda: NOW,
        consent=ConsentAccess(ledger, publish, kwargs.get("take_back")),
    )
    return state, audit, ledger, events


def _actions(audit: AuditLog, wearer: str) -> list[str]:
    return [e["action"] for e in audit.for_wearer(wearer)]


def test_a_grant_and_a_withdrawal_are_recorded_published_and_audited(tmp_path: Path) -> None:
    state, audit, ledger, events = _state(tmp_path)
    grant = {"action": "grant", "clinic": "physio-north", "data": ["posture", "checkins"]}
    status, _, headers = asyncio.run(_call(state, "POST", "/w/ann/consent", grant))
    assert status == 303 and headers["location"] == "/w/ann/consent?recorded=grant"
    assert ledger.read("ann", NOW_MS)["now"] == {"physio-north": ["posture", "checkins"]}
    [event] = events
    assert (event.kind, event.wearer, event.t) == ("consent_granted", "ann", NOW)
    assert event.consent is not None and (event.consent.clinic, event.consent.data) == (
        "physio-north",
        ["posture", "checkins"],
    )

    status, page, _ = asyncio.run(_call(state, "GET", "/w/ann/consent?recorded=grant"))
    assert status == 200
    assert 'id="recorded"' in page and "Physio North" in page and "pain and stress check-ins" in page

    withdraw = {"action": "withdraw", "clinic": "physio-north", "data": ["checkins"]}
    status, _, headers = asyncio.run(_call(state, "POST", "/w/ann/consent", withdraw))
    assert status == 303 and "taken" not in headers["location"]
    assert ledger.read("ann", NOW_MS)["now"] == {"physio-north": ["posture"]}
    assert [e.kind for e in events] == ["consent_granted", "consent_withdrawn"]
    assert events[1].consent is not None and events[1].consent.data == ["checkins"]
    assert _actions(audit, "ann") == ["web consent changed", "web consent", "web consent changed"]
    assert audit.for_wearer("ann")[2]["detail"] == "withdraw physio-north: checkins (from 127.0.0.1)"


def test_the_page_refuses_what_the_cli_refuses_and_records_nothing(tmp_path: Path) -> None:
    state, _, ledger, events = _state(tmp_path)
    bad = [
        ({"action": "grant", "clinic": "nowhere", "data": ["posture"]}, "no clinic 'nowhere' in the clinics file"),
        ({"action": "grant", "clinic": "physio-north", "data": []}, "data: tick one or more of"),
        ({"action": "grant", "clinic": "physio-north", "data": ["location"]}, "data: tick one or more of"),
        (
            {"action": "grant", "clinic": "physio-north", "data": ["posture"], "since": "2026-12-02T09:00"},
            "since is in the future",
        ),
        (
            {"action": "grant", "clinic": "physio-north", "data": ["posture"], "until": "2026-11-30T09:00"},
            "until must be after since",
        ),
        (
            {"action": "grant", "clinic": "physio-north", "data": ["posture"], "since": "yesterday"},
            "since 'yesterday': expected a date and time",
        ),
        ({"action": "withdraw", "clinic": "nowhere", "data": ["posture"]}, "no clinic 'nowhere'"),
    ]
    for form, line in bad:
        status, page, _ = asyncio.run(_call(state, "POST", "/w/ann/consent", form))
        assert status == 400, form
        assert "Nothing was changed: " in page and line in page.replace("&#39;", "'"), (form, page[-3000:])
    status, body, _ = asyncio.run(_call(state, "POST", "/w/ann/consent", {"action": "share"}))
    assert status == 400 and body.startswith("action 'share': expected grant or withdraw")
    form = {"action": "grant", "clinic": "physio-north", "data": ["posture"], "csrf": "x" * 43}
    status, body, _ = asyncio.run(_call(state, "POST", "/w/ann/consent", form))
    assert status == 403 and "CSRF" in body
    assert ledger.changes() == [] and events == []


def test_delete_shared_withdraws_from_the_first_grant_and_takes_the_copy_back(tmp_path: Path) -> None:
    taken: list[str] = []

    async def take_back(wearer: str) -> int:
        taken.append(wearer)
        return 300

    state, _, ledger, _ = _state(tmp_path, take_back=take_back)
    first = NOW_MS - 7 * 86_400_000
    ledger.grant("ann", "physio-north", ["posture"], first)
    ledger.grant("ann", "physio-north", ["posture"], NOW_MS - 86_400_000)
    form = {"action": "withdraw", "clinic": "physio-north", "data": ["posture"], "delete_shared": "on"}
    status, _, headers = asyncio.run(_call(state, "POST", "/w/ann/consent", form))
    assert status == 303 and headers["location"] == "/w/ann/consent?recorded=withdraw&taken=300"
    assert taken == ["ann"]
    assert ledger.changes("ann")[-1].at_ms == first  # no earlier grant stands: the clinic's copy is misplaced
    status, page, _ = asyncio.run(_call(state, "GET", headers["location"]))
    assert status == 200 and "300 points moved" in page

    async def refused(wearer: str) -> int:
        raise SinkAuthError("influxdb: HTTP 403: user kinetic_reader is not authorized")

    state.consent = ConsentAccess(ledger, state.consent.publish, refused)  # type: ignore[union-attr]
    ledger.grant("ann", "physio-north", ["posture"], NOW_MS)
    status, _, headers = asyncio.run(_call(state, "POST", "/w/ann/consent", form))
    assert status == 303 and headers["location"].endswith("taken=-1")
    status, page, _ = asyncio.run(_call(state, "GET", headers["location"]))
    assert 'id="taken-refused"' in page and "kinetic data move ann" in page
    assert ledger.read("ann", NOW_MS)["now"] == {}  # the withdrawal stands


def test_the_wearer_sees_who_read_their_data_and_can_download_it(tmp_path: Path) -> None:
    state, audit, _, _ = _state(tmp_path)
    audit.record("dr.who@physio-north", "report weekly", "ann", "2026-W48 for clinic physio-north", at_ms=NOW_MS - 5)
    audit.record("someone", "report weekly", "bob", "2026-W48", at_ms=NOW_MS - 4)
    status, page, _ = asyncio.run(_call(state, "GET", "/w/ann/consent"))
    assert status == 200 and "dr.who@physio-north" in page and "someone" not in page
    status, body, headers = asyncio.run(_call(state, "GET", "/w/ann/consent/audit.json"))
    assert status == 200 and headers["content-disposition"].startswith('attachment; filename="kinetic-audit-ann-')
    document = json.loads(body)
    assert document["wearer"] == "ann"
    assert [(e["actor"], e["action"]) for e in document["entries"]] == [
        ("dr.who@physio-north", "report weekly"),
        ("ann@laptop", "web consent"),
        ("ann@laptop", "web audit export"),  # the export is a read too, recorded before it is given
    ]


def test_a_wearer_decides_before_any_data_is_stored(tmp_path: Path) -> None:
    """Under the wall this app's store holds no wearer: the Sharing page knows a wearer by the clinics file's roster
    or their consent records; every other page still needs data."""
    state, _, ledger, _ = _state(tmp_path, live=())
    assert asyncio.run(_call(state, "GET", "/w/carl/today"))[0] == 404
    assert asyncio.run(_call(state, "GET", "/w/carl/consent"))[0] == 200  # on physio-north's roster
    status, body, _ = asyncio.run(_call(state, "GET", "/w/zed/consent"))
    assert status == 404 and body.startswith("wearer 'zed': nothing is stored")
    ledger.grant("zed", "physio-north", ["posture"], NOW_MS)  # the records know zed now
    assert asyncio.run(_call(state, "GET", "/w/zed/consent"))[0] == 200


def test_a_clinics_view_serves_only_consenting_patients_reads_only_and_audits_each_refusal(tmp_path: Path) -> None:
    state, audit, ledger, _ = _state(tmp_path)
    assert ledger.clinics is not None
    state.scope = ClinicScope("physio-north", ledger.clinics, ledger)
    state.consent = None
    ledger.grant("ann", "physio-north", ["posture"], NOW_MS - 1000)
    ledger.grant("bob", "back-clinic-south", ["posture"], NOW_MS - 1000)
    ledger.grant("carl", "physio-north", ["checkins"], NOW_MS - 1000)  # carl: a patient, but no posture shared

    status, page, _ = asyncio.run(_call(state, "GET", "/w/ann/settings"))
    assert status == 200 and "(clinic physio-north)" in page and "/w/ann/consent" not in page
    status, body, _ = asyncio.run(_call(state, "GET", "/w/carl/settings"))
    assert status == 403
    assert body == (
        "carl does not share their posture data with clinic physio-north now: clinic physio-north's view "
        "does not show their data\n"
    )
    status, body, _ = asyncio.run(_call(state, "GET", "/w/bob/today.json"))
    assert status == 403 and body.startswith("bob is not a patient of clinic physio-north")
    status, body, _ = asyncio.run(_call(state, "GET", "/w/nobody/today"))
    assert status == 403 and "nobody is not a patient" in body  # no list of the wearers the app knows
    status, _, headers = asyncio.run(_call(state, "GET", "/"))  # the index lists only ann: straight to her day
    assert status == 303 and headers["location"] == "/w/ann/today"
    status, body, _ = asyncio.run(_call(state, "POST", "/w/ann/command", {"action": "done"}))
    assert status == 403 and "only reads" in body
    status, body, _ = asyncio.run(_call(state, "GET", "/w/ann/consent"))
    assert status == 403 and "consent is set by the wearer" in body

    [read] = audit.for_wearer("ann")
    assert (read["action"], read["detail"]) == (
        "web settings",
        "for clinic physio-north: policy and devices (from 127.0.0.1)",
    )
    [carl] = audit.for_wearer("carl")
    assert carl["action"] == "web read refused" and carl["detail"].startswith(
        "for clinic physio-north: /w/carl/settings: carl does not share their posture data"
    )
    assert _actions(audit, "bob") == ["web read refused"]

    ledger.withdraw("ann", "physio-north", ["posture"], NOW_MS - 1)  # from the next read on
    status, body, _ = asyncio.run(_call(state, "GET", "/w/ann/settings"))
    assert status == 403 and body.startswith("ann does not share their posture data")
