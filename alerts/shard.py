"""Static shards of the alert service: several ``kinetic alerts`` instances, each wearer's stream on exactly one.

A wearer belongs to shard ``crc32(wearer id, UTF-8) mod COUNT`` (zlib's CRC-32, the same on every host, Python version
and run; not Python's ``hash()``, which is salted per process). This is Prometheus' ``hashmod`` relabelling idea
(a stable hash of a label, modulo the number of shards; Prometheus takes MD5) applied to the wearer id. Instance
``INDEX/COUNT`` (``KINETIC_ALERTS__SHARD``) handles the wearers of shard INDEX and acknowledges everything else
unread: the wearer is the topic level after ``<root>/v1/`` (ingest.wire.Topics), so the payload is never decoded.
Each shard has its own MQTT client id (its persistent session) and its own state file, so the instance that
replaces shard INDEX (same setting) finds both (docs/scaling.md).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

_SHARD_RE = re.compile(r"^\s*(\d{1,4})\s*/\s*(\d{1,4})\s*$")
MAX_SHARDS = 1024


def shard_of(wearer: str, count: int) -> int:
    """The shard (0 .. count-1) that owns ``wearer``: CRC-32 of the id's UTF-8 bytes modulo ``count``."""
    return zlib.crc32(wearer.encode()) % count


@dataclass(frozen=True, slots=True)
class Shard:
    """Instance ``index`` of ``count`` (0 <= index < count)."""

    index: int
    count: int

    @property
    def name(self) -> str:
        """``shard-INDEX-of-COUNT``: the suffix of this shard's MQTT client id and state file."""
        return f"shard-{self.index}-of-{self.count}"

    def owns(self, wearer: str) -> bool:
        return shard_of(wearer, self.count) == self.index

    def owns_topic(self, topic: str, base: str) -> bool:
        """Whether a message on ``topic`` is this shard's, from the topic alone: its wearer is the level after
        ``base`` + "/" (``Topics.base``, ``<root>/v1``). A topic not under ``base`` is taken (the service
        dead-letters it, once, as any bad topic)."""
        wearer = topic_wearer(topic, base)
        return True if wearer is None else self.owns(wearer)


def topic_wearer(topic: str, base: str) -> str | None:
    """The level after ``base`` + "/" of ``topic`` (``Topics.base``, ``<root>/v1``): the wearer of a Kinetic topic,
    read from the topic alone, unchecked (the service checks the topic when it handles the message); None for a
    topic not under ``base``."""
    if not topic.startswith(base) or topic[len(base) : len(base) + 1] != "/":
        return None
    start = len(base) + 1
    end = topic.find("/", start)
    return topic[start:] if end < 0 else topic[start:end]


def parse_shard(text: str) -> Shard:
    """``"INDEX/COUNT"`` -> Shard. Raises ValueError with one line saying what is expected (the settings' error
    adds the value given)."""
    found = _SHARD_RE.match(text)
    if found is None:
        raise ValueError("a shard is INDEX/COUNT, e.g. 0/2 and 1/2 for two alert-service instances")
    index, count = int(found[1]), int(found[2])
    if not 1 <= count <= MAX_SHARDS:
        raise ValueError(f"a shard's COUNT is 1 to {MAX_SHARDS}")
    if index >= count:
        raise ValueError(f"a shard's INDEX is 0 to {count - 1} for COUNT {count} (shards are numbered from 0)")
    return Shard(index, count)


def shard_client_id(prefix: str, shard: Shard | None) -> str:
    """The alert service's MQTT client id (its persistent session): ``<prefix>-alerts``, with ``-<shard name>``."""
    return f"{prefix}-alerts" if shard is None else f"{prefix}-alerts-{shard.name}"
