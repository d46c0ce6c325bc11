"""What the pages print for a person (issue 16 tasks 1 and 4): times in the wearer's zone from their policy, and
no raw Unix epoch number (ms since 1970) in any page's visible text."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from pathlib import Path

from alerts.prompts.policy.in_force import policy_message
from alerts.prompts.policy.model import PolicyBook
from dashboards.web.app import WebState
from dashboards.web.live import LiveBoard
from ingest.store.embedded import EmbeddedSink
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.wire import CommandV1, EventV1
from tests.unit.dashboards.web.test_audit import _get

EPOCH_MS = re.compile(r"\b1\d{12}\b")  # 2001-09-09 .. 2033-05-18 in ms


def visible(html: str) -> str:
    """The text a person reads: scripts, styles, tags and attribute values left out."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]*>", " ", html)


def test_no_page_shows_a_raw_epoch_number_and_a_pause_is_in_the_wearers_zone(tmp_path: Path) -> None:
    store = tmp_path / "k.sqlite"
    asyncio.run(EmbeddedSink(store).aclose())
    board = LiveBoard()
    t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    board.feed(EventV1(kind="bout_started", wearer="w1", t=t, posture="sitting", bout_start=t))
    until = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)
    board.feed(CommandV1(kind="pause", wearer="w1", at=t, until=until, source="cli"))
    board.feed(CommandV1(kind="policy", wearer="w1", at=t, source="cli", settings={"timezone": "Europe/Berlin"}))

    async def nothing(command: CommandV1) -> None:
        raise AssertionError("no command is sent by a read")

    state = WebState(queries=EmbeddedQueries(store), board=board, publish=nothing)
    for page in ("today", "prompts", "week", "settings"):
        status, body = asyncio.run(_get(state, f"/w/w1/{page}"))
        assert status == 200, (page, body[:300])
        text = visible(body.decode())
        assert not EPOCH_MS.search(text), (page, EPOCH_MS.findall(text))
        if page == "prompts":
            assert "until 2026-11-23 15:30 (Europe/Berlin)" in " ".join(text.split()), text


def test_settings_says_where_the_policy_in_force_comes_from(tmp_path: Path) -> None:
    """Issue 16 task 3: the Settings page names the policy file (or the built-in defaults) and each live change it
    has seen, with when and by whom, in the wearer's zone; until the alert service publishes the policy it applies
    it says so, and then shows that, with the source of each value."""
    store = tmp_path / "k.sqlite"
    asyncio.run(EmbeddedSink(store).aclose())
    policy = tmp_path / "policy.yaml"
    policy.write_text("defaults: {timezone: Europe/Berlin}\nwearers:\n  w1: {sitting_threshold_min: 45}\n")
    board = LiveBoard(PolicyBook.load(policy))
    t = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    board.feed(EventV1(kind="bout_started", wearer="w1", t=t, posture="sitting", bout_start=t))

    async def nothing(command: CommandV1) -> None:
        raise AssertionError("no command is sent by a read")

    state = WebState(queries=EmbeddedQueries(store), board=board, publish=nothing)
    _, body = asyncio.run(_get(state, "/w/w1/settings"))
    text = " ".join(visible(body.decode()).split())
    assert "The alert service has not published w1's policy yet" in text, text
    assert f"this app's reading of the policy file {policy} (wearers.w1)." in text, text
    board.book = PolicyBook()  # no policy file (a newcomer after the demo): the built-in defaults, said as such
    _, body = asyncio.run(_get(state, "/w/w1/settings"))
    text = " ".join(visible(body.decode()).split())
    assert "this app's reading of the built-in defaults (no KINETIC_ALERTS__POLICY_FILE)." in text, text
    board.book = PolicyBook.load(policy)
    assert 'value="45"' in body.decode()
    board.feed(CommandV1(kind="policy", wearer="w1", at=t, source="cli", settings={"sitting_threshold_min": 30}))
    _, body = asyncio.run(_get(state, "/w/w1/settings"))
    text = " ".join(visible(body.decode()).split())
    assert "Sent since: 2026-11-23 10:00 (Europe/Berlin) by cli: sitting_threshold_min" in text, text
    assert 'value="30"' in body.decode()
    live = {"sitting_threshold_min": 30}
    published = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)
    board.feed(
        policy_message(board.book, "w1", live, board.book.for_wearer("w1", live), int(published.timestamp() * 1000))
    )
    _, body = asyncio.run(_get(state, "/w/w1/settings"))
    text = " ".join(visible(body.decode()).split())
    said = "In force for w1, as the alert service published it at 2026-11-23 10:05 (Europe/Berlin): its policy file"
    assert f"{said} {policy}" in text, text
    assert "Prompt after sitting for (min) (changed by a command)" in text and "Sent since" not in text, text
    assert "Time zone (IANA, e.g. Europe/Berlin) (policy file)" in text and "Snooze for (min) (default)" in text
