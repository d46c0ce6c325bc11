"""What a person asks about their prompts -> the ``CommandV1`` the alert service obeys, with every check done before
anything is sent. Pure: the time arrives as ``at`` (the caller's clock, as a button press has no event time).

The alert service judges a command on the wearer's clock of events. Live, the two clocks agree. Where the stream is
simulated or replayed (``kinetic demo``, an accelerated scenario), they do not: ``on_data_clock`` moves a command a
person pressed to the wearer's latest event time, so a pause for 30 min covers the scenario's minutes, not the
host's; a pause until a time of day (no ``for_min``) stays at that time.

One function for every front end that acts on prompts (``kinetic prompts``, ``kinetic serve``'s buttons and settings
form), so a command from the web is the same message, refused for the same reasons, as one from the command line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from alerts.errors import AlertsError, PolicyError
from alerts.prompts.policy.model import PromptPolicy, merge
from ingest.wire import MAX_PAUSE_MIN, PAIN_MAX, STRESS_LEVELS, CommandV1, describe_validation_error

PromptAction = Literal["done", "snooze", "pause", "resume", "policy", "start"]
PROMPT_ACTIONS: tuple[PromptAction, ...] = ("done", "snooze", "pause", "resume", "policy", "start")
DEFAULT = "default"  # a policy override's value that removes the override
# commands already stamped in event time: a scenario's scripted ones (ingest/simulate/scenario.py ``commands_for``)
EVENT_TIME_SOURCES = frozenset({"scenario"})


class CommandRefused(AlertsError):
    """A prompt command that would be refused: the message is one line naming the input and what is expected."""


def check_minutes(value: float, what: str) -> float:
    """A number of minutes above 0 and at most ``MAX_PAUSE_MIN`` (30 days); NaN and infinity are refused."""
    if not (math.isfinite(value) and 0 < value <= MAX_PAUSE_MIN):
        raise CommandRefused(f"{what} {value!r}: minutes must be above 0 and at most {MAX_PAUSE_MIN} (30 days)")
    return value


def prompt_command(
    action: str,
    wearer: str,
    at: datetime,
    *,
    source: str,
    prompt_id: str | None = None,
    minutes: float | None = None,
    pause_for_min: float | None = None,
    until: datetime | str | None = None,
    settings: Mapping[str, Any] | None = None,
    policy: PromptPolicy | None = None,
) -> CommandV1:
    """The command for ``action`` (``done`` -> ``ack``, ``snooze``, ``pause``, ``resume``, ``policy``, ``start`` ->
    ``session_start`` of the prompt's exercise) at ``at`` (timezone-aware).

    ``snooze``: ``minutes`` (None: the wearer's ``snooze_min``). ``pause``: ``pause_for_min`` minutes from ``at`` (a
    span: ``for_min``, with ``until`` its end), or ``until`` (ISO 8601 with an offset, or a datetime: a time of the
    wearer's day), or neither (until ``resume``). ``policy``: ``settings``, the
    keys of docs/prompts.md (``"default"`` removes an override), checked against ``policy`` (the wearer's effective
    policy; default: the built-in one) so a bad key or value is refused here, naming it. Raises CommandRefused.
    """
    if action not in PROMPT_ACTIONS:
        raise CommandRefused(f"action {action!r}: expected one of {', '.join(PROMPT_ACTIONS)}")
    kind = {"done": "ack", "start": "session_start"}.get(action, action)
    fields: dict[str, Any] = {"source": source}
    if kind in ("ack", "snooze", "session_start"):  # start: the prompt's exercise as a session (issue 19)
        fields["prompt_id"] = prompt_id
    if kind == "session_start":  # the id the collector labels the session stream with
        fields["session"] = f"{at.astimezone(UTC):%Y%m%dt%H%M%S}-prompt"
    if kind == "snooze" and minutes is not None:
        fields["minutes"] = check_minutes(minutes, "snooze minutes")
    if kind == "pause":
        if pause_for_min is not None and until is not None:
            raise CommandRefused("pause: give a number of minutes or a time to pause until, not both")
        if pause_for_min is not None:
            fields["for_min"] = check_minutes(pause_for_min, "pause minutes")
            fields["until"] = at + timedelta(minutes=fields["for_min"])
        elif isinstance(until, str):
            try:
                fields["until"] = datetime.fromisoformat(until)
            except ValueError as exc:
                raise CommandRefused(f"pause until {until!r}: {exc} (expected ISO 8601 with an offset)") from None
        elif until is not None:
            fields["until"] = until
    if kind == "policy":
        overrides = dict(settings or {})
        check = {k: v for k, v in overrides.items() if v != DEFAULT}
        try:  # one line naming the bad key, before anything is sent
            merge(policy or PromptPolicy(), check, "settings")
        except PolicyError as exc:
            raise CommandRefused(str(exc)) from None
        fields["settings"] = overrides
    try:
        return CommandV1(kind=kind, wearer=wearer, at=at, **fields)
    except ValidationError as exc:
        raise CommandRefused(f"{action}: {describe_validation_error(exc)}") from None


def checkin_command(wearer: str, at: datetime, *, source: str, pain: object = None, stress: object = None) -> CommandV1:
    """The ``checkin`` command: ``pain`` a whole number 0-10 (numeric rating scale; a string of digits is read as
    one), ``stress`` low / medium / high, at least one of them, at ``at`` (timezone-aware). Raises CommandRefused
    naming the bad value and what is expected: the alert service would refuse (and dead-letter) it the same way."""
    if pain is None and stress is None:
        raise CommandRefused("checkin: give pain (0-10) or stress (low, medium, high), or both")
    if isinstance(pain, str) and pain.strip().isdigit():
        pain = int(pain)
    if pain is not None and (isinstance(pain, bool) or not isinstance(pain, int) or not 0 <= pain <= PAIN_MAX):
        raise CommandRefused(f"checkin: pain {pain!r}: expected a whole number from 0 (none) to {PAIN_MAX} (worst)")
    if stress is not None and stress not in STRESS_LEVELS:
        raise CommandRefused(f"checkin: stress {stress!r}: expected one of {', '.join(STRESS_LEVELS)}")
    try:
        return CommandV1(kind="checkin", wearer=wearer, at=at, pain=pain, stress=stress, source=source)
    except ValidationError as exc:
        raise CommandRefused(f"checkin: {describe_validation_error(exc)}") from None


def on_data_clock(command: CommandV1, data_now: datetime) -> CommandV1:
    """``command`` judged on the data's clock: ``at`` becomes ``data_now`` (the wearer's latest event time). A span
    (``for_min``) moves with it, so a "pause for 30 min" pressed during an accelerated demo holds 30 min of the
    scenario from where the scenario is when it is pressed; a pause until a time of the wearer's day (``until``
    without ``for_min``) keeps that time (it may then be over already: ``pause_over``). A command already in event
    time (``source`` in ``EVENT_TIME_SOURCES``: a scenario's scripted pause, check-in or do-not-disturb) is returned
    as it is; so is one with nothing to move. Pure; ``data_now`` timezone-aware."""
    if command.source in EVENT_TIME_SOURCES or command.at == data_now:
        return command
    until = command.until
    if command.for_min is not None:
        until = data_now + timedelta(minutes=command.for_min)
    return command.model_copy(update={"at": data_now, "until": until})


def pause_over(command: CommandV1) -> str | None:
    """Why a pause until a time of day judged on the data's clock is refused: that time is not after the command's
    (moved) ``at``, so it would hold nothing (a time typed on the host's day, not the scenario's). None: fine."""
    if command.kind != "pause" or command.until is None or command.until > command.at:
        return None
    return (
        f"pause until {command.until.isoformat()}: not after the wearer's latest event time {command.at.isoformat()}"
        " (a time of the day the data is in, or a number of minutes, is expected)"
    )
