"""Prompts as the alert service makes them, for tests that need one without running it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ingest.wire import PromptV1


def sitting_prompt(
    prompt_id: str,
    exercise: str,
    created: datetime,
    *,
    wearer: str = "ann",
    lasts: timedelta = timedelta(minutes=10),
    title: str = "Time to move",
    text: str = "Stand up for a moment.",
) -> PromptV1:
    """A prompt of the ``sitting`` trigger for ``exercise``, made at ``created`` and open for ``lasts``."""
    return PromptV1(
        id=prompt_id,
        wearer=wearer,
        trigger="sitting",
        exercise=exercise,
        title=title,
        text=text,
        created=created,
        expires=created + lasts,
    )


OUTBOX_T0 = datetime(2026, 11, 23, 9, tzinfo=UTC)  # when ``numbered_prompt(0)`` is made


def numbered_prompt(n: int, ttl_min: int = 15) -> PromptV1:
    """Ann's ``n``-th sitting prompt, made ``n`` minutes after ``OUTBOX_T0`` and open ``ttl_min`` minutes: many
    prompts with ids and expiries in order, for the outbox's tests (alerts.state)."""
    return sitting_prompt(
        f"ann-sitting-{n}",
        "x",
        OUTBOX_T0 + timedelta(minutes=n),
        lasts=timedelta(minutes=ttl_min),
        title="t",
        text="t",
    )
