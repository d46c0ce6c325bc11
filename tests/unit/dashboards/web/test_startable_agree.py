"""Issue 19 item 2: one rule says which exercises a wearer may start a session of
(``alerts.prompts.sessions.startable_exercises``), and the four places that offer or take a start agree with it for
a prescribed, an unprescribed and an unknown exercise, with and without a prescriptions file: the alert service's
``SessionVerifier`` (its ``startable``, which gives ntfy prompts their Start button, and the ``session_start`` it
takes or refuses), the web app's ``startable_exercises`` (the Prompts page's Start links) and the guided session
page (its list of choices, and the page of one exercise: shown or 404)."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from alerts.prompts.catalog import load_catalog
from alerts.prompts.prescription import Prescribed
from alerts.prompts.sessions import SessionRefused, SessionVerifier, may_start, session_command, startable_exercises
from dashboards.web import app as web
from dashboards.web.live import LiveBoard
from ingest.store.embedded_queries import EmbeddedQueries
from ingest.wire import CommandV1
from tests.support.asgi import asgi_request
from tests.unit.dashboards.web.test_start_link import stored

CATALOG = {e.id: e for e in load_catalog()}
PRESCRIBED, UNPRESCRIBED, UNKNOWN = "controlled-sit-to-stand", "hip-opening-sequence", "no-such-exercise"
AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


async def _get(state: web.WebState, path: str, query: str = "") -> tuple[int, str]:
    """One GET through the app's ASGI callable: (status, body)."""
    status, body, _ = await asgi_request(web.build_app(state), "GET", f"{path}?{query}" if query else path)
    return status, body.decode()


def taken(verifier: SessionVerifier, exercise: str) -> bool:
    try:
        verifier.command(session_command("start", "w1", AT, source="cli", exercise=exercise))
    except SessionRefused:
        return False
    verifier.running.clear()
    return True


@pytest.mark.parametrize("with_file", [True, False], ids=["prescriptions file", "no prescriptions file"])
def test_the_verifier_the_start_links_and_the_session_page_agree(tmp_path: Any, with_file: bool) -> None:
    assert PRESCRIBED in CATALOG and UNPRESCRIBED in CATALOG and UNKNOWN not in CATALOG
    book = {"w1": [Prescribed(exercise=PRESCRIBED, sets=1, reps=5, per_day=1)]} if with_file else None
    stored(tmp_path / "k.sqlite", [PRESCRIBED])  # the web app serves wearers it has data of

    async def nothing(command: CommandV1) -> None:
        raise AssertionError("no command is sent by a read")

    state = web.WebState(
        queries=EmbeddedQueries(tmp_path / "k.sqlite"),
        board=LiveBoard(),
        publish=nothing,
        catalog=CATALOG,
        prescriptions=None if book is None else (lambda: book),
    )
    verifier = SessionVerifier(CATALOG, book)
    status, html = asyncio.run(_get(state, "/w/w1/session"))
    assert status == 200, html[:300]
    choices = re.findall(r'href="/w/w1/session\?exercise=([^"]+)"', html.split('id="choices"')[1].split("</ul>")[0])
    rule = startable_exercises(CATALOG, book, "w1")
    assert choices == rule  # the page offers exactly the rule's exercises, in its order
    assert set(rule) == web.startable_exercises(state, "w1")
    expected = {PRESCRIBED: True, UNPRESCRIBED: not with_file, UNKNOWN: False}
    for exercise, allowed in expected.items():
        page, _ = asyncio.run(_get(state, "/w/w1/session", f"exercise={exercise}"))
        seen = {
            "rule": may_start(CATALOG, book, "w1", exercise),
            "verifier.startable (ntfy Start)": verifier.startable("w1", exercise),
            "session_start taken": taken(verifier, exercise),
            "web startable_exercises (Start link)": exercise in web.startable_exercises(state, "w1"),
            "session page choices": exercise in choices,
            "session page of the exercise": page == 200,
        }
        assert seen == dict.fromkeys(seen, allowed), exercise
    # a wearer the file does not list may start nothing (without a file: everything in the catalog)
    assert web.startable_exercises(state, "w2") == (set() if with_file else set(CATALOG))
    assert verifier.startable("w2", PRESCRIBED) is not with_file
