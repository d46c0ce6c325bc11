"""The policy in force for a wearer as a wire message (``PolicyV1``, retained on ``<root>/v1/<wearer>/policy``) and
back. Pure: the time of publication comes in.

The alert service publishes what it applies, so whoever reads the policy (the web app's Settings, ``kinetic prompts
policy-show``) sees the values and where each comes from even when the commands that set them were sent before it
started: commands are not retained (``ingest.wire.retained_command_problem``), the policy message is.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from alerts.errors import PolicyError
from alerts.prompts.policy.model import PolicyBook, PromptPolicy
from ingest.wire import PolicyV1


def policy_message(
    book: PolicyBook, wearer: str, live: Mapping[str, Any] | None, policy: PromptPolicy, t_ms: int
) -> PolicyV1:
    """``policy`` (the wearer's effective policy: ``book`` then the ``live`` overrides) as the message the alert
    service retains for the wearer, published at ``t_ms`` (ms since the epoch, the host's clock)."""
    return PolicyV1(
        wearer=wearer,
        t=datetime.fromtimestamp(t_ms / 1000, UTC),
        timezone=policy.timezone,
        values=policy.model_dump(mode="json"),
        sources=book.sources(wearer, live),
        file=book.file,
    )


def same_policy(a: PolicyV1 | None, b: PolicyV1) -> bool:
    """Whether two messages say the same (their publication times aside): nothing new to publish."""
    return a is not None and a.model_dump(exclude={"t"}) == b.model_dump(exclude={"t"})


def policy_from_message(message: PolicyV1) -> PromptPolicy:
    """The ``PromptPolicy`` a policy message describes; PolicyError (naming the key) if its values do not make one
    (a message from a newer alert service with keys this one does not know)."""
    try:
        return PromptPolicy.model_validate(message.values)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise PolicyError(
            f"policy of {message.wearer} published at {message.t.isoformat()}: {loc}: {err['msg']}"
        ) from exc
