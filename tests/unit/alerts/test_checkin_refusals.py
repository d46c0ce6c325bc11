"""Check-ins refused before anything is sent: the command builder, the callback answers, `prompts ask` without ntfy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.channels.callbacks import checkin_answer
from alerts.prompts.commands import CommandRefused, checkin_command
from kinetic.cli import main

AT = datetime(2026, 11, 16, 8, tzinfo=UTC)


def test_checkin_command_takes_what_the_wire_takes() -> None:
    command = checkin_command("ann", AT, source="cli", pain="6", stress="high")
    assert (command.kind, command.pain, command.stress, command.source) == ("checkin", 6, "high", "cli")
    assert checkin_command("ann", AT, source="web", pain=0).pain == 0


@pytest.mark.parametrize(
    ("pain", "stress", "words"),
    [
        (None, None, "give pain (0-10) or stress"),
        (11, None, "pain 11: expected a whole number from 0 (none) to 10 (worst)"),
        (-1, None, "pain -1"),
        ("6.5", None, "pain '6.5'"),
        (True, None, "pain True"),
        (None, "extreme", "stress 'extreme': expected one of low, medium, high"),
    ],
)
def test_out_of_range_check_ins_are_refused_naming_the_value(pain: object, stress: object, words: str) -> None:
    with pytest.raises(CommandRefused, match="checkin") as exc:
        checkin_command("ann", AT, source="cli", pain=pain, stress=stress)
    assert words in str(exc.value)


def test_button_answers() -> None:
    assert checkin_answer("stress-high") == {"stress": "high"}
    assert checkin_answer("pain-10") == {"pain": 10} and checkin_answer("pain-0") == {"pain": 0}
    for bad in ("pain-11", "pain--1", "pain-", "pain-\u0663", "stress-extreme", "mood-good", "", "pain-007"):
        assert checkin_answer(bad) is None, bad


def test_ask_without_ntfy_or_buttons_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("KINETIC_ALERTS__NTFY_URL", raising=False)
    assert main(["prompts", "ask", "ann"]) == 2
    assert "KINETIC_ALERTS__NTFY_URL" in capsys.readouterr().err
    monkeypatch.setenv("KINETIC_ALERTS__NTFY_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("KINETIC_ALERTS__CALLBACK_SECRET", raising=False)
    assert main(["prompts", "ask", "ann"]) == 2
    assert "KINETIC_ALERTS__CALLBACK_SECRET" in capsys.readouterr().err
