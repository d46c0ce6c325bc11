"""The Prescriptions page while the broker does not answer (issue 19): every change is an event, so a change the
broker does not confirm is a 503 within seconds with one line, and the file is left as it was. Driven in-process over
a real Mosquitto that is frozen (SIGSTOP) and then killed, as the buttons' test (test_web_broker_down.py;
both through tests/support/web_broker.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from alerts.prompts.catalog import load_catalog
from dashboards.web.prescriptions import COMMAND_TIMEOUT_S
from tests.support.pipeline import sync
from tests.support.web_broker import CSRF, web_over_broker

PRESCRIPTIONS = """
wearers:
  w1:
    - exercise: controlled-sit-to-stand
      reps: 4
      per_week: 2
"""
FIELDS = "sets=1&hold_s=&tempo.down_s=&tempo.pause_s=&tempo.up_s=&rest_s=30&per_day=&per_week=2&more="


def reps_on_file(path: Path) -> int:
    return int(yaml.safe_load(path.read_text())["wearers"]["w1"][0]["reps"])


@pytest.mark.timeout(90)
@sync
async def test_a_change_the_broker_does_not_confirm_is_a_503_and_the_file_stays(tmp_path: Path) -> None:
    path = tmp_path / "prescriptions.yaml"
    path.write_text(PRESCRIPTIONS)
    catalog = {e.id: e for e in load_catalog([])}
    async with web_over_broker(tmp_path, "web-prescriptions-down", catalog=catalog, prescriptions_path=path) as web:

        def form(reps: int) -> str:
            return f"csrf={CSRF}&action=set&exercise=controlled-sit-to-stand&reps={reps}&{FIELDS}"

        status, body = await web.post("/w/w1/prescriptions", form(5))
        assert status == 303, body  # the broker answers: the event is out, then the file written
        assert reps_on_file(path) == 5
        status, body, took = await web.post_frozen("/w/w1/prescriptions", form(6))
        assert status == 503, body
        assert took < COMMAND_TIMEOUT_S + 2
        text = body.decode()
        assert text.count("\n") == 1 and "not confirmed" in text and "nothing was changed" in text, text
        assert reps_on_file(path) == 5
        status, body = await web.post_gone("/w/w1/prescriptions", form(7))
        assert status == 503 and "nothing was changed" in body.decode(), body
        assert reps_on_file(path) == 5
