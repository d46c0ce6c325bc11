"""The web app's buttons while the broker does not answer (issue 16 task 8): within a few seconds a 503 with one
line saying the command was not confirmed, never a hang or a 500. Driven in-process over a real Mosquitto that is
frozen (SIGSTOP: the connection stays open, nothing answers) and then killed (the connection is gone)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dashboards.web.service import COMMAND_TIMEOUT_S
from tests.support.pipeline import sync
from tests.support.web_broker import CSRF, web_over_broker


@pytest.mark.timeout(90)
@sync
async def test_a_button_while_the_broker_is_frozen_or_gone_answers_503_within_seconds(tmp_path: Path) -> None:
    async with web_over_broker(tmp_path, "web-broker-down") as web:
        form = f"csrf={CSRF}&action=pause_1h&back=/w/w1/today"
        status, _ = await web.post("/w/w1/command", form)
        assert status == 303  # the broker answers: sent
        status, body, took = await web.post_frozen("/w/w1/command", form)
        assert status == 503, body
        assert took < COMMAND_TIMEOUT_S + 2
        text = body.decode()
        assert text.count("\n") == 1 and "pause" in text and "not confirmed" in text, text
        status, body = await web.post_gone("/w/w1/command", form)
        assert status == 503 and "not connected" in body.decode(), body
