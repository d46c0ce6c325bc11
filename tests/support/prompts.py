"""Prompts as the alert service makes them, for tests that need one without running it."""

from __future__ import annotations

from datetime import datetime, timedelta

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
